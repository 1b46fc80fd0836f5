package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// routerOnSwitch ends a walk to a router address on the switch the packet reached (an on-link
// gateway): the router port must be attached to that switch.
func (wk *walker) routerOnSwitch(sw *Switch, dst destination) {
	fab := wk.ix.fab
	if sp := fab.swPortByRP[dst.rport.ID]; sp == nil || sp.Switch != sw.ID {
		if !wk.lastHopIsSwitch(sw.ID) {
			wk.switchHop(&SwitchPort{Switch: sw.ID}, dst.ip)
		}
		wk.add(Hop{Kind: HopRouter, Name: fab.routerName(dst.rport.Router), Router: fab.routerName(dst.rport.Router), Interface: rpName(dst.rport),
			IP: dst.ip.String(), Status: StatusBroken,
			Detail: fmt.Sprintf("%s is the address of port %s of router %s, which is not attached to switch %s", dst.ip, rpName(dst.rport), fab.routerName(dst.rport.Router), fab.switchName(sw.ID))})
		return
	}
	wk.routerDestinationHop(dst, dst.rport)
}

// routerDestinationHop is the last hop of a walk to a router's own address: the router answers
// for every address of its own, whichever port the packet entered by.
func (wk *walker) routerDestinationHop(dst destination, entry *RouterPort) {
	fab := wk.ix.fab
	rp := dst.rport
	name := fab.routerName(rp.Router)
	h := Hop{Kind: HopRouter, Name: name, Router: name, Interface: rpName(rp), IP: dst.ip.String(), MAC: NormalizeMAC(rp.MAC)}
	if r := fab.routers[rp.Router]; r != nil {
		h.Evidence = append(h.Evidence, ev(cmp.Or(r.Source, fab.f.Provider), "router %s (%s) %s", name, rp.Router, strings.ToUpper(cmp.Or(r.Tier, "router"))))
	}
	h.Evidence = append(h.Evidence, ev(cmp.Or(rp.Source, fab.f.Provider), "%s port %s %s mac %s", cmp.Or(rp.Kind, "router"), rpName(rp), strings.Join(rp.Networks, ","), NormalizeMAC(rp.MAC)))
	switch {
	case rp.Up != nil && !*rp.Up:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("router port %s on %s is down", rpName(rp), name)
	case entry != nil && entry.ID != rp.ID:
		h.Detail = fmt.Sprintf("%s is the address of port %s: the router answers itself (entered by %s)", dst.ip, rpName(rp), rpName(entry))
	default:
		h.Detail = fmt.Sprintf("%s is the address of port %s: the router answers itself", dst.ip, rpName(rp))
	}
	wk.add(h)
}

// routeChoice is the route a router picked for a destination.
type routeChoice struct {
	prefix  netip.Prefix
	nextHop netip.Addr
	out     *RouterPort
	origin  string
	source  string
	discard bool
}

// lookup does the longest-prefix match on a router: its connected networks and its routes.
// A connected route wins a tie.
func (fab *fabIdx) lookup(routerID string, dst netip.Addr) (routeChoice, bool) {
	best := routeChoice{}
	bits := -1
	for _, rp := range fab.rportsBy[routerID] {
		for _, n := range rp.Networks {
			p, ok := parsePrefix(n, dst)
			if !ok || !sameFamily(p.Addr(), dst) || !p.Masked().Contains(dst) {
				continue
			}
			if p.Bits() > bits {
				best, bits = routeChoice{prefix: p.Masked(), out: rp, origin: OriginConnected, source: cmp.Or(rp.Source, fab.f.Provider)}, p.Bits()
			}
		}
	}
	for _, r := range fab.routes[routerID] {
		p, ok := parsePrefix(r.Prefix, dst)
		if !ok || !sameFamily(p.Addr(), dst) || !p.Masked().Contains(dst) || p.Bits() <= bits {
			continue
		}
		c := routeChoice{prefix: p.Masked(), origin: cmp.Or(r.Origin, OriginStatic), source: cmp.Or(r.Source, fab.f.Provider)}
		if nh, ok := ParseAddr(r.NextHop); ok {
			c.nextHop = nh
		} else {
			c.discard = true
		}
		if r.OutPort != "" {
			c.out = fab.rports[r.OutPort]
		}
		best, bits = c, p.Bits()
	}
	return best, bits >= 0
}

// route walks routers from the entry port to the switch where dst is delivered (nil if it is not),
// or to the router that owns dst itself (its port returned as at, the hop left to the caller).
func (wk *walker) route(entry *RouterPort, dst netip.Addr) (final *Switch, at *RouterPort) {
	seen := map[string]bool{}
	for i := 0; i < maxRouterHops; i++ {
		h, ok := wk.enterRouter(entry, dst, seen)
		if !ok {
			return nil, nil
		}
		if wk.ix.fab.ownPort(entry.Router, dst) != nil {
			return nil, entry
		}
		rc, ok := wk.pickRoute(&h, entry.Router, dst)
		if !ok {
			return nil, nil
		}
		var next *RouterPort
		if rc.origin == OriginConnected {
			final, next = wk.forwardConnected(h, rc, dst)
		} else {
			next = wk.forwardVia(h, rc, entry.Router, dst)
		}
		if final != nil || next == nil {
			return final, nil
		}
		entry = next
	}
	wk.add(Hop{Kind: HopRouter, Name: "routing loop", Status: StatusBroken,
		Detail: fmt.Sprintf("more than %d router hops to %s: routing loop", maxRouterHops, dst)})
	return nil, nil
}

