package nsxtest

import (
	"net/http"
	"net/url"
	"slices"
)

// routeServices answers the load balancer and NAT reads of both APIs; handled is false for any
// other path. Lists page like every list; objects missing are the manager's 404.
func (s *Server) routeServices(p string, seg []string, q url.Values) (body any, code int, msg string, ok bool) {
	t := s.top
	mpLB := len(seg) >= 4 && seg[0] == "api" && seg[2] == "loadbalancer"
	polInfra := len(seg) >= 5 && seg[0] == "policy" && seg[3] == "infra"
	switch {
	case mpLB && len(seg) == 4 && seg[3] == "services":
		return handled(page(s, q, t.LbServices, func(x LbService) bool {
			v := q.Get("logical_router_id")
			return v == "" || (x.Attachment != nil && x.Attachment.TargetID == v)
		}))
	case mpLB && len(seg) >= 5 && seg[3] == "services":
		svc, ok := find(t.LbServices, func(x LbService) bool { return x.ID == seg[4] })
		if !ok {
			return handled(s.notFound(seg[4]))
		}
		return s.mpServiceRead(svc, seg[5:], q)
	case mpLB && len(seg) == 4 && seg[3] == "virtual-servers":
		return handled(pageOf(s, q, t.LbVirtualServers))
	case mpLB && len(seg) == 5 && seg[3] == "virtual-servers":
		return handled(one(t.LbVirtualServers, func(x LbVirtualServer) bool { return x.ID == seg[4] }, s.notFound, seg[4]))
	case mpLB && len(seg) == 4 && seg[3] == "pools":
		return handled(pageOf(s, q, t.LbPools))
	case mpLB && len(seg) == 5 && seg[3] == "pools":
		return handled(one(t.LbPools, func(x LbPool) bool { return x.ID == seg[4] }, s.notFound, seg[4]))
	case len(seg) >= 6 && seg[0] == "api" && seg[2] == "logical-routers" && seg[4] == "nat" && seg[5] == "rules":
		if _, ok := find(t.LogicalRouters, func(x LogicalRouter) bool { return x.ID == seg[3] }); !ok {
			return handled(s.notFound(seg[3]))
		}
		rules := t.NatRules[seg[3]]
		if len(seg) == 7 {
			return handled(one(rules, func(x NatRule) bool { return x.ID == seg[6] }, s.notFound, seg[6]))
		}
		if len(seg) == 6 {
			return handled(pageOf(s, q, rules))
		}
	case polInfra && seg[4] == "lb-services" && len(seg) == 5:
		return handled(pageOf(s, q, t.PolicyLBServices))
	case polInfra && seg[4] == "lb-services":
		svc, ok := find(t.PolicyLBServices, func(x LBService) bool { return x.ID == seg[5] })
		if !ok {
			return handled(s.notFound("/infra/lb-services/" + seg[5]))
		}
		return s.policyServiceRead(svc, seg[6:])
	case polInfra && seg[4] == "lb-virtual-servers" && len(seg) == 5:
		return handled(pageOf(s, q, t.PolicyLBVirtualServers))
	case polInfra && seg[4] == "lb-virtual-servers" && len(seg) == 6:
		return handled(one(t.PolicyLBVirtualServers, func(x LBVirtualServer) bool { return x.ID == seg[5] }, s.notFound, "/infra/lb-virtual-servers/"+seg[5]))
	case polInfra && seg[4] == "lb-pools" && len(seg) == 5:
		return handled(pageOf(s, q, t.PolicyLBPools))
	case polInfra && seg[4] == "lb-pools" && len(seg) == 6:
		return handled(one(t.PolicyLBPools, func(x LBPool) bool { return x.ID == seg[5] }, s.notFound, "/infra/lb-pools/"+seg[5]))
	case polInfra && (seg[4] == "tier-0s" || seg[4] == "tier-1s") && len(seg) >= 9 && seg[6] == "nat" && seg[8] == "nat-rules":
		gw := "/infra/" + seg[4] + "/" + seg[5]
		if !s.policyGatewayExists(seg[4], seg[5]) {
			return handled(s.notFound(gw))
		}
		if !slices.Contains(NATSections, seg[7]) {
			return handled(s.notFound(gw + "/nat/" + seg[7]))
		}
		parent := gw + "/nat/" + seg[7]
		if len(seg) == 10 {
			return handled(one(t.PolicyNatRules, func(x PolicyNatRule) bool { return x.ParentPath == parent && x.ID == seg[9] }, s.notFound, parent+"/nat-rules/"+seg[9]))
		}
		if len(seg) == 9 {
			return handled(page(s, q, t.PolicyNatRules, func(x PolicyNatRule) bool { return x.ParentPath == parent }))
		}
	}
	return nil, 0, "", false
}

