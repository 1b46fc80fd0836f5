package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// flow is what the firewall decides on: the packet's addresses and the logical ports it leaves and
// enters by; its protocol and port are the walk's (a Service's endpoint port after DNAT), else
// what traceroute -I and the probe send: ICMP echo.
type flow struct {
	src, dst         netip.Addr
	srcPort, dstPort *SwitchPort
	proto            string
	port             int
}

// fwDecision is a firewall hop's decision, kept so that the return path can say its reply is
// allowed by the connection a stateful rule opened.
type fwDecision struct {
	action   string
	stateful bool
	rule     string
	source   string
}

// firewallHop adds the firewall's decision for fl at port sp in direction dir (egress at the port
// the packet leaves by, ingress at the one it is delivered to). On the return path, a reply to a
// flow a stateful rule allowed is allowed by its connection and not evaluated as new. Nothing is
// added when the fabric gives no firewall.
func (wk *walker) firewallHop(sp *SwitchPort, dir string, fl flow) {
	fab := wk.ix.fab
	if fab == nil || fab.f.Firewall == nil || sp == nil {
		return
	}
	fw := fab.f.Firewall
	if len(fw.Rules) == 0 && fw.Complete && fw.DefaultAction == FirewallAllow {
		return // no firewall configured: nothing decides at the ports
	}
	src := cmp.Or(fw.Source, fab.f.Provider)
	h := Hop{Kind: HopFirewall, Name: fmt.Sprintf("%s %s", portName(sp), dir), Firewall: &FirewallDetail{Direction: dir}}
	if wk.dir == Return && wk.replyByConnection(&h) {
		wk.add(h)
		return
	}
	fl.proto, fl.port = strings.ToLower(wk.protocol()), wk.dstPort
	if wk.svc != nil && wk.svc.ep != nil {
		fl.port = wk.svc.ep.port
	}
	if wk.dir == Return {
		fl.port = 0 // a reply goes to the client's ephemeral port: only a rule for any port matches it surely
	}
	r, unknown, why := evaluate(fw, sp, dir, fl)
	switch {
	case unknown != nil:
		fillRule(h.Firewall, unknown)
		h.Status, h.Firewall.Action = StatusUnknown, FirewallUnknownAction
		h.Detail = fmt.Sprintf("rule %s cannot be evaluated (%s): the firewall's decision is not known", ruleName(unknown), why)
		h.Evidence = append(h.Evidence, ev(cmp.Or(unknown.Source, src), "%s", describeRule(unknown)))
	case r != nil:
		fillRule(h.Firewall, r)
		h.Evidence = append(h.Evidence, ev(cmp.Or(r.Source, src), "%s", describeRule(r)))
		h.Detail = fmt.Sprintf("%s by %s", actionPast(r.Action), ruleName(r))
		if r.Origin != nil {
			h.Detail += " (" + r.Origin.String() + ")"
		}
		if r.Action != FirewallAllow {
			h.Status = StatusBroken
			h.Detail = fmt.Sprintf("%s %s at %s: %s", fl.src, dir, portName(sp), h.Detail)
		}
	default:
		defaultDecision(&h, fw, src, sp, dir)
	}
	if wk.dir == Forward {
		d := fwDecision{action: h.Firewall.Action}
		if r != nil {
			d.stateful, d.rule, d.source = r.Stateful, ruleName(r), cmp.Or(r.Source, src)
		}
		wk.fw = append(wk.fw, d)
	}
	wk.add(h)
}

// replyByConnection decides a return hop from the forward decisions when they settle it: allowed
// by an open stateful connection, or unknown because a forward decision is. It reports whether
// they did.
func (wk *walker) replyByConnection(h *Hop) bool {
	if wk.connectionOpen() {
		h.Firewall.Action, h.Firewall.Connection = FirewallAllow, true
		h.Detail = "allowed by the connection (stateful): the reply to an allowed flow is not evaluated as new"
		for _, d := range wk.fw {
			if d.stateful {
				h.Evidence = append(h.Evidence, ev(d.source, "forward flow allowed by stateful rule %s", d.rule))
			}
		}
		return true
	}
	if wk.forwardUnknown() {
		h.Status, h.Firewall.Action = StatusUnknown, FirewallUnknownAction
		h.Detail = "the forward flow's firewall decision is not known, so neither is whether this reply belongs to its connection"
		h.Evidence = append(h.Evidence, ev(SourceEngine, "a forward firewall hop is unknown"))
		return true
	}
	return false
}

