package scale

import (
	"fmt"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// Size is a generated cluster's size (scenario.Synthetic's shape: pod j of node i lives in
// namespace (i*PodsPerNode+j) % Namespaces, one T1 per namespace, a CHILD port per pod).
type Size struct {
	Name        string
	Nodes       int
	PodsPerNode int
	Namespaces  int
}

// Pods is the number of pods (and of CHILD ports).
func (z Size) Pods() int { return z.Nodes * z.PodsPerNode }

func (z Size) options() scenario.SyntheticOptions {
	return scenario.SyntheticOptions{Nodes: z.Nodes, PodsPerNode: z.PodsPerNode, Namespaces: z.Namespaces}
}

// Sizes the harness runs by default: the large cluster and a small one of the same shape.
var (
	Small = Size{Name: "small", Nodes: 50, PodsPerNode: 30, Namespaces: 500}
	Large = Size{Name: "large", Nodes: 5000, PodsPerNode: 30, Namespaces: 500}
)

// PodOf is pod j of node i: its namespace, name and IP, as scenario.Synthetic places it.
func (z Size) PodOf(i, j int) (ns, name, ip string) {
	g := i*z.PodsPerNode + j
	k := g % z.Namespaces
	return scenario.NamespaceName(k), scenario.PodName(i, j), scenario.PodIP(k, g/z.Namespaces)
}

func synthMAC(prefix byte, n int) string {
	return fmt.Sprintf("0a:%02x:%02x:%02x:%02x:%02x", prefix, (n>>24)&255, (n>>16)&255, (n>>8)&255, n&255)
}

// NodeState is generated node i's state, the same as scenario.Synthetic gives it, computed
// without generating the rest of the cluster (an emulated node prints it in milliseconds).
func (z Size) NodeState(i int) trace.NodeState {
	k0 := z.Namespaces
	name := scenario.NodeName(i)
	st := trace.NodeState{Name: name}
	root := trace.Netns{Name: "root", Root: true, Links: []trace.Link{
		{Index: 1, Name: "lo", Kind: trace.KindLoopback, OperState: "unknown", AdminUp: true},
		{Index: 2, Name: "eth0", Kind: trace.KindDevice, MAC: synthMAC(0x01, i), OperState: "up", AdminUp: true},
		{Index: 3, Name: "eth1", Kind: trace.KindDevice, MAC: synthMAC(0x02, i), OperState: "up", AdminUp: true},
	}, Addresses: []trace.Address{{Link: "eth0", CIDR: scenario.NodeIP(i) + "/16"}},
		Routes: []trace.Route{{Dst: "default", Gateway: "172.20.0.1", Dev: "eth0"}, {Dst: "172.20.0.0/16", Dev: "eth0", Scope: "link"}}}
	ovs := &trace.OVS{FDBSource: "fdb@" + name, Bridges: []trace.Bridge{{Name: "br-int"}},
		Ports:      []trace.Port{{Name: "eth1", Bridge: "br-int", Interfaces: []string{"eth1"}}},
		Interfaces: []trace.Interface{{Name: "eth1", OFPort: 1}}}
	var pods []trace.Netns
	for j := 0; j < z.PodsPerNode; j++ {
		g := i*z.PodsPerNode + j
		k := g % k0
		a, b := k/16, (k%16)*16
		gw, subnet := fmt.Sprintf("10.%d.%d.1", a, b), fmt.Sprintf("10.%d.%d.0/20", a, b)
		veth := fmt.Sprintf("veth%05x", g)
		idx, vlan := 10+j, j+1
		nsName := "cni-" + scenario.PodName(i, j)
		mac := synthMAC(0x58, g)
		root.Links = append(root.Links, trace.Link{Index: idx, Name: veth, Kind: trace.KindVeth, OperState: "up", AdminUp: true, PeerIndex: 2, PeerNetns: nsName})
		pods = append(pods, trace.Netns{Name: nsName, Pod: &trace.PodRef{Namespace: scenario.NamespaceName(k), Name: scenario.PodName(i, j)},
			Links:     []trace.Link{{Index: 2, Name: "eth0", Kind: trace.KindVeth, MAC: mac, OperState: "up", AdminUp: true, PeerIndex: idx, PeerNetns: "root"}},
			Addresses: []trace.Address{{Link: "eth0", CIDR: scenario.PodIP(k, g/k0) + "/20"}},
			Routes:    []trace.Route{{Dst: "default", Gateway: gw, Dev: "eth0"}, {Dst: subnet, Dev: "eth0", Scope: "link"}},
			Neighbors: []trace.Neighbor{{IP: gw, MAC: scenario.RouterMAC, Dev: "eth0", State: "REACHABLE"}}})
		tag := vlan
		ovs.Ports = append(ovs.Ports, trace.Port{Name: veth, Bridge: "br-int", Tag: &tag, Interfaces: []string{veth}})
		ovs.Interfaces = append(ovs.Interfaces, trace.Interface{Name: veth, OFPort: j + 2})
		ovs.MACTable = append(ovs.MACTable,
			trace.MACEntry{Bridge: "br-int", Port: fmt.Sprint(j + 2), VLAN: vlan, MAC: mac},
			trace.MACEntry{Bridge: "br-int", Port: "1", VLAN: vlan, MAC: scenario.RouterMAC})
	}
	st.Netns = append([]trace.Netns{root}, pods...)
	st.OVS = ovs
	return st
}

// NodeSnapshot is what `kubectl-packetwalk collect node` prints on generated node i.
func (z Size) NodeSnapshot(i int) *trace.Snapshot {
	name := scenario.NodeName(i)
	return &trace.Snapshot{APIVersion: trace.APIVersion,
		Sources: []trace.SourceInfo{{Name: trace.SourceNetlink + "@" + name}, {Name: trace.SourceOVSDB + "@" + name}, {Name: trace.SourceFDB + "@" + name}},
		Nodes:   []trace.NodeState{z.NodeState(i)}}
}
