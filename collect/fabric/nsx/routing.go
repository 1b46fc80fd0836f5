package nsx

import (
	"context"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// routing reads a router's static routes and a tier-1's advertisement. The runtime route table is
// not read: GET .../routing/route-table needs an edge node of the router's edge cluster
// (transport_node_id, else 400), exists only for routers with services on an edge, and is removed
// in NSX 9; the configuration is what every router has.
func (st *state) routing(ctx context.Context, id, tier string) error {
	base := "/api/v1/logical-routers/" + url.PathEscape(id) + "/routing/"
	srs, err := list[staticRoute](ctx, st.f, base+"static-routes", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	st.static[id] = srs
	st.ver++
	if tier == trace.Tier1 {
		a, err := fetch[advertisement](ctx, st.f, base+"advertisement", nil)
		if err == nil {
			st.adv[id] = &a
			st.ver++
		} else if err := st.soft(err); err != nil {
			return err
		}
	}
	return nil
}

// portFilters are the router-port lists ensureRouter reads for a router of this tier.
func portFilters(id, tier string) []url.Values {
	if tier == trace.Tier0 {
		return []url.Values{
			{"logical_router_id": {id}, "resource_type": {"LogicalRouterUpLinkPort"}},
			{"logical_router_id": {id}, "resource_type": {"LogicalRouterDownLinkPort"}},
		}
	}
	return []url.Values{{"logical_router_id": {id}}}
}

// maxTier0Prefetch bounds the tier-0s whose reads are fetched before a link names them.
const maxTier0Prefetch = 4

// tier0Hint lists the tier-0 routers (a fabric has a few, however many tier-1s and ports it
// has). ensureRouter takes a tier-0 from this list instead of reading it, and dry rounds use it to
// know a router's tier before its GET answers. It is a hint: an error leaves it empty and the
// routers are read one by one.
func (st *state) tier0Hint(ctx context.Context) {
	st.tier0s = map[string]lrouter{}
	lrs, err := list[lrouter](ctx, st.f, "/api/v1/logical-routers", url.Values{"router_type": {"TIER0"}})
	if err != nil {
		return
	}
	st.tier0Known = true
	for _, lr := range lrs {
		if lr.ID != "" && tierOf(lr.RouterType) == trace.Tier0 {
			st.tier0s[lr.ID] = lr
		}
	}
	if st.f.dry && len(st.tier0s) <= maxTier0Prefetch {
		// A walk that leaves its tier-1 reaches a tier-0 two levels later (the tier-1's link port
		// names the tier-0's): read the tier-0s now, beside the endpoints' switches, and the first
		// page of their link ports, where the tier-1 link's peer is found (tier0Link) instead of
		// with a GET one level after the tier-1's ports.
		for _, id := range sortedKeys(st.tier0s) {
			st.prefetchRouter(ctx, id)
			_, _ = fetch[listPage](ctx, st.f, "/api/v1/logical-router-ports", st.tier0LinkQuery(id))
		}
	}
}

// tier0LinkQuery is the first page of a tier-0's link ports (one per tier-1 linked to it).
func (st *state) tier0LinkQuery(id string) url.Values {
	return url.Values{"logical_router_id": {id}, "resource_type": {"LogicalRouterLinkPortOnTIER0"}, "page_size": {strconv.Itoa(st.c.cfg.PageSize)}}
}

// tier0Link finds a tier-0 link port in the pages tier0Hint read: a hint, taken only when already
// read (never fetched for it), so a tier-0 with more tier-1s than a page holds, a page that failed
// or a manager without the filter leave the peer to getRouterPort's GET. The port is the same
// object the GET returns.
func (st *state) tier0Link(id string) (lrport, bool) {
	hint := st.linkHint
	if hint == nil {
		var complete bool
		hint, complete = st.readTier0Links()
		if complete {
			st.linkHint = hint // else a dry round has not read every page yet: look again next time
		}
	}
	p, ok := hint[id]
	return p, ok
}

// readTier0Links decodes the link-port pages tier0Hint read, and says whether every one was read.
func (st *state) readTier0Links() (map[string]lrport, bool) {
	hint := map[string]lrport{}
	if !st.tier0Known || len(st.tier0s) > maxTier0Prefetch {
		return hint, true
	}
	complete := true
	for _, t0 := range sortedKeys(st.tier0s) {
		key := cacheKey("/api/v1/logical-router-ports", st.tier0LinkQuery(t0))
		e, ok := st.f.lookup(key)
		if !ok {
			complete = false
			continue
		}
		lp, _ := e.val.(listPage)
		ps, err := decodePage[lrport](st.f, key, lp)
		if e.err != nil || err != nil {
			continue // a hint: the peers are read by id
		}
		for _, p := range ps {
			if p.ID != "" && p.LogicalRouterID == t0 {
				hint[p.ID] = p
			}
		}
	}
	return hint, complete
}

// prefetchRouter notes (dry rounds only) the reads ensureRouter makes for a router once its tier is
// known: its ports, static routes, a tier-1's advertisement. They are fetched with
// the router's GET instead of after it. Without the tier-0 list the tier is unknown, and nothing
// is noted: a guess could list every link port of a tier-0.
func (st *state) prefetchRouter(ctx context.Context, id string) {
	if !st.f.dry || !st.tier0Known {
		return
	}
	tier := trace.Tier1
	if _, ok := st.tier0s[id]; ok {
		tier = trace.Tier0
	}
	base := "/api/v1/logical-routers/" + url.PathEscape(id) + "/routing/"
	for _, f := range portFilters(id, tier) {
		_, _ = list[lrport](ctx, st.f, "/api/v1/logical-router-ports", f)
	}
	_, _ = list[staticRoute](ctx, st.f, base+"static-routes", nil)
	if tier == trace.Tier1 {
		_, _ = fetch[advertisement](ctx, st.f, base+"advertisement", nil)
	}
}

// routeStep is trace.RouteStep on what has been read so far. The fabric and its index are rebuilt
// only when something was added since the last step: a check of 1,000 pairs steps through the
// same routers thousands of times, and rebuilding per step cost minutes of CPU.
func (st *state) routeStep(rid string, dst netip.Addr) trace.Step {
	if st.routes == nil || st.routesVer != st.ver {
		st.routes, st.routesVer = trace.NewFabricRoutes(st.fabric()), st.ver
	}
	return st.routes.Step(rid, dst)
}

// follow reads the routers a packet from switch `from` to dst passes, asking the engine's own
// longest-prefix match (trace.RouteStep) on what has been read so far which peer comes next.
//
// dstKey names where dst is (its switch, else itself): a router already followed toward the same
// place in this round has had everything beyond it read, so the walk stops there. A bundle's
// paths among 300 pods on 300 switches would otherwise step the tier-0 toward each destination
// once per source.
func (st *state) follow(ctx context.Context, from string, dst netip.Addr, dstKey string) error {
	if st.followed == nil {
		st.followed = map[string]bool{}
	}
	for _, rp := range st.routerPortsOn(from) {
		rid := rp.Router
		seen := map[string]bool{}
		var through []string
		for hop := 0; hop < maxRouterHops && rid != "" && !seen[rid] && !st.followed[rid+"|"+dstKey]; hop++ {
			seen[rid] = true
			through = append(through, rid)
			st.followed[rid+"|"+dstKey] = true
			if err := st.ensureRouter(ctx, rid); err != nil {
				return err
			}
			step := st.routeStep(rid, dst)
			if !step.Found {
				break
			}
			if step.Connected {
				if out := st.rports[step.OutPort]; out != nil && out.LinkedSwitchPort != "" {
					sp, err := st.getPort(ctx, out.LinkedSwitchPort)
					if err != nil {
						return err
					}
					if sp != nil {
						if err := st.ensureSwitch(ctx, sp.Switch, false); err != nil {
							return err
						}
					}
				}
				break
			}
			if step.PeerPort == "" {
				st.services.exitThrough(through, dstKey) // out an uplink: beyond the fabric, NAT rules apply
				break
			}
			peer, err := st.getRouterPort(ctx, step.PeerPort)
			if err != nil {
				return err
			}
			if peer == nil {
				break
			}
			rid = peer.Router
		}
		st.services.joined(rid, dstKey, through)
	}
	return nil
}

// node reads a node's VIFs (tagged ncp/node_name by NCP) and the CHILD ports under them.
func (st *state) node(ctx context.Context, name string) error {
	vifs, waiting, err := st.taggedNodePorts(ctx, name)
	if err != nil || waiting {
		return err
	}
	if len(vifs) == 0 {
		st.warn("no NSX logical port is tagged ncp/node_name=%s", name)
	}
	switches := map[string]bool{}
	for _, v := range vifs {
		switches[v.Switch] = true
		keys := []string{v.AttachmentID}
		if st.policy != nil {
			keys = append(keys, st.pathOf(v))
		}
		for _, k := range keys {
			if err := st.children(ctx, k); err != nil {
				return err
			}
		}
	}
	for _, sp := range st.sortedPorts() {
		if sp.Type != trace.PortChild {
			continue
		}
		for _, v := range vifs {
			if isChildOf(sp, v) {
				switches[sp.Switch] = true
			}
		}
	}
	for _, id := range sortedKeys(switches) {
		if err := st.ensureSwitch(ctx, id, false); err != nil {
			return err
		}
	}
	if st.policy != nil {
		return nil // a segment's gateway names its router, read with it
	}
	return st.nameRouters(ctx, switches)
}

// isChildOf says whether a CHILD port names parent as its parent (by attachment id, or by port).
func isChildOf(sp, parent *trace.SwitchPort) bool {
	return sp.ParentVIF != "" && sp.ParentVIF == parent.AttachmentID || sp.ParentPort != "" && sp.ParentPort == parent.ID
}

// all reads the whole fabric (a support bundle), every list paginated.
func (st *state) all(ctx context.Context) error {
	st.allPorts = true
	lss, err := list[lswitch](ctx, st.f, "/api/v1/logical-switches", nil)
	if err != nil && !pending(err) {
		return err
	}
	for _, ls := range lss {
		st.switches[ls.ID] = &trace.Switch{ID: ls.ID, Name: ls.DisplayName, Source: trace.SourceNSX}
		st.ver++
		st.switchDone[ls.ID] = true
	}
	lps, err := list[lport](ctx, st.f, "/api/v1/logical-ports", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, lp := range lps {
		st.addPort(lp)
	}
	rps, err := list[lrport](ctx, st.f, "/api/v1/logical-router-ports", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, p := range rps {
		st.addRouterPort(p)
	}
	lrs, err := list[lrouter](ctx, st.f, "/api/v1/logical-routers", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, lr := range lrs {
		r := lr.router()
		st.routers[r.ID] = &r
		st.ver++
	}
	for _, lr := range lrs {
		if err := st.routing(ctx, lr.ID, tierOf(lr.RouterType)); err != nil {
			return err
		}
	}
	if err := st.inventory(ctx); err != nil {
		return err
	}
	return st.allOverlay(ctx)
}
