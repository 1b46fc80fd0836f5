package trace_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

var kubeDNS = trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}

func walk(t *testing.T, s *trace.Snapshot, src trace.PodRef, to string) *trace.Walk {
	t.Helper()
	tg, err := trace.ParseTarget(to, "default")
	if err != nil {
		t.Fatal(err)
	}
	w, err := trace.WalkSnapshot(s, trace.Request{Source: src, To: tg})
	if err != nil {
		t.Fatalf("walk %s -> %s: %v", src, to, err)
	}
	return w
}

func kinds(w *trace.Walk, dir trace.Direction) []trace.HopKind {
	var k []trace.HopKind
	for _, h := range w.Hops {
		if h.Direction == dir {
			k = append(k, h.Kind)
		}
	}
	return k
}

func dump(w *trace.Walk) string {
	var b strings.Builder
	for _, h := range w.Hops {
		b.WriteString("\n  ")
		fmt.Fprintf(&b, "%s | %s | %s | %s | %s | %s", h.Direction, h.Kind, h.Name, h.IP, h.Status, h.Detail)
	}
	return b.String()
}

// The published walk: every layer between kube-dns and node 172.15.0.4, and the traceroute hops.
func TestPublishedWalk(t *testing.T) {
	w := walk(t, scenario.Published(), kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictReachable {
		t.Fatalf("verdict %s (%s), want reachable:%s", w.Verdict, w.Reason, dump(w))
	}
	want := []string{"172.16.1.1", "100.64.96.10", "100.64.96.5", "172.15.0.4"}
	if got := w.RouterHops(); !reflect.DeepEqual(got, want) {
		t.Errorf("router hops %v, want the published traceroute %v", got, want)
	}
	// The firewall at both ports and the tunnel between the nodes' hosts (placeholders: the article names none).
	wantKinds := []trace.HopKind{"pod", "veth", "ovs-port", "mac-table", "ovs-uplink", "fabric-port", "firewall", "switch", "router", "router", "router", "switch", "transport", "fabric-port", "firewall", "node"}
	if got := kinds(w, trace.Forward); !reflect.DeepEqual(got, wantKinds) {
		t.Errorf("forward hops %v\nwant %v", got, wantKinds)
	}
	// Back through kube-dns's own layers: its logical port, OVS port, MAC table, veth and eth0.
	wantRet := []trace.HopKind{"firewall", "route", "router", "router", "router", "switch", "transport", "fabric-port", "firewall", "ovs-port", "mac-table", "veth", "pod"}
	if got := kinds(w, trace.Return); !reflect.DeepEqual(got, wantRet) {
		t.Errorf("return hops %v\nwant %v", got, wantRet)
	}
	for _, h := range w.Hops {
		if h.Status != trace.StatusOK {
			t.Errorf("hop %d %s %s: %s %s", h.Index, h.Kind, h.Name, h.Status, h.Detail)
		}
		if len(h.Evidence) == 0 && h.Kind != trace.HopSwitch {
			t.Errorf("hop %d %s %s has no evidence", h.Index, h.Kind, h.Name)
		}
	}
	// The links the article names: MAC and VLAN carried from OVS to the CHILD port, the router MAC on the uplink.
	byKind := map[trace.HopKind]trace.Hop{}
	for _, h := range w.Hops {
		if _, ok := byKind[h.Kind]; !ok {
			byKind[h.Kind] = h
		}
	}
	if h := byKind["ovs-port"]; h.Name != "veth1a2b" || h.VLAN == nil || *h.VLAN != 101 {
		t.Errorf("ovs-port hop %+v, want veth1a2b VLAN 101", h)
	}
	if h := byKind["ovs-uplink"]; h.Name != "eth1" || h.MAC != scenario.RouterMAC {
		t.Errorf("uplink hop %+v, want eth1 with router MAC %s", h, scenario.RouterMAC)
	}
	if h := byKind["fabric-port"]; h.Name != "kube-system_kube-dns" || h.VLAN == nil || *h.VLAN != 101 || h.MAC != byKind["pod"].MAC {
		t.Errorf("fabric port hop %+v, want kube-system_kube-dns traffic_tag 101 with the pod's MAC", h)
	}
	if h := byKind["router"]; h.Router != "t1-kube-system" || h.Interface != "t1-kube-system-downlink" {
		t.Errorf("first router hop %+v, want t1-kube-system entered by its downlink", h)
	}
}

// Each broken variant names the right hop, direction and reason.
func TestBrokenVariants(t *testing.T) {
	for _, v := range append(append([]scenario.Variant{}, scenario.Variants...), scenario.OverlayVariants...) {
		t.Run(v.Name, func(t *testing.T) {
			s := scenario.Published()
			v.Break(s)
			w := walk(t, s, kubeDNS, "node/172.15.0.4")
			if w.Verdict != trace.VerdictBroken {
				t.Fatalf("verdict %s, want broken:%s", w.Verdict, dump(w))
			}
			h := w.Hops[w.BrokenAt-1]
			if h.Kind != v.HopKind || h.Direction != v.Direction || h.Status != trace.StatusBroken {
				t.Errorf("broken at hop %d %s/%s (%s), want a %s hop on the %s path:%s", w.BrokenAt, h.Kind, h.Direction, h.Status, v.HopKind, v.Direction, dump(w))
			}
			if w.Reason != v.Reason {
				t.Errorf("reason\n got %q\nwant %q", w.Reason, v.Reason)
			}
			// A hop before the root cause is broken only as its consequence, and says so.
			for _, x := range w.Hops[:w.BrokenAt-1] {
				if x.Status == trace.StatusBroken && x.ConsequenceOf != w.BrokenAt {
					t.Errorf("hop %d broken before BrokenAt %d, not as its consequence (consequenceOf %d)", x.Index, w.BrokenAt, x.ConsequenceOf)
				}
			}
		})
	}
}

func TestPodToPod(t *testing.T) {
	s := scenario.Published()
	t.Run("same namespace same node is switched, not routed", func(t *testing.T) {
		w := walk(t, s, kubeDNS, "pod/kube-system/heapster")
		if w.Verdict != trace.VerdictReachable {
			t.Fatalf("verdict %s: %s%s", w.Verdict, w.Reason, dump(w))
		}
		if hops := w.RouterHops(); !reflect.DeepEqual(hops, []string{"172.16.1.3"}) {
			t.Errorf("router hops %v, want only the destination", hops)
		}
		// Different VLANs on the same node: the packet still crosses the fabric switch.
		var dstOVS *trace.Hop
		for i, h := range w.Hops {
			if h.Kind == trace.HopOVSPort && h.Node == "172.15.0.3" && h.Name != "veth1a2b" {
				dstOVS = &w.Hops[i]
			}
		}
		if dstOVS == nil || dstOVS.VLAN == nil || *dstOVS.VLAN != 102 {
			t.Errorf("want the destination's OVS port with VLAN 102:%s", dump(w))
		}
	})
	t.Run("other namespace other node goes through both T1s and the T0", func(t *testing.T) {
		w := walk(t, s, kubeDNS, "pod/default/nginx-3")
		if w.Verdict != trace.VerdictReachable {
			t.Fatalf("verdict %s: %s%s", w.Verdict, w.Reason, dump(w))
		}
		want := []string{"172.16.1.1", "100.64.96.10", "100.64.96.13", "172.16.0.6"}
		if got := w.RouterHops(); !reflect.DeepEqual(got, want) {
			t.Errorf("router hops %v, want %v", got, want)
		}
		last := w.Hops[len(kinds(w, trace.Forward))-1]
		if last.Kind != trace.HopPod || last.Node != "172.15.0.4" || last.Interface != "eth0" {
			t.Errorf("last forward hop %+v, want pod eth0 on 172.15.0.4", last)
		}
	})
	t.Run("destination's VLAN mismatch is found on its node", func(t *testing.T) {
		s := scenario.Published()
		for i := range s.Fabric.SwitchPorts {
			if s.Fabric.SwitchPorts[i].Name == "default_nginx-3" {
				v := 107
				s.Fabric.SwitchPorts[i].TrafficTag = &v
			}
		}
		w := walk(t, s, kubeDNS, "pod/default/nginx-3")
		if w.Verdict != trace.VerdictBroken || !strings.HasPrefix(w.Reason, "VLAN mismatch: fabric port default_nginx-3 traffic_tag 107, OVS port") {
			t.Errorf("verdict %s reason %q%s", w.Verdict, w.Reason, dump(w))
		}
	})
}

func TestPodToIP(t *testing.T) {
	s := scenario.Published()
	t.Run("a node's IP is that node", func(t *testing.T) {
		w := walk(t, s, kubeDNS, "172.15.0.5")
		if w.Destination.Kind != trace.TargetNode || w.Destination.Name != "172.15.0.5" || w.Verdict != trace.VerdictReachable {
			t.Errorf("destination %+v verdict %s", w.Destination, w.Verdict)
		}
	})
	t.Run("an outside address leaves by the T0 uplink and the reply comes back in by it", func(t *testing.T) {
		w := walk(t, s, kubeDNS, "198.51.100.7")
		if w.Verdict != trace.VerdictReachable || w.Destination.Kind != trace.TargetExternal {
			t.Fatalf("verdict %s destination %+v, want reachable external:%s", w.Verdict, w.Destination, dump(w))
		}
		var ext bool
		for _, h := range w.Hops {
			ext = ext || h.Kind == trace.HopExternal
		}
		back := kinds(w, trace.Return)
		if !ext || len(back) == 0 || back[0] != trace.HopRouter || back[len(back)-1] != trace.HopPod {
			t.Errorf("want an external hop and the return path from the T0 to the pod:%s", dump(w))
		}
	})
}

func TestMissingFactsAreUnknownNotGuessed(t *testing.T) {
	t.Run("no node state", func(t *testing.T) {
		s := scenario.Published()
		s.Nodes = nil
		w := walk(t, s, kubeDNS, "node/172.15.0.4")
		if w.Verdict != trace.VerdictUnknown || w.Hops[0].Status != trace.StatusUnknown || w.Hops[0].Hint != trace.HintNodeFacts {
			t.Fatalf("verdict %s, first hop %s hint %q:%s", w.Verdict, w.Hops[0].Status, w.Hops[0].Hint, dump(w))
		}
		// The fabric part still walks.
		if got := w.RouterHops(); len(got) != 4 {
			t.Errorf("router hops %v: the fabric part should still be walked", got)
		}
	})
	t.Run("no fabric", func(t *testing.T) {
		s := scenario.Published()
		s.Fabric = nil
		w := walk(t, s, kubeDNS, "node/172.15.0.4")
		// The walk names what is missing; the command names the flags that collect it.
		if w.Verdict != trace.VerdictUnknown || !strings.Contains(w.Reason, "no fabric facts") || strings.Contains(w.Reason, "--") {
			t.Fatalf("verdict %s reason %q", w.Verdict, w.Reason)
		}
		if h := hopOf(w, trace.HopFabricPort); h == nil || h.Hint != trace.HintFabricFacts {
			t.Errorf("fabric hop %+v, want hint %s", h, trace.HintFabricFacts)
		}
	})
	t.Run("no MAC table", func(t *testing.T) {
		s := scenario.Published()
		s.Nodes[0].OVS.MACTable = nil
		s.Nodes[0].OVS.FDBSource = ""
		w := walk(t, s, kubeDNS, "node/172.15.0.4")
		if w.Verdict != trace.VerdictUnknown || !strings.Contains(w.Reason, "MAC table of br-int") {
			t.Fatalf("verdict %s reason %q", w.Verdict, w.Reason)
		}
	})
}

func TestFabricFaults(t *testing.T) {
	cases := []struct {
		name   string
		brk    func(s *trace.Snapshot)
		verd   trace.Verdict
		reason string
	}{
		{"routing loop", func(s *trace.Snapshot) {
			for i, r := range s.Fabric.Routes {
				if r.Router == "lr-t0" && r.Prefix == "172.15.0.0/24" {
					s.Fabric.Routes[i].NextHop = "100.64.96.11"
				}
			}
		}, trace.VerdictBroken, "routing loop: 172.15.0.4 reached router t1-kube-system twice"},
		{"unknown router tier", func(s *trace.Snapshot) {
			for i := range s.Fabric.Routers {
				if s.Fabric.Routers[i].Name == "t0" {
					s.Fabric.Routers[i].Tier = "TIER3"
				}
			}
		}, trace.VerdictUnknown, `router t0 has unknown tier "TIER3"`},
		{"linked switch port missing", func(s *trace.Snapshot) {
			for i := range s.Fabric.RouterPorts {
				if s.Fabric.RouterPorts[i].ID == "lrp-t1-nodes-dl" {
					s.Fabric.RouterPorts[i].LinkedSwitchPort = "lp-gone"
				}
			}
			keep := s.Fabric.SwitchPorts[:0]
			for _, p := range s.Fabric.SwitchPorts {
				if p.ID != "lp-ls-nodes-router" {
					keep = append(keep, p)
				}
			}
			s.Fabric.SwitchPorts = keep
		}, trace.VerdictUnknown, "port t1-k8s-nodes-downlink of router t1-k8s-nodes (172.15.0.0/24) is attached to no logical switch in the fabric facts"},
		{"duplicate traffic tag under one parent", func(s *trace.Snapshot) {
			for i := range s.Fabric.SwitchPorts {
				if s.Fabric.SwitchPorts[i].Name == "kube-system_heapster" {
					v := 101
					s.Fabric.SwitchPorts[i].TrafficTag = &v
				}
			}
		}, trace.VerdictBroken, "duplicate traffic_tag 101 under parent VIF k8s-node-172.15.0.3-eth1: kube-system_kube-dns and kube-system_heapster"},
		{"next hop is the broadcast address", func(s *trace.Snapshot) {
			for i := range s.Fabric.RouterPorts {
				if s.Fabric.RouterPorts[i].ID == "lrp-t0-to-kube-system" {
					s.Fabric.RouterPorts[i].Networks = []string{"100.64.96.10/30"}
				}
				if s.Fabric.RouterPorts[i].ID == "lrp-kube-system-link" {
					s.Fabric.RouterPorts[i].Networks = []string{"100.64.96.11/30"}
				}
			}
		}, trace.VerdictBroken, "next hop 100.64.96.11 is not a host address of 100.64.96.10/30 on t0-to-t1-kube-system (network or broadcast address)"},
		{"gateway on no router", func(s *trace.Snapshot) {
			for i := range s.Nodes[0].Netns {
				for j := range s.Nodes[0].Netns[i].Routes {
					if s.Nodes[0].Netns[i].Routes[j].Gateway == "172.16.1.1" {
						s.Nodes[0].Netns[i].Routes[j].Gateway = "172.16.1.254"
					}
				}
			}
		}, trace.VerdictBroken, "no router port owns the gateway 172.16.1.254 of switch ls-kube-system"},
		{"pod has no route", func(s *trace.Snapshot) {
			for i := range s.Nodes[0].Netns {
				if s.Nodes[0].Netns[i].Name == "cni-kube-system-kube-dns" {
					s.Nodes[0].Netns[i].Routes = s.Nodes[0].Netns[i].Routes[1:]
				}
			}
		}, trace.VerdictBroken, "no route to 172.15.0.4 in pod kube-system/kube-dns"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := scenario.Published()
			c.brk(s)
			w := walk(t, s, kubeDNS, "node/172.15.0.4")
			if w.Verdict != c.verd || w.Reason != c.reason {
				t.Errorf("verdict %s reason\n got %q\nwant %s %q%s", w.Verdict, w.Reason, c.verd, c.reason, dump(w))
			}
		})
	}
}

