package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fatih/color"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// WriteWalk renders one walk in the given format.
func WriteWalk(w io.Writer, walk *trace.Walk, f Format, opt Options) error {
	if walk.Service != nil && f != JSON && f != YAML {
		return writeServiceWalk(w, walk, f, opt)
	}
	switch f {
	case JSON:
		return writeJSON(w, walk)
	case YAML:
		return writeYAML(w, walk)
	case Dot:
		return writeNestedDot(w, walk, "")
	case Mermaid:
		return writeNestedMermaid(w, walk, "")
	case Table, Wide, "":
		return writeWalkTable(w, walk, f == Wide, painter{opt.Color})
	}
	return fmt.Errorf("unknown output format %q", f)
}

func vlanString(v *int) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(*v)
}

// where says where a hop is: node and netns for node-local hops, the router for router hops.
func where(h trace.Hop) string {
	switch {
	case h.Router != "":
		return h.Router
	case h.Node != "" && h.Netns != "" && h.Netns != "root":
		return h.Node + " " + h.Netns
	case h.Node != "":
		return h.Node
	}
	return ""
}

func writeWalkTable(w io.Writer, walk *trace.Walk, wide bool, p painter) error {
	src := walk.Source
	fmt.Fprintf(w, "%s (%s on node %s) → %s (%s)\n", p.paint(src.String(), color.Bold), src.IP, src.Node, p.paint(walk.Destination.String(), color.Bold), walk.Destination.IP)
	verdict := p.status(string(walk.Verdict))
	switch walk.Verdict {
	case trace.VerdictBroken:
		fmt.Fprintf(w, "verdict: %s at hop %d: %s\n", verdict, walk.BrokenAt, walk.Reason)
		if c := consequenceLine(walk); c != "" {
			fmt.Fprintln(w, c)
		}
	case trace.VerdictUnknown:
		fmt.Fprintf(w, "verdict: %s: %s\n", verdict, walk.Reason)
	default:
		fmt.Fprintf(w, "verdict: %s\n", verdict)
	}
	if line := l3Line(walk); line != "" {
		fmt.Fprintf(w, "L3 hops: %s\n", line)
	}
	if pr := walk.Probe; pr != nil && pr.Error == "" && len(pr.Differences) > 0 {
		if diffs, pmtu := splitPMTU(walk); len(diffs) > 0 {
			fmt.Fprintf(w, "probe: %s\n", p.paint("traceroute disagrees with the walk: "+strings.Join(diffs, "; "), color.FgRed, color.Bold))
		} else if pmtu != "" {
			fmt.Fprintf(w, "probe: %s\n", p.paint("the path-MTU probe disagrees with the walk: "+pmtu, color.FgRed, color.Bold))
		}
	}
	for _, wn := range walk.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
	header := []string{"#", "LAYER", "NAME", "WHERE", "INTERFACE", "IP", "MAC", "VLAN", "STATUS", "DETAIL"}
	if wide {
		header = append(header, "EVIDENCE")
	}
	var fwd, ret [][]string
	for _, h := range walk.Hops {
		row := []string{strconv.Itoa(h.Index), string(h.Kind), h.Name, dash(where(h)), dash(h.Interface), dash(h.IP), dash(h.MAC), dash(vlanString(h.VLAN)), p.status(string(h.Status)), h.Detail}
		if wide {
			var ev []string
			for _, e := range h.Evidence {
				ev = append(ev, e.Source+": "+e.Fact)
			}
			row = append(row, strings.Join(ev, "\n"))
		}
		if h.Direction == trace.Return {
			ret = append(ret, row)
		} else {
			fwd = append(fwd, row)
		}
	}
	fmt.Fprintln(w)
	if err := table(w, header, fwd); err != nil {
		return err
	}
	if walk.Verdict == trace.VerdictBroken && !walk.BrokenOnReturn() {
		fmt.Fprintln(w, p.paint(fmt.Sprintf("✗ the packet stops at hop %d: later hops and the return path are not reached", walk.BrokenAt), color.FgRed))
	}
	if len(ret) > 0 {
		fmt.Fprintf(w, "\n%s\n", p.paint("return path", color.Bold))
		if err := table(w, header, ret); err != nil {
			return err
		}
		if walk.BrokenOnReturn() {
			fmt.Fprintln(w, p.paint(fmt.Sprintf("✗ the reply stops at hop %d: later hops are not reached", walk.BrokenAt), color.FgRed))
		}
	}
	if walk.Probe != nil {
		return writeProbe(w, walk, p)
	}
	return nil
}

