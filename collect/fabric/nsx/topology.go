package nsx

import (
	"context"
	"net/url"
	"sort"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// byAttachment reads the port of a VIF attachment (a CHILD port's parent).
func (st *state) byAttachment(ctx context.Context, att string) error {
	if st.attachDone[att] || st.allPorts {
		return nil
	}
	st.attachDone[att] = true
	res, err := list[lport](ctx, st.f, "/api/v1/logical-ports", url.Values{"attachment_id": {att}})
	for _, lp := range res {
		st.addPort(lp)
	}
	if err == nil && len(res) == 0 {
		st.warn("no NSX logical port has the attachment %s (a CHILD port's parent VIF)", att)
	}
	return st.soft(err)
}

// parentOf reads a CHILD port's parent: by its attachment id (parent_vif_id, or a Policy
// context_id that is one), or by the policy path a Policy context_id gives.
func (st *state) parentOf(ctx context.Context, sp *trace.SwitchPort) (*trace.SwitchPort, error) {
	if p := st.contextOf(sp); strings.HasPrefix(p, "/") {
		return st.policyPortByPath(ctx, sp, p)
	}
	if st.policy != nil {
		return st.portOfAttachment(ctx, sp.ParentVIF)
	}
	if err := st.byAttachment(ctx, sp.ParentVIF); err != nil {
		return nil, err
	}
	for _, p := range st.sortedPorts() {
		if p.AttachmentID == sp.ParentVIF && p.Type != trace.PortChild {
			return p, nil
		}
	}
	return nil, nil
}

// children reads the CHILD ports of a parent VIF: by parent_vif_id (Management API), or by the
// CHILD attachment's context_id, the parent's policy path or its attachment id (Policy API).
func (st *state) children(ctx context.Context, parentVIF string) error {
	if parentVIF == "" || st.childrenDone[parentVIF] || st.allPorts {
		return nil
	}
	st.childrenDone[parentVIF] = true
	if st.policy != nil {
		_, err := st.searchSegmentPorts(ctx, "attachment.context_id:"+quote(parentVIF))
		return err
	}
	res, err := list[lport](ctx, st.f, "/api/v1/logical-ports", url.Values{"parent_vif_id": {parentVIF}})
	for _, lp := range res {
		st.addPort(lp)
	}
	return st.soft(err)
}

// ensureSwitch reads a logical switch and the router ports linked to it; withRouters also reads
// those routers (a walk's gateway).
func (st *state) ensureSwitch(ctx context.Context, id string, withRouters bool) error {
	if id == "" {
		return nil
	}
	if st.policy != nil {
		return st.ensureSegment(ctx, id)
	}
	if !st.switchDone[id] {
		st.switchDone[id] = true
		ls, err := fetch[lswitch](ctx, st.f, "/api/v1/logical-switches/"+url.PathEscape(id), nil)
		if err == nil {
			st.switches[id] = &trace.Switch{ID: ls.ID, Name: ls.DisplayName, Source: trace.SourceNSX}
			st.ver++
		} else if err := st.soft(err); err != nil {
			return err
		}
		rps, err := list[lrport](ctx, st.f, "/api/v1/logical-router-ports", url.Values{"logical_switch_id": {id}})
		if err := st.soft(err); err != nil {
			return err
		}
		for _, p := range rps {
			rp := st.addRouterPort(p)
			if sp := rp.LinkedSwitchPort; sp != "" && st.ports[sp] == nil {
				// The router port names its switch-side port; the filter says which switch it is on.
				st.ports[sp] = &trace.SwitchPort{ID: sp, Switch: id, Type: trace.PortRouter, RouterPort: rp.ID, Source: trace.SourceNSX}
				st.synthetic[sp] = true
				st.ver++
			}
		}
	}
	if !withRouters {
		return nil
	}
	for _, rp := range st.sortedRouterPorts() {
		if sp := st.ports[rp.LinkedSwitchPort]; sp != nil && sp.Switch == id {
			if err := st.ensureRouter(ctx, rp.Router); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortedRouterPorts holds while nothing was added or replaced (follow asks it per pair, fabric
// per router). A new list is a new slice: callers may range over an older one while adding.
func (st *state) sortedRouterPorts() []*trace.RouterPort {
	if st.rpSorted != nil && st.rpSortedVer == st.ver {
		return st.rpSorted
	}
	out := make([]*trace.RouterPort, 0, len(st.rports))
	for _, p := range st.rports {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	st.rpSorted, st.rpSortedVer = out, st.ver
	return out
}

// routerPortsOn are the router ports linked to a switch, in ID order; the index holds while
// nothing was added (follow asks it per pair: a bundle has 90,000 pairs).
func (st *state) routerPortsOn(sw string) []*trace.RouterPort {
	if st.rpOn == nil || st.rpOnVer != st.ver {
		st.rpOn, st.rpOnVer = map[string][]*trace.RouterPort{}, st.ver
		for _, rp := range st.sortedRouterPorts() {
			if sp := st.ports[rp.LinkedSwitchPort]; sp != nil {
				st.rpOn[sp.Switch] = append(st.rpOn[sp.Switch], rp)
			}
		}
	}
	return st.rpOn[sw]
}

// getRouterPort reads one router port by id (a link's peer).
func (st *state) getRouterPort(ctx context.Context, id string) (*trace.RouterPort, error) {
	if rp := st.rports[id]; rp != nil {
		return rp, nil
	}
	if st.missing[id] {
		return nil, nil
	}
	if p, ok := st.tier0Link(id); ok {
		return st.addRouterPort(p), nil
	}
	p, err := fetch[lrport](ctx, st.f, "/api/v1/logical-router-ports/"+url.PathEscape(id), nil)
	if err != nil {
		st.missing[id] = true
		if isNotFound(err) {
			st.warn("router port %s is named as a link peer but does not exist in NSX", id)
			return nil, nil
		}
		return nil, st.soft(err)
	}
	return st.addRouterPort(p), nil
}

// getPort reads one logical port by id.
func (st *state) getPort(ctx context.Context, id string) (*trace.SwitchPort, error) {
	if sp := st.ports[id]; sp != nil {
		return sp, nil
	}
	if st.missing[id] {
		return nil, nil
	}
	lp, err := fetch[lport](ctx, st.f, "/api/v1/logical-ports/"+url.PathEscape(id), nil)
	if err != nil {
		st.missing[id] = true
		if isNotFound(err) {
			st.warn("logical port %s is named by a router port but does not exist in NSX", id)
			return nil, nil
		}
		return nil, st.soft(err)
	}
	return st.addPort(lp), nil
}

// ensureRouter reads a router, its ports (a tier-0's uplinks and downlinks only: its link ports
// grow with the number of tier-1s and are taken as the links on the path name them, from the
// first page tier0Hint read or one by one), the peers of its link ports, its static routes and a
// tier-1's advertisement.
func (st *state) ensureRouter(ctx context.Context, id string) error {
	if id == "" || st.routerDone[id] {
		return nil
	}
	if st.policy != nil {
		// Policy routers are read as their segments and links name them; a peer's router is a tier-0.
		return st.ensurePolicyRouter(ctx, "/infra/tier-0s/"+id)
	}
	st.routerDone[id] = true
	lr, known := st.tier0s[id]
	if !known {
		var err error
		lr, err = fetch[lrouter](ctx, st.f, "/api/v1/logical-routers/"+url.PathEscape(id), nil)
		if err != nil {
			if pending(err) {
				// Its other reads need only its tier: read them with the GET.
				st.prefetchRouter(ctx, id)
			}
			if isNotFound(err) {
				st.warn("logical router %s is named by a router port but does not exist in NSX", id)
				return nil
			}
			return st.soft(err)
		}
	}
	r := lr.router()
	st.routers[id] = &r
	st.ver++
	for _, f := range portFilters(id, r.Tier) {
		rps, err := list[lrport](ctx, st.f, "/api/v1/logical-router-ports", f)
		if err := st.soft(err); err != nil {
			return err
		}
		for _, p := range rps {
			rp := st.addRouterPort(p)
			if rp.PeerRouterPort != "" {
				if _, err := st.getRouterPort(ctx, rp.PeerRouterPort); err != nil {
					return err
				}
			}
		}
	}
	return st.routing(ctx, id, r.Tier)
}
