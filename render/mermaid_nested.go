package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// writeNestedMermaid writes the walk as a Mermaid flowchart of nested subgraphs. The forward and
// return paths are two subgraphs with no link between them, so Mermaid lays them side by side. Its
// hop, box and TEP ids are prefixed with prefix ("" for a walk drawn alone).
func writeNestedMermaid(w io.Writer, walk *trace.Walk, prefix string) error {
	lay := nest(walk, prefix)
	var b strings.Builder
	b.WriteString("flowchart TB\n")
	for _, p := range lay.paths {
		lay.writeMermaidBox(&b, p, "  ")
	}
	var red []int
	n := 0
	for _, e := range lay.edges {
		if e.kind == "return" {
			continue // a link between the two paths would stack them
		}
		arrow := "-->"
		switch {
		case e.kind == "tunnel":
			arrow = "<==>"
		case e.kind == "cause":
			arrow = "-.->"
		case e.dashed:
			arrow = "-.->"
		}
		label := e.label
		if e.kind == "hop" && e.status == trace.StatusBroken {
			fmt.Fprintf(&b, "  %s %s|broken| %s\n", e.from, arrow, e.to)
		} else if label != "" {
			fmt.Fprintf(&b, "  %s %s|\"%s\"| %s\n", e.from, arrow, mermaidEscape(label), e.to)
		} else {
			fmt.Fprintf(&b, "  %s %s %s\n", e.from, arrow, e.to)
		}
		if e.status == trace.StatusBroken && e.kind != "hop" {
			red = append(red, n)
		}
		n++
	}
	b.WriteString("  classDef broken stroke:#d00,stroke-width:3px;\n  classDef unknown stroke:#e90,stroke-dasharray:4;\n  classDef tep fill:#003,color:#fff;\n")
	for _, h := range walk.Hops {
		if h.Status != trace.StatusOK && !isTunnelEdge(h) {
			fmt.Fprintf(&b, "  class %s %s;\n", lay.hopID(h), h.Status)
		}
	}
	for _, i := range red {
		fmt.Fprintf(&b, "  linkStyle %d stroke:#d00,stroke-width:3px;\n", i)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (lay *layout) writeMermaidBox(b *strings.Builder, x *box, indent string) {
	fmt.Fprintf(b, "%ssubgraph %s[\"%s\"]\n", indent, x.id, mermaidEscape(x.label))
	for _, t := range x.teps {
		fmt.Fprintf(b, "%s  %s((\"%s\")):::tep\n", indent, t.id, mermaidEscape(t.label))
	}
	for _, h := range x.hops {
		open, close := "[", "]"
		switch h.Kind {
		case trace.HopRouter:
			open, close = "[[", "]]"
		case trace.HopSwitch:
			open, close = "{{", "}}"
		case trace.HopPod, trace.HopNode:
			open, close = "([", "])"
		}
		fmt.Fprintf(b, "%s  %s%s\"%s\"%s\n", indent, lay.hopID(h), open, mermaidEscape(hopLabel(h)), close)
	}
	for _, c := range x.boxes {
		lay.writeMermaidBox(b, c, indent+"  ")
	}
	fmt.Fprintf(b, "%send\n", indent)
}
