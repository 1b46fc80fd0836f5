package nsx

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Policy API shapes (Segment, SegmentPort, Tier0, Tier1, StaticRoutes, Tier0Interface,
// GenericPolicyRealizedResource), the fields a walk uses.

type segment struct {
	ID               string `json:"id"`
	Path             string `json:"path"`
	DisplayName      string `json:"display_name"`
	ConnectivityPath string `json:"connectivity_path"`
	Subnets          []struct {
		GatewayAddress string `json:"gateway_address"`
		Network        string `json:"network"`
	} `json:"subnets"`
}

type segmentPort struct {
	ID          string `json:"id"`
	ParentPath  string `json:"parent_path"`
	DisplayName string `json:"display_name"`
	AdminState  string `json:"admin_state"`
	Attachment  *struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		ContextID  string `json:"context_id"`
		TrafficTag *int   `json:"traffic_tag"`
	} `json:"attachment"`
	AddressBindings []binding `json:"address_bindings"`
	Tags            []tag     `json:"tags"`
}

type tier struct {
	ID                      string   `json:"id"`
	Path                    string   `json:"path"`
	DisplayName             string   `json:"display_name"`
	Tier0Path               string   `json:"tier0_path"`
	RouteAdvertisementTypes []string `json:"route_advertisement_types"`
}

type policyRoute struct {
	Network  string `json:"network"`
	NextHops []struct {
		IPAddress string `json:"ip_address"`
	} `json:"next_hops"`
}

type policyInterface struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Type        string `json:"type"`
	SegmentPath string `json:"segment_path"`
	Subnets     []struct {
		IPAddresses []string `json:"ip_addresses"`
		PrefixLen   int      `json:"prefix_len"`
	} `json:"subnets"`
}

type localeServices struct {
	ID string `json:"id"`
}

type realizedEntity struct {
	EntityType                    string `json:"entity_type"`
	RealizationSpecificIdentifier string `json:"realization_specific_identifier"`
}

// policyState maps management-plane router ids (of the realized link ports) to Policy ids, and
// keeps the parent path a CHILD segment port names as its context.
type policyState struct {
	routerOfMP map[string]string
	context    map[string]string
}

// switchPort maps a SegmentPort. A CHILD attachment's context_id is the parent's VIF id when the
// parent is on the same segment, else the parent's policy path (PortAttachment's doc in the
// nsxt v0.12.0 bindings): a path names the parent port (ParentPort), and its VIF id is filled in
// once the parent is read.
func (sp segmentPort) switchPort() trace.SwitchPort {
	lp := lport{ID: sp.ID, DisplayName: sp.DisplayName, LogicalSwitchID: path.Base(sp.ParentPath), AdminState: sp.AdminState,
		AddressBindings: sp.AddressBindings, Tags: sp.Tags}
	out := lp.switchPort()
	out.Type = trace.PortVIF
	if a := sp.Attachment; a != nil {
		out.AttachmentID = a.ID
		if a.Type == "CHILD" {
			out.Type, out.TrafficTag = trace.PortChild, a.TrafficTag
			if strings.HasPrefix(a.ContextID, "/") {
				out.ParentPort = path.Base(a.ContextID)
			} else {
				out.ParentVIF = a.ContextID
			}
		}
	}
	return out
}

// putSegmentPort adds a segment port read from the manager.
func (st *state) putSegmentPort(p segmentPort) *trace.SwitchPort {
	if a := p.Attachment; a != nil && a.Type == "CHILD" && strings.HasPrefix(a.ContextID, "/") {
		st.policy.context[p.ID] = a.ContextID
	}
	return st.putPort(p.switchPort())
}

// contextOf is the parent path a CHILD segment port names ("" for a Management API port).
func (st *state) contextOf(sp *trace.SwitchPort) string {
	if st.policy == nil {
		return ""
	}
	return st.policy.context[sp.ID]
}

// pathOf is a segment port's policy path.
func (st *state) pathOf(sp *trace.SwitchPort) string {
	return "/infra/segments/" + sp.Switch + "/ports/" + sp.ID
}