// defaultDecision fills h when no rule matches: the firewall's default, unknown when its rules
// were not all read.
func defaultDecision(h *Hop, fw *Firewall, src string, sp *SwitchPort, dir string) {
	h.Firewall.Default = true
	act := cmp.Or(fw.DefaultAction, FirewallUnknownAction)
	if !fw.Complete {
		act = FirewallUnknownAction
	}
	h.Firewall.Action = act
	switch act {
	case FirewallAllow:
		h.Detail = "no rule matches: the firewall's default allows"
	case FirewallUnknownAction:
		h.Status = StatusUnknown
		h.Detail = "no rule read matches, and the firewall's default (or the rest of its rules) is not known"
	default:
		h.Status = StatusBroken
		h.Detail = fmt.Sprintf("no rule matches: the firewall's default %s %s at %s", act, dir, portName(sp))
	}
	h.Evidence = append(h.Evidence, ev(src, "%d rules read (%s), default %s", len(fw.Rules), fw.Kind, cmp.Or(fw.DefaultAction, "not given")))
}

// connectionOpen: every forward firewall decision allowed the flow and one of them was stateful,
// so the reply belongs to an open connection.
func (wk *walker) connectionOpen() bool {
	stateful := false
	for _, d := range wk.fw {
		if d.action != FirewallAllow {
			return false
		}
		stateful = stateful || d.stateful
	}
	return stateful
}

// forwardUnknown: a forward firewall decision is unknown.
func (wk *walker) forwardUnknown() bool {
	return slices.ContainsFunc(wk.fw, func(d fwDecision) bool { return d.action == FirewallUnknownAction })
}

// evaluate walks the rules in the firewall's order: the first rule that matches decides (a pass
// rule hands on to the next); a rule whose match cannot be evaluated while all else holds stops the
// walk through the rules with unknown, why saying what could not be evaluated (the rule's Unknown
// part, an address or port the tool cannot read, the reply's port).
func evaluate(fw *Firewall, sp *SwitchPort, dir string, fl flow) (decided, unknown *FirewallRule, why string) {
	for i := range fw.Rules {
		r := &fw.Rules[i]
		if r.Disabled || !ruleAt(r, sp, dir) {
			continue
		}
		src, whySrc := peerHas(r.Sources, fl.src, fl.srcPort)
		dst, whyDst := peerHas(r.Destinations, fl.dst, fl.dstPort)
		svc, whySvc := servicesMatch(r.Services, fl)
		if !src || !dst || !svc {
			continue // a condition surely fails
		}
		var whys []string
		for _, w := range []string{r.Unknown, whySrc, whyDst, whySvc} {
			if w != "" {
				whys = append(whys, w)
			}
		}
		if len(whys) > 0 {
			return nil, r, strings.Join(whys, "; ")
		}
		if r.Action == FirewallPass {
			continue
		}
		return r, nil, ""
	}
	return nil, nil, ""
}

// ruleAt: the rule is enforced at port sp in direction dir.
func ruleAt(r *FirewallRule, sp *SwitchPort, dir string) bool {
	if r.Direction != dir && r.Direction != FirewallBoth {
		return false
	}
	a := r.AppliedTo
	return a.Any || slices.Contains(a.Switches, sp.Switch) || slices.Contains(a.Ports, sp.ID)
}

// peerHas: the side can match the address or the port (false: it surely does not); why is
// non-empty when it is not sure (an entry that is no address, network or range).
func peerHas(p FirewallPeer, ip netip.Addr, sp *SwitchPort) (bool, string) {
	if p.Any {
		return !p.Negate, ""
	}
	in := sp != nil && slices.Contains(p.Ports, sp.ID)
	var bad []string
	for _, c := range p.CIDRs {
		if in {
			break
		}
		has, ok := cidrHas(c, ip)
		in = has
		if !ok {
			bad = append(bad, c)
		}
	}
	if !in && len(bad) > 0 {
		return true, fmt.Sprintf("address %q cannot be read", strings.Join(bad, ", "))
	}
	return in != p.Negate, ""
}

