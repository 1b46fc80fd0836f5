package nsxtest

import (
	"fmt"
	"net/url"
	"strings"

	vb "github.com/vmware/vsphere-automation-sdk-go/runtime/bindings"
	mp "github.com/vmware/vsphere-automation-sdk-go/services/nsxt-mp/nsx/model"
	pm "github.com/vmware/vsphere-automation-sdk-go/services/nsxt/model"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// withServiceTypes adds the load balancer and NAT resource types a search result or a
// per-enforcement-point status list may hold.
func withServiceTypes(policy bool, m map[string]vb.BindingType) map[string]vb.BindingType {
	if policy {
		m["LBService"], m["LBVirtualServer"], m["LBPool"] = pm.LBServiceBindingType(), pm.LBVirtualServerBindingType(), pm.LBPoolBindingType()
		m["PolicyNatRule"] = pm.PolicyNatRuleBindingType()
		m["LBPoolStatus"], m["LBServiceStatus"] = pm.LBPoolStatusBindingType(), pm.LBServiceStatusBindingType()
		return m
	}
	m["LbService"], m["LbVirtualServer"], m["LbPool"] = mp.LbServiceBindingType(), mp.LbVirtualServerBindingType(), mp.LbPoolBindingType()
	m["NatRule"] = mp.NatRuleBindingType()
	return m
}

// serviceBindingFor names the binding of a load balancer or NAT read (the SDK's own operation
// output types: loadbalancer.ServicesGetOutputType, pools.StatusListOutputType, ...).
func serviceBindingFor(path string) (vb.BindingType, bool) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	last := seg[len(seg)-1]
	mpLB := len(seg) >= 4 && seg[0] == "api" && seg[2] == "loadbalancer"
	pol := len(seg) >= 5 && seg[0] == "policy" && seg[3] == "infra"
	switch {
	case mpLB && len(seg) == 4:
		return map[string]vb.BindingType{"services": mp.LbServiceListResultBindingType(), "virtual-servers": mp.LbVirtualServerListResultBindingType(),
			"pools": mp.LbPoolListResultBindingType()}[seg[3]], true
	case mpLB && len(seg) == 5:
		return map[string]vb.BindingType{"services": mp.LbServiceBindingType(), "virtual-servers": mp.LbVirtualServerBindingType(),
			"pools": mp.LbPoolBindingType()}[seg[3]], true
	case mpLB && len(seg) == 6 && last == "status":
		return mp.LbServiceStatusBindingType(), true
	case mpLB && len(seg) == 7 && last == "status" && seg[5] == "pools":
		return mp.LbPoolStatusListResultBindingType(), true
	case mpLB && len(seg) == 7 && last == "status":
		return mp.LbVirtualServerStatusListResultBindingType(), true
	case mpLB && len(seg) == 8 && seg[5] == "pools":
		return mp.LbPoolStatusBindingType(), true
	case mpLB && len(seg) == 8:
		return mp.LbVirtualServerStatusBindingType(), true
	case len(seg) == 6 && seg[2] == "logical-routers" && seg[4] == "nat":
		return mp.NatRuleListResultBindingType(), true
	case len(seg) == 7 && seg[2] == "logical-routers" && seg[4] == "nat":
		return mp.NatRuleBindingType(), true
	case pol && len(seg) == 5 && strings.HasPrefix(seg[4], "lb-"):
		return map[string]vb.BindingType{"lb-services": pm.LBServiceListResultBindingType(), "lb-virtual-servers": pm.LBVirtualServerListResultBindingType(),
			"lb-pools": pm.LBPoolListResultBindingType()}[seg[4]], true
	case pol && len(seg) == 6 && strings.HasPrefix(seg[4], "lb-"):
		return map[string]vb.BindingType{"lb-services": pm.LBServiceBindingType(), "lb-virtual-servers": pm.LBVirtualServerBindingType(),
			"lb-pools": pm.LBPoolBindingType()}[seg[4]], true
	case pol && len(seg) == 7 && seg[4] == "lb-services" && last == "detailed-status":
		return pm.AggregateLBServiceStatusBindingType(), true
	case pol && len(seg) == 9 && seg[4] == "lb-services" && seg[6] == "lb-pools" && last == "detailed-status":
		return pm.AggregateLBPoolStatusBindingType(), true
	case pol && len(seg) == 9 && seg[6] == "nat" && last == "nat-rules":
		return pm.PolicyNatRuleListResultBindingType(), true
	case pol && len(seg) == 10 && seg[6] == "nat":
		return pm.PolicyNatRuleBindingType(), true
	}
	return nil, false
}

