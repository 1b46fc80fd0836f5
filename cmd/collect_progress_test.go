package cmd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// The progress of a large collection: a line for the first node, every twentieth of the way and
// the last, each with the size and time the whole run is heading for.
func TestCollectProgressEstimate(t *testing.T) {
	var errb bytes.Buffer
	o := &CollectClusterOptions{GlobalOptions: &GlobalOptions{Streams: Streams{ErrOut: &errb}}}
	p := o.progress()
	for i := 1; i <= 1000; i++ {
		p(NodeProgress{Done: i, Total: 1000, Node: "n", Bytes: int64(i) * 40 << 10, Elapsed: time.Duration(i) * 50 * time.Millisecond, AtOnce: 16})
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) != 21 {
		t.Fatalf("%d progress lines for 1,000 nodes, want 21:\n%s", len(lines), errb.String())
	}
	if want := "collect cluster: 1/1000 nodes read (n), 40.0 KB of node state in 100ms; about 39.1 MB and 50s more for 1000 nodes at 16 at once"; lines[0] != want {
		t.Errorf("first line\n got %q\nwant %q", lines[0], want)
	}
	if last := lines[20]; last != "collect cluster: 1000/1000 nodes read (n), 39.1 MB of node state in 50s" {
		t.Errorf("last line %q", last)
	}
}

func TestCollectClusterFlags(t *testing.T) {
	for _, tc := range []struct {
		o    CollectClusterOptions
		want string
	}{
		{CollectClusterOptions{Output: "x", AllNodes: true, Nodes: []string{"a"}, Parallel: 4}, "--all-nodes takes every node: drop --node"},
		{CollectClusterOptions{Output: "x", AllNodes: true, Parallel: 0}, "--parallel must be between 1 and 256, got 0"},
		{CollectClusterOptions{Output: "x", Parallel: 4}, "name what to collect: --node NAME (repeatable), --pod POD --to DEST, or --all-nodes"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if err := tc.o.Validate(); err == nil || err.Error() != tc.want {
				t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
			}
		})
	}
}

// check's default matrix refreshes its sources too: one pod per node, known only after the API read.
func TestRefreshDefaultSources(t *testing.T) {
	c := &trace.Cluster{
		Nodes: []trace.Node{{Name: "a"}, {Name: "b"}},
		Pods: []trace.Pod{
			{Namespace: "x", Name: "p2", Node: "a", IPs: []string{"10.0.0.2"}, Phase: "Running"},
			{Namespace: "x", Name: "p1", Node: "a", IPs: []string{"10.0.0.1"}, Phase: "Running"},
			{Namespace: "x", Name: "q", Node: "b", IPs: []string{"10.0.1.1"}, Phase: "Running"},
			{Namespace: "x", Name: "h", Node: "b", IPs: []string{"192.0.2.1"}, HostNetwork: true},
		},
	}
	pods, targets := defaultSources(c)
	if fmt.Sprint(pods) != "[x/p1 x/q]" || len(targets) != 2 {
		t.Errorf("sources %v targets %v", pods, targets)
	}
	need := (&ProbeOptions{Refresh: true, PodExec: "ip netns exec {pod}"}).withRefresh(Need{All: true})
	if need.Refresh == nil {
		t.Error("check --refresh with the default matrix sends nothing")
	}
}
