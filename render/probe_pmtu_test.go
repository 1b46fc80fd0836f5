package render_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/render"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// The table says what the full-size probe did against the walk, and a disagreement is named as
// the path-MTU probe's, not traceroute's.
func TestPMTUProbeInTable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reached bool
		want    []string
		not     []string
	}{
		{"agrees", true, []string{"traceroute agrees with the walk (reached 172.15.0.4)", "path MTU: a full-size 1500-byte don't-fragment ping reached 172.15.0.4, as the walk says"}, []string{"disagrees"}},
		{"lost where the walk sees no MTU problem", false, []string{
			"probe: the path-MTU probe disagrees with the walk: a full-size 1500-byte don't-fragment packet did not reach 172.15.0.4, the walk says the path carries it",
			"traceroute agrees with the walk (reached 172.15.0.4)",
			"path MTU: a full-size 1500-byte don't-fragment ping did not reach 172.15.0.4: differs from the walk"}, []string{"traceroute disagrees"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := walkOf(t, "published")
			pm := trace.PMTUResult{Size: 1500, Reached: tc.reached, Expected: true}
			pr := &trace.ProbeResult{Kind: "icmp", Reached: true, Hops: w.RouterHops(), PMTU: &pm}
			if d := trace.PMTUDisagreement(w, pm); d != "" {
				pr.Differences = append(pr.Differences, d)
			}
			w.Probe = pr
			var b bytes.Buffer
			if err := render.WriteWalk(&b, w, render.Table, render.Options{}); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.want {
				if !strings.Contains(b.String(), s) {
					t.Errorf("table lacks %q:\n%s", s, b.String())
				}
			}
			for _, s := range tc.not {
				if strings.Contains(b.String(), s) {
					t.Errorf("table has %q:\n%s", s, b.String())
				}
			}
		})
	}
}
