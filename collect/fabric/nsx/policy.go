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
	AddressBindings []struct {
		IPAddress  string `json:"ip_address"`
		MACAddress string `json:"mac_address"`
	} `json:"address_bindings"`
	Tags []tag `json:"tags"`
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
	Subnets     []struct {
		IPAddresses []string `json:"ip_addresses"`
		PrefixLen   int      `json:"prefix_len"`
	} `json:"subnets"`
}

type realizedEntity struct {
	EntityType                    string `json:"entity_type"`
	RealizationSpecificIdentifier string `json:"realization_specific_identifier"`
}

// policyState maps management-plane router ids (of the realized link ports) to Policy ids.
type policyState struct {
	routerOfMP map[string]string
}

func (sp segmentPort) switchPort() trace.SwitchPort {
	lp := lport{ID: sp.ID, DisplayName: sp.DisplayName, LogicalSwitchID: path.Base(sp.ParentPath), AdminState: sp.AdminState,
		AddressBindings: sp.AddressBindings, Tags: sp.Tags}
	out := lp.switchPort()
	out.Type = trace.PortVIF
	if a := sp.Attachment; a != nil {
		out.AttachmentID = a.ID
		if a.Type == "CHILD" {
			out.Type, out.ParentVIF, out.TrafficTag = trace.PortChild, a.ContextID, a.TrafficTag
		}
	}
	return out
}

func (st *state) searchSegmentPorts(ctx context.Context, terms ...string) ([]*trace.SwitchPort, error) {
	q := url.Values{"query": {strings.Join(append([]string{"resource_type:SegmentPort"}, terms...), " AND ")}}
	res, err := list[segmentPort](ctx, st.f, "/policy/api/v1/search/query", q)
	found := make([]*trace.SwitchPort, 0, len(res))
	for _, p := range res {
		sp := p.switchPort()
		st.ver++
		st.ports[sp.ID] = &sp
		found = append(found, &sp)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].ID < found[j].ID })
	return found, st.soft(err)
}

// runPolicy is the Policy API collection: segments, segment ports (CHILD attachments with
// context_id and traffic_tag), tier-1s and tier-0s, their static routes and uplink interfaces.
// Router links are not Policy objects: their addresses come from the realized logical router's
// link port (realized-state, then the management plane's logical-router-ports).
func (st *state) runPolicy(ctx context.Context, q fabric.Query) error {
	st.policy = &policyState{routerOfMP: map[string]string{}}
	if q.All || len(q.Nodes) > 0 {
		st.warn("--nsx-api policy reads the walk's paths only; use --nsx-api management for the whole fabric or a node's ports")
	}
	all := append(append([]fabric.Endpoint{}, q.Sources...), q.Destinations...)
	eps := make([]*trace.SwitchPort, len(all))
	ips := make([]netip.Addr, len(all))
	for i, ep := range all {
		if !ep.IP.IsValid() {
			continue
		}
		ips[i] = ep.IP
		found, err := st.searchSegmentPorts(ctx, "address_bindings.ip_address:"+quote(ep.IP.Unmap().String()))
		if err != nil {
			return err
		}
		sp := st.bestPort(ep, found)
		if sp == nil {
			sp = st.bestPort(ep, st.sortedPorts()) // not among what the search found: among every port read
		}
		if sp == nil {
			st.warn("no NSX segment port is bound to %s", ep.IP)
			continue
		}
		eps[i] = sp
		if sp.ParentVIF != "" && !st.attachDone[sp.ParentVIF] {
			st.attachDone[sp.ParentVIF] = true
			if _, err := st.searchSegmentPorts(ctx, "attachment.id:"+quote(sp.ParentVIF)); err != nil {
				return err
			}
			if _, err := st.searchSegmentPorts(ctx, "attachment.context_id:"+quote(sp.ParentVIF)); err != nil {
				return err
			}
		}
		if err := st.ensureSegment(ctx, sp.Switch); err != nil {
			return err
		}
	}
	return st.followPairs(ctx, q, eps, ips)
}

// ensureSegment reads a segment: the switch, and its gateway (connectivity_path + gateway_address)
// as a downlink of that tier-1/tier-0 with the switch-side port linking the two.
func (st *state) ensureSegment(ctx context.Context, id string) error {
	if id == "" || st.switchDone[id] {
		return nil
	}
	st.switchDone[id] = true
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
		LinkedSwitchPort: sg.Path + "/gateway-port", Source: trace.SourceNSX}
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
			_, _ = list[policyInterface](ctx, st.f, "/policy/api/v1"+p+"/locale-services/default/interfaces", nil)
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
		ifs, err := list[policyInterface](ctx, st.f, "/policy/api/v1"+p+"/locale-services/default/interfaces", nil)
		if err := st.soft(err); err != nil {
			return err
		}
		for _, in := range ifs {
			rp := &trace.RouterPort{ID: p + "/locale-services/default/interfaces/" + in.ID, Name: in.DisplayName, Router: id, Kind: trace.RouterPortUplink, Source: trace.SourceNSX}
			for _, s := range in.Subnets {
				for _, a := range s.IPAddresses {
					if ad, err := netip.ParseAddr(a); err == nil {
						rp.Networks = append(rp.Networks, netip.PrefixFrom(ad, s.PrefixLen).String())
					}
				}
			}
			st.ver++
			st.rports[rp.ID] = rp
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
