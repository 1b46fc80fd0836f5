package trace

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Plan is a `check --plan FILE`: the pairs to check and what to expect of them.
//
//	apiVersion: packetwalk/v1      # required
//	kind: CheckPlan                # required
//	defaults:                      # optional, apply to every check
//	  namespace: default           # namespace of bare pod names and selectors
//	  expect: reachable            # reachable | broken
//	  timeout: 10s                 # per-check timeout (the probe's)
//	  probe: none                  # none | icmp | tcp:PORT
//	checks:
//	  - name: dns-to-nodes         # optional; defaults to "SOURCE -> DESTINATION"
//	    from: kube-system/kube-dns # a pod: NS/NAME or NAME ...
//	    fromSelector: k8s-app=dns  # ... or the pods matching a label selector (in namespace)
//	    namespace: kube-system
//	    to: [nodes, pod/default/web, 172.15.0.4]   # or one string; nodes / pods expand
//	    expect: reachable
//	    timeout: 5s
//	    probe: icmp
type Plan struct {
	File     string
	Defaults PlanDefaults
	Checks   []PlanCheck
}

// PlanDefaults apply to every check of a plan.
type PlanDefaults struct {
	Namespace string
	Expect    Verdict
	Timeout   time.Duration
	Probe     string
}

// PlanCheck is one entry of a plan, with the line it starts on.
type PlanCheck struct {
	Line         int
	Name         string
	From         string
	FromSelector string
	Namespace    string
	To           []string
	Expect       Verdict
	Timeout      time.Duration
	Probe        string
}

// PlanError is a problem in a plan, pointing at its line.
type PlanError struct {
	File string
	Line int
	Msg  string
	// Err is the error Msg came from, if any.
	Err error
}

// Unwrap returns the error the message came from.
func (e *PlanError) Unwrap() error { return e.Err }

func (e *PlanError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// maxPlanBytes bounds a plan file.
const maxPlanBytes = 4 << 20

// ParsePlan parses and validates a plan.
func ParsePlan(data []byte, file string) (*Plan, error) {
	pp := planParser{file: file}
	if len(data) > maxPlanBytes {
		return nil, pp.errf(0, "plan is larger than %d bytes", maxPlanBytes)
	}
	root, err := pp.document(data)
	if err != nil {
		return nil, err
	}
	p := &Plan{File: file}
	checks, err := pp.header(root, p)
	if err != nil {
		return nil, err
	}
	for i, c := range checks.Content {
		pc, err := pp.check(c, i)
		if err != nil {
			return nil, err
		}
		p.Checks = append(p.Checks, pc)
	}
	return p, nil
}

// planParser makes the errors of one plan file, each pointing at its line.
type planParser struct{ file string }

func (pp planParser) errf(line int, format string, a ...any) error {
	return &PlanError{File: pp.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

// wrap is a field's error at its line, kept for errors.Is and errors.As.
func (pp planParser) wrap(line int, err error) error {
	return &PlanError{File: pp.file, Line: line, Msg: err.Error(), Err: err}
}

// document parses the YAML and returns its root mapping.
func (pp planParser) document(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
			msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		}
		return nil, &PlanError{File: pp.file, Line: line, Msg: "not valid YAML: " + msg, Err: err}
	}
	if len(doc.Content) == 0 {
		return nil, pp.errf(0, "plan is empty: it needs apiVersion: %s, kind: CheckPlan and checks", APIVersion)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, pp.errf(root.Line, "a plan is a mapping with apiVersion, kind and checks")
	}
	return root, nil
}

// header reads apiVersion, kind and defaults into p, and returns the checks list (non-empty).
func (pp planParser) header(root *yaml.Node, p *Plan) (*yaml.Node, error) {
	var haveVersion, haveKind bool
	var checks *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "apiVersion":
			if v.Value != APIVersion {
				return nil, pp.errf(v.Line, "apiVersion must be %s, got %q", APIVersion, v.Value)
			}
			haveVersion = true
		case "kind":
			if v.Value != "CheckPlan" {
				return nil, pp.errf(v.Line, "kind must be CheckPlan, got %q", v.Value)
			}
			haveKind = true
		case "defaults":
			if err := pp.defaults(v, &p.Defaults); err != nil {
				return nil, err
			}
		case "checks":
			checks = v
		default:
			return nil, pp.errf(k.Line, "unknown field %q (known: apiVersion, kind, defaults, checks)", k.Value)
		}
	}
	if !haveVersion {
		return nil, pp.errf(root.Line, "apiVersion: %s is required", APIVersion)
	}
	if !haveKind {
		return nil, pp.errf(root.Line, "kind: CheckPlan is required")
	}
	if checks == nil || checks.Kind != yaml.SequenceNode || len(checks.Content) == 0 {
		line := root.Line
		if checks != nil {
			line = checks.Line
		}
		return nil, pp.errf(line, "checks must be a non-empty list")
	}
	return checks, nil
}

