package ovn

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// aclHolder is what an ACL hangs on: a port group (Ports: member LSP names among those read) or a
// logical switch.
type aclHolder struct {
	name  string
	pg    bool
	ports []string
}

// readFirewall reads the ACLs that can decide a flow at ports (LSP names): those of the port groups
// holding them and of their switches, with the address sets and port groups their matches name,
// and NB_Global's default_acl_drop. A handful of select-only transactions whatever the cluster's
// size. Rules come out in OVN's order (priority, highest first).
func readFirewall(ctx context.Context, cli db, d *nbData, f *trace.Fabric, ports []string) (*trace.Firewall, error) {
	fw := &trace.Firewall{Kind: "ovn-acl", DefaultAction: trace.FirewallAllow, Complete: true, Source: trace.SourceOVN}
	idx := newLSPIndex(d)
	pgs, holderOf, err := readACLHolders(ctx, cli, d, f, ports, idx)
	if err != nil {
		return nil, err
	}
	acls, err := selectRows(ctx, cli, nbdb.ACLTable, uuidWheres(sortedKeys(holderOf)), func(o *nbdb.ACL) *string { return &o.UUID })
	if err != nil {
		return nil, fmt.Errorf("ACLs: %w", err)
	}
	addrs, known, err := readMatchNames(ctx, cli, acls, pgs, idx)
	if err != nil {
		return nil, err
	}
	if fw.DefaultAction, err = readDefaultACLAction(ctx, cli, fw.DefaultAction); err != nil {
		return nil, err
	}
	fw.Rules = aclRules(acls, holderOf, addrs, known)
	return fw, nil
}

// lspIndex maps the LSPs read between name and UUID, both ways.
type lspIndex struct{ uuid, name map[string]string }

func newLSPIndex(d *nbData) lspIndex {
	x := lspIndex{uuid: map[string]string{}, name: map[string]string{}}
	for u, p := range d.lsps {
		x.uuid[p.Name], x.name[u] = u, p.Name
	}
	return x
}

