package trace

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// CheckSpec is one pair to check: a source pod, a destination, and the expected verdict.
type CheckSpec struct {
	Name   string `json:"name"`
	Source PodRef `json:"source"`
	To     Target `json:"to"`
	// Expect is "reachable" or "broken".
	Expect  Verdict       `json:"expect"`
	Timeout time.Duration `json:"-"`
	// Probe is "", "icmp" or "tcp:PORT": send a real probe from the source pod as well.
	Probe string `json:"probe,omitempty"`
	// Line is the plan line the check came from (0 for flag-built checks).
	Line int `json:"line,omitempty"`
}

// ProbeResult is what a real probe from the source pod saw.
type ProbeResult struct {
	Kind string `json:"kind"`
	// Hops are the addresses traceroute printed, in order ("*" for no answer).
	Hops []string `json:"hops,omitempty"`
	// Reached says whether the probe reached the destination.
	Reached bool `json:"reached"`
	// Differences between the computed walk and what the probe saw.
	Differences []string `json:"differences,omitempty"`
	Error       string   `json:"error,omitempty"`
	Output      string   `json:"output,omitempty"`
	// PMTU is the path-MTU probe beside traceroute: a full-size don't-fragment packet (pmtu.go).
	PMTU *PMTUResult `json:"pmtu,omitempty"`
}

// Prober sends a real probe from a pod; implementations live in cmd (they exec into the pod).
type Prober func(ctx context.Context, spec CheckSpec, w *Walk) ProbeResult

// Check outcomes.
const (
	CheckPass    = "pass"
	CheckFail    = "fail"
	CheckError   = "error"
	CheckSkipped = "not-run"
)

// CheckResult is the outcome of one check.
type CheckResult struct {
	CheckSpec
	Destination string       `json:"destination"`
	Result      string       `json:"result"`
	Verdict     Verdict      `json:"verdict,omitempty"`
	BrokenAt    int          `json:"brokenAt,omitempty"`
	BrokenHop   string       `json:"brokenHop,omitempty"`
	Reason      string       `json:"reason,omitempty"`
	Message     string       `json:"message,omitempty"`
	Seconds     float64      `json:"seconds"`
	Probe       *ProbeResult `json:"probe,omitempty"`
	Walk        *Walk        `json:"walk,omitempty"`
}

// CheckReport is the outcome of a set of checks.
type CheckReport struct {
	Total       int           `json:"total"`
	Passed      int           `json:"passed"`
	Failed      int           `json:"failed"`
	Errors      int           `json:"errors"`
	NotRun      int           `json:"notRun"`
	Interrupted bool          `json:"interrupted,omitempty"`
	Seconds     float64       `json:"seconds"`
	Results     []CheckResult `json:"results"`
}

// CheckOptions control RunChecks.
type CheckOptions struct {
	Parallel int
	Probe    Prober
	// Now is the clock (tests inject a fixed one so reports are deterministic).
	Now func() time.Time
	// Progress, when set, is called after each check finishes.
	Progress func(done, total int, r CheckResult)
}

// RunChecks walks every check over one index with bounded concurrency. Facts are shared: the
// index is built once, whatever the number of checks. When ctx ends, checks not started are
// reported as not run and the report is marked interrupted.
func RunChecks(ctx context.Context, ix *Index, specs []CheckSpec, opt CheckOptions) *CheckReport {
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	par := opt.Parallel
	if par < 1 {
		par = 1
	}
	start := now()
	rep := &CheckReport{Total: len(specs), Results: make([]CheckResult, len(specs))}
	var mu sync.Mutex
	done := 0
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < par && w < len(specs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := runOne(ctx, ix, specs[i], opt.Probe, now)
				mu.Lock()
				rep.Results[i] = r
				done++
				if opt.Progress != nil {
					opt.Progress(done, len(specs), r)
				}
				mu.Unlock()
			}
		}()
	}
	sent := 0
