package trace_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// overlaid is the published scenario on OVN hypervisors (scenario.OVNOverlay: node 172.15.0.3 on
// host hv1 and 172.15.0.4 on hv2, a Geneve tunnel between them with BFD up over a 1600-byte
// underlay), the hosts named hv1.lab and hv2.lab, and an empty firewall (default allow).
func overlaid(t *testing.T) *trace.Snapshot {
	t.Helper()
	s := scenario.OVNOverlay("")
	f := s.Fabric
	for i := range f.Hosts {
		f.Hosts[i].Name = f.Hosts[i].ID + ".lab"
	}
	// One rule elsewhere, so the firewall exists and its default decides at these ports.
	f.Firewall = &trace.Firewall{Kind: "ovn-acl", DefaultAction: trace.FirewallAllow, Complete: true, Source: "ovn",
		Rules: []trace.FirewallRule{{ID: "other", Priority: 1000, Direction: trace.FirewallEgress, Action: trace.FirewallDrop,
			AppliedTo: trace.FirewallScope{Ports: []string{"lp-default-frontend"}}, Sources: trace.FirewallPeer{Any: true}, Destinations: trace.FirewallPeer{Any: true}}}}
	return s
}

func hopsOf(w *trace.Walk, kind trace.HopKind, dir trace.Direction) []trace.Hop {
	var out []trace.Hop
	for _, h := range w.Hops {
		if h.Kind == kind && h.Direction == dir {
			out = append(out, h)
		}
	}
	return out
}

func TestTransportHopAcrossHosts(t *testing.T) {
	w := walk(t, overlaid(t), kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictReachable {
		t.Fatalf("verdict %s (%s):%s", w.Verdict, w.Reason, dump(w))
	}
	k := kinds(w, trace.Forward)
	want := []trace.HopKind{"pod", "veth", "ovs-port", "mac-table", "ovs-uplink", "fabric-port", "firewall", "switch", "router", "router", "router", "switch", "transport", "fabric-port", "firewall", "node"}
	if !slices.Equal(k, want) {
		t.Fatalf("forward kinds %v\nwant %v", k, want)
	}
	tr := hopsOf(w, trace.HopTransport, trace.Forward)[0]
	d := tr.Transport
	if d.LocalHost != "hv1.lab" || d.RemoteHost != "hv2.lab" || d.LocalTEP != "192.168.100.1" || d.RemoteTEP != "192.168.100.2" ||
		d.Encap != "geneve" || d.State != "up" || d.InnerMTU != 1500 || d.MTUNeeded != 1558 || d.UnderlayMTU != 1600 {
		t.Errorf("transport detail %+v", *d)
	}
	// The return path crosses back, from hv2 to hv1.
	back := hopsOf(w, trace.HopTransport, trace.Return)
	if len(back) != 1 || back[0].Transport.LocalHost != "hv2.lab" || back[0].Transport.RemoteTEP != "192.168.100.1" {
		t.Errorf("return transport %+v:%s", back, dump(w))
	}
	// Default allow is not a stateful rule: the reply is evaluated as a new flow.
	for _, h := range hopsOf(w, trace.HopFirewall, trace.Return) {
		if h.Firewall.Connection || !h.Firewall.Default || h.Status != trace.StatusOK {
			t.Errorf("return firewall hop %+v", h)
		}
	}
}

func TestSameHostIsOneLine(t *testing.T) {
	s := overlaid(t)
	for i := range s.Fabric.SwitchPorts {
		if s.Fabric.SwitchPorts[i].Host == "hv2" {
			s.Fabric.SwitchPorts[i].Host = "hv1"
		}
	}
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	if len(hopsOf(w, trace.HopTransport, trace.Forward)) != 0 {
		t.Fatalf("a transport hop between ports of one host:%s", dump(w))
	}
	hs := hopsOf(w, trace.HopHost, trace.Forward)
	if len(hs) != 1 || !strings.Contains(hs[0].Detail, "no tunnel") {
		t.Fatalf("want one host line:%s", dump(w))
	}
}

func TestTransportBroken(t *testing.T) {
	for _, c := range []struct {
		name   string
		mod    func(*trace.Snapshot)
		reason string
		// mtuOnly: small packets still pass (the MTU is the hop's only problem).
		mtuOnly bool
	}{
		{"tunnel down", func(s *trace.Snapshot) {
			tn := &s.Fabric.Hosts[0].Tunnels[0]
			tn.State, tn.BFD.State, tn.BFD.Diagnostic = trace.TunnelDown, "down", "Control Detection Time Expired"
		}, "tunnel ovn-hv1-0 from hv1.lab (192.168.100.1) to hv2.lab (192.168.100.2) is down: BFD Control Detection Time Expired", false},
		{"underlay MTU 1500", func(s *trace.Snapshot) { s.Fabric.Hosts[1].Underlay.MTU = 1500 },
			"MTU 1500 of the underlay ul0 on hv2.lab cannot carry a full 1500-byte packet in geneve (needs 1558)", true},
		{"no tunnel", func(s *trace.Snapshot) { s.Fabric.Hosts[0].Tunnels[0].RemoteIP = "192.168.100.9" },
			"host hv1.lab has no tunnel to hv2.lab (192.168.100.2)", false},
		{"no tunnel and underlay MTU 1500", func(s *trace.Snapshot) {
			s.Fabric.Hosts[0].Tunnels[0].RemoteIP = "192.168.100.9"
			s.Fabric.Hosts[1].Underlay.MTU = 1500
		}, "host hv1.lab has no tunnel to hv2.lab (192.168.100.2)", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := overlaid(t)
			c.mod(s)
			w := walk(t, s, kubeDNS, "node/172.15.0.4")
			if w.Verdict != trace.VerdictBroken || w.Hops[w.BrokenAt-1].Kind != trace.HopTransport || w.Reason != c.reason {
				t.Fatalf("verdict %s at %d: %q, want broken at the transport hop: %q:%s", w.Verdict, w.BrokenAt, w.Reason, c.reason, dump(w))
			}
			if got := w.BrokenOnlyByMTU(); got != c.mtuOnly {
				t.Errorf("BrokenOnlyByMTU = %v, want %v", got, c.mtuOnly)
			}
		})
	}
}

