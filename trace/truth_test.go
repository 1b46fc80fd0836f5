package trace_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// Every router interface on kube-dns's paths is a destination: the walk ends at the router that
// owns the address, and its L3 hops are what `traceroute -I` prints (an OVN or NSX router answers
// an echo to any of its own addresses, whichever port the request entered by).
func TestRouterAddressesAreDestinations(t *testing.T) {
	for _, tc := range []struct {
		to, router string
		l3         []string
	}{
		{"172.16.1.1", "t1-kube-system", []string{"172.16.1.1"}}, // the pod's gateway, on-link
		{"100.64.96.11", "t1-kube-system", []string{"100.64.96.11"}},
		{"100.64.96.10", "t0", []string{"172.16.1.1", "100.64.96.10"}},
		{"100.64.96.4", "t0", []string{"172.16.1.1", "100.64.96.4"}},
		{"100.64.96.5", "t1-k8s-nodes", []string{"172.16.1.1", "100.64.96.10", "100.64.96.5"}}, // a peer-linked port
		{"172.15.0.1", "t1-k8s-nodes", []string{"172.16.1.1", "100.64.96.10", "172.15.0.1"}},   // the node network's router port
	} {
		t.Run(tc.to, func(t *testing.T) {
			w := walk(t, scenario.Published(), kubeDNS, tc.to)
			if w.Verdict != trace.VerdictReachable || w.Destination.Kind != trace.TargetRouter || w.Destination.Name != tc.router {
				t.Fatalf("verdict %s (%s), destination %+v; want reachable, router %s:%s", w.Verdict, w.Reason, w.Destination, tc.router, dump(w))
			}
			if got := w.RouterHops(); !slices.Equal(got, tc.l3) {
				t.Errorf("L3 hops %v, want %v", got, tc.l3)
			}
			if hops, exact := w.ExpectedTraceroute(); !exact || !slices.Equal(hops, tc.l3) {
				t.Errorf("expected traceroute %v (exact %v), want %v", hops, exact, tc.l3)
			}
			fwd, ret := kinds(w, trace.Forward), kinds(w, trace.Return)
			if last := w.Hops[len(fwd)-1]; last.Kind != trace.HopRouter || last.IP != tc.to || last.Router != tc.router {
				t.Errorf("last forward hop %+v, want router %s at %s", last, tc.router, tc.to)
			}
			// The return starts at that router and ends through kube-dns's own layers.
			if len(ret) == 0 || ret[0] != trace.HopRouter || w.Hops[len(fwd)].Router != tc.router || !slices.Equal(ret[len(ret)-6:], []trace.HopKind{"fabric-port", "firewall", "ovs-port", "mac-table", "veth", "pod"}) {
				t.Errorf("return hops %v: want from router %s back to kube-dns's eth0:%s", ret, tc.router, dump(w))
			}
			if len(w.Warnings) > 0 {
				t.Errorf("warnings %v: a router's own address is not outside the cluster", w.Warnings)
			}
		})
	}
	// An address on a router link that no router port owns is broken, not unknown.
	w := walk(t, scenario.Published(), kubeDNS, "100.64.96.6")
	if w.Verdict == trace.VerdictReachable {
		t.Errorf("100.64.96.6: verdict %s:%s", w.Verdict, dump(w))
	}
	// An address nothing in the facts owns is walked as outside the cluster, with a warning.
	w = walk(t, scenario.Published(), kubeDNS, "198.51.100.7")
	if len(w.Warnings) != 1 || !strings.Contains(w.Warnings[0], "outside the cluster") {
		t.Errorf("198.51.100.7: warnings %v", w.Warnings)
	}
}

