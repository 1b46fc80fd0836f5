package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// sourceFabricPort finds the pod's logical port (a CHILD port with parent VIF and traffic tag),
// checks it against the node (VLAN tag, MAC, parent VIF), and adds the uplink and port hops.
func (wk *walker) sourceFabricPort(p *Pod, ip, dstIP netip.Addr, ps *podSide) *SwitchPort {
	fab := wk.ix.fab
	sp := wk.findPodPort(p, ip, ps.mac)
	next, what := wk.nextHopMAC(sp, dstIP, ps)
	wk.uplinkHop(ps, next, what)
	wk.checkGatewayMAC(p, sp, ps)
	if sp == nil {
		wk.noPodPort(p, ip, ps)
		return nil
	}
	h := Hop{Kind: HopFabricPort, Name: portName(sp), Node: p.Node, IP: ip.String(), MAC: ps.mac, VLAN: sp.TrafficTag}
	h.Evidence = append(h.Evidence, ev(cmp.Or(sp.Source, fab.f.Provider), "%s", describePort(sp, fab)))
	par := fab.parentOf(sp)
	problems := wk.podPortProblems(p, sp, par, ps)
	if par != nil {
		h.Evidence = append(h.Evidence, ev(cmp.Or(par.Source, fab.f.Provider), "parent VIF %s", describePort(par, fab)))
	} else if sp.ParentPort != "" || sp.ParentVIF != "" {
		h.Status = StatusUnknown
		h.Detail = fmt.Sprintf("parent VIF %s of logical port %s not found", cmp.Or(sp.ParentPort, sp.ParentVIF), portName(sp))
	}
	switch {
	case len(problems) > 0:
		h.Status, h.Detail = StatusBroken, problems[0]
	case h.Status == StatusUnknown:
	case par != nil && sp.TrafficTag != nil:
		h.Detail = fmt.Sprintf("CHILD of %s, traffic_tag %d", portName(par), *sp.TrafficTag)
	default:
		h.Detail = fmt.Sprintf("%s port on %s", cmp.Or(sp.Type, "logical"), fab.switchName(sp.Switch))
	}
	wk.add(h)
	return sp
}

// nextHopMAC is the MAC the uplink hop looks for, and what it belongs to: the pod's neighbour entry,
// else the gateway router port's MAC, else (on-link) the destination's logical port MAC.
func (wk *walker) nextHopMAC(sp *SwitchPort, dstIP netip.Addr, ps *podSide) (next, what string) {
	next, what = ps.nextMAC, "router"
	if ps.direct {
		what = "destination"
	}
	if next == "" && sp != nil && ps.gateway.IsValid() {
		if rp := wk.gatewayPortQuiet(sp.Switch, ps.gateway); rp != nil {
			next = NormalizeMAC(rp.MAC)
		}
	}
	if next == "" && ps.direct {
		for _, c := range wk.ix.fab.portsByIP[dstIP] {
			if len(c.MACs) > 0 {
				next = NormalizeMAC(c.MACs[0])
			}
		}
	}
	return next, what
}

// noPodPort adds the fabric port hop of a pod no logical port is bound to: broken, or unknown when
// the provider says it could not look the port up by any key it knows.
func (wk *walker) noPodPort(p *Pod, ip netip.Addr, ps *podSide) {
	fab := wk.ix.fab
	h := Hop{Kind: HopFabricPort, Name: "logical port", Node: p.Node, IP: ip.String(), MAC: ps.mac, Status: StatusBroken,
		Detail: fmt.Sprintf("no %s logical port is bound to %s", fab.f.Provider, ip)}
	if ps.mac != "" {
		h.Detail += " or " + ps.mac
	}
	if fab.notFound[ip] {
		// The provider could not find the port by any key it knows: not proof that there is none.
		h.Status = StatusUnknown
		h.Detail = fmt.Sprintf("the %s provider found no logical port for %s (see its warning for what it tried)", fab.f.Provider, ip)
	}
	wk.add(h)
}