// RFC 3021: on a /31 both addresses are hosts, the published T1-T0 link is one.
func TestRFC3021Links(t *testing.T) {
	s := scenario.Published()
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	entered := 0
	for _, h := range w.Hops {
		if h.Kind == trace.HopRouter && h.Router == "t0" && h.Direction == trace.Forward {
			entered++
			if h.IP != "100.64.96.10" {
				t.Errorf("t0 entered by %s, want 100.64.96.10 on the /31", h.IP)
			}
		}
	}
	if entered == 0 {
		t.Errorf("the walk never enters t0%s", dump(w))
	}
}

func TestIPv6Walk(t *testing.T) {
	s := scenario.IPv6()
	w := walk(t, s, trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, "node/node-b")
	if w.Verdict != trace.VerdictReachable {
		t.Fatalf("verdict %s: %s%s", w.Verdict, w.Reason, dump(w))
	}
	want := []string{"fd00:16:1::1", "fd00:64::a", "fd00:64::5", "fd00:15::4"}
	if got := w.RouterHops(); !reflect.DeepEqual(got, want) {
		t.Errorf("router hops %v, want %v", got, want)
	}
}

func TestRequestErrors(t *testing.T) {
	s := scenario.Published()
	cases := []struct {
		src  trace.PodRef
		to   string
		want string
	}{
		{trace.PodRef{Namespace: "kube-system", Name: "kube-dnz"}, "node/172.15.0.4", "pod kube-system/kube-dnz not found in the snapshot (did you mean kube-system/kube-dns?)"},
		{kubeDNS, "node/172.15.0.9", "node 172.15.0.9 not found in the snapshot"},
		{kubeDNS, "pod/default/nope", "pod default/nope not found in the snapshot"},
	}
	for _, c := range cases {
		t.Run(c.src.String()+" to "+c.to, func(t *testing.T) {
			tg, _ := trace.ParseTarget(c.to, "")
			_, err := trace.WalkSnapshot(s, trace.Request{Source: c.src, To: tg})
			var re *trace.RequestError
			if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, c.want) {
				t.Errorf("%s -> %s: error %v, want %q", c.src, c.to, err, c.want)
			}
		})
	}
	s.Cluster.Pods = append(s.Cluster.Pods, trace.Pod{Namespace: "kube-system", Name: "kube-proxy", Node: "172.15.0.3", HostNetwork: true, IPs: []string{"172.15.0.3"}})
	_, err := trace.WalkSnapshot(s, trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-proxy"}, To: trace.Target{Kind: trace.TargetIP, IP: "172.15.0.4"}})
	if err == nil || !strings.Contains(err.Error(), "uses the host network") {
		t.Errorf("host-network source: %v", err)
	}
}

