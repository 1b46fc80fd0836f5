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
	q.Destinations = append(q.Destinations, serviceEndpoints(res.Cluster, podEP)...)
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
