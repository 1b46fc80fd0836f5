package scale

import (
	"context"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// A walk to a Service reads the same number of API objects on 50 nodes as on 5,000: the Service,
// its slices, its endpoints' pods and nodes, by name or selector, never a cluster-wide list.
func TestServiceWalkRequestsAreConstant(t *testing.T) {
	counts := map[int]int{}
	reqs := map[int][]string{}
	for _, nodes := range []int{50, 5000} {
		z := Size{Nodes: nodes, PodsPerNode: 2, Namespaces: 20}
		o := z.options()
		o.NodeState, o.NoFabric = func(int) bool { return false }, true
		c := scenario.Synthetic(o).Cluster
		svc, sl := z.ScaleService()
		c.Services, c.EndpointSlices = []trace.Service{svc}, []trace.EndpointSlice{sl}
		srv := NewKubeServer(c, KubeOptions{})
		cnt := &kube.Counter{}
		cfg := &rest.Config{Host: srv.URL, WrapTransport: cnt.Wrap}
		cs, err := kubeclient.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ns, name, _ := z.PodOf(1, 1)
		for _, to := range []trace.Target{{Kind: trace.TargetService, Namespace: svc.Namespace, Name: "web", Port: "http"}, {Kind: trace.TargetIP, IP: "10.96.0.80", Port: "80"}} {
			res, err := kube.New(cs, srv.URL).Collect(context.Background(), kube.Query{Pods: []trace.PodRef{{Namespace: ns, Name: name}}, Targets: []trace.Target{to}})
			if err != nil {
				t.Fatalf("%d nodes, %s: %v", nodes, to, err)
			}
			if len(res.Cluster.Services) != 1 || len(res.Cluster.EndpointSlices) != 1 || len(res.Cluster.Pods) != 4 || len(res.Cluster.Nodes) != 4 {
				t.Fatalf("%d nodes, %s: %d services, %d slices, %d pods, %d nodes; want 1, 1, 4 (source and 3 endpoints), 4", nodes, to,
					len(res.Cluster.Services), len(res.Cluster.EndpointSlices), len(res.Cluster.Pods), len(res.Cluster.Nodes))
			}
		}
		srv.Close()
		counts[nodes], reqs[nodes] = cnt.Count(), cnt.Requests()
	}
	if counts[50] != counts[5000] {
		t.Errorf("requests: %d at 50 nodes, %d at 5,000:\n%s\n---\n%s", counts[50], counts[5000], strings.Join(reqs[50], "\n"), strings.Join(reqs[5000], "\n"))
	}
	t.Logf("a walk to a Service by name and by ClusterIP: %d requests at 50 and at 5,000 nodes:\n%s", counts[5000], strings.Join(reqs[5000], "\n"))
}
