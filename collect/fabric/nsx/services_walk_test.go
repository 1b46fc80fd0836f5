package nsx

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// webLBIP is the LoadBalancer ingress of default/web when NCP realizes it as an NSX virtual server.
const webLBIP = "203.0.113.50"

// withWebLB makes default/web a LoadBalancer Service (ingress webLBIP) and gives the fabric the
// virtual server NCP writes for it on the default namespace's tier-1, its pool holding the two
// endpoints with the states given (up when none).
func withWebLB(s *trace.Snapshot, states ...string) {
	svc := &s.Cluster.Services[0]
	svc.Type, svc.LoadBalancerIPs = trace.ServiceLoadBalancer, []string{webLBIP}
	on := true
	lb := trace.LoadBalancer{ID: "web_80_TCP_k3j9", Name: "web_80_TCP", Kind: trace.LBKindNSXVirtualServer, Protocol: trace.ProtocolTCP,
		Routers: []string{"lr-t1-default"}, Service: &trace.PodRef{Namespace: "default", Name: "web"}, Enabled: &on, Source: trace.SourceNSX}
	vip := trace.LBVIP{IP: webLBIP, Port: scenario.WebPort, Pool: "web_80_TCP_k3j9", PoolName: "web_80_TCP"}
	for i, m := range []struct{ name, ip string }{{"nginx-3", "172.16.0.6"}, {"redis-slave", "172.16.0.7"}} {
		b := trace.LBBackend{IP: m.ip, Port: scenario.WebTargetPort, Name: m.name, Status: trace.BackendUp}
		if i < len(states) && states[i] == trace.BackendDown {
			b.Status, b.StatusDetail = trace.BackendDown, "Connection refused"
		}
		vip.Backends = append(vip.Backends, b)
	}
	lb.VIPs = []trace.LBVIP{vip}
	s.Fabric.LoadBalancers = []trace.LoadBalancer{lb}
}

// withSNATPool adds the rule NCP writes for a Service of kube-dns annotated ncp/snat_pool: its
// pod's address to one of the pool's, before the namespace's rule.
func withSNATPool(s *trace.Snapshot) {
	s.Fabric.NATRules = append(s.Fabric.NATRules, trace.NATRule{ID: "snat-kube-system-kube-dns", Name: "ncp-snat-kube-dns", Type: trace.NATSnat, Router: "lr-t0",
		Match: trace.NATMatch{Source: "172.16.1.2"}, TranslatedIP: "203.0.113.40", AppliedTo: []string{"lrp-t0-uplink-1"}, Priority: 1000,
		Origin: &trace.NATOrigin{Kind: trace.NATOriginSNATPool, Namespace: "kube-system", Name: "egress-pool-dns"}, Source: trace.SourceNSX})
}

// walkSummary is summary() of a walk and of each of its endpoint walks.
func walkSummary(w *trace.Walk, policy bool) string {
	out := []string{summary(w, policy)}
	if w.Service != nil {
		for _, ew := range w.Service.Walks {
			out = append(out, summary(&ew.Walk, policy))
		}
	}
	return strings.Join(out, "\n")
}

// The Service and external scenarios walk the same over the load balancers and NAT rules an NSX
// Manager serves, through either API, as over the fabric itself: the SNAT a pod leaves with (its
// namespace's, its ncp/snat_pool's first), a missing SNAT rule, a LoadBalancer Service through
// a virtual server and its pool, a pool member down.
func TestServiceScenariosWalkTheSameOverNSX(t *testing.T) {
	type walkCase struct {
		name string
		snap func() *trace.Snapshot
		to   string
		want string // the verdict
	}
	variant := func(name string) func() *trace.Snapshot {
		return func() *trace.Snapshot {
			s := scenario.Service()
			for _, v := range scenario.ServiceVariants {
				if v.Name == name {
					v.Break(s)
				}
			}
			return s
		}
	}
	cases := []walkCase{
		{"ClusterIP balanced by the node's OVS", scenario.Service, "svc/default/web", trace.VerdictReachable},
		{"out with the namespace's SNAT", scenario.Service, scenario.ExternalIP, trace.VerdictReachable},
		{"missing SNAT rule", variant("missing-snat"), scenario.ExternalIP, trace.VerdictBroken},
		{"ncp/snat_pool before the namespace's rule", func() *trace.Snapshot { s := scenario.Service(); withSNATPool(s); return s }, scenario.ExternalIP, trace.VerdictReachable},
		{"LoadBalancer Service through a virtual server", func() *trace.Snapshot { s := scenario.Service(); withWebLB(s); return s },
			fmt.Sprintf("%s:%d", webLBIP, scenario.WebPort), trace.VerdictReachable},
		{"pool member down", func() *trace.Snapshot {
			s := scenario.Service()
			withWebLB(s, trace.BackendUp, trace.BackendDown)
			return s
		},
			fmt.Sprintf("%s:%d", webLBIP, scenario.WebPort), trace.VerdictReachable},
		{"every pool member down", func() *trace.Snapshot {
			s := scenario.Service()
			withWebLB(s, trace.BackendDown, trace.BackendDown)
			return s
		}, fmt.Sprintf("%s:%d", webLBIP, scenario.WebPort), trace.VerdictBroken},
	}
	kubeDNS := trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}
	for _, api := range []string{APIManagement, APIPolicy} {
		for _, tc := range cases {
			t.Run(api+"/"+tc.name, func(t *testing.T) {
				snap := tc.snap()
				to, err := trace.ParseTarget(tc.to, "default")
				if err != nil {
					t.Fatal(err)
				}
				req := trace.Request{Source: kubeDNS, To: to}
				want, err := trace.WalkSnapshot(snap, req)
				if err != nil {
					t.Fatal(err)
				}
				if want.Verdict != tc.want {
					t.Fatalf("over the fabric itself: verdict %s (%s), want %s", want.Verdict, want.Reason, tc.want)
				}
				q := fabric.Query{Sources: []fabric.Endpoint{podEndpoint(snap, "kube-system", "kube-dns")}}
				if want.Service != nil {
					for _, e := range snap.Cluster.EndpointSlices[0].Endpoints {
						q.Destinations = append(q.Destinations, podEndpoint(snap, e.Pod.Namespace, e.Pod.Name))
					}
					// As the command asks: the Service's addresses are destinations of their own.
					for _, a := range append(snap.Cluster.Services[0].ClusterIPs, snap.Cluster.Services[0].LoadBalancerIPs...) {
						q.Destinations = append(q.Destinations, fabric.Endpoint{IP: netip.MustParseAddr(a)})
					}
				} else {
					q.Destinations = []fabric.Endpoint{{IP: netip.MustParseAddr(tc.to)}}
				}
				s := nsxtest.New(nsxtest.FromFabric(snap.Fabric), nsxtest.Options{Password: testPassword})
				defer s.Close()
				p, _ := newTestProvider(t, s, func(c *Config) { c.API = api })
				f, warns, err := p.Collect(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				got := *snap
				got.Fabric = f
				w, err := trace.WalkSnapshot(&got, req)
				if err != nil {
					t.Fatal(err)
				}
				if len(warns) > 0 {
					t.Errorf("warnings %q", warns)
				}
				if a, b := walkSummary(w, api == APIPolicy), walkSummary(want, api == APIPolicy); a != b {
					t.Fatalf("the walk over NSX differs (warnings %q):\n%s\nover the fabric itself:\n%s", warns, a, b)
				}
			})
		}
	}
}
