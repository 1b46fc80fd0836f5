package render_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/render"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// The published NSX walk's overlay and firewall broken, in every format: the tunnel between the
// nodes' hosts down (BFD), the destination host's uplink MTU too small for Geneve, a
// NetworkPolicy's firewall rule dropping kube-dns's egress (the rule, its section and the policy).
func TestNSXOverlayGoldens(t *testing.T) {
	for _, v := range scenario.OverlayVariants {
		s := scenario.Published()
		v.Break(s)
		w, err := trace.WalkSnapshot(s, trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}})
		if err != nil {
			t.Fatal(err)
		}
		if w.Verdict != trace.VerdictBroken || w.Hops[w.BrokenAt-1].Kind != v.HopKind || w.Reason != v.Reason {
			t.Fatalf("%s: %s at hop %d (%s), want broken at a %s hop: %q", v.Name, w.Verdict, w.BrokenAt, w.Reason, v.HopKind, v.Reason)
		}
		for _, f := range render.WalkFormats {
			t.Run(v.Name+"/"+string(f), func(t *testing.T) {
				var b bytes.Buffer
				if err := render.WriteWalk(&b, w, f, render.Options{}); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("walk", "nsx-"+v.Name+"."+string(f)), b.Bytes())
			})
		}
	}
}
