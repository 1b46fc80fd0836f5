package scenario

import (
	"sort"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Variant is a broken version of the published scenario and what the walk must say about it.
type Variant struct {
	Name string
	// Break changes a fresh Published() snapshot.
	Break func(s *trace.Snapshot)
	// HopKind and Reason are what tracing kube-system/kube-dns to node 172.15.0.4 must report.
	HopKind   trace.HopKind
	Direction trace.Direction
	Reason    string
}

// Variants are the broken scenarios: each names the hop and the reason a walk must report.
var Variants = []Variant{
	{
		Name: "vlan-mismatch",
		Break: func(s *trace.Snapshot) {
			port(s, "lp-kube-system-kube-dns").TrafficTag = ptr(110)
			// As on a live node: the router's answers come tagged 110, so its MAC is never learned
			// on the pod's VLAN 101 (the uplink hop is a consequence of the mismatch).
			o := nodeOVS(s, "172.15.0.3")
			for i := range o.MACTable {
				if o.MACTable[i].MAC == RouterMAC && o.MACTable[i].VLAN == 101 {
					o.MACTable[i].VLAN = 110
				}
			}
		},
		HopKind: trace.HopFabricPort, Direction: trace.Forward,
		Reason: "VLAN mismatch: OVS port veth1a2b tag 101, fabric port kube-system_kube-dns traffic_tag 110",
	},
	{
		Name: "mac-not-learned",
		Break: func(s *trace.Snapshot) {
			o := nodeOVS(s, "172.15.0.3")
			mac := PodMAC("172.15.0.3", 101)
			keep := o.MACTable[:0]
			for _, e := range o.MACTable {
				if e.MAC != mac {
					keep = append(keep, e)
				}
			}
			o.MACTable = keep
			// An idle pod's MAC ages out: only one that sent a packet just before the read is missed.
			for i := range s.Nodes {
				if s.Nodes[i].Name == "172.15.0.3" {
					s.Nodes[i].Refreshed = []trace.PodRef{{Namespace: "kube-system", Name: "kube-dns"}}
				}
			}
		},
		HopKind: trace.HopMACTable, Direction: trace.Forward,
		Reason: "MAC 02:50:56:00:03:01 not learned on br-int VLAN 101 although the pod sent a packet just before the table was read",
	},
	{
		Name: "stale-mac",
		Break: func(s *trace.Snapshot) {
			o := nodeOVS(s, "172.15.0.3")
			mac := PodMAC("172.15.0.3", 101)
			for i := range o.MACTable {
				if o.MACTable[i].MAC == mac {
					o.MACTable[i].Port = "7"
				}
			}
		},
		HopKind: trace.HopMACTable, Direction: trace.Forward,
		Reason: "stale MAC: 02:50:56:00:03:01 learned on br-int port 7 (" + HostVeth("kube-system", "monitoring-influxdb") + ") VLAN 101, but the pod is on veth1a2b (ofport 3)",
	},
	{
		Name: "missing-route",
		Break: func(s *trace.Snapshot) {
			dropRoute(s, "lr-t0", "172.15.0.0/24")
		},
		HopKind: trace.HopRouter, Direction: trace.Forward,
		Reason: "no route to 172.15.0.0/24 on router t0: only 0.0.0.0/0 via 203.0.113.1, out uplink t0_uplink_1",
	},
	{
		Name: "return-route-missing",
		Break: func(s *trace.Snapshot) {
			dropRoute(s, "lr-t0", "172.16.1.0/24")
		},
		HopKind: trace.HopRouter, Direction: trace.Return,
		Reason: "no route to 172.16.1.0/24 on router t0: only 0.0.0.0/0 via 203.0.113.1, out uplink t0_uplink_1",
	},
	{
		Name: "veth-down",
		Break: func(s *trace.Snapshot) {
			for i := range s.Nodes {
				if s.Nodes[i].Name != "172.15.0.3" {
					continue
				}
				for j := range s.Nodes[i].Netns[0].Links {
					l := &s.Nodes[i].Netns[0].Links[j]
					if l.Name == "veth1a2b" {
						l.AdminUp, l.OperState = false, "down"
					}
				}
			}
		},
		HopKind: trace.HopVeth, Direction: trace.Forward,
		Reason: "veth1a2b is down",
	},
}

// VariantNames lists the variants in order.
func VariantNames() []string {
	var n []string
	for _, v := range Variants {
		n = append(n, v.Name)
	}
	sort.Strings(n)
	return n
}

func port(s *trace.Snapshot, id string) *trace.SwitchPort {
	for i := range s.Fabric.SwitchPorts {
		if s.Fabric.SwitchPorts[i].ID == id {
			return &s.Fabric.SwitchPorts[i]
		}
	}
	panic("scenario: no port " + id)
}

func nodeOVS(s *trace.Snapshot, node string) *trace.OVS {
	for i := range s.Nodes {
		if s.Nodes[i].Name == node {
			return s.Nodes[i].OVS
		}
	}
	panic("scenario: no node " + node)
}

func dropRoute(s *trace.Snapshot, router, prefix string) {
	keep := s.Fabric.Routes[:0]
	for _, r := range s.Fabric.Routes {
		if r.Router != router || r.Prefix != prefix {
			keep = append(keep, r)
		}
	}
	s.Fabric.Routes = keep
}
