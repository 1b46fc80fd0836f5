package scale

import (
	"context"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// The API test server answers collect/kube's reads as the real kube-apiserver does: the same
// facts from the same requests, for every kind of query the live path makes.
func TestKubeServerMatchesAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	// Without the binaries this fails in CI and skips elsewhere; TestMain stops the server.
	real := kubetest.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// 1,200 pods over 12 nodes: more than two LIST pages of 500.
	z := Size{Nodes: 12, PodsPerNode: 100, Namespaces: 7}
	o := z.options()
	o.NodeState, o.NoFabric = func(int) bool { return false }, true
	c := scenario.Synthetic(o).Cluster
	// The objects the test server serves, loaded as the harness loads its small size, and read
	// through the harness's proxy.
	if err := LoadCluster(ctx, real.Client(), c, 8); err != nil {
		t.Fatal(err)
	}
	var tl Timeline
	proxy, err := NewKubeProxy(real.Config(), time.Millisecond, &tl)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	fake := NewKubeServer(c, KubeOptions{})
	defer fake.Close()

	src := trace.PodRef{Namespace: c.Pods[150].Namespace, Name: c.Pods[150].Name}
	dst := c.Pods[1000]
	queries := map[string]kube.Query{
		"pod->node by name": {Pods: []trace.PodRef{src}, Targets: []trace.Target{{Kind: trace.TargetNode, Name: c.Nodes[11].Name}}},
		"pod->node by IP":   {Pods: []trace.PodRef{src}, Targets: []trace.Target{{Kind: trace.TargetNode, Name: kube.NodeIP(c.Nodes[11])}}},
		"pod->pod":          {Pods: []trace.PodRef{src}, Targets: []trace.Target{{Kind: trace.TargetPod, Namespace: dst.Namespace, Name: dst.Name}}},
		"pod->IP":           {Pods: []trace.PodRef{src}, Targets: []trace.Target{{Kind: trace.TargetIP, IP: dst.IPs[0]}}},
		"macs --node":       {Nodes: []string{c.Nodes[3].Name}},
		"all (check)":       {All: true},
	}
	collect := func(cfg *rest.Config, q kube.Query) (*kube.Result, []string) {
		var counter kube.Counter
		cfg = rest.CopyConfig(cfg)
		cfg.Wrap(counter.Wrap)
		cs, err := kubeclient.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		res, err := kube.New(cs, cfg.Host).Collect(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return res, normalize(counter.Requests())
	}
	fakeCfg, realCfg := &rest.Config{Host: fake.URL}, &rest.Config{Host: proxy.URL}
	for name, q := range queries {
		tl.Reset()
		want, wantReqs := collect(realCfg, q)
		if n := len(tl.Calls()); n != len(wantReqs) {
			t.Errorf("%s: the proxy recorded %d calls for %d requests", name, n, len(wantReqs))
		}
		got, gotReqs := collect(fakeCfg, q)
		if !reflect.DeepEqual(got.Cluster, want.Cluster) || !reflect.DeepEqual(got.WalkNodes, want.WalkNodes) || !reflect.DeepEqual(got.Warnings, want.Warnings) {
			t.Errorf("%s: the test server's facts differ from kube-apiserver's:\n got %d nodes %d pods %v %v\nwant %d nodes %d pods %v %v",
				name, len(got.Cluster.Nodes), len(got.Cluster.Pods), got.WalkNodes, got.Warnings, len(want.Cluster.Nodes), len(want.Cluster.Pods), want.WalkNodes, want.Warnings)
		}
		if !reflect.DeepEqual(gotReqs, wantReqs) {
			t.Errorf("%s: requests differ:\n got %q\nwant %q", name, gotReqs, wantReqs)
		}
	}
}

// normalize drops what legitimately differs: the opaque continue token, the client's timeout.
func normalize(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		method, rest, _ := strings.Cut(r, " ")
		u, err := url.Parse(rest)
		if err != nil {
			out = append(out, r)
			continue
		}
		q := u.Query()
		if q.Has("continue") {
			q.Set("continue", "TOKEN")
		}
		q.Del("timeout")
		u.RawQuery = q.Encode()
		out = append(out, method+" "+u.String())
	}
	sort.Strings(out)
	return out
}
