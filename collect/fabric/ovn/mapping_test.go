package ovn

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// cliHints are the flag names cmd gives, so the messages read as on the command line.
var cliHints = Hints{NB: "--ovn-nb", SB: "--ovn-sb", TLS: "--ovn-nb-ca-cert, --ovn-nb-cert and --ovn-nb-key", Chosen: "with --fabric ovn"}

func TestNewRejectsBadAddresses(t *testing.T) {
	for _, tc := range []struct{ nb, want string }{
		{"", "--ovn-nb is required"},
		{"/var/run/ovn/ovnnb_db.sock", "is not an OVSDB address"},
		{"tcp:10.0.0.1", "is not an OVSDB address"},
		{"http://10.0.0.1:6641", "is not an OVSDB address"},
		{"ssl:10.0.0.1:6641", "needs --ovn-nb-ca-cert"},
	} {
		t.Run(tc.nb, func(t *testing.T) {
			_, err := New(Config{NB: tc.nb, Hints: cliHints})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("New(%q) error = %v, want one line containing %q", tc.nb, err, tc.want)
			}
		})
	}
	for _, nb := range []string{"unix:/run/ovn/ovnnb_db.sock", "tcp:127.0.0.1:6641", "tcp:[::1]:6641,tcp:127.0.0.2:6641"} {
		if _, err := New(Config{NB: nb}); err != nil {
			t.Errorf("New(%q): %v", nb, err)
		}
	}
}

func TestTier(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  map[string]string
		want string
	}{
		{"t0", nil, trace.Tier0},
		{"t1-kube-system", nil, trace.Tier1},
		{"GR_node1", nil, trace.Tier0},
		{"ovn_cluster_router", nil, trace.Tier1},
		{"edge", nil, ""},
		// packetwalk/* keys are no configuration a deployment writes: ignored.
		{"edge-2", map[string]string{"packetwalk/tier": "tier0"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tierOf(&nbdb.LogicalRouter{Name: tc.name, ExternalIDs: tc.ids}); got != tc.want {
				t.Errorf("tier of %s %v = %q, want %q", tc.name, tc.ids, got, tc.want)
			}
		})
	}
}

