package nsx

import (
	"context"
	"net/url"
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
		verdict trace.Verdict
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
			if s.Requests() > 52 { // a pod-to-node walk's (nsx_test.go) and a few for the bad object
				t.Fatalf("%d requests: fetching did not stay on the path", s.Requests())
			}
		})
	}
}

// A runtime route table needs an edge node of the router's edge cluster (transport_node_id):
// asked without one, the manager refuses with the cause in related_errors, and the error says
// it. The provider asks for none, so no walk costs one failing request per router.
func TestRouteTablesAreNotAskedWrongly(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	p, _ := newTestProvider(t, s, nil)
	f, warns, err := p.Collect(context.Background(), kubeDNSToNode())
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	assertPublishedWalk(t, walkWith(t, f))
	for path := range s.RequestsByPath() {
		if strings.HasSuffix(path, "/route-table") {
			t.Fatalf("asked %s", path)
		}
	}
	c := p.(*provider).c
	var out struct{}
	err = c.get(context.Background(), "/api/v1/logical-routers/lr-t0/routing/route-table", nil, &out)
	if err == nil || !strings.Contains(err.Error(), "with 400: Invalid request parameters. (error_code 255); related: Query parameter transport_node_id is required. (error_code 8327)") {
		t.Fatalf("route table without transport_node_id: %v", err)
	}
	q := url.Values{"transport_node_id": {nsxtest.EdgeNodes[0]}}
	if err := c.get(context.Background(), "/api/v1/logical-routers/lr-t0/routing/route-table", q, &out); err != nil {
		t.Fatalf("route table asked on an edge node of the router's cluster: %v", err)
	}
}
