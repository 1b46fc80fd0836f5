package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// NAT on the way out: a router's SNAT rules apply to a packet leaving by the port they are
// applied to (an uplink when they name none; a tier-1's link to its tier-0 too, as NSX does); the
// hops after the nat hop carry the translated source, and the reply is translated back at the same
// router before it is routed to the pod.

// exitState is where a walk left the fabric and the SNAT it got there.
type exitState struct {
	router string
	port   *RouterPort
	snat   *NATRule
	orig   netip.Addr
	to     string
}

// natRules are the rules configured on router rid, in the order they are tried (indexNATRules).
func (fab *fabIdx) natRules(rid string) []*NATRule { return fab.natByRouter[rid] }

// indexNATRules indexes the NAT rules by router, each router's in the order they are tried: NSX
// rule priority (lowest first), then the longest source match first (OVN's rule for overlapping
// logical_ip).
func (fab *fabIdx) indexNATRules() {
	fab.natByRouter = map[string][]*NATRule{}
	for i := range fab.f.NATRules {
		r := &fab.f.NATRules[i]
		fab.natByRouter[r.Router] = append(fab.natByRouter[r.Router], r)
	}
	for _, rules := range fab.natByRouter {
		sort.SliceStable(rules, func(i, j int) bool {
			if rules[i].Priority != rules[j].Priority {
				return rules[i].Priority < rules[j].Priority
			}
			return prefixBits(rules[i].Match.Source) > prefixBits(rules[j].Match.Source)
		})
	}
}

func prefixBits(s string) int {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Bits()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.BitLen()
	}
	return -1
}

// natMatches reports whether address a is in s (an address, CIDR or "A-B" range); "" matches any.
func natMatches(s string, a netip.Addr) bool {
	if s == "" {
		return true
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if lo, hi, ok := strings.Cut(part, "-"); ok {
			l, e1 := netip.ParseAddr(lo)
			h, e2 := netip.ParseAddr(hi)
			if e1 == nil && e2 == nil && l.Compare(a) <= 0 && a.Compare(h) <= 0 {
				return true
			}
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil && p.Masked().Contains(a) {
			return true
		}
		if b, err := netip.ParseAddr(part); err == nil && b == a {
			return true
		}
	}
	return false
}

// appliesOn reports whether rule r is enforced on port out of its router.
func (fab *fabIdx) appliesOn(r *NATRule, out *RouterPort) bool {
	if len(r.AppliedTo) > 0 {
		for _, p := range r.AppliedTo {
			if p == out.ID {
				return true
			}
		}
		return false
	}
	if out.Kind == RouterPortUplink {
		return true
	}
	rt := fab.routers[out.Router]
	return out.Kind == RouterPortLink && rt != nil && rt.Tier == Tier1
}

// leaveBy applies the SNAT of router rid to a packet from the walk's source leaving by port out:
// a nat hop with the rule when one matches; a broken nat hop when the packet leaves the fabric
// with a private source although the router translates others; nothing when it does no NAT.
func (wk *walker) leaveBy(rid string, out *RouterPort, dst netip.Addr) {
	if wk.dir != Forward {
		return
	}
	// The first uplink is where the packet leaves the fabric, SNAT or none.
	if out.Kind == RouterPortUplink && wk.exit == nil {
		wk.exit = &exitState{router: rid, port: out}
	}
	fab := wk.ix.fab
	if fab == nil || len(fab.f.NATRules) == 0 {
		return
	}
	src, ok := ParseAddr(wk.w.Source.IP)
	if !ok || wk.exit != nil && wk.exit.snat != nil {
		return
	}
	rules := fab.natRules(rid)
	chosen, skipped := chooseSNAT(fab, rules, out, src, dst)
	h := Hop{Kind: HopNAT, Router: fab.routerName(rid), Interface: rpName(out)}
	for _, s := range skipped {
		h.Evidence = append(h.Evidence, ev(SourceEngine, "%s", s))
	}
	if chosen == nil {
		wk.noSNAT(h, rules, out, src, dst)
		return
	}
	wk.snat(h, rid, chosen, out, src, dst)
}

// chooseSNAT picks the first enabled source-NAT rule of rules on port out matching src to dst,
// and says which rules it could not evaluate.
func chooseSNAT(fab *fabIdx, rules []*NATRule, out *RouterPort, src, dst netip.Addr) (*NATRule, []string) {
	var skipped []string
	for _, r := range rules {
		if r.Disabled || !fab.appliesOn(r, out) {
			continue
		}
		switch r.Type {
		case NATSnat, NATDnatAndSnat, NATNoSnat:
		default:
			continue
		}
		if !natMatches(r.Match.Source, src) || (r.Match.Destination != "" && !natMatches(r.Match.Destination, dst)) {
			continue
		}
		if r.Match.Expression != "" {
			skipped = append(skipped, fmt.Sprintf("rule %s has match %q, not evaluated", natName(r), r.Match.Expression))
			continue
		}
		return r, skipped
	}
	return nil, skipped
}

// noSNAT adds the broken nat hop h when no rule translates src although the packet leaves the
// fabric by uplink out with a private source and the router translates others.
func (wk *walker) noSNAT(h Hop, rules []*NATRule, out *RouterPort, src, dst netip.Addr) {
	if out.Kind != RouterPortUplink || !isPrivate(src) || !hasSNAT(rules) || wk.inFabric(dst) {
		return
	}
	h.Name, h.IP, h.Status = "no SNAT", src.String(), StatusBroken
	var list []string
	for _, r := range rules {
		if r.Type == NATSnat || r.Type == NATDnatAndSnat {
			list = append(list, fmt.Sprintf("%s %s -> %s", natName(r), cmp.Or(r.Match.Source, "any"), r.TranslatedIP))
		}
	}
	h.Evidence = append(h.Evidence, ev(cmp.Or(rules[0].Source, wk.ix.fab.f.Provider), "SNAT rules on %s: %s", h.Router, strings.Join(list, "; ")))
	h.Detail = fmt.Sprintf("no SNAT rule on router %s matches source %s: the packet leaves by %s with its private address and no reply can come back", h.Router, src, rpName(out))
	wk.add(h)
}

// snat adds the nat hop h for rule chosen of router rid and remembers the translation for the
// return walk (a no_snat rule keeps the source and translates nothing).
func (wk *walker) snat(h Hop, rid string, chosen *NATRule, out *RouterPort, src, dst netip.Addr) {
	routerName := h.Router
	h.Evidence = append(h.Evidence, ev(cmp.Or(chosen.Source, wk.ix.fab.f.Provider), "%s", describeNAT(chosen)))
	if chosen.Type == NATNoSnat {
		h.Name, h.IP = natName(chosen), src.String()
		h.Detail = fmt.Sprintf("no_snat rule %s on %s: source %s kept", natName(chosen), routerName, src)
		wk.add(h)
		return
	}
	to := chosen.TranslatedIP
	if chosen.Type == NATDnatAndSnat && to == "" {
		to = chosen.Match.Destination
	}
	h.Name, h.IP = natName(chosen), addrOf(to)
	proto := wk.protocol()
	h.NAT = &NATDetail{Type: chosen.Type, Rule: chosen.ID, RuleName: chosen.Name, Router: routerName, Origin: chosen.Origin,
		Original:   Packet{Src: src.String(), Dst: wk.dstString(dst), Protocol: proto},
		Translated: Packet{Src: addrOf(to), Dst: wk.dstString(dst), Protocol: proto}}
	h.Detail = fmt.Sprintf("SNAT %s -> %s on %s out %s", src, to, routerName, rpName(out))
	if chosen.Origin != nil {
		h.Detail += " (" + natOriginString(chosen.Origin) + ")"
	}
	wk.add(h)
	if wk.exit == nil {
		wk.exit = &exitState{router: rid, port: out}
	}
	if out.Kind != RouterPortUplink {
		// A tier-1 SNAT: the reply is translated back where it was translated, at this router.
		wk.exit.router, wk.exit.port = rid, out
	}
	wk.exit.snat, wk.exit.orig, wk.exit.to = chosen, src, addrOf(to)
}

// addrOf is the first address of a translated IP written as an address, CIDR or range.
func addrOf(s string) string {
	s, _, _ = strings.Cut(s, ",")
	s, _, _ = strings.Cut(s, "-")
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().String()
	}
	return strings.TrimSpace(s)
}

