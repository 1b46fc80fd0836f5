package scenario

import "github.com/packetwalk/kubectl-packetwalk/trace"

// IPv6 is a small IPv6-only cluster with the published shape: kube-dns on node-a behind a T1, a
// T0 joined over /127 links, and node-b behind the node T1.
func IPv6() *trace.Snapshot {
	src := trace.SourceNSX
	mac := "02:50:56:00:0a:01"
	s := &trace.Snapshot{APIVersion: trace.APIVersion}
	s.Cluster.Nodes = []trace.Node{
		{Name: "node-a", Addresses: []trace.NodeAddress{{Type: "InternalIP", Address: "fd00:15::3"}}},
		{Name: "node-b", Addresses: []trace.NodeAddress{{Type: "InternalIP", Address: "fd00:15::4"}}},
	}
	s.Cluster.Pods = []trace.Pod{{Namespace: "kube-system", Name: "kube-dns", Node: "node-a", IPs: []string{"fd00:16:1::2"}}}
	root := trace.Netns{Name: "root", Root: true, Links: []trace.Link{
		{Index: 2, Name: "eth1", Kind: trace.KindDevice, MAC: "00:50:56:8a:01:0a", OperState: "up", AdminUp: true},
		{Index: 9, Name: "veth6a", Kind: trace.KindVeth, MAC: "fe:50:56:00:0a:01", OperState: "up", AdminUp: true, PeerIndex: 3, PeerNetns: "cni-dns"},
	}}
	pod := trace.Netns{Name: "cni-dns", Pod: &trace.PodRef{Namespace: "kube-system", Name: "kube-dns"},
		Links:     []trace.Link{{Index: 3, Name: "eth0", Kind: trace.KindVeth, MAC: mac, OperState: "up", AdminUp: true, PeerIndex: 9, PeerNetns: "root"}},
		Addresses: []trace.Address{{Link: "eth0", CIDR: "fd00:16:1::2/64"}},
		Routes:    []trace.Route{{Dst: "default", Gateway: "fd00:16:1::1", Dev: "eth0"}, {Dst: "fd00:16:1::/64", Dev: "eth0"}},
		Neighbors: []trace.Neighbor{{IP: "fd00:16:1::1", MAC: RouterMAC, Dev: "eth0", State: "REACHABLE"}},
	}
	ovs := &trace.OVS{FDBSource: "fdb@node-a",
		Bridges:    []trace.Bridge{{Name: "br-int"}},
		Ports:      []trace.Port{{Name: "eth1", Bridge: "br-int", Interfaces: []string{"eth1"}}, {Name: "veth6a", Bridge: "br-int", Tag: ptr(201), Interfaces: []string{"veth6a"}}},
		Interfaces: []trace.Interface{{Name: "eth1", OFPort: 1}, {Name: "veth6a", OFPort: 2}},
		MACTable: []trace.MACEntry{
			{Bridge: "br-int", Port: "2", VLAN: 201, MAC: mac},
			{Bridge: "br-int", Port: "1", VLAN: 201, MAC: RouterMAC},
		}}
	s.Nodes = []trace.NodeState{{Name: "node-a", Netns: []trace.Netns{root, pod}, OVS: ovs}}
	s.Fabric = &trace.Fabric{Provider: "nsx",
		Switches: []trace.Switch{{ID: "ls-ks", Name: "ls-kube-system", Subnets: []string{"fd00:16:1::/64"}}, {ID: "ls-nodes", Name: "ls-nodes", Subnets: []string{"fd00:15::/64"}}},
		SwitchPorts: []trace.SwitchPort{
			{ID: "lp-node-a", Name: "node-a-eth1", Switch: "ls-nodes", Type: trace.PortVIF, AttachmentID: "vif-a", NodeName: "node-a"},
			{ID: "lp-node-b", Name: "node-b-eth0", Switch: "ls-nodes", Type: trace.PortVIF, IPs: []string{"fd00:15::4"}, NodeName: "node-b"},
			{ID: "lp-dns", Name: "kube-system_kube-dns", Switch: "ls-ks", Type: trace.PortChild, ParentVIF: "vif-a", TrafficTag: ptr(201), MACs: []string{mac}, IPs: []string{"fd00:16:1::2"}},
			{ID: "lp-ks-r", Switch: "ls-ks", Type: trace.PortRouter, RouterPort: "ks-dl"},
			{ID: "lp-nodes-r", Switch: "ls-nodes", Type: trace.PortRouter, RouterPort: "nodes-dl"},
		},
		Routers: []trace.Router{{ID: "t0", Name: "t0", Tier: trace.Tier0}, {ID: "t1-ks", Name: "t1-kube-system", Tier: trace.Tier1}, {ID: "t1-nodes", Name: "t1-nodes", Tier: trace.Tier1}},
		RouterPorts: []trace.RouterPort{
			{ID: "ks-dl", Router: "t1-ks", Kind: trace.RouterPortDownlink, Networks: []string{"fd00:16:1::1/64"}, MAC: RouterMAC, LinkedSwitchPort: "lp-ks-r"},
			{ID: "ks-link", Router: "t1-ks", Kind: trace.RouterPortLink, Networks: []string{"fd00:64::b/127"}, PeerRouterPort: "t0-ks"},
			{ID: "t0-ks", Router: "t0", Kind: trace.RouterPortLink, Networks: []string{"fd00:64::a/127"}, PeerRouterPort: "ks-link"},
			{ID: "t0-nodes", Router: "t0", Kind: trace.RouterPortLink, Networks: []string{"fd00:64::4/127"}, PeerRouterPort: "nodes-link"},
			{ID: "nodes-link", Router: "t1-nodes", Kind: trace.RouterPortLink, Networks: []string{"fd00:64::5/127"}, PeerRouterPort: "t0-nodes"},
			{ID: "nodes-dl", Router: "t1-nodes", Kind: trace.RouterPortDownlink, Networks: []string{"fd00:15::1/64"}, MAC: RouterMAC, LinkedSwitchPort: "lp-nodes-r"},
		},
		Routes: []trace.FabricRoute{
			{Router: "t1-ks", Prefix: "::/0", NextHop: "fd00:64::a", Origin: trace.OriginDefault, Source: src},
			{Router: "t0", Prefix: "fd00:15::/64", NextHop: "fd00:64::5", Origin: trace.OriginAdvertised, Source: src},
			{Router: "t0", Prefix: "fd00:16:1::/64", NextHop: "fd00:64::b", Origin: trace.OriginAdvertised, Source: src},
			{Router: "t1-nodes", Prefix: "::/0", NextHop: "fd00:64::4", Origin: trace.OriginDefault, Source: src},
		},
	}
	return s
}