// enterRouter is the router hop of a packet entering by port entry, with its evidence; ok is false
// (the hop added, saying why) when the packet goes no further: an unknown router or tier, a loop,
// a port down.
func (wk *walker) enterRouter(entry *RouterPort, dst netip.Addr, seen map[string]bool) (h Hop, ok bool) {
	fab := wk.ix.fab
	rid := entry.Router
	r := fab.routers[rid]
	h = Hop{Kind: HopRouter, Name: fab.routerName(rid), Router: fab.routerName(rid), Interface: rpName(entry), MAC: NormalizeMAC(entry.MAC)}
	if ip := portAddrFor(entry, dst); ip.IsValid() {
		h.IP = ip.String()
	}
	tier := ""
	if r != nil {
		tier = r.Tier
		h.Evidence = append(h.Evidence, ev(cmp.Or(r.Source, fab.f.Provider), "router %s (%s) %s", h.Name, rid, strings.ToUpper(cmp.Or(r.Tier, "router"))))
	}
	h.Evidence = append(h.Evidence, ev(cmp.Or(entry.Source, fab.f.Provider), "enters by %s port %s %s mac %s", cmp.Or(entry.Kind, "router"), rpName(entry), strings.Join(entry.Networks, ","), NormalizeMAC(entry.MAC)))
	switch {
	case r == nil:
		h.Status, h.Detail = StatusUnknown, fmt.Sprintf("router %s of port %s not in the fabric facts", rid, rpName(entry))
	case tier != "" && tier != Tier0 && tier != Tier1:
		h.Status, h.Detail = StatusUnknown, fmt.Sprintf("router %s has unknown tier %q", h.Name, tier)
	case seen[rid]:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("routing loop: %s reached router %s twice", dst, h.Name)
	default:
		seen[rid] = true
		if entry.Up != nil && !*entry.Up {
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("router port %s on %s is down", rpName(entry), h.Name)
			break
		}
		return h, true
	}
	wk.add(h)
	return h, false
}

// pickRoute is the router's longest-prefix match for dst, added to h's evidence; ok is false (h
// added, broken) when there is no route or the route discards.
func (wk *walker) pickRoute(h *Hop, rid string, dst netip.Addr) (rc routeChoice, ok bool) {
	rc, ok = wk.ix.fab.lookup(rid, dst)
	if !ok {
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("no route to %s on router %s", wk.destPrefix(dst), h.Name)
		wk.add(*h)
		return rc, false
	}
	h.Evidence = append(h.Evidence, ev(rc.source, "%s", rc.fact()))
	if rc.discard {
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("route %s on router %s discards the packet (no next hop)", rc.prefix, h.Name)
		wk.add(*h)
		return rc, false
	}
	return rc, true
}

// fact is the route as evidence: prefix, next hop, egress port and origin.
func (rc routeChoice) fact() string {
	s := fmt.Sprintf("route %s", rc.prefix)
	if rc.nextHop.IsValid() {
		s += " via " + rc.nextHop.String()
	}
	if rc.out != nil {
		s += " out " + rpName(rc.out)
	}
	return s + " (" + rc.origin + ")"
}

// forwardConnected adds the router hop h for a connected route: dst is delivered on the switch of
// the egress port (final), or on a router link the peer router owns it (next); both nil when the
// packet goes no further (h says why).
func (wk *walker) forwardConnected(h Hop, rc routeChoice, dst netip.Addr) (final *Switch, next *RouterPort) {
	fab := wk.ix.fab
	out := rc.out
	if out.Up != nil && !*out.Up {
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("router port %s on %s is down", rpName(out), h.Name)
		wk.add(h)
		return nil, nil
	}
	sp := fab.swPortByRP[out.ID]
	if sp == nil {
		if peer := fab.rports[out.PeerRouterPort]; peer != nil {
			// dst on a router link: only the peer router's own address answers there.
			if portHolds(peer, dst) && fab.ownPort(peer.Router, dst) != nil {
				h.Detail = fmt.Sprintf("%s connected on link port %s to %s", rc.prefix, rpName(out), rpName(peer))
				wk.add(h)
				return nil, peer
			}
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("%s is on link %s of %s, but no router port there owns it", dst, strings.Join(out.Networks, ","), h.Name)
			wk.add(h)
			return nil, nil
		}
		h.Status, h.Detail = StatusUnknown, fmt.Sprintf("port %s of router %s (%s) is attached to no logical switch in the fabric facts", rpName(out), h.Name, rc.prefix)
		wk.add(h)
		return nil, nil
	}
	h.Detail = fmt.Sprintf("%s connected on %s %s", rc.prefix, rpName(out), strings.Join(out.Networks, ","))
	wk.add(h)
	return fab.switchOf(sp.Switch), nil
}

