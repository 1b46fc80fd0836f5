package nsx

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Broken fabrics are carried through to the walk, which names the problem; fetching always ends.
func TestBadFabricsAreReportedOnTheWalk(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(*nsxtest.Topology)
		verdict string
		reason  string
	}{
		{"unknown router type", func(top *nsxtest.Topology) {
			for i := range top.LogicalRouters {
				if top.LogicalRouters[i].ID == "lr-t0" {
					top.LogicalRouters[i].RouterType = "VRF"
				}
			}
		}, trace.VerdictUnknown, `unknown tier "VRF"`},
		{"linked port missing", func(top *nsxtest.Topology) {
			for i := range top.LogicalRouterPorts {
				if top.LogicalRouterPorts[i].ID == "lrp-kube-system-link" {
					top.LogicalRouterPorts[i].LinkedLogicalRouterPortID.TargetID = "lrp-gone"
				}
			}
		}, trace.VerdictBroken, "no route to 172.15.0.0/24 on router t1-kube-system"},
		{"routing loop between T0 and T1", func(top *nsxtest.Topology) {
			top.Advertisement["lr-t1-nodes"] = nsxtest.AdvertisementConfig{ResourceType: "AdvertisementConfig"}
			top.StaticRoutes["lr-t0"] = append(top.StaticRoutes["lr-t0"], nsxtest.StaticRoute{ResourceType: "StaticRoute", ID: "loop",
				LogicalRouterID: "lr-t0", Network: "172.15.0.0/24", NextHops: []nsxtest.NextHop{{IPAddress: "100.64.96.11"}}})
		}, trace.VerdictBroken, "routing loop"},
		{"duplicate traffic tag under one parent", func(top *nsxtest.Topology) {
			for i := range top.LogicalPorts {
				if top.LogicalPorts[i].ID == "lp-kube-system-heapster" {
					v := 101
					top.LogicalPorts[i].Attachment.Context.TrafficTag = &v
				}
			}
		}, trace.VerdictBroken, "duplicate traffic_tag 101"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := published(t)
			tc.mod(top)
			s := nsxtest.New(top, nsxtest.Options{Password: testPassword})
			defer s.Close()
			p, _ := newTestProvider(t, s, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			f, _, err := p.Collect(ctx, kubeDNSToNode())
			if err != nil {
				t.Fatal(err)
			}
			w := walkWith(t, f)
			if w.Verdict != tc.verdict || !strings.Contains(w.Reason, tc.reason) {
				t.Fatalf("verdict %s (%s), want %s with %q", w.Verdict, w.Reason, tc.verdict, tc.reason)
			}
			if s.Requests() > 40 {
				t.Fatalf("%d requests: fetching did not stay on the path", s.Requests())
			}
		})
	}
}

// Where the manager serves runtime route tables, they are the routes, and the hops say so.
func TestRuntimeRouteTable(t *testing.T) {
	top := published(t)
	top.RouteTables = map[string][]nsxtest.RouteEntry{
		"lr-t1-kube-system": {{Network: "0.0.0.0/0", NextHop: "100.64.96.10", RouteType: "t1s"}, {Network: "172.16.1.0/24", RouteType: "t1c"}},
		"lr-t0": {{Network: "172.15.0.0/24", NextHop: "100.64.96.5", RouteType: "t1c"}, {Network: "172.16.1.0/24", NextHop: "100.64.96.11", RouteType: "t1c"},
			{Network: "0.0.0.0/0", NextHop: "203.0.113.1", RouteType: "t0s"}},
		"lr-t1-nodes": {{Network: "0.0.0.0/0", NextHop: "100.64.96.4", RouteType: "t1s"}},
	}
	s := nsxtest.New(top, nsxtest.Options{Password: testPassword})
	defer s.Close()
	p, _ := newTestProvider(t, s, nil)
	f, _, err := p.Collect(context.Background(), kubeDNSToNode())
	if err != nil {
		t.Fatal(err)
	}
	w := walkWith(t, f)
	if w.Verdict != trace.VerdictReachable {
		t.Fatalf("verdict %s: %s", w.Verdict, w.Reason)
	}
	want := []string{"runtime", "runtime", "connected", "runtime", "runtime", "connected"}
	if got := origins(w); !reflect.DeepEqual(got, want) {
		t.Fatalf("origins %v, want %v", got, want)
	}
}
