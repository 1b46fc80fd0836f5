package scenario

import "github.com/packetwalk/kubectl-packetwalk/trace"

// OverlayVariants break the published scenario's overlay and firewall, the layers the article
// describes but does not print: the tunnel between the two nodes' hosts down (BFD: the remote end
// stopped answering), the destination host's uplink MTU at 1500 (too small for a 1500-byte pod
// packet in Geneve), and a NetworkPolicy whose firewall rules drop kube-dns's egress to the node
// network. Each is what tracing kube-system/kube-dns to node 172.15.0.4 must report broken (the
// reasons are the engine's transport and firewall hops', trace/transport.go and firewall.go).
var OverlayVariants = []Variant{
	{
		Name: "tunnel-down",
		Break: func(s *trace.Snapshot) {
			a, b := HostOf("172.15.0.3"), HostOf("172.15.0.4")
			for _, pair := range [][2]string{{a, b}, {b, a}} {
				t := tunnel(s, pair[0], pair[1])
				t.State = trace.TunnelDown
				t.BFD = &trace.BFD{State: "down", RemoteState: "down", Diagnostic: "Control Detection Time Expired",
					RemoteDiagnostic: "Control Detection Time Expired", Forwarding: ptr(false)}
			}
		},
		HopKind: trace.HopTransport, Direction: trace.Forward,
		Reason: "tunnel geneve-192.168.130.14 from esx-03.placeholder (192.168.130.13) to esx-04.placeholder (192.168.130.14) is down: BFD Control Detection Time Expired",
	},
	{
		Name: "underlay-mtu-1500",
		Break: func(s *trace.Snapshot) {
			host(s, HostOf("172.15.0.4")).HostSwitchMTU = 1500
		},
		HopKind: trace.HopTransport, Direction: trace.Forward,
		Reason: "MTU 1500 of the host switch nsxvswitch on esx-04.placeholder cannot carry a full 1500-byte packet in geneve (needs 1558)",
	},
	{
		Name: "policy-drop",
		Break: func(s *trace.Snapshot) {
			dns := "lp-kube-system-kube-dns"
			np := &trace.RuleOrigin{Kind: trace.OriginNetworkPolicy, Namespace: "kube-system", Name: "kube-dns-egress",
				Tags: map[string]string{"ncp/cluster": "k8s-cluster", "ncp/project": "kube-system", "ncp/network_policy": "kube-dns-egress"}}
			at := trace.FirewallScope{Ports: []string{dns}, Groups: []string{"kube-system-kube-dns-egress-pods"}}
			pods := trace.FirewallPeer{Ports: []string{dns}, Groups: []string{"kube-system-kube-dns-egress-pods"}}
			rules := []trace.FirewallRule{
				{ID: "1020", Name: "kube-system-kube-dns-egress-allow", Section: "fws-kube-system-kube-dns-egress-allow", SectionName: "kube-system-kube-dns-egress-allow",
					Priority: 1, Direction: trace.FirewallEgress, Action: trace.FirewallAllow, RawAction: "ALLOW", Stateful: true, AppliedTo: at, Sources: pods,
					Destinations: trace.FirewallPeer{CIDRs: []string{"172.16.0.0/16"}, Groups: []string{"kube-system-kube-dns-egress-peers"}}, Origin: np, Source: trace.SourceNSX},
				{ID: "1021", Name: "kube-system-kube-dns-egress-isolation", Section: "fws-kube-system-kube-dns-egress-isolation", SectionName: "kube-system-kube-dns-egress-isolation",
					Priority: 1, Direction: trace.FirewallEgress, Action: trace.FirewallDrop, RawAction: "DROP", Stateful: true, AppliedTo: at, Sources: pods,
					Destinations: trace.FirewallPeer{Any: true}, Origin: np, Source: trace.SourceNSX},
			}
			s.Fabric.Firewall.Rules = append(rules, s.Fabric.Firewall.Rules...)
		},
		HopKind: trace.HopFirewall, Direction: trace.Forward,
		Reason: "172.16.1.2 egress at kube-system_kube-dns: dropped by kube-system-kube-dns-egress-isolation in kube-system-kube-dns-egress-isolation priority 1 (NetworkPolicy: kube-system/kube-dns-egress)",
	},
}

func host(s *trace.Snapshot, id string) *trace.Host {
	for i := range s.Fabric.Hosts {
		if s.Fabric.Hosts[i].ID == id {
			return &s.Fabric.Hosts[i]
		}
	}
	panic("scenario: no host " + id)
}

func tunnel(s *trace.Snapshot, from, to string) *trace.Tunnel {
	h := host(s, from)
	for i := range h.Tunnels {
		if h.Tunnels[i].RemoteHost == to {
			return &h.Tunnels[i]
		}
	}
	panic("scenario: no tunnel " + from + " -> " + to)
}
