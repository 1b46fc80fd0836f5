package nsx

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// serviceFacts are the load balancers and NAT rules one Collect read: the virtual servers on the
// query's Service addresses (fabric.Query.VIPs) and the NAT rules of the routers a path leaves
// the fabric through (an uplink): what a Service or an external walk needs, and nothing for a
// walk that stays inside.
type serviceFacts struct {
	// exits are the routers of paths that leave the fabric by an uplink, in the order followed.
	exits []string
	// outVia are the router|destination pairs whose path leaves by an uplink.
	outVia map[string]bool
	lbs    map[string]trace.LoadBalancer
	nat    map[string][]trace.NATRule
	// vips: the query named addresses that may be Services', so the walk needs to know where NCP
	// balances.
	vips bool
	// outDst are the destinations some path leaves the fabric toward; unboundWarns the warnings
	// about addresses without a port, said at the end unless the address is beyond the fabric.
	outDst       map[string]bool
	unboundWarns []unboundWarn
}

type unboundWarn struct {
	dst, msg string
}

// unbound warns that no port is bound to an endpoint's address, unless it is an address alone
// (no pod, no node) that a path leaves the fabric toward: an external destination has no port.
func (st *state) unbound(ep fabric.Endpoint, format string, args ...any) {
	if ep.Pod != nil || ep.Node != "" {
		st.warn(format, args...)
		return
	}
	st.services.unboundWarns = append(st.services.unboundWarns, unboundWarn{ep.IP.Unmap().String(), fmt.Sprintf(format, args...)})
}

// exitThrough records the routers a path toward dstKey went through before leaving by an uplink.
func (sf *serviceFacts) exitThrough(routers []string, dstKey string) {
	if sf.outVia == nil {
		sf.outVia, sf.outDst = map[string]bool{}, map[string]bool{}
	}
	sf.outDst[dstKey] = true
	for _, r := range routers {
		sf.outVia[r+"|"+dstKey] = true
		if !slices.Contains(sf.exits, r) {
			sf.exits = append(sf.exits, r)
		}
	}
}

// joined: a path toward dstKey that stopped at router rid, already followed from elsewhere,
// leaves the fabric when that one did.
func (sf *serviceFacts) joined(rid, dstKey string, routers []string) {
	if sf.outVia[rid+"|"+dstKey] {
		sf.exitThrough(routers, dstKey)
	}
}

// readServices reads the virtual servers on q's Service addresses (q.VIPs and every destination
// that is an address alone) and the NAT rules of the routers paths leave by; with q.All every virtual server and every router's NAT rules. Each is a
// constant number of requests: a search per address and four reads per virtual server, one list
// per router.
func (st *state) readServices(ctx context.Context, q fabric.Query, policy bool) error {
	sf := &st.services
	sf.lbs, sf.nat = map[string]trace.LoadBalancer{}, map[string][]trace.NATRule{}
	vips := slices.Clone(q.VIPs)
	for _, ep := range q.Destinations {
		// An address alone (a Service's ClusterIP or ingress, an IP target) may be a virtual server's.
		if ep.Pod == nil && ep.Node == "" && ep.IP.IsValid() {
			vips = append(vips, ep.IP.Unmap())
		}
	}
	sf.vips = len(vips) > 0
	if q.All {
		vips = nil // allVirtualServers lists every virtual server: none is searched by address
	}
	slices.SortFunc(vips, netip.Addr.Compare)
	vips = slices.Compact(vips)
	served := map[string]bool{}
	for _, vip := range vips {
		found, err := st.virtualServers(ctx, vip, policy)
		if err := st.soft(err); err != nil {
			return err
		}
		for _, v := range found {
			lb := v.loadBalancer()
			sf.lbs[lb.ID] = lb
			served[vip.String()] = true
		}
	}
	for _, u := range sf.unboundWarns {
		// No port is bound to a virtual server's address, nor to one beyond the fabric.
		if !sf.outDst[u.dst] && !served[u.dst] {
			st.warn("%s", u.msg)
		}
	}
	routers := sf.exits
	if q.All {
		routers = sortedKeys(st.routers)
		if err := st.allVirtualServers(ctx, policy); err != nil {
			return err
		}
	}
	for _, id := range routers {
		r := st.routers[id]
		if r == nil {
			continue
		}
		rules, err := st.natRules(ctx, r, policy)
		if err := st.soft(err); err != nil {
			return err
		}
		for _, nr := range rules {
			sf.nat[id] = append(sf.nat[id], nr.model(id))
		}
	}
	return nil
}

