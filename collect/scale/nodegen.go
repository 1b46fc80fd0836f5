package scale

import (
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// Size is a generated cluster's size (scenario.Synthetic's shape: pod j of node i lives in
// namespace (i*PodsPerNode+j) % Namespaces, one T1 per namespace, a CHILD port per pod).
type Size struct {
	Name        string
	Nodes       int
	PodsPerNode int
	Namespaces  int
	// RealAPI serves it from a real kube-apiserver (the cluster loaded into it) instead of the API
	// test server.
	RealAPI bool
}

// Pods is the number of pods (and of CHILD ports).
func (z Size) Pods() int { return z.Nodes * z.PodsPerNode }

func (z Size) options() scenario.SyntheticOptions {
	// 50 hypervisors at every size: a walk reads the two its endpoints run on, whatever the count.
	return scenario.SyntheticOptions{Nodes: z.Nodes, PodsPerNode: z.PodsPerNode, Namespaces: z.Namespaces, Hosts: 50}
}

// Sizes the harness runs by default: the large cluster and a small one of the same shape.
var (
	Small = Size{Name: "small", Nodes: 50, PodsPerNode: 30, Namespaces: 500}
	// SmallAPIServer is the small size on a real kube-apiserver; the growth from small to large
	// is measured on the API test server at both sizes.
	SmallAPIServer = Size{Name: "small-apiserver", Nodes: 50, PodsPerNode: 30, Namespaces: 500, RealAPI: true}
	Large          = Size{Name: "large", Nodes: 5000, PodsPerNode: 30, Namespaces: 500}
)

// PodOf is pod j of node i: its namespace, name and IP, as scenario.Synthetic places it.
func (z Size) PodOf(i, j int) (ns, name, ip string) {
	g := i*z.PodsPerNode + j
	k := g % z.Namespaces
	return scenario.NamespaceName(k), scenario.PodName(i, j), scenario.PodIP(k, g/z.Namespaces)
}

// NodeState is generated node i's state, the same as scenario.Synthetic gives it, computed
// without generating the rest of the cluster (an emulated node prints it in milliseconds).
func (z Size) NodeState(i int) trace.NodeState { return scenario.SyntheticNode(z.options(), i) }
