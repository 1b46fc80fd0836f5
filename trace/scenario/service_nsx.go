package scenario

import "github.com/packetwalk/kubectl-packetwalk/trace"

// NSX Service scenarios: default/web as a LoadBalancer Service that NCP realizes as an NSX load
// balancer virtual server on the default namespace's tier-1 (its pool holding the Service's
// endpoints, each with the state the edge's health monitor gives it), and a Service of kube-dns
// annotated ncp/snat_pool, whose SNAT rule comes before its namespace's.

const (
	// WebLBIP is default/web's LoadBalancer ingress: the virtual server's address.
	WebLBIP = "203.0.113.50"
	// WebVirtualServer is the id NCP gives the virtual server (and its pool).
	WebVirtualServer = "web_80_TCP_k3j9"
	// SNATPoolIP is the address kube-dns leaves with through its ncp/snat_pool rule.
	SNATPoolIP = "203.0.113.40"
)

// ServiceNSXLB is Service() with default/web of type LoadBalancer (ingress WebLBIP) and the NSX
// virtual server and pool NCP writes for it; states are the pool members' (nginx-3, redis-slave)
// health, up when not given.
func ServiceNSXLB(states ...string) *trace.Snapshot {
	s := Service()
	svc := &s.Cluster.Services[0]
	svc.Type, svc.LoadBalancerIPs = trace.ServiceLoadBalancer, []string{WebLBIP}
	on := true
	lb := trace.LoadBalancer{ID: WebVirtualServer, Name: "web_80_TCP", Kind: trace.LBKindNSXVirtualServer, Protocol: trace.ProtocolTCP,
		Routers: []string{"lr-t1-default"}, Service: &trace.PodRef{Namespace: "default", Name: "web"}, Enabled: &on, Source: trace.SourceNSX}
	vip := trace.LBVIP{IP: WebLBIP, Port: WebPort, Pool: WebVirtualServer, PoolName: "web_80_TCP"}
	for i, m := range []struct{ name, ip string }{{"nginx-3", "172.16.0.6"}, {"redis-slave", "172.16.0.7"}} {
		b := trace.LBBackend{IP: m.ip, Port: WebTargetPort, Name: m.name, Status: trace.BackendUp}
		if i < len(states) && states[i] == trace.BackendDown {
			b.Status, b.StatusDetail = trace.BackendDown, "Connection refused"
		}
		vip.Backends = append(vip.Backends, b)
	}
	lb.VIPs = []trace.LBVIP{vip}
	s.Fabric.LoadBalancers = []trace.LoadBalancer{lb}
	return s
}

// ServiceSNATPool is Service() with the SNAT rule NCP writes for a Service of kube-dns annotated
// ncp/snat_pool: kube-dns's address to SNATPoolIP, at a higher priority than its namespace's rule.
func ServiceSNATPool() *trace.Snapshot {
	s := Service()
	s.Fabric.NATRules = append(s.Fabric.NATRules, trace.NATRule{ID: "snat-kube-system-kube-dns", Name: "ncp-snat-kube-dns", Type: trace.NATSnat, Router: "lr-t0",
		Match: trace.NATMatch{Source: "172.16.1.2"}, TranslatedIP: SNATPoolIP, AppliedTo: []string{"lrp-t0-uplink-1"}, Priority: 1000,
		Origin: &trace.NATOrigin{Kind: trace.NATOriginSNATPool, Namespace: "kube-system", Name: "egress-pool-dns"}, Source: trace.SourceNSX})
	return s
}
