package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// sourceL2 walks pod eth0, the veth pair, the OVS access port, the MAC table and the uplink.
func (wk *walker) sourceL2(src *Pod, srcIP, dstIP netip.Addr) *podSide {
	ps := &podSide{node: src.Node}
	ni, ns := wk.sourceNetns(src, srcIP, ps)
	if ns == nil {
		return ps
	}
	eth := wk.sourcePodHop(src, srcIP, dstIP, ns, ps)
	if eth == nil {
		return ps
	}
	if wk.sourceVethHop(src, srcIP, ni, ns, eth, ps) {
		wk.ovsHops(ps)
	}
	return ps
}

// sourceNetns finds the source pod's node facts and netns; when either is missing it adds the
// pod hop (unknown) and returns a nil netns.
func (wk *walker) sourceNetns(src *Pod, srcIP netip.Addr, ps *podSide) (*nodeIdx, *Netns) {
	podEv := ev(cmp.Or(src.Source, SourceKube), "pod %s/%s IP %s on node %s", src.Namespace, src.Name, srcIP, src.Node)
	ni := wk.ix.states[src.Node]
	if ni == nil {
		wk.add(Hop{Kind: HopPod, Name: src.Namespace + "/" + src.Name, Node: src.Node, IP: srcIP.String(), Status: StatusUnknown, Hint: HintNodeFacts,
			Detail:   fmt.Sprintf("no facts from node %s", src.Node),
			Evidence: []Evidence{podEv}})
		return nil, nil
	}
	ps.ni = ni
	ps.refreshed = ni.refreshed[src.Namespace+"/"+src.Name]
	ns := ni.podNetns(src, srcIP)
	if ns == nil {
		wk.add(Hop{Kind: HopPod, Name: src.Namespace + "/" + src.Name, Node: src.Node, IP: srcIP.String(), Status: StatusUnknown,
			Detail:   fmt.Sprintf("no network namespace on node %s holds %s", src.Node, srcIP),
			Evidence: []Evidence{podEv}})
	}
	return ni, ns
}

// sourcePodHop adds the pod hop: the link holding the pod's IP, its state and the pod's own routing
// decision for dstIP (on-link, or via which gateway, and that next hop's MAC). It returns the link
// (nil when none holds the IP).
func (wk *walker) sourcePodHop(src *Pod, srcIP, dstIP netip.Addr, ns *Netns, ps *podSide) *Link {
	nsSrc := cmp.Or(ns.Source, SourceNetlink+"@"+src.Node)
	h := Hop{Kind: HopPod, Name: src.Namespace + "/" + src.Name, Node: src.Node, Netns: ns.Name, IP: srcIP.String(),
		Evidence: []Evidence{ev(cmp.Or(src.Source, SourceKube), "pod %s/%s IP %s on node %s", src.Namespace, src.Name, srcIP, src.Node)}}
	eth, addr := linkHolding(ns, srcIP)
	if addr != nil {
		h.Evidence = append(h.Evidence, ev(nsSrc, "%s has %s", addr.Link, addr.CIDR))
	}
	if eth == nil {
		h.Status, h.Detail = StatusUnknown, fmt.Sprintf("no link in netns %s carries %s", ns.Name, srcIP)
		wk.add(h)
		return nil
	}
	ps.mac = NormalizeMAC(eth.MAC)
	h.Interface, h.MAC = eth.Name, ps.mac
	h.Evidence = append(h.Evidence, ev(nsSrc, "%s index %d %s mac %s mtu %d state %s", eth.Name, eth.Index, cmp.Or(eth.Kind, "device"), ps.mac, eth.MTU, linkState(eth)))
	rd, ok := decideRoute(ns, dstIP)
	switch {
	case !eth.Up() && !peerDown(ps.ni, eth):
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("%s in pod %s/%s is down", eth.Name, src.Namespace, src.Name)
	case !ok:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("no route to %s in pod %s/%s", dstIP, src.Namespace, src.Name)
	default:
		h.Evidence = append(h.Evidence, ev(nsSrc, "route %s", routeString(rd.rt)))
		ps.gateway, ps.direct = rd.gateway, rd.direct
		h.Detail = rd.detail(dstIP)
		next := rd.nextHop(dstIP)
		for _, n := range ns.Neighbors {
			if a, ok := ParseAddr(n.IP); ok && a == next && NormalizeMAC(n.MAC) != "" {
				ps.nextMAC = NormalizeMAC(n.MAC)
				h.Evidence = append(h.Evidence, ev(nsSrc, "neighbour %s lladdr %s %s", n.IP, ps.nextMAC, n.State))
			}
		}
	}
	wk.add(h)
	return eth
}

// peerDown reports whether a pod link is down only because its veth peer is: it reports
// lowerlayerdown, or down with NO-CARRIER (as on the lab's kernel), and that is the veth hop's fault,
// not the pod's.
func peerDown(ni *nodeIdx, eth *Link) bool {
	if eth.AdminUp && (eth.OperState == "lowerlayerdown" || eth.OperState == "down") {
		if host, _ := peerOf(ni, eth); host != nil && !host.Up() {
			return true
		}
	}
	return false
}

