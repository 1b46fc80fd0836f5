package trace_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

func walkReq(t *testing.T, s *trace.Snapshot, to, endpoint string) *trace.Walk {
	t.Helper()
	tg, err := trace.ParseTarget(to, "default")
	if err != nil {
		t.Fatal(err)
	}
	w, err := trace.WalkSnapshot(s, trace.Request{Source: kubeDNS, To: tg, Endpoint: endpoint})
	if err != nil {
		t.Fatalf("walk to %s: %v", to, err)
	}
	return w
}

// dirHop is w's first hop of kind in direction dir, nil when it has none.
func dirHop(w *trace.Walk, kind trace.HopKind, dir trace.Direction) *trace.Hop {
	for i := range w.Hops {
		if w.Hops[i].Kind == kind && w.Hops[i].Direction == dir {
			return &w.Hops[i]
		}
	}
	return nil
}

// A Service is walked to each ready endpoint, with the DNAT where the node's OVS does it.
func TestServiceWalksEveryReadyEndpoint(t *testing.T) {
	for _, to := range []string{"svc/default/web", "svc/default/web:http", "svc/default/web:80", scenario.ServiceVIP + ":80", "172.15.0.4:30080"} {
		t.Run(to, func(t *testing.T) {
			w := walkReq(t, scenario.Service(), to, "")
			sw := w.Service
			if w.Verdict != trace.VerdictReachable || sw == nil || sw.Endpoints != 2 || sw.Ready != 2 || sw.Reachable != 2 || len(sw.Walks) != 2 {
				t.Fatalf("verdict %s reason %q service %+v:%s", w.Verdict, w.Reason, sw, dump(w))
			}
			if w.Destination.Kind != trace.TargetService || w.Destination.Name != "web" {
				t.Errorf("destination %+v", w.Destination)
			}
			if w.Reason != "2 of 2 walked endpoints reachable (2 of 2 ready)" {
				t.Errorf("summary %q", w.Reason)
			}
			for i, want := range []string{"172.16.0.6:8080", "172.16.0.7:8080"} {
				ew := sw.Walks[i]
				svc := dirHop(&ew.Walk, trace.HopService, trace.Forward)
				if ew.Endpoint != want || svc == nil || svc.Service.Endpoint != want || svc.NAT == nil || svc.NAT.Translated.Dst != want {
					t.Fatalf("endpoint walk %d: %s, service hop %+v:%s", i, ew.Endpoint, svc, dump(&ew.Walk))
				}
				// node-ovs: the DNAT happens right after the pod's OVS port, before the MAC table.
				k := kinds(&ew.Walk, trace.Forward)
				if !slices.Equal(k[:4], []trace.HopKind{"pod", "veth", "ovs-port", "service"}) {
					t.Errorf("forward kinds %v", k)
				}
				// Hops after the DNAT carry the translated destination; the reply is un-DNATed.
				last := ew.Walk.Hops[len(k)-1]
				if last.Packet == nil || last.Packet.Dst != want || ew.Walk.Destination.Kind != trace.TargetPod {
					t.Errorf("last forward hop packet %+v destination %+v", last.Packet, ew.Walk.Destination)
				}
				back := dirHop(&ew.Walk, trace.HopNAT, trace.Return)
				if back == nil || !back.NAT.Reverse || back.NAT.Translated.Src != sw.VIP {
					t.Errorf("no un-DNAT on the way back:%s", dump(&ew.Walk))
				}
				end := ew.Walk.Hops[len(ew.Walk.Hops)-1]
				if end.Kind != trace.HopPod || end.Packet == nil || end.Packet.Src != sw.VIP {
					t.Errorf("the reply reaches kube-dns from %+v, want the VIP", end.Packet)
				}
			}
			if got := sw.Walks[0].Walk.Hops[3].Service.ChosenBy; got != trace.ChosenByOFProto && sw.VIP == scenario.ServiceVIP+":80" {
				t.Errorf("nginx-3 is the bucket ofproto/trace chose: chosenBy %q", got)
			}
		})
	}
}

