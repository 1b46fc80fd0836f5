package live

import (
	"net/netip"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// services are the fabric destinations of the walks to the Services the API read: each
// endpoint's pod (the walk goes on to it) and each Service address (a walk with no ready endpoint
// goes towards it; the load balancers and NAT on that way are read too).
func (ep endpoints) services() []fabric.Endpoint {
	c := ep.cluster
	var out []fabric.Endpoint
	for _, sl := range c.EndpointSlices {
		for _, e := range sl.Endpoints {
			if e.Pod != nil {
				if p, ok := ep.pods[e.Pod.String()]; ok {
					out = append(out, ep.pod(p)...)
					continue
				}
			}
			for _, s := range e.Addresses {
				if a, err := netip.ParseAddr(s); err == nil {
					out = append(out, fabric.Endpoint{IP: a.Unmap(), Node: e.Node})
				}
			}
		}
	}
	for _, svc := range c.Services {
		for _, s := range append(append(append([]string{}, svc.ClusterIPs...), svc.LoadBalancerIPs...), svc.ExternalIPs...) {
			if a, err := netip.ParseAddr(s); err == nil {
				out = append(out, fabric.Endpoint{IP: a.Unmap()})
			}
		}
	}
	return out
}

// hasPortOrService: a walk that may go to a Service, whose endpoints only the API names; the fabric
// is then read once those are known, not early from the names of the walk.
func hasPortOrService(ts []trace.Target) bool {
	for _, t := range ts {
		if t.Kind == trace.TargetService || t.Port != "" {
			return true
		}
	}
	return false
}