// cidrHas: ip is the address, in the network or in the range ("a-b") c; ok is false when c is
// none of them.
func cidrHas(c string, ip netip.Addr) (has, ok bool) {
	if lo, hi, ok := strings.Cut(c, "-"); ok {
		l, err1 := netip.ParseAddr(strings.TrimSpace(lo))
		h, err2 := netip.ParseAddr(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil {
			return false, false
		}
		return l.Compare(ip) <= 0 && ip.Compare(h) <= 0, true
	}
	if p, err := netip.ParsePrefix(c); err == nil {
		return p.Contains(ip), true
	}
	a, err := netip.ParseAddr(c)
	return err == nil && a == ip, err == nil
}

// servicesMatch: the rule's services can include the flow's protocol and port (no services, ip, or
// the protocol with no ports or the port among them); without a protocol the flow is ICMP echo of
// the address family. why is non-empty when it is not sure: the flow's port is not known (a reply
// goes to the client's ephemeral port) or a rule's port cannot be read.
func servicesMatch(ss []FirewallService, fl flow) (bool, string) {
	if len(ss) == 0 {
		return true, ""
	}
	proto := fl.proto
	if proto == "" {
		proto = "icmp"
		if fl.dst.Is6() && !fl.dst.Is4In6() {
			proto = "icmp6"
		}
	}
	why := ""
	for _, s := range ss {
		if s.Protocol == "ip" || s.Protocol == "" || s.Protocol == proto && len(s.Ports) == 0 {
			return true, ""
		}
		if s.Protocol != proto {
			continue
		}
		for _, p := range s.Ports {
			in, ok := portIn(p, fl.port)
			switch {
			case !ok:
				why = fmt.Sprintf("%s port %q cannot be read", proto, p)
			case fl.port == 0:
				why = fmt.Sprintf("the packet's %s port is not known (rule ports %s)", proto, strings.Join(s.Ports, ","))
			case in:
				return true, ""
			}
		}
	}
	return why != "", why
}

// portIn: port is p ("80") or in its range ("8000-8080"); ok is false when p is neither.
func portIn(p string, port int) (in, ok bool) {
	lo, hi, ok := strings.Cut(p, "-")
	if !ok {
		hi = lo
	}
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil {
		return false, false
	}
	return a <= port && port <= b, true
}

func fillRule(d *FirewallDetail, r *FirewallRule) {
	d.Action, d.RuleID, d.RuleName, d.Section, d.SectionName, d.Priority, d.Default = r.Action, r.ID, r.Name, r.Section, r.SectionName, r.Priority, r.Default
	if r.Origin != nil {
		o := *r.Origin
		d.Origin = &o
		if o.Kind == OriginNetworkPolicy {
			d.NetworkPolicy = o.Namespace + "/" + o.Name
		}
	}
}

func ruleName(r *FirewallRule) string {
	s := cmp.Or(r.Name, r.ID)
	if r.SectionName != "" || r.Section != "" {
		s += " in " + cmp.Or(r.SectionName, r.Section)
	}
	return s + " priority " + strconv.Itoa(r.Priority)
}

func describeRule(r *FirewallRule) string {
	s := fmt.Sprintf("rule %s %s %s %s", cmp.Or(r.Name, r.ID), r.Direction, cmp.Or(r.RawAction, r.Action), "priority "+strconv.Itoa(r.Priority))
	if r.Match != "" {
		s += " match " + r.Match
	}
	if r.Origin != nil && len(r.Origin.Tags) > 0 {
		keys := make([]string, 0, len(r.Origin.Tags))
		for k := range r.Origin.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+r.Origin.Tags[k])
		}
		s += " (" + strings.Join(kv, " ") + ")"
	}
	return s
}

func actionPast(a string) string {
	switch a {
	case FirewallAllow:
		return "allowed"
	case FirewallDrop:
		return "dropped"
	case FirewallReject:
		return "rejected"
	}
	return a
}

// overlayAtDelivery adds, where a packet sent from port from is delivered to port to, the hosts it
// crosses and the firewall's ingress decision at to.
func (wk *walker) overlayAtDelivery(from, to *SwitchPort, fl flow, senderMTU int) {
	if to == nil {
		return
	}
	wk.crossHosts(from, to, senderMTU)
	wk.firewallHop(to, FirewallIngress, fl)
}

// portOfIP is the logical port (not a router's) bound to ip, when the fabric read one.
func (wk *walker) portOfIP(ip netip.Addr) *SwitchPort {
	for _, c := range wk.ix.fab.portsByIP[ip] {
		if c.Type != PortRouter {
			return c
		}
	}
	return nil
}