func TestServiceEndpointFlag(t *testing.T) {
	w := walkReq(t, scenario.Service(), "svc/default/web", "default/redis-slave")
	if len(w.Service.Walks) != 1 || w.Service.Walks[0].Endpoint != "172.16.0.7:8080" || w.Verdict != trace.VerdictReachable {
		t.Fatalf("walks %+v", w.Service.Walks)
	}
	if h := hopOf(&w.Service.Walks[0].Walk, trace.HopService); h == nil || h.Service.ChosenBy != trace.ChosenByRequest {
		t.Errorf("service hop %+v, want one chosen by %q", h, trace.ChosenByRequest)
	}
	tg, _ := trace.ParseTarget("svc/default/web", "")
	// The engine's own words, and the caller's name for the setting when it gives one.
	for words, want := range map[trace.Words]string{
		{}:                       "the requested endpoint 10.9.9.9 is not an endpoint of service default/web (its endpoints: 172.16.0.6:8080, 172.16.0.7:8080)",
		{Endpoint: "--endpoint"}: "--endpoint 10.9.9.9 is not an endpoint of service default/web (its endpoints: 172.16.0.6:8080, 172.16.0.7:8080)",
	} {
		_, err := trace.WalkSnapshot(scenario.Service(), trace.Request{Source: kubeDNS, To: tg, Endpoint: "10.9.9.9", Words: words})
		var re *trace.RequestError
		if !errors.As(err, &re) || err.Error() != want {
			t.Errorf("words %+v: error %v, want %q", words, err, want)
		}
	}
}

