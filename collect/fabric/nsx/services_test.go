package nsx

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

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
				for _, w := range warns {
					if !strings.Contains(w, external) {
						t.Errorf("warning %q", w)
					}
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
