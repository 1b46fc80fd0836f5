package live

import (
	"context"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// recordRunner answers every command with nothing and records the argv it was given.
type recordRunner struct{ argv [][]string }

func (r *recordRunner) Run(_ context.Context, _ runner.Node, argv []string) ([]byte, error) {
	r.argv = append(r.argv, argv)
	return nil, nil
}

func (r *recordRunner) String() string { return "recorder" }

// TestOFProtoTracesChecksTheBridge: a bridge name the node reported that no OVS user would pick (one
// reading as an option) never reaches the command line; a plain one does.
func TestOFProtoTracesChecksTheBridge(t *testing.T) {
	r := &recordRunner{}
	snap := &trace.Snapshot{Nodes: []trace.NodeState{{Name: "n1"}}}
	probes := []trace.OFProtoProbe{
		{Node: "n1", Bridge: "--target=/tmp/x", Flow: "in_port=1,icmp"},
		{Node: "n1", Bridge: "br-int", Flow: "in_port=2,icmp"},
	}
	warns := OFProtoTraces(context.Background(), Nodes{Runner: r}, Hints{}, snap, probes)
	if len(r.argv) != 1 || strings.Join(r.argv[0], " ") != "ovs-appctl ofproto/trace br-int in_port=2,icmp" {
		t.Errorf("commands run %q, want only br-int's trace", r.argv)
	}
	if len(warns) != 1 || !strings.HasPrefix(warns[0], `ofproto/trace on node n1 not run: bridge name "--target=/tmp/x" starts with -`) {
		t.Errorf("warnings %q, want the hostile bridge named", warns)
	}
	if got := snap.Nodes[0].OFProtoTraces; len(got) != 1 || got[0].Bridge != "br-int" {
		t.Errorf("traces kept %+v", got)
	}
}
