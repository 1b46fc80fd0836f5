package kube_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// counted returns a collector on srv whose requests are counted.
func counted(t *testing.T, srv *kubetest.Server, token string) (*kube.Collector, *kube.Counter) {
	t.Helper()
	cfg := srv.Config()
	cfg.BearerToken = token
	cnt := &kube.Counter{}
	cfg.WrapTransport = cnt.Wrap
	cs, err := kubeclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kube.New(cs, cfg.Host), cnt
}

// toldNodes records the nodes a Collect's Query.WalkNode is told.
type toldNodes struct {
	mu    sync.Mutex
	names []string
}

func (n *toldNodes) walkNode(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.names = append(n.names, name)
}

// check: WalkNode was told each walk node once, before Collect returned.
func (n *toldNodes) check(t *testing.T, res *kube.Result) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	told := slices.Sorted(slices.Values(n.names))
	if !slices.Equal(told, res.WalkNodes) {
		t.Errorf("WalkNode told %v, want each of the walk nodes %v once", told, res.WalkNodes)
	}
}

// smallCluster: node names are not IPs; kube-proxy runs in the host network on each node.
func smallCluster(t *testing.T, srv *kubetest.Server, prefix string) {
	nodes := []kubetest.NodeSpec{
		{Name: prefix + "-a", InternalIP: "10.99.0.1", PodCIDR: "10.98.1.0/24"},
		{Name: prefix + "-b", InternalIP: "10.99.0.2", PodCIDR: "10.98.2.0/24"},
		{Name: prefix + "-down", InternalIP: "10.99.0.3", NotReady: true},
	}
	pods := []kubetest.PodSpec{
		{Namespace: prefix, Name: "web-1", Node: prefix + "-a", IP: "10.98.1.10"},
		{Namespace: prefix, Name: "web-2", Node: prefix + "-b", IP: "10.98.2.10"},
		{Namespace: prefix, Name: "pending", Node: prefix + "-a"},
		{Namespace: prefix, Name: "on-down", Node: prefix + "-down", IP: "10.98.3.10"},
		{Namespace: "kube-system", Name: prefix + "-proxy-a", Node: prefix + "-a", IP: "10.99.0.1", HostNetwork: true},
		{Namespace: "kube-system", Name: prefix + "-proxy-b", Node: prefix + "-b", IP: "10.99.0.2", HostNetwork: true},
	}
	kubetest.Objects(t, srv.Client(), nodes, pods)
}

func names(c trace.Cluster) (nodes, pods []string) {
	for _, n := range c.Nodes {
		nodes = append(nodes, n.Name)
	}
	for _, p := range c.Pods {
		pods = append(pods, p.Namespace+"/"+p.Name)
	}
	return
}

