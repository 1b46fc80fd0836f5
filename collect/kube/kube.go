// Package kube reads the Kubernetes facts a walk needs through client-go, with targeted requests
// only: the source pod by name, the destination pod or node by name or IP, the nodes those pods run
// on, and the pods of a node only when that node's pods are asked for. It never lists every pod or
// node of the cluster for one walk, so the cost of a walk does not grow with the cluster.
//
// A pod-to-node walk costs at most 5 requests: GET the source pod, GET its node, GET the
// destination node by name; only when that name is an IP that is not a node name: LIST pods with
// fieldSelector status.podIP=IP (served from the API server's watch cache; host-network pods such as
// kube-proxy or the CNI agent carry their node's IP) and GET the node it names. Nodes have no
// field selector on status.addresses, so when no host-network pod carries the IP the last resort
// is a paginated LIST of nodes (500 a page) that stops at the first match; that costs
// nodes/500 requests and says so in a warning.
package kube

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// pageSize is the LIST page size (limit) for the few lists this package makes.
const pageSize = 500

// Query says which facts are wanted.
type Query struct {
	// Pods are the walks' source pods (they must exist).
	Pods []trace.PodRef
	// Targets are the walks' destinations.
	Targets []trace.Target
	// Nodes (name or InternalIP) whose pods are wanted too (macs --node, collect cluster).
	Nodes []string
	// All reads every node and pod (check, support bundles): paginated lists, the one cluster-wide read.
	All bool
	// WalkNode, when set, is called once per walk node (see Result.WalkNodes) as soon as the API
	// names it, from any of Collect's goroutines and before Collect returns: its reading may start
	// before the other reads end.
	WalkNode func(name string)
	// WalkPod, when set, is told of each walk pod (a source, a destination, a Service's endpoint)
	// as soon as the API names it, before WalkNode is told of its node: the node and the pod's
	// addresses, whose network namespace the walk needs on that node.
	WalkPod func(node string, ips []string)
}

// Result is what Collect found.
type Result struct {
	Cluster trace.Cluster
	// Warnings are one line each: host-network pods, pods without an IP, NotReady nodes, ...
	Warnings []string
	// WalkNodes are the names of the nodes the walks start from or end on, and the queried nodes,
	// sorted: the nodes whose node state a walk needs.
	WalkNodes []string
	// CollectedAt is when the reads started.
	CollectedAt time.Time
}

// Collector reads from one cluster.
type Collector struct {
	api   API
	host  string
	hints Hints
}

// WithHints words the collector's error messages with h.
func (c *Collector) WithHints(h Hints) *Collector {
	c.hints = h
	return c
}

// New returns a Collector on api; host (the API server URL) is only used in error messages.
func New(api API, host string) *Collector {
	return &Collector{api: api, host: host}
}

// session de-duplicates reads within one Collect; its reads run concurrently, mu guards the maps.
type session struct {
	mu       sync.Mutex
	c        *Collector
	nodes    map[string]*corev1.Node
	pods     map[string]*corev1.Pod
	walk     map[string]bool
	warnings []string
	warned   map[string]bool
	// services and slices are the walks' Services and their EndpointSlices, by NS/NAME (service.go).
	services map[string]*corev1.Service
	slices   map[string][]discoveryv1.EndpointSlice
	// serviceLists are the Service LISTs made, by field selector.
	serviceLists map[string][]corev1.Service
	// inflight joins GETs of the same pod or node that run at once (a pod's node that is also a
	// target, two pods on one node): one request, one answer for both.
	inflight singleflight.Group
	// walkNode and walkPod are Query's.
	walkNode func(name string)
	walkPod  func(node string, ips []string)
}

