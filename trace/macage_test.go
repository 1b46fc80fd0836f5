package trace_test

import (
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// idle empties node's MAC table, as `ovs-appctl fdb/flush br-int` (or five quiet minutes) does.
func idle(s *trace.Snapshot, node string) *trace.NodeState {
	for i := range s.Nodes {
		if s.Nodes[i].Name == node {
			s.Nodes[i].OVS.MACTable = nil
			return &s.Nodes[i]
		}
	}
	panic("no node " + node)
}

// hopOf is w's first forward hop of kind, nil when it has none.
func hopOf(w *trace.Walk, kind trace.HopKind) *trace.Hop { return dirHop(w, kind, trace.Forward) }

// An idle pod is not a broken pod: with the MAC tables of both nodes empty the walk holds on its
// configuration (tags, trunk, CHILD port, routes), and the MAC-table hops say why they are empty.
func TestIdlePodWalksOnConfiguration(t *testing.T) {
	s := scenario.Published()
	idle(s, "172.15.0.3")
	idle(s, "172.15.0.4")
	for _, b := range s.Nodes[0].OVS.Bridges {
		if b.Name == "br-int" && b.AgingTime() != trace.DefaultMACAgingTime {
			t.Fatalf("aging time of a bridge without mac-aging-time: %d", b.AgingTime())
		}
	}
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictReachable {
		t.Fatalf("verdict %s (%s), want reachable:%s", w.Verdict, w.Reason, dump(w))
	}
	mh, up := hopOf(w, trace.HopMACTable), hopOf(w, trace.HopUplink)
	if mh == nil || mh.Status != trace.StatusOK || !strings.Contains(mh.Detail, "not in the MAC table of br-int VLAN 101") || !strings.Contains(mh.Detail, "300 s") {
		t.Errorf("mac-table hop: %+v", mh)
	}
	if up == nil || up.Status != trace.StatusOK || up.Name != "eth1" || !strings.Contains(up.Detail, "uplink eth1 carries VLAN 101") {
		t.Errorf("uplink hop: %+v", up)
	}
	// Pod to pod, both idle: the destination's MAC is flooded, so delivered.
	w = walk(t, s, kubeDNS, "pod/default/nginx-3")
	if w.Verdict != trace.VerdictReachable {
		t.Fatalf("pod to pod, idle: verdict %s (%s)%s", w.Verdict, w.Reason, dump(w))
	}
}

// The aging time the hop quotes is the bridge's own other_config:mac-aging-time.
func TestIdleHopQuotesTheBridgeAgingTime(t *testing.T) {
	s := scenario.Published()
	st := idle(s, "172.15.0.3")
	for i := range st.OVS.Bridges {
		st.OVS.Bridges[i].MACAgingTime = 45
	}
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	if mh := hopOf(w, trace.HopMACTable); mh == nil || !strings.Contains(mh.Detail, "45 s") {
		t.Errorf("mac-table hop %+v, want the bridge's 45 s aging time", mh)
	}
}

// With empty MAC tables a configuration fault is still found, at the hop it belongs to.
func TestIdleConfigurationFaults(t *testing.T) {
	t.Run("vlan mismatch from the tags alone", func(t *testing.T) {
		s := scenario.Published()
		scenario.Variants[0].Break(s) // vlan-mismatch
		idle(s, "172.15.0.3")
		w := walk(t, s, kubeDNS, "node/172.15.0.4")
		if w.Verdict != trace.VerdictBroken || w.Hops[w.BrokenAt-1].Kind != trace.HopFabricPort || w.Reason != scenario.Variants[0].Reason {
			t.Errorf("verdict %s at %d: %q%s", w.Verdict, w.BrokenAt, w.Reason, dump(w))
		}
	})
	t.Run("no trunk carries the VLAN", func(t *testing.T) {
		s := scenario.Published()
		st := idle(s, "172.15.0.3")
		for i := range st.OVS.Ports {
			if st.OVS.Ports[i].Name == "eth1" {
				st.OVS.Ports[i].Trunks = []int{102, 103}
			}
		}
		w := walk(t, s, kubeDNS, "node/172.15.0.4")
		if w.Verdict != trace.VerdictBroken || w.Hops[w.BrokenAt-1].Kind != trace.HopUplink || !strings.HasPrefix(w.Reason, "no uplink of br-int carries VLAN 101") {
			t.Errorf("verdict %s at %d: %q%s", w.Verdict, w.BrokenAt, w.Reason, dump(w))
		}
	})
	t.Run("a MAC on another VLAN is misdelivered", func(t *testing.T) {
		s := scenario.Published()
		for i := range s.Nodes[0].OVS.MACTable {
			if e := &s.Nodes[0].OVS.MACTable[i]; e.MAC == scenario.PodMAC("172.15.0.3", 101) {
				e.VLAN = 150
			}
		}
		w := walk(t, s, kubeDNS, "node/172.15.0.4")
		if w.Verdict != trace.VerdictBroken || w.Hops[w.BrokenAt-1].Kind != trace.HopMACTable || !strings.Contains(w.Reason, "not on VLAN 101") {
			t.Errorf("verdict %s at %d: %q%s", w.Verdict, w.BrokenAt, w.Reason, dump(w))
		}
	})
}

// After the pod sent a packet (--refresh, --probe) its entries must be there: the router MAC
// still missing is broken, unless a broken configuration after the uplink explains why no answer
// came back.
func TestRefreshedPodMissingRouterMAC(t *testing.T) {
	refreshed := func(s *trace.Snapshot) {
		st := idle(s, "172.15.0.3")
		st.OVS.MACTable = []trace.MACEntry{{Bridge: "br-int", Port: "3", VLAN: 101, MAC: scenario.PodMAC("172.15.0.3", 101), Age: 0}}
		st.Refreshed = []trace.PodRef{kubeDNS}
	}
	s := scenario.Published()
	refreshed(s)
	w := walk(t, s, kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictBroken || w.Hops[w.BrokenAt-1].Kind != trace.HopUplink || !strings.Contains(w.Reason, "although the pod sent a packet") {
		t.Errorf("verdict %s at %d: %q%s", w.Verdict, w.BrokenAt, w.Reason, dump(w))
	}
	if mh := hopOf(w, trace.HopMACTable); mh == nil || mh.Status != trace.StatusOK || !strings.Contains(mh.Detail, "learned on port 3") {
		t.Errorf("mac-table hop after the refresh: %+v", mh)
	}

	s = scenario.Published()
	scenario.Variants[0].Break(s) // vlan-mismatch: the fabric drops the packet, no answer comes back
	refreshed(s)
	w = walk(t, s, kubeDNS, "node/172.15.0.4")
	if w.Verdict != trace.VerdictBroken || w.Hops[w.BrokenAt-1].Kind != trace.HopFabricPort || w.Reason != scenario.Variants[0].Reason {
		t.Errorf("verdict %s at %d: %q%s", w.Verdict, w.BrokenAt, w.Reason, dump(w))
	}
	// The missing router MAC is the mismatch's consequence: broken, pointing at the cause.
	if up := hopOf(w, trace.HopUplink); up == nil || up.Status != trace.StatusBroken || up.ConsequenceOf != w.BrokenAt || !strings.HasPrefix(up.Detail, "consequence of hop 6: router MAC") {
		t.Errorf("uplink hop: %+v", up)
	}
}

// macs of an idle node: no rows, and every pod of the node listed as idle with where its entry
// would be (port, VLAN, fabric port), and the bridge's aging time.
func TestMACsListsIdlePods(t *testing.T) {
	s := scenario.Published()
	idle(s, "172.15.0.3")
	mt, err := trace.NewIndex(s).MACs("172.15.0.3")
	if err != nil {
		t.Fatal(err)
	}
	if len(mt.Rows) != 0 || mt.AgingTimes["br-int"] != trace.DefaultMACAgingTime {
		t.Fatalf("rows %d aging %v", len(mt.Rows), mt.AgingTimes)
	}
	var dns *trace.IdleMAC
	for i := range mt.Idle {
		if mt.Idle[i].Pod == "kube-system/kube-dns" {
			dns = &mt.Idle[i]
		}
	}
	if dns == nil || dns.MAC != scenario.PodMAC("172.15.0.3", 101) || dns.Port != "veth1a2b" || dns.VLAN == nil || *dns.VLAN != 101 || dns.FabricPort != "kube-system_kube-dns" {
		t.Errorf("kube-dns idle row %+v in %+v", dns, mt.Idle)
	}
	// A pod with an entry is not idle.
	mt, _ = trace.NewIndex(scenario.Published()).MACs("172.15.0.3")
	if len(mt.Idle) != 0 {
		t.Errorf("healthy node lists idle pods: %+v", mt.Idle)
	}
}
