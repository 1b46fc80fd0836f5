package cmd

import (
	"context"

	"github.com/packetwalk/kubectl-packetwalk/collect/live"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// addOFProtoTraces runs ofproto/trace for the walk's packets on the nodes they enter OVS on
// (trace --ofproto-trace) and adds what it says to the snapshot; problems are warnings.
func (o *TraceOptions) addOFProtoTraces(ctx context.Context, snap *trace.Snapshot) []string {
	if !o.OFProtoTrace || o.Snapshot != "" {
		return nil
	}
	probes, err := trace.NewIndex(snap).OFProtoProbes(o.request)
	if err != nil || len(probes) == 0 {
		return nil
	}
	nodes, err := o.nodes(o.GlobalOptions)
	if err != nil {
		return []string{"--ofproto-trace: " + err.Error()}
	}
	return live.OFProtoTraces(ctx, nodes, liveHints, snap, probes)
}
