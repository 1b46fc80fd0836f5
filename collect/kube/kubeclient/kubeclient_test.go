package kubeclient_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
)

// recorder answers every request with an empty object or list of the kind asked, as JSON (a client
// that asks for protobuf first takes JSON too), and records what was asked.
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, q *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, q.Method+" "+q.URL.RequestURI()+" accept="+q.Header.Get("Accept"))
	r.mu.Unlock()
	parts := strings.Split(strings.Trim(q.URL.Path, "/"), "/")
	kind := map[string]string{"pods": "Pod", "nodes": "Node", "services": "Service", "endpointslices": "EndpointSlice"}
	res, name := "", ""
	for i, p := range parts {
		if _, ok := kind[p]; ok {
			res = p
			if i+1 < len(parts) {
				name = parts[i+1]
			}
		}
	}
	api := "v1"
	if res == "endpointslices" {
		api = "discovery.k8s.io/v1"
	}
	w.Header().Set("Content-Type", "application/json")
	if name == "" && q.Method == http.MethodGet {
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": api, "kind": kind[res] + "List", "items": []any{}})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": api, "kind": kind[res], "metadata": map[string]any{"name": name}})
}

// Every call the plugin makes asks the API server exactly what client-go's clientset asks: the
// same method, path, query and Accept header (protobuf first).
func TestSameRequestsAsClientset(t *testing.T) {
	ctx := context.Background()
	calls := func(t *testing.T, pods func(string) podsAPI, nodes nodesAPI, svcs func(string) svcAPI, eps func(string) epsAPI) {
		t.Helper()
		check := func(what string, err error) {
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		_, err := pods("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
		check("get pod", err)
		_, err = pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.podIP=10.0.0.1", Limit: 500})
		check("list pods", err)
		_, err = pods("ns").List(ctx, metav1.ListOptions{LabelSelector: "app=x", Continue: "c1"})
		check("list pods by label", err)
		_, err = nodes.Get(ctx, "node-1", metav1.GetOptions{})
		check("get node", err)
		_, err = nodes.List(ctx, metav1.ListOptions{Limit: 500, ResourceVersion: "0"})
		check("list nodes", err)
		_, err = svcs("default").Get(ctx, "web", metav1.GetOptions{})
		check("get service", err)
		_, err = svcs("").List(ctx, metav1.ListOptions{FieldSelector: "spec.clusterIP=10.96.0.1"})
		check("list services", err)
		_, err = eps("default").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web"})
		check("list endpointslices", err)
		zero := int64(0)
		_, err = pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "dbg"}}, metav1.CreateOptions{})
		check("create pod", err)
		check("delete pod", pods("default").Delete(ctx, "dbg", metav1.DeleteOptions{GracePeriodSeconds: &zero}))
	}
	run := func(t *testing.T, build func(cfg *rest.Config)) []string {
		rec := &recorder{}
		srv := httptest.NewServer(rec)
		defer srv.Close()
		build(&rest.Config{Host: srv.URL})
		return rec.reqs
	}
	want := run(t, func(cfg *rest.Config) {
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		calls(t, func(ns string) podsAPI { return cs.CoreV1().Pods(ns) }, cs.CoreV1().Nodes(),
			func(ns string) svcAPI { return cs.CoreV1().Services(ns) }, func(ns string) epsAPI { return cs.DiscoveryV1().EndpointSlices(ns) })
	})
	got := run(t, func(cfg *rest.Config) {
		c, err := kubeclient.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		calls(t, func(ns string) podsAPI { return c.CoreV1().Pods(ns) }, c.CoreV1().Nodes(),
			func(ns string) svcAPI { return c.CoreV1().Services(ns) }, func(ns string) epsAPI { return c.DiscoveryV1().EndpointSlices(ns) })
	})
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests differ from the clientset's:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if len(got) != 10 {
		t.Errorf("%d requests, want 10", len(got))
	}
}

type podsAPI interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.Pod, error)
	List(context.Context, metav1.ListOptions) (*corev1.PodList, error)
	Create(context.Context, *corev1.Pod, metav1.CreateOptions) (*corev1.Pod, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}

type nodesAPI interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.Node, error)
	List(context.Context, metav1.ListOptions) (*corev1.NodeList, error)
}

type svcAPI interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.Service, error)
	List(context.Context, metav1.ListOptions) (*corev1.ServiceList, error)
}

type epsAPI interface {
	List(context.Context, metav1.ListOptions) (*discoveryv1.EndpointSliceList, error)
}
