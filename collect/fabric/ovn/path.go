package ovn

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// pathReader follows the engine's routing through the NB, reading each router as it is reached.
type pathReader struct {
	r *reader
	d *nbData
	q fabric.Query
	// routes indexes d's fabric for routing steps, built when d was at routesGen.
	routes    *trace.FabricRoutes
	routesGen int
}

// step is trace.RouteStep over what has been read; the fabric is built and indexed again only
// after new rows arrive, not at every router of every path.
func (w *pathReader) step(router string, to netip.Addr) trace.Step {
	if w.routes == nil || w.routesGen != w.d.gen {
		f, _ := w.d.fabric(w.q)
		w.routes, w.routesGen = trace.NewFabricRoutes(f), w.d.gen
	}
	return w.routes.Step(router, to)
}

func (w *pathReader) lrpNamed(name string) *nbdb.LogicalRouterPort {
	for _, rp := range w.d.lrps {
		if rp.Name == name {
			return rp
		}
	}
	return nil
}

func (w *pathReader) routerOwning(lrpUUID string) *nbdb.LogicalRouter {
	for _, lr := range w.d.routers {
		if slices.Contains(lr.Ports, lrpUUID) {
			return lr
		}
	}
	return nil
}

// loadRouter reads the router owning router port name, with all its ports and static routes.
func (w *pathReader) loadRouter(ctx context.Context, name string) (*nbdb.LogicalRouter, error) {
	rp := w.lrpNamed(name)
	if rp == nil {
		if err := w.r.run(ctx, w.d, []sel{{table: nbdb.LogicalRouterPortTable, where: eq("name", name)}}); err != nil {
			return nil, err
		}
		if rp = w.lrpNamed(name); rp == nil {
			w.r.warnings = append(w.r.warnings, fmt.Sprintf("ovn: no Logical_Router_Port %s", name))
			return nil, nil
		}
	}
	lr := w.routerOwning(rp.UUID)
	if lr == nil {
		err := w.r.run(ctx, w.d, []sel{{table: nbdb.LogicalRouterTable, where: []ovsdb.Condition{ovsdb.NewCondition("ports", ovsdb.ConditionIncludes,
			ovsdb.OvsSet{GoSet: []any{ovsdb.UUID{GoUUID: rp.UUID}}})}}})
		if err != nil {
			return nil, err
		}
		if lr = w.routerOwning(rp.UUID); lr == nil {
			w.r.warnings = append(w.r.warnings, fmt.Sprintf("ovn: router port %s belongs to no Logical_Router", name))
			return nil, nil
		}
	}
	var sels []sel
	for _, u := range lr.Ports {
		if w.d.lrps[u] == nil {
			sels = append(sels, byUUID(nbdb.LogicalRouterPortTable, []string{u})...)
		}
	}
	for _, u := range lr.StaticRoutes {
		if w.d.routes[u] == nil {
			sels = append(sels, byUUID(nbdb.LogicalRouterStaticRouteTable, []string{u})...)
		}
	}
	return lr, w.r.run(ctx, w.d, sels)
}

// portWith returns the switch port (not a router's) that declares ip.
func (w *pathReader) portWith(ip netip.Addr) *nbdb.LogicalSwitchPort {
	return w.d.portWith(ip, "")
}

// portWith returns the first switch port, by name, that is not a router's and declares ip or mac.
func (d *nbData) portWith(ip netip.Addr, mac string) *nbdb.LogicalSwitchPort {
	for _, p := range sortedLSPs(d) {
		if p.Type != "router" && lspHolds(p, ip, mac) {
			return p
		}
	}
	return nil
}

func (w *pathReader) switchOf(lspUUID string) *nbdb.LogicalSwitch {
	for _, s := range sortedSwitches(w.d) {
		if slices.Contains(s.Ports, lspUUID) {
			return s
		}
	}
	return nil
}

// walk reads the routers from the switch of from to the switch of to.
func (w *pathReader) walk(ctx context.Context, from, to netip.Addr) error {
	if !from.IsValid() || !to.IsValid() {
		return nil
	}
	p := w.portWith(from)
	if p == nil {
		return nil
	}
	sw := w.switchOf(p.UUID)
	if sw == nil {
		return nil
	}
	// The first router: the one whose downlink on this switch holds from (the default gateway).
	var first string
	for _, lsp := range sortedLSPs(w.d) {
		if lsp.Type != "router" || !slices.Contains(sw.Ports, lsp.UUID) {
			continue
		}
		lr, err := w.loadRouter(ctx, lsp.Options["router-port"])
		if err != nil {
			return err
		}
		rp := w.lrpNamed(lsp.Options["router-port"])
		if lr != nil && rp != nil && (first == "" || networksHold(rp.Networks, from)) {
			first = lr.Name
		}
	}
	seen := map[string]bool{}
	for rt := first; rt != "" && !seen[rt]; {
		seen[rt] = true
		st := w.step(rt, to)
		switch {
		case !st.Found:
			return nil
		case st.Connected && st.PeerPort != "":
			// to is on a router link: the peer router may own it (a walk to a router address).
			_, err := w.loadRouter(ctx, st.PeerPort)
			return err
		case st.Connected:
			for _, lsp := range w.d.lsps {
				if lsp.Type == "router" && lsp.Options["router-port"] == st.OutPort && w.switchOf(lsp.UUID) == nil {
					return w.r.run(ctx, w.d, []sel{switchHolding(lsp.UUID)})
				}
			}
			return nil
		case st.PeerPort == "":
			return nil
		}
		lr, err := w.loadRouter(ctx, st.PeerPort)
		if err != nil || lr == nil {
			return err
		}
		rt = lr.Name
	}
	return nil
}

