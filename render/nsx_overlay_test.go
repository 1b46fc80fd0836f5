package render_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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

// A CI check of kube-dns to node 172.15.0.4 on each broken overlay fails in JUnit with the hop's
// reason as the failure message: the BFD diagnostic, the MTU, the rule and its NetworkPolicy.
func TestNSXOverlayJUnit(t *testing.T) {
	for _, v := range scenario.OverlayVariants {
		t.Run(v.Name, func(t *testing.T) {
			s := scenario.Published()
			v.Break(s)
			rep := trace.RunChecks(context.Background(), trace.NewIndex(s), []trace.CheckSpec{{Name: "kube-dns to node 172.15.0.4",
				Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}}}, trace.CheckOptions{})
			var b bytes.Buffer
			if err := render.WriteJUnit(&b, rep, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Suites []struct {
					Cases []struct {
						Failure *struct {
							Message string `xml:"message,attr"`
						} `xml:"failure"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 1 || doc.Suites[0].Cases[0].Failure == nil || !strings.Contains(doc.Suites[0].Cases[0].Failure.Message, v.Reason) {
				t.Fatalf("JUnit does not fail with %q:\n%s", v.Reason, b.String())
			}
			// A check's measured time is the one thing that differs between runs.
			stable := regexp.MustCompile(` time="[0-9.]+"`).ReplaceAll(b.Bytes(), []byte(` time="0.000"`))
			golden(t, filepath.Join("walk", "nsx-"+v.Name+".junit.xml"), stable)
		})
	}
}