// defaults reads the defaults mapping.
func (pp planParser) defaults(v *yaml.Node, d *PlanDefaults) error {
	if v.Kind != yaml.MappingNode {
		return pp.errf(v.Line, "defaults must be a mapping")
	}
	for j := 0; j+1 < len(v.Content); j += 2 {
		dk, dv := v.Content[j], v.Content[j+1]
		var err error
		switch dk.Value {
		case "namespace":
			d.Namespace, err = scalar(dv, "defaults.namespace")
		case "expect":
			d.Expect, err = expectValue(dv, "defaults.expect")
		case "timeout":
			d.Timeout, err = durationValue(dv, "defaults.timeout")
		case "probe":
			d.Probe, err = probeValue(dv, "defaults.probe")
		default:
			err = fmt.Errorf("unknown field defaults.%s (known: namespace, expect, timeout, probe)", dk.Value)
		}
		if err != nil {
			return pp.wrap(dk.Line, err)
		}
	}
	return nil
}

// check reads checks[i]: its fields, then that it names a source and destinations that parse.
func (pp planParser) check(c *yaml.Node, i int) (PlanCheck, error) {
	where := fmt.Sprintf("checks[%d]", i)
	if c.Kind != yaml.MappingNode {
		return PlanCheck{}, pp.errf(c.Line, "%s must be a mapping with from and to", where)
	}
	pc := PlanCheck{Line: c.Line}
	for j := 0; j+1 < len(c.Content); j += 2 {
		k, v := c.Content[j], c.Content[j+1]
		if err := checkField(&pc, k.Value, v, where+"."+k.Value); err != nil {
			return PlanCheck{}, pp.wrap(k.Line, err)
		}
	}
	switch {
	case pc.From == "" && pc.FromSelector == "":
		return PlanCheck{}, pp.errf(c.Line, "%s needs from (a pod) or fromSelector (a label selector)", where)
	case pc.From != "" && pc.FromSelector != "":
		return PlanCheck{}, pp.errf(c.Line, "%s has both from and fromSelector: use one", where)
	case len(pc.To) == 0:
		return PlanCheck{}, pp.errf(c.Line, "%s needs to: nodes, pods, node/NAME, pod/NS/NAME or an IP", where)
	}
	for _, t := range pc.To {
		if t == "nodes" || t == "pods" {
			continue
		}
		if _, err := ParseTarget(t, "x"); err != nil {
			return PlanCheck{}, pp.errf(c.Line, "%s.to: %q is not nodes, pods, node/NAME, pod/NS/NAME, svc/NS/NAME[:PORT], an IP or IP:PORT", where, t)
		}
	}
	return pc, nil
}

// checkField reads one field of a check (f is its path, for errors).
func checkField(pc *PlanCheck, name string, v *yaml.Node, f string) error {
	var err error
	switch name {
	case "name":
		pc.Name, err = scalar(v, f)
	case "from":
		pc.From, err = scalar(v, f)
	case "fromSelector":
		pc.FromSelector, err = scalar(v, f)
		if err == nil {
			_, err = ParseSelector(pc.FromSelector)
		}
	case "namespace":
		pc.Namespace, err = scalar(v, f)
	case "to":
		pc.To, err = stringList(v, f)
	case "expect":
		pc.Expect, err = expectValue(v, f)
	case "timeout":
		pc.Timeout, err = durationValue(v, f)
	case "probe":
		pc.Probe, err = probeValue(v, f)
	default:
		err = fmt.Errorf("unknown field %s (known: name, from, fromSelector, namespace, to, expect, timeout, probe)", f)
	}
	return err
}

func scalar(v *yaml.Node, field string) (string, error) {
	if v.Kind != yaml.ScalarNode || v.Value == "" {
		return "", fmt.Errorf("%s must be a non-empty string", field)
	}
	return v.Value, nil
}

