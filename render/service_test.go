package render_test

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/render"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// serviceWalkOf walks kube-dns to a target of the Service scenario, broken by the named variant.
func serviceWalkOf(t *testing.T, variant, to string) *trace.Walk {
	t.Helper()
	s := scenario.Service()
	for _, v := range scenario.ServiceVariants {
		if v.Name == variant {
			v.Break(s)
		}
	}
	tg, err := trace.ParseTarget(to, "default")
	if err != nil {
		t.Fatal(err)
	}
	w, err := trace.WalkSnapshot(s, trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: tg})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestServiceWalkGoldens(t *testing.T) {
	for _, sc := range []struct{ name, variant, to string }{
		{"service", "", "svc/default/web"},
		{"service-no-ready-endpoint", "no-ready-endpoint", "svc/default/web"},
		{"external-snat", "", scenario.ExternalIP},
		{"external-missing-snat", "missing-snat", scenario.ExternalIP},
	} {
		w := serviceWalkOf(t, sc.variant, sc.to)
		for _, f := range render.WalkFormats {
			t.Run(sc.name+"/"+string(f), func(t *testing.T) {
				var b bytes.Buffer
				if err := render.WriteWalk(&b, w, f, render.Options{}); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("walk", sc.name+"."+string(f)), b.Bytes())
			})
		}
	}
}

// Each endpoint's walk is drawn in its own cluster, its hop identifiers kept apart from the others'.
func TestServiceGraphsKeepEndpointsApart(t *testing.T) {
	w := serviceWalkOf(t, "", "svc/default/web")
	draw := func(f render.Format) string {
		t.Helper()
		var b bytes.Buffer
		if err := render.WriteWalk(&b, w, f, render.Options{}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, f := range []render.Format{render.Dot, render.Mermaid} {
		out := draw(f)
		// One box per endpoint, each holding its walk's own nested boxes under ids of its own.
		endpoints := regexp.MustCompile(`subgraph (cluster_)?e[0-9]+ `).FindAllString(out, -1)
		boxes := regexp.MustCompile(`subgraph (cluster_)?(e[0-9]+[fr][a-z0-9_]*)`).FindAllStringSubmatch(out, -1)
		seen := map[string]bool{}
		for _, m := range boxes {
			if seen[m[2]] {
				t.Errorf("%s: box %s twice", f, m[2])
			}
			seen[m[2]] = true
		}
		if len(endpoints) != 2 || !seen["e1f"] || !seen["e2f"] || regexp.MustCompile(`\bh[0-9]+\b`).MatchString(out) {
			t.Errorf("%s: want two endpoint subgraphs, each with its own boxes, and only prefixed hop ids:\n%s", f, out)
		}
		for _, id := range []string{"e1_h1", "e2_h1", "e1_h4"} {
			if !strings.Contains(out, id) {
				t.Errorf("%s: no node %s", f, id)
			}
		}
	}
	// Only identifiers are prefixed: a name that reads like one ("h1") stays as it is in its label.
	w.Service.Walks[0].Walk.Hops[0].Name = "pod h1"
	for _, f := range []render.Format{render.Dot, render.Mermaid} {
		if out := draw(f); !strings.Contains(out, "pod h1") {
			t.Errorf("%s: the label \"pod h1\" was rewritten:\n%s", f, out)
		}
	}
}