// sourceVethHop adds the veth pair from the source pod to its node; it reports whether the host
// side was found (the OVS hops follow from it).
func (wk *walker) sourceVethHop(src *Pod, srcIP netip.Addr, ni *nodeIdx, ns *Netns, eth *Link, ps *podSide) bool {
	nsSrc := cmp.Or(ns.Source, SourceNetlink+"@"+src.Node)
	var found []Evidence
	host, hostNS, itf := ni.hostSide(src, srcIP, eth)
	switch {
	case host != nil && itf == nil:
		found = append(found, ev(nsSrc, "%s is a veth, peer ifindex %d in netns %s", eth.Name, eth.PeerIndex, hostNS.Name))
	case host != nil:
		found = append(found, ev(cmp.Or(ni.st.OVS.Source, SourceOVSDB+"@"+src.Node), "interface %s external_ids name pod %s/%s", itf.Name, src.Namespace, src.Name))
	default:
		vh := Hop{Kind: HopVeth, Node: src.Node, Name: "host veth", Status: StatusUnknown}
		if eth.Kind == KindVeth {
			vh.Detail = fmt.Sprintf("host side of %s (peer ifindex %d) not found on node %s", eth.Name, eth.PeerIndex, src.Node)
		} else {
			vh.Detail = fmt.Sprintf("%s is a %s, not a veth, and no OVS interface names the pod", eth.Name, cmp.Or(eth.Kind, "device"))
		}
		wk.add(vh)
		return false
	}
	hsrc := cmp.Or(hostNS.Source, SourceNetlink+"@"+src.Node)
	found = append(found, ev(hsrc, "%s index %d %s peer ifindex %d state %s", host.Name, host.Index, cmp.Or(host.Kind, "device"), host.PeerIndex, linkState(host)))
	if host.Master != "" {
		found = append(found, ev(hsrc, "%s master %s", host.Name, host.Master))
	}
	wk.add(vethHop(src.Node, host, hostNS, eth.Name, host.Name, found))
	ps.hostVeth = host.Name
	return true
}

// destL2 walks the destination pod's side of its node: the OVS access port (its tag against the
// logical port's traffic_tag) and the veth into the pod.
func (wk *walker) destL2(d destination, ni *nodeIdx, ns *Netns, sp *SwitchPort) {
	eth, _ := linkHolding(ns, d.ip)
	if eth == nil {
		return
	}
	host, hostNS, _ := ni.hostSide(d.pod, d.ip, eth)
	node := d.ep.Node
	if host == nil {
		wk.add(Hop{Kind: HopVeth, Name: "host veth", Node: node, Status: StatusUnknown,
			Detail: fmt.Sprintf("host side of %s in %s not found on node %s", eth.Name, d.ep.String(), node)})
		return
	}
	wk.destOVSHops(ni, node, host, eth, sp)
	wk.add(vethHop(node, host, hostNS, host.Name, eth.Name,
		[]Evidence{ev(cmp.Or(hostNS.Source, SourceNetlink+"@"+node), "%s index %d peer of %s ifindex %d state %s", host.Name, host.Index, eth.Name, eth.Index, linkState(host))}))
}

// hostSide finds the node's end of a pod's eth0: its veth peer, else the root-netns link of the OVS
// interface whose external_ids name the pod (itf is set only then). host is nil when neither is found.
func (ni *nodeIdx) hostSide(p *Pod, ip netip.Addr, eth *Link) (host *Link, hostNS *Netns, itf *Interface) {
	if host, hostNS = peerOf(ni, eth); host != nil || ni.st.OVS == nil {
		return host, hostNS, nil
	}
	if itf = ovsIfaceForPod(ni, p, ip, NormalizeMAC(eth.MAC)); itf != nil {
		if host = ni.rootLink(itf.Name); host != nil {
			return host, ni.root, itf
		}
	}
	return nil, hostNS, nil
}

// vethHop is the hop over a pod's veth pair, from one end to the other (host is the node's end),
// broken when the node's end is down.
func vethHop(node string, host *Link, hostNS *Netns, from, to string, evidence []Evidence) Hop {
	vh := Hop{Kind: HopVeth, Name: host.Name, Node: node, Netns: hostNS.Name, Interface: host.Name, MAC: NormalizeMAC(host.MAC), Evidence: evidence}
	if !host.Up() {
		vh.Status, vh.Detail = StatusBroken, fmt.Sprintf("%s is down", host.Name)
	} else {
		vh.Detail = fmt.Sprintf("veth pair %s ⇄ %s", from, to)
	}
	return vh
}

// routeDecision is a netns's routing choice for a destination: the route, and its gateway (invalid
// when the destination is on-link).
type routeDecision struct {
	rt      Route
	gateway netip.Addr
	direct  bool
}

