package nsx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzManagerPages: whatever JSON the manager answers (the same bytes for every GET, so list
// pages, single objects and search results all see it), Collect returns facts or an error of
// one line, within its deadline, without a panic.
func FuzzManagerPages(f *testing.F) {
	for _, s := range []string{
		`{"results":[],"result_count":0}`,
		`{"results":[{"id":"lp1","attachment":{"attachment_type":"VIF","id":"vif1","context":{"vif_type":"CHILD","parent_vif_id":"p","traffic_tag":101}},` +
			`"address_bindings":[{"ip_address":"172.16.1.2","mac_address":"02:50:56:00:03:01","vlan":0}],"logical_switch_id":"ls1"}],"result_count":1,"cursor":"1"}`,
		`{"results":[{"id":"r1","resource_type":"LogicalRouterDownLinkPort","logical_router_id":"t1","subnets":[{"ip_addresses":["172.16.1.1"],"prefix_length":24}],"mac_address":"02:50:56:56:44:52"}],"cursor":"x"}`,
		`{"results":[{"id":"t","router_type":"TIER1","routes":[{"network":"0.0.0.0/0","next_hops":[{"ip_address":"100.64.96.10"}]}]}]}`,
		`{"results":[null,1,"x",[]],"cursor":""}`,
		`{"results":[{"subnets":[{"ip_addresses":["::ffff:1.2.3.4","999.1.1.1"],"prefix_length":-1}]}]}`,
		`{"id":"x","router_type":"TIER0"}`,
		`[]`, `null`, `{"results":`,
	} {
		f.Add([]byte(s))
	}
	var body atomic.Value
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body.Load().([]byte))
	}))
	defer srv.Close()
	f.Fuzz(func(t *testing.T, b []byte) {
		body.Store(b)
		t.Setenv("NSX_PASSWORD", "x")
		for _, api := range []string{APIManagement, APIPolicy} {
			hits.Store(0)
			p, err := New(Config{Manager: srv.URL, HTTPClient: srv.Client(), API: api, AuthMode: AuthBasic,
				Retries: -1, Deadline: 5 * time.Second, RequestTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, warns, err := p.Collect(ctx, kubeDNSToNode())
			cancel()
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			if hits.Load() == 0 {
				t.Fatalf("the manager was never asked: %v %q", err, warns)
			}
			for _, w := range warns {
				if strings.Contains(w, "\n") {
					t.Fatalf("warning spans lines: %q", w)
				}
			}
		}
	})
}