func TestParseTarget(t *testing.T) {
	good := map[string]trace.Target{
		"node/n1":         {Kind: trace.TargetNode, Name: "n1"},
		"pod/ns/p":        {Kind: trace.TargetPod, Namespace: "ns", Name: "p"},
		"pod/p":           {Kind: trace.TargetPod, Namespace: "def", Name: "p"},
		"10.0.0.1":        {Kind: trace.TargetIP, IP: "10.0.0.1"},
		"fd00::1":         {Kind: trace.TargetIP, IP: "fd00::1"},
		"::ffff:1.2.3.4":  {Kind: trace.TargetIP, IP: "1.2.3.4"},
		"svc/x":           {Kind: trace.TargetService, Namespace: "def", Name: "x"},
		"svc/ns/web:80":   {Kind: trace.TargetService, Namespace: "ns", Name: "web", Port: "80"},
		"svc/ns/web:http": {Kind: trace.TargetService, Namespace: "ns", Name: "web", Port: "http"},
		"10.96.0.10:53":   {Kind: trace.TargetIP, IP: "10.96.0.10", Port: "53"},
		"[fd00::1]:443":   {Kind: trace.TargetIP, IP: "fd00::1", Port: "443"},
	}
	for in, want := range good {
		t.Run(in, func(t *testing.T) {
			got, err := trace.ParseTarget(in, "def")
			if err != nil || got != want {
				t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", in, got, err, want)
			}
		})
	}
	for _, in := range []string{"", "node/", "pod/", "pod/a/b/c", "nodes/x", "1.2.3", "svc/", "svc/a/b/c", "svc/a/b:", "node/a/b"} {
		t.Run("bad "+in, func(t *testing.T) {
			var te *trace.TargetSyntaxError
			if _, err := trace.ParseTarget(in, "def"); !errors.As(err, &te) || te.Input != in || !strings.HasPrefix(err.Error(), "must be node/NAME, pod/NS/NAME, svc/NS/NAME[:PORT], an IP address or IP:PORT") {
				t.Errorf("ParseTarget(%q) error %v, want a *TargetSyntaxError naming the forms", in, err)
			}
		})
	}
}

