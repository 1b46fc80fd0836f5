package kube_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// serviceCluster: smallCluster plus Service svc/NS/web (NodePort, target port "http") whose
// EndpointSlice lists web-1 (ready) and web-2 (not ready), as the EndpointSlice controller writes it.
func serviceCluster(t *testing.T, srv *kubetest.Server, ns string) *corev1.Service {
	t.Helper()
	smallCluster(t, srv, ns)
	ctx := context.Background()
	c := srv.Client()
	svc, err := c.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("http")}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	name, port, proto := "http", int32(8080), corev1.ProtocolTCP
	nodeA, nodeB := ns+"-a", ns+"-b"
	_, err = c.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abcde", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.98.1.10"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}, NodeName: &nodeA, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "web-1"}},
			{Addresses: []string{"10.98.2.10"}, Conditions: discoveryv1.EndpointConditions{Ready: &no}, NodeName: &nodeB, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "web-2"}},
		}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// A walk to a Service reads the Service, its slices and its endpoints' pods and nodes: a count
// that depends on the endpoints, not on the cluster.
func TestServiceTargets(t *testing.T) {
	srv := kubetest.Get(t)
	svc := serviceCluster(t, srv, "svct")
	ctx := context.Background()
	for _, tc := range []struct {
		name, to    string
		maxRequests int
	}{
		// GET pod web-1, GET node a; GET service, LIST slices, GET web-1 and web-2 (one joins the
		// source's GET), GET node b.
		{"by name", "svc/svct/web:http", 7},
		// LIST pods status.podIP (none), LIST services spec.clusterIP, then as above.
		{"by ClusterIP", svc.Spec.ClusterIP + ":80", 8},
		// LIST pods status.podIP (kube-proxy's), GET node, LIST NodePort services, then as above.
		{"by NodePort", "10.99.0.2:" + itoa(svc.Spec.Ports[0].NodePort), 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, cnt := counted(t, srv, kubetest.AdminToken)
			to, err := trace.ParseTarget(tc.to, "svct")
			if err != nil {
				t.Fatal(err)
			}
			var told toldNodes
			res, err := c.Collect(ctx, kube.Query{Pods: []trace.PodRef{{Namespace: "svct", Name: "web-1"}}, Targets: []trace.Target{to}, WalkNode: told.walkNode})
			if err != nil {
				t.Fatal(err)
			}
			told.check(t, res)
			if got := cnt.Count(); got > tc.maxRequests {
				t.Errorf("%d requests, want at most %d:\n%s", got, tc.maxRequests, strings.Join(cnt.Requests(), "\n"))
			}
			cl := res.Cluster
			if len(cl.Services) != 1 || cl.Services[0].Name != "web" || cl.Services[0].Ports[0].TargetPort != "http" || cl.Services[0].Ports[0].NodePort == 0 ||
				len(cl.Services[0].ClusterIPs) != 1 || cl.Services[0].ClusterIPs[0] != svc.Spec.ClusterIP {
				t.Fatalf("services %+v", cl.Services)
			}
			if len(cl.EndpointSlices) != 1 || cl.EndpointSlices[0].Service != "web" || cl.EndpointSlices[0].Ports[0].Port != 8080 ||
				len(cl.EndpointSlices[0].Endpoints) != 2 || !cl.EndpointSlices[0].Endpoints[0].IsReady() || cl.EndpointSlices[0].Endpoints[1].IsReady() ||
				cl.EndpointSlices[0].Endpoints[1].Pod.String() != "svct/web-2" {
				t.Fatalf("slices %+v", cl.EndpointSlices)
			}
			_, pods := names(cl)
			if strings.Join(pods, ",") != "svct/web-1,svct/web-2" || strings.Join(res.WalkNodes, ",") != "svct-a,svct-b" {
				t.Errorf("pods %v walk nodes %v", pods, res.WalkNodes)
			}
		})
	}
	// An address no pod has is first looked up as a ClusterIP or load balancer address, then found
	// a node's and looked up as a NodePort: the LoadBalancer LIST both make is made once.
	t.Run("node address, port no Service has", func(t *testing.T) {
		c, cnt := counted(t, srv, kubetest.AdminToken)
		to, err := trace.ParseTarget("10.99.0.3:1", "svct")
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Collect(ctx, kube.Query{Targets: []trace.Target{to}})
		if err != nil {
			t.Fatal(err)
		}
		reqs := cnt.Requests()
		for i := 1; i < len(reqs); i++ {
			if reqs[i] == reqs[i-1] {
				t.Errorf("%s made twice:\n%s", reqs[i], strings.Join(reqs, "\n"))
			}
		}
		if len(res.Cluster.Services) != 0 || strings.Join(res.WalkNodes, ",") != "svct-down" {
			t.Errorf("services %+v walk nodes %v", res.Cluster.Services, res.WalkNodes)
		}
	})
	t.Run("unknown service", func(t *testing.T) {
		c, _ := counted(t, srv, kubetest.AdminToken)
		_, err := c.Collect(ctx, kube.Query{Pods: []trace.PodRef{{Namespace: "svct", Name: "web-1"}}, Targets: []trace.Target{{Kind: trace.TargetService, Namespace: "svct", Name: "nope"}}})
		if !kube.IsNotFound(err) || !strings.Contains(err.Error(), "service nope not found in namespace svct") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no right to read services", func(t *testing.T) {
		c, _ := counted(t, srv, kubetest.NobodyToken)
		_, err := c.Collect(ctx, kube.Query{Targets: []trace.Target{{Kind: trace.TargetService, Namespace: "svct", Name: "web"}}})
		if err == nil || !strings.Contains(err.Error(), "forbidden: your user may not get services in namespace svct") {
			t.Errorf("error %v", err)
		}
	})
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
