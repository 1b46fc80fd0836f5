package trace_test

import (
	"slices"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// The full-size probe's size is the source pod's MTU from its node facts.
func TestSenderMTU(t *testing.T) {
	s := scenario.Published()
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	if got := trace.SenderMTU(s, w); got != 1500 {
		t.Errorf("SenderMTU = %d, want 1500 (kube-dns eth0)", got)
	}
	w.Source.Node = "nowhere"
	if got := trace.SenderMTU(s, w); got != 0 {
		t.Errorf("SenderMTU without the node's facts = %d, want 0", got)
	}
}

// A walk broken only by an MTU expects traceroute to pass every router and reach the destination,
// and the full-size probe to be lost at that hop; a tunnel down expects neither.
func TestMTUOnlyBreak(t *testing.T) {
	s := scenario.Published()
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	healthy := w.RouterHops()
	var fwd []trace.Hop
	for _, h := range w.Hops {
		if h.Direction == trace.Forward {
			fwd = append(fwd, h)
		}
	}
	mtu := trace.Hop{Index: len(fwd) + 1, Kind: trace.HopTransport, Direction: trace.Forward, Status: trace.StatusBroken,
		Detail:    "MTU 1500 of the underlay eth1 on hv-2 cannot carry a full 1500-byte packet in geneve (needs 1558)",
		Transport: &trace.TransportDetail{LocalHost: "hv-1", RemoteHost: "hv-2", State: trace.TunnelUp, Encap: "geneve", InnerMTU: 1500, MTUNeeded: 1558, UnderlayMTU: 1500}}
	w.Hops = append(fwd, mtu)
	w.Verdict, w.BrokenAt, w.Reason = trace.VerdictBroken, mtu.Index, mtu.Detail
	if !w.BrokenOnlyByMTU() {
		t.Fatal("an MTU-only transport break is not recognised")
	}
	if hops, exact := w.ExpectedTraceroute(); !exact || !slices.Equal(hops, healthy) {
		t.Errorf("expected traceroute %v %v, want %v exactly", hops, exact, healthy)
	}
	if d := trace.ReachDisagreement(w, true); d != "" {
		t.Errorf("traceroute reaching past an MTU-only break: %q", d)
	}
	if full, at := w.ExpectFullSize(); full || at != mtu.Index {
		t.Errorf("ExpectFullSize = %v, %d", full, at)
	}
	if d := trace.PMTUDisagreement(w, trace.PMTUResult{Size: 1500, Reached: true}); d == "" {
		t.Error("a full-size packet through an MTU the walk says is too small: no disagreement")
	}

	w.Hops[len(w.Hops)-1].Transport.TunnelMissing = true
	w.Hops[len(w.Hops)-1].Detail = "host hv-1 has no tunnel to hv-2 (192.168.100.2)"
	if w.BrokenOnlyByMTU() {
		t.Error("a missing tunnel (with a small MTU too) counted as MTU-only")
	}
	w.Hops[len(w.Hops)-1].Transport.TunnelMissing = false
	w.Hops[len(w.Hops)-1].Transport.State = trace.TunnelDown
	w.Hops[len(w.Hops)-1].Detail = "tunnel ovn-hv2-0 from hv-1 to hv-2 is down: BFD Control Detection Time Expired"
	if w.BrokenOnlyByMTU() {
		t.Error("a tunnel down (with a small MTU too) counted as MTU-only")
	}
	if d := trace.ReachDisagreement(w, true); d == "" {
		t.Error("traceroute reaching through a tunnel down: no disagreement")
	}
}