// The JSON shape is the CLI contract: these keys are relied on outside the repo.
func TestWalkJSONContract(t *testing.T) {
	s := scenario.Published()
	v := scenario.Variants[0]
	v.Break(s)
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"source", "destination", "verdict", "brokenAt", "reason", "hops"} {
		if _, ok := m[k]; !ok {
			t.Errorf("walk JSON lacks %q", k)
		}
	}
	hop := m["hops"].([]any)[0].(map[string]any)
	for _, k := range []string{"index", "kind", "name", "node", "netns", "interface", "ip", "mac", "status", "detail", "evidence", "direction"} {
		if _, ok := hop[k]; !ok {
			t.Errorf("hop JSON lacks %q: %v", k, hop)
		}
	}
	ev := hop["evidence"].([]any)[0].(map[string]any)
	if _, ok := ev["source"]; !ok {
		t.Errorf("evidence lacks source: %v", ev)
	}
}

func TestIndexIsReusableAcrossWalks(t *testing.T) {
	ix := trace.NewIndex(scenario.Published())
	for _, to := range []string{"172.15.0.4", "172.15.0.5", "172.16.0.6"} {
		a, _ := netip.ParseAddr(to)
		w, err := ix.Walk(trace.Request{Source: kubeDNS, To: trace.Target{Kind: trace.TargetIP, IP: a.String()}})
		if err != nil || w.Verdict != trace.VerdictReachable {
			t.Errorf("walk to %s: %v %v", to, err, w)
		}
	}
}

