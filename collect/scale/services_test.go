package scale

import (
	"context"
	"flag"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx"
)

var services = flag.Bool("scale.services", false, "measure the Service-and-out walk's NSX reads at the small and the large size (generates a 5,000-node fabric)")

// The Service walk reads the same from the NSX Manager at 50 and at 5,000 nodes (a LoadBalancer
// Service per node, a SNAT rule per namespace): one search for the VIP's virtual server, its pool,
// LB service and pool status, and the NAT rules of the two routers the walk leaves by, besides
// the pod-to-pod reads; in both APIs. Without -scale.services (or -write) it compares two small
// sizes, which is quick.
func TestServiceWalkReadsAreConstant(t *testing.T) {
	sizes := []Size{{Name: "tiny", Nodes: 10, PodsPerNode: 30, Namespaces: 50}, {Name: "tiny-x10", Nodes: 100, PodsPerNode: 30, Namespaces: 50}}
	if *services || *write {
		sizes = []Size{Small, large()}
	} else if testing.Short() {
		t.Skip("-short")
	}
	for _, api := range []string{nsx.APIManagement, nsx.APIPolicy} {
		var first ServiceReads
		for i, z := range sizes {
			r, err := MeasureServiceWalk(context.Background(), z, api)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %s (%d nodes, %d Services, %d SNAT rules): %d requests, %d bytes; read %d load balancer(s) with %d backends, %d NAT rules",
				api, z.Name, z.Nodes, z.Nodes, z.Namespaces, r.Requests, r.Bytes, r.LoadBalancers, r.Backends, r.NATRules)
			if r.LoadBalancers != 1 || r.Backends != serviceMembers || r.NATRules != z.Namespaces {
				t.Errorf("%s %s: read %d load balancers with %d backends and %d NAT rules, want the Service's 1 with %d and the tier-0's %d",
					api, z.Name, r.LoadBalancers, r.Backends, r.NATRules, serviceMembers, z.Namespaces)
			}
			if i == 0 {
				first = r
			} else if r.Requests != first.Requests {
				t.Errorf("%s: %d requests at %d nodes, %d at %d: the Service walk's reads grow with the cluster", api, first.Requests, sizes[0].Nodes, r.Requests, z.Nodes)
			}
			runtime.GC()
			debug.FreeOSMemory()
		}
	}
}