func networksHold(networks []string, a netip.Addr) bool {
	for _, n := range networks {
		if p, err := netip.ParsePrefix(n); err == nil && p.Contains(a) {
			return true
		}
	}
	return false
}

// claimEndpoints reads, for each endpoint IP no port claims, the ports of the switch (read on
// the way) whose subnet holds it.
func (w *pathReader) claimEndpoints(ctx context.Context, endpoints []fabric.Endpoint) error {
	subnets := switchSubnets(w.d)
	done := map[string]bool{}
	var sels []sel
	for _, e := range endpoints {
		if !e.IP.IsValid() || w.portWith(e.IP) != nil {
			continue
		}
		for _, s := range sortedSwitches(w.d) {
			if done[s.UUID] || !containsAddr(subnets[s.UUID], e.IP) {
				continue
			}
			done[s.UUID] = true
			var missing []string
			for _, u := range s.Ports {
				if w.d.lsps[u] == nil {
					missing = append(missing, u)
				}
			}
			sort.Strings(missing)
			sels = append(sels, byUUID(nbdb.LogicalSwitchPortTable, missing)...)
		}
	}
	return w.r.run(ctx, w.d, sels)
}

// pathObjects follows the engine's routing from each source's switch towards each destination and
// back, and returns the routers and switches crossed (by ID), so only their NAT and load balancers
// are read. The first router is the one pathReader.walk reads first: the one whose port on the
// switch holds the address, else the switch's first.
func pathObjects(f *trace.Fabric, q fabric.Query) (routers, switches map[string]bool) {
	routers, switches = map[string]bool{}, map[string]bool{}
	steps := trace.NewFabricRoutes(f)
	rpByID := map[string]trace.RouterPort{}
	for _, rp := range f.RouterPorts {
		rpByID[rp.ID] = rp
	}
	swOfRP := map[string]string{}
	for _, sp := range f.SwitchPorts {
		if sp.RouterPort != "" {
			swOfRP[sp.RouterPort] = sp.Switch
		}
	}
	start := func(ip netip.Addr) (string, string) { // switch, first router
		for _, sp := range f.SwitchPorts {
			for _, s := range sp.IPs {
				if a, err := netip.ParseAddr(s); err == nil && a == ip {
					first := ""
					for _, rp := range f.RouterPorts {
						if swOfRP[rp.ID] != sp.Switch {
							continue
						}
						if networksHold(rp.Networks, ip) {
							return sp.Switch, rp.Router
						}
						first = cmp.Or(first, rp.Router)
					}
					return sp.Switch, first
				}
			}
		}
		return "", ""
	}
	walk := func(from, to netip.Addr) {
		sw, rt := start(from)
		if sw != "" {
			switches[sw] = true
		}
		seen := map[string]bool{}
		for rt != "" && !seen[rt] {
			seen[rt], routers[rt] = true, true
			st := steps.Step(rt, to)
			if !st.Found {
				return
			}
			if st.Connected {
				if s := swOfRP[st.OutPort]; s != "" {
					switches[s] = true
				}
				return
			}
			rt = rpByID[st.PeerPort].Router
		}
	}
	for _, s := range q.Sources {
		for _, t := range q.Destinations {
			if s.IP.IsValid() && t.IP.IsValid() {
				walk(s.IP, t.IP)
				walk(t.IP, s.IP)
			}
		}
	}
	return routers, switches
}

// switchRouters reads the router behind every router port of the switches read so far.
func (w *pathReader) switchRouters(ctx context.Context) error {
	var names []string
	for _, sw := range w.d.switches {
		for _, u := range sw.Ports {
			if lsp := w.d.lsps[u]; lsp != nil && lsp.Type == "router" && lsp.Options["router-port"] != "" {
				names = append(names, lsp.Options["router-port"])
			}
		}
	}
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		if _, err := w.loadRouter(ctx, n); err != nil {
			return err
		}
	}
	return nil
}
