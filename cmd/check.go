package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/packetwalk/kubectl-packetwalk/render"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// CheckOptions are the flags of `check`.
type CheckOptions struct {
	*GlobalOptions
	FactOptions
	ProbeOptions
	Plan          string
	From          string
	AllNamespaces bool
	To            string
	Expect        string
	Parallel      int
	Timeout       time.Duration
	CheckTimeout  time.Duration
	Output        render.Format
	JUnit         string

	color bool
	now   func() time.Time
	// toSet says --to was given (its default, nodes, only applies with --from).
	toSet bool
}

// NewCmdCheck builds `check`.
func NewCmdCheck(g *GlobalOptions) *cobra.Command {
	o := &CheckOptions{GlobalOptions: g, To: "nodes", Expect: string(trace.VerdictReachable), Parallel: 8, Timeout: 5 * time.Minute,
		CheckTimeout: 10 * time.Second, Output: render.Table, now: time.Now}
	c := &cobra.Command{
		Use:   "check [--plan FILE | --from POD|SELECTOR --to nodes|pods|TARGET,...]",
		Short: "Connectivity smoke checks a CI pipeline can gate on",
		Long: `Walk many pairs and report which hold. Pairs come from a plan file (--plan) or from flags; with
neither, one pod per node is checked to every other node. Each check passes when its walk's verdict
matches its expectation (reachable by default); with --probe a real probe from the source pod must
agree too (traceroute -I hop for hop, or a TCP connect).

Facts are gathered once for all checks: 1,000 checks over 50 nodes read each node once.

Plan file (YAML; errors point at the line):
  apiVersion: packetwalk/v1
  kind: CheckPlan
  defaults: {namespace: default, expect: reachable, timeout: 10s, probe: none}
  checks:
    - name: dns-to-every-node
      from: kube-system/kube-dns        # or fromSelector: k8s-app=kube-dns (+ namespace)
      to: nodes                         # nodes, pods, node/NAME, pod/NS/NAME, IP, or a list
    - from: default/web
      to: [pod/default/db, 10.0.0.1]
      expect: broken                    # e.g. a path a network policy must cut

Exit codes: 0 all checks passed, 1 some check failed (or the run was interrupted), 2 usage or plan
error, 3 facts could not be collected (some check's walk is unknown, and none failed).`,
		Example: `  # One pod per node to every other node, from a snapshot
  kubectl packetwalk check --snapshot snap.json

  # kube-dns to every node, with a JUnit report for the CI system
  kubectl packetwalk check --from kube-system/kube-dns --to nodes --snapshot snap.json --junit report.xml

  # Every pod labelled app=web to two destinations, as JSON
  kubectl packetwalk check -n shop --from app=web --to pod/shop/db,10.96.0.10 --snapshot snap.json -o json

  # A plan, with real traceroutes from each pod compared hop for hop
  kubectl packetwalk check --plan checks.yaml --probe --pod-exec 'kubectl exec -n {namespace} {pod} --'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			o.toSet = c.Flags().Changed("to")
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	o.FactOptions.AddFlags(f)
	o.ProbeOptions.AddFlags(f)
	f.StringVar(&o.Plan, "plan", o.Plan, "YAML plan file with the checks (see above)")
	f.StringVar(&o.From, "from", o.From, "source: a pod (NS/NAME or NAME in -n) or a label selector (key=value,...) in -n or every namespace with -A")
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "with a --from selector, select pods in every namespace")
	f.StringVar(&o.To, "to", o.To, "destinations, comma-separated: nodes (every other node), pods (one pod on every other node), node/NAME, pod/NS/NAME, IP")
	f.StringVar(&o.Expect, "expect", o.Expect, "what the flag-built checks expect: reachable or broken")
	f.IntVar(&o.Parallel, "parallel", o.Parallel, "checks run at once")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "overall deadline; checks not started by then are reported as not run")
	f.DurationVar(&o.CheckTimeout, "check-timeout", o.CheckTimeout, "per-check deadline for its probe (a plan's timeout wins)")
	addOutputFlag(f, &o.Output, render.ListFormats)
	f.StringVar(&o.JUnit, "junit", o.JUnit, "also write a JUnit XML report to this file")
	_ = c.RegisterFlagCompletionFunc("output", formatCompletion(render.ListFormats))
	_ = c.RegisterFlagCompletionFunc("from", completePod(g))
	_ = c.RegisterFlagCompletionFunc("to", completeCheckTargets(g))
	_ = c.RegisterFlagCompletionFunc("expect", fixedCompletion(string(trace.VerdictReachable), string(trace.VerdictBroken)))
	return c
}

// Validate checks the flags.
func (o *CheckOptions) Validate() error {
	var err error
	if o.color, err = useColor(o.Color, o.Out); err != nil {
		return err
	}
	if o.Plan != "" && o.From != "" {
		return usageErr("use --plan or --from, not both")
	}
	if o.toSet && o.From == "" {
		return usageErr("--to needs --from POD|SELECTOR, the pods to check from (a --plan names its own destinations)")
	}
	if e := trace.Verdict(o.Expect); e != trace.VerdictReachable && e != trace.VerdictBroken {
		return usageErr("--expect must be reachable or broken, got %q", o.Expect)
	}
	if o.Parallel < 1 || o.Parallel > 256 {
		return usageErr("--parallel must be between 1 and 256, got %d", o.Parallel)
	}
	if o.Timeout <= 0 || o.CheckTimeout <= 0 {
		return usageErr("--timeout and --check-timeout must be positive")
	}
	return o.ProbeOptions.Validate()
}

// Run gathers the facts once, runs the checks and writes the reports.
func (o *CheckOptions) Run(ctx context.Context) error {
	var plan *trace.Plan
	if o.Plan != "" {
		data, err := readLimited(o.Plan, 4<<20)
		if err != nil {
			return usageErr("cannot read plan: %v", err)
		}
		if plan, err = trace.ParsePlan(data, o.Plan); err != nil {
			return usageErr("%v", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	// The run's time includes gathering the facts, which every check shares.
	started := o.now()
	factsCut := false
	snap, err := o.Gather(ctx, o.GlobalOptions, o.withRefresh(o.need(plan)))
	if err != nil {
		if ctx.Err() == nil {
			return err
		}
		// Interrupted while the facts were read: the checks it can name are reported, as not run.
		snap = &trace.Snapshot{APIVersion: trace.APIVersion}
		factsCut = true
	}
	ix := trace.NewIndex(snap)
	specs, err := o.specs(ix, plan)
	if err != nil && ctx.Err() == nil {
		return err
	}
	if len(specs) == 0 && ctx.Err() == nil {
		return usageErr("nothing to check: the snapshot has no running pod with an IP on any node (or a single node)")
	}
	for i := range specs {
		if specs[i].Timeout == 0 {
			specs[i].Timeout = o.CheckTimeout
		}
		if specs[i].Probe == "" && o.Probe != "" {
			specs[i].Probe = o.Probe
		}
	}
	opt := trace.CheckOptions{Parallel: o.Parallel, Probe: o.Prober(snap), Now: o.now}
	if f, ok := o.ErrOut.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		opt.Progress = func(done, total int, r trace.CheckResult) {
			fmt.Fprintf(o.ErrOut, "\r[%d/%d] %-4s %s", done, total, r.Result, truncate(r.Name, 60))
			if done == total {
				fmt.Fprint(o.ErrOut, "\r\033[K")
			}
		}
	}
	rep := trace.RunChecks(ctx, ix, specs, opt)
	wordReportHints(rep)
	rep.Seconds = o.now().Sub(started).Seconds()
	rep.Interrupted = rep.Interrupted || ctx.Err() != nil
	if o.JUnit != "" {
		if err := writeFileAtomic(o.JUnit, func(f *os.File) error { return render.WriteJUnit(f, rep, started) }); err != nil {
			return factsErr(fmt.Errorf("cannot write --junit %s: %w", o.JUnit, err))
		}
	}
	if err := render.WriteCheck(o.Out, rep, o.Output, render.Options{Color: o.color}); err != nil {
		return err
	}
	switch {
	case rep.Interrupted && factsCut:
		return &ExitError{Code: ExitBroken, Err: fmt.Errorf("interrupted while the facts were read: no check ran (%w)", context.Cause(ctx))}
	case rep.Interrupted:
		return &ExitError{Code: ExitBroken, Err: fmt.Errorf("interrupted: %d of %d checks ran (%w)", rep.Total-rep.NotRun, rep.Total, context.Cause(ctx))}
	case rep.Failed > 0:
		return silent(ExitBroken)
	case rep.Errors > 0:
		return silent(ExitNoFacts)
	}
	return nil
}

// need says which facts the checks read. Checks that name their pods and destinations read only
// those (and their nodes); selectors, "nodes", "pods" and the default matrix need the whole
// cluster listed once.
func (o *CheckOptions) need(plan *trace.Plan) Need {
	ns := o.namespace()
	var n Need
	seenPod := map[string]bool{}
	seenTo := map[string]bool{}
	addTargets := func(words []string, ns string) bool {
		for _, w := range words {
			if w == "nodes" || w == "pods" {
				return false
			}
			t, err := trace.ParseTarget(w, ns)
			if err != nil {
				return false
			}
			if !seenTo[t.String()] {
				seenTo[t.String()] = true
				n.Targets = append(n.Targets, t)
			}
		}
		return true
	}
	addPod := func(ref trace.PodRef) {
		if !seenPod[ref.String()] {
			seenPod[ref.String()] = true
			n.Pods = append(n.Pods, ref)
		}
	}
	switch {
	case plan != nil:
		for _, c := range plan.Checks {
			cns := plan.NamespaceOf(c, ns)
			ref, ok := c.Source(cns)
			if !ok {
				return Need{All: true}
			}
			addPod(ref)
			if !addTargets(c.To, cns) {
				return Need{All: true}
			}
		}
		return n
	case o.From != "" && !o.fromSelector():
		ref, err := parsePodRef(o.From, ns)
		if err != nil {
			return Need{All: true}
		}
		addPod(ref)
		if !addTargets(strings.Split(o.To, ","), ns) {
			return Need{All: true}
		}
		return n
	}
	return Need{All: true}
}

// fromSelector says whether --from is a label selector (key=value, !key, a,b) rather than a pod.
func (o *CheckOptions) fromSelector() bool {
	return strings.ContainsAny(o.From, "=!") || (!strings.Contains(o.From, "/") && strings.Contains(o.From, ","))
}

func (o *CheckOptions) specs(ix *trace.Index, plan *trace.Plan) ([]trace.CheckSpec, error) {
	ns := o.namespace()
	if plan != nil {
		specs, err := ix.ExpandPlan(plan, ns)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		return specs, nil
	}
	if o.From == "" {
		specs := ix.DefaultChecks()
		for i := range specs {
			specs[i].Expect = trace.Verdict(o.Expect)
			specs[i].Name = specs[i].Source.String() + " -> " + specs[i].To.String()
		}
		return specs, nil
	}
	var srcs []trace.PodRef
	if o.fromSelector() {
		sel, err := trace.ParseSelector(o.From)
		if err != nil {
			return nil, usageErr("--from: %v", err)
		}
		selNS := ns
		if o.AllNamespaces {
			selNS = ""
		}
		if srcs = ix.SelectPods(selNS, sel); len(srcs) == 0 {
			return nil, usageErr("--from %s matches no pod%s", o.From, map[bool]string{true: " in any namespace", false: " in namespace " + ns}[selNS == ""])
		}
	} else {
		ref, err := parsePodRef(o.From, ns)
		if err != nil {
			return nil, err
		}
		// One error for a source that does not exist, not one per destination.
		if err := ix.PodError(ref); err != nil {
			return nil, usageErr("--from: %v", err)
		}
		srcs = []trace.PodRef{ref}
	}
	words := strings.Split(o.To, ",")
	var specs []trace.CheckSpec
	for _, src := range srcs {
		tos, err := ix.ExpandTargets(src, words, ns)
		if err != nil {
			return nil, usageErr("--to: %v", err)
		}
		for _, t := range tos {
			specs = append(specs, trace.CheckSpec{Name: src.String() + " -> " + t.String(), Source: src, To: t, Expect: trace.Verdict(o.Expect)})
		}
	}
	return specs, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// readLimited reads a file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}

// writeFileAtomic writes through a temporary file renamed into place, so a reader never sees half a report.
func writeFileAtomic(path string, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".packetwalk-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// CreateTemp makes 0600; a report is for the CI's other steps to read, as a file made with >.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
