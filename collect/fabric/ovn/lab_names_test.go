package ovn_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// testPortNaming: the lab names its pods' ports three ways (NS_POD, POD.NS, Neutron ids with the
// addresses in port_security only) and writes no packetwalk/* key; the provider finds each pod's
// port from the iface-id its node reports, or from its IP alone, and a pod no port declares is
// unknown with a warning saying what was tried.
func testPortNaming(t *testing.T, l *lab) {
	prov, err := ovn.New(ovn.Config{NB: l.facts.Hypervisor.NB, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	schemes := map[string]bool{}
	for _, p := range l.facts.Pods {
		ref := trace.PodRef{Namespace: p.Namespace, Name: p.Name}
		ip := netip.MustParseAddr(p.IP)
		for _, how := range []struct {
			name string
			ep   fabric.Endpoint
		}{
			{"by iface-id", fabric.Endpoint{IP: ip, Node: p.Node, Pod: &ref, IfaceID: p.Lsp}},
			{"by IP alone", fabric.Endpoint{IP: ip, Node: p.Node, Pod: &ref}},
		} {
			t.Run(how.name, func(t *testing.T) {
				f, warns, err := prov.Collect(context.Background(), fabric.Query{Sources: []fabric.Endpoint{how.ep},
					Destinations: []fabric.Endpoint{{IP: netip.MustParseAddr("172.15.0.4"), Node: "172.15.0.4"}}})
				if err != nil {
					t.Fatalf("%s %s: %v", ref, how.name, err)
				}
				var got *trace.SwitchPort
				for i, sp := range f.SwitchPorts {
					for _, x := range sp.IPs {
						if x == p.IP && sp.Type != trace.PortRouter {
							got = &f.SwitchPorts[i]
						}
					}
				}
				if got == nil || got.ID != p.Lsp || got.Type != trace.PortChild || got.ParentPort != p.ParentLsp || got.TrafficTag == nil || *got.TrafficTag != p.VLAN ||
					len(got.MACs) != 1 || got.MACs[0] != p.MAC {
					t.Errorf("%s %s: port %+v, want %s (child of %s, tag %d, MAC %s)", ref, how.name, got, p.Lsp, p.ParentLsp, p.VLAN, p.MAC)
				}
				if how.ep.IfaceID != "" && (got == nil || got.Pod == nil || *got.Pod != ref) {
					t.Errorf("%s %s: the port the node binds is not named the pod's: %+v", ref, how.name, got)
				}
				if len(warns) > 0 {
					t.Errorf("%s %s: warnings %v", ref, how.name, warns)
				}
			})
		}
		switch {
		case strings.Count(p.Lsp, "-") == 4:
			schemes["neutron"] = true
		case strings.Contains(p.Lsp, "_"):
			schemes["ovn-kubernetes"] = true
		case strings.Contains(p.Lsp, "."):
			schemes["kube-ovn"] = true
		}
	}
	if len(schemes) != 3 {
		t.Errorf("the lab names its pods' ports by %v, want three schemes", schemes)
	}
	// No port declares this pod: unknown, with what was tried.
	ghost := trace.PodRef{Namespace: "default", Name: "ghost"}
	q := fabric.Query{Sources: []fabric.Endpoint{{IP: netip.MustParseAddr("172.16.0.99"), Node: "172.15.0.3", Pod: &ghost, IfaceID: "no-such-port"}},
		Destinations: []fabric.Endpoint{{IP: netip.MustParseAddr("172.15.0.4"), Node: "172.15.0.4"}}}
	f, warns, err := prov.Collect(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], `iface-id "no-such-port"`) || !strings.Contains(warns[0], "switch ls-default") ||
		!strings.Contains(warns[0], "default_ghost, ghost.default") || len(f.NotFound) != 1 {
		t.Errorf("a pod with no port: warnings %q, not found %v", warns, f.NotFound)
	}
	s := &trace.Snapshot{APIVersion: trace.APIVersion, Fabric: f, Cluster: trace.Cluster{
		Pods:  []trace.Pod{{Namespace: "default", Name: "ghost", Node: "172.15.0.3", IPs: []string{"172.16.0.99"}}},
		Nodes: []trace.Node{{Name: "172.15.0.4", Addresses: []trace.NodeAddress{{Type: "InternalIP", Address: "172.15.0.4"}}}}}}
	w, err := trace.WalkSnapshot(s, trace.Request{Source: ghost, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range w.Hops {
		if h.Kind == trace.HopFabricPort && h.Direction == trace.Forward && h.Status != trace.StatusUnknown {
			t.Errorf("the ghost's fabric-port hop is %s (%s), want unknown", h.Status, h.Detail)
		}
	}
}
