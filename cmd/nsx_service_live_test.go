package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// webLoadBalancer creates default/web in the API server as scenario.ServiceNSXLB has it: a
// LoadBalancer Service (ClusterIP, ingress WebLBIP, target port "http") whose EndpointSlice lists
// nginx-3 and redis-slave.
func webLoadBalancer(t *testing.T, srv *kubetest.Server) {
	t.Helper()
	want := scenario.ServiceNSXLB().Cluster
	ws, sl := want.Services[0], want.EndpointSlices[0]
	ctx, c := context.Background(), srv.Client()
	svc, err := c.CoreV1().Services(ws.Namespace).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: ws.Name, Namespace: ws.Namespace},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: ws.ClusterIPs[0], Selector: ws.Selector,
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: int32(scenario.WebPort), TargetPort: intstr.FromString("http")}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: scenario.WebLBIP}}
	if _, err := c.CoreV1().Services(ws.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	name, port, proto := "http", int32(scenario.WebTargetPort), corev1.ProtocolTCP
	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: sl.Name, Namespace: sl.Namespace, Labels: map[string]string{discoveryv1.LabelServiceName: ws.Name}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}}}
	for _, e := range sl.Endpoints {
		node := e.Node
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: e.Addresses, Conditions: discoveryv1.EndpointConditions{Ready: e.Ready}, NodeName: &node,
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: e.Pod.Namespace, Name: e.Pod.Name}})
	}
	if _, err := c.DiscoveryV1().EndpointSlices(sl.Namespace).Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The command reads an NSX load balancer and the SNAT rules from the manager for a walk to a
// LoadBalancer Service's address and out of the cluster, through either API: the facts it
// collects, joined with the nodes' (from the scenario), walk as the scenario does — the virtual
// server balancing with redis-slave's pool member down, kube-dns leaving by its namespace's SNAT.
func TestLiveNSXServiceAndWayOut(t *testing.T) {
	srv := kubetest.Get(t)
	publishedCluster(t, srv)
	webLoadBalancer(t, srv)
	for _, api := range []string{"management", "policy"} {
		for _, tc := range []struct{ name, to string }{
			{"load balancer", fmt.Sprintf("%s:%d", scenario.WebLBIP, scenario.WebPort)},
			{"the way out", scenario.ExternalIP},
		} {
			t.Run(api+"/"+tc.name, func(t *testing.T) {
				want := scenario.ServiceNSXLB(trace.BackendUp, trace.BackendDown)
				s := nsxtest.New(nsxtest.FromFabric(want.Fabric), nsxtest.Options{Password: nsxPassword})
				t.Cleanup(s.Close)
				ca := filepath.Join(t.TempDir(), "ca.pem")
				if err := os.WriteFile(ca, s.CertPEM(), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Setenv("NSX_PASSWORD", nsxPassword)
				bundle := filepath.Join(t.TempDir(), "bundle")
				r := runLive(t, srv, "collect", "cluster", "--pod", "kube-system/kube-dns", "--to", tc.to, "--output", bundle,
					"--fabric", "nsx", "--nsx-manager", s.URL, "--nsx-ca-file", ca, "--nsx-api", api)
				if r.code != 0 {
					t.Fatalf("collect cluster: exit %d\n%s%s", r.code, r.out, r.err)
				}
				if strings.Contains(r.err, "warning: nsx") {
					t.Errorf("nsx warnings:\n%s", r.err)
				}
				got, err := LoadSnapshotFile(bundle)
				if err != nil {
					t.Fatal(err)
				}
				// The nodes' facts are the scenario's: what this checks is what the API and the
				// manager gave.
				got.Nodes = want.Nodes
				to, err := trace.ParseTarget(tc.to, "default")
				if err != nil {
					t.Fatal(err)
				}
				req := trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: to}
				wg, err := trace.WalkSnapshot(got, req)
				if err != nil {
					t.Fatal(err)
				}
				ww, err := trace.WalkSnapshot(want, req)
				if err != nil {
					t.Fatal(err)
				}
				if a, b := walkLines(wg, api == "policy"), walkLines(ww, api == "policy"); a != b {
					t.Errorf("the walk from the command's facts:\n%s\nthe scenario's:\n%s", a, b)
				}
				if wg.Verdict != trace.VerdictReachable {
					t.Errorf("verdict %s (%s)", wg.Verdict, wg.Reason)
				}
			})
		}
	}
}

// walkLines is what a user reads of a walk and of each endpoint walk: kind, name, status and
// detail per hop (a Policy gateway hop's detail names no router port: left out).
func walkLines(w *trace.Walk, policy bool) string {
	var b strings.Builder
	add := func(w *trace.Walk) {
		fmt.Fprintf(&b, "%s: %s\n", w.Verdict, w.Reason)
		for _, h := range w.Hops {
			d := h.Detail
			if policy && h.Kind == trace.HopRouter {
				d = ""
			}
			fmt.Fprintf(&b, "  %s %s %s %s %s\n", h.Direction, h.Kind, h.Name, h.Status, d)
		}
	}
	add(w)
	if w.Service != nil {
		for i := range w.Service.Walks {
			add(&w.Service.Walks[i].Walk)
		}
	}
	return b.String()
}
