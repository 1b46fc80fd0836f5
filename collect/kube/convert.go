package kube

import (
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

func (s *session) cluster() trace.Cluster {
	var c trace.Cluster
	for _, n := range s.nodes {
		c.Nodes = append(c.Nodes, ConvertNode(n))
	}
	for _, p := range s.pods {
		c.Pods = append(c.Pods, ConvertPod(p))
	}
	sort.Slice(c.Nodes, func(i, j int) bool { return c.Nodes[i].Name < c.Nodes[j].Name })
	sort.Slice(c.Pods, func(i, j int) bool {
		if c.Pods[i].Namespace != c.Pods[j].Namespace {
			return c.Pods[i].Namespace < c.Pods[j].Namespace
		}
		return c.Pods[i].Name < c.Pods[j].Name
	})
	s.addServices(&c)
	return c
}

// ConvertNode turns a Node into the snapshot's form.
func ConvertNode(n *corev1.Node) trace.Node {
	out := trace.Node{Name: n.Name, Ready: nodeReady(n), Source: trace.SourceKube}
	for _, a := range n.Status.Addresses {
		out.Addresses = append(out.Addresses, trace.NodeAddress{Type: string(a.Type), Address: a.Address})
	}
	out.PodCIDRs = append(out.PodCIDRs, n.Spec.PodCIDRs...)
	if len(out.PodCIDRs) == 0 && n.Spec.PodCIDR != "" {
		out.PodCIDRs = []string{n.Spec.PodCIDR}
	}
	return out
}

// ConvertPod turns a Pod into the snapshot's form.
func ConvertPod(p *corev1.Pod) trace.Pod {
	return trace.Pod{
		Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, IPs: podIPs(p),
		HostNetwork: p.Spec.HostNetwork, Phase: string(p.Status.Phase), Source: trace.SourceKube,
		Labels: p.Labels, // check --from SELECTOR matches on them
	}
}

func podIPs(p *corev1.Pod) []string {
	var ips []string
	for _, ip := range p.Status.PodIPs {
		if ip.IP != "" {
			ips = append(ips, ip.IP)
		}
	}
	if len(ips) == 0 && p.Status.PodIP != "" {
		ips = []string{p.Status.PodIP}
	}
	return ips
}

func nodeReady(n *corev1.Node) *bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			switch c.Status {
			case corev1.ConditionTrue:
				t := true
				return &t
			case corev1.ConditionFalse:
				f := false
				return &f
			}
		}
	}
	return nil
}

// NodeIP is the node's address as the walk uses it (trace's Node.IP: InternalIP, IPv4 first,
// else ExternalIP, else any address that parses), or "" when it has none. One rule, so that the
// fabric is asked for the very address the engine walks to.
func NodeIP(n trace.Node) string {
	if a, ok := n.IP(); ok {
		return a.String()
	}
	return ""
}

func hasAddress(n *corev1.Node, ip netip.Addr) bool {
	for _, a := range n.Status.Addresses {
		if x, err := netip.ParseAddr(a.Address); err == nil && x.Unmap() == ip {
			return true
		}
	}
	return false
}
