package cmd

import (
	"bytes"
	"strings"
	"testing"
	"time"
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
		if err := tc.o.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
