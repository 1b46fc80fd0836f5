package cmd

import (
	"slices"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// A walk without fabric facts names the flag that collects them, in the hop and the reason; the
// engine itself names none.
func TestWordHintsNamesTheFlags(t *testing.T) {
	s := scenario.Published()
	s.Fabric = nil
	w, err := trace.WalkSnapshot(s, trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(w.Reason, "--") {
		t.Fatalf("the engine names a flag: %q", w.Reason)
	}
	const want = "no fabric facts: the logical switches and routers are not walked (collect them with --fabric nsx|ovn)"
	// The same walk as one endpoint of a Service walk: its hops and the Service walk's reason.
	sw := &trace.Walk{Reason: "endpoint 10.0.0.1:53: " + w.Reason, Service: &trace.ServiceWalk{Walks: []trace.EndpointWalk{{Walk: *w}}}}
	sw.Service.Walks[0].Walk.Hops = append([]trace.Hop(nil), w.Hops...)
	wordHints(w)
	if w.Reason != want {
		t.Errorf("reason %q, want %q", w.Reason, want)
	}
	wordHints(sw)
	if got := sw.Service.Walks[0].Walk.Reason; got != want {
		t.Errorf("endpoint walk reason %q, want %q", got, want)
	}
	if sw.Reason != "endpoint 10.0.0.1:53: "+want {
		t.Errorf("service walk reason %q", sw.Reason)
	}
}

// An endpoint the request named is said with the flag that names it, in the Service walk's hops
// and in its endpoint walk's; the engine's own choices keep its words.
func TestWordHintsNamesTheEndpointFlag(t *testing.T) {
	hop := func(c trace.Choice) trace.Hop {
		return trace.Hop{Kind: trace.HopService, Service: &trace.ServiceDetail{ChosenBy: c}}
	}
	w := &trace.Walk{Hops: []trace.Hop{hop(trace.ChosenByRequest)},
		Service: &trace.ServiceWalk{Walks: []trace.EndpointWalk{{Walk: trace.Walk{Hops: []trace.Hop{hop(trace.ChosenByRequest), hop(trace.ChosenByOFProto), hop(trace.ChosenEach)}}}}}}
	wordHints(w)
	if got := w.Hops[0].Service.ChosenBy; got != "--endpoint" {
		t.Errorf("service walk's hop chosen by %q", got)
	}
	var got []trace.Choice
	for _, h := range w.Service.Walks[0].Walk.Hops {
		got = append(got, h.Service.ChosenBy)
	}
	if want := []trace.Choice{"--endpoint", "ofproto/trace", "each"}; !slices.Equal(got, want) {
		t.Errorf("endpoint walk's hops chosen by %q, want %q", got, want)
	}
}
