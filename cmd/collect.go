package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/packetwalk/kubectl-packetwalk/collect/live"
	"github.com/packetwalk/kubectl-packetwalk/collect/node"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovs"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// NewCmdCollect builds `collect`, the parent of the commands that write snapshots.
func NewCmdCollect(g *GlobalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "collect",
		Short: "Collect facts into a snapshot (collect node: this node)",
		Long: `Collect facts into a snapshot that trace, macs and check read with --snapshot FILE.
A snapshot is plain JSON (apiVersion packetwalk/v1): share it in a support bundle or a CI artefact.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return usageErr("collect needs a subcommand: %s", subcommandNames(c))
		},
	}
	// Subcommands: one constructor each (collect node in this file, collect cluster in its own).
	c.AddCommand(
		NewCmdCollectNode(g),
		NewCmdCollectCluster(g),
	)
	return c
}

func subcommandNames(c *cobra.Command) string {
	s := ""
	for i, sc := range c.Commands() {
		if i > 0 {
			s += ", "
		}
		s += sc.Name()
	}
	return s
}

// LocalNodeOptions say how to read this node (collect node, macs --local).
type LocalNodeOptions struct {
	NodeName    string
	OVSDB       string
	VswitchdCtl string
	OVSRunDir   string
	Appctl      bool
	Netns       []string
	NoProcNetns bool
	RootNetns   string
	// Holding is --netns-holding (collect node only; nil when not given).
	Holding []string
	holding []netip.Addr

	// now is the clock of the snapshot's collectedAt (tests pin it).
	now func() time.Time
}

// AddFlags registers the local-node flags.
func (o *LocalNodeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "this node's Kubernetes name (default: the hostname)")
	fs.StringVar(&o.OVSDB, "ovsdb", o.OVSDB, "the Open_vSwitch database: unix:PATH")
	fs.StringVar(&o.VswitchdCtl, "ovs-vswitchd-ctl", o.VswitchdCtl, "ovs-vswitchd's control socket (default: found through "+ovs.DefaultRunDir+"/ovs-vswitchd.pid)")
	fs.StringVar(&o.OVSRunDir, "ovs-rundir", o.OVSRunDir, "OVS's run directory, where ovs-vswitchd.pid is")
	fs.BoolVar(&o.Appctl, "ovs-appctl-fallback", o.Appctl, "read the MAC table with the ovs-appctl binary when the control socket cannot be read")
	fs.StringArrayVar(&o.Netns, "netns", o.Netns, "read only the network namespaces whose name (NAME under /var/run/netns, or pid:PID) matches this glob; repeatable (default: all)")
	fs.StringVar(&o.RootNetns, "root-netns", o.RootNetns, "read this network namespace (a path such as /var/run/netns/NAME) as the node's root, e.g. a node VM's netns on its hypervisor")
	fs.BoolVar(&o.NoProcNetns, "no-proc-netns", o.NoProcNetns, "do not scan /proc for the network namespaces of processes")
}

func newLocalNodeOptions() LocalNodeOptions {
	return LocalNodeOptions{OVSDB: ovs.DefaultDB, OVSRunDir: ovs.DefaultRunDir}
}

// Validate checks the flags.
func (o *LocalNodeOptions) Validate() error {
	if len(o.OVSDB) < 6 || (o.OVSDB[:5] != "unix:" && o.OVSDB[:4] != "tcp:" && o.OVSDB[:4] != "ssl:") {
		return usageErr("--ovsdb must be unix:PATH (or tcp:HOST:PORT), got %q", o.OVSDB)
	}
	if err := node.ValidateMatch(o.Netns); err != nil {
		return usageErr("--netns: %v", err)
	}
	o.holding = nil
	if o.Holding != nil && len(o.Holding) == 0 {
		return usageErr("--netns-holding needs the addresses of the pods to read, or %s for the root namespace alone", NetnsHoldingNone)
	}
	if len(o.Holding) == 1 && o.Holding[0] == NetnsHoldingNone {
		return nil
	}
	for _, s := range o.Holding {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return usageErr("--netns-holding: %q is not an IP address (give the addresses of the pods to read, or %s for the root namespace alone)", s, NetnsHoldingNone)
		}
		o.holding = append(o.holding, a)
	}
	return nil
}

// NetnsHoldingNone is --netns-holding's value that reads the root namespace alone (the word live
// sends).
const NetnsHoldingNone = live.NetnsHoldingNone

// Complete fills the node name from the hostname.
func (o *LocalNodeOptions) Complete() error {
	if o.NodeName == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return usageErr("cannot tell this node's name from the hostname (%v): pass --node-name NAME", err)
		}
		o.NodeName = h
	}
	if o.now == nil {
		o.now = func() time.Time { return time.Now().UTC() }
	}
	return nil
}

// Collect reads this node into a snapshot holding Nodes[0], and the warnings per source. The
// error is set (with the snapshot still holding what was read) when a required source is missing:
// netlink in the root namespace. OVS missing is a warning: a node may run no OVS.
func (o *LocalNodeOptions) Collect(ctx context.Context) (*trace.Snapshot, error) {
	name := o.NodeName
	snap := &trace.Snapshot{APIVersion: trace.APIVersion}
	src := func(s string) string { return s + "@" + name }

	// Netlink and OVS are read at once: they share nothing, and each waits on its own sockets.
	var ov *trace.OVS
	var ows []string
	var oerr error
	ovsDone := make(chan struct{})
	go func() {
		defer close(ovsDone)
		ov, ows, oerr = ovs.Collect(ctx, ovs.Options{Node: name, DB: o.OVSDB, VswitchdCtl: o.VswitchdCtl, RunDir: o.OVSRunDir, UseAppctl: o.Appctl,
			CtlHint: "pass --ovs-vswitchd-ctl PATH"})
	}()
	st, nws, nerr := node.Collect(ctx, node.Options{Node: name, Match: o.Netns, NoProcs: o.NoProcNetns, RootNetns: o.RootNetns,
		OnlyHolding: o.Holding != nil, Holding: o.holding})
	nlInfo := trace.SourceInfo{Name: src(trace.SourceNetlink), CollectedAt: o.now(), Warnings: nws}
	if nerr != nil {
		nlInfo.Warnings = append(nlInfo.Warnings, nerr.Error())
		st = &trace.NodeState{Name: name}
	}
	snap.Sources = append(snap.Sources, nlInfo)

	<-ovsDone
	dbInfo := trace.SourceInfo{Name: src(trace.SourceOVSDB), CollectedAt: o.now()}
	fdbInfo := trace.SourceInfo{Name: src(trace.SourceFDB), CollectedAt: o.now()}
	if oerr != nil {
		dbInfo.Warnings = []string{"no OVS facts: " + oerr.Error()}
		fdbInfo.Warnings = []string{"MAC table not read: no OVS database"}
	} else {
		st.OVS = ov
		fdbInfo.Warnings = ows
	}
	snap.Sources = append(snap.Sources, dbInfo, fdbInfo)
	for _, s := range snap.Sources {
		for _, w := range s.Warnings {
			st.Warnings = append(st.Warnings, s.Name+": "+w)
		}
	}
	snap.Nodes = []trace.NodeState{*st}
	if nerr != nil {
		return snap, factsErr(fmt.Errorf("node %s: %w (run as root on the node)", name, nerr))
	}
	return snap, nil
}

// CollectNodeOptions are the flags of `collect node`.
type CollectNodeOptions struct {
	*GlobalOptions
	LocalNodeOptions
	Output string
}

// NewCmdCollectNode builds `collect node`.
func NewCmdCollectNode(g *GlobalOptions) *cobra.Command {
	o := &CollectNodeOptions{GlobalOptions: g, LocalNodeOptions: newLocalNodeOptions(), Output: "-"}
	c := &cobra.Command{
		Use:   "node",
		Short: "Collect this node's facts (netlink in every netns, OVS database, MAC tables) into a snapshot",
		Long: `Run on a node (as root): read the links, veth pairs, VLANs, addresses, routes and neighbours of the
root network namespace and of every pod network namespace (named ones under /var/run/netns and those of
running processes), the OVS bridges, ports and interfaces from the Open_vSwitch database, and the MAC
table of each bridge from ovs-vswitchd's control socket (no ovs-appctl needed). Writes a snapshot
holding this node; a source that cannot be read is a warning in it.

Exit codes: 0 written (maybe with warnings, e.g. no OVS on this node), 2 usage error, 3 netlink of the
root network namespace could not be read (the snapshot is still written with what was read).`,
		Example: `  # This node, to a file
  sudo kubectl packetwalk collect node --output node.json

  # Only the namespaces a walk needs: the root one and the pod holding 10.244.1.7
  sudo kubectl packetwalk collect node --netns-holding 10.244.1.7

  # A node whose OVS keeps its sockets elsewhere
  kubectl packetwalk collect node --node-name worker-1 --ovsdb unix:/run/ovs/db.sock \
    --ovs-vswitchd-ctl /run/ovs/ovs-vswitchd.ctl`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.LocalNodeOptions.Validate(); err != nil {
				return err
			}
			if err := o.LocalNodeOptions.Complete(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	o.LocalNodeOptions.AddFlags(c.Flags())
	c.Flags().StringVarP(&o.Output, "output", "o", o.Output, "write the snapshot to this file (- for stdout)")
	c.Flags().StringSliceVar(&o.Holding, "netns-holding", nil, "read only the root network namespace and those holding one of these addresses (a walk's pods: each other namespace costs one address dump); "+NetnsHoldingNone+" for the root namespace alone (default: all)")
	return c
}

// Run collects and writes the snapshot, then reports the warnings on stderr.
func (o *CollectNodeOptions) Run(ctx context.Context) error {
	snap, cerr := o.Collect(ctx)
	var w io.Writer = o.Out
	if o.Output != "-" && o.Output != "" {
		f, err := os.Create(o.Output)
		if err != nil {
			return usageErr("--output: %v", err)
		}
		defer f.Close()
		w = f
	}
	if err := writeNodeSnapshot(w, snap); err != nil {
		return fmt.Errorf("writing the snapshot: %w", err)
	}
	for _, s := range snap.Sources {
		for _, wn := range s.Warnings {
			fmt.Fprintf(o.ErrOut, "warning: %s: %s\n", s.Name, oneLine(wn))
		}
	}
	return cerr
}

// nodeSnapshot is trace.Snapshot as `collect node` fills it: no cluster facts, no fabric.
type nodeSnapshot struct {
	APIVersion string             `json:"apiVersion"`
	Sources    []trace.SourceInfo `json:"sources,omitempty"`
	Cluster    struct{}           `json:"cluster"`
	Nodes      []trace.NodeState  `json:"nodes,omitempty"`
}

// writeNodeSnapshot writes snap byte for byte as trace.WriteSnapshot does, through nodeSnapshot
// when it holds no cluster or fabric facts: encoding/json builds an encoder for every type a
// struct can hold, and the cluster and fabric models are most of trace's.
func writeNodeSnapshot(w io.Writer, snap *trace.Snapshot) error {
	if snap.Fabric != nil || !reflect.ValueOf(snap.Cluster).IsZero() || snap.APIVersion == "" {
		return trace.WriteSnapshot(w, snap)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(nodeSnapshot{APIVersion: snap.APIVersion, Sources: snap.Sources, Nodes: snap.Nodes})
}