// decideRoute looks dst up in a netns's routing table, the same way for a source pod and for a
// destination answering; ok is false when no route matches.
func decideRoute(ns *Netns, dst netip.Addr) (routeDecision, bool) {
	rt, ok := lookupRoute(ns.Routes, dst)
	if !ok {
		return routeDecision{}, false
	}
	rd := routeDecision{rt: rt}
	if g, ok := ParseAddr(rt.Gateway); ok && rt.Gateway != "" {
		rd.gateway = g
	} else {
		rd.direct = true
	}
	return rd, true
}

// detail says the decision for dst in words.
func (rd routeDecision) detail(dst netip.Addr) string {
	if rd.direct {
		return fmt.Sprintf("%s is on-link via %s", dst, rd.rt.Dev)
	}
	return fmt.Sprintf("route to %s via %s dev %s", dst, rd.gateway, rd.rt.Dev)
}

// nextHop is the address whose MAC the sender needs: the gateway, or dst itself when on-link.
func (rd routeDecision) nextHop(dst netip.Addr) netip.Addr {
	if rd.direct {
		return dst
	}
	return rd.gateway
}

func ovsIfaceForPod(ni *nodeIdx, p *Pod, ip netip.Addr, mac string) *Interface {
	names := make([]string, 0, len(ni.ifaces))
	for n := range ni.ifaces {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		itf := ni.ifaces[n]
		if ifaceNamesPod(itf, p, ip, mac) {
			return itf
		}
	}
	return nil
}

// ifaceNamesPod applies the CNI-neutral correlation keys of OVS external_ids.
func ifaceNamesPod(itf *Interface, p *Pod, ip netip.Addr, mac string) bool {
	x := itf.ExternalIDs
	if len(x) == 0 {
		return false
	}
	switch x["iface-id"] {
	case p.Namespace + "_" + p.Name, p.Name + "." + p.Namespace:
		return true
	}
	if x["pod-name"] == p.Name && x["pod-namespace"] == p.Namespace {
		return true
	}
	if x["k8s_pod_name"] == p.Name && x["k8s_pod_namespace"] == p.Namespace {
		return true
	}
	for _, k := range []string{"ip_address", "ip_addresses", "ip"} {
		for _, v := range strings.FieldsFunc(x[k], func(r rune) bool { return r == ',' || r == ' ' }) {
			if a, ok := ParseAddr(v); ok && a == ip {
				return true
			}
		}
	}
	if mac != "" {
		for _, k := range []string{"attached-mac", "attached_mac"} {
			if NormalizeMAC(x[k]) == mac {
				return true
			}
		}
	}
	return false
}

// lookupRoute does a longest-prefix match over a netns's main table.
func lookupRoute(routes []Route, dst netip.Addr) (Route, bool) {
	best, bits := Route{}, -1
	for _, r := range routes {
		if r.Table != 0 && r.Table != 254 {
			continue
		}
		p, ok := parsePrefix(r.Dst, dst)
		if !ok || !sameFamily(p.Addr(), dst) || !p.Masked().Contains(dst) {
			continue
		}
		if p.Bits() > bits {
			best, bits = r, p.Bits()
		}
	}
	return best, bits >= 0
}

// peerOf finds the host side of a pod's veth: the peer ifindex in the peer netns (root by default).
func peerOf(ni *nodeIdx, eth *Link) (*Link, *Netns) {
	if eth.Kind != KindVeth || eth.PeerIndex <= 0 {
		return nil, nil
	}
	hostNS := ni.root
	if eth.PeerNetns != "" {
		hostNS = ni.netnsByName[eth.PeerNetns]
	}
	if hostNS == nil {
		return nil, nil
	}
	for i := range hostNS.Links {
		if hostNS.Links[i].Index == eth.PeerIndex {
			return &hostNS.Links[i], hostNS
		}
	}
	return nil, hostNS
}

// linkHolding finds the address ip in a netns and the link that holds it: the first address whose
// link is known (a node may carry its IP twice, as NSX's nsx-container does), else the address alone.
func linkHolding(ns *Netns, ip netip.Addr) (*Link, *Address) {
	var found *Address
	for i := range ns.Addresses {
		a := &ns.Addresses[i]
		if x, ok := ParseAddr(a.CIDR); !ok || x != ip {
			continue
		}
		for j := range ns.Links {
			if ns.Links[j].Name == a.Link {
				return &ns.Links[j], a
			}
		}
		if found == nil {
			found = a
		}
	}
	return nil, found
}

// podNetns is a pod's network namespace: the one the collector named for it, else the one holding
// its IP.
func (ni *nodeIdx) podNetns(p *Pod, ip netip.Addr) *Netns {
	if ns := ni.netnsByPod[p.Namespace+"/"+p.Name]; ns != nil {
		return ns
	}
	return ni.netnsByIP[ip]
}

// destNetns is where a destination lives on its node: its pod's netns, or the node's own.
func (ni *nodeIdx) destNetns(d destination) *Netns {
	if d.pod != nil && !d.pod.HostNetwork {
		return ni.podNetns(d.pod, d.ip)
	}
	return ni.root
}
