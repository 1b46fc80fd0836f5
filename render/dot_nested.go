package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// boxStyle is how each kind of box looks in dot: the fabric shaded, the hypervisor bold, the pod's
// netns dashed.
var boxStyle = map[string]string{
	boxPath:       `style=rounded; color=gray40`,
	boxHypervisor: `style="rounded,bold"; color=navy; bgcolor=aliceblue`,
	boxNode:       `style=rounded; color=gray20; bgcolor=white`,
	boxNetns:      `style="rounded,dashed"; color=gray40`,
	boxOVS:        `style=rounded; color=gray60; bgcolor=whitesmoke`,
	boxFabric:     `style="rounded,filled"; color=gray60; fillcolor=lightyellow`,
}

// writeNestedDot writes the walk as a Graphviz digraph of nested clusters, its hop, box and TEP
// ids prefixed with prefix ("" for a walk drawn alone).
func writeNestedDot(w io.Writer, walk *trace.Walk, prefix string) error {
	lay := nest(walk, prefix)
	var b strings.Builder
	fmt.Fprintf(&b, "digraph packetwalk {\n  label=\"%s → %s: %s\";\n  labelloc=t;\n  rankdir=TB;\n  newrank=true;\n  node [fontname=\"Helvetica\", fontsize=10, shape=box];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
		dotEscape(walk.Source.String()), dotEscape(walk.Destination.String()), walk.Verdict)
	for _, p := range lay.paths {
		lay.writeDotBox(&b, p, "  ")
	}
	for _, e := range lay.edges {
		attrs := []string{"color=" + dotColor[e.status]}
		switch e.kind {
		case "tunnel":
			attrs = append(attrs, "penwidth=2", "dir=both", "arrowtail=dot", `label="`+dotEscape(e.label)+`"`, "fontcolor="+dotColor[e.status])
		case "return":
			// The return path is drawn beside the forward one, not below it.
			attrs = append(attrs, `label="return"`, "constraint=false")
		case "cause":
			attrs = append(attrs, "style=dotted", `label="caused by"`, "fontcolor=red", "constraint=false")
		}
		if e.dashed && e.kind != "cause" {
			attrs = append(attrs, "style=dashed")
		}
		fmt.Fprintf(&b, "  %s -> %s [%s];\n", e.from, e.to, strings.Join(attrs, ", "))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (lay *layout) writeDotBox(b *strings.Builder, x *box, indent string) {
	fmt.Fprintf(b, "%ssubgraph cluster_%s {\n%s  label=\"%s\";\n%s  %s;\n", indent, x.id, indent, dotEscape(x.label), indent, boxStyle[x.kind])
	for _, t := range x.teps {
		fmt.Fprintf(b, "%s  %s [label=\"%s\", shape=box, style=\"rounded,filled\", fillcolor=navy, fontcolor=white];\n", indent, t.id, dotEscape(t.label))
	}
	for _, h := range x.hops {
		shape := dotShape[h.Kind]
		if shape == "" {
			shape = "box"
		}
		style := ""
		if h.Direction == trace.Return {
			style = ", style=dashed"
		}
		fmt.Fprintf(b, "%s  %s [label=\"%s\", shape=%s, color=%s%s];\n", indent, lay.hopID(h), dotEscape(hopLabel(h)), shape, dotColor[h.Status], style)
	}
	for _, c := range x.boxes {
		lay.writeDotBox(b, c, indent+"  ")
	}
	fmt.Fprintf(b, "%s}\n", indent)
}