// With the host veth down the kernel reports the pod's eth0 as lowerlayerdown: the walk blames
// the veth, as the operator would.
func TestVethDownAsTheKernelReportsIt(t *testing.T) {
	s := scenario.Published()
	scenario.Variants[len(scenario.Variants)-1].Break(s) // veth-down
	for i := range s.Nodes[0].Netns {
		if s.Nodes[0].Netns[i].Name == "cni-kube-system-kube-dns" {
			for j := range s.Nodes[0].Netns[i].Links {
				if s.Nodes[0].Netns[i].Links[j].Name == "eth0" {
					s.Nodes[0].Netns[i].Links[j].OperState = "lowerlayerdown"
				}
			}
		}
	}
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	if w.BrokenAt != 2 || w.Reason != "veth1a2b is down" {
		t.Errorf("broken at %d: %q%s", w.BrokenAt, w.Reason, dump(w))
	}
}

// Without fabric facts the router MAC is named by each pod's gateway, per VLAN.
func TestMACsGatewayPerVLAN(t *testing.T) {
	s := scenario.Published()
	s.Fabric = nil
	mt, err := trace.NewIndex(s).MACs("172.15.0.3")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{101: "gateway 172.16.1.1", 105: "gateway 172.16.1.1", 106: "gateway 172.16.0.1", 109: "gateway 172.16.0.1"}
	seen := map[int]bool{}
	for _, r := range mt.Rows {
		if r.MAC != scenario.RouterMAC {
			continue
		}
		if w, ok := want[r.VLAN]; ok {
			seen[r.VLAN] = true
			if r.Owner != w {
				t.Errorf("VLAN %d router MAC owner %q, want %q", r.VLAN, r.Owner, w)
			}
		}
		if r.VLAN == scenario.HyperbusVLAN {
			t.Errorf("router MAC on the hyperbus VLAN: %+v", r)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("router MAC rows on VLANs %v, want one on each of %v", seen, want)
	}
	// Without cluster facts, pod MACs are named by their netns.
	s.Cluster.Pods = nil
	for i := range s.Nodes[0].Netns {
		s.Nodes[0].Netns[i].Pod = nil
	}
	mt, _ = trace.NewIndex(s).MACs("172.15.0.3")
	found := false
	for _, r := range mt.Rows {
		if r.Port == "veth1a2b" {
			found = true
			if r.Owner != "netns cni-kube-system-kube-dns 172.16.1.2" {
				t.Errorf("kube-dns row without cluster facts: %+v", r)
			}
		}
	}
	if !found {
		t.Error("no row for kube-dns's port veth1a2b without cluster facts")
	}
}

// A destination pod whose MAC its node learned on the trunk (stale) is unreachable: frames for it
// go back out the trunk.
func TestStaleMACAtTheDestination(t *testing.T) {
	s := scenario.Published()
	scenario.Variants[2].Break(s) // stale-mac: kube-dns's MAC on another port of 172.15.0.3
	w := walk(t, s, trace.PodRef{Namespace: "default", Name: "nginx-3"}, "pod/kube-system/kube-dns")
	if w.Verdict != trace.VerdictBroken || w.Hops[w.BrokenAt-1].Kind != trace.HopMACTable || w.Hops[w.BrokenAt-1].Node != "172.15.0.3" ||
		!strings.HasPrefix(w.Reason, "stale MAC: 02:50:56:00:03:01 learned on br-int port 7") {
		t.Errorf("verdict %s at %d: %q%s", w.Verdict, w.BrokenAt, w.Reason, dump(w))
	}
	// Healthy: the destination's MAC table hop holds.
	w = walk(t, scenario.Published(), trace.PodRef{Namespace: "default", Name: "nginx-3"}, "pod/kube-system/kube-dns")
	if w.Verdict != trace.VerdictReachable {
		t.Errorf("healthy: %s %s%s", w.Verdict, w.Reason, dump(w))
	}
}