// podPortProblems holds a pod's logical port against its node, first problem first: the port down,
// its MAC, its traffic_tag against the OVS port's tag, its parent VIF's node, a duplicate tag.
func (wk *walker) podPortProblems(p *Pod, sp, par *SwitchPort, ps *podSide) []string {
	fab := wk.ix.fab
	var problems []string
	if sp.Up != nil && !*sp.Up {
		problems = append(problems, fmt.Sprintf("logical port %s is down", portName(sp)))
	}
	if ps.mac != "" && len(sp.MACs) > 0 && !containsMAC(sp.MACs, ps.mac) {
		problems = append(problems, fmt.Sprintf("MAC mismatch: pod %s eth0 has %s, logical port %s binds %s", p.Name, ps.mac, portName(sp), strings.Join(sp.MACs, ",")))
	}
	if ps.ovsPort != nil {
		switch {
		case ps.vlan != nil && sp.TrafficTag != nil && *ps.vlan != *sp.TrafficTag:
			problems = append(problems, fmt.Sprintf("VLAN mismatch: OVS port %s tag %d, fabric port %s traffic_tag %d", ps.ovsPort.Name, *ps.vlan, portName(sp), *sp.TrafficTag))
		case ps.vlan != nil && sp.TrafficTag == nil && par != nil:
			problems = append(problems, fmt.Sprintf("VLAN mismatch: OVS port %s tag %d, fabric port %s has no traffic_tag", ps.ovsPort.Name, *ps.vlan, portName(sp)))
		case ps.vlan == nil && sp.TrafficTag != nil:
			problems = append(problems, fmt.Sprintf("VLAN mismatch: OVS port %s is untagged, fabric port %s traffic_tag %d", ps.ovsPort.Name, portName(sp), *sp.TrafficTag))
		}
	}
	if par == nil {
		return problems
	}
	if owner := wk.ix.portNode(par); owner != "" && p.Node != "" && owner != p.Node {
		problems = append(problems, fmt.Sprintf("logical port %s hangs off the VIF of node %s, but the pod runs on %s", portName(sp), owner, p.Node))
	}
	if sp.TrafficTag != nil {
		var dups []string
		for _, c := range fab.children[par.ID] {
			if c != sp && c.TrafficTag != nil && *c.TrafficTag == *sp.TrafficTag {
				dups = append(dups, portName(c))
			}
		}
		if len(dups) > 0 {
			sort.Strings(dups)
			problems = append(problems, fmt.Sprintf("duplicate traffic_tag %d under parent VIF %s: %s and %s", *sp.TrafficTag, portName(par), portName(sp), strings.Join(dups, ", ")))
		}
	}
	return problems
}

// checkGatewayMAC holds the pod's neighbour entry for its gateway against the gateway router port's
// MAC: frames sent to any other MAC never reach the router.
func (wk *walker) checkGatewayMAC(p *Pod, sp *SwitchPort, ps *podSide) {
	if sp == nil || ps.direct || !ps.gateway.IsValid() || ps.nextMAC == "" {
		return
	}
	rp := wk.gatewayPortQuiet(sp.Switch, ps.gateway)
	if rp == nil || NormalizeMAC(rp.MAC) == "" || NormalizeMAC(rp.MAC) == ps.nextMAC {
		return
	}
	detail := fmt.Sprintf("pod %s/%s sends to its gateway %s at MAC %s (its neighbour entry), but router port %s has %s", p.Namespace, p.Name, ps.gateway, ps.nextMAC, rpName(rp), NormalizeMAC(rp.MAC))
	if n := len(wk.w.Hops); n > 0 && wk.w.Hops[n-1].Kind == HopUplink {
		h := &wk.w.Hops[n-1]
		h.Status, h.Detail = StatusBroken, detail
		h.Evidence = append(h.Evidence, ev(cmp.Or(rp.Source, wk.ix.fab.f.Provider), "router port %s mac %s", rpName(rp), NormalizeMAC(rp.MAC)))
		return
	}
	wk.add(Hop{Kind: HopUplink, Name: "gateway MAC", Node: p.Node, MAC: ps.nextMAC, Status: StatusBroken, Detail: detail})
}

