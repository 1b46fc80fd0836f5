package trace_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// FuzzReadSnapshot: any bytes either decode to a snapshot that walks without panicking, or give an error.
func FuzzReadSnapshot(f *testing.F) {
	var b bytes.Buffer
	_ = trace.WriteSnapshot(&b, scenario.Published())
	f.Add(b.Bytes())
	f.Add([]byte(`{"apiVersion":"packetwalk/v1","cluster":{"pods":[{"namespace":"a","name":"b","node":"n","ips":["10.0.0.1"]}]}}`))
	f.Add([]byte(`{"apiVersion":"packetwalk/v1","fabric":{"routerPorts":[{"id":"x","router":"r","networks":["1.1.1.1/31"]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := trace.ReadSnapshot(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		ix := trace.NewIndex(s)
		for _, p := range s.Cluster.Pods {
			for _, n := range s.Cluster.Nodes {
				_, _ = ix.Walk(trace.Request{Source: trace.PodRef{Namespace: p.Namespace, Name: p.Name}, To: trace.Target{Kind: trace.TargetNode, Name: n.Name}})
			}
			for _, q := range s.Cluster.Pods {
				_, _ = ix.Walk(trace.Request{Source: trace.PodRef{Namespace: p.Namespace, Name: p.Name}, To: trace.Target{Kind: trace.TargetPod, Namespace: q.Namespace, Name: q.Name}})
			}
		}
		for _, n := range s.Nodes {
			_, _ = ix.MACs(n.Name)
		}
	})
}

func FuzzParsePlan(f *testing.F) {
	f.Add([]byte(goodPlan))
	f.Add([]byte("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - from: a/b\n    to: [nodes, 1.2.3.4]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	ix := trace.NewIndex(scenario.Published())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := trace.ParsePlan(data, "fuzz.yaml")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("plan error spans lines: %q", err)
			}
			return
		}
		_, _ = ix.ExpandPlan(p, "default")
	})
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"node/a", "pod/a/b", "pod/b", "10.0.0.1", "fd00::1", "::ffff:1.2.3.4", "node/", "1.2.3.4%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := trace.ParseTarget(s, "default")
		if err != nil {
			return
		}
		back, err := trace.ParseTarget(tg.String(), "default")
		if err != nil || back != tg {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, tg, tg.String(), back, err)
		}
	})
}

func FuzzSelectorAndMAC(f *testing.F) {
	f.Add("app=web,tier!=db,!canary,env", "02:50:56:56:44:52")
	f.Add("a==b", "0a-58-ac-10-01-02")
	f.Fuzz(func(t *testing.T, sel, mac string) {
		if s, err := trace.ParseSelector(sel); err == nil {
			_ = s.Matches(map[string]string{"app": "web"})
		}
		if m := trace.NormalizeMAC(mac); m != "" && trace.NormalizeMAC(m) != m {
			t.Fatalf("NormalizeMAC not idempotent: %q -> %q", mac, m)
		}
	})
}
