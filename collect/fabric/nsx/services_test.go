package nsx

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// The Service and NAT scenarios on the published cluster, as NCP writes them: a LoadBalancer
// Service "nginx" in default (VIP 203.0.113.10:80 on the default namespace's tier-1, its three
// pods as pool members), a SNAT rule per namespace on the tier-0, and a ncp/snat_pool rule for
// redis-master at a higher priority than its namespace's.

const (
	nginxVIP = "203.0.113.10"
	external = "198.51.100.7"
)

func nginxLB(down ...string) trace.LoadBalancer {
	on := true
	lb := trace.LoadBalancer{ID: "nginx_80_TCP_x1", Name: "nginx_80_TCP", Kind: trace.LBKindNSXVirtualServer, Protocol: trace.ProtocolTCP,
		Routers: []string{"lr-t1-default"}, Service: &trace.PodRef{Namespace: "default", Name: "nginx"}, Enabled: &on, Source: trace.SourceNSX}
	vip := trace.LBVIP{IP: nginxVIP, Port: 80, Pool: "nginx_80_TCP_x1", PoolName: "nginx_80_TCP"}
	for _, m := range []struct{ name, ip string }{{"nginx-1", "172.16.0.2"}, {"nginx-2", "172.16.0.3"}, {"nginx-3", "172.16.0.6"}} {
		b := trace.LBBackend{IP: m.ip, Port: 8080, Name: m.name, Status: trace.BackendUp}
		for _, d := range down {
			if d == m.name {
				b.Status, b.StatusDetail = trace.BackendDown, "Connection refused"
			}
		}
		vip.Backends = append(vip.Backends, b)
	}
	lb.VIPs = []trace.LBVIP{vip}
	return lb
}

// dnsLB is a UDP Service's virtual server: the Policy API has no protocol field, the provider
// reads it from NCP's ncp/service_port_protocol tag.
func dnsLB() trace.LoadBalancer {
	lb := nginxLB()
	lb.ID, lb.Name, lb.Protocol, lb.Service.Name = "dns_53_UDP_x1", "dns_53_UDP", trace.ProtocolUDP, "dns"
	lb.VIPs[0].IP, lb.VIPs[0].Port, lb.VIPs[0].Pool, lb.VIPs[0].PoolName = "203.0.113.11", 53, "dns_53_UDP_x1", "dns_53_UDP"
	for i := range lb.VIPs[0].Backends {
		lb.VIPs[0].Backends[i].Port = 5353
	}
	return lb
}

func snatRules(withPool bool, without ...string) []trace.NATRule {
	rule := func(id, src, to string, prio int, o trace.NATOrigin) trace.NATRule {
		o.Tags = map[string]string{"ncp/cluster": nsxtest.ClusterName, "ncp/project": o.Namespace}
		if o.Kind == trace.NATOriginSNATPool {
			o.Tags["ncp/snat_pool"] = o.Name
		}
		return trace.NATRule{ID: id, Name: id, Type: trace.NATSnat, Router: "lr-t0", Match: trace.NATMatch{Source: src}, TranslatedIP: to,
			Priority: prio, Origin: &o, Source: trace.SourceNSX}
	}
	var out []trace.NATRule
	if withPool {
		out = append(out, rule("snat-default-redis", "172.16.0.4", "203.0.113.30", 1000, trace.NATOrigin{Kind: trace.NATOriginSNATPool, Namespace: "default", Name: "egress-pool"}))
	}
	out = append(out,
		rule("snat-default", "172.16.0.0/24", "203.0.113.21", 1024, trace.NATOrigin{Kind: trace.NATOriginNamespace, Namespace: "default"}),
		rule("snat-kube-system", "172.16.1.0/24", "203.0.113.20", 1024, trace.NATOrigin{Kind: trace.NATOriginNamespace, Namespace: "kube-system"}))
	var kept []trace.NATRule
	for _, r := range out {
		if !contains(without, r.ID) {
			kept = append(kept, r)
		}
	}
	return kept
}