// denyNodes is a NetworkPolicy-made rule dropping kube-dns's egress to the node network.
func denyNodes() trace.FirewallRule {
	return trace.FirewallRule{ID: "acl-1", Name: "kube-system_deny-node-egress_0", Section: "pg-deny", SectionName: "pg-deny", Priority: 1001,
		Direction: trace.FirewallEgress, Action: trace.FirewallDrop, RawAction: "drop",
		AppliedTo: trace.FirewallScope{Ports: []string{"lp-kube-system-kube-dns"}}, Sources: trace.FirewallPeer{Any: true},
		Destinations: trace.FirewallPeer{CIDRs: []string{"172.15.0.3", "172.15.0.4", "172.15.0.5"}, Groups: []string{"address set nodes"}},
		Origin:       &trace.RuleOrigin{Kind: trace.OriginNetworkPolicy, Namespace: "kube-system", Name: "deny-node-egress"}}
}

func TestFirewallDrop(t *testing.T) {
	s := overlaid(t)
	s.Fabric.Firewall.Rules = append(s.Fabric.Firewall.Rules, denyNodes())
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictBroken {
		t.Fatalf("verdict %s:%s", w.Verdict, dump(w))
	}
	h := w.Hops[w.BrokenAt-1]
	if h.Kind != trace.HopFirewall || h.Firewall.Direction != trace.FirewallEgress || h.Firewall.Action != trace.FirewallDrop ||
		h.Firewall.RuleName != "kube-system_deny-node-egress_0" || h.Firewall.NetworkPolicy != "kube-system/deny-node-egress" {
		t.Fatalf("broken hop %+v %+v", h, h.Firewall)
	}
	if !strings.Contains(w.Reason, "NetworkPolicy: kube-system/deny-node-egress") {
		t.Errorf("reason %q does not name the policy", w.Reason)
	}
	// Another pod, not in the rule's port group, passes.
	if w := walk(t, s, trace.PodRef{Namespace: "kube-system", Name: "heapster"}, "node/172.15.0.4"); w.Verdict != trace.VerdictReachable {
		t.Errorf("heapster: %s %s", w.Verdict, w.Reason)
	}
	// Its destination outside the address set passes too.
	if w := walk(t, s, kubeDNS, "pod/default/nginx-3"); w.Verdict != trace.VerdictReachable {
		t.Errorf("kube-dns to nginx-3: %s %s", w.Verdict, w.Reason)
	}
}

