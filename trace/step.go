package trace

import "net/netip"

// Step is one routing decision of a router, for fabric collectors that fetch only the objects on a
// walk's path: they fetch a router's ports and routes, ask RouteStep where dst goes, and fetch
// what that names next.
type Step struct {
	// Found is false when the router has no route to dst (the walk will say so).
	Found bool
	// Connected: dst is on OutPort's network; OutPort's linked switch port (or its peer) comes next.
	Connected bool
	// OutPort is the egress router port ID; NextHop the next hop when not connected.
	OutPort string
	NextHop netip.Addr
	// PeerPort is OutPort's PeerRouterPort, when the link names it.
	PeerPort string
	// Origin says where the route came from (connected, static, advertised, ...).
	Origin string
}

// RouteStep does the longest-prefix match of the engine on router routerID of f. For many steps
// over one fabric, build a FabricRoutes once.
func RouteStep(f *Fabric, routerID string, dst netip.Addr) Step {
	return NewFabricRoutes(f).Step(routerID, dst)
}

// FabricRoutes answers RouteStep on one fabric without re-indexing it for every step.
type FabricRoutes struct{ fab *fabIdx }

// NewFabricRoutes indexes f for routing steps; f must not change while it is used.
func NewFabricRoutes(f *Fabric) *FabricRoutes {
	return &FabricRoutes{fab: newFabIdx(f)}
}

// Step is RouteStep on the indexed fabric.
func (r *FabricRoutes) Step(routerID string, dst netip.Addr) Step {
	rc, ok := r.fab.lookup(routerID, dst)
	if !ok || rc.discard {
		return Step{}
	}
	st := Step{Found: true, Connected: rc.origin == OriginConnected, NextHop: rc.nextHop, Origin: rc.origin}
	out := rc.out
	if out == nil && rc.nextHop.IsValid() {
		out = egressFor(r.fab.rportsBy[routerID], rc.nextHop)
	}
	if out != nil {
		st.OutPort, st.PeerPort = out.ID, out.PeerRouterPort
	}
	return st
}
