package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// sourceL2 walks pod eth0, the veth pair, the OVS access port, the MAC table and the uplink.
func (wk *walker) sourceL2(src *Pod, srcIP, dstIP netip.Addr) *podSide {
	ix := wk.ix
	ps := &podSide{node: src.Node}
	podEv := ev(cmp.Or(src.Source, SourceKube), "pod %s/%s IP %s on node %s", src.Namespace, src.Name, srcIP, src.Node)
	ni := ix.states[src.Node]
	if ni == nil {
		wk.add(Hop{Kind: HopPod, Name: src.Namespace + "/" + src.Name, Node: src.Node, IP: srcIP.String(), Status: StatusUnknown, Hint: HintNodeFacts,
			Detail:   fmt.Sprintf("no facts from node %s", src.Node),
			Evidence: []Evidence{podEv}})
		return ps
	}
	ps.ni = ni
	ps.refreshed = ni.refreshed[src.Namespace+"/"+src.Name]
	ns := ni.podNetns(src, srcIP)
	if ns == nil {
		wk.add(Hop{Kind: HopPod, Name: src.Namespace + "/" + src.Name, Node: src.Node, IP: srcIP.String(), Status: StatusUnknown,
			Detail:   fmt.Sprintf("no network namespace on node %s holds %s", src.Node, srcIP),
			Evidence: []Evidence{podEv}})
		return ps
	}
	nsSrc := cmp.Or(ns.Source, SourceNetlink+"@"+src.Node)
	h := Hop{Kind: HopPod, Name: src.Namespace + "/" + src.Name, Node: src.Node, Netns: ns.Name, IP: srcIP.String(),
		Evidence: []Evidence{podEv}}
	eth, addr := linkHolding(ns, srcIP)
	if addr != nil {
		h.Evidence = append(h.Evidence, ev(nsSrc, "%s has %s", addr.Link, addr.CIDR))
	}
	if eth == nil {
		h.Status, h.Detail = StatusUnknown, fmt.Sprintf("no link in netns %s carries %s", ns.Name, srcIP)
		wk.add(h)
		return ps
	}
	ps.mac = NormalizeMAC(eth.MAC)
	h.Interface, h.MAC = eth.Name, ps.mac
	h.Evidence = append(h.Evidence, ev(nsSrc, "%s index %d %s mac %s mtu %d state %s", eth.Name, eth.Index, cmp.Or(eth.Kind, "device"), ps.mac, eth.MTU, linkState(eth)))
	// The pod's own routing decision: on-link, or via which gateway.
	rt, ok := lookupRoute(ns.Routes, dstIP)
	// A veth whose peer is down reports lowerlayerdown, or down with NO-CARRIER (as on the lab's
	// kernel): that is the veth hop's fault, not the pod's.
	peerDown := false
	if eth.AdminUp && (eth.OperState == "lowerlayerdown" || eth.OperState == "down") {
		if host, _ := peerOf(ni, eth); host != nil && !host.Up() {
			peerDown = true
		}
	}
	switch {
	case !eth.Up() && !peerDown:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("%s in pod %s/%s is down", eth.Name, src.Namespace, src.Name)
	case !ok:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("no route to %s in pod %s/%s", dstIP, src.Namespace, src.Name)
	default:
		h.Evidence = append(h.Evidence, ev(nsSrc, "route %s", routeString(rt)))
		if g, ok := parseAddr(rt.Gateway); ok && rt.Gateway != "" {
			ps.gateway = g
			h.Detail = fmt.Sprintf("route to %s via %s dev %s", dstIP, g, rt.Dev)
		} else {
			ps.direct = true
			h.Detail = fmt.Sprintf("%s is on-link via %s", dstIP, rt.Dev)
		}
		next := ps.gateway
		if ps.direct {
			next = dstIP
		}
		for _, n := range ns.Neighbors {
			if a, ok := parseAddr(n.IP); ok && a == next && NormalizeMAC(n.MAC) != "" {
				ps.nextMAC = NormalizeMAC(n.MAC)
				h.Evidence = append(h.Evidence, ev(nsSrc, "neighbour %s lladdr %s %s", n.IP, ps.nextMAC, n.State))
			}
		}
	}
	wk.add(h)

	// The veth pair: peer ifindex in the peer's netns (the root netns unless told otherwise).
	vh := Hop{Kind: HopVeth, Node: src.Node}
	var host *Link
	var hostNS *Netns
	if host, hostNS = peerOf(ni, eth); host != nil {
		vh.Evidence = append(vh.Evidence, ev(nsSrc, "%s is a veth, peer ifindex %d in netns %s", eth.Name, eth.PeerIndex, hostNS.Name))
	}
	if host == nil && ni.st.OVS != nil {
		// Fallback: the OVS interface whose external_ids name this pod.
		if itf := ovsIfaceForPod(ni, src, srcIP, ps.mac); itf != nil {
			host, hostNS = ni.rootLink(itf.Name), ni.root
			if host != nil {
				vh.Evidence = append(vh.Evidence, ev(cmp.Or(ni.st.OVS.Source, SourceOVSDB+"@"+src.Node), "interface %s external_ids name pod %s/%s", itf.Name, src.Namespace, src.Name))
			}
		}
	}
	if host == nil {
		vh.Name, vh.Status = "host veth", StatusUnknown
		if eth.Kind == KindVeth {
			vh.Detail = fmt.Sprintf("host side of %s (peer ifindex %d) not found on node %s", eth.Name, eth.PeerIndex, src.Node)
		} else {
			vh.Detail = fmt.Sprintf("%s is a %s, not a veth, and no OVS interface names the pod", eth.Name, cmp.Or(eth.Kind, "device"))
		}
		wk.add(vh)
		return ps
	}
	hsrc := cmp.Or(hostNS.Source, SourceNetlink+"@"+src.Node)
	vh.Name, vh.Netns, vh.Interface, vh.MAC = host.Name, hostNS.Name, host.Name, NormalizeMAC(host.MAC)
	vh.Evidence = append(vh.Evidence, ev(hsrc, "%s index %d %s peer ifindex %d state %s", host.Name, host.Index, cmp.Or(host.Kind, "device"), host.PeerIndex, linkState(host)))
	if host.Master != "" {
		vh.Evidence = append(vh.Evidence, ev(hsrc, "%s master %s", host.Name, host.Master))
	}
	if !host.Up() {
		vh.Status, vh.Detail = StatusBroken, fmt.Sprintf("%s is down", host.Name)
	} else {
		vh.Detail = fmt.Sprintf("veth pair %s ⇄ %s", eth.Name, host.Name)
	}
	wk.add(vh)
	ps.hostVeth = host.Name

	wk.ovsHops(ps)
	return ps
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
			if a, ok := parseAddr(v); ok && a == ip {
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

// ovsHops walks the OVS access port and the MAC table (pod MAC; next-hop MAC on the uplink).
func (wk *walker) ovsHops(ps *podSide) {
	node, ni := ps.node, ps.ni
	o := ni.st.OVS
	if o == nil {
		wk.add(Hop{Kind: HopOVSPort, Name: ps.hostVeth, Node: node, Status: StatusUnknown,
			Detail: fmt.Sprintf("no OVS facts from node %s (is OVS running there?)", node)})
		return
	}
	osrc := cmp.Or(o.Source, SourceOVSDB+"@"+node)
	port := ni.portByIface[ps.hostVeth]
	itf := ni.ifaces[ps.hostVeth]
	if port == nil {
		wk.add(Hop{Kind: HopOVSPort, Name: ps.hostVeth, Node: node, Interface: ps.hostVeth, Status: StatusBroken,
			Detail:   fmt.Sprintf("%s is not a port of any OVS bridge on node %s", ps.hostVeth, node),
			Evidence: []Evidence{ev(osrc, "no Port has interface %s", ps.hostVeth)}})
		return
	}
	ps.ovsPort = port
	h := Hop{Kind: HopOVSPort, Name: port.Name, Node: node, Interface: ps.hostVeth, VLAN: port.Tag}
	h.Evidence = append(h.Evidence, ev(osrc, "Port %s on bridge %s %s", port.Name, port.Bridge, portVLANString(port)))
	ofport := 0
	if itf != nil {
		ofport = itf.OFPort
		fact := fmt.Sprintf("Interface %s ofport %d", itf.Name, itf.OFPort)
		if itf.Type != "" {
			fact += " type " + itf.Type
		}
		if len(itf.ExternalIDs) > 0 {
			fact += " external_ids " + kvString(itf.ExternalIDs)
		}
		h.Evidence = append(h.Evidence, Evidence{Source: osrc, Fact: fact})
	}
	switch {
	case itf != nil && itf.OFPort < 0:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("OVS interface %s has ofport %d: not attached to bridge %s", itf.Name, itf.OFPort, port.Bridge)
	case itf != nil && itf.LinkState == "down":
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("OVS interface %s link_state is down", itf.Name)
	case port.Tag != nil:
		ps.vlan = port.Tag
		h.Detail = fmt.Sprintf("access port on %s, VLAN %d, ofport %d", port.Bridge, *port.Tag, ofport)
	default:
		h.Detail = fmt.Sprintf("untagged port on %s, ofport %d", port.Bridge, ofport)
	}
	wk.add(h)

	// MAC table: the pod's MAC on (its port, its VLAN).
	vlan := 0
	if ps.vlan != nil {
		vlan = *ps.vlan
	}
	wk.macHop(ni, node, port, ofport, ps.mac, vlan, true, ps.refreshed)
	if last := &wk.w.Hops[len(wk.w.Hops)-1]; wk.dir == Return && last.Status == StatusBroken {
		// A replying pod's own frame teaches the bridge its MAC and port: no fault for the reply.
		last.Status, last.Detail = StatusOK, last.Detail+": the reply itself teaches the bridge where the pod is"
	}
}

// uplinkHop finds the OVS port where the next hop's MAC is learned on the pod's VLAN: the uplink.
func (wk *walker) uplinkHop(ps *podSide, nextMAC, what string) {
	ni := ps.ni
	if ni == nil || ps.ovsPort == nil || ni.st.OVS == nil {
		return
	}
	node := ps.node
	o := ni.st.OVS
	bridge := ps.ovsPort.Bridge
	vlan := 0
	if ps.vlan != nil {
		vlan = *ps.vlan
	}
	fsrc := cmp.Or(o.FDBSource, SourceFDB+"@"+node)
	osrc := cmp.Or(o.Source, SourceOVSDB+"@"+node)
	h := Hop{Kind: HopUplink, Node: node, MAC: nextMAC, VLAN: vlanPtr(vlan)}
	var learned *MACEntry
	if nextMAC != "" {
		for _, e := range ni.fdb[nextMAC] {
			if e.Bridge == bridge && e.VLAN == vlan {
				e := e
				learned = &e
				break
			}
		}
	}
	var up *Port
	if learned != nil {
		if itf := ni.ifaceByOF[bridge+"/"+learned.Port]; itf != nil {
			up = ni.portByIface[itf.Name]
		}
	}
	if up == nil {
		up = trunkFor(o, bridge, vlan, ps.ovsPort.Name)
	}
	if up != nil {
		h.Name, h.Interface = up.Name, up.Name
		h.Evidence = append(h.Evidence, ev(osrc, "Port %s on bridge %s %s", up.Name, up.Bridge, portVLANString(up)))
	} else {
		h.Name = bridge + " uplink"
	}
	aging := ni.aging(bridge)
	switch {
	case !ni.fdbBridges[bridge]:
		h.Status, h.Detail = StatusUnknown, fmt.Sprintf("MAC table of %s on node %s not collected", bridge, node)
	case nextMAC == "":
		h.Status, h.Detail = StatusUnknown, fmt.Sprintf("MAC of the %s unknown (no neighbour entry, no fabric port MAC)", what)
	case learned == nil && up == nil:
		// Configuration, not traffic: nothing on the bridge can carry the pod's VLAN out.
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("no uplink of %s carries VLAN %d (no trunk port without a tag, or with VLAN %d in its trunks)", bridge, vlan, vlan)
		h.Evidence = append(h.Evidence, ev(fsrc, "fdb/show %s has no entry for %s on VLAN %d", bridge, nextMAC, vlan))
	case learned == nil && ni.rootLink(up.Name) != nil && !ni.rootLink(up.Name).Up():
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("%s is down", up.Name)
	case learned == nil && what == "destination":
		// An on-link destination not learned yet is flooded on the VLAN, trunk included.
		h.Detail = fmt.Sprintf("destination MAC %s not learned on %s VLAN %d: flooded to trunk %s", nextMAC, bridge, vlan, up.Name)
		h.awaits = awaitsDestination
		h.Evidence = append(h.Evidence, ev(fsrc, "fdb/show %s has no entry for %s on VLAN %d", bridge, nextMAC, vlan))
	case learned == nil:
		// The MAC table is a cache: an idle pod's router MAC ages out; the trunk carrying the VLAN
		// is the configuration that matters. After the pod sent a packet, its reply must be there.
		h.Detail = fmt.Sprintf("%s MAC %s not in the MAC table of %s VLAN %d (nothing from it for %d s, the aging time, or never): uplink %s carries VLAN %d", what, nextMAC, bridge, vlan, aging, up.Name, vlan)
		h.Evidence = append(h.Evidence, ev(fsrc, "fdb/show %s has no entry for %s on VLAN %d (mac-aging-time %d s)", bridge, nextMAC, vlan, aging))
		h.awaits = awaitsRouter
		if ps.refreshed {
			h.Detail = fmt.Sprintf("%s MAC %s not learned on uplink %s VLAN %d although the pod sent a packet just before the table was read: no answer came back", what, nextMAC, up.Name, vlan)
			ps.pendingUplink = len(wk.w.Hops) + 1
		}
	case up == nil:
		h.Status, h.Detail = StatusUnknown, fmt.Sprintf("%s MAC %s learned on ofport %s, which no OVS port has", what, nextMAC, learned.Port)
		h.Evidence = append(h.Evidence, ev(fsrc, "%s", fdbAged(*learned, aging)))
	case up.Tag != nil && *up.Tag != vlan:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("%s MAC %s learned on %s, an access port of VLAN %d, not a trunk for VLAN %d", what, nextMAC, up.Name, *up.Tag, vlan)
		h.Evidence = append(h.Evidence, ev(fsrc, "%s", fdbAged(*learned, aging)))
	case len(up.Trunks) > 0 && !slices.Contains(up.Trunks, vlan):
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("uplink %s does not trunk VLAN %d (trunks %s)", up.Name, vlan, intsString(up.Trunks))
		h.Evidence = append(h.Evidence, ev(fsrc, "%s", fdbAged(*learned, aging)))
	default:
		h.Detail = fmt.Sprintf("%s MAC %s learned on uplink %s VLAN %d", what, nextMAC, up.Name, vlan)
		h.Evidence = append(h.Evidence, ev(fsrc, "%s", fdbAged(*learned, aging)))
		if l := ni.rootLink(up.Name); l != nil && !l.Up() {
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("%s is down", up.Name)
		}
	}
	wk.add(h)
}

func (ni *nodeIdx) rootLink(name string) *Link {
	if ni.root == nil {
		return nil
	}
	for i := range ni.root.Links {
		if ni.root.Links[i].Name == name {
			return &ni.root.Links[i]
		}
	}
	return nil
}

func (ni *nodeIdx) portNameByOF(bridge, of string) string {
	if itf := ni.ifaceByOF[bridge+"/"+of]; itf != nil {
		if p := ni.portByIface[itf.Name]; p != nil {
			return p.Name
		}
		return itf.Name
	}
	if of == "LOCAL" {
		return bridge
	}
	return "?"
}

// trunkFor returns the bridge's trunk port carrying vlan (not the pod's own port).
func trunkFor(o *OVS, bridge string, vlan int, not string) *Port {
	var found *Port
	for i := range o.Ports {
		p := &o.Ports[i]
		if p.Bridge != bridge || p.Name == not || p.Name == bridge || p.Tag != nil {
			continue
		}
		if len(p.Trunks) == 0 || slices.Contains(p.Trunks, vlan) {
			if found == nil || p.Name < found.Name {
				found = p
			}
		}
	}
	return found
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

// destL2 walks the destination pod's side of its node: the OVS access port (its tag against the
// logical port's traffic_tag) and the veth into the pod.
func (wk *walker) destL2(d destination, ni *nodeIdx, ns *Netns, sp *SwitchPort) {
	eth, _ := linkHolding(ns, d.ip)
	if eth == nil {
		return
	}
	host, hostNS := peerOf(ni, eth)
	if host == nil && ni.st.OVS != nil {
		if itf := ovsIfaceForPod(ni, d.pod, d.ip, NormalizeMAC(eth.MAC)); itf != nil {
			host, hostNS = ni.rootLink(itf.Name), ni.root
		}
	}
	node := d.ep.Node
	if host == nil {
		wk.add(Hop{Kind: HopVeth, Name: "host veth", Node: node, Status: StatusUnknown,
			Detail: fmt.Sprintf("host side of %s in %s not found on node %s", eth.Name, d.ep.String(), node)})
		return
	}
	if o := ni.st.OVS; o != nil {
		osrc := cmp.Or(o.Source, SourceOVSDB+"@"+node)
		if port := ni.portByIface[host.Name]; port != nil {
			h := Hop{Kind: HopOVSPort, Name: port.Name, Node: node, Interface: host.Name, VLAN: port.Tag,
				Evidence: []Evidence{ev(osrc, "Port %s on bridge %s %s", port.Name, port.Bridge, portVLANString(port))}}
			switch {
			case sp != nil && port.Tag != nil && sp.TrafficTag != nil && *port.Tag != *sp.TrafficTag:
				h.Status, h.Detail = StatusBroken, fmt.Sprintf("VLAN mismatch: fabric port %s traffic_tag %d, OVS port %s tag %d", portName(sp), *sp.TrafficTag, port.Name, *port.Tag)
			case port.Tag != nil:
				h.Detail = fmt.Sprintf("access port on %s, VLAN %d", port.Bridge, *port.Tag)
			default:
				h.Detail = fmt.Sprintf("untagged port on %s", port.Bridge)
			}
			wk.add(h)
			vlan, ofport := 0, 0
			if port.Tag != nil {
				vlan = *port.Tag
			}
			if itf := ni.ifaces[host.Name]; itf != nil {
				ofport = itf.OFPort
			}
			wk.macHop(ni, node, port, ofport, NormalizeMAC(eth.MAC), vlan, false, false)
		} else {
			wk.add(Hop{Kind: HopOVSPort, Name: host.Name, Node: node, Interface: host.Name, Status: StatusBroken,
				Detail: fmt.Sprintf("%s is not a port of any OVS bridge on node %s", host.Name, node)})
		}
	}
	vh := Hop{Kind: HopVeth, Name: host.Name, Node: node, Netns: hostNS.Name, Interface: host.Name, MAC: NormalizeMAC(host.MAC),
		Evidence: []Evidence{ev(cmp.Or(hostNS.Source, SourceNetlink+"@"+node), "%s index %d peer of %s ifindex %d state %s", host.Name, host.Index, eth.Name, eth.Index, linkState(host))}}
	if !host.Up() {
		vh.Status, vh.Detail = StatusBroken, fmt.Sprintf("%s is down", host.Name)
	} else {
		vh.Detail = fmt.Sprintf("veth pair %s ⇄ %s", host.Name, eth.Name)
	}
	wk.add(vh)
}

// macHop checks a pod's MAC in its node's MAC table. The table is a cache that OVS fills from
// traffic and empties after the bridge's aging time, so it is evidence, not configuration: an
// entry on (the pod's port, its VLAN) confirms the link; one on another port is stale (frames for
// the pod go out that port), one on another VLAN of the source misdelivered; no entry says only
// that the pod has been idle, or never sent, and the configuration hops decide — unless the pod
// sent a packet just before the table was read (refreshed), when a missing entry is broken. On
// the destination side a missing MAC is flooded, so delivered.
func (wk *walker) macHop(ni *nodeIdx, node string, port *Port, ofport int, mac string, vlan int, source, refreshed bool) {
	o := ni.st.OVS
	fsrc := cmp.Or(o.FDBSource, SourceFDB+"@"+node)
	mh := Hop{Kind: HopMACTable, Name: port.Bridge, Node: node, MAC: mac, VLAN: vlanPtr(vlan), Interface: port.Name}
	if !ni.fdbBridges[port.Bridge] {
		mh.Status, mh.Detail = StatusUnknown, fmt.Sprintf("MAC table of %s on node %s not collected", port.Bridge, node)
		wk.add(mh)
		return
	}
	if mac == "" {
		mh.Status, mh.Detail = StatusUnknown, "pod MAC unknown"
		wk.add(mh)
		return
	}
	aging := ni.aging(port.Bridge)
	var onVLAN, elsewhere []MACEntry
	for _, e := range ni.fdb[mac] {
		if e.Bridge != port.Bridge {
			continue
		}
		if e.VLAN == vlan {
			onVLAN = append(onVLAN, e)
		} else {
			elsewhere = append(elsewhere, e)
		}
	}
	switch {
	case len(onVLAN) > 0 && ofport > 0 && onVLAN[0].Port != strconv.Itoa(ofport):
		e := onVLAN[0]
		mh.Status = StatusBroken
		mh.Detail = fmt.Sprintf("stale MAC: %s learned on %s port %s (%s) VLAN %d, but the pod is on %s (ofport %d)", mac, port.Bridge, e.Port, ni.portNameByOF(port.Bridge, e.Port), vlan, port.Name, ofport)
		mh.Evidence = append(mh.Evidence, ev(fsrc, "%s", fdbAged(e, aging)))
	case len(onVLAN) > 0:
		mh.Detail = fmt.Sprintf("%s learned on port %s (%s) VLAN %d", mac, onVLAN[0].Port, port.Name, vlan)
		mh.Evidence = append(mh.Evidence, ev(fsrc, "%s", fdbAged(onVLAN[0], aging)))
	case len(elsewhere) > 0 && source:
		e := elsewhere[0]
		mh.Status = StatusBroken
		mh.Detail = fmt.Sprintf("MAC %s learned on %s VLAN %d port %s, not on VLAN %d", mac, port.Bridge, e.VLAN, e.Port, vlan)
		mh.Evidence = append(mh.Evidence, ev(fsrc, "%s", fdbAged(e, aging)))
	case source && refreshed:
		mh.Status = StatusBroken
		mh.Detail = fmt.Sprintf("MAC %s not learned on %s VLAN %d although the pod sent a packet just before the table was read", mac, port.Bridge, vlan)
		mh.Evidence = append(mh.Evidence, ev(fsrc, "fdb/show %s has no entry for %s", port.Bridge, mac))
	case source:
		mh.Detail = fmt.Sprintf("%s not in the MAC table of %s VLAN %d: the pod sent nothing for %d s (the aging time) or never; its port's tag decides", mac, port.Bridge, vlan, aging)
		mh.Evidence = append(mh.Evidence, ev(fsrc, "fdb/show %s has no entry for %s (mac-aging-time %d s)", port.Bridge, mac, aging))
	default:
		mh.Detail = fmt.Sprintf("%s not learned on %s VLAN %d: flooded to the VLAN's ports, %s included", mac, port.Bridge, vlan, port.Name)
		mh.Evidence = append(mh.Evidence, ev(fsrc, "fdb/show %s has no entry for %s on VLAN %d (mac-aging-time %d s)", port.Bridge, mac, vlan, aging))
	}
	wk.add(mh)
}

// linkHolding finds the address ip in a netns and the link that holds it: the first address whose
// link is known (a node may carry its IP twice, as NSX's nsx-container does), else the address alone.
func linkHolding(ns *Netns, ip netip.Addr) (*Link, *Address) {
	var found *Address
	for i := range ns.Addresses {
		a := &ns.Addresses[i]
		if x, ok := parseAddr(a.CIDR); !ok || x != ip {
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
