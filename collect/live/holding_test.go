package live

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// A walk's node reads ask `collect node` for the root namespace and those of the walk's pods on
// the node only (--netns-holding), whether the node was read as the API named it or after: none
// for a node that is only a destination, both pods for a node holding the source and the
// destination (a read begun with the first is started again with both, and only that one's state
// is kept), an IP target's address on every node. Reads that serve many walks (a check, whose
// pods would start a node's read again and again) or every walk among the nodes read every
// namespace.
func TestNodesReadOnlyTheWalksNamespaces(t *testing.T) {
	srv := kubetest.Get(t)
	want := published(t, srv)
	src := []trace.PodRef{{Namespace: "kube-system", Name: "kube-dns"}}
	for _, tc := range []struct {
		name string
		need Need
		// last is, by node, the arguments after --node-name NODE of the last read of it.
		last map[string]string
	}{
		{"to a node", kubeDNSToNode4, map[string]string{"172.15.0.3": "--netns-holding 172.16.1.2", "172.15.0.4": "--netns-holding none"}},
		{"to a pod on the same node", Need{Pods: src, Targets: []trace.Target{{Kind: trace.TargetPod, Namespace: "default", Name: "nginx-1"}}},
			map[string]string{"172.15.0.3": "--netns-holding 172.16.0.2,172.16.1.2"}},
		{"to a pod's IP", Need{Pods: src, Targets: []trace.Target{{Kind: trace.TargetIP, IP: "172.16.0.6"}}},
			map[string]string{"172.15.0.3": "--netns-holding 172.16.0.6,172.16.1.2", "172.15.0.4": "--netns-holding 172.16.0.6"}},
		{"named nodes (macs --node)", Need{Nodes: []string{"172.15.0.4"}}, map[string]string{"172.15.0.4": ""}},
		{"many walks (check)", Need{Pods: src, Targets: []trace.Target{{Kind: trace.TargetPod, Namespace: "default", Name: "nginx-1"},
			{Kind: trace.TargetPod, Namespace: "default", Name: "nginx-3"}}}, map[string]string{"172.15.0.3": "", "172.15.0.4": ""}},
		{"a bundle's paths", Need{Pods: src, Targets: kubeDNSToNode4.Targets, Paths: true},
			map[string]string{"172.15.0.3": "", "172.15.0.4": ""}},
	} {
		for _, early := range []bool{true, false} {
			t.Run(tc.name+map[bool]string{true: ", read as named", false: ", read after the API"}[early], func(t *testing.T) {
				run := &byName{snapshotRunner: &snapshotRunner{s: want}, name: early}
				snap, err := Collect(context.Background(), Config{REST: srv.Config(), Nodes: Nodes{Runner: &argvEcho{run}, Backend: BackendNative, Binary: "pw"}}, tc.need)
				if err != nil {
					t.Fatal(err)
				}
				// The state kept for each node is that of the read whose argv its netlink source carries.
				kept := map[string]string{}
				for _, s := range snap.Sources {
					node, ok := strings.CutPrefix(s.Name, trace.SourceNetlink+"@")
					if !ok || len(s.Warnings) != 1 {
						continue
					}
					prefix := "pw collect node --node-name " + node
					if !strings.HasPrefix(s.Warnings[0], prefix) {
						t.Fatalf("%s read with %q, want our binary's collect node", node, s.Warnings[0])
					}
					kept[node] = strings.TrimSpace(strings.TrimPrefix(s.Warnings[0], prefix))
				}
				if len(kept) != len(tc.last) {
					t.Errorf("node states kept from %v, want %v", kept, tc.last)
				}
				for node, args := range tc.last {
					if got, ok := kept[node]; !ok || got != args {
						t.Errorf("state of %s from the read with %q (read: %v), want %q (all reads: %q)", node, got, ok, args, run.ran)
					}
				}
				var names []string
				for _, n := range snap.Nodes {
					names = append(names, n.Name)
				}
				if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) || len(names) != len(tc.last) {
					t.Errorf("node states of %v, want one per read node", names)
				}
			})
		}
	}
}

// A `collect node` older than --netns-holding (it exits 2 on the unknown flag) is run again
// without it: the walk gets the node's every namespace rather than none.
func TestOlderNodeBinaryReadsEveryNamespace(t *testing.T) {
	srv := kubetest.Get(t)
	want := published(t, srv)
	run := &byName{snapshotRunner: &snapshotRunner{s: want}, name: true}
	older := &preHoldingBinary{byName: run}
	snap, err := Collect(context.Background(), Config{REST: srv.Config(), Nodes: Nodes{Runner: older, Backend: BackendNative, Binary: "pw"}}, kubeDNSToNode4)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Nodes) != 2 {
		t.Fatalf("node states %+v, want both walk nodes'", snap.Nodes)
	}
	if w := joined(snap); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	for _, node := range []string{"172.15.0.3", "172.15.0.4"} {
		if !slices.Contains(run.ran, node+": pw collect node --node-name "+node) {
			t.Errorf("ran %q: want %s read again without --netns-holding", run.ran, node)
		}
	}
}

// argvEcho is a runner whose `collect node` says in its netlink source's one warning the argv it ran.
type argvEcho struct{ *byName }

func (r *argvEcho) Run(ctx context.Context, node runner.Node, argv []string) ([]byte, error) {
	out, err := r.byName.Run(ctx, node, argv)
	if err != nil {
		return out, err
	}
	var s trace.Snapshot
	if err := json.Unmarshal(out, &s); err != nil || len(s.Sources) == 0 {
		return nil, fmt.Errorf("snapshot runner printed %q: %v", out, err)
	}
	s.Sources[0].Warnings = []string{strings.Join(argv, " ")}
	return json.Marshal(s)
}

// preHoldingBinary answers as a `collect node` that predates --netns-holding.
type preHoldingBinary struct{ *byName }

func (r *preHoldingBinary) Run(ctx context.Context, node runner.Node, argv []string) ([]byte, error) {
	if slices.Contains(argv, "--netns-holding") {
		return nil, &runner.ExitError{Argv: argv, Code: 2, Stderr: "error: unknown flag: --netns-holding\nRun 'kubectl packetwalk collect node --help' for usage.\n"}
	}
	return r.byName.Run(ctx, node, argv)
}