func TestPodToNode(t *testing.T) {
	srv := kubetest.Get(t)
	smallCluster(t, srv, "ptn")
	ctx := context.Background()
	for _, tc := range []struct {
		name, to     string
		maxRequests  int
		wantWalkNode []string
	}{
		{"by name", "node/ptn-b", 3, []string{"ptn-a", "ptn-b"}},
		// GET pod, GET node, GET node "10.99.0.2" (404), LIST pods status.podIP=10.99.0.2, GET node.
		{"by InternalIP", "node/10.99.0.2", 5, []string{"ptn-a", "ptn-b"}},
		{"by IP target", "10.99.0.2", 4, []string{"ptn-a", "ptn-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, cnt := counted(t, srv, kubetest.AdminToken)
			to, err := trace.ParseTarget(tc.to, "ptn")
			if err != nil {
				t.Fatal(err)
			}
			var told toldNodes
			res, err := c.Collect(ctx, kube.Query{Pods: []trace.PodRef{{Namespace: "ptn", Name: "web-1"}}, Targets: []trace.Target{to}, WalkNode: told.walkNode})
			if err != nil {
				t.Fatal(err)
			}
			told.check(t, res)
			if got := cnt.Count(); got > tc.maxRequests {
				t.Errorf("%d requests, want at most %d:\n%s", got, tc.maxRequests, strings.Join(cnt.Requests(), "\n"))
			}
			nodes, pods := names(res.Cluster)
			if strings.Join(res.WalkNodes, ",") != strings.Join(tc.wantWalkNode, ",") {
				t.Errorf("walk nodes %v, want %v", res.WalkNodes, tc.wantWalkNode)
			}
			if strings.Join(nodes, ",") != "ptn-a,ptn-b" || strings.Join(pods, ",") != "ptn/web-1" {
				t.Errorf("cluster nodes %v pods %v, want [ptn-a ptn-b] [ptn/web-1]", nodes, pods)
			}
			b := res.Cluster.Nodes[1]
			if kube.NodeIP(b) != "10.99.0.2" || b.Ready == nil || !*b.Ready || len(b.PodCIDRs) != 1 {
				t.Errorf("node ptn-b = %+v, want InternalIP 10.99.0.2, Ready, one pod CIDR", b)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("unexpected warnings %q", res.Warnings)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	srv := kubetest.Get(t)
	smallCluster(t, srv, "tgt")
	ctx := context.Background()
	src := []trace.PodRef{{Namespace: "tgt", Name: "web-1"}}
	for _, tc := range []struct {
		to       string
		wantPods string
		wantWarn string
	}{
		{"pod/tgt/web-2", "tgt/web-1,tgt/web-2", ""},
		{"10.98.2.10", "tgt/web-1,tgt/web-2", ""},
		// The walk, which sees the fabric too, says whether an unknown address is outside the cluster.
		{"192.0.2.1", "tgt/web-1", ""},
		{"pod/tgt/on-down", "tgt/on-down,tgt/web-1", "node tgt-down is NotReady"},
		{"pod/tgt/pending", "tgt/pending,tgt/web-1", "pod tgt/pending has no IP yet (phase Pending)"},
		{"pod/kube-system/tgt-proxy-b", "kube-system/tgt-proxy-b,tgt/web-1", "pod kube-system/tgt-proxy-b uses the host network"},
	} {
		t.Run(tc.to, func(t *testing.T) {
			c, _ := counted(t, srv, kubetest.AdminToken)
			to, _ := trace.ParseTarget(tc.to, "tgt")
			res, err := c.Collect(ctx, kube.Query{Pods: src, Targets: []trace.Target{to}})
			if err != nil {
				t.Fatal(err)
			}
			_, pods := names(res.Cluster)
			if got := strings.Join(pods, ","); got != tc.wantPods {
				t.Errorf("pods %s, want %s", got, tc.wantPods)
			}
			warns := strings.Join(res.Warnings, "\n")
			if tc.wantWarn == "" && warns != "" || !strings.Contains(warns, tc.wantWarn) {
				t.Errorf("warnings %q, want %q", warns, tc.wantWarn)
			}
		})
	}
}

func TestNodePods(t *testing.T) {
	srv := kubetest.Get(t)
	smallCluster(t, srv, "np")
	c, cnt := counted(t, srv, kubetest.AdminToken)
	res, err := c.Collect(context.Background(), kube.Query{Nodes: []string{"10.99.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	nodes, pods := names(res.Cluster)
	if strings.Join(nodes, ",") != "np-a" || strings.Join(pods, ",") != "kube-system/np-proxy-a,np/pending,np/web-1" {
		t.Errorf("nodes %v pods %v, want np-a and its three pods", nodes, pods)
	}
	if cnt.Count() > 4 {
		t.Errorf("%d requests for one node's pods:\n%s", cnt.Count(), strings.Join(cnt.Requests(), "\n"))
	}
}

func TestErrors(t *testing.T) {
	srv := kubetest.Get(t)
	smallCluster(t, srv, "err")
	ctx := context.Background()
	web1 := []trace.PodRef{{Namespace: "err", Name: "web-1"}}
	node := func(n string) []trace.Target { return []trace.Target{{Kind: trace.TargetNode, Name: n}} }

	c, _ := counted(t, srv, kubetest.AdminToken)
	_, err := c.Collect(ctx, kube.Query{Pods: []trace.PodRef{{Namespace: "err", Name: "web1"}}, Targets: node("err-b")})
	if want := "source pod web1 not found in namespace err; did you mean web-1, web-2?"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	_, err = c.Collect(ctx, kube.Query{Pods: web1, Targets: node("err-x")})
	if err == nil || !strings.Contains(err.Error(), "node err-x not found") {
		t.Errorf("got %v, want node err-x not found", err)
	}
	_, err = c.Collect(ctx, kube.Query{Pods: web1, Targets: node("192.0.2.7")})
	if err == nil || !strings.Contains(err.Error(), "no node is named 192.0.2.7 or has it as an address") {
		t.Errorf("got %v, want no node with that address", err)
	}

	nobody, _ := counted(t, srv, kubetest.NobodyToken)
	_, err = nobody.Collect(ctx, kube.Query{Pods: web1, Targets: node("err-b")})
	if err == nil || !strings.HasPrefix(err.Error(), "forbidden: your user may not get pods in namespace err (RBAC)") {
		t.Errorf("got %v, want forbidden get pods", err)
	}

	bad := &rest.Config{Host: "https://127.0.0.1:1", TLSClientConfig: rest.TLSClientConfig{Insecure: true}, Timeout: 5 * time.Second}
	cs, _ := kubeclient.NewForConfig(bad)
	_, err = kube.New(cs, bad.Host).Collect(ctx, kube.Query{Pods: web1, Targets: node("err-b")})
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the Kubernetes API server at https://127.0.0.1:1: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("got %v, want one line: cannot reach", err)
	}
}

func TestSimilar(t *testing.T) {
	got := kube.Similar("kube-dsn", []string{"kube-dns", "heapster", "kube-proxy-x1", "kube-dns-2"}, 3)
	if strings.Join(got, ",") != "kube-dns,kube-dns-2" {
		t.Errorf("Similar = %v", got)
	}
	if got := kube.Similar("nginx", []string{"redis"}, 3); len(got) != 0 {
		t.Errorf("Similar = %v, want none", got)
	}
}

// TestScale proves that a walk's cost does not grow with the cluster: it loads PW_SCALE_NODES
// nodes (default 500) with 10 pods each (one in the host network, as kube-proxy) and counts the
// requests of a pod-to-node walk by node IP. PW_SCALE_NODES=5000 gives 5,000 nodes and 50,000 pods.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no scale test")
	}
	srv := kubetest.Get(t)
	n := 500
	if v := os.Getenv("PW_SCALE_NODES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2 {
			t.Fatalf("PW_SCALE_NODES=%q: want a number >= 2", v)
		}
	}
	var nodes []kubetest.NodeSpec
	var pods []kubetest.PodSpec
	ip := func(i int) string { return fmt.Sprintf("10.%d.%d.%d", 100+i/62500, i/250%250, i%250+1) }
	for i := range n {
		name := fmt.Sprintf("scale-%05d", i)
		nodes = append(nodes, kubetest.NodeSpec{Name: name, InternalIP: ip(i)})
		pods = append(pods, kubetest.PodSpec{Namespace: "scale-system", Name: "proxy-" + name, Node: name, IP: ip(i), HostNetwork: true})
		for j := 1; j < 10; j++ {
			pods = append(pods, kubetest.PodSpec{Namespace: fmt.Sprintf("scale-%d", j), Name: fmt.Sprintf("app-%05d", i), Node: name,
				IP: fmt.Sprintf("172.%d.%d.%d", 16+j, i/250, i%250+1)})
		}
	}
	start := time.Now()
	if err := kubetest.Load(context.Background(), srv.Client(), 64, nodes, pods); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d nodes and %d pods in %s", len(nodes), len(pods), time.Since(start).Round(time.Second))

	last := nodes[n-1]
	c, cnt := counted(t, srv, kubetest.AdminToken)
	start = time.Now()
	res, err := c.Collect(context.Background(), kube.Query{
		Pods:    []trace.PodRef{{Namespace: "scale-3", Name: "app-00000"}},
		Targets: []trace.Target{{Kind: trace.TargetNode, Name: last.InternalIP}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pod-to-node walk by node IP: %d requests in %s:\n%s", cnt.Count(), time.Since(start).Round(time.Millisecond), strings.Join(cnt.Requests(), "\n"))
	if cnt.Count() > 6 {
		t.Errorf("%d requests, want at most 6", cnt.Count())
	}
	if strings.Join(res.WalkNodes, ",") != "scale-00000,"+last.Name {
		t.Errorf("walk nodes %v, want scale-00000 and %s", res.WalkNodes, last.Name)
	}
	if len(res.Cluster.Pods) != 1 || len(res.Cluster.Nodes) != 2 {
		t.Errorf("snapshot has %d pods and %d nodes, want 1 and 2", len(res.Cluster.Pods), len(res.Cluster.Nodes))
	}
}
