package trace_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

func TestSyntheticClusterWalks(t *testing.T) {
	s := scenario.Synthetic(scenario.SyntheticOptions{Nodes: 5, PodsPerNode: 4, Namespaces: 3})
	ix := trace.NewIndex(s)
	w, err := ix.Walk(trace.Request{Source: trace.PodRef{Namespace: "ns-000", Name: scenario.PodName(0, 0)}, To: trace.Target{Kind: trace.TargetNode, Name: scenario.NodeName(3)}})
	if err != nil || w.Verdict != trace.VerdictReachable {
		t.Fatalf("%v %v%s", err, w.Verdict, dump(w))
	}
	if got, want := w.RouterHops(), []string{"10.0.0.1", "100.64.0.16", "100.64.0.1", scenario.NodeIP(3)}; !reflect.DeepEqual(got, want) {
		t.Errorf("router hops %v want %v", got, want)
	}
	rep := trace.RunChecks(context.Background(), ix, ix.DefaultChecks(), trace.CheckOptions{Parallel: 4})
	if rep.Total != 20 || rep.Passed != 20 {
		t.Errorf("default checks on a healthy synthetic cluster: %+v", rep)
	}
}

const goodPlan = `apiVersion: packetwalk/v1
kind: CheckPlan
defaults:
  namespace: kube-system
  timeout: 5s
checks:
  - name: dns to nodes
    from: kube-dns
    to: nodes
  - from: default/nginx-3
    to: [pod/kube-system/kube-dns, 172.15.0.3]
    expect: reachable
    probe: icmp
  - fromSelector: app=web
    namespace: default
    to: node/172.15.0.5
`

func TestPlanParsesAndExpands(t *testing.T) {
	p, err := trace.ParsePlan([]byte(goodPlan), "plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := scenario.Published()
	for i := range s.Cluster.Pods {
		if s.Cluster.Pods[i].Name == "nginx-1" || s.Cluster.Pods[i].Name == "nginx-2" {
			s.Cluster.Pods[i].Labels = map[string]string{"app": "web"}
		}
	}
	specs, err := trace.NewIndex(s).ExpandPlan(p, "default")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sp := range specs {
		names = append(names, sp.Name)
	}
	want := []string{
		"dns to nodes: kube-system/kube-dns -> node/172.15.0.4",
		"dns to nodes: kube-system/kube-dns -> node/172.15.0.5",
		"default/nginx-3 -> pod/kube-system/kube-dns",
		"default/nginx-3 -> 172.15.0.3",
		"default/nginx-1 -> node/172.15.0.5",
		"default/nginx-2 -> node/172.15.0.5",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("checks\n%q\nwant\n%q", names, want)
	}
	if specs[2].Probe != "icmp" || specs[0].Timeout != 5*time.Second || specs[2].Line != 10 {
		t.Errorf("spec fields: %+v", specs[2])
	}
}

func TestPlanErrorsPointAtTheLine(t *testing.T) {
	cases := []struct{ plan, want string }{
		{"apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - from: a/b\n    to: nodes\n    expect: maybe\n", `p.yaml:6: checks[0].expect must be reachable or broken, got "maybe"`},
		{"apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - from: a/b\n    too: nodes\n", "p.yaml:5: unknown field checks[0].too (known: name, from, fromSelector, namespace, to, expect, timeout, probe)"},
		{"apiVersion: packetwalk/v2\nkind: CheckPlan\n", `p.yaml:1: apiVersion must be packetwalk/v1, got "packetwalk/v2"`},
		{"apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks: []\n", "p.yaml:3: checks must be a non-empty list"},
		{"apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - to: nodes\n", "p.yaml:4: checks[0] needs from (a pod) or fromSelector (a label selector)"},
		{"apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - from: a/b\n    to: svc/a/b/c\n", `p.yaml:4: checks[0].to: "svc/a/b/c" is not nodes, pods, node/NAME, pod/NS/NAME, svc/NS/NAME[:PORT], an IP or IP:PORT`},
		{"apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - from: a/b\n    to: nodes\n    timeout: soon\n", `p.yaml:6: checks[0].timeout must be a positive duration such as 10s, got "soon"`},
		{"apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - from: a/b\n    to: nodes\n    probe: udp:53\n", `p.yaml:6: checks[0].probe must be none, icmp or tcp:PORT, got "udp:53"`},
		{"apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - from: a/b\n   to: nodes\n", "p.yaml:3: not valid YAML: did not find expected '-' indicator"},
		{"", "p.yaml: plan is empty"},
		{"- a\n- b\n", "p.yaml:1: a plan is a mapping with apiVersion, kind and checks"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			_, err := trace.ParsePlan([]byte(c.plan), "p.yaml")
			var pe *trace.PlanError
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("plan %q: error %v\nwant prefix %q", c.plan, err, c.want)
			}
		})
	}
	p, _ := trace.ParsePlan([]byte("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - fromSelector: app=none\n    to: nodes\n"), "p.yaml")
	_, err := trace.NewIndex(scenario.Published()).ExpandPlan(p, "default")
	if err == nil || err.Error() != `p.yaml:4: checks[0].fromSelector "app=none" matches no pod in namespace default` {
		t.Errorf("selector matching nothing: %v", err)
	}
}