// policyPortByPath reads the parent a CHILD port names by path, and gives the child its VIF id.
func (st *state) policyPortByPath(ctx context.Context, child *trace.SwitchPort, p string) (*trace.SwitchPort, error) {
	sp, err := fetch[segmentPort](ctx, st.f, "/policy/api/v1"+p, nil)
	if err != nil {
		if isNotFound(err) {
			st.warn("segment port %s is named as the parent of %s but does not exist in NSX", p, child.ID)
			return nil, nil
		}
		return nil, st.soft(err)
	}
	par := st.putSegmentPort(sp)
	if c := st.ports[child.ID]; c != nil && c.ParentVIF != par.AttachmentID {
		cp := *c
		cp.ParentVIF = par.AttachmentID
		st.ports[child.ID] = &cp
		st.ver++
	}
	return par, nil
}

// searchSegmentPorts searches segment ports; as nsxlib and terraform-provider-nsxt do, Policy
// searches leave out objects marked for deletion.
func (st *state) searchSegmentPorts(ctx context.Context, terms ...string) ([]*trace.SwitchPort, error) {
	q := url.Values{"query": {strings.Join(append(append([]string{"resource_type:SegmentPort"}, terms...), "marked_for_delete:false"), " AND ")}}
	res, err := list[segmentPort](ctx, st.f, "/policy/api/v1/search/query", q)
	found := make([]*trace.SwitchPort, 0, len(res))
	for _, p := range res {
		found = append(found, st.putSegmentPort(p))
	}
	sort.Slice(found, func(i, j int) bool { return found[i].ID < found[j].ID })
	return found, st.soft(err)
}

// runPolicy is the Policy API collection: segments, segment ports (CHILD attachments with
// context_id and traffic_tag), tier-1s and tier-0s, their static routes and uplink interfaces.
// Router links are not Policy objects: their addresses come from the realized logical router's
// link port (realized-state, then the management plane's logical-router-ports).
func (st *state) runPolicy(ctx context.Context, q fabric.Query) error {
	st.policy = &policyState{routerOfMP: map[string]string{}, context: map[string]string{}}
	if q.All {
		return st.allPolicy(ctx)
	}
	all := append(append([]fabric.Endpoint{}, q.Sources...), q.Destinations...)
	st.batchNames(all)
	if st.wholeInventory {
		st.inventoryVIFs(ctx) // beside the first searches: its pages are sequential
	}
	if len(all) > 0 {
		st.overlayHint(ctx)
	}
	eps := make([]*trace.SwitchPort, len(all))
	ips := make([]netip.Addr, len(all))
	for i, ep := range all {
		ips[i] = ep.IP
		if ep.Pod == nil && ep.Node != "" {
			sp, ip, err := st.endpoint(ctx, ep) // a node: by its tag and learned addresses
			if err != nil {
				return err
			}
			eps[i], ips[i] = sp, ip
			continue
		}
		if !ep.IP.IsValid() {
			continue
		}
		found, err := st.searchSegmentPorts(ctx, "address_bindings.ip_address:"+quote(ep.IP.Unmap().String()))
		if err != nil {
			return err
		}
		sp := st.bestPort(ep, found)
		if sp == nil {
			sp = st.bestPort(ep, st.sortedPorts()) // not among what the search found: among every port read
		}
		if sp == nil {
			st.unbound(ep, "no NSX segment port is bound to %s", ep.IP)
			continue
		}
		eps[i] = sp
		if err := st.around(ctx, sp); err != nil {
			return err
		}
	}
	if err := st.followPairs(ctx, q, eps, ips); err != nil {
		return err
	}
	if err := st.readOverlay(ctx, eps); err != nil {
		return err
	}
	for _, n := range q.Nodes {
		if err := st.node(ctx, n); err != nil {
			return err
		}
	}
	st.fillParents()
	return nil
}