// TestFabricMapping maps a hand-made NB (one namespace switch with a CHILD port, its T1 linked to a
// T0) and checks the fields the engine correlates on.
func TestFabricMapping(t *testing.T) {
	d := newNBData()
	parent, tag := "node-a-eth1", 101
	d.lsps["u-child"] = &nbdb.LogicalSwitchPort{UUID: "u-child", Name: "ns1_web", ParentName: &parent, TagRequest: &tag,
		Addresses: []string{"02:00:00:00:00:01 10.1.0.2"}, ExternalIDs: map[string]string{"namespace": "ns1", "pod": "true"}}
	d.lsps["u-rtr"] = &nbdb.LogicalSwitchPort{UUID: "u-rtr", Name: "ls-ns1-to-t1", Type: "router", Addresses: []string{"router"},
		Options: map[string]string{"router-port": "t1-dl"}}
	d.lsps["u-parent"] = &nbdb.LogicalSwitchPort{UUID: "u-parent", Name: parent, Addresses: []string{"00:50:56:00:00:0A"},
		ExternalIDs: map[string]string{keyOVNKNode: "node-a"}}
	d.switches["u-ls"] = &nbdb.LogicalSwitch{UUID: "u-ls", Name: "ls-ns1", Ports: []string{"u-child", "u-rtr"}}
	d.switches["u-nodes"] = &nbdb.LogicalSwitch{UUID: "u-nodes", Name: "ls-nodes", Ports: []string{"u-parent"}, OtherConfig: map[string]string{"subnet": "172.15.0.0/24"}}
	peer0, peer1 := "t0-to-t1", "t1-to-t0"
	d.lrps["p1"] = &nbdb.LogicalRouterPort{UUID: "p1", Name: "t1-dl", MAC: "02:50:56:56:44:52", Networks: []string{"10.1.0.1/24"}}
	d.lrps["p2"] = &nbdb.LogicalRouterPort{UUID: "p2", Name: "t1-to-t0", MAC: "02:00:00:00:01:01", Networks: []string{"100.64.0.3/29"}, Peer: &peer0}
	d.lrps["p3"] = &nbdb.LogicalRouterPort{UUID: "p3", Name: "t0-to-t1", MAC: "02:00:00:00:01:02", Networks: []string{"100.64.0.2/29"}, Peer: &peer1}
	d.routers["r1"] = &nbdb.LogicalRouter{UUID: "r1", Name: "t1-ns1", Ports: []string{"p1", "p2"}, StaticRoutes: []string{"s1"}}
	d.routers["r0"] = &nbdb.LogicalRouter{UUID: "r0", Name: "t0", Ports: []string{"p3"}, StaticRoutes: []string{"s2"}}
	d.routes["s1"] = &nbdb.LogicalRouterStaticRoute{UUID: "s1", IPPrefix: "0.0.0.0/0", Nexthop: "100.64.0.2"}
	d.routes["s2"] = &nbdb.LogicalRouterStaticRoute{UUID: "s2", IPPrefix: "10.1.0.0/24", Nexthop: "100.64.0.3"}

	f, warnings := d.fabric(fabric.Query{})
	if len(warnings) != 0 {
		t.Errorf("warnings %v", warnings)
	}
	port := func(id string) trace.SwitchPort {
		for _, p := range f.SwitchPorts {
			if p.ID == id {
				return p
			}
		}
		t.Fatalf("no switch port %s in %+v", id, f.SwitchPorts)
		return trace.SwitchPort{}
	}
	c := port("ns1_web")
	if c.Type != trace.PortChild || c.ParentPort != parent || c.TrafficTag == nil || *c.TrafficTag != 101 || c.Switch != "ls-ns1" ||
		c.Pod == nil || c.Pod.String() != "ns1/web" || !slices.Equal(c.MACs, []string{"02:00:00:00:00:01"}) || !slices.Equal(c.IPs, []string{"10.1.0.2"}) {
		t.Errorf("child port = %+v", c)
	}
	if p := port(parent); p.Type != trace.PortVIF || p.NodeName != "node-a" || !slices.Equal(p.MACs, []string{"00:50:56:00:00:0a"}) {
		t.Errorf("parent port = %+v", p)
	}
	if p := port("ls-ns1-to-t1"); p.Type != trace.PortRouter || p.RouterPort != "t1-dl" {
		t.Errorf("router-type port = %+v", p)
	}
	if f.Switches[0].ID != "ls-nodes" || !slices.Equal(f.Switches[1].Subnets, []string{"10.1.0.0/24"}) {
		t.Errorf("switches = %+v (subnet of ls-ns1 comes from its router port)", f.Switches)
	}
	kinds := map[string]string{}
	for _, rp := range f.RouterPorts {
		kinds[rp.ID] = rp.Kind + "/" + rp.Router + "/" + rp.PeerRouterPort + rp.LinkedSwitchPort
	}
	want := map[string]string{"t1-dl": "downlink/t1-ns1/ls-ns1-to-t1", "t1-to-t0": "link/t1-ns1/t0-to-t1", "t0-to-t1": "link/t0/t1-to-t0"}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("router port %s = %s, want %s", k, kinds[k], v)
		}
	}
	st := trace.RouteStep(f, "t0", netip.MustParseAddr("10.1.0.2"))
	if !st.Found || st.OutPort != "t0-to-t1" || st.PeerPort != "t1-to-t0" {
		t.Errorf("t0 route to 10.1.0.2 = %+v", st)
	}
}

