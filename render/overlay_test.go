package render_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/render"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// TestOverlayGoldens: the transport, host and firewall hops in the text formats (the pictures
// draw hosts as boxes: their goldens are the pictures' own).
func TestOverlayGoldens(t *testing.T) {
	for _, v := range append([]string{""}, scenario.OVNOverlayVariants...) {
		name := "ovn-overlay"
		if v != "" {
			name += "-" + v
		}
		w, err := trace.WalkSnapshot(scenario.OVNOverlay(v), trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []render.Format{render.Table, render.Wide, render.JSON, render.YAML} {
			t.Run(name+"/"+string(f), func(t *testing.T) {
				var b bytes.Buffer
				if err := render.WriteWalk(&b, w, f, render.Options{}); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("walk", name+"."+string(f)), b.Bytes())
			})
		}
	}
}