// allPolicy reads the whole fabric through the Policy API: every segment with its gateway and
// ports, every tier-1 and tier-0 with what ensurePolicyRouter reads, and the VM NICs' addresses
// from the fabric inventory.
func (st *state) allPolicy(ctx context.Context) error {
	st.allPorts = true
	segs, err := list[segment](ctx, st.f, "/policy/api/v1/infra/segments", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, sg := range segs {
		if err := st.ensureSegment(ctx, sg.ID); err != nil {
			return err
		}
		ports, err := list[segmentPort](ctx, st.f, "/policy/api/v1/infra/segments/"+url.PathEscape(sg.ID)+"/ports", nil)
		if err := st.soft(err); err != nil {
			return err
		}
		for _, p := range ports {
			st.putSegmentPort(p)
		}
	}
	for _, kind := range []string{"tier-0s", "tier-1s"} {
		ts, err := list[tier](ctx, st.f, "/policy/api/v1/infra/"+kind, nil)
		if err := st.soft(err); err != nil {
			return err
		}
		for _, t := range ts {
			if err := st.ensurePolicyRouter(ctx, "/infra/"+kind+"/"+t.ID); err != nil {
				return err
			}
		}
	}
	st.fillParents()
	if err := st.inventory(ctx); err != nil {
		return err
	}
	return st.allOverlay(ctx)
}

// fillParents gives CHILD ports that name their parent by path the parent's VIF id.
func (st *state) fillParents() {
	for _, sp := range st.sortedPorts() {
		if par := st.ports[sp.ParentPort]; par != nil && sp.ParentVIF == "" && par.AttachmentID != "" {
			cp := *sp
			cp.ParentVIF = par.AttachmentID
			st.ports[sp.ID] = &cp
			st.ver++
		}
	}
}

// ensureSegment reads a segment: the switch, and its gateway (connectivity_path + gateway_address)
// as a downlink of that tier-1/tier-0 with the switch-side port linking the two.
func (st *state) ensureSegment(ctx context.Context, id string) error {
	if id == "" || st.switchDone[id] {
		return nil
	}
	st.switchDone[id] = true
	vdrMAC, err := st.vdrMAC(ctx) // beside the segment's read
	if err := st.soft(err); err != nil {
		return err
	}
	sg, err := fetch[segment](ctx, st.f, "/policy/api/v1/infra/segments/"+url.PathEscape(id), nil)
	if err != nil {
		return st.soft(err)
	}
	sw := &trace.Switch{ID: sg.ID, Name: sg.DisplayName, Source: trace.SourceNSX}
	st.switches[id] = sw
	st.ver++
	if sg.ConnectivityPath == "" {
		return nil
	}
	rid := path.Base(sg.ConnectivityPath)
	rp := &trace.RouterPort{ID: sg.Path + "/gateway", Name: sg.DisplayName + "-gateway", Router: rid, Kind: trace.RouterPortDownlink,
		LinkedSwitchPort: sg.Path + "/gateway-port", MAC: vdrMAC, Source: trace.SourceNSX}
	for _, s := range sg.Subnets {
		if s.GatewayAddress != "" {
			rp.Networks = append(rp.Networks, s.GatewayAddress)
		}
	}
	st.ver++
	st.rports[rp.ID] = rp
	st.ports[rp.LinkedSwitchPort] = &trace.SwitchPort{ID: rp.LinkedSwitchPort, Name: sg.DisplayName + "-gateway-port", Switch: id, Type: trace.PortRouter, RouterPort: rp.ID, Source: trace.SourceNSX}
	return st.ensurePolicyRouter(ctx, sg.ConnectivityPath)
}

// ensurePolicyRouter reads a tier-1 or tier-0 by its Policy path.
func (st *state) ensurePolicyRouter(ctx context.Context, p string) error {
	id := path.Base(p)
	if st.routerDone[id] {
		return nil
	}
	st.routerDone[id] = true
	t, err := fetch[tier](ctx, st.f, "/policy/api/v1"+p, nil)
	if pending(err) {
		// What does not depend on the router's body: read it with the GET.
		_, _ = list[policyRoute](ctx, st.f, "/policy/api/v1"+p+"/static-routes", nil)
		_, _ = list[realizedEntity](ctx, st.f, "/policy/api/v1/infra/realized-state/realized-entities", url.Values{"intent_path": {p}})
		if strings.HasPrefix(p, "/infra/tier-0s/") {
			_, _ = list[localeServices](ctx, st.f, "/policy/api/v1"+p+"/locale-services", nil)
		}
	}
	if err != nil {
		return st.soft(err)
	}
	r := &trace.Router{ID: id, Name: t.DisplayName, Tier: trace.Tier1, Source: trace.SourceNSX}
	if strings.HasPrefix(p, "/infra/tier-0s/") {
		r.Tier = trace.Tier0
	}
	st.routers[id] = r
	st.ver++
	srs, err := list[policyRoute](ctx, st.f, "/policy/api/v1"+p+"/static-routes", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, sr := range srs {
		st.static[id] = append(st.static[id], staticRoute{Network: sr.Network, NextHops: sr.NextHops})
		st.ver++
	}
	if r.Tier == trace.Tier0 {
		if err := st.tier0Interfaces(ctx, p, id); err != nil {
			return err
		}
		return st.realize(ctx, p, id, "")
	}
	a := &advertisement{Enabled: len(t.RouteAdvertisementTypes) > 0}
	for _, ty := range t.RouteAdvertisementTypes {
		a.AdvertiseNSXConnectedRoutes = a.AdvertiseNSXConnectedRoutes || ty == "TIER1_CONNECTED"
		a.AdvertiseStaticRoutes = a.AdvertiseStaticRoutes || ty == "TIER1_STATIC_ROUTES"
	}
	st.adv[id] = a
	st.ver++
	if t.Tier0Path == "" {
		return nil
	}
	if err := st.realize(ctx, t.Tier0Path, path.Base(t.Tier0Path), ""); err != nil {
		return err
	}
	return st.realize(ctx, p, id, "LogicalRouterLinkPortOnTIER1")
}

// tier0Interfaces reads a tier-0's interfaces under each of its locale services (their ids are
// chosen at creation: listed, never assumed "default"). EXTERNAL interfaces are uplinks, SERVICE
// interfaces connect a segment (downlinks); LOOPBACK ones carry no path and are left out.
func (st *state) tier0Interfaces(ctx context.Context, p, id string) error {
	lss, err := list[localeServices](ctx, st.f, "/policy/api/v1"+p+"/locale-services", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, ls := range lss {
		base := p + "/locale-services/" + ls.ID
		ifs, err := list[policyInterface](ctx, st.f, "/policy/api/v1"+base+"/interfaces", nil)
		if err := st.soft(err); err != nil {
			return err
		}
		for _, in := range ifs {
			kind := trace.RouterPortUplink
			switch in.Type {
			case "LOOPBACK":
				continue
			case "SERVICE":
				kind = trace.RouterPortDownlink
			}
			rp := &trace.RouterPort{ID: base + "/interfaces/" + in.ID, Name: in.DisplayName, Router: id, Kind: kind, Source: trace.SourceNSX}
			for _, s := range in.Subnets {
				for _, a := range s.IPAddresses {
					if ad, err := netip.ParseAddr(a); err == nil {
						rp.Networks = append(rp.Networks, netip.PrefixFrom(ad, s.PrefixLen).String())
					}
				}
			}
			if in.SegmentPath != "" && kind == trace.RouterPortDownlink {
				rp.LinkedSwitchPort = in.SegmentPath + "/gateway-port"
			}
			st.ver++
			st.rports[rp.ID] = rp
		}
	}
	return nil
}

// realize maps a Policy router to its management-plane logical router and, with linkType, reads
// that router's link ports and their peers, renamed to the Policy router ids.
func (st *state) realize(ctx context.Context, p, id, linkType string) error {
	res, err := list[realizedEntity](ctx, st.f, "/policy/api/v1/infra/realized-state/realized-entities", url.Values{"intent_path": {p}})
	if err := st.soft(err); err != nil {
		return err
	}
	var mp string
	for _, e := range res {
		if e.EntityType == "RealizedLogicalRouter" {
			mp = e.RealizationSpecificIdentifier
		}
	}
	if mp == "" {
		st.warn("%s is not realized as a logical router: its router links are unknown", p)
		return nil
	}
	st.policy.routerOfMP[mp] = id
	if linkType == "" {
		return nil
	}
	rps, err := list[lrport](ctx, st.f, "/api/v1/logical-router-ports", url.Values{"logical_router_id": {mp}, "resource_type": {linkType}})
	if err := st.soft(err); err != nil {
		return err
	}
	for _, lp := range rps {
		rp := st.addRouterPort(lp)
		rp.Router = id
		if rp.PeerRouterPort != "" {
			peer, err := st.getRouterPort(ctx, rp.PeerRouterPort)
			if err != nil {
				return err
			}
			if peer != nil {
				if pid, ok := st.policy.routerOfMP[peer.Router]; ok {
					peer.Router = pid
				} else if peer.Router != "" {
					err := errors.New("the tier-0 of " + p + " is not realized")
					st.warn("%v", err)
				}
			}
		}
	}
	return nil
}
