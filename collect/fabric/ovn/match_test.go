package ovn

import (
	"reflect"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

func TestParseMatch(t *testing.T) {
	for _, c := range []struct {
		match   string
		terms   []term
		unknown []string
	}{
		{`inport == @a1 && ip4.dst == $a2`, []term{{"inport", "==", []string{"@a1"}}, {"ip4.dst", "==", []string{"$a2"}}}, nil},
		{`(ip4.src == {$a, 10.0.0.0/8} && outport == "p 1")`, []term{{"ip4.src", "==", []string{"$a", "10.0.0.0/8"}}, {"outport", "==", []string{"p 1"}}}, nil},
		{`ip4 && (ip4.src == $a || ip4.src == $b) && tcp && tcp.dst == {80, 443}`,
			[]term{{field: "ip4"}, {field: "tcp"}, {"tcp.dst", "==", []string{"80", "443"}}}, []string{"ip4.src == $a || ip4.src == $b"}},
		{`ct.est && !ct.rel`, []term{{field: "ct.est"}}, []string{"!ct.rel"}},
	} {
		t.Run(c.match, func(t *testing.T) {
			terms, unknown := parseMatch(c.match)
			if !reflect.DeepEqual(terms, c.terms) || !reflect.DeepEqual(unknown, c.unknown) {
				t.Errorf("got %q %q", terms, unknown)
			}
		})
	}
}

// TestACLRule: the lab's NetworkPolicy ACL, as OVN-Kubernetes writes them, and ones the tool
// cannot evaluate, which must say so instead of guessing.
func TestACLRule(t *testing.T) {
	name := "kube-system_deny-node-egress_0"
	ids := map[string]string{"k8s.ovn.org/name": "kube-system:deny-node-egress", "k8s.ovn.org/owner-type": "NetworkPolicy", "k8s.ovn.org/owner-controller": "default-network-controller"}
	pg := aclHolder{name: "a104", pg: true, ports: []string{"kube-system_heapster"}}
	addrs := map[string][]string{"a137": {"172.15.0.3", "172.15.0.4"}, "masked": {"10.0.0.0/255.0.0.0"}}
	pgs := map[string][]string{"a104": {"kube-system_heapster"}}
	a := &nbdb.ACL{UUID: "u1", Name: &name, Direction: nbdb.ACLDirectionFromLport, Priority: 1001, Action: nbdb.ACLActionDrop,
		Match: "inport == @a104 && ip4.dst == $a137", ExternalIDs: ids}
	r := aclRule(a, pg, addrs, pgs, false)
	want := trace.FirewallRule{ID: "u1", Name: name, Section: "a104", SectionName: "a104", Priority: 1001, Direction: trace.FirewallEgress,
		Action: trace.FirewallDrop, RawAction: "drop", Match: a.Match, Source: trace.SourceOVN,
		AppliedTo:    trace.FirewallScope{Ports: []string{"kube-system_heapster"}, Groups: []string{"port group a104"}},
		Sources:      trace.FirewallPeer{Any: true},
		Destinations: trace.FirewallPeer{CIDRs: []string{"172.15.0.3", "172.15.0.4"}, Groups: []string{"address set a137"}},
		Origin:       &trace.RuleOrigin{Kind: "NetworkPolicy", Namespace: "kube-system", Name: "deny-node-egress", Tags: ids}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}
	for _, c := range []struct{ match, unknown string }{
		{"ip4.dst == $missing", "ip4.dst == $missing (address set missing not found)"},
		{"ct.new && ip4", "ct.new"},
		{"outport == @gone", "outport == @gone (port group gone not found)"},
		// A comparison is not the constant 1, and values the engine would compare wrongly
		// (hexadecimal or masked, a second port set or protocol that must hold too) are unknown.
		{"1<=tcp.dst<=100 && tcp", "1 <= tcp.dst<=100"},
		{"tcp.dst == 0x50", "tcp.dst == 0x50"},
		{"ip4.src == 10.0.0.0/255.0.0.0", "ip4.src == 10.0.0.0/255.0.0.0"},
		{"ip4.dst == $masked", "ip4.dst == $masked (address set masked holds 10.0.0.0/255.0.0.0, not an address or prefix)"},
		{"tcp.dst == 80 && tcp.dst == 443", "tcp.dst == 443"},
		{"tcp && udp", "udp"},
		// ip6 with both sides taken by ports or a negation: the family has nowhere to go.
		{"ip6 && inport == @a104 && ip6.dst != fe80::1", "ip6"},
	} {
		a := &nbdb.ACL{UUID: "u2", Direction: nbdb.ACLDirectionToLport, Priority: 1000, Action: nbdb.ACLActionAllowRelated, Match: c.match}
		if r := aclRule(a, pg, addrs, pgs, false); r.Unknown != c.unknown || !r.Stateful {
			t.Errorf("%s: unknown %q stateful %v, want %q", c.match, r.Unknown, r.Stateful, c.unknown)
		}
	}
	// ip6 with the source taken by a port group narrows the destination to IPv6.
	a = &nbdb.ACL{UUID: "u3", Direction: nbdb.ACLDirectionToLport, Priority: 1000, Action: nbdb.ACLActionDrop, Match: "ip6 && inport == @a104"}
	if r := aclRule(a, pg, addrs, pgs, false); r.Unknown != "" || !reflect.DeepEqual(r.Destinations, trace.FirewallPeer{CIDRs: []string{"::/0"}}) ||
		!reflect.DeepEqual(r.Sources, trace.FirewallPeer{Ports: []string{"kube-system_heapster"}, Groups: []string{"port group a104"}}) {
		t.Errorf("ip6 && inport: unknown %q sources %+v destinations %+v", r.Unknown, r.Sources, r.Destinations)
	}
}

// FuzzACLMatch: any match string parses without panicking, and a rule built from it either
// models every term or says which part it cannot evaluate.
func FuzzACLMatch(f *testing.F) {
	for _, s := range []string{`inport == @a1 && ip4.dst == $a2`, `(ip4.src == {$a, 10.0.0.0/8} && outport == "p 1")`,
		`ip4 && (ip4.src == $a || ip4.src == $b) && tcp && tcp.dst == {80, 443}`, `ct.est && !ct.rel`, `((`, `"`, `a == {`, `outport == @`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, m string) {
		terms, unknown := parseMatch(m)
		a := &nbdb.ACL{UUID: "u", Direction: nbdb.ACLDirectionToLport, Action: nbdb.ACLActionDrop, Match: m}
		r := aclRule(a, aclHolder{name: "ls"}, map[string][]string{}, map[string][]string{}, false)
		if len(unknown) > 0 && r.Unknown == "" {
			t.Errorf("match %q: parts %q not understood, but the rule claims to model it all (terms %q)", m, unknown, terms)
		}
	})
}
