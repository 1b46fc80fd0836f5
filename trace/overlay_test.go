package trace

import (
	"testing"
)

// overlaySnapshot is a snapshot with every transport and firewall field set.
func overlaySnapshot() *Snapshot {
	up, fwd := true, false
	return &Snapshot{APIVersion: APIVersion, Fabric: &Fabric{
		Provider:    "ovn",
		SwitchPorts: []SwitchPort{{ID: "node-a", Switch: "nodes", Host: "hv1"}},
		Hosts: []Host{{ID: "hv1", Name: "hv1.lab", TEPs: []TEP{{IP: "192.168.100.1", Encap: EncapGeneve, Interface: "br-phy", Source: "ovn-sb"}},
			HostSwitch: "br-int", HostSwitchMTU: 1600,
			Underlay: &Underlay{Interface: "br-phy", MTU: 1500, Up: &up, Routes: []Route{{Dst: "192.168.100.0/24", Dev: "br-phy"}}, Source: "ovsdb@hv1"},
			Tunnels: []Tunnel{{Name: "ovn-hv2-0", Encap: EncapGeneve, LocalIP: "192.168.100.1", RemoteIP: "192.168.100.2", RemoteHost: "hv2", State: TunnelDown,
				BFD: &BFD{State: "down", RemoteState: "down", Diagnostic: "Control Detection Time Expired", RemoteDiagnostic: "Neighbor Signaled Session Down", Forwarding: &fwd}, MTU: 1500, Source: "ovsdb@hv1"}},
			Placeholder: true, Warnings: []string{"w"}, Source: "ovn-sb"}},
		Firewall: &Firewall{Kind: "ovn-acl", DefaultAction: FirewallAllow, Complete: true, Warnings: []string{"w"}, Source: "ovn", Rules: []FirewallRule{{
			ID: "u1", Name: "deny-egress", Section: "pg1", SectionName: "pg1", Priority: 1001, Direction: FirewallEgress, Action: FirewallDrop, RawAction: "drop",
			AppliedTo: FirewallScope{Ports: []string{"p1"}, Groups: []string{"pg1"}},
			Sources:   FirewallPeer{Any: true}, Destinations: FirewallPeer{CIDRs: []string{"172.15.0.0/24"}, Groups: []string{"as1"}, Negate: true},
			Services: []FirewallService{{Protocol: "tcp", Ports: []string{"80"}}}, Match: "ip4.dst == $as1", Unknown: "reg0 == 1",
			Origin: &RuleOrigin{Kind: OriginNetworkPolicy, Namespace: "ns1", Name: "deny", Tags: map[string]string{"k8s.ovn.org/name": "ns1:deny"}}}, {
			ID: "r2", Category: "Application", Direction: FirewallIngress, Action: FirewallAllow, Stateful: true, Disabled: true, Default: true,
			AppliedTo: FirewallScope{Any: true, Switches: []string{"ls1"}}, Sources: FirewallPeer{Ports: []string{"p2"}}, Source: "nsx"}}},
	}}
}

// TestOverlayRoundTrip: hosts, tunnels and firewall rules survive write + read (the streamed decoder).
func TestOverlayRoundTrip(t *testing.T) {
	roundTrip(t, overlaySnapshot(), Host{}, TEP{}, Underlay{}, Tunnel{}, BFD{}, Firewall{}, FirewallRule{},
		FirewallScope{}, FirewallPeer{}, FirewallService{}, RuleOrigin{})
}

func TestEncapOverhead(t *testing.T) {
	// The lab measured it: pods at MTU 1500 need an underlay of 1558 with OVN's Geneve.
	if got := 1500 + EncapOverhead(EncapGeneve); got != 1558 {
		t.Errorf("geneve: pod MTU 1500 needs %d, the lab measured 1558", got)
	}
	if EncapOverhead("gre") != 0 {
		t.Error("an unknown encapsulation has no known overhead")
	}
}

func TestRuleOriginString(t *testing.T) {
	for _, c := range []struct {
		o    RuleOrigin
		want string
	}{
		{RuleOrigin{Kind: OriginNetworkPolicy, Namespace: "a", Name: "b"}, "NetworkPolicy: a/b"},
		{RuleOrigin{Kind: OriginAdminNetworkPolicy, Name: "b"}, "AdminNetworkPolicy: b"},
		{RuleOrigin{Name: "b"}, "b"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if got := c.o.String(); got != c.want {
				t.Errorf("got %q", got)
			}
		})
	}
}
