package cmd

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// runPMTUProbe sends full-size don't-fragment pings (iputils `ping -M do`) from the source pod: as
// large as the pod's interface MTU allows, so an underlay that cannot carry them once encapsulated
// loses them, while traceroute's small packets pass.
func runPMTUProbe(ctx context.Context, prefix []string, w *trace.Walk, mtu int) *trace.PMTUResult {
	res := &trace.PMTUResult{Size: mtu}
	expected, at := w.ExpectFullSize()
	res.Expected = expected
	if mtu <= 0 {
		res.Error = "the source pod's MTU is not in the facts: no full-size probe"
		return res
	}
	dst, err := probeAddr(w.Destination.IP)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	// ICMP echo payload: the MTU less the IP header (20, IPv6 40) and the ICMP header (8).
	header := 28
	if dst.Is6() && !dst.Is4In6() {
		header = 48
	}
	if mtu <= header {
		res.Error = fmt.Sprintf("the source pod's MTU %d is too small for a probe", mtu)
		return res
	}
	args := append(append([]string{}, prefix...), "ping", "-n", "-M", "do", "-s", strconv.Itoa(mtu-header), "-c", "2", "-i", "0.2", "-W", "2", dst.String())
	out, err := runner.Local{}.Run(ctx, runner.Node{}, args)
	res.Output = string(out)
	switch {
	case err == nil:
		res.Reached = true
	case ctx.Err() != nil:
		res.Error = fmt.Sprintf("%s: %v", strings.Join(args, " "), ctx.Err())
	case !strings.Contains(res.Output, "packets transmitted") && !strings.Contains(res.Output, "message too long"):
		// ping did not run (not in the pod, no permission): no answer from the path either way.
		res.Error = oneLine(fmt.Sprintf("%v: %s", err, strings.TrimSpace(res.Output)))
	}
	if !res.Reached && res.Error == "" {
		res.ConsequenceOf = at // the lost packet is that hop's MTU, as the walk says
	}
	return res
}
