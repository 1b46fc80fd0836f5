package cmd

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// ProbeOptions say how to send a real probe from a pod: which probe, and how to run a command in
// the pod's network namespace.
type ProbeOptions struct {
	Probe   string
	PodExec string
	// Refresh makes each source pod send one packet before its node is read (--probe does too).
	Refresh bool
}

// AddFlags registers --probe and --pod-exec.
func (p *ProbeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&p.Probe, "probe", p.Probe, "also send a real probe from the source pod and compare: icmp (traceroute -I, and a full-size don't-fragment ping -M do as large as the pod's MTU: the path MTU) or tcp:PORT")
	fs.Lookup("probe").NoOptDefVal = "icmp"
	fs.BoolVar(&p.Refresh, "refresh", p.Refresh, "make the source pod send one packet (traceroute -I -m 1, through --pod-exec) before its node is read, so its MAC-table entries are fresh: a missing one is then broken, not an idle pod (--probe does this too)")
	fs.StringVar(&p.PodExec, "pod-exec", p.PodExec, "command prefix that runs a command in the source pod's network namespace, with {namespace}, {pod}, {node}, {podIP} substituted, e.g. 'ip netns exec pod-{pod}' or 'kubectl exec -n {namespace} {pod} --'")
}

// Validate checks the probe flags.
func (p *ProbeOptions) Validate() error {
	if p.Refresh && p.PodExec == "" {
		return usageErr("--refresh needs --pod-exec TEMPLATE: how to send a packet from the source pod (e.g. --pod-exec 'kubectl exec -n {namespace} {pod} --')")
	}
	if p.Probe == "" {
		if p.PodExec != "" {
			if _, err := runner.Split(p.PodExec); err != nil {
				return usageErr("--pod-exec: %v", err)
			}
		}
		return nil
	}
	if !trace.ValidProbe(p.Probe) || p.Probe == "none" {
		return usageErr("--probe must be icmp or tcp:PORT, got %q", p.Probe)
	}
	if p.PodExec == "" {
		return usageErr("--probe needs --pod-exec TEMPLATE: how to run traceroute in the source pod (e.g. --pod-exec 'kubectl exec -n {namespace} {pod} --')")
	}
	if _, err := runner.Split(p.PodExec); err != nil {
		return usageErr("--pod-exec: %v", err)
	}
	return nil
}

// Prober returns the prober for these options, or nil when no probe was asked for.
func (p *ProbeOptions) Prober(snap *trace.Snapshot) trace.Prober {
	if p.Probe == "" {
		return nil
	}
	pods := map[string]trace.Pod{}
	for _, pod := range snap.Cluster.Pods {
		pods[pod.Namespace+"/"+pod.Name] = pod
	}
	return func(ctx context.Context, spec trace.CheckSpec, w *trace.Walk) trace.ProbeResult {
		kind := spec.Probe
		if kind == "" {
			kind = p.Probe
		}
		pod := pods[spec.Source.String()]
		ip := ""
		if len(pod.IPs) > 0 {
			ip = pod.IPs[0]
		}
		prefix, err := expandTemplate(p.PodExec, map[string]string{"namespace": spec.Source.Namespace, "pod": spec.Source.Name, "node": pod.Node, "podIP": ip})
		if err != nil {
			return trace.ProbeResult{Kind: kind, Error: err.Error()}
		}
		res := runProbe(ctx, kind, prefix, w)
		if res.Kind == "icmp" && res.Error == "" {
			res.PMTU = runPMTUProbe(ctx, prefix, w, trace.SenderMTU(snap, w))
			if d := trace.PMTUDisagreement(w, *res.PMTU); d != "" && res.PMTU.Error == "" {
				res.Differences = append(res.Differences, d)
			}
		}
		return res
	}
}

// probeAddr parses a probe's destination, which goes on the --pod-exec command line (and a template
// may hand it to a remote shell): an address with no IPv6 zone, a zone being free text.
func probeAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("destination %s is not an address", runner.Clip(strconv.Quote(s), 64))
	}
	return a, nil
}

// runProbe runs traceroute (or a TCP connect) through the exec prefix and compares with the walk.
func runProbe(ctx context.Context, kind string, prefix []string, w *trace.Walk) trace.ProbeResult {
	dst := w.Destination.IP
	res := trace.ProbeResult{Kind: kind}
	port, tcp := strings.CutPrefix(kind, "tcp:")
	if !tcp {
		res.Kind = "icmp"
	}
	if _, err := probeAddr(dst); err != nil {
		res.Error = err.Error()
		return res
	}
	var args []string
	if tcp {
		args = append(append([]string{}, prefix...), "nc", "-z", "-w", "2", dst, port)
	} else {
		args = append(append([]string{}, prefix...), "traceroute", "-I", "-n", "-q", "1", "-w", "1", "-m", "16", dst)
	}
	// The node runner's local exec: its own process group killed on timeout, output capped.
	out, err := runner.Local{}.Run(ctx, runner.Node{}, args)
	res.Output = string(out)
	if tcp {
		res.Reached = err == nil
		if err != nil && ctx.Err() != nil {
			res.Error = fmt.Sprintf("%s: %v", strings.Join(args, " "), ctx.Err())
			return res
		}
		if d := trace.ReachDisagreement(w, res.Reached); d != "" {
			res.Differences = []string{d}
		}
		return res
	}
	if err != nil && len(out) == 0 {
		res.Error = oneLine(err.Error())
		return res
	}
	res.Hops = trimStars(parseTraceroute(res.Output))
	res.Reached = len(res.Hops) > 0 && res.Hops[len(res.Hops)-1] == dst
	if d := trace.ReachDisagreement(w, res.Reached); d != "" {
		res.Differences = append(res.Differences, d)
	}
	if want, exact := w.ExpectedTraceroute(); exact {
		res.Differences = append(res.Differences, trace.CompareHops(want, res.Hops)...)
	}
	return res
}

// parseTraceroute reads `traceroute -n -q 1` output: one address (or *) per hop line.
func parseTraceroute(s string) []string {
	var hops []string
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] == "traceroute" {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(f[0], "%d", &n); err != nil {
			continue
		}
		if a, err := netip.ParseAddr(f[1]); err == nil {
			hops = append(hops, a.String())
		} else {
			hops = append(hops, "*")
		}
	}
	return hops
}

// trimStars drops the unanswered hops at the end (traceroute's give-up tail).
func trimStars(h []string) []string {
	for len(h) > 0 && h[len(h)-1] == "*" {
		h = h[:len(h)-1]
	}
	return h
}

// expandTemplate splits a command template like a shell would (runner.Split: quotes, backslashes,
// no shell), and substitutes {key} placeholders in each word.
func expandTemplate(tmpl string, vars map[string]string) ([]string, error) {
	words, err := runner.Split(tmpl)
	if err != nil {
		return nil, err
	}
	var pairs []string
	for k, v := range vars {
		// The values come from the API server; a template may hand them to a remote shell (ssh).
		if v != "" && k == "podIP" {
			if _, err := runner.ParseNodeIP(v); err != nil {
				return nil, fmt.Errorf("--pod-exec {podIP}: %w", err)
			}
		} else if v != "" {
			if err := runner.CheckName(k, v); err != nil {
				return nil, fmt.Errorf("--pod-exec: %w", err)
			}
		}
		pairs = append(pairs, "{"+k+"}", v)
	}
	r := strings.NewReplacer(pairs...) // one pass: a value is never expanded again
	for i, w := range words {
		words[i] = r.Replace(w)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("empty command template")
	}
	return words, nil
}