// Collect reads the facts q needs. Errors are one line and say what to do: not found (with similar
// names), forbidden (with verb and resource), unreachable.
func (c *Collector) Collect(ctx context.Context, q Query) (*Result, error) {
	s := &session{c: c, nodes: map[string]*corev1.Node{}, pods: map[string]*corev1.Pod{}, walk: map[string]bool{}, warned: map[string]bool{},
		services: map[string]*corev1.Service{}, slices: map[string][]discoveryv1.EndpointSlice{}, serviceLists: map[string][]corev1.Service{},
		walkNode: q.WalkNode, walkPod: q.WalkPod}
	res := &Result{CollectedAt: time.Now().UTC()}
	// Every source, target and node is read at once: a walk's API time is its slowest chain
	// (GET pod, then GET its node), not the sum of its reads. Errors are reported in the order of
	// the query (sources, targets, nodes), whichever came back first, so the message is stable.
	// Many named nodes (a check to hundreds of nodes): one paged LIST costs fewer requests than a
	// GET each; the GETs below are then answered from the session.
	named := 0
	for _, t := range q.Targets {
		if t.Kind == trace.TargetNode {
			named++
		}
	}
	if named+len(q.Nodes) > manyNodes && !q.All {
		if err := s.listNodes(ctx, false); err != nil {
			return nil, err
		}
	}
	var tasks []func(context.Context) error
	for _, ref := range q.Pods {
		tasks = append(tasks, func(ctx context.Context) error {
			p, err := s.getPod(ctx, ref, "source pod")
			if err != nil {
				return err
			}
			return s.podNode(ctx, p)
		})
	}
	for _, t := range q.Targets {
		tasks = append(tasks, func(ctx context.Context) error { return s.target(ctx, t) })
	}
	for _, name := range q.Nodes {
		tasks = append(tasks, func(ctx context.Context) error {
			n, err := s.nodeByNameOrIP(ctx, name)
			if err != nil {
				return err
			}
			s.markWalk(n.Name)
			return s.podsOfNode(ctx, n.Name)
		})
	}
	if q.All {
		tasks = append(tasks, s.all)
	}
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxConcurrentReads)
	for i, task := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = task(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	res.Cluster = s.cluster()
	res.Warnings = s.warnings
	sort.Strings(res.Warnings) // reads ran concurrently: keep the output stable
	for n := range s.walk {
		res.WalkNodes = append(res.WalkNodes, n)
	}
	sort.Strings(res.WalkNodes)
	return res, nil
}

// maxConcurrentReads bounds the API reads of one Collect in flight at once.
const maxConcurrentReads = 16

// manyNodes is how many named nodes make one LIST of nodes cheaper than a GET each.
const manyNodes = 2 * pageSize / 10

func (s *session) markWalk(node string) {
	s.mu.Lock()
	first := !s.walk[node]
	s.walk[node] = true
	s.mu.Unlock()
	if first && s.walkNode != nil {
		s.walkNode(node)
	}
}

func (s *session) warn(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warnLocked(format, args...)
}

func (s *session) warnLocked(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	if !s.warned[w] {
		s.warned[w] = true
		s.warnings = append(s.warnings, w)
	}
}

func (s *session) addPod(p *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := p.Namespace + "/" + p.Name
	if s.pods[key] != nil {
		return
	}
	s.pods[key] = p
	switch {
	case p.Spec.HostNetwork:
		s.warnLocked("pod %s uses the host network: it has no veth or OVS port of its own, its traffic leaves from node %s", key, p.Spec.NodeName)
	case p.Spec.NodeName == "":
		s.warnLocked("pod %s is not scheduled to a node yet", key)
	case len(podIPs(p)) == 0:
		s.warnLocked("pod %s has no IP yet (phase %s): it cannot be walked until it runs", key, p.Status.Phase)
	}
}

func (s *session) addNode(n *corev1.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes[n.Name] != nil {
		return
	}
	s.nodes[n.Name] = n
	if r := nodeReady(n); r != nil && !*r {
		s.warnLocked("node %s is NotReady: its pods may not forward and its node state may be stale", n.Name)
	}
}

func (s *session) getPod(ctx context.Context, ref trace.PodRef, role string) (*corev1.Pod, error) {
	s.mu.Lock()
	p := s.pods[ref.String()]
	s.mu.Unlock()
	if p != nil {
		return p, nil
	}
	v, err, _ := s.inflight.Do("pod/"+ref.String(), func() (any, error) {
		return s.c.api.GetPod(ctx, ref.Namespace, ref.Name)
	})
	p, _ = v.(*corev1.Pod)
	if apierrors.IsNotFound(err) {
		return nil, &NotFoundError{Msg: fmt.Sprintf("%s %s not found in namespace %s%s", role, ref.Name, ref.Namespace, s.suggestPods(ctx, ref))}
	}
	if err != nil {
		return nil, s.c.explain(err, "get", "pods", ref.Namespace)
	}
	s.addPod(p)
	return p, nil
}

