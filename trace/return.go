package trace

import (
	"cmp"
	"fmt"
	"net/netip"
)

// returnPath walks from the destination back to the source, starting where the destination
// really sends from: a pod through its own layers (eth0, veth, OVS port and VLAN, MAC table, logical
// port), a node from its routing table, a router from its own routing table; and ends through the
// source pod's layers.
func (wk *walker) returnPath(src *Pod, srcIP netip.Addr, srcPort *SwitchPort, d destination, dstPort *SwitchPort) {
	ix := wk.ix
	fab := ix.fab
	if fab == nil || srcPort == nil {
		return
	}
	back := destination{ep: podEndpoint(src, srcIP), ip: srcIP, pod: src}
	if d.pod != nil && !d.pod.HostNetwork {
		wk.podToDestination(d.pod, d.ip, back)
		return
	}
	var final *Switch
	switch {
	case d.rport != nil:
		var at *RouterPort
		if final, at = wk.route(d.rport, srcIP); at != nil {
			return
		}
	case dstPort != nil:
		wk.firewallHop(dstPort, FirewallEgress, flow{src: d.ip, dst: srcIP, srcPort: dstPort, dstPort: srcPort})
		final = wk.nodeReturn(d, srcIP, dstPort)
	}
	if final == nil || wk.otherReturnSwitch(final, srcPort, srcIP) {
		return
	}
	sp := wk.deliver(final, back)
	wk.overlayAtDelivery(dstPort, sp, flow{src: d.ip, dst: srcIP, srcPort: dstPort, dstPort: sp}, ix.mtuAt(d.ep.Node, d.ip))
	wk.destinationHop(back, sp)
}

// otherReturnSwitch adds a broken switch hop when the reply to srcIP is delivered on switch final
// and the source pod's port srcPort is on another, and reports whether it did.
func (wk *walker) otherReturnSwitch(final *Switch, srcPort *SwitchPort, srcIP netip.Addr) bool {
	if final.ID == srcPort.Switch {
		return false
	}
	fab := wk.ix.fab
	wk.add(Hop{Kind: HopSwitch, Name: fab.switchName(final.ID), Status: StatusBroken,
		Detail: fmt.Sprintf("return traffic to %s is delivered on switch %s, but the pod's port is on %s", srcIP, fab.switchName(final.ID), fab.switchName(srcPort.Switch))})
	return true
}

// nodeReturn walks a node's way back to srcIP: its routing table, its gateway and the routers; it
// returns the switch the reply is delivered on (nil when it is not).
func (wk *walker) nodeReturn(d destination, srcIP netip.Addr, dstPort *SwitchPort) *Switch {
	ix := wk.ix
	fab := ix.fab
	var rd routeDecision
	if ni := ix.states[d.ep.Node]; ni != nil {
		if ns := ni.destNetns(d); ns != nil {
			h := Hop{Kind: HopRoute, Name: d.ep.String(), Node: d.ep.Node, Netns: ns.Name, IP: d.ip.String()}
			var ok bool
			if rd, ok = decideRoute(ns, srcIP); !ok {
				h.Status, h.Detail = StatusBroken, fmt.Sprintf("no return route to %s on %s", srcIP, d.ep.String())
				wk.add(h)
				return nil
			}
			h.Evidence = append(h.Evidence, ev(cmp.Or(ns.Source, SourceNetlink+"@"+d.ep.Node), "route %s", routeString(rd.rt)))
			h.Detail = rd.detail(srcIP)
			h.Interface = rd.rt.Dev
			wk.add(h)
		}
	}
	if rd.direct {
		return fab.switchOf(dstPort.Switch)
	}
	entry := wk.gatewayEntry(dstPort.Switch, rd.gateway, d.ip)
	if entry == nil {
		return nil
	}
	final, _ := wk.route(entry, srcIP)
	return final
}
