package nsxtest

import (
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

var update = flag.Bool("update", false, "rewrite testdata/nsx/published from trace/scenario.Published()")

const fixtures = "../../../../testdata/nsx/published"

// The committed fixtures are the published scenario's fabric as an NSX Manager serves it.
func TestFixturesMatchPublishedScenario(t *testing.T) {
	want := FromFabric(scenario.Published().Fabric)
	if *update {
		if err := want.WriteDir(fixtures); err != nil {
			t.Fatal(err)
		}
	}
	got, err := LoadDir(fixtures)
	if err != nil {
		t.Fatalf("%v (run go test ./collect/fabric/nsx/nsxtest -update)", err)
	}
	if !reflect.DeepEqual(got.fixtureFiles(), want.fixtureFiles()) {
		t.Fatalf("testdata/nsx/published is stale: run go test ./collect/fabric/nsx/nsxtest -update")
	}
}

func TestServerPaginatesFiltersAndRefusesWrites(t *testing.T) {
	top, err := LoadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	s := New(top, Options{Password: "pw", PageSize: 2})
	defer s.Close()
	get := func(path string) (int, ListResult[json.RawMessage]) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		req.SetBasicAuth("admin", "pw")
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var lr ListResult[json.RawMessage]
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &lr)
		return resp.StatusCode, lr
	}
	n, cursor := 0, ""
	for pages := 0; ; pages++ {
		code, lr := get("/api/v1/logical-ports?cursor=" + cursor)
		if code != 200 || pages > 100 {
			t.Fatalf("page %d: status %d", pages, code)
		}
		n += len(lr.Results)
		if lr.Cursor == "" {
			break
		}
		cursor = lr.Cursor
	}
	if n != len(top.LogicalPorts) {
		t.Fatalf("paged through %d ports, want %d", n, len(top.LogicalPorts))
	}
	if _, lr := get("/api/v1/logical-ports?parent_vif_id=vif-node-172.15.0.3-eth1&page_size=1000"); lr.ResultCount != 9 {
		t.Fatalf("children of node 172.15.0.3's VIF: %d, want the 9 pods", lr.ResultCount)
	}
	if _, lr := get("/api/v1/logical-router-ports?logical_switch_id=ls-kube-system"); lr.ResultCount != 1 {
		t.Fatalf("router ports on ls-kube-system: %d, want 1", lr.ResultCount)
	}
	if _, lr := get(`/api/v1/search/query?query=resource_type:LogicalPort%20AND%20address_bindings.ip_address:"172.16.1.2"`); lr.ResultCount != 1 {
		t.Fatalf("search by IP found %d ports, want 1", lr.ResultCount)
	}
	req, _ := http.NewRequest(http.MethodDelete, s.URL+"/api/v1/logical-ports/x", nil)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || s.Writes() != 1 {
		t.Fatalf("DELETE: status %d, writes %d", resp.StatusCode, s.Writes())
	}
	if _, err := os.Stat(filepath.Join(fixtures, "logical-ports.json")); err != nil {
		t.Fatal(err)
	}
}

// The search API's query: AND of terms or of parenthesized OR groups; anything else is a 400.
func TestParseQuery(t *testing.T) {
	got, err := ParseQuery(`resource_type:LogicalPort AND tags.scope:"ncp/node_name" AND (tags.tag:"n-1" OR tags.tag:"n\"2")`)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]Term{{{"resource_type", "LogicalPort"}}, {{"tags.scope", "ncp/node_name"}}, {{"tags.tag", "n-1"}, {"tags.tag", `n"2`}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"LogicalPort", "resource_type:LogicalPort AND (a:b OR c)", "(a:b OR (c:d))"} {
		if _, err := ParseQuery(bad); err == nil {
			t.Errorf("%q parsed, want an error", bad)
		}
	}
}
