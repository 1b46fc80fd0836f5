package scenario

import (
	"fmt"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// SyntheticOptions size a generated cluster with the published shape: one T1 per namespace, a T0,
// a T1 for the node subnet, CHILD ports under each node's VIF with one VLAN per pod.
type SyntheticOptions struct {
	Nodes       int
	PodsPerNode int
	Namespaces  int
	// NodeState says which nodes get node facts (netns, OVS, MAC table); nil means all.
	NodeState func(i int) bool
	// NoFabric leaves the fabric out (a provider serves it instead).
	NoFabric bool
	// Hosts is the number of hypervisors (0: none): node i runs on host i % Hosts, the hosts have a
	// full mesh of Geneve tunnels, up; and the firewall has the default allow-all rule and one
	// NetworkPolicy that isolates the first pod's ingress.
	Hosts int
}

// HostName is generated hypervisor h's transport node id.
func HostName(h int) string { return fmt.Sprintf("tn-host-%03d", h) }

// HostTEP is generated hypervisor h's TEP address.
func HostTEP(h int) string { return fmt.Sprintf("192.168.%d.%d", 128+h/250, h%250+1) }

// overlay adds the hosts and firewall of o.Hosts to f.
func (o SyntheticOptions) overlay(f *trace.Fabric) {
	for h := 0; h < o.Hosts; h++ {
		host := trace.Host{ID: HostName(h), Name: fmt.Sprintf("esx-%03d", h), HostSwitch: "nsxvswitch", HostSwitchMTU: HostSwitchMTU,
			TEPs: []trace.TEP{{IP: HostTEP(h), Encap: trace.EncapGeneve, Interface: "vmk10"}}}
		for r := 0; r < o.Hosts; r++ {
			if r != h {
				host.Tunnels = append(host.Tunnels, trace.Tunnel{Name: "geneve-" + HostTEP(r), Encap: trace.EncapGeneve, LocalIP: HostTEP(h), RemoteIP: HostTEP(r),
					RemoteHost: HostName(r), State: trace.TunnelUp, BFD: &trace.BFD{State: "up", RemoteState: "up", Diagnostic: "No Diagnostic", RemoteDiagnostic: "No Diagnostic"}})
			}
		}
		f.Hosts = append(f.Hosts, host)
	}
	first := ""
	for _, p := range f.SwitchPorts {
		if p.Type == trace.PortChild {
			first = p.ID
			break
		}
	}
	at := trace.FirewallScope{Ports: []string{first}}
	f.Firewall = &trace.Firewall{Kind: "nsx-mp", DefaultAction: trace.FirewallAllow, Complete: true, Rules: []trace.FirewallRule{
		{ID: "1001", Name: "isolate-first-pod", Section: "np-isolation", SectionName: "np-isolation", Priority: 1, Direction: trace.FirewallIngress,
			Action: trace.FirewallDrop, RawAction: "DROP", Stateful: true, AppliedTo: at, Sources: trace.FirewallPeer{Any: true},
			Destinations: trace.FirewallPeer{Ports: at.Ports}, Origin: &trace.RuleOrigin{Kind: trace.OriginNetworkPolicy, Namespace: NamespaceName(0), Name: "isolate-first-pod"}},
		defaultL3Rule(""),
	}}
}

// NodeName is the name of generated node i.
func NodeName(i int) string { return fmt.Sprintf("node-%04d", i) }

// NodeIP is the address of generated node i, in 172.20.0.0/16.
func NodeIP(i int) string { return fmt.Sprintf("172.20.%d.%d", (i+2)/256, (i+2)%256) }

// PodName is the name of pod j on node i.
func PodName(i, j int) string { return fmt.Sprintf("pod-%04d-%03d", i, j) }

// NamespaceName is generated namespace k.
func NamespaceName(k int) string { return fmt.Sprintf("ns-%03d", k) }

// nsSubnet is namespace k's /20: 10.{k/16}.{(k%16)*16}.0/20.
func nsBase(k int) (int, int) { return k / 16, (k % 16) * 16 }

// PodIP is the address of the n-th pod of namespace k.
func PodIP(k, n int) string {
	a, b := nsBase(k)
	n += 2
	return fmt.Sprintf("10.%d.%d.%d", a, b+n/256, n%256)
}

func nsGateway(k int) string {
	a, b := nsBase(k)
	return fmt.Sprintf("10.%d.%d.1", a, b)
}

func nsSubnet(k int) string {
	a, b := nsBase(k)
	return fmt.Sprintf("10.%d.%d.0/20", a, b)
}

// linkAddr returns the T1 side (odd) or T0 side (even) of link k's /31 in 100.64.0.0/10.
func linkAddr(k int, t1 bool) string {
	a := k*2 + 16
	if t1 {
		a++
	}
	return fmt.Sprintf("100.%d.%d.%d", 64+a>>16, (a>>8)&255, a&255)
}

func synthMAC(prefix byte, n int) string {
	return fmt.Sprintf("0a:%02x:%02x:%02x:%02x:%02x", prefix, (n>>24)&255, (n>>16)&255, (n>>8)&255, n&255)
}

// podAt places pod j of node i: namespace (i*P+j) % K, and its index n among that namespace's pods
// (pods are numbered in node order, so the g-th pod overall is the g/K-th of its namespace).
func (o SyntheticOptions) podAt(i, j int) (k, n int) {
	g := i*o.PodsPerNode + j
	return g % o.Namespaces, g / o.Namespaces
}

func (o SyntheticOptions) podMAC(i, j int) string { return synthMAC(0x58, i*o.PodsPerNode+j) }

// Synthetic builds a cluster of the given size. Pod j of node i lives in namespace (i*P+j) % K.
func Synthetic(o SyntheticOptions) *trace.Snapshot {
	if o.Namespaces < 1 {
		o.Namespaces = 1
	}
	s := &trace.Snapshot{APIVersion: trace.APIVersion}
	for i := 0; i < o.Nodes; i++ {
		s.Cluster.Nodes = append(s.Cluster.Nodes, trace.Node{Name: NodeName(i), Addresses: []trace.NodeAddress{{Type: "InternalIP", Address: NodeIP(i)}}})
		for j := 0; j < o.PodsPerNode; j++ {
			k, n := o.podAt(i, j)
			s.Cluster.Pods = append(s.Cluster.Pods, trace.Pod{Namespace: NamespaceName(k), Name: PodName(i, j), Node: NodeName(i),
				IPs: []string{PodIP(k, n)}, Phase: "Running", Labels: map[string]string{"app": fmt.Sprintf("app-%d", j%10)}})
		}
	}
	for i := 0; i < o.Nodes; i++ {
		if o.NodeState == nil || o.NodeState(i) {
			s.Nodes = append(s.Nodes, SyntheticNode(o, i))
		}
	}
	if o.NoFabric {
		return s
	}
	f := &trace.Fabric{Provider: "nsx"}
	f.Switches = append(f.Switches, trace.Switch{ID: "ls-nodes", Name: "ls-nodes", Subnets: []string{"172.20.0.0/16"}})
	f.Routers = append(f.Routers, trace.Router{ID: "t0", Name: "t0", Tier: trace.Tier0}, trace.Router{ID: "t1-nodes", Name: "t1-nodes", Tier: trace.Tier1})
	f.RouterPorts = append(f.RouterPorts,
		trace.RouterPort{ID: "t1-nodes-dl", Router: "t1-nodes", Kind: trace.RouterPortDownlink, Networks: []string{"172.20.0.1/16"}, MAC: RouterMAC, LinkedSwitchPort: "ls-nodes-r"},
		trace.RouterPort{ID: "t1-nodes-link", Router: "t1-nodes", Kind: trace.RouterPortLink, Networks: []string{"100.64.0.1/31"}, PeerRouterPort: "t0-nodes"},
		trace.RouterPort{ID: "t0-nodes", Router: "t0", Kind: trace.RouterPortLink, Networks: []string{"100.64.0.0/31"}, PeerRouterPort: "t1-nodes-link"})
	f.SwitchPorts = append(f.SwitchPorts, trace.SwitchPort{ID: "ls-nodes-r", Switch: "ls-nodes", Type: trace.PortRouter, RouterPort: "t1-nodes-dl"})
	f.Routes = append(f.Routes,
		trace.FabricRoute{Router: "t1-nodes", Prefix: "0.0.0.0/0", NextHop: "100.64.0.0", Origin: trace.OriginDefault},
		trace.FabricRoute{Router: "t0", Prefix: "172.20.0.0/16", NextHop: "100.64.0.1", Origin: trace.OriginAdvertised})
	for k := 0; k < o.Namespaces; k++ {
		ns := NamespaceName(k)
		f.Switches = append(f.Switches, trace.Switch{ID: "ls-" + ns, Name: "ls-" + ns, Subnets: []string{nsSubnet(k)}})
		f.Routers = append(f.Routers, trace.Router{ID: "t1-" + ns, Name: "t1-" + ns, Tier: trace.Tier1})
		f.RouterPorts = append(f.RouterPorts,
			trace.RouterPort{ID: "t1-" + ns + "-dl", Router: "t1-" + ns, Kind: trace.RouterPortDownlink, Networks: []string{nsGateway(k) + "/20"}, MAC: RouterMAC, LinkedSwitchPort: "ls-" + ns + "-r"},
			trace.RouterPort{ID: "t1-" + ns + "-link", Router: "t1-" + ns, Kind: trace.RouterPortLink, Networks: []string{linkAddr(k, true) + "/31"}, PeerRouterPort: "t0-" + ns},
			trace.RouterPort{ID: "t0-" + ns, Router: "t0", Kind: trace.RouterPortLink, Networks: []string{linkAddr(k, false) + "/31"}, PeerRouterPort: "t1-" + ns + "-link"})
		f.SwitchPorts = append(f.SwitchPorts, trace.SwitchPort{ID: "ls-" + ns + "-r", Switch: "ls-" + ns, Type: trace.PortRouter, RouterPort: "t1-" + ns + "-dl"})
		f.Routes = append(f.Routes,
			trace.FabricRoute{Router: "t1-" + ns, Prefix: "0.0.0.0/0", NextHop: linkAddr(k, false), Origin: trace.OriginDefault},
			trace.FabricRoute{Router: "t0", Prefix: nsSubnet(k), NextHop: linkAddr(k, true), Origin: trace.OriginAdvertised})
	}
	for i := 0; i < o.Nodes; i++ {
		f.SwitchPorts = append(f.SwitchPorts,
			trace.SwitchPort{ID: "vif-" + NodeName(i), Name: NodeName(i) + "-eth0", Switch: "ls-nodes", Type: trace.PortVIF, IPs: []string{NodeIP(i)}, MACs: []string{synthMAC(0x01, i)}, NodeName: NodeName(i)},
			trace.SwitchPort{ID: "trunk-" + NodeName(i), Name: NodeName(i) + "-eth1", Switch: "ls-nodes", Type: trace.PortVIF, AttachmentID: "trunk-" + NodeName(i), MACs: []string{synthMAC(0x02, i)}, NodeName: NodeName(i)})
		for j := 0; j < o.PodsPerNode; j++ {
			k, n := o.podAt(i, j)
			ns := NamespaceName(k)
			f.SwitchPorts = append(f.SwitchPorts, trace.SwitchPort{ID: ns + "_" + PodName(i, j), Switch: "ls-" + ns, Type: trace.PortChild,
				ParentVIF: "trunk-" + NodeName(i), TrafficTag: ptr(j + 1), MACs: []string{o.podMAC(i, j)}, IPs: []string{PodIP(k, n)},
				Pod: &trace.PodRef{Namespace: ns, Name: PodName(i, j)}})
		}
	}
	if o.Hosts > 0 {
		for i := range f.SwitchPorts {
			p := &f.SwitchPorts[i]
			node := p.NodeName
			if p.ParentVIF != "" {
				node = strings.TrimPrefix(p.ParentVIF, "trunk-")
			}
			var n int
			if _, err := fmt.Sscanf(node, "node-%d", &n); err == nil {
				p.Host = HostName(n % o.Hosts)
			}
		}
		o.overlay(f)
	}
	s.Fabric = f
	return s
}

// SyntheticNodeSnapshot is what `kubectl-packetwalk collect node` prints on generated node i:
// SyntheticNode with the node's netlink, OVSDB and MAC-table sources.
func SyntheticNodeSnapshot(o SyntheticOptions, i int) *trace.Snapshot {
	name := NodeName(i)
	return &trace.Snapshot{APIVersion: trace.APIVersion,
		Sources: []trace.SourceInfo{{Name: trace.SourceNetlink + "@" + name}, {Name: trace.SourceOVSDB + "@" + name}, {Name: trace.SourceFDB + "@" + name}},
		Nodes:   []trace.NodeState{SyntheticNode(o, i)}}
}

// SyntheticNode is generated node i's state (netns, OVS, MAC table) as Synthetic gives it, built
// without the rest of the cluster: an emulated node of the scale harness prints it in milliseconds.
func SyntheticNode(o SyntheticOptions, i int) trace.NodeState {
	if o.Namespaces < 1 {
		o.Namespaces = 1
	}
	name := NodeName(i)
	st := trace.NodeState{Name: name}
	root := trace.Netns{Name: "root", Root: true, Links: []trace.Link{
		{Index: 1, Name: "lo", Kind: trace.KindLoopback, OperState: "unknown", AdminUp: true},
		{Index: 2, Name: "eth0", Kind: trace.KindDevice, MAC: synthMAC(0x01, i), OperState: "up", AdminUp: true},
		{Index: 3, Name: "eth1", Kind: trace.KindDevice, MAC: synthMAC(0x02, i), OperState: "up", AdminUp: true},
	}, Addresses: []trace.Address{{Link: "eth0", CIDR: NodeIP(i) + "/16"}},
		Routes: []trace.Route{{Dst: "default", Gateway: "172.20.0.1", Dev: "eth0"}, {Dst: "172.20.0.0/16", Dev: "eth0", Scope: "link"}}}
	ovs := &trace.OVS{FDBSource: "fdb@" + name, Bridges: []trace.Bridge{{Name: "br-int"}},
		Ports:      []trace.Port{{Name: "eth1", Bridge: "br-int", Interfaces: []string{"eth1"}}},
		Interfaces: []trace.Interface{{Name: "eth1", OFPort: 1}}}
	for j := 0; j < o.PodsPerNode; j++ {
		k, n := o.podAt(i, j)
		veth := fmt.Sprintf("veth%05x", i*o.PodsPerNode+j)
		idx := 10 + j
		vlan := j + 1
		nsName := "cni-" + PodName(i, j)
		root.Links = append(root.Links, trace.Link{Index: idx, Name: veth, Kind: trace.KindVeth, OperState: "up", AdminUp: true, PeerIndex: 2, PeerNetns: nsName})
		st.Netns = append(st.Netns, trace.Netns{Name: nsName, Pod: &trace.PodRef{Namespace: NamespaceName(k), Name: PodName(i, j)},
			Links:     []trace.Link{{Index: 2, Name: "eth0", Kind: trace.KindVeth, MAC: o.podMAC(i, j), OperState: "up", AdminUp: true, PeerIndex: idx, PeerNetns: "root"}},
			Addresses: []trace.Address{{Link: "eth0", CIDR: PodIP(k, n) + "/20"}},
			Routes:    []trace.Route{{Dst: "default", Gateway: nsGateway(k), Dev: "eth0"}, {Dst: nsSubnet(k), Dev: "eth0", Scope: "link"}},
			Neighbors: []trace.Neighbor{{IP: nsGateway(k), MAC: RouterMAC, Dev: "eth0", State: "REACHABLE"}}})
		ovs.Ports = append(ovs.Ports, trace.Port{Name: veth, Bridge: "br-int", Tag: ptr(vlan), Interfaces: []string{veth}})
		ovs.Interfaces = append(ovs.Interfaces, trace.Interface{Name: veth, OFPort: j + 2})
		ovs.MACTable = append(ovs.MACTable,
			trace.MACEntry{Bridge: "br-int", Port: fmt.Sprint(j + 2), VLAN: vlan, MAC: o.podMAC(i, j)},
			trace.MACEntry{Bridge: "br-int", Port: "1", VLAN: vlan, MAC: RouterMAC})
	}
	st.Netns = append([]trace.Netns{root}, st.Netns...)
	st.OVS = ovs
	return st
}