// addTestServices gives a topology a LoadBalancer Service with a member down and a disabled one
// on its first tier-1, a UDP one, a namespace SNAT and a Service's ncp/snat_pool SNAT on its
// tier-0 (applied to an uplink), and a NO_SNAT on the tier-1: one of every object and state the
// server serves.
func addTestServices(t *Topology) {
	var t0, t1, uplink string
	for _, r := range t.LogicalRouters {
		switch {
		case r.RouterType == "TIER0" && t0 == "":
			t0 = r.ID
		case r.RouterType == "TIER1" && t1 == "":
			t1 = r.ID
		}
	}
	for _, p := range t.LogicalRouterPorts {
		if p.ResourceType == "LogicalRouterUpLinkPort" && p.LogicalRouterID == t0 {
			uplink = p.ID
		}
	}
	svc := func(name string) *trace.PodRef { return &trace.PodRef{Namespace: "default", Name: name} }
	t.AddLoadBalancer(trace.LoadBalancer{ID: "nginx_80_TCP_a1", Name: "nginx_80_TCP", Kind: trace.LBKindNSXVirtualServer, Protocol: "TCP",
		Routers: []string{t1}, Service: svc("nginx"), VIPs: []trace.LBVIP{{IP: "203.0.113.10", Port: 80, Pool: "nginx_80_TCP_a1", PoolName: "nginx_80_TCP",
			Backends: []trace.LBBackend{{IP: "172.16.0.2", Port: 8080, Name: "nginx-1", Status: trace.BackendUp},
				{IP: "172.16.0.6", Port: 8080, Name: "nginx-3", Status: trace.BackendDown, StatusDetail: "Connection refused"},
				{IP: "172.16.0.3", Port: 8080, Name: "nginx-2", Status: trace.BackendDisabled}}}}})
	t.AddLoadBalancer(trace.LoadBalancer{ID: "dns_53_UDP_a1", Name: "dns_53_UDP", Kind: trace.LBKindNSXVirtualServer, Protocol: "UDP",
		Routers: []string{t1}, Service: svc("dns"), VIPs: []trace.LBVIP{{IP: "203.0.113.11", Port: 53, Pool: "dns_53_UDP_a1",
			Backends: []trace.LBBackend{{IP: "172.16.0.9", Port: 53, Name: "dns-1", Status: trace.BackendUnknown}}}}})
	t.AddNATRule(trace.NATRule{ID: "snat-default", Name: "snat-default", Type: trace.NATSnat, Router: t0, Match: trace.NATMatch{Source: "172.16.0.0/24"},
		TranslatedIP: "203.0.113.20", Priority: 1024, Origin: &trace.NATOrigin{Kind: trace.NATOriginNamespace, Namespace: "default"}})
	t.AddNATRule(trace.NATRule{ID: "snat-default-redis", Name: "snat-default-redis", Type: trace.NATSnat, Router: t0, Match: trace.NATMatch{Source: "172.16.0.4"},
		TranslatedIP: "203.0.113.30", Priority: 1000, AppliedTo: []string{uplink},
		Origin: &trace.NATOrigin{Kind: trace.NATOriginSNATPool, Namespace: "default", Name: "snat-pool-1", Tags: map[string]string{ScopeService: "redis"}}})
	t.AddNATRule(trace.NATRule{ID: "no-snat-nodes", Name: "no-snat-nodes", Type: trace.NATNoSnat, Router: t1,
		Match: trace.NATMatch{Source: "172.16.0.0/24", Destination: "172.15.0.0/24"}, Priority: 10, Disabled: true})
}

// servedServices are the load balancer and NAT reads for top: every list, object and status,
// the filters, the search, and the 404s of a missing object or NAT section.
func servedServices(top *Topology) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, l := range []string{"services", "virtual-servers", "pools"} {
		add("/api/v1/loadbalancer/%s?page_size=1", l)
		add("/policy/api/v1/infra/lb-%s?page_size=1", l)
	}
	for _, x := range top.LbServices {
		add("/api/v1/loadbalancer/services/%s", x.ID)
		add("/api/v1/loadbalancer/services/%s/status", x.ID)
		add("/api/v1/loadbalancer/services/%s/pools/status?page_size=1", x.ID)
		add("/api/v1/loadbalancer/services/%s/virtual-servers/status", x.ID)
		if x.Attachment != nil {
			add("/api/v1/loadbalancer/services?logical_router_id=%s", x.Attachment.TargetID)
		}
		for _, p := range top.LbPools {
			add("/api/v1/loadbalancer/services/%s/pools/%s/status", x.ID, p.ID)
			add("/policy/api/v1/infra/lb-services/%s/lb-pools/%s/detailed-status", x.ID, p.ID)
		}
		for _, v := range x.VirtualServerIDs {
			add("/api/v1/loadbalancer/services/%s/virtual-servers/%s/status", x.ID, v)
		}
	}
	for _, x := range top.LbVirtualServers {
		add("/api/v1/loadbalancer/virtual-servers/%s", x.ID)
		add("/api/v1/search/query?query=%s", url.QueryEscape(`resource_type:LbVirtualServer AND ip_address:"`+x.IPAddress+`"`))
	}
	for _, x := range top.LbPools {
		add("/api/v1/loadbalancer/pools/%s", x.ID)
	}
	for _, x := range top.PolicyLBServices {
		add("/policy/api/v1%s", x.Path)
		add("/policy/api/v1%s/detailed-status", x.Path)
	}
	for _, x := range top.PolicyLBVirtualServers {
		add("/policy/api/v1%s", x.Path)
		add("/policy/api/v1/search/query?query=%s", url.QueryEscape(`resource_type:LBVirtualServer AND ip_address:"`+x.IPAddress+`" AND marked_for_delete:false`))
	}
	for _, x := range top.PolicyLBPools {
		add("/policy/api/v1%s", x.Path)
	}
	for _, r := range top.LogicalRouters {
		add("/api/v1/logical-routers/%s/nat/rules?page_size=1", r.ID)
		for _, x := range top.NatRules[r.ID] {
			add("/api/v1/logical-routers/%s/nat/rules/%s", r.ID, x.ID)
		}
		gw := top.routerPolicyPath(r.ID)
		for _, sec := range append(NATSections, "DEFAULT") {
			add("/policy/api/v1%s/nat/%s/nat-rules?page_size=1", gw, sec)
		}
	}
	for _, x := range top.PolicyNatRules {
		add("/policy/api/v1%s", x.Path)
	}
	add("/api/v1/loadbalancer/pools/no-such-pool")
	add("/api/v1/logical-routers/no-such-router/nat/rules")
	add("/policy/api/v1/infra/lb-services/no-such-service/detailed-status")
	return out
}
