package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/packetwalk/kubectl-packetwalk/collect/live"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Node backends (--node-backend).
const (
	BackendAuto      = live.BackendAuto
	BackendNative    = live.BackendNative
	BackendAgentless = live.BackendAgentless
)

// FactOptions say where the facts of a walk come from: a snapshot file, or the live cluster (the
// Kubernetes API, the nodes through a runner, the fabric through a provider). trace, macs, check
// and collect cluster share them.
type FactOptions struct {
	Snapshot string

	// Fabric names the provider of newFabricOptions that reads the fabric; "" reads none.
	Fabric  string
	fabrics []fabricOption

	// Runners: at most one. None: the node state of the walk's nodes is not collected (a warning),
	// unless this machine is the node.
	NodeExec       string
	NodeAgent      string
	NodeDebugImage string
	// NodeBackend is auto, native or agentless; NodeBinary the packetwalk binary on the node (native).
	NodeBackend string
	NodeBinary  string
	// NodeTimeout bounds the collection on one node (a hung ssh, a stuck agent).
	NodeTimeout time.Duration
	// HostExec reaches the hypervisors the walk's ports are bound to, as NodeExec the nodes.
	HostExec string
	// liveNodes is what nodes made of the runner flags, kept for the command's later reads.
	liveNodes *live.Nodes
}

// DefaultNodeTimeout bounds one node's collection when --node-timeout is not given.
const DefaultNodeTimeout = live.DefaultNodeTimeout

// Need is what the commands need facts about.
type Need = live.Need

// AddFlags registers the fact-source flags.
func (f *FactOptions) AddFlags(fs *pflag.FlagSet) {
	if f.NodeBackend == "" {
		f.NodeBackend = BackendAuto
	}
	if f.NodeBinary == "" {
		f.NodeBinary = "kubectl-packetwalk"
	}
	if f.NodeTimeout == 0 {
		f.NodeTimeout = DefaultNodeTimeout
	}
	fs.StringVar(&f.Snapshot, "snapshot", f.Snapshot, "read the facts from this snapshot (a JSON file or a .tar.gz written by collect cluster) instead of the live cluster")
	fs.StringVar(&f.Fabric, "fabric", f.Fabric, fabricHelp(f.fabricOptions()))
	for _, o := range f.fabricOptions() {
		o.AddFlags(fs)
	}
	fs.StringVar(&f.NodeExec, "node-exec", f.NodeExec, "reach each node with this command template, {node} and {nodeIP} replaced (e.g. 'ssh {nodeIP}'); split like a shell, never run by one; each ssh in it is a shell on the node's side, so arguments are quoted once per ssh")
	fs.StringVar(&f.NodeAgent, "node-agent", f.NodeAgent, "reach each node by exec into the CNI agent pod on it: LABEL-SELECTOR[:CONTAINER] (e.g. app=ovs-node:openvswitch)")
	fs.StringVar(&f.NodeDebugImage, "node-debug-image", f.NodeDebugImage, "reach each node through an ephemeral privileged host-network pod of this image (deploy/Dockerfile), removed afterwards")
	fs.StringVar(&f.NodeBackend, "node-backend", f.NodeBackend, "what runs on the node: native (our collect node), agentless (ip, nsenter, ovs-vsctl, ovs-appctl) or auto")
	fs.DurationVar(&f.NodeTimeout, "node-timeout", f.NodeTimeout, "give up on a node whose collection takes longer; its hops are then unknown")
	fs.StringVar(&f.NodeBinary, "node-binary", f.NodeBinary, "the kubectl-packetwalk binary on the node, for the native backend with --node-exec")
	fs.StringVar(&f.HostExec, "host-exec", f.HostExec, "reach each hypervisor (the fabric's host of a walk's port) with this command template, {host} and {hostIP} (its TEP) replaced (e.g. 'ssh {hostIP}'), to read its tunnels (BFD, MTU) and underlay with ovs-vsctl and ip; split like a shell, never run by one")
}

// Validate checks the fact-source flags without side effects.
func (f *FactOptions) Validate() error {
	runners := 0
	for _, s := range []string{f.NodeExec, f.NodeAgent, f.NodeDebugImage} {
		if s != "" {
			runners++
		}
	}
	if f.NodeTimeout < 0 {
		return usageErr("--node-timeout must be positive, got %s", f.NodeTimeout)
	}
	if runners > 1 {
		return usageErr("--node-exec, --node-agent and --node-debug-image are exclusive: pick one way to reach the nodes")
	}
	switch f.NodeBackend {
	case "", BackendAuto, BackendNative, BackendAgentless:
	default:
		return usageErr("--node-backend must be auto, native or agentless, got %q", f.NodeBackend)
	}
	if f.NodeDebugImage != "" && f.NodeBackend == BackendAgentless {
		return usageErr("--node-debug-image runs our own collector (native backend): drop --node-backend agentless, or use --node-exec / --node-agent")
	}
	if f.NodeAgent != "" && f.NodeBackend == BackendNative {
		return usageErr("--node-agent runs the tools of the CNI agent pod (agentless backend): drop --node-backend native, or use --node-debug-image")
	}
	if err := f.validateFabric(); err != nil {
		return err
	}
	if f.HostExec != "" {
		if _, err := runner.NewHostTemplate(f.HostExec); err != nil {
			return usageErr("--host-exec %v", err)
		}
		if f.Fabric == "" {
			return usageErr("--host-exec reads the hypervisors the fabric binds the walk's ports to: add --fabric")
		}
	}
	if f.Snapshot != "" && (f.Fabric != "" || runners > 0) {
		return usageErr("--snapshot reads every fact from the file: drop --fabric, --node-exec, --node-agent and --node-debug-image")
	}
	return nil
}

// Gather returns a snapshot holding what need requires; the collection's warnings go to stderr.
func (f *FactOptions) Gather(ctx context.Context, g *GlobalOptions, need Need) (*trace.Snapshot, error) {
	s, warnings, err := f.GatherWarnings(ctx, g, need)
	for _, w := range warnings {
		fmt.Fprintf(g.ErrOut, "warning: %s\n", w)
	}
	return s, err
}

// GatherWarnings is Gather that returns the collection's warnings (one line each) to the caller,
// which puts them in its output.
func (f *FactOptions) GatherWarnings(ctx context.Context, g *GlobalOptions, need Need) (*trace.Snapshot, []string, error) {
	if err := f.Validate(); err != nil {
		return nil, nil, err
	}
	if f.Snapshot != "" {
		s, err := LoadSnapshotFile(f.Snapshot)
		if err != nil {
			return nil, nil, factsErr(err)
		}
		return s, nil, nil
	}
	s, warnings, err := gatherLive(ctx, g, f, need)
	for i, w := range warnings {
		warnings[i] = oneLine(w)
	}
	return s, warnings, err
}

// joinWarnings is every source's warnings, in source order.
func joinWarnings(s *trace.Snapshot) []string {
	var out []string
	for _, src := range s.Sources {
		for _, w := range src.Warnings {
			if !strings.HasPrefix(w, src.Name) {
				w = src.Name + ": " + w
			}
			out = append(out, w)
		}
	}
	return out
}

// NodeProgress is where the node reads of a collection stand.
type NodeProgress = live.NodeProgress
