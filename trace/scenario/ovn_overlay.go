package scenario

import "github.com/packetwalk/kubectl-packetwalk/trace"

// OVNOverlayVariants are the broken versions of OVNOverlay(), as the lab breaks them (lab.sh break ...).
var OVNOverlayVariants = []string{"tunnel-down", "underlay-mtu", "netpol-acl"}

// OVNOverlay returns the published cluster laid out as the lab's overlay is (OVN names and an OVN-Kubernetes firewall): node 172.15.0.3 on
// hypervisor hv1 and 172.15.0.4 and .5 on hv2 (OVN chassis with Geneve TEPs 192.168.100.1 and .2,
// a tunnel each way with BFD up, a 1600-byte underlay ul0), and an OVN-Kubernetes firewall with
// one NetworkPolicy's ACL on kube-system/heapster. variant "" is healthy; the others are
// OVNOverlayVariants: the tunnel down (BFD "Control Detection Time Expired"), the underlay at MTU
// 1500, or the NetworkPolicy ACL moved onto kube-system/kube-dns (its egress to the nodes dropped).
func OVNOverlay(variant string) *trace.Snapshot {
	s := Published()
	f := s.Fabric
	for i := range f.SwitchPorts {
		f.SwitchPorts[i].Host = "" // CHILD ports live where their parents do
		switch f.SwitchPorts[i].NodeName {
		case "172.15.0.3":
			f.SwitchPorts[i].Host = "hv1"
		case "172.15.0.4", "172.15.0.5":
			f.SwitchPorts[i].Host = "hv2"
		}
	}
	host := func(id, tep, peer string) trace.Host {
		src := trace.SourceOVSDB + "@" + id
		return trace.Host{ID: id, Name: id, HostSwitch: "br-int", Source: "ovn-sb",
			TEPs:     []trace.TEP{{IP: tep, Encap: trace.EncapGeneve, Source: "ovn-sb"}},
			Underlay: &trace.Underlay{Interface: "ul0", MTU: 1600, Up: ptr(true), Routes: []trace.Route{{Dst: peer + "/32", Dev: "br-phy", Src: tep}}, Source: src},
			Tunnels: []trace.Tunnel{{Name: "ovn-" + id + "-0", Encap: trace.EncapGeneve, LocalIP: tep, RemoteIP: peer, State: trace.TunnelUp,
				BFD: &trace.BFD{State: "up", RemoteState: "up", Diagnostic: "No Diagnostic", RemoteDiagnostic: "No Diagnostic", Forwarding: ptr(true)}, Source: src}}}
	}
	f.Hosts = []trace.Host{host("hv1", "192.168.100.1", "192.168.100.2"), host("hv2", "192.168.100.2", "192.168.100.1")}
	s.Sources = append(s.Sources, trace.SourceInfo{Name: "ovn-sb", CollectedAt: CollectedAt},
		trace.SourceInfo{Name: trace.SourceOVSDB + "@hv1", CollectedAt: CollectedAt}, trace.SourceInfo{Name: trace.SourceOVSDB + "@hv2", CollectedAt: CollectedAt})
	ids := map[string]string{"k8s.ovn.org/name": "kube-system:deny-node-egress", "k8s.ovn.org/owner-type": "NetworkPolicy",
		"k8s.ovn.org/owner-controller": "default-network-controller"}
	target := "lp-kube-system-heapster"
	if variant == "netpol-acl" {
		target = "lp-kube-system-kube-dns"
	}
	f.Firewall = &trace.Firewall{Kind: "ovn-acl", DefaultAction: trace.FirewallAllow, Complete: true, Source: trace.SourceOVN,
		Rules: []trace.FirewallRule{{ID: "e30ac3cf-fbd5-4576-855e-8b191049fc4c", Name: "kube-system_deny-node-egress_0",
			Section: "a10448532117447766437", SectionName: "a10448532117447766437", Priority: 1001,
			Direction: trace.FirewallEgress, Action: trace.FirewallDrop, RawAction: "drop",
			AppliedTo:    trace.FirewallScope{Ports: []string{target}, Groups: []string{"port group a10448532117447766437"}},
			Sources:      trace.FirewallPeer{Any: true},
			Destinations: trace.FirewallPeer{CIDRs: []string{"172.15.0.3", "172.15.0.4", "172.15.0.5"}, Groups: []string{"address set a13757628823530217392"}},
			Match:        "inport == @a10448532117447766437 && ip4.dst == $a13757628823530217392",
			Origin:       &trace.RuleOrigin{Kind: trace.OriginNetworkPolicy, Namespace: "kube-system", Name: "deny-node-egress", Tags: ids},
			Source:       trace.SourceOVN}}}
	switch variant {
	case "tunnel-down":
		for i := range f.Hosts {
			t := &f.Hosts[i].Tunnels[0]
			t.State, t.BFD.State, t.BFD.RemoteState, t.BFD.Forwarding = trace.TunnelDown, "down", "down", ptr(false)
			t.BFD.Diagnostic = "Control Detection Time Expired"
		}
	case "underlay-mtu":
		for i := range f.Hosts {
			f.Hosts[i].Underlay.MTU = 1500
		}
	}
	return s
}
