package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/packetwalk/kubectl-packetwalk/render"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// MACsOptions are the flags of `macs`.
type MACsOptions struct {
	*GlobalOptions
	FactOptions
	Node   string
	Output render.Format
	// Local reads this node itself (netlink + OVS sockets) instead of a snapshot or the cluster.
	Local bool
	LocalNodeOptions

	color bool
}

// NewCmdMACs builds `macs`.
func NewCmdMACs(g *GlobalOptions) *cobra.Command {
	o := &MACsOptions{GlobalOptions: g, Output: render.Table, LocalNodeOptions: newLocalNodeOptions()}
	c := &cobra.Command{
		Use:   "macs --node NAME | --local",
		Short: "Show a node's OVS MAC table joined to ports, VLANs, pods and fabric ports",
		Long: `Show the OVS MAC table of a node (ovs-appctl fdb/show) joined to the OVS port and interface,
the VLAN, the pod that owns each MAC (through OVS external_ids, the veth pair, or the MAC itself),
and, when fabric facts exist, the fabric's logical port. The router / gateway MAC learned on the
uplink is shown as such, once per VLAN. -o wide shows each entry's age; below the table, the
bridges' aging time and the node's pods that have no entry (OVS forgets a MAC that sent nothing for
the aging time: an idle pod, not a fault).`,
		Example: `  # The MAC table of worker 172.15.0.3 in the published NSX-T snapshot
  kubectl packetwalk macs --node 172.15.0.3 --snapshot testdata/scenarios/nsx-published/snapshot.json

  # This node, read live (as root on the node; same flags as collect node)
  sudo kubectl packetwalk macs --local

  # With interfaces, ages and notes
  kubectl packetwalk macs --node 172.15.0.3 --snapshot snap.json -o wide`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&o.Node, "node", o.Node, "the node whose MAC table to show (its name or InternalIP)")
	o.FactOptions.AddFlags(f)
	f.BoolVar(&o.Local, "local", o.Local, "read this node's MAC table live (netlink, OVS database, ovs-vswitchd control socket) instead of --node/--snapshot")
	o.LocalNodeOptions.AddFlags(f)
	addOutputFlag(f, &o.Output, render.ListFormats)
	_ = c.RegisterFlagCompletionFunc("output", formatCompletion(render.ListFormats))
	_ = c.RegisterFlagCompletionFunc("node", completeNode(g))
	return c
}

// Complete decides colour.
func (o *MACsOptions) Complete() error {
	var err error
	o.color, err = useColor(o.Color, o.Out)
	return err
}

// Validate checks the flags.
func (o *MACsOptions) Validate() error {
	if o.Local {
		if o.Snapshot != "" {
			return usageErr("--local reads this node live: drop --snapshot (or drop --local and pass --node NAME)")
		}
		if o.Node != "" {
			return usageErr("--local reads this node: name it with --node-name, not --node")
		}
		return o.LocalNodeOptions.Validate()
	}
	if o.Node == "" {
		return usageErr("--node NAME is required (or --local on the node itself)")
	}
	return nil
}

// Run joins and renders the MAC table.
func (o *MACsOptions) Run(ctx context.Context) error {
	var snap *trace.Snapshot
	var warnings []string
	var err error
	if o.Local {
		snap, err = o.localSnapshot(ctx)
	} else {
		snap, warnings, err = o.GatherWarnings(ctx, o.GlobalOptions, Need{Nodes: []string{o.Node}})
		for _, w := range warnings {
			fmt.Fprintf(o.ErrOut, "warning: %s\n", w)
		}
	}
	if err != nil {
		return err
	}
	t, err := trace.NewIndex(snap).MACs(o.Node)
	if err != nil {
		if o.Snapshot == "" && len(warnings) > 0 {
			// Read live, the node could not be: the warning above says why (facts missing, not a usage error).
			return silent(ExitNoFacts)
		}
		return requestErr(err)
	}
	return render.WriteMACs(o.Out, t, o.Output, render.Options{Color: o.color})
}

// localSnapshot collects this node for --local; the MAC table needs OVS, so its absence is an error here.
func (o *MACsOptions) localSnapshot(ctx context.Context) (*trace.Snapshot, error) {
	if err := o.LocalNodeOptions.Complete(); err != nil {
		return nil, err
	}
	o.Node = o.NodeName
	snap, err := o.LocalNodeOptions.Collect(ctx)
	if err != nil {
		return nil, err
	}
	if snap.Nodes[0].OVS == nil || snap.Nodes[0].OVS.FDBSource == "" {
		for _, s := range snap.Sources[1:] {
			if len(s.Warnings) > 0 {
				return nil, factsErr(fmt.Errorf("%s: %s", s.Name, s.Warnings[0]))
			}
		}
	}
	return snap, nil
}