// podNode reads the node a pod runs on; the walk needs its address and readiness.
func (s *session) podNode(ctx context.Context, p *corev1.Pod) error {
	if p.Spec.NodeName == "" {
		return nil
	}
	if s.walkPod != nil {
		s.walkPod(p.Spec.NodeName, podIPs(p))
	}
	s.markWalk(p.Spec.NodeName)
	_, err := s.getNode(ctx, p.Spec.NodeName)
	if err != nil && IsNotFound(err) {
		s.warn("node %s of pod %s/%s does not exist", p.Spec.NodeName, p.Namespace, p.Name)
		return nil
	}
	return err
}

func (s *session) getNode(ctx context.Context, name string) (*corev1.Node, error) {
	s.mu.Lock()
	n := s.nodes[name]
	s.mu.Unlock()
	if n != nil {
		return n, nil
	}
	v, err, _ := s.inflight.Do("node/"+name, func() (any, error) {
		return s.c.api.GetNode(ctx, name)
	})
	n, _ = v.(*corev1.Node)
	if apierrors.IsNotFound(err) {
		return nil, &NotFoundError{Msg: fmt.Sprintf("node %s not found: give its name as `kubectl get nodes` shows it, or its InternalIP", name)}
	}
	if err != nil {
		return nil, s.c.explain(err, "get", "nodes", "")
	}
	s.addNode(n)
	return n, nil
}

func (s *session) target(ctx context.Context, t trace.Target) error {
	switch t.Kind {
	case trace.TargetNode:
		n, err := s.nodeByNameOrIP(ctx, t.Name)
		if err != nil {
			return err
		}
		s.markWalk(n.Name)
	case trace.TargetPod:
		p, err := s.getPod(ctx, trace.PodRef{Namespace: t.Namespace, Name: t.Name}, "destination pod")
		if err != nil {
			return err
		}
		return s.podNode(ctx, p)
	case trace.TargetService:
		return s.serviceTarget(ctx, t)
	case trace.TargetIP:
		ip, err := netip.ParseAddr(t.IP)
		if err != nil {
			return fmt.Errorf("%q is not an IP address", t.IP)
		}
		return s.ipTarget(ctx, ip.Unmap(), targetPortNumber(t))
	}
	return nil
}

// ipTarget finds what owns an IP: a pod, else a node, else nothing (an address outside the cluster).
func (s *session) ipTarget(ctx context.Context, ip netip.Addr, port int) error {
	pods, err := s.podsByIP(ctx, ip)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		// Not a pod's: maybe a Service's ClusterIP or load balancer address.
		found, err := s.servicesByIP(ctx, ip, port, false)
		if err != nil && !isForbidden(err) {
			return err
		}
		if err != nil {
			s.warn("cannot tell whether %s is a Service's address: %v", ip, err)
		}
		if found {
			return nil
		}
	}
	for _, p := range pods {
		if !p.Spec.HostNetwork {
			s.addPod(p)
			return s.podNode(ctx, p)
		}
	}
	n, err := s.nodeByIP(ctx, ip, pods)
	if err != nil {
		return err
	}
	if n == nil {
		return nil // the walk says whether a router or the fabric owns it, or it is outside the cluster
	}
	s.markWalk(n.Name)
	if port != 0 {
		if _, err := s.servicesByIP(ctx, ip, port, true); err != nil { // a NodePort
			if !isForbidden(err) {
				return err
			}
			s.warn("cannot tell whether %s:%d is a NodePort: %v", ip, port, err)
		}
	}
	return nil
}

// nodeByNameOrIP resolves node/NAME: a node name first (node names are often IPs), then an address.
func (s *session) nodeByNameOrIP(ctx context.Context, name string) (*corev1.Node, error) {
	n, err := s.getNode(ctx, name)
	if err == nil || !IsNotFound(err) {
		return n, err
	}
	ip, perr := netip.ParseAddr(name)
	if perr != nil {
		return nil, &NotFoundError{Msg: fmt.Sprintf("node %s not found: give its name as `kubectl get nodes` shows it, or its InternalIP%s", name, s.suggestNodes(ctx, name))}
	}
	pods, perr := s.podsByIP(ctx, ip.Unmap())
	if perr != nil {
		return nil, perr
	}
	n, perr = s.nodeByIP(ctx, ip.Unmap(), pods)
	if perr != nil {
		return nil, perr
	}
	if n == nil {
		return nil, &NotFoundError{Msg: fmt.Sprintf("no node is named %s or has it as an address: give a node name as `kubectl get nodes` shows it, or its InternalIP%s", name, s.suggestNodes(ctx, name))}
	}
	return n, nil
}

