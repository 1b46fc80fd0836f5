package render_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/render"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// The NSX Service walks in every format: a LoadBalancer Service through an NSX virtual server
// on a tier-1 (the pool's member states shown), one member down, and a pod leaving by its
// ncp/snat_pool rule rather than its namespace's.
func TestNSXServiceWalkGoldens(t *testing.T) {
	lb := fmt.Sprintf("%s:%d", scenario.WebLBIP, scenario.WebPort)
	for _, sc := range []struct {
		name string
		snap *trace.Snapshot
		to   string
	}{
		{"service-nsx-lb", scenario.ServiceNSXLB(), lb},
		{"service-nsx-lb-member-down", scenario.ServiceNSXLB(trace.BackendUp, trace.BackendDown), lb},
		{"external-snat-pool", scenario.ServiceSNATPool(), scenario.ExternalIP},
	} {
		tg, err := trace.ParseTarget(sc.to, "default")
		if err != nil {
			t.Fatal(err)
		}
		w, err := trace.WalkSnapshot(sc.snap, trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: tg})
		if err != nil {
			t.Fatal(err)
		}
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
