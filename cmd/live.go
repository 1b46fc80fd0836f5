package cmd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// liveHooks let tests count API requests and pin the clock.
var liveHooks struct {
	wrapTransport func(rt http.RoundTripper) http.RoundTripper
	now           func() time.Time
	// afterKube runs between the API reads and the node and fabric reads (a pod deleted mid-walk).
	afterKube func()
}

// restConfig builds the client config from the kubectl flags (--kubeconfig, --context, ...;
// in a pod, the in-cluster config) with one clear error when there is none.
func restConfig(g *GlobalOptions) (*rest.Config, error) {
	if noKubeconfig(g) {
		return nil, factsErr(errors.New(noKubeconfigMsg))
	}
	cfg, err := g.ConfigFlags.ToRESTConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) || errors.Is(err, clientcmd.ErrEmptyConfig) {
			return nil, factsErr(errors.New(noKubeconfigMsg))
		}
		return nil, factsErr(fmt.Errorf("kubeconfig: %v", err))
	}
	cfg.UserAgent = "kubectl-packetwalk"
	if liveHooks.wrapTransport != nil {
		cfg.Wrap(liveHooks.wrapTransport)
	}
	return cfg, nil
}

// defaultRequestTimeout bounds one API read when --request-timeout is not given (a var for tests).
var defaultRequestTimeout = 30 * time.Second

// maxNodesAtOnce bounds concurrent node collections (ssh sessions, exec streams, debug pods).
const maxNodesAtOnce = 32

const noKubeconfigMsg = "no kubeconfig: set KUBECONFIG or pass --kubeconfig (or run in a pod with a service account), or read a snapshot with --snapshot FILE"

// noKubeconfig: no cluster in any kubeconfig, no --server, not in a pod. client-go would quietly
// fall back to http://localhost:8080 and fail with a confusing "connection refused".
func noKubeconfig(g *GlobalOptions) bool {
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return false
	}
	if g.ConfigFlags.APIServer != nil && *g.ConfigFlags.APIServer != "" {
		return false
	}
	raw, err := g.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
	return err == nil && len(raw.Clusters) == 0
}

func liveNow() time.Time {
	if liveHooks.now != nil {
		return liveHooks.now()
	}
	return time.Now().UTC()
}