// forwardVia adds the router hop h for a route with a next hop: the egress port is the one whose
// network holds the next hop, and the next router's port is the one owning it (nil when the packet
// goes no further, or leaves the fabric by an uplink).
func (wk *walker) forwardVia(h Hop, rc routeChoice, rid string, dst netip.Addr) *RouterPort {
	fab := wk.ix.fab
	out := rc.out
	if out == nil {
		out = egressFor(fab.rportsBy[rid], rc.nextHop)
	}
	switch {
	case out == nil:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("next hop %s of route %s on router %s is on none of its ports", rc.nextHop, rc.prefix, h.Name)
	case !portHolds(out, rc.nextHop):
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("next hop %s is not a host address of %s on %s (network or broadcast address)", rc.nextHop, strings.Join(out.Networks, ","), rpName(out))
	case out.Up != nil && !*out.Up:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("router port %s on %s is down", rpName(out), h.Name)
	default:
		next := wk.nextRouterPort(out, rc.nextHop)
		if next == nil {
			wk.noNextRouter(h, rc, rid, out, dst)
			return nil
		}
		h.Detail = fmt.Sprintf("route %s via %s (%s) out %s", rc.prefix, rc.nextHop, rc.origin, rpName(out))
		wk.add(h)
		wk.leaveBy(rid, out, dst)
		return next
	}
	wk.add(h)
	return nil
}

// noNextRouter adds the router hop h when no router port owns the next hop: by an uplink the
// packet leaves the fabric (unless dst is in it); anywhere else the route is broken.
func (wk *walker) noNextRouter(h Hop, rc routeChoice, rid string, out *RouterPort, dst netip.Addr) {
	switch {
	case out.Kind == RouterPortUplink && wk.inFabric(dst):
		h.Status = StatusBroken
		h.Detail = fmt.Sprintf("no route to %s on router %s: only %s via %s, out uplink %s", wk.destPrefix(dst), h.Name, rc.prefix, rc.nextHop, rpName(out))
		wk.add(h)
	case out.Kind == RouterPortUplink:
		h.Detail = fmt.Sprintf("route %s via %s leaves the fabric by uplink %s", rc.prefix, rc.nextHop, rpName(out))
		wk.add(h)
		wk.leaveBy(rid, out, dst)
		wk.add(wk.externalHop(rc.nextHop, out, h.Name, dst))
	default:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("next hop %s (route %s on %s) answers on no router port", rc.nextHop, rc.prefix, h.Name)
		wk.add(h)
	}
}

// destPrefix names the destination for a "no route" reason: its switch's subnet when known.
func (wk *walker) destPrefix(dst netip.Addr) string {
	fab := wk.ix.fab
	for _, sp := range fab.portsByIP[dst] {
		if sw := fab.switches[sp.Switch]; sw != nil {
			for _, s := range sw.Subnets {
				if p, ok := parsePrefix(s, dst); ok && p.Masked().Contains(dst) {
					return p.Masked().String()
				}
			}
		}
	}
	return dst.String()
}

// ownPort is the port of router rid whose own address is a, or nil.
func (fab *fabIdx) ownPort(rid string, a netip.Addr) *RouterPort {
	for _, rp := range fab.rportByAddr[a] {
		if rp.Router == rid {
			return rp
		}
	}
	return nil
}

// portAddrFor returns the port's address in dst's family.
func portAddrFor(rp *RouterPort, dst netip.Addr) netip.Addr {
	var first netip.Addr
	for _, n := range rp.Networks {
		if a, ok := ParseAddr(n); ok {
			if !first.IsValid() {
				first = a
			}
			if sameFamily(a, dst) {
				return a
			}
		}
	}
	return first
}

func egressFor(ports []*RouterPort, nh netip.Addr) *RouterPort {
	for _, rp := range ports {
		for _, n := range rp.Networks {
			if p, ok := parsePrefix(n, nh); ok && sameFamily(p.Addr(), nh) && p.Masked().Contains(nh) {
				return rp
			}
		}
	}
	return nil
}

func portHolds(rp *RouterPort, nh netip.Addr) bool {
	for _, n := range rp.Networks {
		if p, ok := parsePrefix(n, nh); ok && sameFamily(p.Addr(), nh) && isHostOf(p, nh) {
			return true
		}
	}
	return false
}

// nextRouterPort finds the router port owning the next hop, preferring the egress port's peer.
func (wk *walker) nextRouterPort(out *RouterPort, nh netip.Addr) *RouterPort {
	fab := wk.ix.fab
	if peer := fab.rports[out.PeerRouterPort]; peer != nil {
		for _, n := range peer.Networks {
			if a, ok := ParseAddr(n); ok && a == nh {
				return peer
			}
		}
	}
	var cands []*RouterPort
	for _, rp := range fab.rportByAddr[nh] {
		if rp.Router != out.Router {
			cands = append(cands, rp)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].ID < cands[j].ID })
	return cands[0]
}
