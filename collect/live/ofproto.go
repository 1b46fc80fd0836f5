package live

import (
	"context"
	"fmt"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovs"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// OFProtoTraces runs `ovs-appctl ofproto/trace BRIDGE FLOW` for each probe on its node, through the
// runner that reads the nodes (argv passed on quoted, never through a shell), and adds what it says
// to that node's state in snap. A node no runner reaches, or a trace that fails, is a warning (and
// the failure is kept on the trace, so the walk shows it on the hop).
func OFProtoTraces(ctx context.Context, nodes Nodes, hints Hints, snap *trace.Snapshot, probes []trace.OFProtoProbe) []string {
	if nodes.NoAgentless {
		return []string{"ofproto/trace not run: the debug pod's image has no ovs-appctl (" + hints.unreachable() + ")"}
	}
	timeout := nodes.Timeout
	if timeout <= 0 {
		timeout = DefaultNodeTimeout
	}
	addrs := map[string]string{}
	for _, n := range snap.Cluster.Nodes {
		addrs[n.Name] = kube.NodeIP(n)
	}
	var warns []string
	for _, p := range probes {
		// The bridge is a name the node reported: held to what OVS users name bridges before it
		// goes on a command line (one starting with - would read as an option), as agentless does.
		if err := runner.CheckName(runner.KindBridge, p.Bridge); err != nil {
			warns = append(warns, fmt.Sprintf("ofproto/trace on node %s not run: %v", p.Node, err))
			continue
		}
		r := nodes.Runner
		if r == nil {
			if hostname() != p.Node {
				warns = append(warns, fmt.Sprintf("ofproto/trace on node %s not run: %s", p.Node, hints.unreachable()))
				continue
			}
			r = runner.Local{}
		}
		tctx, cancel := context.WithTimeout(ctx, timeout)
		out, err := r.Run(tctx, runner.Node{Name: p.Node, IP: addrs[p.Node]}, ovs.OFProtoTraceArgv(p.Bridge, p.Flow))
		cancel()
		var t trace.OFProtoTrace
		if err != nil {
			t.Error = clipMsg(err.Error())
			warns = append(warns, fmt.Sprintf("ofproto/trace on node %s: %s", p.Node, t.Error))
		} else {
			t = ovs.ParseOFProtoTrace(string(out))
		}
		t.Bridge, t.Flow, t.Src, t.Dst, t.Protocol, t.Source = p.Bridge, p.Flow, p.Src, p.Dst, p.Protocol, "ofproto@"+p.Node
		for i := range snap.Nodes {
			if snap.Nodes[i].Name == p.Node {
				snap.Nodes[i].OFProtoTraces = append(snap.Nodes[i].OFProtoTraces, t)
			}
		}
	}
	return warns
}
