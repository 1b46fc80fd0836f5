package cmd

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// FactOptions say where the facts of a walk come from: a snapshot file, or the live cluster (the
// Kubernetes API, the nodes through a runner, the fabric through a provider). trace, macs, check
// and collect cluster share them.
type FactOptions struct {
	Snapshot string
}

// Need is what the commands need facts about.
type Need struct {
	// Pods are the walks' source pods.
	Pods []trace.PodRef
	// Targets are the walks' destinations.
	Targets []trace.Target
	// Nodes whose node state is wanted (macs --node, collect cluster).
	Nodes []string
	// All asks for every node and pod (check): facts are then gathered once per node for all walks.
	All bool
}

// AddFlags registers the fact-source flags.
func (f *FactOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.Snapshot, "snapshot", f.Snapshot, "read the facts from this snapshot file (written by `collect`) instead of the live cluster")
}

// Gather returns a snapshot holding what need requires.
func (f *FactOptions) Gather(ctx context.Context, g *GlobalOptions, need Need) (*trace.Snapshot, error) {
	if f.Snapshot != "" {
		s, err := trace.LoadSnapshot(f.Snapshot)
		if err != nil {
			return nil, factsErr(err)
		}
		return s, nil
	}
	return gatherLive(ctx, g, f, need)
}

// gatherLive collects from the live cluster.
func gatherLive(ctx context.Context, g *GlobalOptions, f *FactOptions, need Need) (*trace.Snapshot, error) {
	return nil, usageErr("--snapshot FILE is required: live collection from a cluster is not built yet (write a snapshot with `collect`)")
}