// gatherLive collects from the live cluster: the API facts first (they name the nodes and
// endpoints), then the node state of the walk's nodes concurrently with the fabric reads.
func gatherLive(ctx context.Context, g *GlobalOptions, f *FactOptions, need Need) (*trace.Snapshot, []string, error) {
	prov, err := f.fabricProvider(g)
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	// One kubeconfig load for the API reads and the node runners that go through the API server.
	restCfg := sync.OnceValues(func() (*rest.Config, error) { return restConfig(g) })
	nodes, err := f.nodeCollector(g, restCfg)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := restCfg()
	if err != nil {
		return nil, nil, err
	}
	// The API reads are short: bound each one unless --request-timeout says otherwise, so a hung
	// API server is one clear line instead of a walk that never ends.
	kcfg := rest.CopyConfig(cfg)
	if kcfg.Timeout == 0 {
		kcfg.Timeout = defaultRequestTimeout
	}
	// client-go's default rate limit (5 requests a second, bursts of 10) would make a check of a
	// thousand pairs wait minutes on the client alone; kubectl's own discovery uses 50/300.
	if kcfg.QPS == 0 {
		kcfg.QPS, kcfg.Burst = 50, 100
	}
	cs, err := kubernetes.NewForConfig(kcfg)
	if err != nil {
		return nil, nil, factsErr(fmt.Errorf("kubeconfig: %v", err))
	}
	// A provider that finds endpoints by name (NSX's NCP tags) starts at once, beside the API
	// reads, so the fabric's round trips overlap the API's instead of following them.
	// One deadline for the fabric for the whole command: a second read (the early one did not
	// cover the walk) gets what is left of it, not a fresh one.
	fabDeadline := time.Now().Add(f.fabricTimeout())
	fctx, fcancel := context.WithDeadline(ctx, fabDeadline)
	defer fcancel()
	early := startEarlyFabric(fctx, prov, need)
	defer early.stop()
	res, err := kube.New(cs, cfg.Host).Collect(ctx, kube.Query{Pods: need.Pods, Targets: need.Targets, Nodes: need.Nodes, All: need.All})
	if err != nil {
		if ctx.Err() != nil {
			// Ctrl-C, not the API server: say so rather than "cannot reach".
			return nil, nil, factsErr(fmt.Errorf("collection interrupted: %v", ctx.Err()))
		}
		if kube.IsNotFound(err) {
			// A pod, namespace or node the user named wrong: a usage error, as from a snapshot.
			return nil, nil, &ExitError{Code: ExitUsage, Err: err}
		}
		return nil, nil, factsErr(err)
	}
	if liveHooks.afterKube != nil {
		liveHooks.afterKube()
	}
	snap := &trace.Snapshot{APIVersion: trace.APIVersion, Cluster: res.Cluster}
	snap.Sources = append(snap.Sources, trace.SourceInfo{Name: trace.SourceKube, CollectedAt: res.CollectedAt, Warnings: res.Warnings})
	// The pods send their packet before their nodes are read, so the MAC tables read hold it.
	var refreshed map[string][]trace.PodRef
	if need.Refresh != nil {
		var warns []string
		refreshed, warns = need.Refresh(ctx, &res.Cluster)
		snap.Sources = append(snap.Sources, trace.SourceInfo{Name: "refresh", CollectedAt: liveNow(), Warnings: warns})
	}

	var mu sync.Mutex
	eg, ectx := errgroup.WithContext(ctx)
	// Bound the nodes read at once (check reads every node); the fabric read runs beside them.
	atOnce := cmp.Or(need.NodesAtOnce, maxNodesAtOnce)
	sem := make(chan struct{}, atOnce)
	nodesStart, done, bytes := time.Now(), 0, int64(0)
	nodeByName := make(map[string]trace.Node, len(res.Cluster.Nodes))
	for _, n := range res.Cluster.Nodes {
		nodeByName[n.Name] = n
	}
	// Only a node with a walked pod on it needs OVS: one that is only a destination is reached on its
	// own interface, so its lack of OVS is no news.
	podNodes := map[string]bool{}
	for _, p := range res.Cluster.Pods {
		if !p.HostNetwork {
			podNodes[p.Node] = true
		}
	}
	for _, n := range need.Nodes {
		podNodes[n] = true
	}
	for _, name := range res.WalkNodes {
		n, ok := nodeByName[name]
		if !ok {
			n = trace.Node{Name: name}
		}
		eg.Go(func() error {
			sem <- struct{}{}
			defer func() { <-sem }()
			st, srcs := nodes.collect(ectx, n)
			if !podNodes[n.Name] {
				srcs = dropOVSWarnings(srcs)
			}
			mu.Lock()
			defer mu.Unlock()
			if st != nil {
				st.Refreshed = refreshed[st.Name]
				snap.Nodes = append(snap.Nodes, *st)
			}
			snap.Sources = append(snap.Sources, srcs...)
			if need.Progress != nil {
				done++
				if st != nil {
					if b, err := json.Marshal(st); err == nil {
						bytes += int64(len(b))
					}
				}
				need.Progress(NodeProgress{Done: done, Total: len(res.WalkNodes), Node: name, Bytes: bytes, Elapsed: time.Since(nodesStart), AtOnce: atOnce})
			}
			return nil
		})
	}
	readFabric := func(ctx context.Context, nodes []trace.NodeState) {
		at := liveNow()
		fab, warns, err := early.result(res, need)
		if fab == nil && err == nil {
			if early == nil { // this is the first read
				fabDeadline = time.Now().Add(f.fabricTimeout())
			}
			lctx, lcancel := context.WithDeadline(ctx, fabDeadline)
			fab, warns, err = prov.Collect(lctx, fabricQuery(res, need, nodes))
			lcancel()
		}
		if err != nil {
			warns = append(warns, fmt.Sprintf("fabric not read: %v", err))
		}
		mu.Lock()
		defer mu.Unlock()
		snap.Fabric = fab
		snap.Sources = append(snap.Sources, trace.SourceInfo{Name: prov.Name(), CollectedAt: at, Warnings: warns})
	}
	// A provider that finds ports by what the nodes say (OVN: the iface-id of the pod's OVS
	// interface) reads after the nodes; any other beside them.
	nb, binds := prov.(fabric.NodeBinder)
	binds = binds && nb.BindsByNode()
	if prov != nil && !binds {
		eg.Go(func() error { readFabric(ectx, nil); return nil })
	}
	_ = eg.Wait()
	if prov != nil && binds && ctx.Err() == nil {
		readFabric(ctx, snap.Nodes)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, factsErr(fmt.Errorf("collection interrupted: %v", err))
	}
	sort.Slice(snap.Nodes, func(i, j int) bool { return snap.Nodes[i].Name < snap.Nodes[j].Name })
	sort.SliceStable(snap.Sources[1:], func(i, j int) bool { return snap.Sources[1+i].Name < snap.Sources[1+j].Name })
	return snap, joinWarnings(snap), nil
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

// fabricProvider builds the --fabric provider, or nil.
func (f *FactOptions) fabricProvider(g *GlobalOptions) (fabric.Provider, error) {
	switch f.Fabric {
	case "ovn":
		return ovn.New(ovn.Config{NB: f.OVNNB, CACert: f.OVNCA, Cert: f.OVNCert, Key: f.OVNKey, Timeout: f.OVNTimeout})
	case "nsx":
		return nsx.New(nsx.Config{Manager: f.NSXManager, User: f.NSXUser, CAFile: f.NSXCAFile,
			PasswordEnv: f.NSXPasswordEnv, PasswordFile: f.NSXPasswordFile, Insecure: f.NSXInsecure,
			API: f.NSXAPI, AuthMode: f.NSXAuth, RequestTimeout: f.NSXReqTimeout, Deadline: f.NSXTimeout, Retries: nsxRetries(f.NSXRetries),
			Logf: func(format string, args ...any) {
				// One "warning: " whether or not the provider's message carries its own.
				fmt.Fprintf(g.ErrOut, "warning: %s\n", oneLine(strings.TrimPrefix(fmt.Sprintf(format, args...), "warning: ")))
			}})
	}
	return nil, nil
}

// fabricTimeout is the one deadline of the --fabric reads of a command.
func (f *FactOptions) fabricTimeout() time.Duration {
	switch {
	case f.Fabric == "nsx" && f.NSXTimeout > 0:
		return f.NSXTimeout
	case f.Fabric == "nsx":
		return 2 * time.Minute // the flag's default
	case f.OVNTimeout > 0:
		return f.OVNTimeout
	}
	return ovn.DefaultTimeout
}

// nsxRetries maps --nsx-retries to nsx.Config.Retries, where 0 means the default: the flag's 0
// means none.
func nsxRetries(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// fabricQuery names the walks' endpoints for the fabric: source pods, and the destinations; with
// the nodes' facts (when read first), each pod's MAC and the iface-id its node's OVS reports.
func fabricQuery(res *kube.Result, need Need, nodes []trace.NodeState) fabric.Query {
	var q fabric.Query
	pods := map[string]trace.Pod{}
	for _, p := range res.Cluster.Pods {
		pods[p.Namespace+"/"+p.Name] = p
	}
	var ix *trace.Index
	if len(nodes) > 0 {
		ix = trace.NewIndex(&trace.Snapshot{Cluster: res.Cluster, Nodes: nodes})
	}
	podEP := func(p trace.Pod) []fabric.Endpoint {
		var out []fabric.Endpoint
		for _, s := range p.IPs {
			if a, err := netip.ParseAddr(s); err == nil {
				ref := trace.PodRef{Namespace: p.Namespace, Name: p.Name}
				ep := fabric.Endpoint{IP: a.Unmap(), Node: p.Node, Pod: &ref}
				if ix != nil && !p.HostNetwork {
					ep.MAC, ep.IfaceID = ix.PodAttachment(ref, ep.IP)
				}
				out = append(out, ep)
			}
		}
		return out
	}
	nodeEP := func(n trace.Node) []fabric.Endpoint {
		if a, err := netip.ParseAddr(kube.NodeIP(n)); err == nil {
			return []fabric.Endpoint{{IP: a, Node: n.Name}}
		}
		return nil
	}
	for _, ref := range need.Pods {
		q.Sources = append(q.Sources, podEP(pods[ref.String()])...)
	}
	for _, t := range need.Targets {
		switch t.Kind {
		case trace.TargetPod:
			q.Destinations = append(q.Destinations, podEP(pods[t.Namespace+"/"+t.Name])...)
		case trace.TargetNode:
			for _, n := range res.Cluster.Nodes {
				if n.Name == t.Name || kube.NodeIP(n) == t.Name {
					q.Destinations = append(q.Destinations, nodeEP(n)...)
				}
			}
		case trace.TargetIP:
			if a, err := netip.ParseAddr(t.IP); err == nil {
				ep := fabric.Endpoint{IP: a}
				for _, n := range res.Cluster.Nodes {
					if kube.NodeIP(n) == a.String() {
						ep.Node = n.Name // a node's address: NSX finds its port by the node's name
					}
				}
				for _, p := range res.Cluster.Pods {
					for _, ip := range p.IPs {
						if ip == t.IP && !p.HostNetwork {
							ref := trace.PodRef{Namespace: p.Namespace, Name: p.Name}
							ep.Node, ep.Pod = p.Node, &ref
						}
					}
				}
				q.Destinations = append(q.Destinations, ep)
			}
		}
	}
	q.Nodes = append(q.Nodes, need.Nodes...)
	// The nodes of need.Nodes (macs, collect cluster) and their pods: their ports are wanted.
	for _, name := range need.Nodes {
		for _, n := range res.Cluster.Nodes {
			if n.Name != name && kube.NodeIP(n) != name {
				continue
			}
			q.Ports = append(q.Ports, nodeEP(n)...)
			for _, p := range res.Cluster.Pods {
				if p.Node == n.Name && !p.HostNetwork {
					q.Ports = append(q.Ports, podEP(p)...)
				}
			}
		}
	}
	if need.Paths {
		// A bundle: every walk among the pods of the nodes and the nodes must be takeable from it.
		for _, ep := range q.Ports {
			if ep.Pod != nil {
				q.Sources = append(q.Sources, ep)
			}
			q.Destinations = append(q.Destinations, ep)
		}
	}
	q.All = need.All
	return q
}

// earlyFabric is a fabric read started from the walk's names before the API has answered.
type earlyFabric struct {
	cancel context.CancelFunc
	done   chan struct{}
	fab    *trace.Fabric
	warns  []string
	err    error
}

// startEarlyFabric starts prov's read from names alone when prov can resolve them (nil otherwise).
func startEarlyFabric(ctx context.Context, prov fabric.Provider, need Need) *earlyFabric {
	nr, ok := prov.(fabric.NameResolver)
	if !ok || !nr.ResolvesNames() || need.All || len(need.Pods) == 0 {
		return nil
	}
	var q fabric.Query
	for _, ref := range need.Pods {
		ref := ref
		q.Sources = append(q.Sources, fabric.Endpoint{Pod: &ref})
	}
	for _, t := range need.Targets {
		switch t.Kind {
		case trace.TargetPod:
			ref := trace.PodRef{Namespace: t.Namespace, Name: t.Name}
			q.Destinations = append(q.Destinations, fabric.Endpoint{Pod: &ref})
		case trace.TargetNode:
			q.Destinations = append(q.Destinations, fabric.Endpoint{Node: t.Name})
		case trace.TargetIP:
			if a, err := netip.ParseAddr(t.IP); err == nil {
				q.Destinations = append(q.Destinations, fabric.Endpoint{IP: a})
			}
		}
	}
	q.Nodes = append(q.Nodes, need.Nodes...)
	ectx, cancel := context.WithCancel(ctx)
	e := &earlyFabric{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.fab, e.warns, e.err = prov.Collect(ectx, q)
	}()
	return e
}

// stop cancels the early read and waits for it, so no goroutine outlives the command.
func (e *earlyFabric) stop() {
	if e != nil {
		e.cancel()
		<-e.done
	}
}

// result is the early read when it holds a logical port for every endpoint the API resolved (the
// pods' IPs, the destination nodes' addresses); otherwise nothing, and the caller reads by IP (a
// node named by an IP that is not its name, a pod without NCP tags).
func (e *earlyFabric) result(res *kube.Result, need Need) (*trace.Fabric, []string, error) {
	if e == nil {
		return nil, nil, nil
	}
	<-e.done
	if e.err != nil {
		return nil, nil, e.err // the source's answer: asking again would spend its deadline twice
	}
	if e.fab == nil {
		return nil, nil, nil
	}
	bound := map[netip.Addr]bool{}
	for _, sp := range e.fab.SwitchPorts {
		for _, ip := range sp.IPs {
			if a, err := netip.ParseAddr(ip); err == nil {
				bound[a.Unmap()] = true
			}
		}
	}
	has := func(ip string) bool {
		a, err := netip.ParseAddr(ip)
		return err != nil || bound[a.Unmap()]
	}
	pods := map[string]trace.Pod{}
	for _, p := range res.Cluster.Pods {
		pods[p.Namespace+"/"+p.Name] = p
	}
	// A node target names a node or its address: each node's address, by both (computed once: a
	// check has a target per pair, the cluster may hold thousands of nodes).
	nodeIPs := map[string][]string{}
	for _, n := range res.Cluster.Nodes {
		ip := kube.NodeIP(n)
		nodeIPs[n.Name] = append(nodeIPs[n.Name], ip)
		if ip != n.Name {
			nodeIPs[ip] = append(nodeIPs[ip], ip)
		}
	}
	refs := append([]trace.PodRef{}, need.Pods...)
	for _, t := range need.Targets {
		switch t.Kind {
		case trace.TargetPod:
			refs = append(refs, trace.PodRef{Namespace: t.Namespace, Name: t.Name})
		case trace.TargetNode:
			for _, ip := range nodeIPs[t.Name] {
				if !has(ip) {
					return nil, nil, nil
				}
			}
		}
	}
	for _, ref := range refs {
		p := pods[ref.String()]
		for _, ip := range p.IPs {
			if !p.HostNetwork && !has(ip) {
				return nil, nil, nil
			}
		}
	}
	return e.fab, e.warns, nil
}

// hostname is this machine's name, to recognise "the tool runs on the node".
func hostname() string {
	h, _ := os.Hostname()
	return h
}