func TestFirewallStatefulReturnAndUnknown(t *testing.T) {
	s := overlaid(t)
	allow := denyNodes()
	allow.Action, allow.RawAction, allow.Stateful = trace.FirewallAllow, "allow-related", true
	s.Fabric.Firewall.DefaultAction = trace.FirewallDrop
	s.Fabric.Firewall.Rules = []trace.FirewallRule{allow, {ID: "in", Priority: 1000, Direction: trace.FirewallIngress, Action: trace.FirewallAllow,
		AppliedTo: trace.FirewallScope{Any: true}, Sources: trace.FirewallPeer{Any: true}, Destinations: trace.FirewallPeer{Any: true}}}
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictReachable {
		t.Fatalf("verdict %s (%s):%s", w.Verdict, w.Reason, dump(w))
	}
	ret := hopsOf(w, trace.HopFirewall, trace.Return)
	if len(ret) != 2 {
		t.Fatalf("want 2 return firewall hops:%s", dump(w))
	}
	for _, h := range ret {
		if !h.Firewall.Connection || !strings.Contains(h.Detail, "allowed by the connection (stateful)") {
			t.Errorf("return hop %+v", h)
		}
	}
	s.Fabric.Firewall.Rules[0].Unknown = "ct.new"
	w = walk(t, s, kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictUnknown || !strings.Contains(w.Reason, "cannot be evaluated (ct.new)") {
		t.Errorf("a rule the tool cannot evaluate: %s %q", w.Verdict, w.Reason)
	}
}

// A rule for TCP port 80 does not decide the walk's ICMP probe; one for any protocol does.
func TestFirewallServices(t *testing.T) {
	s := overlaid(t)
	r := denyNodes()
	r.Services = []trace.FirewallService{{Protocol: "tcp", Ports: []string{"80"}}}
	s.Fabric.Firewall.Rules = append(s.Fabric.Firewall.Rules, r)
	if w := walk(t, s, kubeDNS, "node/172.15.0.4"); w.Verdict != trace.VerdictReachable {
		t.Errorf("a tcp/80 rule decided an ICMP walk: %s %s", w.Verdict, w.Reason)
	}
	s.Fabric.Firewall.Rules[len(s.Fabric.Firewall.Rules)-1].Services = []trace.FirewallService{{Protocol: "ip"}}
	if w := walk(t, s, kubeDNS, "node/172.15.0.4"); w.Verdict != trace.VerdictBroken {
		t.Errorf("an any-protocol drop rule did not: %s", w.Verdict)
	}
}

// A rule whose match the tool cannot evaluate decides unknown, never a guess: an address entry it
// cannot read, and on the return path a port rule for the reply (sent to the client's ephemeral
// port, which the walk does not know).
func TestFirewallUnreadableMatchIsUnknown(t *testing.T) {
	s := overlaid(t)
	r := denyNodes()
	r.Destinations.CIDRs = []string{"nodes.example"}
	s.Fabric.Firewall.Rules = append(s.Fabric.Firewall.Rules, r)
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictUnknown || !strings.Contains(w.Reason, `address "nodes.example" cannot be read`) {
		t.Errorf("an unreadable address in a drop rule: %s %q:%s", w.Verdict, w.Reason, dump(w))
	}
	// Negated, the same entry is no more known.
	s.Fabric.Firewall.Rules[len(s.Fabric.Firewall.Rules)-1].Destinations.Negate = true
	if w := walk(t, s, kubeDNS, "node/172.15.0.4"); w.Verdict != trace.VerdictUnknown {
		t.Errorf("a negated unreadable address: %s %q", w.Verdict, w.Reason)
	}

	s = overlaid(t)
	back := trace.FirewallRule{ID: "high-ports", Priority: 900, Direction: trace.FirewallIngress, Action: trace.FirewallDrop,
		AppliedTo: trace.FirewallScope{Ports: []string{"lp-kube-system-kube-dns"}}, Sources: trace.FirewallPeer{Any: true}, Destinations: trace.FirewallPeer{Any: true},
		Services: []trace.FirewallService{{Protocol: "tcp", Ports: []string{"1024-65535"}}}}
	s.Fabric.Firewall.Rules = append(s.Fabric.Firewall.Rules, back)
	tcp53 := func(s *trace.Snapshot) *trace.Walk {
		w, err := trace.WalkSnapshot(s, trace.Request{Source: kubeDNS, To: trace.Target{Kind: trace.TargetIP, IP: "172.15.0.4", Port: "53", Protocol: "TCP"}})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	w = tcp53(s)
	ret := hopsOf(w, trace.HopFirewall, trace.Return)
	if w.Verdict != trace.VerdictUnknown || len(ret) != 2 || ret[1].Status != trace.StatusUnknown || ret[1].Firewall.RuleID != "high-ports" ||
		!strings.Contains(ret[1].Detail, "the packet's tcp port is not known") {
		t.Errorf("a reply against a port rule: %s %q:%s", w.Verdict, w.Reason, dump(w))
	}
	// A rule for another protocol surely does not match the reply.
	s.Fabric.Firewall.Rules[len(s.Fabric.Firewall.Rules)-1].Services[0].Protocol = "udp"
	if w := tcp53(s); w.Verdict != trace.VerdictReachable {
		t.Errorf("a udp rule decided a tcp reply: %s %q", w.Verdict, w.Reason)
	}
}