// allVirtualServers reads every virtual server for collect cluster from lists, not object by
// object: the virtual servers, the pools and the LB services, and each LB service's pool
// statuses (MP pools/status, Policy detailed-status): a few pages and one read per LB service.
func (st *state) allVirtualServers(ctx context.Context, policy bool) error {
	base, vsPath, poolPath, svcPath := "", "/api/v1/loadbalancer/virtual-servers", "/api/v1/loadbalancer/pools", "/api/v1/loadbalancer/services"
	if policy {
		base, vsPath, poolPath, svcPath = "/policy/api/v1", "/policy/api/v1/infra/lb-virtual-servers", "/policy/api/v1/infra/lb-pools", "/policy/api/v1/infra/lb-services"
	}
	vss, err := list[lbVirtualServer](ctx, st.f, vsPath, nil)
	if err := st.soft(err); err != nil || len(vss) == 0 {
		return err
	}
	pools, err := list[lbPool](ctx, st.f, poolPath, nil)
	if err := st.soft(err); err != nil {
		return err
	}
	svcs, err := list[lbService](ctx, st.f, svcPath, nil)
	if err := st.soft(err); err != nil {
		return err
	}
	poolByID := map[string]*lbPool{}
	for i := range pools {
		poolByID[pools[i].ID] = &pools[i]
	}
	// Each pool's status on the LB service serving it, by pool id.
	status, svcOf := map[string]*lbPoolStatus{}, map[string]*lbService{}
	for i := range svcs {
		svc := &svcs[i]
		var sts []lbPoolStatus
		if policy {
			var agg aggregateServiceStatus
			agg, err = fetch[aggregateServiceStatus](ctx, st.f, base+svc.Path+"/detailed-status", nil)
			for _, r := range agg.Results {
				sts = append(sts, r.Pools...)
			}
		} else {
			sts, err = list[lbPoolStatus](ctx, st.f, svcPath+"/"+url.PathEscape(svc.ID)+"/pools/status", nil)
		}
		if err := st.soft(err); err != nil {
			return err
		}
		for j := range sts {
			id := cmp.Or(sts[j].PoolID, lastElem(sts[j].PoolPath))
			status[id] = &sts[j]
		}
		for _, vid := range svc.VirtualServerIDs {
			svcOf[vid] = svc
		}
		for _, vs := range vss {
			if policy && vs.LBServicePath == svc.Path {
				svcOf[vs.ID] = svc
			}
		}
	}
	for _, vs := range vss {
		v := virtualServer{vs: vs, protocol: vs.protocolOf()}
		if pool := cmp.Or(vs.PoolID, lastElem(vs.PoolPath)); pool != "" {
			v.pool, v.status = poolByID[pool], status[pool]
		}
		if svc := svcOf[vs.ID]; svc != nil {
			v.service, v.router = svc, lastElem(svc.ConnectivityPath)
			if svc.Attachment != nil {
				v.router = string(*svc.Attachment)
			}
		}
		lb := v.loadBalancer()
		st.services.lbs[lb.ID] = lb
	}
	return nil
}

// fill adds the load balancers (by id), the NAT rules (by router, in the order each router tries
// them) and where NCP balances Services to the fabric.
func (sf *serviceFacts) fill(f *trace.Fabric) {
	if sf.vips {
		// NCP balances ClusterIP and NodePort traffic in the source node's OVS (nsx-kube-proxy);
		// an address a virtual server answers on is balanced there instead (the walk checks it).
		f.ServiceLoadBalancing = trace.LBNodeOVS
	}
	for _, id := range sortedKeys(sf.lbs) {
		f.LoadBalancers = append(f.LoadBalancers, sf.lbs[id])
	}
	for _, id := range sortedKeys(sf.nat) {
		f.NATRules = append(f.NATRules, sf.nat[id]...)
	}
}

