package nsxtest

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// What a user checks of a load balancer in the NSX UI, read through the API: a member down makes
// its pool and virtual server PARTIALLY_UP with the monitor's reason, the same in both APIs;
// NAT rules per router and NAT section; the manager's 404s.
func TestServicesServeMemberStateAndNAT(t *testing.T) {
	top, err := LoadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	addTestServices(top)
	s := New(top, Options{Password: "pw", PageSize: 1})
	defer s.Close()
	get := func(path string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		req.SetBasicAuth("admin", "pw")
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil && resp.StatusCode == 200 {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	svc := lbServiceID("lr-t1-nodes")
	pool := "nginx_80_TCP_a1"
	t.Run("mp pool status", func(t *testing.T) {
		var st LbPoolStatus
		if code := get("/api/v1/loadbalancer/services/"+svc+"/pools/"+pool+"/status", &st); code != 200 {
			t.Fatalf("status %d", code)
		}
		if st.Status != "PARTIALLY_UP" || len(st.Members) != 3 || st.Members[1].Status != "DOWN" || st.Members[1].FailureCause == "" || st.Members[2].Status != "DISABLED" {
			t.Fatalf("pool status %+v, want PARTIALLY_UP with nginx-3 DOWN and its cause, nginx-2 DISABLED", st)
		}
	})
	t.Run("policy pool status", func(t *testing.T) {
		var st AggregateLBPoolStatus
		if code := get("/policy/api/v1/infra/lb-services/"+svc+"/lb-pools/"+pool+"/detailed-status", &st); code != 200 {
			t.Fatalf("status %d", code)
		}
		if len(st.Results) != 1 || st.Results[0].Status != "PARTIALLY_UP" || st.Results[0].Members[1].Status != "DOWN" {
			t.Fatalf("detailed status %+v", st)
		}
	})
	t.Run("every member down", func(t *testing.T) {
		top.SetMemberStatus(pool, "172.16.0.2", "DOWN", "Connection timed out")
		defer top.SetMemberStatus(pool, "172.16.0.2", "UP", "")
		var st LbServiceStatus
		get("/api/v1/loadbalancer/services/"+svc+"/status", &st)
		if len(st.VirtualServers) != 2 || st.VirtualServers[0].Status != "DOWN" || st.Pools[0].Status != "DOWN" {
			t.Fatalf("service status %+v, want the nginx pool and virtual server DOWN", st)
		}
	})
	t.Run("services by router", func(t *testing.T) {
		var lr ListResult[LbService]
		get("/api/v1/loadbalancer/services?logical_router_id=lr-t1-nodes", &lr)
		if lr.ResultCount != 1 {
			t.Fatalf("%d LB services on lr-t1-nodes, want 1", lr.ResultCount)
		}
		get("/api/v1/loadbalancer/services?logical_router_id=lr-t0", &lr)
		if lr.ResultCount != 0 {
			t.Fatalf("%d LB services on lr-t0, want none", lr.ResultCount)
		}
	})
	t.Run("nat rules", func(t *testing.T) {
		var mp ListResult[NatRule]
		get("/api/v1/logical-routers/lr-t0/nat/rules", &mp)
		if mp.ResultCount != 2 || mp.Cursor == "" {
			t.Fatalf("MP NAT rules on lr-t0: %d (cursor %q), want 2 over pages of 1", mp.ResultCount, mp.Cursor)
		}
		var pol ListResult[PolicyNatRule]
		get("/policy/api/v1/infra/tier-0s/lr-t0/nat/USER/nat-rules", &pol)
		if pol.ResultCount != 2 {
			t.Fatalf("Policy NAT rules on lr-t0: %d, want the namespace's and the Service's", pol.ResultCount)
		}
		get("/policy/api/v1/infra/tier-0s/lr-t0/nat/INTERNAL/nat-rules", &pol)
		if pol.ResultCount != 0 {
			t.Fatalf("INTERNAL holds %d rules, want none", pol.ResultCount)
		}
		if !top.RemoveNATRule("lr-t0", "snat-default") {
			t.Fatal("the namespace's SNAT rule was not found to remove")
		}
		get("/api/v1/logical-routers/lr-t0/nat/rules", &mp)
		get("/policy/api/v1/infra/tier-0s/lr-t0/nat/USER/nat-rules", &pol)
		if mp.ResultCount != 1 || pol.ResultCount != 1 {
			t.Fatalf("after removing the namespace's SNAT: %d MP and %d Policy rules, want the Service's alone", mp.ResultCount, pol.ResultCount)
		}
	})
	for _, p := range []string{
		"/policy/api/v1/infra/tier-0s/lr-t0/nat/DEFAULT/nat-rules",
		"/policy/api/v1/infra/tier-1s/lr-t0/nat/USER/nat-rules",
		"/api/v1/logical-routers/nope/nat/rules",
		"/api/v1/loadbalancer/services/nope/status",
		"/api/v1/loadbalancer/services/" + svc + "/pools/nope/status",
		"/policy/api/v1/infra/lb-pools/nope",
	} {
		if code := get(p, nil); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
}