// nginx-3's reply goes out through its own layers: its neighbour entry for the gateway is part of
// the return path, so a wrong one (replies sent to a MAC no router has) breaks the walk there.
func TestPodReturnPathThroughTheDestinationsLayers(t *testing.T) {
	nginx3 := trace.PodRef{Namespace: "default", Name: "nginx-3"}
	w := walk(t, scenario.Published(), kubeDNS, "pod/default/nginx-3")
	want := []trace.HopKind{"pod", "veth", "ovs-port", "mac-table", "ovs-uplink", "fabric-port", "firewall", "switch", "router", "router", "router", "switch", "transport", "fabric-port", "firewall", "ovs-port", "mac-table", "veth", "pod"}
	if w.Verdict != trace.VerdictReachable || !slices.Equal(kinds(w, trace.Return), want) {
		t.Fatalf("verdict %s, return %v\nwant %v:%s", w.Verdict, kinds(w, trace.Return), want, dump(w))
	}
	if first := w.Hops[len(kinds(w, trace.Forward))]; first.Name != "default/nginx-3" || first.Interface != "eth0" {
		t.Errorf("the return starts at %+v, want nginx-3's eth0", first)
	}

	s := scenario.Published()
	for i := range s.Nodes {
		for j := range s.Nodes[i].Netns {
			ns := &s.Nodes[i].Netns[j]
			for k := range ns.Neighbors {
				if ns.Name == "cni-default-nginx-3" && ns.Neighbors[k].IP == "172.16.0.1" {
					ns.Neighbors[k].MAC = "02:00:00:00:00:99"
				}
			}
		}
	}
	w = walk(t, s, kubeDNS, "pod/default/nginx-3")
	if !w.BrokenOnReturn() || !strings.Contains(w.Reason, "02:00:00:00:00:99") || hopAt(w, w.BrokenAt).Kind != trace.HopUplink {
		t.Errorf("fault on nginx-3's side: verdict %s at %d (%q), want broken on the return path at nginx-3's uplink:%s", w.Verdict, w.BrokenAt, w.Reason, dump(w))
	}
	w = walk(t, s, nginx3, "pod/kube-system/kube-dns")
	if w.Verdict != trace.VerdictBroken || w.BrokenOnReturn() || !strings.Contains(w.Reason, "02:00:00:00:00:99") {
		t.Errorf("from nginx-3: verdict %s at %d (%q), want broken on the way out:%s", w.Verdict, w.BrokenAt, w.Reason, dump(w))
	}
}

func hopAt(w *trace.Walk, i int) trace.Hop {
	if i < 1 || i > len(w.Hops) {
		return trace.Hop{}
	}
	return w.Hops[i-1]
}

// After the first broken hop the packet goes no further: no later hop is listed, none as ok.
func TestBrokenWalkStops(t *testing.T) {
	for _, v := range scenario.Variants {
		name := v.Name
		snap := scenario.Published()
		v.Break(snap)
		w, err := trace.WalkSnapshot(snap, trace.Request{Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}})
		if err != nil {
			t.Fatal(err)
		}
		if w.Verdict != trace.VerdictBroken {
			continue
		}
		if w.BrokenAt != len(w.Hops) {
			t.Errorf("%s: broken at hop %d, but %d hops listed:%s", name, w.BrokenAt, len(w.Hops), dump(w))
		}
		if onReturn := v.Direction == trace.Return; onReturn != w.BrokenOnReturn() {
			t.Errorf("%s: broken on the return path: %v, want %v", name, w.BrokenOnReturn(), onReturn)
		}
		ix := trace.NewIndex(snap)
		rep := trace.RunChecks(context.Background(), ix, []trace.CheckSpec{{Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}}}, trace.CheckOptions{})
		if onReturn := strings.HasSuffix(rep.Results[0].BrokenHop, "(return path)"); onReturn != w.BrokenOnReturn() {
			t.Errorf("%s: broken hop %q, on the return path: %v", name, rep.Results[0].BrokenHop, w.BrokenOnReturn())
		}
	}
}

// A probe that reaches a destination the walk calls broken fails the check with that first.
func TestProbeReachingABrokenPathFails(t *testing.T) {
	snap := scenario.Published()
	scenario.Variants[0].Break(snap) // vlan-mismatch
	ix := trace.NewIndex(snap)
	spec := trace.CheckSpec{Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}, Probe: "icmp", Expect: trace.VerdictBroken}
	probe := func(_ context.Context, _ trace.CheckSpec, w *trace.Walk) trace.ProbeResult {
		return trace.ProbeResult{Kind: "icmp", Reached: true, Hops: []string{"172.16.1.1", "172.15.0.4"}, Differences: []string{trace.ReachDisagreement(w, true)}}
	}
	rep := trace.RunChecks(context.Background(), ix, []trace.CheckSpec{spec}, trace.CheckOptions{Probe: probe})
	r := rep.Results[0]
	if r.Result != trace.CheckFail || !strings.HasPrefix(r.Message, "probe disagrees with the walk: the probe reached 172.15.0.4, the walk says the path is broken") {
		t.Errorf("result %s message %q", r.Result, r.Message)
	}
}