// loadBalancer maps a virtual server to the model: one VIP per port, each sending to the pool's
// members with their monitored states. A member without a port takes the virtual server's
// default_pool_member_ports, else the VIP's port (what the load balancer does).
func (v virtualServer) loadBalancer() trace.LoadBalancer {
	lb := trace.LoadBalancer{ID: v.vs.ID, Name: v.vs.DisplayName, Kind: trace.LBKindNSXVirtualServer, Protocol: v.protocol, Source: trace.SourceNSX}
	if v.router != "" {
		lb.Routers = []string{v.router}
	}
	if name := tagValue(v.vs.Tags, "ncp/service"); name != "" {
		lb.Service = &trace.PodRef{Namespace: tagValue(v.vs.Tags, "ncp/project"), Name: name}
	}
	on := enabled(v.vs.Enabled) && (v.service == nil || enabled(v.service.Enabled))
	lb.Enabled = &on
	pool := cmp.Or(v.vs.PoolID, lastElem(v.vs.PoolPath))
	switch {
	case pool == "":
		lb.Warnings = append(lb.Warnings, v.describe()+" has no pool: it answers nothing")
	case v.pool == nil:
		lb.Warnings = append(lb.Warnings, v.describe()+": its pool "+pool+" could not be read")
	case v.status == nil:
		lb.Warnings = append(lb.Warnings, v.describe()+": the status of pool "+pool+" could not be read (no LB service lists it): member states unknown")
	}
	ports := v.vs.Ports
	if len(ports) == 0 {
		ports = []string{""}
	}
	for _, p := range ports {
		vip := trace.LBVIP{IP: v.vs.IPAddress, Port: firstPort(p), Pool: pool}
		if v.pool != nil {
			vip.PoolName = v.pool.DisplayName
			for _, m := range v.pool.Members {
				mport := cmp.Or(m.Port, first(v.vs.DefaultPoolMemberPorts), p)
				b := trace.LBBackend{IP: m.IPAddress, Port: firstPort(mport), Name: m.DisplayName, Status: trace.BackendUnknown}
				status, cause := v.memberState(m.IPAddress, m.Port)
				switch {
				case m.AdminState == "DISABLED" || m.AdminState == "GRACEFUL_DISABLED" || status == "DISABLED" || status == "GRACEFUL_DISABLED":
					b.Status = trace.BackendDisabled
					b.StatusDetail = "admin_state " + cmp.Or(m.AdminState, status)
				case status == "UP":
					b.Status = trace.BackendUp
				case status == "DOWN":
					b.Status, b.StatusDetail = trace.BackendDown, cmp.Or(cause, "the pool's health monitor says DOWN")
				case status != "":
					b.StatusDetail = "pool status says " + status
				}
				vip.Backends = append(vip.Backends, b)
			}
		}
		lb.VIPs = append(lb.VIPs, vip)
	}
	return lb
}

func first(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

// firstPort reads a port or the first port of a range ("8080", "8000-8090"); 0 when none.
func firstPort(s string) int {
	lo, _, _ := strings.Cut(s, "-")
	n, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil || n < 0 || n > 65535 {
		return 0
	}
	return n
}

// natTypes are NSX's NAT actions in the model's words.
var natTypes = map[string]string{"SNAT": trace.NATSnat, "DNAT": trace.NATDnat, "REFLEXIVE": trace.NATDnatAndSnat,
	"NO_SNAT": trace.NATNoSnat, "NO_DNAT": trace.NATNoDnat}

// model maps a NAT rule of router to the model; its origin is read from NCP's tags: a Service's
// ncp/snat_pool, else the namespace's ncp/project, else a cluster rule (ncp/cluster alone).
func (r natRule) model(router string) trace.NATRule {
	out := trace.NATRule{ID: r.ID, Name: r.DisplayName, Type: cmp.Or(natTypes[r.Action], strings.ToLower(r.Action)), Router: router,
		Match:        trace.NATMatch{Source: strings.Join(r.sources(), ","), Destination: strings.Join(r.destinations(), ",")},
		TranslatedIP: r.TranslatedNetwork, TranslatedPorts: r.TranslatedPorts, Priority: r.priority(), Disabled: !enabled(r.Enabled), Source: trace.SourceNSX}
	for _, a := range r.AppliedTos {
		out.AppliedTo = append(out.AppliedTo, string(a))
	}
	// Policy scope holds the interfaces' paths: a Policy router port's id is its path.
	out.AppliedTo = append(out.AppliedTo, r.Scope...)
	tags := map[string]string{}
	for _, t := range r.Tags {
		tags[t.Scope] = t.Tag
	}
	var o *trace.NATOrigin
	switch {
	case tags["ncp/snat_pool"] != "":
		o = &trace.NATOrigin{Kind: trace.NATOriginSNATPool, Namespace: tags["ncp/project"], Name: tags["ncp/snat_pool"]}
	case tags["ncp/project"] != "":
		o = &trace.NATOrigin{Kind: trace.NATOriginNamespace, Namespace: tags["ncp/project"]}
	case tags["ncp/cluster"] != "":
		o = &trace.NATOrigin{Kind: trace.NATOriginCluster}
	}
	if o != nil {
		o.Tags = tags
		out.Origin = o
	}
	return out
}