// writeProbe prints what traceroute saw beside the walk's L3 hops, flagging every difference.
func writeProbe(w io.Writer, walk *trace.Walk, p painter) error {
	pr := walk.Probe
	fmt.Fprintf(w, "\n%s\n", p.paint("probe: "+pr.Kind+" from "+walk.Source.String(), color.Bold))
	if pr.Error != "" {
		_, err := fmt.Fprintf(w, "probe failed: %s\n", pr.Error)
		return err
	}
	if pr.Kind != "icmp" {
		_, err := fmt.Fprintf(w, "reached %s: %v\n", walk.Destination.IP, pr.Reached)
		return err
	}
	computed, _ := walk.ExpectedTraceroute()
	n := max(len(computed), len(pr.Hops))
	var rows [][]string
	for i := 0; i < n; i++ {
		var c, o string
		if i < len(computed) {
			c = computed[i]
		}
		if i < len(pr.Hops) {
			o = pr.Hops[i]
		}
		st := p.status("ok")
		if c != o {
			st = p.paint("differs", color.FgRed, color.Bold)
		}
		rows = append(rows, []string{strconv.Itoa(i + 1), dash(c), dash(o), st})
	}
	if err := table(w, []string{"HOP", "WALK", "TRACEROUTE", ""}, rows); err != nil {
		return err
	}
	diffs, pmtu := splitPMTU(walk)
	if len(diffs) == 0 {
		how := "reached " + walk.Destination.IP
		if !pr.Reached {
			how = "did not reach " + walk.Destination.IP
		}
		fmt.Fprintf(w, "traceroute agrees with the walk (%s)\n", how)
	} else {
		fmt.Fprintf(w, "traceroute differs from the walk: %s\n", strings.Join(diffs, "; "))
	}
	return writePMTU(w, walk, pmtu, p)
}

// hopID is the identifier of hop index in a picture; prefix (a Service endpoint's "e1") keeps the
// hops of several walks in one graph apart.
func hopID(prefix string, index int) string {
	if prefix == "" {
		return fmt.Sprintf("h%d", index)
	}
	return fmt.Sprintf("%s_h%d", prefix, index)
}

var dotEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func dotEscape(s string) string { return dotEscaper.Replace(s) }

func hopLabel(h trace.Hop) string {
	parts := []string{string(h.Kind) + ": " + h.Name}
	var l2 []string
	if h.Interface != "" && h.Interface != h.Name {
		l2 = append(l2, h.Interface)
	}
	if h.IP != "" {
		l2 = append(l2, h.IP)
	}
	if h.VLAN != nil {
		l2 = append(l2, "VLAN "+strconv.Itoa(*h.VLAN))
	}
	if len(l2) > 0 {
		parts = append(parts, strings.Join(l2, " "))
	}
	if h.MAC != "" {
		parts = append(parts, h.MAC)
	}
	if h.Status != trace.StatusOK {
		parts = append(parts, strings.ToUpper(string(h.Status))+": "+h.Detail)
	}
	return strings.Join(parts, "\n")
}

var dotShape = map[trace.HopKind]string{
	trace.HopRouter: "box3d", trace.HopSwitch: "hexagon", trace.HopPod: "ellipse", trace.HopNode: "house",
	trace.HopFabricPort: "cds", trace.HopMACTable: "note",
}

var dotColor = map[trace.Status]string{trace.StatusOK: "darkgreen", trace.StatusBroken: "red", trace.StatusUnknown: "orange"}

var mermaidEscaper = strings.NewReplacer(`"`, "#quot;", "\n", "<br/>", "<", "#lt;", ">", "#gt;")

func mermaidEscape(s string) string { return mermaidEscaper.Replace(s) }

// l3Line is the traceroute view of the walk: the hops up to a forward break, then ✗.
func l3Line(walk *trace.Walk) string {
	if walk.Verdict != trace.VerdictBroken {
		return strings.Join(walk.RouterHops(), " → ")
	}
	if walk.BrokenOnlyByMTU() {
		return strings.Join(walk.RouterHops(), " → ") + fmt.Sprintf(" (full-size packets are lost at hop %d)", walk.BrokenAt)
	}
	if hops, exact := walk.ExpectedTraceroute(); exact {
		if len(hops) == 0 {
			return "✗ (broken before the first router)"
		}
		return strings.Join(append(hops, "✗"), " → ")
	}
	return strings.Join(walk.RouterHops(), " → ") + " (the return path is broken)"
}