feed:
	for i := range specs {
		select {
		case <-ctx.Done():
			break feed
		case jobs <- i:
			sent++
		}
	}
	close(jobs)
	wg.Wait()
	for i := sent; i < len(specs); i++ {
		rep.Results[i] = CheckResult{CheckSpec: specs[i], Destination: specs[i].To.String(), Result: CheckSkipped, Message: "not run: interrupted"}
	}
	if sent < len(specs) || ctx.Err() != nil {
		rep.Interrupted = true
	}
	for _, r := range rep.Results {
		switch r.Result {
		case CheckPass:
			rep.Passed++
		case CheckFail:
			rep.Failed++
		case CheckError:
			rep.Errors++
		default:
			rep.NotRun++
		}
	}
	rep.Seconds = now().Sub(start).Seconds()
	return rep
}

func runOne(ctx context.Context, ix *Index, spec CheckSpec, probe Prober, now func() time.Time) (r CheckResult) {
	t0 := now()
	r = CheckResult{CheckSpec: spec, Destination: spec.To.String()}
	// The named result: the time is set on whatever is returned (an unnamed one was copied first).
	defer func() { r.Seconds = now().Sub(t0).Seconds() }()
	w, err := ix.Walk(Request{Source: spec.Source, To: spec.To})
	if err != nil {
		r.Result, r.Message = CheckError, err.Error()
		return r
	}
	r.Walk, r.Verdict, r.BrokenAt, r.Reason = w, w.Verdict, w.BrokenAt, w.Reason
	if w.BrokenAt > 0 {
		h := w.Hops[w.BrokenAt-1]
		r.BrokenHop = fmt.Sprintf("%d %s %s", h.Index, h.Kind, h.Name)
		if h.Direction == Return {
			r.BrokenHop += " (return path)"
		}
	}
	expect := spec.Expect
	if expect == "" {
		expect = VerdictReachable
	}
	switch {
	case w.Verdict == VerdictUnknown:
		r.Result, r.Message = CheckError, "facts missing: "+w.Reason
	case w.Verdict == expect:
		r.Result = CheckPass
	default:
		r.Result = CheckFail
		if w.Verdict == VerdictBroken {
			r.Message = fmt.Sprintf("expected %s, broken at hop %s: %s", expect, r.BrokenHop, w.Reason)
			for _, c := range w.Consequences() {
				r.Message += fmt.Sprintf("; hop %d %s %s broken as its consequence", c.Index, c.Kind, c.Name)
			}
		} else {
			r.Message = fmt.Sprintf("expected %s, but the path holds", expect)
		}
	}
	if spec.Probe != "" && probe != nil && ctx.Err() == nil {
		pctx := ctx
		if spec.Timeout > 0 {
			var cancel context.CancelFunc
			pctx, cancel = context.WithTimeout(ctx, spec.Timeout)
			defer cancel()
		}
		pr := probe(pctx, spec, w)
		r.Probe = &pr
		switch {
		case pr.Error != "":
			if r.Result == CheckPass {
				r.Result, r.Message = CheckError, "probe failed: "+pr.Error
			}
		case len(pr.Differences) > 0:
			// Real packets disagree with the walk: that comes first, whatever the walk's verdict.
			r.Result = CheckFail
			r.Message = appendMsg("probe disagrees with the walk: "+strings.Join(pr.Differences, "; "), r.Message)
		case pr.Reached != (expect == VerdictReachable):
			r.Result = CheckFail
			r.Message = appendMsg(r.Message, fmt.Sprintf("probe %s: reached=%v, expected %s", pr.Kind, pr.Reached, expect))
		}
	}
	return r
}

func appendMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// ReachDisagreement says how a probe that did (or did not) reach the destination contradicts the
// walk's verdict, or "" when it does not: a walk that cannot say (unknown) is contradicted only by
// a probe that got through.
func ReachDisagreement(w *Walk, reached bool) string {
	switch {
	case reached && w.BrokenOnlyByMTU():
		return "" // a small probe passes where only full-size packets are lost
	case reached && w.Verdict != VerdictReachable:
		return fmt.Sprintf("the probe reached %s, the walk says the path is %s", w.Destination.IP, w.Verdict)
	case !reached && w.Verdict == VerdictReachable:
		return fmt.Sprintf("the probe did not reach %s, the walk says the path holds", w.Destination.IP)
	}
	return ""
}

// CompareHops compares traceroute's hops with the walk's router hops, hop for hop.
func CompareHops(computed, observed []string) []string {
	var diffs []string
	n := len(computed)
	if len(observed) > n {
		n = len(observed)
	}
	for i := 0; i < n; i++ {
		var c, o string
		if i < len(computed) {
			c = computed[i]
		}
		if i < len(observed) {
			o = observed[i]
		}
		if c != o {
			switch {
			case c == "":
				diffs = append(diffs, fmt.Sprintf("hop %d: traceroute shows %s, the walk has no hop", i+1, o))
			case o == "":
				diffs = append(diffs, fmt.Sprintf("hop %d: the walk has %s, traceroute shows nothing", i+1, c))
			default:
				diffs = append(diffs, fmt.Sprintf("hop %d: the walk has %s, traceroute shows %s", i+1, c, o))
			}
		}
	}
	return diffs
}

// DefaultChecks covers one pod per node to every other node: the default of `check`.
func (ix *Index) DefaultChecks() []CheckSpec {
	var specs []CheckSpec
	nodes := ix.NodeNames()
	for _, src := range nodes {
		p := ix.firstPodOn(src)
		if p == nil {
			continue
		}
		for _, dst := range nodes {
			if dst == src {
				continue
			}
			specs = append(specs, CheckSpec{Source: PodRef{Namespace: p.Namespace, Name: p.Name}, To: Target{Kind: TargetNode, Name: dst}, Expect: VerdictReachable})
		}
	}
	return specs
}

// NodeNames lists the cluster's nodes, sorted (shared: do not modify).
func (ix *Index) NodeNames() []string { return ix.nodeNames }

// firstPodOn returns the first running, non-host-network pod with an IP on node, by namespace/name.
func (ix *Index) firstPodOn(node string) *Pod { return ix.firstPod[node] }

// SelectPods returns the pods matching a label selector in a namespace ("" for all), sorted.
func (ix *Index) SelectPods(namespace string, sel Selector) []PodRef {
	var out []PodRef
	for _, p := range ix.pods {
		if (namespace == "" || p.Namespace == namespace) && !p.HostNetwork && sel.Matches(p.Labels) {
			out = append(out, PodRef{Namespace: p.Namespace, Name: p.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// ExpandTargets turns "nodes", "pods" and single targets into targets for a source pod: "nodes"
// is every node but the source's, "pods" one pod on every other node.
func (ix *Index) ExpandTargets(src PodRef, words []string, defaultNS string) ([]Target, error) {
	var out []Target
	srcNode := ""
	if p := ix.pods[src.String()]; p != nil {
		srcNode = p.Node
	}
	for _, w := range words {
		switch w {
		case "nodes":
			for _, n := range ix.NodeNames() {
				if n != srcNode {
					out = append(out, Target{Kind: TargetNode, Name: n})
				}
			}
		case "pods":
			for _, n := range ix.NodeNames() {
				if n == srcNode {
					continue
				}
				if p := ix.firstPodOn(n); p != nil {
					out = append(out, Target{Kind: TargetPod, Namespace: p.Namespace, Name: p.Name})
				}
			}
		default:
			t, err := ParseTarget(w, defaultNS)
			if err != nil {
				return nil, fmt.Errorf("%q is not nodes, pods, node/NAME, pod/NS/NAME, svc/NS/NAME[:PORT], an IP or IP:PORT", w)
			}
			out = append(out, t)
		}
	}
	return out, nil
}
