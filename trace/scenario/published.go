// Package scenario builds snapshots for tests, the demo and benchmarks: the published NSX-T packet
// walk ("Kubernetes Networking – Nodes and Pods – Sample Packet Walk"), its broken variants, and
// synthetic clusters of any size.
//
// Facts the article prints (IPs, the router MAC 02:50:56:56:44:52, VLAN 4094 hyperbus, interface
// names, the T1/T0 link 100.64.96.11/31 - 100.64.96.10, the hop 100.64.96.5, the traceroute) are
// used as printed; facts it only shows in pictures (pod MACs, VLAN numbers, veth names, object ids)
// are filled in plausibly and consistently.
package scenario

import (
	"fmt"
	"strings"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// CollectedAt is the fixed collection time of generated snapshots, so goldens never depend on time.
var CollectedAt = time.Date(2018, 4, 2, 10, 0, 0, 0, time.UTC)

// RouterMAC is the NSX distributed router's MAC, shared by every downlink.
const RouterMAC = "02:50:56:56:44:52"

// HyperbusVLAN is the VLAN of the hyperbus / node agent link.
const HyperbusVLAN = 4094

type podSpec struct {
	ns, name, ip string
	node         string
	vlan         int
}

// The nine pods on worker 172.15.0.3 and a few on the other workers.
var publishedPods = []podSpec{
	{"kube-system", "kube-dns", "172.16.1.2", "172.15.0.3", 101},
	{"kube-system", "heapster", "172.16.1.3", "172.15.0.3", 102},
	{"kube-system", "kubernetes-dashboard", "172.16.1.4", "172.15.0.3", 103},
	{"kube-system", "monitoring-grafana", "172.16.1.5", "172.15.0.3", 104},
	{"kube-system", "monitoring-influxdb", "172.16.1.6", "172.15.0.3", 105},
	{"default", "nginx-1", "172.16.0.2", "172.15.0.3", 106},
	{"default", "nginx-2", "172.16.0.3", "172.15.0.3", 107},
	{"default", "redis-master", "172.16.0.4", "172.15.0.3", 108},
	{"default", "frontend", "172.16.0.5", "172.15.0.3", 109},
	{"default", "nginx-3", "172.16.0.6", "172.15.0.4", 101},
	{"kube-system", "kube-proxy-check", "172.16.1.7", "172.15.0.4", 102},
	{"default", "redis-slave", "172.16.0.7", "172.15.0.5", 101},
}

// namespace subnets: one T1 per namespace, linked to the T0 over a /31.
var publishedNamespaces = []struct {
	ns, subnet, gw, t1Link, t0Link string
}{
	{"kube-system", "172.16.1.0/24", "172.16.1.1/24", "100.64.96.11/31", "100.64.96.10/31"},
	{"default", "172.16.0.0/24", "172.16.0.1/24", "100.64.96.13/31", "100.64.96.12/31"},
}

var publishedNodes = []string{"172.15.0.3", "172.15.0.4", "172.15.0.5"}

func ptr[T any](v T) *T { return &v }

// PodMAC is the MAC of a pod's eth0 in the published scenario.
func PodMAC(node string, vlan int) string {
	return fmt.Sprintf("02:50:56:00:%02x:%02x", nodeOctet(node), vlan-100)
}

// HostVeth is the host-side veth name of a pod; kube-dns's is veth1a2b.
func HostVeth(ns, name string) string {
	if ns == "kube-system" && name == "kube-dns" {
		return "veth1a2b"
	}
	h := uint32(2166136261)
	for _, c := range ns + "/" + name {
		h = (h ^ uint32(c)) * 16777619
	}
	return fmt.Sprintf("veth%04x", h&0xffff)
}

func nodeOctet(node string) int {
	var a, b, c, d int
	fmt.Sscanf(node, "%d.%d.%d.%d", &a, &b, &c, &d)
	return d
}

func nodeMAC(node string, nic int) string {
	return fmt.Sprintf("00:50:56:8a:%02x:%02x", nic, nodeOctet(node))
}

// Published returns the published cluster: three workers on 172.15.0.0/24, pods on per-namespace
// subnets behind T1 routers, a T0, and a T1 for the node subnet; node state for 172.15.0.3 (the
// node the article inspects) and, built the same way, the other workers.
func Published() *trace.Snapshot {
	s := &trace.Snapshot{APIVersion: trace.APIVersion}
	s.Sources = append(s.Sources, trace.SourceInfo{Name: trace.SourceKube, CollectedAt: CollectedAt}, trace.SourceInfo{Name: trace.SourceNSX, CollectedAt: CollectedAt})
	for _, n := range publishedNodes {
		s.Cluster.Nodes = append(s.Cluster.Nodes, trace.Node{Name: n, Ready: ptr(true), Source: trace.SourceKube,
			Addresses: []trace.NodeAddress{{Type: "InternalIP", Address: n}, {Type: "Hostname", Address: n}}})
	}
	for _, p := range publishedPods {
		s.Cluster.Pods = append(s.Cluster.Pods, trace.Pod{Namespace: p.ns, Name: p.name, Node: p.node, IPs: []string{p.ip}, Phase: "Running", Source: trace.SourceKube,
			Labels: publishedLabels(p.ns, p.name)})
	}
	for _, n := range publishedNodes {
		s.Nodes = append(s.Nodes, nodeState(n))
		s.Sources = append(s.Sources,
			trace.SourceInfo{Name: trace.SourceNetlink + "@" + n, CollectedAt: CollectedAt},
			trace.SourceInfo{Name: trace.SourceOVSDB + "@" + n, CollectedAt: CollectedAt},
			trace.SourceInfo{Name: trace.SourceFDB + "@" + n, CollectedAt: CollectedAt})
	}
	s.Fabric = publishedFabric()
	return s
}

// publishedLabels are the labels a pod of the published cluster carries: k8s-app in kube-system,
// app (the name without its number) and tier elsewhere, as the upstream manifests label them.
func publishedLabels(ns, name string) map[string]string {
	if ns == "kube-system" {
		return map[string]string{"k8s-app": name}
	}
	app := strings.TrimRight(strings.TrimRight(name, "0123456789"), "-")
	tier := "backend"
	if app == "nginx" || app == "frontend" {
		tier = "frontend"
	}
	return map[string]string{"app": app, "tier": tier}
}

func nodeState(node string) trace.NodeState {
	nl := trace.SourceNetlink + "@" + node
	st := trace.NodeState{Name: node}
	root := trace.Netns{Name: "root", Root: true, Source: nl}
	root.Links = []trace.Link{
		{Index: 1, Name: "lo", Kind: trace.KindLoopback, MTU: 65536, OperState: "unknown", AdminUp: true},
		{Index: 2, Name: "eth0", Kind: trace.KindDevice, MAC: nodeMAC(node, 0), MTU: 1500, OperState: "up", AdminUp: true},
		{Index: 3, Name: "eth1", Kind: trace.KindDevice, MAC: nodeMAC(node, 1), MTU: 1500, OperState: "up", AdminUp: true, Master: "ovs-system"},
		{Index: 4, Name: "ovs-system", Kind: trace.KindInternal, MAC: "6e:1c:2a:00:00:" + fmt.Sprintf("%02x", nodeOctet(node)), MTU: 1500, OperState: "down", AdminUp: false},
		{Index: 5, Name: "br-int", Kind: trace.KindInternal, MAC: "7a:3d:10:00:00:" + fmt.Sprintf("%02x", nodeOctet(node)), MTU: 1500, OperState: "down", AdminUp: false},
		// nsx-container carries the node's own IP and MAC, as the article shows.
		{Index: 6, Name: "nsx-container", Kind: trace.KindVeth, MAC: nodeMAC(node, 0), MTU: 1500, OperState: "up", AdminUp: true, PeerIndex: 7},
		{Index: 7, Name: "nsx-agent-outer", Kind: trace.KindVeth, MAC: "8e:2f:00:00:94:" + fmt.Sprintf("%02x", nodeOctet(node)), MTU: 1500, OperState: "up", AdminUp: true, PeerIndex: 6, Master: "ovs-system"},
		// The hyperbus link: VLAN 4094 on the node agent's side.
		{Index: 8, Name: "nsx-container.4094", Kind: trace.KindVLAN, MAC: nodeMAC(node, 0), MTU: 1500, OperState: "up", AdminUp: true, VLANID: HyperbusVLAN, Parent: "nsx-container"},
	}
	root.Addresses = []trace.Address{
		{Link: "lo", CIDR: "127.0.0.1/8"},
		{Link: "eth0", CIDR: node + "/24"},
		{Link: "nsx-container", CIDR: node + "/24"},
		{Link: "nsx-container.4094", CIDR: "169.254.1.2/24"},
	}
	root.Routes = []trace.Route{
		{Dst: "default", Gateway: "172.15.0.1", Dev: "eth0"},
		{Dst: "172.15.0.0/24", Dev: "eth0", Scope: "link", Src: node},
		{Dst: "169.254.1.0/24", Dev: "nsx-container.4094", Scope: "link"},
	}
	root.Neighbors = []trace.Neighbor{{IP: "172.15.0.1", MAC: RouterMAC, Dev: "eth0", State: "REACHABLE"}}
	ovs := &trace.OVS{Source: trace.SourceOVSDB + "@" + node, FDBSource: trace.SourceFDB + "@" + node}
	ovs.Bridges = []trace.Bridge{{Name: "br-int", DatapathType: "system", Ports: []string{"br-int", "eth1", "nsx-agent-outer"}}}
	ovs.Ports = []trace.Port{
		{Name: "br-int", Bridge: "br-int", Interfaces: []string{"br-int"}},
		{Name: "eth1", Bridge: "br-int", Interfaces: []string{"eth1"}},
		{Name: "nsx-agent-outer", Bridge: "br-int", Tag: ptr(HyperbusVLAN), Interfaces: []string{"nsx-agent-outer"}},
	}
	ovs.Interfaces = []trace.Interface{
		{Name: "br-int", OFPort: 65534, Type: "internal", MACInUse: "7a:3d:10:00:00:" + fmt.Sprintf("%02x", nodeOctet(node)), AdminState: "down", LinkState: "down"},
		{Name: "eth1", OFPort: 1, MACInUse: nodeMAC(node, 1), AdminState: "up", LinkState: "up"},
		{Name: "nsx-agent-outer", OFPort: 2, MACInUse: "8e:2f:00:00:94:" + fmt.Sprintf("%02x", nodeOctet(node)), AdminState: "up", LinkState: "up"},
	}
	// Hyperbus: the ESXi VMK learned on the uplink, the node agent on its own port, both VLAN 4094.
	ovs.MACTable = []trace.MACEntry{
		{Bridge: "br-int", Port: "1", VLAN: HyperbusVLAN, MAC: "02:50:56:56:44:53", Age: 3},
		{Bridge: "br-int", Port: "2", VLAN: HyperbusVLAN, MAC: nodeMAC(node, 0), Age: 3},
	}
	idx := 9
	for _, p := range publishedPods {
		if p.node != node {
			continue
		}
		st.Netns = append(st.Netns, addPod(&root, ovs, p, idx, nl))
		idx++
	}
	st.Netns = append([]trace.Netns{root}, st.Netns...)
	st.OVS = ovs
	return st
}

// addPod wires pod p into the node: its host veth (link index idx) in root, its own netns, and its
// OVS port, interface and learned MACs; it returns the pod's netns.
func addPod(root *trace.Netns, ovs *trace.OVS, p podSpec, idx int, nl string) trace.Netns {
	ofport := len(ovs.Interfaces)
	mac := PodMAC(p.node, p.vlan)
	veth := HostVeth(p.ns, p.name)
	nsName := "cni-" + p.ns + "-" + p.name
	gw := gatewayOf(p.ns)
	root.Links = append(root.Links, trace.Link{Index: idx, Name: veth, Kind: trace.KindVeth, MAC: fmt.Sprintf("fe:%s", mac[3:]), MTU: 1500,
		OperState: "up", AdminUp: true, PeerIndex: 3, PeerNetnsID: ptr(idx - 9), PeerNetns: nsName, Master: "ovs-system"})
	pn := trace.Netns{Name: nsName, Source: nl, Pod: &trace.PodRef{Namespace: p.ns, Name: p.name}}
	pn.Links = []trace.Link{
		{Index: 1, Name: "lo", Kind: trace.KindLoopback, MTU: 65536, OperState: "unknown", AdminUp: true},
		{Index: 3, Name: "eth0", Kind: trace.KindVeth, MAC: mac, MTU: 1500, OperState: "up", AdminUp: true, PeerIndex: idx, PeerNetnsID: ptr(0), PeerNetns: "root"},
	}
	pn.Addresses = []trace.Address{{Link: "lo", CIDR: "127.0.0.1/8"}, {Link: "eth0", CIDR: p.ip + "/24"}}
	pn.Routes = []trace.Route{
		{Dst: "default", Gateway: gw, Dev: "eth0"},
		{Dst: subnetOf(p.ns), Dev: "eth0", Scope: "link", Src: p.ip},
	}
	pn.Neighbors = []trace.Neighbor{{IP: gw, MAC: RouterMAC, Dev: "eth0", State: "REACHABLE"}}
	ovs.Bridges[0].Ports = append(ovs.Bridges[0].Ports, veth)
	ovs.Ports = append(ovs.Ports, trace.Port{Name: veth, Bridge: "br-int", Tag: ptr(p.vlan), Interfaces: []string{veth}})
	ovs.Interfaces = append(ovs.Interfaces, trace.Interface{Name: veth, OFPort: ofport, MACInUse: fmt.Sprintf("fe:%s", mac[3:]), AdminState: "up", LinkState: "up",
		ExternalIDs: map[string]string{"attached-mac": mac, "iface-id": vifID(p.ns, p.name), "ip_address": p.ip + "/24"}})
	ovs.MACTable = append(ovs.MACTable,
		trace.MACEntry{Bridge: "br-int", Port: fmt.Sprint(ofport), VLAN: p.vlan, MAC: mac, Age: 1},
		trace.MACEntry{Bridge: "br-int", Port: "1", VLAN: p.vlan, MAC: RouterMAC, Age: 1})
	return pn
}

func gatewayOf(ns string) string {
	for _, n := range publishedNamespaces {
		if n.ns == ns {
			return n.gw[:len(n.gw)-3]
		}
	}
	return ""
}

func subnetOf(ns string) string {
	for _, n := range publishedNamespaces {
		if n.ns == ns {
			return n.subnet
		}
	}
	return ""
}

func vifID(ns, name string) string { return "vif-" + ns + "-" + name }

func publishedFabric() *trace.Fabric {
	f := &trace.Fabric{Provider: "nsx"}
	src := trace.SourceNSX
	f.Switches = append(f.Switches, trace.Switch{ID: "ls-nodes", Name: "ls-k8s-nodes", Subnets: []string{"172.15.0.0/24"}, Source: src})
	f.Routers = append(f.Routers,
		trace.Router{ID: "lr-t0", Name: "t0", Tier: trace.Tier0, Source: src},
		trace.Router{ID: "lr-t1-nodes", Name: "t1-k8s-nodes", Tier: trace.Tier1, Source: src})
	f.RouterPorts = append(f.RouterPorts,
		trace.RouterPort{ID: "lrp-t0-uplink-1", Name: "t0_uplink_1", Router: "lr-t0", Kind: trace.RouterPortUplink, Networks: []string{"203.0.113.2/24"}, MAC: "02:50:56:56:00:01", Source: src},
		trace.RouterPort{ID: "lrp-t0-to-nodes", Name: "t0-to-t1-k8s-nodes", Router: "lr-t0", Kind: trace.RouterPortLink, Networks: []string{"100.64.96.4/31"}, MAC: "02:50:56:56:00:04", PeerRouterPort: "lrp-t1-nodes-link", Source: src},
		trace.RouterPort{ID: "lrp-t1-nodes-link", Name: "t1-k8s-nodes-to-t0", Router: "lr-t1-nodes", Kind: trace.RouterPortLink, Networks: []string{"100.64.96.5/31"}, MAC: "02:50:56:56:00:05", PeerRouterPort: "lrp-t0-to-nodes", Source: src},
		trace.RouterPort{ID: "lrp-t1-nodes-dl", Name: "t1-k8s-nodes-downlink", Router: "lr-t1-nodes", Kind: trace.RouterPortDownlink, Networks: []string{"172.15.0.1/24"}, MAC: RouterMAC, LinkedSwitchPort: "lp-ls-nodes-router", Source: src},
	)
	f.SwitchPorts = append(f.SwitchPorts, trace.SwitchPort{ID: "lp-ls-nodes-router", Name: "ls-k8s-nodes-to-t1", Switch: "ls-nodes", Type: trace.PortRouter, RouterPort: "lrp-t1-nodes-dl", Source: src})
	f.Routes = append(f.Routes,
		trace.FabricRoute{Router: "lr-t0", Prefix: "0.0.0.0/0", NextHop: "203.0.113.1", Origin: trace.OriginStatic, Source: src},
		trace.FabricRoute{Router: "lr-t0", Prefix: "172.15.0.0/24", NextHop: "100.64.96.5", Origin: trace.OriginAdvertised, Source: src},
		trace.FabricRoute{Router: "lr-t1-nodes", Prefix: "0.0.0.0/0", NextHop: "100.64.96.4", Origin: trace.OriginDefault, Source: src},
	)
	for _, n := range publishedNodes {
		f.SwitchPorts = append(f.SwitchPorts,
			trace.SwitchPort{ID: "lp-node-" + n + "-mgmt", Name: "k8s-node-" + n + "-eth0", Switch: "ls-nodes", Type: trace.PortVIF, AttachmentID: "vif-node-" + n + "-eth0",
				MACs: []string{nodeMAC(n, 0)}, IPs: []string{n}, NodeName: n, Up: ptr(true), Source: src},
			trace.SwitchPort{ID: "lp-node-" + n + "-trunk", Name: "k8s-node-" + n + "-eth1", Switch: "ls-nodes", Type: trace.PortVIF, AttachmentID: "vif-node-" + n + "-eth1",
				MACs: []string{nodeMAC(n, 1)}, NodeName: n, Up: ptr(true), Source: src})
	}
	for _, ns := range publishedNamespaces {
		sw, t1 := "ls-"+ns.ns, "lr-t1-"+ns.ns
		f.Switches = append(f.Switches, trace.Switch{ID: sw, Name: "ls-" + ns.ns, Subnets: []string{ns.subnet}, Source: src})
		f.Routers = append(f.Routers, trace.Router{ID: t1, Name: "t1-" + ns.ns, Tier: trace.Tier1, Source: src})
		f.RouterPorts = append(f.RouterPorts,
			trace.RouterPort{ID: "lrp-" + ns.ns + "-dl", Name: "t1-" + ns.ns + "-downlink", Router: t1, Kind: trace.RouterPortDownlink, Networks: []string{ns.gw}, MAC: RouterMAC, LinkedSwitchPort: "lp-" + sw + "-router", Source: src},
			trace.RouterPort{ID: "lrp-" + ns.ns + "-link", Name: "t1-" + ns.ns + "-to-t0", Router: t1, Kind: trace.RouterPortLink, Networks: []string{ns.t1Link}, MAC: "02:50:56:56:01:" + ns.t1Link[10:12], PeerRouterPort: "lrp-t0-to-" + ns.ns, Source: src},
			trace.RouterPort{ID: "lrp-t0-to-" + ns.ns, Name: "t0-to-t1-" + ns.ns, Router: "lr-t0", Kind: trace.RouterPortLink, Networks: []string{ns.t0Link}, MAC: "02:50:56:56:00:" + ns.t0Link[10:12], PeerRouterPort: "lrp-" + ns.ns + "-link", Source: src},
		)
		f.SwitchPorts = append(f.SwitchPorts, trace.SwitchPort{ID: "lp-" + sw + "-router", Name: sw + "-to-t1", Switch: sw, Type: trace.PortRouter, RouterPort: "lrp-" + ns.ns + "-dl", Source: src})
		f.Routes = append(f.Routes,
			trace.FabricRoute{Router: t1, Prefix: "0.0.0.0/0", NextHop: ns.t0Link[:len(ns.t0Link)-3], Origin: trace.OriginDefault, Source: src},
			trace.FabricRoute{Router: "lr-t0", Prefix: ns.subnet, NextHop: ns.t1Link[:len(ns.t1Link)-3], Origin: trace.OriginAdvertised, Source: src})
	}
	for _, p := range publishedPods {
		f.SwitchPorts = append(f.SwitchPorts, trace.SwitchPort{
			ID: "lp-" + p.ns + "-" + p.name, Name: p.ns + "_" + p.name, Switch: "ls-" + p.ns, Type: trace.PortChild,
			AttachmentID: vifID(p.ns, p.name), ParentVIF: "vif-node-" + p.node + "-eth1", TrafficTag: ptr(p.vlan),
			MACs: []string{PodMAC(p.node, p.vlan)}, IPs: []string{p.ip}, Pod: &trace.PodRef{Namespace: p.ns, Name: p.name}, Up: ptr(true), Source: src})
	}
	publishedOverlay(f)
	return f
}

// HostOf is the placeholder ESXi transport node the published scenario runs node VM n on: the
// article says the nodes are VMs on ESXi hosts and that 172.15.0.4 runs on another host than
// 172.15.0.3, but names neither hosts nor TEPs.
func HostOf(node string) string { return fmt.Sprintf("tn-esx-%02d", nodeOctet(node)) }

// TEPOf is host h's placeholder TEP (vmk10) address.
func TEPOf(node string) string { return fmt.Sprintf("192.168.130.%d", 10+nodeOctet(node)) }

// HostSwitchMTU is the placeholder hosts' uplink profile MTU: NSX-T's default for overlay uplinks.
const HostSwitchMTU = 1600

// publishedOverlay adds what the article describes without printing it: one placeholder ESXi
// host per node VM (marked Placeholder) with one Geneve TEP and a full mesh of tunnels, BFD up;
// every node and pod port bound to its node's host; and a distributed firewall as NCP writes
// one NetworkPolicy (default/redis-master: only frontend may reach redis-master) above the
// default section's allow-all rule. The firewall is illustrative too: no rule decides the
// article's walks but the default.
func publishedOverlay(f *trace.Fabric) {
	src := trace.SourceNSX
	for _, n := range publishedNodes {
		h := trace.Host{ID: HostOf(n), Name: fmt.Sprintf("esx-%02d.placeholder", nodeOctet(n)), HostSwitch: "nsxvswitch", HostSwitchMTU: HostSwitchMTU,
			TEPs: []trace.TEP{{IP: TEPOf(n), Encap: trace.EncapGeneve, Interface: "vmk10", Source: src}}, Placeholder: true, Source: src}
		for _, m := range publishedNodes {
			if m == n {
				continue
			}
			h.Tunnels = append(h.Tunnels, trace.Tunnel{Name: "geneve-" + TEPOf(m), Encap: trace.EncapGeneve, LocalIP: TEPOf(n), RemoteIP: TEPOf(m), RemoteHost: HostOf(m),
				State: trace.TunnelUp, BFD: &trace.BFD{State: "up", RemoteState: "up", Diagnostic: "No Diagnostic", RemoteDiagnostic: "No Diagnostic", Forwarding: ptr(true)}, Source: src})
		}
		f.Hosts = append(f.Hosts, h)
	}
	for i, p := range f.SwitchPorts {
		switch {
		case p.NodeName != "":
			f.SwitchPorts[i].Host = HostOf(p.NodeName)
		case strings.HasPrefix(p.ParentVIF, "vif-node-"):
			f.SwitchPorts[i].Host = HostOf(strings.TrimSuffix(strings.TrimPrefix(p.ParentVIF, "vif-node-"), "-eth1"))
		}
	}
	redis, frontend := "lp-default-redis-master", "lp-default-frontend"
	np := &trace.RuleOrigin{Kind: trace.OriginNetworkPolicy, Namespace: "default", Name: "redis-master",
		Tags: map[string]string{"ncp/cluster": "k8s-cluster", "ncp/project": "default", "ncp/network_policy": "redis-master"}}
	at := trace.FirewallScope{Ports: []string{redis}, Groups: []string{"default-redis-master-pods"}}
	f.Firewall = &trace.Firewall{Kind: "nsx-mp", DefaultAction: trace.FirewallAllow, Complete: true, Source: src, Rules: []trace.FirewallRule{
		{ID: "1010", Name: "default-redis-master-ingress-allow", Section: "fws-default-redis-master-allow", SectionName: "default-redis-master-allow", Priority: 1,
			Direction: trace.FirewallIngress, Action: trace.FirewallAllow, RawAction: "ALLOW", Stateful: true, AppliedTo: at,
			Sources: trace.FirewallPeer{Ports: []string{frontend}, Groups: []string{"default-redis-master-from"}}, Destinations: trace.FirewallPeer{Ports: []string{redis}, Groups: []string{"default-redis-master-pods"}}, Origin: np, Source: src},
		{ID: "1011", Name: "default-redis-master-ingress-isolation", Section: "fws-default-redis-master-isolation", SectionName: "default-redis-master-isolation", Priority: 1,
			Direction: trace.FirewallIngress, Action: trace.FirewallDrop, RawAction: "DROP", Stateful: true, AppliedTo: at,
			Sources: trace.FirewallPeer{Any: true}, Destinations: trace.FirewallPeer{Ports: []string{redis}, Groups: []string{"default-redis-master-pods"}}, Origin: np, Source: src},
		defaultL3Rule(src),
	}}
}

// defaultL3Rule is the NSX default section's allow-all rule, as src reads it.
func defaultL3Rule(src string) trace.FirewallRule {
	return trace.FirewallRule{ID: "2", Name: "Default Layer3 Rule", Section: "default-l3-section", SectionName: "Default Layer3 Section", Priority: 1, Direction: trace.FirewallBoth,
		Action: trace.FirewallAllow, RawAction: "ALLOW", Stateful: true, Default: true, AppliedTo: trace.FirewallScope{Any: true},
		Sources: trace.FirewallPeer{Any: true}, Destinations: trace.FirewallPeer{Any: true}, Source: src}
}
