package nsx

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// lbTarget is default/web's LoadBalancer ingress and port, as a user gives it.
var lbTarget = fmt.Sprintf("%s:%d", scenario.WebLBIP, scenario.WebPort)

// hopOf is a walk's first hop of kind in direction dir.
func hopOf(w *trace.Walk, kind trace.HopKind, dir trace.Direction) *trace.Hop {
	for i := range w.Hops {
		if w.Hops[i].Kind == kind && w.Hops[i].Direction == dir {
			return &w.Hops[i]
		}
	}
	return nil
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
		want trace.Verdict
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
		{"ncp/snat_pool before the namespace's rule", scenario.ServiceSNATPool, scenario.ExternalIP, trace.VerdictReachable},
		{"LoadBalancer Service through a virtual server", func() *trace.Snapshot { return scenario.ServiceNSXLB() }, lbTarget, trace.VerdictReachable},
		{"pool member down", func() *trace.Snapshot { return scenario.ServiceNSXLB(trace.BackendUp, trace.BackendDown) }, lbTarget, trace.VerdictReachable},
		{"every pool member down", func() *trace.Snapshot { return scenario.ServiceNSXLB(trace.BackendDown, trace.BackendDown) }, lbTarget, trace.VerdictBroken},
	}
	kubeDNS := trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}
	checks := map[string]func(t *testing.T, w *trace.Walk){
		"ncp/snat_pool before the namespace's rule": func(t *testing.T, w *trace.Walk) {
			h := hopOf(w, trace.HopNAT, trace.Forward)
			if h == nil || h.NAT == nil || h.NAT.Translated.Src != scenario.SNATPoolIP || h.NAT.Origin == nil || h.NAT.Origin.Kind != trace.NATOriginSNATPool {
				t.Errorf("the nat hop %+v, want kube-dns leaving as %s by its ncp/snat_pool rule", h, scenario.SNATPoolIP)
			}
		},
		"pool member down": func(t *testing.T, w *trace.Walk) {
			if w.Service == nil || w.Service.Reachable != 1 || !strings.Contains(w.Service.Walks[1].Walk.Reason, "is down") {
				t.Errorf("service walk %+v, want redis-slave's walk broken by its down pool member", w.Service)
			}
		},
		"LoadBalancer Service through a virtual server": func(t *testing.T, w *trace.Walk) {
			h := hopOf(&w.Service.Walks[0].Walk, trace.HopService, trace.Forward)
			if h == nil || h.Service == nil || h.Service.LoadBalancer != "web_80_TCP" || h.Service.LoadBalancing != trace.LBFabric {
				t.Errorf("the service hop %+v, want the NSX virtual server web_80_TCP balancing", h)
			}
		},
	}
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
					for _, a := range append(slices.Clone(snap.Cluster.Services[0].ClusterIPs), snap.Cluster.Services[0].LoadBalancerIPs...) {
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
				if check := checks[tc.name]; check != nil {
					check(t, w)
				}
			})
		}
	}
}
