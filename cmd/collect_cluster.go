package cmd

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// snapshotName is the snapshot's file name inside a `collect cluster` directory or archive.
const snapshotName = "snapshot.json"

// CollectClusterOptions are the flags of `collect cluster`.
type CollectClusterOptions struct {
	*GlobalOptions
	FactOptions
	Nodes  []string
	Pods   []string
	To     []string
	Output string
	// AllNodes bundles every node of the cluster (and every pod, and the whole fabric).
	AllNodes bool
	// Parallel bounds the nodes read at once.
	Parallel int
}

// NewCmdCollectCluster builds `collect cluster`.
func NewCmdCollectCluster(g *GlobalOptions) *cobra.Command {
	o := &CollectClusterOptions{GlobalOptions: g, Parallel: 16}
	c := &cobra.Command{
		Use:   "cluster --node NAME... --output DIR|FILE.tar.gz",
		Short: "Collect a whole snapshot: API facts, the named nodes' state and the fabric",
		Long: `Collect one snapshot from the live cluster: the Kubernetes facts of the named nodes and their pods
(and of --pod / --to walks), the node state of those nodes (through --node-exec, --node-agent or
--node-debug-image), and the fabric (--fabric): the ports of those pods and nodes and every path
among them, so any walk among them from the bundle is the walk the live cluster gives. --all-nodes
takes every node, every pod and the whole fabric, --parallel nodes at once, with a progress line
and an estimate of the size and time left on stderr. Write it to DIR/snapshot.json, or to a .tar.gz
holding snapshot.json; trace, macs and check read either with --snapshot.`,
		Example: `  # A support bundle of two nodes through ssh, with the OVN fabric
  kubectl packetwalk collect cluster --node worker-1 --node worker-2 --node-exec 'ssh {nodeIP}' \
    --fabric ovn --ovn-nb tcp:10.0.0.5:6641 --output bundle.tar.gz
  kubectl packetwalk trace default/web-1 --to node/worker-2 --snapshot bundle.tar.gz

  # Every node of the cluster, 32 at once
  kubectl packetwalk collect cluster --all-nodes --parallel 32 --node-agent app=ovs-node \
    --fabric ovn --ovn-nb tcp:10.0.0.5:6641 --output cluster.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.Nodes, "node", o.Nodes, "a node (name or InternalIP) to collect with its pods; repeatable")
	f.StringArrayVar(&o.Pods, "pod", o.Pods, "a source pod (NAME, NS/NAME) of a walk to prepare; repeatable")
	f.StringArrayVar(&o.To, "to", o.To, "a destination (node/NAME, pod/NS/NAME, IP) of the --pod walks; repeatable")
	f.StringVarP(&o.Output, "output", "o", o.Output, "write to this directory (DIR/snapshot.json) or this .tar.gz file")
	f.BoolVar(&o.AllNodes, "all-nodes", o.AllNodes, "collect every node of the cluster, with its pods, and the whole fabric")
	f.IntVar(&o.Parallel, "parallel", o.Parallel, "nodes read at once (1-256)")
	o.FactOptions.AddFlags(f)
	return c
}

// Validate checks the flags.
func (o *CollectClusterOptions) Validate() error {
	if o.Output == "" {
		return usageErr("--output DIR or --output FILE.tar.gz is required")
	}
	if len(o.Nodes) == 0 && len(o.Pods) == 0 && !o.AllNodes {
		return usageErr("name what to collect: --node NAME (repeatable), --pod POD --to DEST, or --all-nodes")
	}
	if o.AllNodes && len(o.Nodes) > 0 {
		return usageErr("--all-nodes takes every node: drop --node")
	}
	if o.Parallel < 1 || o.Parallel > 256 {
		return usageErr("--parallel must be between 1 and 256, got %d", o.Parallel)
	}
	if len(o.To) > 0 && len(o.Pods) == 0 {
		return usageErr("--to needs --pod: the walks start from a pod")
	}
	if o.Snapshot != "" {
		return usageErr("collect cluster reads the live cluster: drop --snapshot")
	}
	return o.FactOptions.Validate()
}

// Run collects and writes the snapshot.
func (o *CollectClusterOptions) Run(ctx context.Context) error {
	need := Need{Nodes: o.Nodes, Paths: true, All: o.AllNodes, NodesAtOnce: o.Parallel, Progress: o.progress()}
	ns := o.namespace()
	for _, p := range o.Pods {
		ref, err := parsePodRef(p, ns)
		if err != nil {
			return err
		}
		need.Pods = append(need.Pods, ref)
	}
	for _, t := range o.To {
		to, err := trace.ParseTarget(t, ns)
		if err != nil {
			return usageErr("--to %v", err)
		}
		need.Targets = append(need.Targets, to)
	}
	snap, err := o.Gather(ctx, o.GlobalOptions, need)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := trace.WriteSnapshot(&buf, snap); err != nil {
		return err
	}
	if err := writeBundle(o.Output, buf.Bytes(), liveNow()); err != nil {
		return factsErr(err)
	}
	fmt.Fprintf(o.Out, "wrote %s: %d nodes, %d pods, %d node states, fabric %s\n", o.Output,
		len(snap.Cluster.Nodes), len(snap.Cluster.Pods), len(snap.Nodes), fabricName(snap.Fabric))
	if len(o.Nodes) > len(snap.Nodes) || o.AllNodes && len(snap.Cluster.Nodes) > len(snap.Nodes) {
		// A node asked for could not be read (its warning says why): the bundle lacks its facts.
		return silent(ExitNoFacts)
	}
	return nil
}

func fabricName(f *trace.Fabric) string {
	if f == nil {
		return "none"
	}
	return f.Provider
}

func isTarGz(path string) bool {
	return strings.HasSuffix(path, ".tar.gz") || strings.HasSuffix(path, ".tgz")
}

// writeBundle writes the snapshot JSON to DIR/snapshot.json or as snapshot.json in a .tar.gz.
func writeBundle(out string, data []byte, at time.Time) error {
	if !isTarGz(out) {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return fmt.Errorf("--output %s: %w", out, err)
		}
		return os.WriteFile(filepath.Join(out, snapshotName), data, 0o644)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("--output %s: %w", out, err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = tw.WriteHeader(&tar.Header{Name: snapshotName, Mode: 0o644, Size: int64(len(data)), ModTime: at, Typeflag: tar.TypeReg})
	if err == nil {
		_, err = tw.Write(data)
	}
	for _, c := range []io.Closer{tw, zw, f} {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("--output %s: %w", out, err)
	}
	return nil
}

// maxSnapshot bounds the snapshot read from an archive (a corrupt or hostile archive cannot
// exhaust memory).
const maxSnapshot = 1 << 30

// LoadSnapshotFile reads a snapshot from a JSON file, a `collect cluster` directory, or a .tar.gz
// holding snapshot.json.
func LoadSnapshotFile(path string) (*trace.Snapshot, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &trace.SnapshotError{Msg: fmt.Sprintf("cannot read snapshot: %v", err)}
	}
	if st.IsDir() {
		return trace.LoadSnapshot(filepath.Join(path, snapshotName))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &trace.SnapshotError{Msg: fmt.Sprintf("cannot read snapshot: %v", err)}
	}
	defer f.Close()
	// One open: peek at the gzip magic, then read JSON or the archive from the same reader.
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		return trace.ReadSnapshot(br, path)
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, &trace.SnapshotError{Msg: fmt.Sprintf("snapshot %s is not a valid .tar.gz: %v", path, err)}
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, &trace.SnapshotError{Msg: fmt.Sprintf("snapshot %s has no %s inside (write it with `collect cluster --output FILE.tar.gz`)", path, snapshotName)}
		}
		if err != nil {
			return nil, &trace.SnapshotError{Msg: fmt.Sprintf("snapshot %s is not a valid .tar.gz: %v", path, err)}
		}
		if filepath.Base(h.Name) == snapshotName && h.Typeflag == tar.TypeReg {
			return trace.ReadSnapshot(io.LimitReader(tr, maxSnapshot), path+":"+snapshotName)
		}
	}
}

// progress prints a line on stderr as nodes are read: the first, the last, and every twentieth of
// the way, each with the size and time the whole collection is heading for.
func (o *CollectClusterOptions) progress() func(NodeProgress) {
	return func(p NodeProgress) {
		step := max(1, p.Total/20)
		if p.Done != 1 && p.Done != p.Total && p.Done%step != 0 {
			return
		}
		line := fmt.Sprintf("collect cluster: %d/%d nodes read (%s), %s of node state in %s", p.Done, p.Total, p.Node,
			byteSize(p.Bytes), p.Elapsed.Round(100*time.Millisecond))
		if p.Done < p.Total {
			left := time.Duration(float64(p.Elapsed) / float64(p.Done) * float64(p.Total-p.Done))
			line += fmt.Sprintf("; about %s and %s more for %d nodes at %d at once", byteSize(p.Bytes*int64(p.Total)/int64(p.Done)),
				left.Round(time.Second), p.Total, p.AtOnce)
		}
		fmt.Fprintln(o.ErrOut, line)
	}
}

// byteSize writes n bytes as B, KB or MB.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
