package trace_test

import (
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// A pod's port the provider looked for by every key it knows and did not find is unknown (the
// provider warned what it tried); a port simply absent from a complete fabric is broken.
func TestPortNotFoundIsUnknown(t *testing.T) {
	drop := func(s *trace.Snapshot) {
		keep := s.Fabric.SwitchPorts[:0]
		for _, sp := range s.Fabric.SwitchPorts {
			if sp.ID != "lp-kube-system-kube-dns" {
				keep = append(keep, sp)
			}
		}
		s.Fabric.SwitchPorts = keep
	}
	s := scenario.Published()
	drop(s)
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictBroken || !strings.Contains(w.Reason, "no nsx logical port is bound to 172.16.1.2") {
		t.Errorf("absent port: verdict %s %q", w.Verdict, w.Reason)
	}
	s = scenario.Published()
	drop(s)
	s.Fabric.NotFound = []string{"172.16.1.2"}
	w = walk(t, s, kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictUnknown || !strings.Contains(w.Reason, "found no logical port for 172.16.1.2") {
		t.Errorf("port not found by the provider: verdict %s %q%s", w.Verdict, w.Reason, dump(w))
	}
}
