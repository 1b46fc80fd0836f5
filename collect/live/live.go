// Package live gathers a trace.Snapshot from a running cluster: the Kubernetes API first (it names
// the walk's nodes and endpoints), then the nodes' state through a runner, beside the fabric
// provider's read. It takes a plain Config; the CLI turns its flags into one.
package live

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// MaxNodesAtOnce bounds concurrent node collections (ssh sessions, exec streams, debug pods)
// when Need.NodesAtOnce is zero.
const MaxNodesAtOnce = 32

// Config says where the live facts come from.
type Config struct {
	// REST reaches the Kubernetes API server.
	REST *rest.Config
	// RequestTimeout bounds one API read when REST sets no timeout.
	RequestTimeout time.Duration
	// Fabric reads the SDN fabric; nil reads none.
	Fabric fabric.Provider
	// FabricTimeout is the one deadline of every fabric read of a collection.
	FabricTimeout time.Duration
	// Nodes say how the nodes' state is read.
	Nodes Nodes
	// Hosts reaches the hypervisors the fabric binds the walk's ports to (their tunnels and
	// underlay, hosts.go); nil reads none.
	Hosts runner.Runner
	// Hints word the messages that tell the user what to change.
	Hints Hints
	// Now is the clock of the sources' collection times (default: time.Now in UTC).
	Now func() time.Time
	// AfterKube, when set, runs after the API reads, before the fabric reads and the node reads not
	// started early (tests: a pod deleted mid-walk).
	AfterKube func()
}

// Hints word, in the caller's terms (the CLI names its flags), how a user changes what a message
// reports. Empty hints get plain words.
type Hints struct {
	// Unreachable follows "node state of NODE not collected: " when no runner reaches a node.
	Unreachable string
	// NodeTimeout names the setting of Nodes.Timeout, as in "no answer within NAME 2m0s".
	NodeTimeout string
	// Kube words the API errors.
	Kube kube.Hints
}

func (h Hints) unreachable() string { return cmp.Or(h.Unreachable, "no runner reaches it") }
func (h Hints) nodeTimeout() string { return cmp.Or(h.NodeTimeout, "the node timeout") }

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
	// NodesAtOnce bounds the nodes read at once (0: MaxNodesAtOnce).
	NodesAtOnce int
	// Progress, when set, is told of each node read: done of total, and the bytes of node state so far.
	Progress func(p NodeProgress)
	// Refresh, when set, runs after the API read and before the nodes are read: it makes pods send
	// a packet and returns those that did, by node (NodeState.Refreshed), and warnings.
	Refresh func(ctx context.Context, c *trace.Cluster) (map[string][]trace.PodRef, []string)
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

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now().UTC()
}

// Collect reads what need requires from the live cluster: the API facts first (they name the
// nodes and endpoints), then the node state of the walk's nodes concurrently with the fabric
// reads (each node from the moment the API names it, when the runner reaches nodes by name). A
// node or fabric that cannot be read is a warning on its source, not an error; a pod, namespace
// or node that does not exist is a *kube.NotFoundError.
func Collect(ctx context.Context, cfg Config, need Need) (*trace.Snapshot, error) {
	api, err := apiClient(cfg)
	if err != nil {
		return nil, err
	}
	c := &collection{cfg: cfg, need: need}
	// A provider that finds endpoints by name (NSX's NCP tags) starts at once, beside the API
	// reads, so the fabric's round trips overlap the API's instead of following them.
	// One deadline for the fabric for the whole collection: a second read (the early one did not
	// cover the walk) gets what is left of it, not a fresh one.
	c.fabDeadline = time.Now().Add(cfg.FabricTimeout)
	fctx, fcancel := context.WithDeadline(ctx, c.fabDeadline)
	defer fcancel()
	c.early = startEarlyFabric(fctx, cfg.Fabric, need)
	defer c.early.stop()
	if pr, ok := cfg.Fabric.(fabric.Preparer); ok {
		defer pr.Prepare(fctx)()
	}
	eg, ectx := errgroup.WithContext(ctx)
	nctx, ncancel := context.WithCancel(ectx)
	defer ncancel()
	nodes := c.newNodeReads(nctx, eg)
	kq := kube.Query{Pods: need.Pods, Targets: need.Targets, Nodes: need.Nodes, All: need.All}
	if nodes.early() {
		kq.WalkNode = func(name string) { nodes.read(trace.Node{Name: name}) }
	}
	if nodes.filter {
		kq.WalkPod = nodes.walkPod
	}
	c.res, err = kube.New(api, cfg.REST.Host).WithHints(cfg.Hints.Kube).Collect(ctx, kq)
	if err != nil {
		// A node read started early is of no use now: end it.
		c.res = nil
		ncancel()
		close(nodes.api)
		_ = eg.Wait()
		if ctx.Err() != nil {
			// Ctrl-C, not the API server: say so rather than "cannot reach".
			return nil, fmt.Errorf("collection interrupted: %w", ctx.Err())
		}
		return nil, err
	}
	if cfg.AfterKube != nil {
		cfg.AfterKube()
	}
	c.snap = &trace.Snapshot{APIVersion: trace.APIVersion, Cluster: c.res.Cluster}
	c.snap.Sources = append(c.snap.Sources, trace.SourceInfo{Name: trace.SourceKube, CollectedAt: c.res.CollectedAt, Warnings: c.res.Warnings})
	c.refresh(ctx)
	nodes.podNodes = nodesWithPods(c.res, need)
	nodes.readAll()
	close(nodes.api)
	// A provider that finds ports by what the nodes say (OVN: the iface-id of the pod's OVS
	// interface) reads after the nodes, but may read ahead beside them what the API alone names;
	// any other reads beside them.
	prov := cfg.Fabric
	nb, binds := prov.(fabric.NodeBinder)
	binds = binds && nb.BindsByNode()
	if ra, ok := prov.(fabric.ReadAheader); ok && binds && c.early == nil {
		defer ra.ReadAhead(fctx, fabricQuery(c.res, need, nil))()
	}
	if prov != nil && !binds {
		eg.Go(func() error { c.readFabric(ectx, nil); return nil })
	}
	_ = eg.Wait()
	if prov != nil && binds && ctx.Err() == nil {
		c.readFabric(ctx, c.snap.Nodes)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("collection interrupted: %w", err)
	}
	snap := c.snap
	sort.Slice(snap.Nodes, func(i, j int) bool { return snap.Nodes[i].Name < snap.Nodes[j].Name })
	sort.SliceStable(snap.Sources[1:], func(i, j int) bool { return snap.Sources[1+i].Name < snap.Sources[1+j].Name })
	return snap, nil
}

