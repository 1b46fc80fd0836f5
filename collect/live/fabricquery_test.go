package live

import (
	"fmt"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

func eps(xs []fabric.Endpoint) string {
	var out []string
	for _, x := range xs {
		s := x.IP.String() + "@" + x.Node
		if x.Pod != nil {
			s += "(" + x.Pod.String() + ")"
		}
		if x.MAC != "" || x.IfaceID != "" {
			s += fmt.Sprintf("[%s %s]", x.MAC, x.IfaceID)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// The fabric is asked for the walks' endpoints as the API and the nodes name them: a pod by its
// address (with MAC and iface-id once its node was read), a node by its address, an IP that is a
// pod's as that pod, and for a bundle every pod and node port of the nodes asked for.
func TestFabricQueryNamesTheWalksEndpoints(t *testing.T) {
	s := scenario.Published()
	res := &kube.Result{Cluster: s.Cluster}
	kubeDNS := trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}
	for _, tc := range []struct {
		name      string
		need      Need
		nodes     []trace.NodeState
		src, dst  string
		ports     int
		withPaths bool
	}{
		{"pod to node", Need{Pods: []trace.PodRef{kubeDNS}, Targets: []trace.Target{{Kind: trace.TargetNode, Name: "172.15.0.4"}}}, nil,
			"172.16.1.2@172.15.0.3(kube-system/kube-dns)", "172.15.0.4@172.15.0.4", 0, false},
		{"pod to a pod's IP", Need{Pods: []trace.PodRef{kubeDNS}, Targets: []trace.Target{{Kind: trace.TargetIP, IP: "172.16.1.2"}}}, nil,
			"172.16.1.2@172.15.0.3(kube-system/kube-dns)", "172.16.1.2@172.15.0.3(kube-system/kube-dns)", 0, false},
		{"nodes read first", Need{Pods: []trace.PodRef{kubeDNS}, Targets: []trace.Target{{Kind: trace.TargetNode, Name: "172.15.0.4"}}}, s.Nodes,
			"172.16.1.2@172.15.0.3(kube-system/kube-dns)[", "172.15.0.4@172.15.0.4", 0, false},
		{"bundle of a node", Need{Nodes: []string{"172.15.0.3"}, Paths: true}, nil, "", "", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := fabricQuery(res, tc.need, tc.nodes)
			if got := eps(q.Sources); tc.src != "" && !strings.HasPrefix(got, tc.src) {
				t.Errorf("sources %q, want %q", got, tc.src)
			}
			if tc.nodes != nil && !strings.Contains(eps(q.Sources), "[") {
				t.Errorf("sources %q carry no MAC or iface-id after the nodes were read", eps(q.Sources))
			}
			if got := eps(q.Destinations); tc.dst != "" && got != tc.dst {
				t.Errorf("destinations %q, want %q", got, tc.dst)
			}
			if tc.withPaths {
				if len(q.Ports) < 2 || len(q.Destinations) != len(q.Ports) || len(q.Sources) == 0 {
					t.Errorf("bundle: %d ports, %d destinations, %d sources", len(q.Ports), len(q.Destinations), len(q.Sources))
				}
				if !strings.HasPrefix(eps(q.Ports), "172.15.0.3@172.15.0.3") {
					t.Errorf("ports %q: the node first, then its pods", eps(q.Ports))
				}
			}
		})
	}
}