func containsMAC(ms []string, m string) bool {
	for _, x := range ms {
		if NormalizeMAC(x) == m {
			return true
		}
	}
	return false
}

// portNode says which Kubernetes node a VIF belongs to: its ncp/node_name tag, else the MAC of a
// node's uplink interface among its bindings, else a node address among its IPs.
func (ix *Index) portNode(sp *SwitchPort) string {
	if sp.NodeName != "" {
		return sp.NodeName
	}
	for _, ip := range sp.IPs {
		if a, ok := ParseAddr(ip); ok {
			if n := ix.nodesByIP[a]; n != nil {
				return n.Name
			}
		}
	}
	return ""
}

// findPodPort finds the logical port of a pod: the fabric's own pod tag, else its IP binding,
// else its MAC binding; CHILD ports first.
func (wk *walker) findPodPort(p *Pod, ip netip.Addr, mac string) *SwitchPort {
	fab := wk.ix.fab
	var cands []*SwitchPort
	cands = append(cands, fab.portsByIP[ip]...)
	if mac != "" {
		cands = append(cands, fab.portsByMAC[mac]...)
	}
	var best *SwitchPort
	score := -1
	for _, c := range cands {
		if c.Type == PortRouter {
			continue
		}
		s := 0
		if c.Pod != nil && c.Pod.Namespace == p.Namespace && c.Pod.Name == p.Name {
			s += 8
		}
		if c.Type == PortChild || c.TrafficTag != nil {
			s += 4
		}
		for _, x := range c.IPs {
			if a, ok := ParseAddr(x); ok && a == ip {
				s += 2
			}
		}
		if mac != "" && containsMAC(c.MACs, mac) {
			s++
		}
		if s > score || (s == score && c.ID < best.ID) {
			best, score = c, s
		}
	}
	return best
}

// switchHop adds the logical switch of a port.
func (wk *walker) switchHop(sp *SwitchPort, ip netip.Addr) *Switch {
	fab := wk.ix.fab
	sw := fab.switches[sp.Switch]
	h := Hop{Kind: HopSwitch, Name: fab.switchName(sp.Switch)}
	if sw == nil {
		h.Status, h.Detail = StatusUnknown, fmt.Sprintf("logical switch %s not in the fabric facts", sp.Switch)
		wk.add(h)
		return &Switch{ID: sp.Switch}
	}
	h.Evidence = append(h.Evidence, ev(cmp.Or(sw.Source, fab.f.Provider), "logical switch %s (%s) subnets %s", h.Name, sw.ID, strings.Join(sw.Subnets, ",")))
	h.Detail = "subnet " + strings.Join(sw.Subnets, ",")
	if len(sw.Subnets) > 0 && ip.IsValid() {
		in := false
		for _, s := range sw.Subnets {
			if p, ok := parsePrefix(s, ip); ok && p.Masked().Contains(ip) {
				in = true
			}
		}
		if !in {
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("%s is outside the subnets of switch %s (%s)", ip, h.Name, strings.Join(sw.Subnets, ","))
		}
	}
	wk.add(h)
	return sw
}

// gatewayEntry is the router port a packet from ip on switch swID enters by: the port owning gw
// (the sender's gateway from its routing table), else the switch's router port whose network holds
// ip. It is nil, with a hop saying why, when no gateway is known or no port on the switch owns it.
// Source and destination sides both leave their switch this way.
func (wk *walker) gatewayEntry(swID string, gw, ip netip.Addr) *RouterPort {
	if !gw.IsValid() {
		gw = wk.gatewayOf(swID, ip)
	}
	if !gw.IsValid() {
		wk.add(Hop{Kind: HopRouter, Name: "gateway", Status: StatusUnknown,
			Detail: fmt.Sprintf("no gateway known for switch %s", wk.ix.fab.switchName(swID))})
		return nil
	}
	return wk.gatewayPort(swID, gw)
}