func TestServiceRequestErrors(t *testing.T) {
	for to, want := range map[string]string{
		"svc/default/webb":          "service default/webb not found in the snapshot (did you mean svc/default/web?)",
		"svc/default/web:https":     `service default/web has no port "https": its ports are http 80/TCP`,
		scenario.ServiceVIP:         "", // one port: no need to name it
		scenario.ServiceVIP + ":81": "10.96.0.80 is service default/web, which has no port 81 (its ports: http 80/TCP)",
	} {
		t.Run(to, func(t *testing.T) {
			tg, err := trace.ParseTarget(to, "default")
			if err != nil {
				t.Fatal(err)
			}
			_, err = trace.WalkSnapshot(scenario.Service(), trace.Request{Source: kubeDNS, To: tg})
			if want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var re *trace.RequestError
			if !errors.As(err, &re) || err.Error() != want {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
}

func TestServiceVariants(t *testing.T) {
	for _, v := range scenario.ServiceVariants {
		t.Run(v.Name, func(t *testing.T) {
			s := scenario.Service()
			v.Break(s)
			to := "svc/default/web"
			if v.HopKind == trace.HopNAT {
				to = scenario.ExternalIP
			}
			w := walkReq(t, s, to, "")
			if w.Verdict != trace.VerdictBroken || w.Reason != v.Reason {
				t.Fatalf("verdict %s reason %q, want %q:%s", w.Verdict, w.Reason, v.Reason, dump(w))
			}
			if h := w.Hops[w.BrokenAt-1]; h.Kind != v.HopKind || h.Direction != v.Direction {
				t.Errorf("broken at %s %s", h.Direction, h.Kind)
			}
		})
	}
}

// A fabric load balancer (OVN style): applied to the source's switch, it sends the VIP to the
// endpoints it lists; a backend it does not list, or one that is down, breaks that endpoint's walk.
func TestServiceFabricLoadBalancer(t *testing.T) {
	withLB := func(mut func(lb *trace.LoadBalancer)) *trace.Snapshot {
		s := scenario.Service()
		s.Fabric.ServiceLoadBalancing = trace.LBFabric
		lb := trace.LoadBalancer{ID: "lb1", Name: "Service_default/web_TCP_cluster", Kind: trace.LBKindOVN, Protocol: trace.ProtocolTCP,
			Switches: []string{"ls-kube-system", "ls-default"},
			VIPs:     []trace.LBVIP{{IP: scenario.ServiceVIP, Port: 80, Backends: []trace.LBBackend{{IP: "172.16.0.6", Port: 8080}, {IP: "172.16.0.7", Port: 8080}}}}}
		if mut != nil {
			mut(&lb)
		}
		s.Fabric.LoadBalancers = []trace.LoadBalancer{lb}
		return s
	}
	t.Run("on the source's switch", func(t *testing.T) {
		w := walkReq(t, withLB(nil), "svc/default/web", "")
		ew := w.Service.Walks[0].Walk
		k := kinds(&ew, trace.Forward)
		i := slices.Index(k, trace.HopService)
		if w.Verdict != trace.VerdictReachable || i < 1 || k[i-1] != trace.HopSwitch || ew.Hops[i].Service.LoadBalancer != "Service_default/web_TCP_cluster" {
			t.Fatalf("verdict %s kinds %v:%s", w.Verdict, k, dump(&ew))
		}
		// The service walk's own hops end at the load-balancing step.
		if last := w.Hops[len(w.Hops)-1]; last.Kind != trace.HopService {
			t.Errorf("service walk hops end at %s", last.Kind)
		}
	})
	t.Run("pool member down", func(t *testing.T) {
		w := walkReq(t, withLB(func(lb *trace.LoadBalancer) { lb.VIPs[0].Backends[1].Status = trace.BackendDown }), "svc/default/web", "")
		if w.Verdict != trace.VerdictReachable || w.Service.Reachable != 1 || w.Reason != "1 of 2 walked endpoints reachable (2 of 2 ready)" {
			t.Fatalf("verdict %s reason %q", w.Verdict, w.Reason)
		}
		if r := w.Service.Walks[1].Walk.Reason; r != "pool member 172.16.0.7:8080 of Service_default/web_TCP_cluster is down: the load balancer sends it nothing" {
			t.Errorf("redis-slave's walk: %q", r)
		}
	})
	t.Run("every member down", func(t *testing.T) {
		w := walkReq(t, withLB(func(lb *trace.LoadBalancer) {
			for i := range lb.VIPs[0].Backends {
				lb.VIPs[0].Backends[i].Status = trace.BackendDown
			}
		}), "svc/default/web", "")
		if w.Verdict != trace.VerdictBroken || w.BrokenAt == 0 || w.Hops[w.BrokenAt-1].Kind != trace.HopService {
			t.Fatalf("verdict %s brokenAt %d:%s", w.Verdict, w.BrokenAt, dump(w))
		}
	})
	t.Run("not on the source's switch", func(t *testing.T) {
		w := walkReq(t, withLB(func(lb *trace.LoadBalancer) { lb.Switches = []string{"ls-default"} }), "svc/default/web", "")
		if w.Verdict != trace.VerdictBroken || !strings.Contains(w.Service.Walks[0].Walk.Reason, "not to the source's switch ls-kube-system") {
			t.Fatalf("verdict %s reason %q", w.Verdict, w.Service.Walks[0].Walk.Reason)
		}
	})
	t.Run("no load balancer has the VIP", func(t *testing.T) {
		w := walkReq(t, withLB(func(lb *trace.LoadBalancer) { lb.VIPs[0].IP = "10.96.0.99" }), "svc/default/web", "")
		if w.Verdict != trace.VerdictBroken || !strings.Contains(w.Service.Walks[0].Walk.Reason, "load balancer on the path has VIP 10.96.0.80:80/TCP") {
			t.Fatalf("verdict %s reason %q", w.Verdict, w.Service.Walks[0].Walk.Reason)
		}
	})
}

// The way out: SNAT on the tier-0 uplink, the translated source on the hops after it, the reply
// translated back before it is routed to the pod.
func TestExternalWalkSNAT(t *testing.T) {
	w := walkReq(t, scenario.Service(), scenario.ExternalIP, "")
	if w.Verdict != trace.VerdictReachable || w.Destination.Kind != trace.TargetExternal {
		t.Fatalf("verdict %s (%s) destination %+v:%s", w.Verdict, w.Reason, w.Destination, dump(w))
	}
	nat := dirHop(w, trace.HopNAT, trace.Forward)
	if nat == nil || nat.NAT.Translated.Src != scenario.SNATIP || nat.NAT.Origin == nil || nat.NAT.Origin.Namespace != "kube-system" || nat.Router != "t0" {
		t.Fatalf("nat hop %+v:%s", nat, dump(w))
	}
	ext := dirHop(w, trace.HopExternal, trace.Forward)
	if ext == nil || ext.Packet == nil || ext.Packet.Src != scenario.SNATIP || ext.Index != nat.Index+1 {
		t.Errorf("the external hop's packet %+v, want source %s", ext, scenario.SNATIP)
	}
	back := dirHop(w, trace.HopNAT, trace.Return)
	if back == nil || !back.NAT.Reverse || back.NAT.Original.Dst != scenario.SNATIP || back.NAT.Translated.Dst != "172.16.1.2" {
		t.Fatalf("reverse nat %+v:%s", back, dump(w))
	}
	if end := w.Hops[len(w.Hops)-1]; end.Kind != trace.HopPod || end.Packet.Dst != "172.16.1.2" || end.Packet.Src != scenario.ExternalIP {
		t.Errorf("the reply reaches the pod as %+v", end.Packet)
	}
	t.Run("no NAT rules: routed, no nat hop", func(t *testing.T) {
		s := scenario.Service()
		s.Fabric.NATRules = nil
		w := walkReq(t, s, scenario.ExternalIP, "")
		if w.Verdict != trace.VerdictReachable || dirHop(w, trace.HopNAT, trace.Forward) != nil {
			t.Errorf("verdict %s:%s", w.Verdict, dump(w))
		}
	})
	t.Run("a pod to a pod is not NATed", func(t *testing.T) {
		w := walkReq(t, scenario.Service(), "pod/default/nginx-3", "")
		if dirHop(w, trace.HopNAT, trace.Forward) != nil || w.Verdict != trace.VerdictReachable {
			t.Errorf("verdict %s:%s", w.Verdict, dump(w))
		}
	})
	t.Run("no_snat first", func(t *testing.T) {
		s := scenario.Service()
		s.Fabric.NATRules = append(s.Fabric.NATRules, trace.NATRule{ID: "keep", Type: trace.NATNoSnat, Router: "lr-t0", Match: trace.NATMatch{Source: "172.16.1.2/32"}, Priority: 10})
		w := walkReq(t, s, scenario.ExternalIP, "")
		if h := dirHop(w, trace.HopNAT, trace.Forward); h == nil || h.NAT != nil || !strings.Contains(h.Detail, "no_snat") {
			t.Errorf("%+v:%s", h, dump(w))
		}
	})
}

// `check` takes the new targets: a plan line to a Service and one to the outside.
func TestCheckPlanWithServiceAndExternalTargets(t *testing.T) {
	plan, err := trace.ParsePlan([]byte("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - from: kube-system/kube-dns\n    to: [svc/default/web:http, "+scenario.ExternalIP+"]\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ix := trace.NewIndex(scenario.Service())
	specs, err := ix.ExpandPlan(plan, "default")
	if err != nil {
		t.Fatal(err)
	}
	rep := trace.RunChecks(context.Background(), ix, specs, trace.CheckOptions{Parallel: 1})
	if rep.Total != 2 || rep.Passed != 2 {
		t.Errorf("report %+v", rep)
	}
}

// --ofproto-trace: the packets to trace, where each enters OVS from its pod.
func TestOFProtoProbes(t *testing.T) {
	ix := trace.NewIndex(scenario.Service())
	tg, _ := trace.ParseTarget("svc/default/web", "")
	ps, err := ix.OFProtoProbes(trace.Request{Source: kubeDNS, To: tg})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Node+" "+p.Bridge+" "+p.Flow)
	}
	want := []string{
		"172.15.0.3 br-int in_port=3,dl_src=02:50:56:00:03:01,dl_dst=02:50:56:56:44:52,tcp,nw_src=172.16.1.2,nw_dst=10.96.0.80,tp_dst=80",
		"172.15.0.4 br-int in_port=3,dl_src=02:50:56:00:04:01,dl_dst=02:50:56:56:44:52,tcp,nw_src=172.16.0.6,nw_dst=172.16.1.2",
		"172.15.0.5 br-int in_port=3,dl_src=02:50:56:00:05:01,dl_dst=02:50:56:56:44:52,tcp,nw_src=172.16.0.7,nw_dst=172.16.1.2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("probes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tg, _ = trace.ParseTarget("node/172.15.0.4", "")
	if ps, _ := ix.OFProtoProbes(trace.Request{Source: kubeDNS, To: tg}); len(ps) != 1 || !strings.HasSuffix(ps[0].Flow, "icmp,icmp_type=8,nw_src=172.16.1.2,nw_dst=172.15.0.4") {
		t.Errorf("to a node (no return through a pod): %+v", ps)
	}
}

// Any target and --endpoint over the Service scenario: a walk or a request error, never a panic.
func FuzzServiceWalk(f *testing.F) {
	for _, s := range []string{"svc/default/web", "svc/default/web:http", "10.96.0.80:80", "172.15.0.4:30080", "198.51.100.7", "[::1]:80", "svc/a/b:99999"} {
		f.Add(s, "")
	}
	f.Add("svc/default/web", "default/nginx-3")
	ix := trace.NewIndex(scenario.Service())
	f.Fuzz(func(t *testing.T, to, endpoint string) {
		tg, err := trace.ParseTarget(to, "default")
		if err != nil {
			return
		}
		w, err := ix.Walk(trace.Request{Source: kubeDNS, To: tg, Endpoint: endpoint})
		var re *trace.RequestError
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("%s: %v", to, err)
		}
		if err == nil && w.Verdict == "" {
			t.Fatalf("%s: no verdict", to)
		}
		_, _ = ix.OFProtoProbes(trace.Request{Source: kubeDNS, To: tg, Endpoint: endpoint})
	})
}

// An address walked to as such that is a load balancer's VIP and no Service's is warned about,
// naming the first load balancer the facts list with it.
func TestVIPWithoutServiceWarns(t *testing.T) {
	s := scenario.Published()
	s.Fabric.LoadBalancers = []trace.LoadBalancer{
		{ID: "lb-other", Kind: trace.LBKindOVN, VIPs: []trace.LBVIP{{IP: "10.96.9.8", Port: 80}}},
		{ID: "lb-b", Name: "first", Kind: trace.LBKindOVN, VIPs: []trace.LBVIP{{IP: "10.96.9.9", Port: 80}}},
		{ID: "lb-a", Name: "second", Kind: trace.LBKindOVN, VIPs: []trace.LBVIP{{IP: "10.96.9.9", Port: 443}}},
	}
	w := walkReq(t, s, "10.96.9.9", "")
	want := "10.96.9.9 is a VIP of load balancer first, and no Service in the facts has it"
	if len(w.Warnings) == 0 || !strings.HasPrefix(w.Warnings[0], want) {
		t.Errorf("warnings %q, want one starting %q", w.Warnings, want)
	}
	for _, m := range walkReq(t, s, "node/172.15.0.4", "").Warnings {
		if strings.Contains(m, "VIP") {
			t.Errorf("a walk to a node is warned: %q", m)
		}
	}
}
