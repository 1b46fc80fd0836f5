package render

import (
	"fmt"
	"io"
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
		fmt.Fprintf(w, "no MAC table entries on node %s (OVS forgets a MAC 300 s after the last frame from it)\n", t.Node)
		return nil
	}
	header := []string{"BRIDGE", "PORT", "OFPORT", "VLAN", "MAC", "TYPE", "POD / OWNER", "FABRIC PORT"}
	if f == Wide {
		header = append(header, "INTERFACE", "AGE", "NOTES")
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
			row = append(row, dash(r.Interface), strconv.Itoa(r.Age), dash(strings.Join(r.Notes, "; ")))
		}
		rows = append(rows, row)
	}
	return table(w, header, rows)
}