// TestNATAndLoadBalancerMapping: NAT rows and load balancers (direct and through a group) become
// the model's rules and VIPs, applied where OVN applies them.
func TestNATAndLoadBalancerMapping(t *testing.T) {
	d := newNBData()
	gw := "u-gw"
	d.nats["n1"] = &nbdb.NAT{UUID: "n1", Type: nbdb.NATTypeSNAT, LogicalIP: "172.16.0.0/16", ExternalIP: "203.0.113.9", ExternalIDs: map[string]string{"namespace": "default"}}
	d.nats["n2"] = &nbdb.NAT{UUID: "n2", Type: nbdb.NATTypeDNATAndSNAT, LogicalIP: "172.16.1.5", ExternalIP: "203.0.113.20", GatewayPort: &gw}
	d.lrps["u-gw"] = &nbdb.LogicalRouterPort{UUID: "u-gw", Name: "t0-uplink", GatewayChassis: []string{"gc1"}}
	udp := nbdb.LoadBalancerProtocolUDP
	d.lbs["lb1"] = &nbdb.LoadBalancer{UUID: "lb1", Name: "Service_kube-system/kube-dns_UDP_cluster", Protocol: &udp,
		Vips:        map[string]string{"10.96.0.10:53": "172.16.1.2:53,172.16.1.3:53", "[fd00::10]:53": "[fd00::2]:53"},
		ExternalIDs: map[string]string{keyOVNKKind: "Service", keyOVNKOwner: "kube-system/kube-dns"}, HealthCheck: []string{"hc1"}}
	d.lbs["lb2"] = &nbdb.LoadBalancer{UUID: "lb2", Name: "web", Vips: map[string]string{"10.96.0.80:80": "172.16.0.6:8080"}}
	d.lbGroups["g1"] = &nbdb.LoadBalancerGroup{UUID: "g1", Name: "clusterLBGroup", LoadBalancer: []string{"lb2"}}
	d.routers["r0"] = &nbdb.LogicalRouter{UUID: "r0", Name: "t0", Nat: []string{"n1", "n2"}, Ports: []string{"u-gw"}}
	d.switches["s1"] = &nbdb.LogicalSwitch{UUID: "s1", Name: "ls-kube-system", LoadBalancer: []string{"lb1"}, LoadBalancerGroup: []string{"g1"}}
	f, warnings := d.fabric(fabric.Query{Destinations: []fabric.Endpoint{{IP: netip.MustParseAddr("10.96.0.10")}}})
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	if f.ServiceLoadBalancing != trace.LBFabric || len(f.LoadBalancers) != 2 {
		t.Fatalf("load balancing %q, load balancers %+v", f.ServiceLoadBalancing, f.LoadBalancers)
	}
	dns := f.LoadBalancers[0]
	if dns.Protocol != trace.ProtocolUDP || dns.Service == nil || dns.Service.String() != "kube-system/kube-dns" || !slices.Equal(dns.Switches, []string{"ls-kube-system"}) ||
		len(dns.VIPs) != 2 || dns.VIPs[0].IP != "10.96.0.10" || dns.VIPs[0].Port != 53 || len(dns.VIPs[0].Backends) != 2 ||
		dns.VIPs[0].Backends[1] != (trace.LBBackend{IP: "172.16.1.3", Port: 53, Status: trace.BackendUnknown}) || dns.VIPs[1].IP != "fd00::10" {
		t.Errorf("kube-dns load balancer %+v", dns)
	}
	if web := f.LoadBalancers[1]; web.Protocol != trace.ProtocolTCP || !slices.Equal(web.Switches, []string{"ls-kube-system"}) {
		t.Errorf("a load balancer through a group: %+v", web)
	}
	if len(f.NATRules) != 2 {
		t.Fatalf("nat rules %+v", f.NATRules)
	}
	snat, fip := f.NATRules[0], f.NATRules[1]
	if snat.Type != trace.NATSnat || snat.Match.Source != "172.16.0.0/16" || snat.TranslatedIP != "203.0.113.9" || snat.Router != "t0" ||
		!slices.Equal(snat.AppliedTo, []string{"t0-uplink"}) || snat.Origin == nil || snat.Origin.Namespace != "default" {
		t.Errorf("snat %+v", snat)
	}
	if fip.Type != trace.NATDnatAndSnat || fip.Match.Destination != "203.0.113.20" || fip.TranslatedIP != "203.0.113.20" || !slices.Equal(fip.AppliedTo, []string{"t0-uplink"}) {
		t.Errorf("dnat_and_snat %+v", fip)
	}
}

