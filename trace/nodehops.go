package trace

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
)

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
	learned, up := ni.uplinkFor(bridge, vlan, nextMAC, ps.ovsPort.Name)
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

// uplinkFor is where mac is learned on (bridge, vlan), and the port that carries the VLAN out: the
// port it is learned on, else the bridge's trunk for the VLAN (never the pod's own port, not).
func (ni *nodeIdx) uplinkFor(bridge string, vlan int, mac, not string) (learned *MACEntry, up *Port) {
	if mac != "" {
		for _, e := range ni.fdb[mac] {
			if e.Bridge == bridge && e.VLAN == vlan {
				learned = &e
				break
			}
		}
	}
	if learned != nil {
		if itf := ni.ifaceByOF[bridge+"/"+learned.Port]; itf != nil {
			up = ni.portByIface[itf.Name]
		}
	}
	if up == nil {
		up = trunkFor(ni.st.OVS, bridge, vlan, not)
	}
	return learned, up
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

// destOVSHops walks the destination pod's OVS access port (its tag against the logical port's
// traffic_tag) and its MAC in the MAC table; nothing when the node has no OVS facts.
func (wk *walker) destOVSHops(ni *nodeIdx, node string, host, eth *Link, sp *SwitchPort) {
	o := ni.st.OVS
	if o == nil {
		return
	}
	osrc := cmp.Or(o.Source, SourceOVSDB+"@"+node)
	port := ni.portByIface[host.Name]
	if port == nil {
		wk.add(Hop{Kind: HopOVSPort, Name: host.Name, Node: node, Interface: host.Name, Status: StatusBroken,
			Detail: fmt.Sprintf("%s is not a port of any OVS bridge on node %s", host.Name, node)})
		return
	}
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
}
