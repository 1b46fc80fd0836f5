package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/packetwalk/kubectl-packetwalk/render"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// TraceOptions are the flags and arguments of `trace`.
type TraceOptions struct {
	*GlobalOptions
	FactOptions
	ProbeOptions
	Pod      string
	To       string
	Output   render.Format
	NoReturn bool
	// Endpoint and Protocol narrow a walk to a Service (service_flags.go).
	Endpoint string
	Protocol string
	// OFProtoTrace adds ovs-appctl ofproto/trace evidence to each OVS hop (ofproto.go).
	OFProtoTrace bool

	request trace.Request
	color   bool
}

// NewTraceOptions returns the defaults.
func NewTraceOptions(g *GlobalOptions) *TraceOptions {
	return &TraceOptions{GlobalOptions: g, Output: render.Table}
}

// NewCmdTrace builds `trace`.
func NewCmdTrace(g *GlobalOptions) *cobra.Command {
	o := NewTraceOptions(g)
	c := &cobra.Command{
		Use:   "trace POD --to node/NAME|pod/NS/NAME|svc/NS/NAME[:PORT]|IP[:PORT]",
		Short: "Walk the path from a pod to a node, a pod, a Service or an IP, hop by hop",
		Long: `Walk the path a packet takes from POD to the destination and back, across every layer: pod eth0,
veth pair, OVS port and VLAN tag, OVS MAC table, the fabric's logical port, logical switch, routers,
and the destination. Every hop shows its evidence; the first link that does not hold is named.

POD is NAME (in --namespace), NS/NAME or pod/NAME. The destination is node/NAME (a node name or its
InternalIP), pod/NS/NAME, svc/NS/NAME[:PORT] (PORT a Service port's name or number), or an IP address
with an optional :PORT. A Service (also given by its ClusterIP, a node IP with its NodePort, or a load
balancer IP) is walked to each ready endpoint, each walk with its own verdict, the load-balancing step
and its DNAT shown; it is reachable when any endpoint is. An address outside the cluster is walked up
to the tier-0 uplink and out, with the SNAT it gets and the reply translated back.

Exit codes: 0 the path holds, 1 the path is broken, 2 usage error, 3 facts missing (verdict unknown).`,
		Example: `  # Trace kube-dns to a node, offline, from a snapshot (the published NSX-T walk)
  kubectl packetwalk trace -n kube-system kube-dns --to node/172.15.0.4 --snapshot testdata/scenarios/nsx-published/snapshot.json

  # The same walk as JSON, for scripts
  kubectl packetwalk trace kube-system/kube-dns --to 172.15.0.4 --snapshot snap.json -o json

  # A Service: every ready endpoint, or one (--endpoint takes an IP, IP:PORT or NS/POD)
  kubectl packetwalk trace kube-system/kube-dns --to svc/default/web:http
  kubectl packetwalk trace kube-system/kube-dns --to 10.96.0.10:53 --protocol udp --endpoint 172.16.1.3

  # The way out, with the SNAT on the tier-0
  kubectl packetwalk trace kube-system/kube-dns --to 198.51.100.7

  # Draw the path
  kubectl packetwalk trace kube-system/kube-dns --to pod/default/nginx-3 --snapshot snap.json -o dot | dot -Tsvg > walk.svg

  # Compare with a real traceroute from the pod (here: a lab where each pod is a network namespace)
  kubectl packetwalk trace kube-system/kube-dns --to node/172.15.0.4 --probe --pod-exec 'ip netns exec pw-{namespace}-{pod}'`,
		Args: exactArgs(1, "the source pod"),
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&o.To, "to", o.To, "destination: node/NAME, pod/NS/NAME, svc/NS/NAME[:PORT], an IP address or IP:PORT")
	o.addServiceFlags(f)
	o.FactOptions.AddFlags(f)
	o.ProbeOptions.AddFlags(f)
	addOutputFlag(f, &o.Output, render.WalkFormats)
	f.BoolVar(&o.NoReturn, "no-return", o.NoReturn, "walk the forward path only")
	_ = c.RegisterFlagCompletionFunc("output", formatCompletion(render.WalkFormats))
	_ = c.RegisterFlagCompletionFunc("to", completeTarget(g))
	c.ValidArgsFunction = completePod(g)
	return c
}

