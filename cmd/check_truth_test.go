package cmd_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type checkJSON struct {
	Total, Passed int
	Results       []struct {
		Name, Result, BrokenHop, Message string
		Source                           struct{ Namespace, Name string }
	}
}

// Label selectors match the snapshot's pod labels: in -n, with -A, and as a plan's fromSelector.
func TestCheckSelectorsMatchLabels(t *testing.T) {
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	os.WriteFile(plan, []byte("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - name: web-to-nodes\n    namespace: default\n    fromSelector: app=nginx,tier=frontend\n    to: [node/172.15.0.5]\n"), 0o644)
	for _, tc := range []struct {
		args    []string
		sources []string
	}{
		{[]string{"-n", "default", "--from", "app=nginx", "--to", "node/172.15.0.5"}, []string{"default/nginx-1", "default/nginx-2", "default/nginx-3"}},
		{[]string{"-A", "--from", "k8s-app=kube-dns", "--to", "node/172.15.0.5"}, []string{"kube-system/kube-dns"}},
		{[]string{"--plan", plan}, []string{"default/nginx-1", "default/nginx-2", "default/nginx-3"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, append([]string{"check", "--snapshot", published, "-o", "json"}, tc.args...)...)
			var rep checkJSON
			if err := json.Unmarshal([]byte(r.out), &rep); err != nil || r.code != 0 {
				t.Fatalf("%v: exit %d %v\n%s%s", tc.args, r.code, err, r.out, r.err)
			}
			var got []string
			for _, res := range rep.Results {
				got = append(got, res.Source.Namespace+"/"+res.Source.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.sources, ",") {
				t.Errorf("%v: sources %v, want %v", tc.args, got, tc.sources)
			}
		})
	}
	// The table names a plan's checks.
	r := run(t, "check", "--snapshot", published, "--plan", plan)
	if !strings.HasPrefix(r.out, "CHECK ") || !strings.Contains(r.out, "web-to-nodes: default/nginx-1 -> node/172.15.0.5") {
		t.Errorf("the check table lacks the plan's names:\n%s", r.out)
	}
}

// JUnit cases carry the time their walk took, not 0.000; a broken hop on the return path says so.
func TestCheckJUnitTimeAndReturnHop(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "j.xml")
	r := run(t, "check", "--snapshot", "../testdata/scenarios/nsx-published/broken/return-route-missing.json", "--from", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--junit", junit, "-o", "json")
	var rep checkJSON
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || r.code != 1 || len(rep.Results) != 1 {
		t.Fatalf("exit %d %v\n%s%s", r.code, err, r.out, r.err)
	}
	if h := rep.Results[0].BrokenHop; !strings.HasSuffix(h, "(return path)") {
		t.Errorf("broken hop %q does not say it is on the return path", h)
	}
	b, _ := os.ReadFile(junit)
	var doc struct {
		Suites []struct {
			Cases []struct {
				Time string `xml:"time,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 1 {
		t.Fatalf("junit: %v\n%s", err, b)
	}
	if s, err := strconv.ParseFloat(doc.Suites[0].Cases[0].Time, 64); err != nil || s <= 0 {
		t.Errorf("junit case time %q, want the walk's real time", doc.Suites[0].Cases[0].Time)
	}
}

// -o json carries the walk's warnings as an array of strings.
func TestTraceJSONWarnings(t *testing.T) {
	r := run(t, "trace", "kube-system/kube-dns", "--to", "198.51.100.7", "--snapshot", published, "-o", "json")
	var w struct{ Warnings []string }
	if err := json.Unmarshal([]byte(r.out), &w); err != nil {
		t.Fatal(err)
	}
	if len(w.Warnings) != 1 || !strings.Contains(w.Warnings[0], "198.51.100.7 is neither a pod, a node nor an address in the fabric facts") {
		t.Errorf("warnings %q", w.Warnings)
	}
}
