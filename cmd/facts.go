package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Node backends (--node-backend).
const (
	BackendAuto      = "auto"
	BackendNative    = "native"
	BackendAgentless = "agentless"
)

// FactOptions say where the facts of a walk come from: a snapshot file, or the live cluster (the
// Kubernetes API, the nodes through a runner, the fabric through a provider). trace, macs, check
// and collect cluster share them.
type FactOptions struct {
	Snapshot string

	// Fabric is "", "nsx" or "ovn"; OVNNB and NSXManager say where.
	Fabric  string
	OVNNB   string
	OVNCA   string
	OVNCert string
	OVNKey  string
	// OVNTimeout bounds connecting to and reading the NB database.
	OVNTimeout time.Duration

	NSXManager      string
	NSXUser         string
	NSXCAFile       string
	NSXPasswordEnv  string
	NSXPasswordFile string
	NSXInsecure     bool
	NSXAPI          string
	NSXAuth         string
	NSXReqTimeout   time.Duration
	NSXTimeout      time.Duration
	NSXRetries      int

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
}

// DefaultNodeTimeout bounds one node's collection when --node-timeout is not given.
const DefaultNodeTimeout = 2 * time.Minute

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
	// Paths asks the fabric for the paths among the pods of Nodes and the nodes (a support bundle
	// every walk among them can be taken from), not only their ports.
	Paths bool
	// NodesAtOnce bounds the nodes read at once (0: maxNodesAtOnce).
	NodesAtOnce int
	// Progress, when set, is told of each node read: done of total, and the bytes of node state so far.
	Progress func(p NodeProgress)
	// Refresh, when set, runs after the API read and before the nodes are read: it makes pods send
	// a packet and returns those that did, by node (NodeState.Refreshed), and warnings.
	Refresh func(ctx context.Context, c *trace.Cluster) (map[string][]trace.PodRef, []string)
}

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
	fs.StringVar(&f.Fabric, "fabric", f.Fabric, "read the SDN fabric live: nsx (with --nsx-manager) or ovn (with --ovn-nb)")
	fs.StringVar(&f.OVNNB, "ovn-nb", f.OVNNB, "the OVN Northbound database: unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT")
	fs.StringVar(&f.OVNCA, "ovn-nb-ca-cert", f.OVNCA, "CA certificate (PEM) for an ssl: --ovn-nb")
	fs.StringVar(&f.OVNCert, "ovn-nb-cert", f.OVNCert, "client certificate (PEM) for an ssl: --ovn-nb")
	fs.StringVar(&f.OVNKey, "ovn-nb-key", f.OVNKey, "client private key (PEM) for an ssl: --ovn-nb")
	fs.DurationVar(&f.OVNTimeout, "ovn-nb-timeout", 10*time.Second, "deadline for connecting to and reading the OVN Northbound database")
	fs.StringVar(&f.NSXManager, "nsx-manager", f.NSXManager, "the NSX-T Manager URL, https://HOST[:PORT]")
	fs.StringVar(&f.NSXUser, "nsx-user", "admin", "the NSX-T API user")
	fs.StringVar(&f.NSXPasswordEnv, "nsx-password-env", "NSX_PASSWORD", "environment variable holding the NSX-T password (never a flag value)")
	fs.StringVar(&f.NSXPasswordFile, "nsx-password-file", f.NSXPasswordFile, "file holding the NSX-T password (wins over --nsx-password-env)")
	fs.StringVar(&f.NSXCAFile, "nsx-ca-file", f.NSXCAFile, "PEM bundle of a private CA to verify the NSX-T Manager's certificate")
	fs.StringVar(&f.NSXCAFile, "nsx-ca", "", "")
	_ = fs.MarkHidden("nsx-ca") // the first name of --nsx-ca-file, kept for scripts
	fs.BoolVar(&f.NSXInsecure, "nsx-insecure-skip-tls-verify", false, "do not verify the NSX-T Manager's certificate (prints a warning)")
	fs.StringVar(&f.NSXAPI, "nsx-api", "management", "NSX-T API to read: management (/api/v1) or policy (/policy/api/v1)")
	fs.StringVar(&f.NSXAuth, "nsx-auth", "session", "NSX-T authentication: session (one login, JSESSIONID + X-XSRF-TOKEN) or basic")
	fs.DurationVar(&f.NSXReqTimeout, "nsx-request-timeout", 30*time.Second, "deadline of one NSX-T API request")
	fs.DurationVar(&f.NSXTimeout, "nsx-timeout", 2*time.Minute, "deadline of all NSX-T reads of one command")
	fs.IntVar(&f.NSXRetries, "nsx-retries", 4, "retries of an NSX-T request on 429/502/503/504 or a timeout, with backoff and jitter")
	fs.StringVar(&f.NodeExec, "node-exec", f.NodeExec, "reach each node with this command template, {node} and {nodeIP} replaced (e.g. 'ssh {nodeIP}'); split like a shell, never run by one; each ssh in it is a shell on the node's side, so arguments are quoted once per ssh")
	fs.StringVar(&f.NodeAgent, "node-agent", f.NodeAgent, "reach each node by exec into the CNI agent pod on it: LABEL-SELECTOR[:CONTAINER] (e.g. app=ovs-node:openvswitch)")
	fs.StringVar(&f.NodeDebugImage, "node-debug-image", f.NodeDebugImage, "reach each node through an ephemeral privileged host-network pod of this image (deploy/Dockerfile), removed afterwards")
	fs.StringVar(&f.NodeBackend, "node-backend", f.NodeBackend, "what runs on the node: native (our collect node), agentless (ip, nsenter, ovs-vsctl, ovs-appctl) or auto")
	fs.DurationVar(&f.NodeTimeout, "node-timeout", f.NodeTimeout, "give up on a node whose collection takes longer; its hops are then unknown")
	fs.StringVar(&f.NodeBinary, "node-binary", f.NodeBinary, "the kubectl-packetwalk binary on the node, for the native backend with --node-exec")
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
	switch f.Fabric {
	case "":
		if f.OVNNB != "" || f.NSXManager != "" {
			return usageErr("--ovn-nb and --nsx-manager need --fabric ovn or --fabric nsx")
		}
	case "ovn":
		if f.OVNNB == "" {
			return usageErr("--fabric ovn needs --ovn-nb unix:PATH|tcp:HOST:PORT")
		}
	case "nsx":
		if f.NSXManager == "" {
			return usageErr("--fabric nsx needs --nsx-manager https://HOST")
		}
		if f.NSXAPI != "management" && f.NSXAPI != "policy" {
			return usageErr("--nsx-api must be management or policy, got %q", f.NSXAPI)
		}
		if f.NSXAuth != "session" && f.NSXAuth != "basic" {
			return usageErr("--nsx-auth must be session or basic, got %q", f.NSXAuth)
		}
	default:
		return usageErr("--fabric must be nsx or ovn, got %q", f.Fabric)
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
type NodeProgress struct {
	Done, Total int
	// Node is the node just read; Bytes the JSON size of every node state read so far.
	Node    string
	Bytes   int64
	Elapsed time.Duration
	// AtOnce is how many nodes are read at once.
	AtOnce int
}