func TestChecksExpectBroken(t *testing.T) {
	s := scenario.Published()
	scenario.Variants[0].Break(s)
	ix := trace.NewIndex(s)
	specs := []trace.CheckSpec{
		{Name: "cut", Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}, Expect: trace.VerdictBroken},
		{Name: "should hold", Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.5"}, Expect: trace.VerdictReachable},
		{Name: "other pod holds", Source: trace.PodRef{Namespace: "default", Name: "nginx-3"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.5"}},
		{Name: "typo", Source: trace.PodRef{Namespace: "default", Name: "nginx-9"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.5"}},
	}
	rep := trace.RunChecks(context.Background(), ix, specs, trace.CheckOptions{Parallel: 2})
	got := []string{rep.Results[0].Result, rep.Results[1].Result, rep.Results[2].Result, rep.Results[3].Result}
	if want := []string{trace.CheckPass, trace.CheckFail, trace.CheckPass, trace.CheckError}; !reflect.DeepEqual(got, want) {
		t.Errorf("results %v want %v", got, want)
	}
	if r := rep.Results[1]; r.BrokenHop != "6 fabric-port kube-system_kube-dns" || !strings.Contains(r.Message, "VLAN mismatch") {
		t.Errorf("failed check names hop %q message %q", r.BrokenHop, r.Message)
	}
	if rep.Passed != 2 || rep.Failed != 1 || rep.Errors != 1 {
		t.Errorf("counts %+v", rep)
	}

	// Every check's time is reported, whatever its result (a clock that moves 1 s a reading).
	var tick time.Duration
	clock := func() time.Time { tick += time.Second; return time.Unix(0, 0).Add(tick) }
	rep = trace.RunChecks(context.Background(), ix, specs, trace.CheckOptions{Now: clock})
	for _, r := range rep.Results {
		if r.Seconds <= 0 {
			t.Errorf("check %q (%s) reports %v s", r.Name, r.Result, r.Seconds)
		}
	}
}

func TestChecksStopWhenInterrupted(t *testing.T) {
	s := scenario.Synthetic(scenario.SyntheticOptions{Nodes: 10, PodsPerNode: 2, Namespaces: 2})
	ix := trace.NewIndex(s)
	specs := ix.DefaultChecks()
	for i := range specs {
		specs[i].Probe = "icmp"
	}
	ctx, cancel := context.WithCancel(context.Background())
	var probes atomic.Int32
	probe := func(ctx context.Context, spec trace.CheckSpec, w *trace.Walk) trace.ProbeResult {
		if probes.Add(1) == 3 {
			cancel() // Ctrl-C while the third probe runs
		}
		return trace.ProbeResult{Kind: "icmp", Reached: true, Hops: w.RouterHops()}
	}
	rep := trace.RunChecks(ctx, ix, specs, trace.CheckOptions{Parallel: 1, Probe: probe})
	if !rep.Interrupted || rep.NotRun == 0 || rep.Passed < 2 || rep.Passed+rep.NotRun+rep.Failed+rep.Errors != len(specs) {
		t.Errorf("interrupted report: %+v", rep)
	}
	if int(probes.Load()) > 4 {
		t.Errorf("%d probes ran after the interrupt", probes.Load())
	}
}

func TestProbeDisagreementFailsTheCheck(t *testing.T) {
	ix := trace.NewIndex(scenario.Published())
	spec := trace.CheckSpec{Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}, Probe: "icmp"}
	probe := func(ctx context.Context, spec trace.CheckSpec, w *trace.Walk) trace.ProbeResult {
		hops := []string{"172.16.1.1", "100.64.96.10", "100.64.96.7", "172.15.0.4"}
		return trace.ProbeResult{Kind: "icmp", Reached: true, Hops: hops, Differences: trace.CompareHops(w.RouterHops(), hops)}
	}
	rep := trace.RunChecks(context.Background(), ix, []trace.CheckSpec{spec}, trace.CheckOptions{Probe: probe})
	if r := rep.Results[0]; r.Result != trace.CheckFail || !strings.Contains(r.Message, "hop 3: the walk has 100.64.96.5, traceroute shows 100.64.96.7") {
		t.Errorf("result %s message %q", r.Result, r.Message)
	}
}

func BenchmarkWalkPublished(b *testing.B) {
	ix := trace.NewIndex(scenario.Published())
	req := trace.Request{Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ix.Walk(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck1000Pairs50Nodes is issue 7's target: 1,000 pairs over a 50-node snapshot in under
// 2 s, index built once per run (facts shared across checks).
func BenchmarkCheck1000Pairs50Nodes(b *testing.B) {
	s := scenario.Synthetic(scenario.SyntheticOptions{Nodes: 50, PodsPerNode: 30, Namespaces: 20})
	var specs []trace.CheckSpec
	for i := 0; i < 50; i++ {
		for j := 0; j < 20; j++ {
			dst := (i + j + 1) % 50
			specs = append(specs, trace.CheckSpec{Source: trace.PodRef{Namespace: scenario.NamespaceName((i*30 + j) % 20), Name: scenario.PodName(i, j)}, To: trace.Target{Kind: trace.TargetNode, Name: scenario.NodeName(dst)}})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		ix := trace.NewIndex(s)
		rep := trace.RunChecks(context.Background(), ix, specs, trace.CheckOptions{Parallel: 8})
		if rep.Passed != 1000 {
			b.Fatalf("%d of 1000 passed: %+v", rep.Passed, rep.Results[0])
		}
	}
}

func TestExpectedTraceroute(t *testing.T) {
	cases := map[string][]string{
		"":                     {"172.16.1.1", "100.64.96.10", "100.64.96.5", "172.15.0.4"},
		"vlan-mismatch":        nil,
		"missing-route":        {"172.16.1.1", "100.64.96.10"},
		"veth-down":            nil,
		"return-route-missing": nil,
	}
	for name, want := range cases {
		s := scenario.Published()
		for _, v := range scenario.Variants {
			if v.Name == name {
				v.Break(s)
			}
		}
		w := walk(t, s, kubeDNS, "node/172.15.0.4")
		got, exact := w.ExpectedTraceroute()
		if !reflect.DeepEqual(got, want) || exact != (name != "return-route-missing") {
			t.Errorf("%s: %v exact=%v, want %v", name, got, exact, want)
		}
	}
}

// BenchmarkExpandAtScale: the default matrix's sources and a "pods" expansion on a 2,000-node
// cluster (one pod per node, each other node's first pod).
func BenchmarkExpandAtScale(b *testing.B) {
	ix := trace.NewIndex(scenario.Synthetic(scenario.SyntheticOptions{Nodes: 2000, PodsPerNode: 10, Namespaces: 50, NodeState: func(int) bool { return false }, NoFabric: true}))
	src := trace.PodRef{Namespace: scenario.NamespaceName(0), Name: scenario.PodName(0, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if ts, err := ix.ExpandTargets(src, []string{"pods", "nodes"}, "default"); err != nil || len(ts) != 2*1999 {
			b.Fatalf("%d targets, %v", len(ts), err)
		}
	}
}