func (s *Server) notFound(what string) (any, int, string) {
	return nil, http.StatusNotFound, "The requested object : " + what + " could not be found. Object identifiers are case sensitive."
}

func (s *Server) policyGatewayExists(kind, id string) bool {
	if kind == "tier-0s" {
		_, ok := find(s.top.Tier0s, func(x Tier0) bool { return x.ID == id })
		return ok
	}
	_, ok := find(s.top.Tier1s, func(x Tier1) bool { return x.ID == id })
	return ok
}

// mpServiceRead answers GET /api/v1/loadbalancer/services/<id>[/status|/pools/status|
// /pools/<p>/status|/virtual-servers/status|/virtual-servers/<vs>/status].
func (s *Server) mpServiceRead(svc LbService, rest []string, q url.Values) (any, int, string, bool) {
	switch {
	case len(rest) == 0:
		return handled(svc, 0, "")
	case len(rest) == 1 && rest[0] == "status":
		st := LbServiceStatus{ServiceID: svc.ID, ServiceStatus: serviceStatus(svc.Enabled, svc.Attachment != nil), LastUpdateTimestamp: statusTime}
		st.Pools = s.mpPoolStatuses(svc)
		st.VirtualServers = s.mpVSStatuses(svc)
		return handled(st, 0, "")
	case len(rest) == 2 && rest[0] == "pools" && rest[1] == "status":
		return handled(pageOf(s, q, s.mpPoolStatuses(svc)))
	case len(rest) == 3 && rest[0] == "pools" && rest[2] == "status":
		if _, ok := find(s.top.LbPools, func(x LbPool) bool { return x.ID == rest[1] }); !ok {
			return handled(s.notFound(rest[1]))
		}
		return handled(s.mpPoolStatus(svc, rest[1]), 0, "")
	case len(rest) == 2 && rest[0] == "virtual-servers" && rest[1] == "status":
		return handled(pageOf(s, q, s.mpVSStatuses(svc)))
	case len(rest) == 3 && rest[0] == "virtual-servers" && rest[2] == "status":
		for _, v := range s.mpVSStatuses(svc) {
			if v.VirtualServerID == rest[1] {
				return handled(v, 0, "")
			}
		}
		return handled(s.notFound(rest[1]))
	}
	return nil, 0, "", false
}

func serviceStatus(enabled, attached bool) string {
	switch {
	case !enabled:
		return "DISABLED"
	case !attached:
		return "DETACHED"
	}
	return "UP"
}

// poolsOf are the pool ids the service's virtual servers send to.
func (s *Server) poolsOf(vsIDs []string) []string {
	var out []string
	for _, v := range s.top.LbVirtualServers {
		if slices.Contains(vsIDs, v.ID) && v.PoolID != "" && !slices.Contains(out, v.PoolID) {
			out = append(out, v.PoolID)
		}
	}
	return out
}

func (s *Server) mpPoolStatus(svc LbService, pool string) LbPoolStatus {
	p, _ := find(s.top.LbPools, func(x LbPool) bool { return x.ID == pool })
	attached := svc.Attachment != nil && slices.Contains(s.poolsOf(svc.VirtualServerIDs), pool)
	st := LbPoolStatus{PoolID: pool, Status: poolStatus(s.top.MemberStates[pool], p.MinActiveMembers, attached), LastUpdateTimestamp: statusTime}
	if attached {
		st.Members = s.top.MemberStates[pool]
	}
	return st
}

func (s *Server) mpPoolStatuses(svc LbService) []LbPoolStatus {
	var out []LbPoolStatus
	for _, p := range s.poolsOf(svc.VirtualServerIDs) {
		out = append(out, s.mpPoolStatus(svc, p))
	}
	return out
}