// TestPathObjectsFirstRouter: on a switch with two routers, the path starts at the one whose port
// holds the source's address (as pathReader.walk reads it), so its NAT and load balancers are read.
func TestPathObjectsFirstRouter(t *testing.T) {
	f := &trace.Fabric{
		Routers: []trace.Router{{ID: "ra"}, {ID: "rb"}},
		RouterPorts: []trace.RouterPort{{ID: "ra-ls", Router: "ra", Networks: []string{"10.1.0.1/24"}},
			{ID: "rb-ls", Router: "rb", Networks: []string{"10.2.0.1/24"}}, {ID: "rb-ls2", Router: "rb", Networks: []string{"10.9.0.1/24"}}},
		SwitchPorts: []trace.SwitchPort{{ID: "pod", Switch: "ls", IPs: []string{"10.2.0.5"}},
			{ID: "ls-ra", Switch: "ls", Type: trace.PortRouter, RouterPort: "ra-ls"}, {ID: "ls-rb", Switch: "ls", Type: trace.PortRouter, RouterPort: "rb-ls"},
			{ID: "ls2-rb", Switch: "ls2", Type: trace.PortRouter, RouterPort: "rb-ls2"}},
	}
	q := fabric.Query{Sources: []fabric.Endpoint{{IP: netip.MustParseAddr("10.2.0.5")}}, Destinations: []fabric.Endpoint{{IP: netip.MustParseAddr("10.9.0.7")}}}
	routers, switches := pathObjects(f, q)
	if !maps.Equal(routers, map[string]bool{"rb": true}) || !maps.Equal(switches, map[string]bool{"ls": true, "ls2": true}) {
		t.Errorf("routers %v switches %v, want rb and ls, ls2", routers, switches)
	}
}

// TestLBAppliedOnceEach: a load balancer a switch lists both directly and through a group, and
// through two groups, is applied to that switch once; every switch and router holding it is named.
func TestLBAppliedOnceEach(t *testing.T) {
	d := newNBData()
	d.lbs["lb"] = &nbdb.LoadBalancer{UUID: "lb", Name: "web", Vips: map[string]string{"10.96.0.80:80": "172.16.0.6:8080"}}
	d.lbGroups["g1"] = &nbdb.LoadBalancerGroup{UUID: "g1", Name: "clusterLBGroup", LoadBalancer: []string{"lb"}}
	d.lbGroups["g2"] = &nbdb.LoadBalancerGroup{UUID: "g2", Name: "clusterSwitchLBGroup", LoadBalancer: []string{"lb"}}
	d.switches["s1"] = &nbdb.LogicalSwitch{UUID: "s1", Name: "node-a", LoadBalancer: []string{"lb"}, LoadBalancerGroup: []string{"g1", "g2"}}
	d.switches["s2"] = &nbdb.LogicalSwitch{UUID: "s2", Name: "node-b", LoadBalancerGroup: []string{"g1"}}
	d.routers["r1"] = &nbdb.LogicalRouter{UUID: "r1", Name: "GR_node-a", LoadBalancer: []string{"lb"}, LoadBalancerGroup: []string{"g1"}}
	lbs := d.loadBalancers()
	if len(lbs) != 1 || !slices.Equal(lbs[0].Switches, []string{"node-a", "node-b"}) || !slices.Equal(lbs[0].Routers, []string{"GR_node-a"}) {
		t.Errorf("load balancers %+v", lbs)
	}
}
