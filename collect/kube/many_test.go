package kube_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// A check to hundreds of named nodes lists the nodes once instead of a GET per node; one walk
// never lists.
func TestManyNamedNodesAreListedOnce(t *testing.T) {
	var objs []runtime.Object
	var targets []trace.Target
	for i := 0; i < 300; i++ {
		name := fmt.Sprintf("n%03d", i)
		objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}}}})
		targets = append(targets, trace.Target{Kind: trace.TargetNode, Name: name})
	}
	objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p"}, Spec: corev1.PodSpec{NodeName: "n000"},
		Status: corev1.PodStatus{PodIP: "10.2.0.2", PodIPs: []corev1.PodIP{{IP: "10.2.0.2"}}, Phase: corev1.PodRunning}})
	count := func(q kube.Query) (gets, lists int) {
		cs := fake.NewSimpleClientset(objs...)
		res, err := kube.New(clientsetAPI{cs}, "fake").Collect(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.WalkNodes) != len(q.Targets) {
			t.Errorf("%d walk nodes for %d node targets", len(res.WalkNodes), len(q.Targets))
		}
		for _, a := range cs.Actions() {
			if a.GetResource().Resource == "nodes" {
				switch a.GetVerb() {
				case "get":
					gets++
				case "list":
					lists++
				}
			}
		}
		return gets, lists
	}
	src := []trace.PodRef{{Namespace: "a", Name: "p"}}
	if gets, lists := count(kube.Query{Pods: src, Targets: targets}); gets != 0 || lists != 1 {
		t.Errorf("300 named nodes: %d node GETs and %d LISTs, want 0 and 1", gets, lists)
	}
	if gets, lists := count(kube.Query{Pods: src, Targets: targets[:1]}); lists != 0 || gets > 2 {
		t.Errorf("one walk: %d node GETs and %d LISTs, want no LIST", gets, lists)
	}
}

// NodeIP is the address the engine walks to: a hostname listed first is not an address.
func TestNodeIPIsTheWalkAddress(t *testing.T) {
	n := trace.Node{Name: "w1", Addresses: []trace.NodeAddress{{Type: "Hostname", Address: "w1.example"}, {Type: "ExternalIP", Address: "192.0.2.7"}}}
	want, _ := n.IP()
	if got := kube.NodeIP(n); got != "192.0.2.7" || got != want.String() {
		t.Errorf("NodeIP = %q, the walk goes to %s", got, want)
	}
	if got := kube.NodeIP(trace.Node{Name: "none", Addresses: []trace.NodeAddress{{Type: "Hostname", Address: "w2"}}}); got != "" {
		t.Errorf("NodeIP of a node without an address = %q", got)
	}
}

// clientsetAPI reads through a client-go clientset (here the fake one, which records its actions).
type clientsetAPI struct{ cs kubernetes.Interface }

func (c clientsetAPI) GetPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return c.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
}

func (c clientsetAPI) ListPods(ctx context.Context, ns string, o metav1.ListOptions) (*corev1.PodList, error) {
	return c.cs.CoreV1().Pods(ns).List(ctx, o)
}

func (c clientsetAPI) GetNode(ctx context.Context, name string) (*corev1.Node, error) {
	return c.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
}

func (c clientsetAPI) ListNodes(ctx context.Context, o metav1.ListOptions) (*corev1.NodeList, error) {
	return c.cs.CoreV1().Nodes().List(ctx, o)
}

func (c clientsetAPI) GetService(ctx context.Context, ns, name string) (*corev1.Service, error) {
	return c.cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
}

func (c clientsetAPI) ListServices(ctx context.Context, ns string, o metav1.ListOptions) (*corev1.ServiceList, error) {
	return c.cs.CoreV1().Services(ns).List(ctx, o)
}

func (c clientsetAPI) ListEndpointSlices(ctx context.Context, ns string, o metav1.ListOptions) (*discoveryv1.EndpointSliceList, error) {
	return c.cs.DiscoveryV1().EndpointSlices(ns).List(ctx, o)
}