// Complete fills the request from the arguments.
func (o *TraceOptions) Complete(args []string) error {
	o.Pod = args[0]
	ns := o.namespace()
	ref, err := parsePodRef(o.Pod, ns)
	if err != nil {
		return err
	}
	if o.To == "" {
		return usageErr("--to is required: node/NAME, pod/NS/NAME, svc/NS/NAME[:PORT] or an IP address")
	}
	to, err := trace.ParseTarget(o.To, ns)
	if err != nil {
		return usageErr("--to %v", err)
	}
	if to, err = o.serviceTarget(to); err != nil {
		return err
	}
	o.request = trace.Request{Source: ref, To: to, NoReturn: o.NoReturn, Endpoint: o.Endpoint, Words: traceWords}
	o.color, err = useColor(o.Color, o.Out)
	return err
}

// Validate checks the options without side effects.
func (o *TraceOptions) Validate() error {
	return o.ProbeOptions.Validate()
}

// Run walks and renders; the exit code follows the verdict.
func (o *TraceOptions) Run(ctx context.Context) error {
	snap, warnings, err := o.GatherWarnings(ctx, o.GlobalOptions, o.withRefresh(Need{Pods: []trace.PodRef{o.request.Source}, Targets: []trace.Target{o.request.To}}))
	if err != nil {
		for _, w := range warnings {
			fmt.Fprintf(o.ErrOut, "warning: %s\n", w)
		}
		return err
	}
	warnings = append(warnings, o.addOFProtoTraces(ctx, snap)...)
	walk, err := trace.WalkSnapshot(snap, o.request)
	if err != nil {
		return requestErr(err)
	}
	wordHints(walk)
	// The collection's warnings belong to the walk: in its table, and in -o json as "warnings"; a
	// snapshot's are those recorded when it was collected.
	if o.Snapshot != "" {
		warnings = joinWarnings(snap)
	}
	walk.Warnings = append(warnings, walk.Warnings...)
	if o.Output != render.Table && o.Output != render.Wide {
		for _, w := range walk.Warnings {
			fmt.Fprintf(o.ErrOut, "warning: %s\n", w)
		}
	}
	if prober := o.Prober(snap); prober != nil {
		pr := prober(ctx, trace.CheckSpec{Source: o.request.Source, To: o.request.To, Probe: o.Probe}, walk)
		walk.Probe = &pr
		if pr.Error != "" {
			fmt.Fprintf(o.ErrOut, "warning: probe failed: %s\n", pr.Error)
		} else if len(pr.Differences) > 0 {
			fmt.Fprintf(o.ErrOut, "warning: the probe differs from the walk: %s\n", strings.Join(pr.Differences, "; "))
		}
	}
	if err := render.WriteWalk(o.Out, walk, o.Output, render.Options{Color: o.color}); err != nil {
		return err
	}
	return verdictErr(walk.Verdict)
}

func verdictErr(v trace.Verdict) error {
	switch v {
	case trace.VerdictBroken:
		return silent(ExitBroken)
	case trace.VerdictUnknown:
		return silent(ExitNoFacts)
	}
	return nil
}

// traceWords name trace's flags in the engine's messages.
var traceWords = trace.Words{Endpoint: "--endpoint", To: "--to", Protocol: "--protocol", OFProtoTrace: "--ofproto-trace"}

func requestErr(err error) error {
	var re *trace.RequestError
	if errors.As(err, &re) {
		return usageErr("%s", re.Msg)
	}
	return factsErr(err)
}

// namespace is -n, else the kubeconfig's namespace, else "default".
func (g *GlobalOptions) namespace() string {
	if g.ConfigFlags != nil && g.ConfigFlags.Overrides.Context.Namespace != "" {
		return g.ConfigFlags.Overrides.Context.Namespace
	}
	if g.ConfigFlags != nil {
		if ns, _, err := g.ConfigFlags.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
			return ns
		}
	}
	return "default"
}

// parsePodRef accepts NAME, NS/NAME, pod/NAME and pod/NS/NAME.
func parsePodRef(s, ns string) (trace.PodRef, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "pod/"), "pods/")
	parts := strings.Split(t, "/")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return trace.PodRef{Namespace: ns, Name: parts[0]}, nil
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return trace.PodRef{Namespace: parts[0], Name: parts[1]}, nil
	}
	return trace.PodRef{}, usageErr("POD must be NAME, NS/NAME or pod/NAME, got %q", s)
}

func formatCompletion(fs []render.Format) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		out := make([]string, len(fs))
		for i, f := range fs {
			out[i] = string(f)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
