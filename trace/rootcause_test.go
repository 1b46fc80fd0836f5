package trace_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// Root cause first: a hop broken only because a later one is points at it, and the verdict names
// the later one.
func TestRootCauseFirst(t *testing.T) {
	variant := func(name string) func(*trace.Snapshot) {
		for _, v := range scenario.Variants {
			if v.Name == name {
				return v.Break
			}
		}
		t.Fatalf("no variant %s", name)
		return nil
	}
	refreshed := func(s *trace.Snapshot) {
		st := idle(s, "172.15.0.3")
		st.OVS.MACTable = []trace.MACEntry{{Bridge: "br-int", Port: "3", VLAN: 101, MAC: scenario.PodMAC("172.15.0.3", 101), Age: 0}}
		st.Refreshed = []trace.PodRef{kubeDNS}
	}

	t.Run("VLAN mismatch explains the router MAC missing on the pod's VLAN", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			extra func(*trace.Snapshot)
		}{{"after traffic", func(*trace.Snapshot) {}}, {"idle", func(s *trace.Snapshot) { idle(s, "172.15.0.3") }}, {"refreshed", refreshed}} {
			s := scenario.Published()
			variant("vlan-mismatch")(s)
			tc.extra(s)
			w := walk(t, s, kubeDNS, "node/172.15.0.4")
			cause := w.Hops[w.BrokenAt-1]
			up := hopOf(w, trace.HopUplink)
			if cause.Kind != trace.HopFabricPort || !strings.HasPrefix(w.Reason, "VLAN mismatch") || up == nil ||
				up.Status != trace.StatusBroken || up.ConsequenceOf != w.BrokenAt || up.Index >= w.BrokenAt {
				t.Errorf("%s: brokenAt %d (%s) %q, uplink %+v%s", tc.name, w.BrokenAt, cause.Kind, w.Reason, up, dump(w))
			}
			if c := w.Consequences(); len(c) != 1 || c[0].Index != up.Index {
				t.Errorf("%s: consequences %+v", tc.name, c)
			}
			b, _ := json.Marshal(w)
			if !strings.Contains(string(b), `"consequenceOf":6`) {
				t.Errorf("%s: JSON has no consequenceOf 6: %s", tc.name, b)
			}
		}
	})

	t.Run("a missing router MAC with nothing broken before the router is the cause itself", func(t *testing.T) {
		// A route missing beyond the gateway does not stop the gateway from answering.
		s := scenario.Published()
		variant("missing-route")(s)
		refreshed(s)
		w := walk(t, s, kubeDNS, "node/172.15.0.4")
		up := hopOf(w, trace.HopUplink)
		if up == nil || w.BrokenAt != up.Index || up.ConsequenceOf != 0 || len(w.Consequences()) != 0 {
			t.Errorf("brokenAt %d %q, uplink %+v%s", w.BrokenAt, w.Reason, up, dump(w))
		}
	})

	t.Run("an idle pod's missing router MAC on a path that holds is no consequence", func(t *testing.T) {
		s := scenario.Published()
		idle(s, "172.15.0.3")
		w := walk(t, s, kubeDNS, "node/172.15.0.4")
		if up := hopOf(w, trace.HopUplink); w.Verdict != trace.VerdictReachable || up == nil || up.Status != trace.StatusOK || up.ConsequenceOf != 0 {
			t.Errorf("verdict %s, uplink %+v%s", w.Verdict, up, dump(w))
		}
	})
}

// A down tunnel means nothing beyond it answers: an on-link destination's MAC, learned only from
// its answers, is missing as a consequence of the tunnel.
func TestTunnelDownExplainsTheMissingDestinationMAC(t *testing.T) {
	s := scenario.OVNOverlay("tunnel-down")
	idle(s, "172.15.0.3")
	w := walk(t, s, trace.PodRef{Namespace: "default", Name: "nginx-1"}, "pod/default/redis-slave")
	cause := w.Hops[w.BrokenAt-1]
	up := hopOf(w, trace.HopUplink)
	if cause.Kind != trace.HopTransport || cause.Transport.State != trace.TunnelDown || up == nil || up.ConsequenceOf != cause.Index ||
		!strings.HasPrefix(up.Detail, fmt.Sprintf("consequence of hop %d: destination MAC", cause.Index)) {
		t.Errorf("brokenAt %d %q, uplink %+v%s", w.BrokenAt, w.Reason, up, dump(w))
	}
	// With the tunnel up, the same idle entry is only flooded: no consequence, the path holds.
	s = scenario.OVNOverlay("")
	idle(s, "172.15.0.3")
	w = walk(t, s, trace.PodRef{Namespace: "default", Name: "nginx-1"}, "pod/default/redis-slave")
	if up := hopOf(w, trace.HopUplink); w.Verdict != trace.VerdictReachable || up == nil || up.ConsequenceOf != 0 || up.Status != trace.StatusOK {
		t.Errorf("tunnel up: verdict %s uplink %+v%s", w.Verdict, up, dump(w))
	}
}

// A failing check names the consequences after the root cause.
func TestCheckMessageNamesConsequences(t *testing.T) {
	s := scenario.Published()
	for _, v := range scenario.Variants {
		if v.Name == "vlan-mismatch" {
			v.Break(s)
		}
	}
	rep := trace.RunChecks(t.Context(), trace.NewIndex(s), []trace.CheckSpec{{Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}}}, trace.CheckOptions{})
	if m := rep.Results[0].Message; !strings.Contains(m, "broken at hop 6 fabric-port") || !strings.Contains(m, "hop 5 ovs-uplink eth1 broken as its consequence") {
		t.Errorf("message %q", m)
	}
}