func hasSNAT(rules []*NATRule) bool {
	for _, r := range rules {
		if r.Type == NATSnat || r.Type == NATDnatAndSnat {
			return true
		}
	}
	return false
}

// isPrivate: RFC 1918, shared (RFC 6598), link-local and IPv6 unique-local addresses, which the
// outside does not route back.
func isPrivate(a netip.Addr) bool {
	return a.IsPrivate() || a.IsLinkLocalUnicast() || transit.Contains(a)
}

// transit is the shared address space (RFC 6598) NSX and OVN-Kubernetes number router links from.
var transit = netip.MustParsePrefix("100.64.0.0/10")

func natName(r *NATRule) string { return cmp.Or(r.Name, r.ID) }

func natOriginString(o *NATOrigin) string {
	s := o.Kind
	switch {
	case o.Namespace != "" && o.Name != "":
		s += " " + o.Namespace + "/" + o.Name
	case o.Namespace != "":
		s += " " + o.Namespace
	case o.Name != "":
		s += " " + o.Name
	}
	return s
}

func describeNAT(r *NATRule) string {
	s := fmt.Sprintf("%s rule %s on %s: source %s", r.Type, natName(r), r.Router, cmp.Or(r.Match.Source, "any"))
	if r.Match.Destination != "" {
		s += " destination " + r.Match.Destination
	}
	if r.TranslatedIP != "" {
		s += " -> " + r.TranslatedIP
	}
	if r.TranslatedPorts != "" {
		s += " ports " + r.TranslatedPorts
	}
	if len(r.AppliedTo) > 0 {
		s += " applied to " + strings.Join(r.AppliedTo, ",")
	}
	if r.Priority != 0 {
		s += fmt.Sprintf(" priority %d", r.Priority)
	}
	if r.Origin != nil {
		s += " origin " + natOriginString(r.Origin)
		keys := make([]string, 0, len(r.Origin.Tags))
		for k := range r.Origin.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s += fmt.Sprintf(" %s=%s", k, r.Origin.Tags[k])
		}
	}
	return s
}

