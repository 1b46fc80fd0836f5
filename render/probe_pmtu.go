package render

import (
	"fmt"
	"io"

	"github.com/fatih/color"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// splitPMTU separates the probe's differences into traceroute's and the full-size probe's.
func splitPMTU(walk *trace.Walk) (traceroute []string, pmtu string) {
	pr := walk.Probe
	if pr.PMTU != nil && pr.PMTU.Error == "" {
		pmtu = trace.PMTUDisagreement(walk, *pr.PMTU)
	}
	for _, d := range pr.Differences {
		if d != pmtu || pmtu == "" {
			traceroute = append(traceroute, d)
		}
	}
	return traceroute, pmtu
}

// writePMTU prints the path-MTU probe's line: what the full-size packet did, against the walk.
func writePMTU(w io.Writer, walk *trace.Walk, diff string, p painter) error {
	r := walk.Probe.PMTU
	if r == nil {
		return nil
	}
	if r.Error != "" {
		_, err := fmt.Fprintf(w, "path MTU: not probed: %s\n", r.Error)
		return err
	}
	did := "reached"
	if !r.Reached {
		did = "did not reach"
	}
	line := fmt.Sprintf("path MTU: a full-size %d-byte don't-fragment ping %s %s", r.Size, did, walk.Destination.IP)
	switch {
	case diff != "":
		line += ": " + p.paint("differs from the walk: "+diff, color.FgRed, color.Bold)
	case r.ConsequenceOf != 0:
		line += fmt.Sprintf(", as the walk says: hop %d's MTU cannot carry it", r.ConsequenceOf)
	default:
		line += ", as the walk says"
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