// mpVSStatuses: a virtual server is as up as its pool, or DISABLED.
func (s *Server) mpVSStatuses(svc LbService) []LbVirtualServerStatus {
	var out []LbVirtualServerStatus
	for _, v := range s.top.LbVirtualServers {
		if !slices.Contains(svc.VirtualServerIDs, v.ID) {
			continue
		}
		st := "DISABLED"
		if v.Enabled {
			st = s.mpPoolStatus(svc, v.PoolID).Status
		}
		out = append(out, LbVirtualServerStatus{VirtualServerID: v.ID, Status: st, LastUpdateTimestamp: statusTime})
	}
	return out
}

// policyServiceRead answers GET /policy/api/v1/infra/lb-services/<id>[/detailed-status|
// /lb-pools/<p>/detailed-status] (a virtual server's own detailed-status is not served).
func (s *Server) policyServiceRead(svc LBService, rest []string) (any, int, string, bool) {
	mp, _ := find(s.top.LbServices, func(x LbService) bool { return x.ID == svc.ID })
	mp.Enabled, mp.Attachment = svc.Enabled, nil
	if svc.ConnectivityPath != "" {
		mp.Attachment = &ResourceReference{TargetID: svc.ConnectivityPath}
	}
	mp.VirtualServerIDs = nil
	for _, v := range s.top.PolicyLBVirtualServers {
		if v.LBServicePath == svc.Path {
			mp.VirtualServerIDs = append(mp.VirtualServerIDs, v.ID)
		}
	}
	poolStatus := func(id string) LBPoolStatus {
		st := s.mpPoolStatus(mp, id)
		return LBPoolStatus{ResourceType: "LBPoolStatus", EnforcementPointPath: EnforcementPoint, PoolPath: "/infra/lb-pools/" + id,
			Status: st.Status, Members: st.Members, LastUpdateTimestamp: statusTime}
	}
	switch {
	case len(rest) == 0:
		return handled(svc, 0, "")
	case len(rest) == 1 && rest[0] == "detailed-status":
		st := LBServiceStatus{ResourceType: "LBServiceStatus", EnforcementPointPath: EnforcementPoint, ServicePath: svc.Path,
			ServiceStatus: serviceStatus(svc.Enabled, svc.ConnectivityPath != ""), LastUpdateTimestamp: statusTime}
		for _, p := range s.poolsOf(mp.VirtualServerIDs) {
			st.Pools = append(st.Pools, poolStatus(p))
		}
		for _, v := range s.mpVSStatuses(mp) {
			st.VirtualServers = append(st.VirtualServers, LBVirtualServerStatus{ResourceType: "LBVirtualServerStatus", EnforcementPointPath: EnforcementPoint,
				VirtualServerPath: "/infra/lb-virtual-servers/" + v.VirtualServerID, Status: v.Status, LastUpdateTimestamp: statusTime})
		}
		return handled(AggregateLBServiceStatus{IntentPath: svc.Path, Results: []LBServiceStatus{st}}, 0, "")
	case len(rest) == 3 && rest[0] == "lb-pools" && rest[2] == "detailed-status":
		if _, ok := find(s.top.PolicyLBPools, func(x LBPool) bool { return x.ID == rest[1] }); !ok {
			return handled(s.notFound("/infra/lb-pools/" + rest[1]))
		}
		return handled(AggregateLBPoolStatus{IntentPath: "/infra/lb-pools/" + rest[1], Results: []LBPoolStatus{poolStatus(rest[1])}}, 0, "")
	}
	return nil, 0, "", false
}

// serviceDocs are the load balancer and NAT objects the search API finds, for one API.
func serviceDocs(t *Topology, policy bool) []doc {
	if policy {
		return slices.Concat(docs(t.PolicyLBServices), docs(t.PolicyLBVirtualServers), docs(t.PolicyLBPools), docs(t.PolicyNatRules))
	}
	var nat []NatRule
	for _, id := range sortedRouterIDs(t.NatRules) {
		nat = append(nat, t.NatRules[id]...)
	}
	return slices.Concat(docs(t.LbServices), docs(t.LbVirtualServers), docs(t.LbPools), docs(nat))
}

func sortedRouterIDs(m map[string][]NatRule) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
