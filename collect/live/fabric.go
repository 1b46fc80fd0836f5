package live

import (
	"context"
	"net/netip"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// fabricQuery names the walks' endpoints for the fabric: source pods, and the destinations; with
// the nodes' facts (when read first), each pod's MAC and the iface-id its node's OVS reports.
func fabricQuery(res *kube.Result, need Need, nodes []trace.NodeState) fabric.Query {
	var q fabric.Query
	e := endpoints{cluster: &res.Cluster, pods: map[string]trace.Pod{}}
	for _, p := range res.Cluster.Pods {
		e.pods[p.Namespace+"/"+p.Name] = p
	}
	if len(nodes) > 0 {
		e.ix = trace.NewIndex(&trace.Snapshot{Cluster: res.Cluster, Nodes: nodes})
	}
	for _, ref := range need.Pods {
		q.Sources = append(q.Sources, e.pod(e.pods[ref.String()])...)
	}
	for _, t := range need.Targets {
		q.Destinations = append(q.Destinations, e.target(t)...)
	}
	q.Destinations = append(q.Destinations, e.services()...)
	q.Nodes = append(q.Nodes, need.Nodes...)
	// The nodes of need.Nodes (macs, collect cluster) and their pods: their ports are wanted.
	for _, name := range need.Nodes {
		q.Ports = append(q.Ports, e.nodeAndPods(name)...)
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

// endpoints turns the API's pods and nodes into the fabric's endpoints.
type endpoints struct {
	cluster *trace.Cluster
	pods    map[string]trace.Pod
	// ix holds the nodes' facts when they were read first (nil otherwise).
	ix *trace.Index
}

// pod is a pod's endpoint per address, with its MAC and iface-id when the nodes were read.
func (e endpoints) pod(p trace.Pod) []fabric.Endpoint {
	var out []fabric.Endpoint
	for _, s := range p.IPs {
		if a, err := netip.ParseAddr(s); err == nil {
			ref := trace.PodRef{Namespace: p.Namespace, Name: p.Name}
			ep := fabric.Endpoint{IP: a.Unmap(), Node: p.Node, Pod: &ref}
			if e.ix != nil && !p.HostNetwork {
				ep.MAC, ep.IfaceID = e.ix.PodAttachment(ref, ep.IP)
			}
			out = append(out, ep)
		}
	}
	return out
}

// node is a node's endpoint: its address.
func (e endpoints) node(n trace.Node) []fabric.Endpoint {
	if a, err := netip.ParseAddr(kube.NodeIP(n)); err == nil {
		return []fabric.Endpoint{{IP: a, Node: n.Name}}
	}
	return nil
}

// target is a walk's destination.
func (e endpoints) target(t trace.Target) []fabric.Endpoint {
	switch t.Kind {
	case trace.TargetPod:
		return e.pod(e.pods[t.Namespace+"/"+t.Name])
	case trace.TargetNode:
		var out []fabric.Endpoint
		for _, n := range e.cluster.Nodes {
			if n.Name == t.Name || kube.NodeIP(n) == t.Name {
				out = append(out, e.node(n)...)
			}
		}
		return out
	case trace.TargetIP:
		a, err := netip.ParseAddr(t.IP)
		if err != nil {
			return nil
		}
		ep := fabric.Endpoint{IP: a}
		for _, n := range e.cluster.Nodes {
			if kube.NodeIP(n) == a.String() {
				ep.Node = n.Name // a node's address: NSX finds its port by the node's name
			}
		}
		for _, p := range e.cluster.Pods {
			for _, ip := range p.IPs {
				if ip == t.IP && !p.HostNetwork {
					ref := trace.PodRef{Namespace: p.Namespace, Name: p.Name}
					ep.Node, ep.Pod = p.Node, &ref
				}
			}
		}
		return []fabric.Endpoint{ep}
	}
	return nil
}

// nodeAndPods are the endpoints of a node (by name or address) and of its pods.
func (e endpoints) nodeAndPods(name string) []fabric.Endpoint {
	var out []fabric.Endpoint
	for _, n := range e.cluster.Nodes {
		if n.Name != name && kube.NodeIP(n) != name {
			continue
		}
		out = append(out, e.node(n)...)
		for _, p := range e.cluster.Pods {
			if p.Node == n.Name && !p.HostNetwork {
				out = append(out, e.pod(p)...)
			}
		}
	}
	return out
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
	if !ok || !nr.ResolvesNames() || need.All || len(need.Pods) == 0 || hasPortOrService(need.Targets) {
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
	if e.fab == nil || len(res.Cluster.Services) > 0 {
		return nil, nil, nil // a Service's endpoints were not in the names the early read had
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