func podEndpoint(s *trace.Snapshot, ns, name string) fabric.Endpoint {
	for _, p := range s.Cluster.Pods {
		if p.Namespace == ns && p.Name == name {
			ref := trace.PodRef{Namespace: ns, Name: name}
			return fabric.Endpoint{IP: netip.MustParseAddr(p.IPs[0]), Node: p.Node, Pod: &ref}
		}
	}
	panic("no pod " + ns + "/" + name)
}

func asJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// Each scenario through either API: the provider reads back the load balancers and NAT rules
// the fabric has, no more (rules of routers the walk does not leave by stay unread), and a walk
// that stays inside the fabric reads none.
func TestServiceAndNATScenariosOverNSX(t *testing.T) {
	type tc struct {
		name          string
		lbs           []trace.LoadBalancer
		nat           []trace.NATRule
		src           [2]string
		dst           []fabric.Endpoint
		vips          []string
		wantLB        []trace.LoadBalancer
		wantNAT       []trace.NATRule
		wantNoNATRead bool
	}
	snap := scenario.Published()
	endpoints := []fabric.Endpoint{podEndpoint(snap, "default", "nginx-1"), podEndpoint(snap, "default", "nginx-2"), podEndpoint(snap, "default", "nginx-3")}
	out := []fabric.Endpoint{{IP: netip.MustParseAddr(external)}}
	cases := []tc{
		{name: "LoadBalancer Service via a virtual server", lbs: []trace.LoadBalancer{nginxLB()}, src: [2]string{"kube-system", "kube-dns"},
			dst: endpoints, vips: []string{nginxVIP}, wantLB: []trace.LoadBalancer{nginxLB()}, wantNoNATRead: true},
		{name: "UDP Service (Policy: protocol from NCP's tag)", lbs: []trace.LoadBalancer{dnsLB()}, src: [2]string{"kube-system", "kube-dns"},
			dst: endpoints[:1], vips: []string{"203.0.113.11"}, wantLB: []trace.LoadBalancer{dnsLB()}, wantNoNATRead: true},
		{name: "pool member down", lbs: []trace.LoadBalancer{nginxLB("nginx-3")}, src: [2]string{"kube-system", "kube-dns"},
			dst: endpoints, vips: []string{nginxVIP}, wantLB: []trace.LoadBalancer{nginxLB("nginx-3")}, wantNoNATRead: true},
		{name: "SNAT per namespace on the tier-0", nat: snatRules(false), src: [2]string{"kube-system", "kube-dns"}, dst: out, wantNAT: snatRules(false)},
		{name: "ncp/snat_pool before the namespace's rule", nat: snatRules(true), src: [2]string{"default", "redis-master"}, dst: out, wantNAT: snatRules(true)},
		{name: "missing SNAT rule", nat: snatRules(false, "snat-kube-system"), src: [2]string{"kube-system", "kube-dns"}, dst: out,
			wantNAT: snatRules(false, "snat-kube-system")},
		{name: "inside the fabric", lbs: []trace.LoadBalancer{nginxLB()}, nat: snatRules(true), src: [2]string{"kube-system", "kube-dns"},
			dst: endpoints[:1], wantNoNATRead: true},
	}
	for _, api := range []string{APIManagement, APIPolicy} {
		for _, c := range cases {
			t.Run(api+"/"+c.name, func(t *testing.T) {
				s := scenario.Published()
				s.Fabric.LoadBalancers, s.Fabric.NATRules = c.lbs, c.nat
				srv := nsxtest.New(nsxtest.FromFabric(s.Fabric), nsxtest.Options{Password: testPassword})
				defer srv.Close()
				p, _ := newTestProvider(t, srv, func(cfg *Config) { cfg.API = api })
				q := fabric.Query{Sources: []fabric.Endpoint{podEndpoint(s, c.src[0], c.src[1])}, Destinations: c.dst}
				for _, v := range c.vips {
					q.VIPs = append(q.VIPs, netip.MustParseAddr(v))
				}
				f, warns, err := p.Collect(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if len(warns) > 0 {
					t.Errorf("warnings %q (an external address has no port to warn about)", warns)
				}
				if a, b := asJSON(f.LoadBalancers), asJSON(c.wantLB); a != b {
					t.Errorf("load balancers read:\n%s\nwant:\n%s", a, b)
				}
				if a, b := asJSON(f.NATRules), asJSON(c.wantNAT); a != b {
					t.Errorf("NAT rules read:\n%s\nwant:\n%s", a, b)
				}
				nat := 0
				for path, n := range srv.RequestsByPath() {
					if strings.Contains(path, "/nat") {
						nat += n
					}
				}
				if c.wantNoNATRead && nat > 0 {
					t.Errorf("%d NAT reads for a walk that stays inside the fabric", nat)
				}
				if !c.wantNoNATRead && nat != 2 {
					t.Errorf("%d NAT reads, want the two routers' on the way out (the pod's tier-1 and the tier-0)", nat)
				}
			})
		}
	}
}

// How the load balancer reads fail as a manager's do: a manager without the search API (the
// virtual server and its LB service are found by listing), a 429 with Retry-After on the pool's
// status (waited for, then read), and a pool status that stays unreadable (the members' states
// are unknown, and the load balancer says why).
func TestLoadBalancerReadsFailLikeAManager(t *testing.T) {
	snap := scenario.Published()
	snap.Fabric.LoadBalancers = []trace.LoadBalancer{nginxLB("nginx-3")}
	q := fabric.Query{Sources: []fabric.Endpoint{podEndpoint(snap, "kube-system", "kube-dns")}, Destinations: []fabric.Endpoint{podEndpoint(snap, "default", "nginx-3")},
		VIPs: []netip.Addr{netip.MustParseAddr(nginxVIP)}}
	// The Policy API's collection needs the search API (segment ports): only the MP one lists instead.
	t.Run("management/no search API", func(t *testing.T) {
		s := nsxtest.New(nsxtest.FromFabric(snap.Fabric), nsxtest.Options{Password: testPassword, NoSearch: true})
		defer s.Close()
		p, _ := newTestProvider(t, s, func(c *Config) { c.API = APIManagement })
		f, _, err := p.Collect(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := asJSON(f.LoadBalancers), asJSON([]trace.LoadBalancer{nginxLB("nginx-3")}); a != b {
			t.Fatalf("without search:\n%s\nwant:\n%s", a, b)
		}
	})
	for _, api := range []string{APIManagement, APIPolicy} {
		t.Run(api+"/429 on the pool status", func(t *testing.T) {
			s := nsxtest.New(nsxtest.FromFabric(snap.Fabric), nsxtest.Options{Password: testPassword})
			defer s.Close()
			status := "/api/v1/loadbalancer/services/lbs-lr-t1-default/pools/"
			if api == APIPolicy {
				status = "/policy/api/v1/infra/lb-services/lbs-lr-t1-default/lb-pools/"
			}
			s.Inject(status, 1, nsxtest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "2"})
			fs := &fakeSleep{}
			p, _ := newTestProvider(t, s, func(c *Config) { c.API, c.Sleep = api, fs.sleep })
			f, warns, err := p.Collect(context.Background(), q)
			if err != nil || len(warns) != 0 {
				t.Fatalf("err %v, warnings %q", err, warns)
			}
			if a, b := asJSON(f.LoadBalancers), asJSON([]trace.LoadBalancer{nginxLB("nginx-3")}); a != b {
				t.Fatalf("after a 429:\n%s\nwant:\n%s", a, b)
			}
			if len(fs.waits) != 1 || fs.waits[0] != 2*time.Second {
				t.Fatalf("waits %v, want the 2s Retry-After once", fs.waits)
			}
		})
		t.Run(api+"/pool status unreadable", func(t *testing.T) {
			s := nsxtest.New(nsxtest.FromFabric(snap.Fabric), nsxtest.Options{Password: testPassword})
			defer s.Close()
			status := "/api/v1/loadbalancer/services/lbs-lr-t1-default/pools/"
			if api == APIPolicy {
				status = "/policy/api/v1/infra/lb-services/lbs-lr-t1-default/lb-pools/"
			}
			s.Inject(status, 100, nsxtest.Fault{Status: http.StatusInternalServerError})
			p, _ := newTestProvider(t, s, func(c *Config) { c.API, c.Retries = api, -1 })
			f, warns, err := p.Collect(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.LoadBalancers) != 1 || len(f.LoadBalancers[0].Warnings) != 1 || !strings.Contains(f.LoadBalancers[0].Warnings[0], "member states unknown") {
				t.Fatalf("load balancers %s", asJSON(f.LoadBalancers))
			}
			for _, b := range f.LoadBalancers[0].VIPs[0].Backends {
				if b.Status != trace.BackendUnknown {
					t.Errorf("backend %s is %s with its pool's status unread, want unknown", b.IP, b.Status)
				}
			}
			if !strings.Contains(strings.Join(warns, "\n"), "500") {
				t.Errorf("warnings %q do not say the manager answered 500", warns)
			}
		})
	}
}

// An address without a port inside the fabric is still warned about; one beyond it is not.
func TestUnboundAddressWarnedOnlyInsideTheFabric(t *testing.T) {
	snap := scenario.Published()
	for _, api := range []string{APIManagement, APIPolicy} {
		s := nsxtest.New(nsxtest.FromFabric(snap.Fabric), nsxtest.Options{Password: testPassword})
		p, _ := newTestProvider(t, s, func(c *Config) { c.API = api })
		q := fabric.Query{Sources: []fabric.Endpoint{podEndpoint(snap, "kube-system", "kube-dns")},
			Destinations: []fabric.Endpoint{{IP: netip.MustParseAddr("172.16.1.99")}, {IP: netip.MustParseAddr(external)}}}
		_, warns, err := p.Collect(context.Background(), q)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(warns) != 1 || !strings.Contains(warns[0], "bound to 172.16.1.99") {
			t.Errorf("%s: warnings %q, want one for 172.16.1.99 (in kube-system's subnet), none for %s", api, warns, external)
		}
	}
}

// collect cluster reads every load balancer from lists (virtual servers, pools, LB services and
// each service's pool statuses) and every router's NAT rules, in both APIs.
func TestAllReadsEveryLoadBalancerAndNATRule(t *testing.T) {
	snap := scenario.Published()
	second := nginxLB()
	second.ID, second.Name, second.Routers = "redis_6379_TCP_x2", "redis_6379_TCP", []string{"lr-t1-kube-system"}
	second.VIPs[0].IP, second.VIPs[0].Port, second.VIPs[0].Pool, second.VIPs[0].PoolName = "203.0.113.12", 6379, "redis_6379_TCP_x2", "redis_6379_TCP"
	lbs := []trace.LoadBalancer{nginxLB("nginx-3"), second}
	snap.Fabric.LoadBalancers, snap.Fabric.NATRules = lbs, snatRules(true)
	for _, api := range []string{APIManagement, APIPolicy} {
		s := nsxtest.New(nsxtest.FromFabric(snap.Fabric), nsxtest.Options{Password: testPassword, PageSize: 1})
		p, _ := newTestProvider(t, s, func(c *Config) { c.API, c.PageSize = api, 1 })
		// The Services' addresses (collect cluster --all-nodes names them): the lists hold every
		// virtual server already, none is searched by address.
		vip := netip.MustParseAddr(second.VIPs[0].IP)
		f, warns, err := p.Collect(context.Background(), fabric.Query{All: true, VIPs: []netip.Addr{vip}, Destinations: []fabric.Endpoint{{IP: vip}}})
		s.Close()
		if err != nil || len(warns) != 0 {
			t.Fatalf("%s: err %v, warnings %q", api, err, warns)
		}
		for path, n := range s.RequestsByPath() {
			if strings.HasSuffix(path, "/search/query") {
				t.Errorf("%s: %d searches (%s) beside the lists of every virtual server", api, n, path)
			}
		}
		if a, b := asJSON(f.LoadBalancers), asJSON(lbs); a != b {
			t.Errorf("%s: load balancers\n%s\nwant\n%s", api, a, b)
		}
		if a, b := asJSON(f.NATRules), asJSON(snatRules(true)); a != b {
			t.Errorf("%s: NAT rules\n%s\nwant\n%s", api, a, b)
		}
	}
}