// protocol is the walk's protocol when it goes to a port ("" for the default probe).
func (wk *walker) protocol() string {
	if wk.svc != nil {
		return wk.svc.st.protocol
	}
	return wk.proto
}

func (wk *walker) dstString(dst netip.Addr) string {
	if wk.dstPort != 0 {
		return hostPort(dst.String(), wk.dstPort)
	}
	return dst.String()
}

// externalReturn walks the reply from outside the fabric back to the source pod: in by the uplink
// it left by, translated back (un-SNAT) at the router that translated it, routed to the pod.
func (wk *walker) externalReturn(src *Pod, srcIP netip.Addr, srcPort *SwitchPort, d destination) {
	fab := wk.ix.fab
	ex := wk.exit
	if fab == nil || ex == nil || srcPort == nil {
		return
	}
	if ex.snat != nil {
		proto := wk.protocol()
		wk.add(Hop{Kind: HopNAT, Name: natName(ex.snat), Router: fab.routerName(ex.router), Interface: rpName(ex.port), IP: srcIP.String(),
			Detail: fmt.Sprintf("reply to %s translated back to %s on %s", ex.to, srcIP, fab.routerName(ex.router)),
			NAT: &NATDetail{Type: ex.snat.Type, Rule: ex.snat.ID, RuleName: ex.snat.Name, Router: fab.routerName(ex.router), Origin: ex.snat.Origin, Reverse: true,
				Original:   Packet{Src: wk.dstString(d.ip), Dst: ex.to, Protocol: proto},
				Translated: Packet{Src: wk.dstString(d.ip), Dst: srcIP.String(), Protocol: proto}},
			Evidence: []Evidence{ev(cmp.Or(ex.snat.Source, fab.f.Provider), "%s", describeNAT(ex.snat))}})
	}
	// The reply is routed from the port the packet left by: the uplink, or a tier-1's link to its
	// tier-0 for a tier-1 SNAT (translated back where it was translated).
	final, at := wk.route(ex.port, srcIP)
	if at != nil || final == nil || wk.otherReturnSwitch(final, srcPort, srcIP) {
		return
	}
	back := destination{ep: podEndpoint(src, srcIP), ip: srcIP, pod: src}
	wk.destinationHop(back, wk.deliver(final, back))
}

// fillPackets sets each hop's packet from the first NAT on: the translated addresses forward, the
// reply's on the way back (swapped, then translated back where a reverse NAT hop says).
func (wk *walker) fillPackets() {
	var cur *Packet
	dir := Forward
	for i := range wk.w.Hops {
		h := &wk.w.Hops[i]
		if h.Direction != dir {
			dir = h.Direction
			if cur != nil {
				cur = &Packet{Src: cur.Dst, Dst: cur.Src, Protocol: cur.Protocol}
			}
		}
		if h.NAT != nil {
			t := h.NAT.Translated
			cur = &t
			continue
		}
		if cur != nil {
			c := *cur
			h.Packet = &c
		}
	}
}

// externalHop is the hop beyond an uplink: outside the fabric. Unknown when the walk did not mean
// to leave (a destination the facts do not place); ok on the way out to an outside address.
func (wk *walker) externalHop(nextHop netip.Addr, out *RouterPort, router string, dst netip.Addr) Hop {
	h := Hop{Kind: HopExternal, Name: nextHop.String(), IP: nextHop.String(), Status: StatusUnknown,
		Detail: fmt.Sprintf("beyond uplink %s of %s: outside the fabric, not walked", rpName(out), router)}
	if transit.Contains(dst) {
		h.Detail += fmt.Sprintf("; %s is in %s, the range tier-0/tier-1 links use: no router port owns it", dst, transit)
		return h
	}
	if (wk.w.Destination.Kind == TargetExternal || wk.w.Destination.Kind == TargetIP) && wk.w.Destination.IP == dst.String() && wk.svc == nil {
		h.Status = StatusOK
		h.Detail = fmt.Sprintf("leaves the fabric by uplink %s of %s towards %s (beyond it: not in the facts)", rpName(out), router, nextHop)
	}
	return h
}

// targetPort is the port of an IP:PORT target, 0 when none.
func targetPort(t Target) int {
	n, err := strconv.Atoi(t.Port)
	if err != nil {
		return 0
	}
	return n
}

// leftFabric reports whether the forward walk left by an uplink towards an outside destination.
func (wk *walker) leftFabric() bool {
	n := len(wk.w.Hops)
	return wk.exit != nil && n > 0 && wk.w.Hops[n-1].Kind == HopExternal && wk.w.Hops[n-1].Status == StatusOK
}