// gatewayOf guesses the gateway of a switch when the pod's routing table is not known: the
// first address of a router port attached to the switch whose network holds ip.
func (wk *walker) gatewayOf(swID string, ip netip.Addr) netip.Addr {
	for _, rp := range wk.ix.fab.rpBySwitch[swID] {
		for _, n := range rp.Networks {
			if p, ok := parsePrefix(n, ip); ok && sameFamily(p.Addr(), ip) && p.Masked().Contains(ip) {
				return p.Addr()
			}
		}
	}
	return netip.Addr{}
}

func (wk *walker) gatewayPortQuiet(swID string, gw netip.Addr) *RouterPort {
	fab := wk.ix.fab
	for _, rp := range fab.rportByAddr[gw] {
		if sp := fab.swPortByRP[rp.ID]; sp != nil && sp.Switch == swID {
			return rp
		}
	}
	return nil
}

// gatewayPort finds the router port that owns the gateway address on the switch, or reports why not.
func (wk *walker) gatewayPort(swID string, gw netip.Addr) *RouterPort {
	fab := wk.ix.fab
	if rp := wk.gatewayPortQuiet(swID, gw); rp != nil {
		return rp
	}
	h := Hop{Kind: HopRouter, Name: "gateway", IP: gw.String(), Status: StatusBroken}
	if others := fab.rportByAddr[gw]; len(others) > 0 {
		h.Detail = fmt.Sprintf("gateway %s is on router %s, which is not attached to switch %s", gw, fab.routerName(others[0].Router), fab.switchName(swID))
	} else {
		h.Detail = fmt.Sprintf("no router port owns the gateway %s of switch %s", gw, fab.switchName(swID))
	}
	wk.add(h)
	return nil
}

// deliver finds, on the final switch, the port bound to the destination IP.
func (wk *walker) deliver(sw *Switch, d destination) *SwitchPort {
	fab := wk.ix.fab
	if sw.Subnets != nil || fab.switches[sw.ID] != nil {
		if !wk.lastHopIsSwitch(sw.ID) {
			wk.switchHop(&SwitchPort{Switch: sw.ID}, d.ip)
		}
	}
	var sp *SwitchPort
	for _, c := range fab.portsByIP[d.ip] {
		if c.Switch == sw.ID && c.Type != PortRouter {
			if sp == nil || c.ID < sp.ID {
				sp = c
			}
		}
	}
	if sp == nil {
		wk.add(Hop{Kind: HopFabricPort, Name: "logical port", IP: d.ip.String(), Status: StatusBroken,
			Detail: fmt.Sprintf("no logical port on switch %s is bound to %s", fab.switchName(sw.ID), d.ip)})
		return nil
	}
	h := Hop{Kind: HopFabricPort, Name: portName(sp), IP: d.ip.String(), VLAN: sp.TrafficTag, Node: wk.ix.portNode(sp)}
	if len(sp.MACs) > 0 {
		h.MAC = NormalizeMAC(sp.MACs[0])
	}
	h.Evidence = append(h.Evidence, ev(cmp.Or(sp.Source, fab.f.Provider), "%s", describePort(sp, fab)))
	if par := fab.parentOf(sp); par != nil {
		h.Evidence = append(h.Evidence, ev(cmp.Or(par.Source, fab.f.Provider), "parent VIF %s", describePort(par, fab)))
		if h.Node == "" {
			h.Node = wk.ix.portNode(par)
		}
		if sp.TrafficTag != nil {
			h.Detail = fmt.Sprintf("CHILD of %s, traffic_tag %d", portName(par), *sp.TrafficTag)
		}
	}
	if h.Node == "" && d.pod != nil {
		h.Node = d.pod.Node // the fabric does not name the node: the pod's does
	}
	if h.Detail == "" {
		h.Detail = fmt.Sprintf("%s port bound to %s", cmp.Or(sp.Type, "logical"), d.ip)
	}
	if sp.Up != nil && !*sp.Up {
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("logical port %s is down", portName(sp))
	}
	wk.add(h)
	return sp
}

func (wk *walker) lastHopIsSwitch(id string) bool {
	n := len(wk.w.Hops)
	return n > 0 && wk.w.Hops[n-1].Kind == HopSwitch && wk.w.Hops[n-1].Name == wk.ix.fab.switchName(id)
}
