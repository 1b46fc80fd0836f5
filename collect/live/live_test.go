package live

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// published loads the published walk's pods and nodes into the API server.
func published(t *testing.T, srv *kubetest.Server) *trace.Snapshot {
	t.Helper()
	s := scenario.Published()
	var nodes []kubetest.NodeSpec
	for _, n := range s.Cluster.Nodes {
		nodes = append(nodes, kubetest.NodeSpec{Name: n.Name, InternalIP: kube.NodeIP(n)})
	}
	var pods []kubetest.PodSpec
	for _, p := range s.Cluster.Pods {
		pods = append(pods, kubetest.PodSpec{Namespace: p.Namespace, Name: p.Name, Node: p.Node, IP: p.IPs[0], HostNetwork: p.HostNetwork})
	}
	kubetest.Objects(t, srv.Client(), nodes, pods)
	return s
}

// snapshotRunner answers `collect node` on a node with that node's state from a snapshot, as our
// binary on the node would print it.
type snapshotRunner struct {
	s   *trace.Snapshot
	mu  sync.Mutex
	ran []string
}

func (r *snapshotRunner) String() string { return "snapshot runner" }

func (r *snapshotRunner) Run(_ context.Context, node runner.Node, argv []string) ([]byte, error) {
	r.mu.Lock()
	r.ran = append(r.ran, node.Name+": "+strings.Join(argv, " "))
	r.mu.Unlock()
	for _, st := range r.s.Nodes {
		if st.Name == node.Name {
			return json.Marshal(trace.Snapshot{APIVersion: trace.APIVersion, Nodes: []trace.NodeState{st},
				Sources: []trace.SourceInfo{{Name: trace.SourceNetlink + "@" + node.Name}}})
		}
	}
	return nil, &runner.ExitError{Code: 1, Stderr: "no such node"}
}

// fabricOf serves a snapshot's fabric and keeps the queries it was asked.
type fabricOf struct {
	fab     *trace.Fabric
	mu      sync.Mutex
	queries []fabric.Query
}

func (f *fabricOf) Name() string { return "nsx" }

func (f *fabricOf) Collect(_ context.Context, q fabric.Query) (*trace.Fabric, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	return f.fab, nil, nil
}

var kubeDNSToNode4 = Need{Pods: []trace.PodRef{{Namespace: "kube-system", Name: "kube-dns"}},
	Targets: []trace.Target{{Kind: trace.TargetNode, Name: "172.15.0.4"}}}

// The published walk collected live, without the CLI: the API names the nodes, the runner reads
// them, the fabric provider is asked for the walk's endpoints, and the walk over the result holds.
func TestCollectPublishedWalk(t *testing.T) {
	srv := kubetest.Get(t)
	want := published(t, srv)
	run := &snapshotRunner{s: want}
	fab := &fabricOf{fab: want.Fabric}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var progress []NodeProgress
	need := kubeDNSToNode4
	need.Progress = func(p NodeProgress) { progress = append(progress, p) }
	snap, err := Collect(context.Background(), Config{REST: srv.Config(), Fabric: fab, FabricTimeout: time.Minute,
		Nodes: Nodes{Runner: run, Backend: BackendNative, Binary: "pw"}, Now: func() time.Time { return at }}, need)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range snap.Nodes {
		names = append(names, n.Name)
	}
	if !slices.Equal(names, []string{"172.15.0.3", "172.15.0.4"}) {
		t.Errorf("node states of %v, want the source's and the destination's node", names)
	}
	if len(progress) != 2 || progress[1].Done != 2 || progress[1].Total != 2 {
		t.Errorf("progress %+v", progress)
	}
	// Each node's collect node reads the root namespace and the walk's pod there (holding.go).
	slices.Sort(run.ran)
	if !slices.Equal(run.ran, []string{"172.15.0.3: pw collect node --node-name 172.15.0.3 --netns-holding 172.16.1.2",
		"172.15.0.4: pw collect node --node-name 172.15.0.4 --netns-holding none"}) {
		t.Errorf("ran %q, want our binary's collect node on each node", run.ran)
	}
	if len(fab.queries) != 1 || len(fab.queries[0].Sources) != 1 || fab.queries[0].Sources[0].IP.String() != "172.16.1.2" ||
		len(fab.queries[0].Destinations) != 1 || fab.queries[0].Destinations[0].Node != "172.15.0.4" {
		t.Errorf("fabric asked %+v, want kube-dns's address to node 172.15.0.4", fab.queries)
	}
	if w := joined(snap); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	// The fabric's read is stamped with the config's clock (a node's sources carry the time the
	// node's own `collect node` printed).
	if i := slices.IndexFunc(snap.Sources, func(s trace.SourceInfo) bool { return s.Name == "nsx" }); i < 0 {
		t.Errorf("no nsx source in %+v", snap.Sources)
	} else if s := snap.Sources[i]; !s.CollectedAt.Equal(at) {
		t.Errorf("source %s collected at %s, want the config's clock", s.Name, s.CollectedAt)
	}
	w, err := trace.WalkSnapshot(snap, trace.Request{Source: need.Pods[0], To: need.Targets[0]})
	if err != nil {
		t.Fatal(err)
	}
	if w.Verdict != trace.VerdictReachable {
		t.Errorf("verdict %s (%s), want the published walk reachable", w.Verdict, w.Reason)
	}
}

// A node no runner reaches is a warning worded by the caller's hint; a pod that does not exist is
// a *kube.NotFoundError.
func TestCollectWarningsAndErrors(t *testing.T) {
	srv := kubetest.Get(t)
	published(t, srv)
	snap, err := Collect(context.Background(), Config{REST: srv.Config(), Hints: Hints{Unreachable: "use a runner"}}, kubeDNSToNode4)
	if err != nil {
		t.Fatal(err)
	}
	if w := joined(snap); !slices.Contains(w, "node state of 172.15.0.3 not collected: use a runner") {
		t.Errorf("warnings %q lack the hint", w)
	}
	missing := Need{Pods: []trace.PodRef{{Namespace: "kube-system", Name: "kube-dsn"}}, Targets: kubeDNSToNode4.Targets}
	_, err = Collect(context.Background(), Config{REST: srv.Config()}, missing)
	if !kube.IsNotFound(err) || !strings.Contains(err.Error(), "did you mean kube-dns?") {
		t.Errorf("missing pod: %v, want a not-found error with a suggestion", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = Collect(ctx, Config{REST: srv.Config()}, kubeDNSToNode4); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted: %v, want context.Canceled wrapped", err)
	}
}

func joined(s *trace.Snapshot) []string {
	var out []string
	for _, src := range s.Sources {
		out = append(out, src.Warnings...)
	}
	return out
}