// members is pg's ports among the LSPs read, by name, sorted.
func (x lspIndex) members(pg *nbdb.PortGroup) []string {
	var out []string
	for _, u := range pg.Ports {
		if n := x.name[u]; n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// readACLHolders reads the port groups holding ports and returns them with what holds each ACL
// (by ACL UUID): those port groups and the switches of ports.
func readACLHolders(ctx context.Context, cli db, d *nbData, f *trace.Fabric, ports []string, idx lspIndex) ([]*nbdb.PortGroup, map[string]aclHolder, error) {
	var pgWheres [][]ovsdb.Condition
	switches := map[string]bool{}
	byID := map[string]trace.SwitchPort{}
	for _, sp := range f.SwitchPorts {
		byID[sp.ID] = sp
	}
	for _, n := range ports {
		if u := idx.uuid[n]; u != "" {
			pgWheres = append(pgWheres, []ovsdb.Condition{ovsdb.NewCondition("ports", ovsdb.ConditionIncludes, ovsdb.OvsSet{GoSet: []any{ovsdb.UUID{GoUUID: u}}})})
		}
		if sw := byID[n].Switch; sw != "" {
			switches[sw] = true
		}
	}
	pgs, err := selectRows(ctx, cli, nbdb.PortGroupTable, pgWheres, func(o *nbdb.PortGroup) *string { return &o.UUID })
	if err != nil {
		return nil, nil, fmt.Errorf("port groups: %w", err)
	}
	holderOf := map[string]aclHolder{}
	for _, pg := range pgs {
		for _, a := range pg.ACLs {
			holderOf[a] = aclHolder{name: pg.Name, pg: true, ports: idx.members(pg)}
		}
	}
	for _, ls := range sortedSwitches(d) {
		if switches[ls.Name] {
			for _, a := range ls.ACLs {
				holderOf[a] = aclHolder{name: ls.Name}
			}
		}
	}
	return pgs, holderOf, nil
}

// readMatchNames reads the address sets and the port groups (beyond pgs, already read) that the
// ACLs' matches name, and returns each one's sorted addresses and member ports by name.
func readMatchNames(ctx context.Context, cli db, acls []*nbdb.ACL, pgs []*nbdb.PortGroup, idx lspIndex) (addrs, known map[string][]string, err error) {
	asNames, pgNames := matchNames(acls)
	var asWheres, pgNameWheres [][]ovsdb.Condition
	for _, n := range sortedKeys(asNames) {
		asWheres = append(asWheres, eq("name", n))
	}
	known = map[string][]string{}
	for _, pg := range pgs {
		known[pg.Name] = idx.members(pg)
	}
	for _, n := range sortedKeys(pgNames) {
		if _, ok := known[n]; !ok {
			pgNameWheres = append(pgNameWheres, eq("name", n))
		}
	}
	sets, err := selectRows(ctx, cli, nbdb.AddressSetTable, asWheres, func(o *nbdb.AddressSet) *string { return &o.UUID })
	if err != nil {
		return nil, nil, fmt.Errorf("address sets: %w", err)
	}
	more, err := selectRows(ctx, cli, nbdb.PortGroupTable, pgNameWheres, func(o *nbdb.PortGroup) *string { return &o.UUID })
	if err != nil {
		return nil, nil, fmt.Errorf("port groups: %w", err)
	}
	for _, pg := range more {
		known[pg.Name] = idx.members(pg)
	}
	addrs = map[string][]string{}
	for _, s := range sets {
		a := slices.Clone(s.Addresses)
		sort.Strings(a)
		addrs[s.Name] = a
	}
	return addrs, known, nil
}

// matchNames is the address sets ($name) and port groups (@name) the ACLs' matches name.
func matchNames(acls []*nbdb.ACL) (asNames, pgNames map[string]bool) {
	asNames, pgNames = map[string]bool{}, map[string]bool{}
	for _, a := range acls {
		terms, _ := parseMatch(a.Match)
		for _, t := range terms {
			for _, v := range t.values {
				switch {
				case strings.HasPrefix(v, "$"):
					asNames[v[1:]] = true
				case strings.HasPrefix(v, "@"):
					pgNames[v[1:]] = true
				}
			}
		}
	}
	return asNames, pgNames
}

// readDefaultACLAction is def, or drop when NB_Global sets default_acl_drop.
func readDefaultACLAction(ctx context.Context, cli db, def string) (string, error) {
	glob, err := selectRows(ctx, cli, nbdb.NBGlobalTable, [][]ovsdb.Condition{all}, func(o *nbdb.NBGlobal) *string { return &o.UUID })
	if err != nil {
		return def, fmt.Errorf("NB_Global: %w", err)
	}
	for _, g := range glob {
		if g.Options["default_acl_drop"] == "true" {
			def = trace.FirewallDrop
		}
	}
	return def, nil
}

// aclRules maps the ACLs in OVN's order: priority, highest first (then by UUID, for a stable answer).
func aclRules(acls []*nbdb.ACL, holderOf map[string]aclHolder, addrs, known map[string][]string) []trace.FirewallRule {
	stateful := false
	for _, a := range acls {
		stateful = stateful || a.Action == nbdb.ACLActionAllowRelated
	}
	var rules []trace.FirewallRule
	for _, a := range acls {
		rules = append(rules, aclRule(a, holderOf[a.UUID], addrs, known, stateful))
	}
	sort.SliceStable(rules, func(i, j int) bool {
		a, b := rules[i], rules[j]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.ID < b.ID
	})
	return rules
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// aclRule maps one ACL: from-lport is the port's egress, to-lport its ingress; allow-related (and
// allow where the ACLs read include a stateful one) lets replies through by the connection.
func aclRule(a *nbdb.ACL, h aclHolder, addrs, pgs map[string][]string, stateful bool) trace.FirewallRule {
	r := trace.FirewallRule{ID: a.UUID, Name: deref(a.Name), Section: h.name, SectionName: h.name, Priority: a.Priority,
		RawAction: a.Action, Match: a.Match, Source: trace.SourceOVN, Sources: trace.FirewallPeer{Any: true}, Destinations: trace.FirewallPeer{Any: true}}
	var unknown []string
	if h.name == "" {
		unknown = append(unknown, "the ACL's switch or port group was not read")
	}
	r.Direction = trace.FirewallIngress
	if a.Direction == nbdb.ACLDirectionFromLport {
		r.Direction = trace.FirewallEgress
	}
	switch a.Action {
	case nbdb.ACLActionAllowRelated:
		r.Action, r.Stateful = trace.FirewallAllow, true
	case nbdb.ACLActionAllow:
		r.Action, r.Stateful = trace.FirewallAllow, stateful
	case nbdb.ACLActionAllowStateless:
		r.Action = trace.FirewallAllow
	case nbdb.ACLActionDrop:
		r.Action = trace.FirewallDrop
	case nbdb.ACLActionReject:
		r.Action = trace.FirewallReject
	case "pass":
		r.Action = trace.FirewallPass
	default:
		r.Action = trace.FirewallUnknownAction
		unknown = append(unknown, "action "+a.Action)
	}
	if h.pg {
		r.AppliedTo = trace.FirewallScope{Ports: h.ports, Groups: []string{"port group " + h.name}}
	} else if h.name != "" {
		r.AppliedTo = trace.FirewallScope{Switches: []string{h.name}}
	}
	r.Origin = aclOrigin(a.ExternalIDs)
	terms, more := parseMatch(a.Match)
	unknown = append(unknown, more...)
	var family string
	for _, t := range terms {
		if u := applyTerm(&r, t, addrs, pgs, &family); u != "" {
			unknown = append(unknown, u)
		}
	}
	if u := applyFamily(&r, family); u != "" {
		unknown = append(unknown, u)
	}
	r.Unknown = strings.Join(unknown, " && ")
	return r
}

// applyFamily narrows r to the address family a bare ip4 or ip6 term names: on a side that is
// any address, else it must follow from a side's addresses; when neither side can carry it (both
// are ports or negations) it returns the term, which the tool cannot model.
func applyFamily(r *trace.FirewallRule, family string) string {
	all := map[string]string{"ip4": "0.0.0.0/0", "ip6": "::/0"}[family]
	switch {
	case all == "":
		return ""
	case r.Sources.Any:
		r.Sources = trace.FirewallPeer{CIDRs: []string{all}}
	case r.Destinations.Any:
		r.Destinations = trace.FirewallPeer{CIDRs: []string{all}}
	case !hasAddrs(r.Sources) && !hasAddrs(r.Destinations):
		return family
	}
	return ""
}

// hasAddrs: the peer is some addresses (a packet of another family is none of them).
func hasAddrs(p trace.FirewallPeer) bool { return !p.Negate && len(p.CIDRs) > 0 }

// applyTerm narrows r by one conjunct; it returns the term as text when the tool cannot model it.
func applyTerm(r *trace.FirewallRule, t term, addrs, pgs map[string][]string, family *string) string {
	text := strings.TrimSpace(t.field + " " + t.op + " " + strings.Join(t.values, ","))
	switch t.field {
	case "ip", "1":
		if t.op == "" {
			return ""
		}
	case "ip4", "ip6":
		if t.op == "" {
			*family = t.field
			return ""
		}
	case "tcp", "udp", "sctp", "icmp", "icmp4", "icmp6", "arp", "nd", "rarp", "igmp", "mldv1", "mldv2":
		if t.op == "" {
			p := strings.Replace(t.field, "icmp4", "icmp", 1)
			if addService(r, p, nil) {
				return ""
			}
		}
	case "tcp.dst", "udp.dst", "sctp.dst":
		if t.op == "==" && allPorts(t.values) && addService(r, strings.TrimSuffix(t.field, ".dst"), t.values) {
			return ""
		}
	case "inport", "outport":
		return applyPortTerm(r, t, text, pgs)
	case "ip4.src", "ip4.dst", "ip6.src", "ip6.dst":
		return applyAddrTerm(r, t, text, addrs)
	}
	return text
}

// applyPortTerm narrows r by an inport or outport term (text is the term as written).
func applyPortTerm(r *trace.FirewallRule, t term, text string, pgs map[string][]string) string {
	if t.op != "==" {
		return text
	}
	var ports, groups []string
	for _, v := range t.values {
		if strings.HasPrefix(v, "@") {
			m, ok := pgs[v[1:]]
			if !ok {
				return text + " (port group " + v[1:] + " not found)"
			}
			ports = append(ports, m...)
			groups = append(groups, "port group "+v[1:])
		} else {
			ports = append(ports, v)
		}
	}
	// The port the ACL's pipeline runs for is where it is enforced; the other is a peer.
	enforced := (t.field == "inport") == (r.Direction == trace.FirewallEgress)
	if enforced {
		r.AppliedTo = narrow(r.AppliedTo, ports, groups)
		return ""
	}
	peer := &r.Sources
	if t.field == "outport" {
		peer = &r.Destinations
	}
	if !peer.Any {
		return text
	}
	*peer = trace.FirewallPeer{Ports: ports, Groups: groups}
	return ""
}

// applyAddrTerm narrows r by an ip4/ip6 source or destination term (text is the term as written).
func applyAddrTerm(r *trace.FirewallRule, t term, text string, addrs map[string][]string) string {
	neg := t.op == "!="
	if t.op != "==" && !neg {
		return text
	}
	peer := &r.Sources
	if strings.HasSuffix(t.field, ".dst") {
		peer = &r.Destinations
	}
	if !peer.Any {
		return text
	}
	p := trace.FirewallPeer{Negate: neg}
	for _, v := range t.values {
		if strings.HasPrefix(v, "$") {
			a, ok := addrs[v[1:]]
			if !ok {
				return text + " (address set " + v[1:] + " not found)"
			}
			if bad := slices.IndexFunc(a, notAddr); bad >= 0 {
				return text + " (address set " + v[1:] + " holds " + a[bad] + ", not an address or prefix)"
			}
			p.CIDRs = append(p.CIDRs, a...)
			p.Groups = append(p.Groups, "address set "+v[1:])
		} else {
			if notAddr(v) { // a masked address (10.0.0.0/255.0.0.0), a field: not modelled
				return text
			}
			p.CIDRs = append(p.CIDRs, v)
		}
	}
	*peer = p
	return ""
}

// notAddr: v is neither an address nor a prefix (what the engine's peers hold).
func notAddr(v string) bool {
	if _, err := netip.ParseAddr(v); err == nil {
		return false
	}
	_, err := netip.ParsePrefix(v)
	return err != nil
}

// allPorts: every value is a port number as the engine compares them (decimal, 0-65535); OVN's
// hexadecimal and masked values (0x50/0xfff0) are not modelled.
func allPorts(vs []string) bool {
	for _, v := range vs {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 65535 || strconv.Itoa(n) != v {
			return false
		}
	}
	return true
}

// addService narrows r to proto (and ports): false when that is not a narrowing the engine's
// services can hold (a second protocol, or a second set of ports of one: both must match, the
// services would take either).
func addService(r *trace.FirewallRule, proto string, ports []string) bool {
	for i := range r.Services {
		s := &r.Services[i]
		switch {
		case s.Protocol != proto:
			return false
		case len(ports) == 0:
		case len(s.Ports) > 0:
			return false
		default:
			s.Ports = ports
		}
		return true
	}
	r.Services = append(r.Services, trace.FirewallService{Protocol: proto, Ports: ports})
	return true
}

// narrow restricts a scope to ports (an inport/outport term on the enforced side).
func narrow(s trace.FirewallScope, ports, groups []string) trace.FirewallScope {
	out := trace.FirewallScope{Groups: slices.Clone(s.Groups)}
	for _, g := range groups {
		if !slices.Contains(out.Groups, g) {
			out.Groups = append(out.Groups, g)
		}
	}
	switch {
	case len(s.Ports) > 0:
		for _, p := range s.Ports {
			if slices.Contains(ports, p) {
				out.Ports = append(out.Ports, p)
			}
		}
	default: // a switch (or any): the named ports of it
		out.Ports = slices.Clone(ports)
		out.Switches = nil
	}
	return out
}

// aclOrigin reads what created an ACL from OVN-Kubernetes' external_ids: k8s.ovn.org/owner-type
// and k8s.ovn.org/name ("NS:NAME" for a NetworkPolicy).
func aclOrigin(ids map[string]string) *trace.RuleOrigin {
	kind, name := ids[keyOVNKOwnerType], ids[keyOVNKName]
	if kind == "" && name == "" {
		return nil
	}
	o := &trace.RuleOrigin{Kind: kind, Name: name, Tags: map[string]string{}}
	for k, v := range ids {
		if strings.HasPrefix(k, "k8s.ovn.org/") || k == "direction" || k == "gress-index" {
			o.Tags[k] = v
		}
	}
	if ns, n, ok := strings.Cut(name, ":"); ok && (kind == trace.OriginNetworkPolicy || strings.HasPrefix(kind, "Netpol")) {
		o.Namespace, o.Name = ns, n
	}
	return o
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
