package cmd

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovs"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// addOFProtoTraces runs ovs-appctl ofproto/trace for each packet of the walk on the node where it
// enters OVS (trace --ofproto-trace), through the runner that reached the node, and adds what it
// says to that node's state. A node it cannot reach, or a trace that fails, is a warning.
func (o *TraceOptions) addOFProtoTraces(ctx context.Context, snap *trace.Snapshot) []string {
	if !o.OFProtoTrace || o.Snapshot != "" {
		return nil
	}
	probes, err := trace.NewIndex(snap).OFProtoProbes(o.request)
	if err != nil || len(probes) == 0 {
		return nil
	}
	c, err := o.nodeCollector(o.GlobalOptions, sync.OnceValues(func() (*rest.Config, error) { return restConfig(o.GlobalOptions) }))
	if err != nil {
		return []string{fmt.Sprintf("--ofproto-trace: %v", err)}
	}
	if !c.agentlessOK {
		return []string{"--ofproto-trace: the debug pod's image has no ovs-appctl: reach the nodes with --node-exec or --node-agent"}
	}
	nodes := map[string]trace.Node{}
	for _, n := range snap.Cluster.Nodes {
		nodes[n.Name] = n
	}
	var warns []string
	for _, p := range probes {
		r := c.run
		if r == nil {
			if hostname() != p.Node {
				warns = append(warns, fmt.Sprintf("--ofproto-trace: node %s not reached: reach the node with --node-exec or --node-agent", p.Node))
				continue
			}
			r = runner.Local{}
		}
		tctx, cancel := context.WithTimeout(ctx, c.timeout)
		out, err := r.Run(tctx, runner.Node{Name: p.Node, IP: kube.NodeIP(nodes[p.Node])}, ovs.OFProtoTraceArgv(p.Bridge, p.Flow))
		cancel()
		var t trace.OFProtoTrace
		if err != nil {
			t.Error = clipMsg(err.Error())
			warns = append(warns, fmt.Sprintf("--ofproto-trace on %s: %s", p.Node, t.Error))
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
