package render

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/fatih/color"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// WriteMACs renders a node's joined MAC table.
func WriteMACs(w io.Writer, t *trace.MACTable, f Format, opt Options) error {
	switch f {
	case JSON:
		return writeJSON(w, t)
	case YAML:
		return writeYAML(w, t)
	case Table, Wide, "":
	default:
		return fmt.Errorf("output format %q is not available for macs (use %s)", f, FormatValue{Allowed: ListFormats}.Names())
	}
	p := painter{opt.Color}
	for _, wn := range t.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
	if len(t.Rows) == 0 {
		fmt.Fprintf(w, "no MAC table entries on node %s (OVS forgets a MAC %s after the last frame from it)\n", t.Node, agingText(t))
		return writeIdle(w, t)
	}
	header := []string{"BRIDGE", "PORT", "OFPORT", "VLAN", "MAC", "TYPE", "POD / OWNER", "FABRIC PORT"}
	if f == Wide {
		header = append(header, "FABRIC TAG", "INTERFACE", "AGE", "NOTES")
	}
	var rows [][]string
	for _, r := range t.Rows {
		role := r.Role
		switch role {
		case trace.RoleRouter:
			role = p.paint(role, color.FgCyan)
		case trace.RoleUnknown:
			role = p.paint(role, color.FgYellow)
		}
		port := r.Port
		if r.Uplink {
			port += " (uplink)"
		}
		row := []string{r.Bridge, port, r.OFPort, strconv.Itoa(r.VLAN), r.MAC, role, dash(r.Owner), dash(r.FabricPort)}
		if f == Wide {
			tag := "-"
			if r.FabricTag != nil {
				tag = strconv.Itoa(*r.FabricTag)
			}
			row = append(row, tag, dash(r.Interface), strconv.Itoa(r.Age), dash(strings.Join(r.Notes, "; ")))
		}
		rows = append(rows, row)
	}
	if err := table(w, header, rows); err != nil {
		return err
	}
	return writeIdle(w, t)
}

// agingText is the bridges' aging times, "300 s" when they agree ("br-int 300 s, br-ex 60 s" else).
func agingText(t *trace.MACTable) string {
	names := make([]string, 0, len(t.AgingTimes))
	vals := map[int]bool{}
	for b, v := range t.AgingTimes {
		names = append(names, b)
		vals[v] = true
	}
	sort.Strings(names)
	switch {
	case len(names) == 0:
		return strconv.Itoa(trace.DefaultMACAgingTime) + " s"
	case len(vals) == 1:
		return strconv.Itoa(t.AgingTimes[names[0]]) + " s"
	}
	parts := make([]string, len(names))
	for i, b := range names {
		parts[i] = fmt.Sprintf("%s %d s", b, t.AgingTimes[b])
	}
	return strings.Join(parts, ", ")
}

// writeIdle lists the pods with no entry: the table is a cache, an idle pod is not a fault.
func writeIdle(w io.Writer, t *trace.MACTable) error {
	if len(t.Idle) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nno entry (idle longer than the aging time, %s, or never sent):\n", agingText(t))
	var rows [][]string
	for _, im := range t.Idle {
		vlan := "-"
		if im.VLAN != nil {
			vlan = strconv.Itoa(*im.VLAN)
		}
		rows = append(rows, []string{im.Pod, im.MAC, dash(im.Port), vlan, dash(im.FabricPort)})
	}
	return table(w, []string{"POD", "MAC", "PORT", "VLAN", "FABRIC PORT"}, rows)
}