func stringList(v *yaml.Node, field string) ([]string, error) {
	if v.Kind == yaml.ScalarNode {
		var out []string
		for _, s := range strings.Split(v.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s must be a string or a list of strings", field)
	}
	var out []string
	for _, e := range v.Content {
		s, err := scalar(e, field)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func expectValue(v *yaml.Node, field string) (Verdict, error) {
	if e := Verdict(v.Value); e != VerdictReachable && e != VerdictBroken {
		return "", fmt.Errorf("%s must be reachable or broken, got %q", field, v.Value)
	}
	return Verdict(v.Value), nil
}

func durationValue(v *yaml.Node, field string) (time.Duration, error) {
	d, err := time.ParseDuration(v.Value)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s must be a positive duration such as 10s, got %q", field, v.Value)
	}
	return d, nil
}

// ValidProbe reports whether s is none, icmp or tcp:PORT.
func ValidProbe(s string) bool {
	if s == "none" || s == "icmp" || s == "" {
		return true
	}
	if port, ok := strings.CutPrefix(s, "tcp:"); ok {
		n, err := strconv.Atoi(port)
		return err == nil && n > 0 && n < 65536 && strconv.Itoa(n) == port
	}
	return false
}

func probeValue(v *yaml.Node, field string) (string, error) {
	if !ValidProbe(v.Value) {
		return "", fmt.Errorf("%s must be none, icmp or tcp:PORT, got %q", field, v.Value)
	}
	if v.Value == "none" {
		return "", nil
	}
	return v.Value, nil
}

// NamespaceOf is the namespace of a check's bare pod names and selector: its own, the plan's
// default, else defaultNS.
func (p *Plan) NamespaceOf(c PlanCheck, defaultNS string) string {
	return cmp.Or(c.Namespace, p.Defaults.Namespace, defaultNS)
}

// Source is the check's source pod (from: NS/NAME, or NAME in ns); false for a fromSelector check.
func (c PlanCheck) Source(ns string) (PodRef, bool) {
	if c.From == "" {
		return PodRef{}, false
	}
	if a, b, ok := strings.Cut(c.From, "/"); ok {
		return PodRef{Namespace: a, Name: b}, true
	}
	return PodRef{Namespace: ns, Name: c.From}, true
}

// ExpandPlan turns a plan into checks over the indexed cluster; a selector that matches no pod
// or a pod that is not there is a plan error pointing at its line.
func (ix *Index) ExpandPlan(p *Plan, defaultNS string) ([]CheckSpec, error) {
	var specs []CheckSpec
	for i, c := range p.Checks {
		ns := p.NamespaceOf(c, defaultNS)
		var srcs []PodRef
		if ref, ok := c.Source(ns); ok {
			if ix.pods[ref.String()] == nil {
				return nil, &PlanError{File: p.File, Line: c.Line, Msg: fmt.Sprintf("checks[%d].from: pod %s not found%s", i, ref, ix.suggestPods(ref))}
			}
			srcs = []PodRef{ref}
		} else {
			sel, _ := ParseSelector(c.FromSelector)
			srcs = ix.SelectPods(ns, sel)
			if len(srcs) == 0 {
				return nil, &PlanError{File: p.File, Line: c.Line, Msg: fmt.Sprintf("checks[%d].fromSelector %q matches no pod in namespace %s", i, c.FromSelector, ns)}
			}
		}
		expect := cmp.Or(c.Expect, p.Defaults.Expect, VerdictReachable)
		timeout := c.Timeout
		if timeout == 0 {
			timeout = p.Defaults.Timeout
		}
		probe := cmp.Or(c.Probe, p.Defaults.Probe)
		for _, src := range srcs {
			tos, err := ix.ExpandTargets(src, c.To, ns)
			if err != nil {
				return nil, &PlanError{File: p.File, Line: c.Line, Msg: fmt.Sprintf("checks[%d].to: %v", i, err), Err: err}
			}
			for _, t := range tos {
				name := src.String() + " -> " + t.String()
				if c.Name != "" && len(srcs) == 1 && len(tos) == 1 {
					name = c.Name
				} else if c.Name != "" {
					name = c.Name + ": " + name
				}
				specs = append(specs, CheckSpec{Name: name, Source: src, To: t, Expect: expect, Timeout: timeout, Probe: probe, Line: c.Line})
			}
		}
	}
	return specs, nil
}
