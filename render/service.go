package render

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fatih/color"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// writeServiceWalk renders a walk to a Service: the Service and its endpoints in a summary, then
// each endpoint's walk as a walk of its own (table, wide), or one graph with a cluster per endpoint
// (dot, mermaid). With no endpoint walked, the Service walk's own hops (broken at the service hop).
func writeServiceWalk(w io.Writer, walk *trace.Walk, f Format, opt Options) error {
	switch f {
	case Dot:
		return writeServiceGraph(w, walk, writeNestedDot, "digraph packetwalk {", "}")
	case Mermaid:
		return writeServiceGraph(w, walk, writeNestedMermaid, "flowchart TB", "")
	}
	p := painter{opt.Color}
	sw := walk.Service
	if len(sw.Walks) == 0 {
		return writeWalkTable(w, walk, f == Wide, p)
	}
	src := walk.Source
	fmt.Fprintf(w, "%s (%s on node %s) → %s (%s %s)\n", p.paint(src.String(), color.Bold), src.IP, src.Node,
		p.paint("svc/"+sw.Namespace+"/"+sw.Name, color.Bold), sw.VIP, sw.Protocol)
	fmt.Fprintf(w, "verdict: %s: %s\n", p.status(string(walk.Verdict)), walk.Reason)
	lb := sw.LoadBalancing
	if lb == "" {
		lb = "not known"
	}
	port := sw.PortName
	if port != "" {
		port += " "
	}
	fmt.Fprintf(w, "service: type %s, port %s→ target port %s, load balancing %s\n", sw.Type, port, dash(sw.TargetPort), lb)
	for _, wn := range walk.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
	var rows [][]string
	for _, ew := range sw.Walks {
		pod := ""
		if ew.Pod != nil {
			pod = ew.Pod.String()
		}
		detail := ew.Walk.Reason
		if ew.Walk.Verdict == trace.VerdictBroken {
			detail = fmt.Sprintf("hop %d: %s", ew.Walk.BrokenAt, detail)
		}
		rows = append(rows, []string{ew.Endpoint, dash(pod), dash(ew.Node), p.status(string(ew.Walk.Verdict)), detail})
	}
	fmt.Fprintln(w)
	if err := table(w, []string{"ENDPOINT", "POD", "NODE", "VERDICT", "DETAIL"}, rows); err != nil {
		return err
	}
	for _, ew := range sw.Walks {
		fmt.Fprintf(w, "\n%s\n", p.paint("── endpoint "+ew.Endpoint, color.Bold))
		if err := writeWalkTable(w, &ew.Walk, f == Wide, p); err != nil {
			return err
		}
	}
	return nil
}

// writeServiceGraph draws each endpoint walk with the single-walk writer and nests the drawings in
// one graph, one cluster (subgraph) per endpoint, its identifiers prefixed (e1, e2, ...) so they
// stay apart.
func writeServiceGraph(w io.Writer, walk *trace.Walk, one func(io.Writer, *trace.Walk, string) error, open, close string) error {
	sw := walk.Service
	walks := sw.Walks
	if len(walks) == 0 {
		return one(w, walk, "")
	}
	var b strings.Builder
	b.WriteString(open + "\n")
	if close != "" {
		fmt.Fprintf(&b, "  label=\"%s → svc/%s/%s %s: %s (%s)\";\n  labelloc=t;\n", dotEscape(walk.Source.String()), sw.Namespace, sw.Name, sw.VIP, walk.Verdict, dotEscape(walk.Reason))
	}
	for i, ew := range walks {
		var one1 bytes.Buffer
		if err := one(&one1, &ew.Walk, "e"+strconv.Itoa(i+1)); err != nil {
			return err
		}
		lines := strings.Split(strings.TrimRight(one1.String(), "\n"), "\n")
		title := "endpoint " + ew.Endpoint + ": " + string(ew.Walk.Verdict)
		if close != "" {
			fmt.Fprintf(&b, "  subgraph cluster_e%d {\n    label=\"%s\";\n", i+1, dotEscape(title))
		} else {
			fmt.Fprintf(&b, "  subgraph e%d [\"%s\"]\n", i+1, mermaidEscape(title))
		}
		for _, l := range lines[1:] {
			if close != "" && (l == close || strings.HasPrefix(l, "  label=") || strings.HasPrefix(l, "  labelloc=") || strings.HasPrefix(l, "  rankdir=") || strings.HasPrefix(l, "  node [")) {
				continue
			}
			// linkStyle counts links across the whole chart: an endpoint's own numbers do not hold.
			if close == "" && (strings.HasPrefix(l, "  classDef ") || strings.HasPrefix(l, "  linkStyle ")) {
				continue
			}
			b.WriteString("  " + l + "\n")
		}
		if close != "" {
			b.WriteString("  }\n")
		} else {
			b.WriteString("  end\n")
		}
	}
	if close != "" {
		b.WriteString(close + "\n")
	} else {
		b.WriteString("  classDef broken stroke:#d00,stroke-width:3px;\n  classDef unknown stroke:#e90,stroke-dasharray:4;\n  classDef tep fill:#003,color:#fff;\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
