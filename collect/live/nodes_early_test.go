package live

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// byName is a snapshot runner that says whether it reaches nodes by name, and runs before on each
// node first.
type byName struct {
	*snapshotRunner
	name   bool
	before func(ctx context.Context, node runner.Node) error
}

func (r *byName) ReachesByName() bool { return r.name }

func (r *byName) Run(ctx context.Context, node runner.Node, argv []string) ([]byte, error) {
	if r.before != nil {
		if err := r.before(ctx, node); err != nil {
			return nil, err
		}
	}
	return r.snapshotRunner.Run(ctx, node, argv)
}

// holdNode is a REST transport that holds the GET of one node until release is closed (or 10 s
// pass: the test then fails rather than hangs), and counts that GET's answer in answered.
func holdNode(name string, release <-chan struct{}, answered *atomic.Bool) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if !strings.HasSuffix(r.URL.Path, "/nodes/"+name) {
				return rt.RoundTrip(r)
			}
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			resp, err := rt.RoundTrip(r)
			answered.Store(true)
			return resp, err
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A runner that reaches nodes by name reads a walk's source node as soon as the API names it (its
// pod read), not after the node's own GET: with that GET held until the node's read has begun, the
// walk still completes, and its result is that of the published walk. A runner that needs the node's
// address (a template with {nodeIP}) reads it only once the API answered.
func TestNodesReadAsTheAPINamesThem(t *testing.T) {
	srv := kubetest.Get(t)
	want := published(t, srv)
	for _, tc := range []struct {
		name  string
		early bool
	}{{"by name", true}, {"needs the address", false}} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			var answered, early atomic.Bool
			run := &byName{snapshotRunner: &snapshotRunner{s: want}, name: tc.early, before: func(_ context.Context, node runner.Node) error {
				if node.Name == "172.15.0.3" {
					early.Store(!answered.Load())
					close(release)
				}
				return nil
			}}
			if !tc.early {
				close(release) // nothing would release the GET: the read waits for it
				run.before = func(_ context.Context, node runner.Node) error {
					if node.Name == "172.15.0.3" {
						early.Store(!answered.Load())
					}
					return nil
				}
			}
			cfg := srv.Config()
			cfg.WrapTransport = holdNode("172.15.0.3", release, &answered)
			start := time.Now()
			snap, err := Collect(context.Background(), Config{REST: cfg, Nodes: Nodes{Runner: run, Backend: BackendNative, Binary: "pw"}}, kubeDNSToNode4)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 9*time.Second {
				t.Fatalf("the collection took %v: the node's GET was held until its timeout, the node was not read early", d)
			}
			if early.Load() != tc.early {
				t.Errorf("node 172.15.0.3 read before its GET answered: %v, want %v", early.Load(), tc.early)
			}
			if len(snap.Nodes) != 2 || snap.Nodes[0].Name != "172.15.0.3" || len(snap.Cluster.Nodes) != 2 {
				t.Fatalf("nodes %+v, cluster nodes %+v: want both walk nodes read and known", snap.Nodes, snap.Cluster.Nodes)
			}
			w, err := trace.WalkSnapshot(&trace.Snapshot{APIVersion: trace.APIVersion, Cluster: snap.Cluster, Nodes: snap.Nodes, Fabric: want.Fabric},
				trace.Request{Source: kubeDNSToNode4.Pods[0], To: kubeDNSToNode4.Targets[0]})
			if err != nil || w.Verdict != trace.VerdictReachable {
				t.Errorf("walk: %v, %+v", err, w)
			}
		})
	}
}

// A walk the API refuses after a node's read began early (the destination pod does not exist)
// ends that read and returns the API's error, without waiting for the node.
func TestEarlyNodeReadEndsWhenTheAPIFails(t *testing.T) {
	srv := kubetest.Get(t)
	want := published(t, srv)
	var ended atomic.Bool
	run := &byName{snapshotRunner: &snapshotRunner{s: want}, name: true, before: func(ctx context.Context, node runner.Node) error {
		select {
		case <-ctx.Done(): // held until the collection ends it
			ended.Store(true)
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return nil
		}
	}}
	need := Need{Pods: kubeDNSToNode4.Pods, Targets: []trace.Target{{Kind: trace.TargetPod, Namespace: "default", Name: "no-such-pod"}}}
	start := time.Now()
	_, err := Collect(context.Background(), Config{REST: srv.Config(), Nodes: Nodes{Runner: run, Backend: BackendNative, Binary: "pw"}}, need)
	if !kube.IsNotFound(err) {
		t.Fatalf("err %v, want the destination pod not found", err)
	}
	if d := time.Since(start); d > 9*time.Second || !ended.Load() {
		t.Errorf("after %v, node read ended: %v; want the early read ended at once", d, ended.Load())
	}
}