// apiClient is the API client of cfg, with a timeout per read and a rate limit fit for a check.
func apiClient(cfg Config) (*kubeclient.Client, error) {
	// The API reads are short: bound each one unless the config says otherwise, so a hung
	// API server is one clear line instead of a walk that never ends.
	kcfg := rest.CopyConfig(cfg.REST)
	if kcfg.Timeout == 0 {
		kcfg.Timeout = cfg.RequestTimeout
	}
	// client-go's default rate limit (5 requests a second, bursts of 10) would make a check of a
	// thousand pairs wait minutes on the client alone; kubectl's own discovery uses 50/300.
	if kcfg.QPS == 0 {
		kcfg.QPS, kcfg.Burst = 50, 100
	}
	cs, err := kubeclient.NewForConfig(kcfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cs, nil
}

// collection is one Collect after the API read: the nodes and the fabric fill snap under mu.
type collection struct {
	cfg         Config
	need        Need
	res         *kube.Result
	early       *earlyFabric
	fabDeadline time.Time
	refreshed   map[string][]trace.PodRef

	mu   sync.Mutex
	snap *trace.Snapshot
}

// refresh makes the pods send their packet before their nodes are read, so the MAC tables read hold it.
func (c *collection) refresh(ctx context.Context) {
	if c.need.Refresh == nil {
		return
	}
	var warns []string
	c.refreshed, warns = c.need.Refresh(ctx, &c.res.Cluster)
	c.snap.Sources = append(c.snap.Sources, trace.SourceInfo{Name: "refresh", CollectedAt: c.cfg.now(), Warnings: warns})
}

// nodeReads reads the walk's nodes in eg, each once and a bounded number at once (check reads
// every node): when the runner reaches a node by its name, each from the moment the API names it
// (a walk's source node as soon as its pod is read), else all once the API answered.
type nodeReads struct {
	c      *collection
	ctx    context.Context
	eg     *errgroup.Group
	nodes  *nodeCollector
	sem    chan struct{}
	atOnce int
	start  time.Time
	// api is closed once the API answered (c.res, c.snap, c.refreshed and podNodes are set) or
	// failed (c.res is nil: what was read is dropped).
	api      chan struct{}
	podNodes map[string]bool

	mu    sync.Mutex
	runs  map[string]*nodeRun
	done  int
	bytes int64
	// holding (holding.go) says which pod namespaces each node's read needs.
	holding
}

func (c *collection) newNodeReads(ctx context.Context, eg *errgroup.Group) *nodeReads {
	atOnce := cmp.Or(c.need.NodesAtOnce, MaxNodesAtOnce)
	return &nodeReads{c: c, ctx: ctx, eg: eg, nodes: &nodeCollector{Nodes: c.cfg.Nodes, hints: c.cfg.Hints, now: c.cfg.now},
		sem: make(chan struct{}, atOnce), atOnce: atOnce, start: time.Now(), api: make(chan struct{}), runs: map[string]*nodeRun{},
		holding: newHolding(c.need)}
}

// early says whether a node may be read before the API answered: its runner reaches it by name,
// no refresh must run first, and no progress counts against a total not known yet.
func (r *nodeReads) early() bool {
	return r.c.need.Refresh == nil && r.c.need.Progress == nil && runner.ReachesByName(r.c.cfg.Nodes.Runner)
}

// read starts reading n unless a read of it under way covers the pod namespaces the walk needs
// there; one that does not is ended and started again with them all (a second walk pod on a node
// whose read began with the first).
func (r *nodeReads) read(n trace.Node) {
	r.mu.Lock()
	ips := r.wanted(n.Name)
	run := r.runs[n.Name]
	if run != nil && covers(run.ips, ips) {
		r.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	next := &nodeRun{cancel: cancel, ips: ips}
	if run != nil {
		run.cancel()
	}
	r.runs[n.Name] = next
	r.mu.Unlock()
	r.eg.Go(func() error {
		defer cancel()
		r.sem <- struct{}{}
		st, srcs := r.nodes.collect(ctx, n, holdingArg(ips))
		<-r.sem
		<-r.api
		if r.c.res != nil {
			r.add(n.Name, next, st, srcs)
		}
		return nil
	})
}

// readAll starts reading every walk node not started yet (or started without every pod namespace
// the walk needs there), once the API answered and before the reads' results are taken (api).
func (r *nodeReads) readAll() {
	nodeByName := make(map[string]trace.Node, len(r.c.res.Cluster.Nodes))
	for _, n := range r.c.res.Cluster.Nodes {
		nodeByName[n.Name] = n
	}
	for _, name := range r.c.res.WalkNodes {
		n, ok := nodeByName[name]
		if !ok {
			n = trace.Node{Name: name}
		}
		r.read(n)
	}
}

// add files a node's state and sources into the snapshot, unless run was superseded by a read of
// more namespaces.
func (r *nodeReads) add(name string, run *nodeRun, st *trace.NodeState, srcs []trace.SourceInfo) {
	c := r.c
	if !r.podNodes[name] {
		srcs = dropOVSWarnings(srcs)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r.mu.Lock()
	current := r.runs[name] == run
	r.mu.Unlock()
	if !current {
		return
	}
	if st != nil {
		st.Refreshed = c.refreshed[st.Name]
		c.snap.Nodes = append(c.snap.Nodes, *st)
	}
	c.snap.Sources = append(c.snap.Sources, srcs...)
	if c.need.Progress != nil {
		r.done++
		if st != nil {
			if b, err := json.Marshal(st); err == nil {
				r.bytes += int64(len(b))
			}
		}
		c.need.Progress(NodeProgress{Done: r.done, Total: len(c.res.WalkNodes), Node: name, Bytes: r.bytes, Elapsed: time.Since(r.start), AtOnce: r.atOnce})
	}
}

// readFabric reads the fabric (or takes the early read when it covers the walk) and the hosts its
// ports are bound to; with nodes, the endpoints carry what the nodes say about them.
func (c *collection) readFabric(ctx context.Context, nodes []trace.NodeState) {
	prov := c.cfg.Fabric
	at := c.cfg.now()
	fab, warns, err := c.early.result(c.res, c.need)
	if fab == nil && err == nil {
		if c.early == nil { // this is the first read
			c.fabDeadline = time.Now().Add(c.cfg.FabricTimeout)
		}
		lctx, lcancel := context.WithDeadline(ctx, c.fabDeadline)
		fab, warns, err = prov.Collect(lctx, fabricQuery(c.res, c.need, nodes))
		lcancel()
	}
	if err != nil {
		warns = append(warns, fmt.Sprintf("fabric not read: %v", err))
	} else {
		warns = append(warns, readHosts(ctx, c.cfg.Hosts, fab)...)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.Fabric = fab
	c.snap.Sources = append(c.snap.Sources, trace.SourceInfo{Name: prov.Name(), CollectedAt: at, Warnings: warns})
}

// nodesWithPods are the nodes that need OVS: those with a walked pod on them, and those asked for.
// A node that is only a destination is reached on its own interface, so its lack of OVS is no news.
func nodesWithPods(res *kube.Result, need Need) map[string]bool {
	podNodes := map[string]bool{}
	for _, p := range res.Cluster.Pods {
		if !p.HostNetwork {
			podNodes[p.Node] = true
		}
	}
	for _, n := range need.Nodes {
		podNodes[n] = true
	}
	return podNodes
}

// dropOVSWarnings removes the "no OVS" warnings of a node's sources.
func dropOVSWarnings(srcs []trace.SourceInfo) []trace.SourceInfo {
	out := make([]trace.SourceInfo, len(srcs))
	for i, s := range srcs {
		out[i] = s
		out[i].Warnings = nil
		for _, w := range s.Warnings {
			if !strings.Contains(w, "no OVS") && !strings.Contains(w, "MAC table not read") {
				out[i].Warnings = append(out[i].Warnings, w)
			}
		}
	}
	return out
}