// podsByIP lists the pods whose status.podIP is ip: one request, answered from the watch cache.
func (s *session) podsByIP(ctx context.Context, ip netip.Addr) ([]*corev1.Pod, error) {
	sel := fields.OneTermEqualSelector("status.podIP", ip.String()).String()
	l, err := s.c.api.ListPods(ctx, "", metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, s.c.explain(err, "list", "pods", "")
	}
	var out []*corev1.Pod
	for i := range l.Items {
		p := &l.Items[i]
		if finished(p) {
			continue // a finished pod keeps its IP in status, but no longer owns it
		}
		out = append(out, p)
	}
	return out, nil
}

// nodeByIP finds the node with address ip: through a host-network pod with that IP (one GET), else
// by scanning the nodes page by page (the API has no selector on node addresses).
func (s *session) nodeByIP(ctx context.Context, ip netip.Addr, pods []*corev1.Pod) (*corev1.Node, error) {
	s.mu.Lock()
	for _, n := range s.nodes {
		if hasAddress(n, ip) {
			s.mu.Unlock()
			return n, nil
		}
	}
	s.mu.Unlock()
	for _, p := range pods {
		if !p.Spec.HostNetwork || p.Spec.NodeName == "" {
			continue
		}
		n, err := s.getNode(ctx, p.Spec.NodeName)
		if err != nil && !IsNotFound(err) {
			return nil, err
		}
		if n != nil && hasAddress(n, ip) {
			return n, nil
		}
	}
	opts := metav1.ListOptions{Limit: pageSize}
	pages := 0
	for {
		l, err := s.c.api.ListNodes(ctx, opts)
		if err != nil {
			return nil, s.c.explain(err, "list", "nodes", "")
		}
		pages++
		for i := range l.Items {
			if n := &l.Items[i]; hasAddress(n, ip) {
				if pages > 1 {
					s.warn("found node %s by address %s after scanning %d pages of nodes (no host-network pod has that IP): pass node/%s to skip the scan", n.Name, ip, pages, n.Name)
				}
				s.addNode(n)
				return n, nil
			}
		}
		if l.Continue == "" {
			return nil, nil
		}
		opts.Continue = l.Continue
	}
}

// podsOfNode lists the pods on one node by field selector spec.nodeName, page by page.
func (s *session) podsOfNode(ctx context.Context, node string) error {
	return s.listPods(ctx, fields.OneTermEqualSelector("spec.nodeName", node).String())
}

// all lists every node and pod, page by page; every node becomes a walk node.
func (s *session) all(ctx context.Context) error {
	if err := s.listNodes(ctx, true); err != nil {
		return err
	}
	return s.listPods(ctx, "")
}

// listPods lists the pods a field selector (or none) matches, page by page, into the session:
// the running ones, without per-pod warnings (a node's bystanders, a whole cluster).
func (s *session) listPods(ctx context.Context, fieldSelector string) error {
	opts := metav1.ListOptions{FieldSelector: fieldSelector, Limit: pageSize}
	for {
		l, err := s.c.api.ListPods(ctx, "", opts)
		if err != nil {
			return s.c.explain(err, "list", "pods", "")
		}
		s.mu.Lock()
		for i := range l.Items {
			if p := &l.Items[i]; !finished(p) && s.pods[p.Namespace+"/"+p.Name] == nil {
				s.pods[p.Namespace+"/"+p.Name] = p
			}
		}
		s.mu.Unlock()
		if l.Continue == "" {
			return nil
		}
		opts.Continue = l.Continue
	}
}

// finished says whether a pod has ended (Succeeded or Failed): it owns no address any more.
func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// listNodes reads every node, page by page, into the session (walk: each becomes a walk node).
func (s *session) listNodes(ctx context.Context, walk bool) error {
	opts := metav1.ListOptions{Limit: pageSize}
	for {
		l, err := s.c.api.ListNodes(ctx, opts)
		if err != nil {
			return s.c.explain(err, "list", "nodes", "")
		}
		for i := range l.Items {
			s.addNode(&l.Items[i])
			if walk {
				s.markWalk(l.Items[i].Name)
			}
		}
		if l.Continue == "" {
			return nil
		}
		opts.Continue = l.Continue
	}
}
