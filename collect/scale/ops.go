package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// Operation names, as the results table shows them.
const (
	OpTraceNode = "trace pod->node"
	// OpTraceBasic is the same walk with --nsx-auth basic: no session login round trip.
	OpTraceBasic = "trace pod->node (NSX basic auth)"
	OpTracePod   = "trace pod->pod"
	OpMACs       = "macs --node"
	OpCheck      = "check 1,000 pairs"
	OpCollect    = "collect cluster 10 nodes"
	OpNaive      = "naive pod->node (baseline)"
)

// Ops are the measured operations in table order (the baseline last).
var Ops = []string{OpTraceNode, OpTraceBasic, OpTracePod, OpMACs, OpCheck, OpCollect, OpNaive}

// NaiveEnv is the environment variable that makes a test binary run the baseline: its value is a
// JSON NaiveConfig (see TestMain of this package).
const NaiveEnv = "PW_SCALE_NAIVE"

// TraceRequest is the pod->node walk every size measures: pod 0 of node 1 to the last node.
func (z Size) TraceRequest() trace.Request {
	ns, name, _ := z.PodOf(1, 0)
	return trace.Request{Source: trace.PodRef{Namespace: ns, Name: name}, To: trace.Target{Kind: trace.TargetNode, Name: scenario.NodeName(z.Nodes - 1)}}
}

// CheckPlan is a plan of 1,000 pod->node pairs: pod 0 of 50 nodes spread over the cluster, each to
// 20 other nodes spread over it.
func (z Size) CheckPlan() string {
	var b strings.Builder
	b.WriteString("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n")
	for s := 0; s < 50; s++ {
		i := s * z.Nodes / 50
		ns, name, _ := z.PodOf(i, 0)
		var to []string
		for d := 0; d < 20; d++ {
			j := (i + 1 + d*(z.Nodes/20+1)) % z.Nodes
			if j == i {
				j = (j + 1) % z.Nodes
			}
			to = append(to, "node/"+scenario.NodeName(j))
		}
		fmt.Fprintf(&b, "  - from: %s/%s\n    to: [%s]\n", ns, name, strings.Join(to, ", "))
	}
	return b.String()
}

// Args returns the argv of an operation ("" first: the tool) and the extra environment.
func (e *Env) Args(op string) ([]string, []string, error) {
	live := e.LiveFlags()
	req := e.Size.TraceRequest()
	src := req.Source.String()
	switch op {
	case OpTraceNode:
		return append([]string{"", "trace", src, "--to", req.To.String(), "-o", "json"}, live...), nil, nil
	case OpTraceBasic:
		return append(append([]string{"", "trace", src, "--to", req.To.String(), "-o", "json"}, live...), "--nsx-auth", "basic"), nil, nil
	case OpTracePod:
		ns, name, _ := e.Size.PodOf(e.Size.Nodes-1, 1)
		return append([]string{"", "trace", src, "--to", "pod/" + ns + "/" + name, "-o", "json"}, live...), nil, nil
	case OpMACs:
		return append([]string{"", "macs", "--node", scenario.NodeName(2), "-o", "json"}, live...), nil, nil
	case OpCheck:
		plan := filepath.Join(e.Dir, "plan.yaml")
		if err := os.WriteFile(plan, []byte(e.Size.CheckPlan()), 0o644); err != nil {
			return nil, nil, err
		}
		return append([]string{"", "check", "--plan", plan, "-o", "json"}, live...), nil, nil
	case OpCollect:
		args := []string{"", "collect", "cluster", "--output", filepath.Join(e.Dir, "bundle.tar.gz")}
		for i := 0; i < 10; i++ {
			args = append(args, "--node", scenario.NodeName(i*e.Size.Nodes/10))
		}
		return append(args, live...), nil, nil
	case OpNaive:
		exe, err := os.Executable()
		if err != nil {
			return nil, nil, err
		}
		cfg, _ := json.Marshal(NaiveConfig{Kubeconfig: e.kubeconfig, NSXManager: e.NSX.URL, NSXCAFile: e.caFile, NodeExec: e.NodeExec(), Request: req})
		return []string{exe, "-test.run=^$"}, []string{NaiveEnv + "=" + string(cfg)}, nil
	}
	return nil, nil, fmt.Errorf("unknown operation %q", op)
}

// RunOp runs one operation and checks its outcome: a walk must be reachable, the checks must pass.
func (e *Env) RunOp(ctx context.Context, op string) (Measure, error) {
	argv, env, err := e.Args(op)
	if err != nil {
		return Measure{}, err
	}
	m, err := e.Run(ctx, op, argv, env...)
	if err != nil {
		return m, err
	}
	if m.ExitCode != 0 {
		return m, fmt.Errorf("%s at %d nodes exited %d: %s", op, e.Size.Nodes, m.ExitCode, lastLines(m.Stderr, 5))
	}
	return m, nil
}

// RunNaiveFromEnv runs the baseline when NaiveEnv is set (a re-executed test binary) and reports
// whether it did; the walk's verdict decides the exit code.
func RunNaiveFromEnv() (bool, int) {
	v := os.Getenv(NaiveEnv)
	if v == "" {
		return false, 0
	}
	var c NaiveConfig
	if err := json.Unmarshal([]byte(v), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return true, 2
	}
	w, err := Naive(context.Background(), c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		return true, 3
	}
	_ = json.NewEncoder(os.Stdout).Encode(w)
	if w.Verdict != trace.VerdictReachable {
		fmt.Fprintf(os.Stderr, "naive: verdict %s: %s\n", w.Verdict, w.Reason)
		return true, 1
	}
	return true, 0
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}
