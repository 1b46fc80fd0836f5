package trace

import (
	"cmp"
	"fmt"
	"net/netip"
)

// maxRouterHops bounds a walk through routers; a longer path is reported as a loop.
const maxRouterHops = 32

// WalkSnapshot walks one request over a snapshot. For many walks over one snapshot, build an
// Index once and call its Walk.
func WalkSnapshot(s *Snapshot, req Request) (*Walk, error) {
	return NewIndex(s).Walk(req)
}

// walker carries the state of one walk.
type walker struct {
	ix  *Index
	w   *Walk
	dir Direction
	// svc places the load-balancing step of a walk to a Service endpoint (service.go).
	svc *svcState
	// exit is where the walk left the fabric and the SNAT it got (nat.go).
	exit *exitState
	// proto and dstPort are the walk's protocol and destination port (IP:PORT targets).
	proto   string
	dstPort int
	// fw are the forward path's firewall decisions (firewall.go).
	fw []fwDecision
}

// Walk computes the path for req. It returns a *RequestError when the source or destination
// is not in the snapshot; everything else is reported on the walk.
func (ix *Index) Walk(req Request) (*Walk, error) {
	src, ok := ix.pods[req.Source.String()]
	if !ok {
		return nil, &RequestError{fmt.Sprintf("pod %s not found in the snapshot%s", req.Source, ix.suggestPods(req.Source))}
	}
	if src.HostNetwork {
		return nil, &RequestError{fmt.Sprintf("pod %s uses the host network: trace from a pod with its own network namespace, or trace its node", req.Source)}
	}
	if st, err := ix.serviceTarget(req.To, req.Words); err != nil || st != nil {
		if err != nil {
			return nil, err
		}
		return ix.walkService(req, src, st)
	}
	if req.Endpoint != "" {
		return nil, &RequestError{fmt.Sprintf("%s is for a walk to a Service, and %s is none in the facts: drop %s or name the Service with svc/NS/NAME", req.Words.endpoint(), req.To, req.Words.endpoint())}
	}
	dst, err := ix.resolveTarget(req.To)
	if err != nil {
		return nil, err
	}
	srcIP, err := sourceIP(req, src, dst.ip)
	if err != nil {
		return nil, err
	}
	wk := &walker{ix: ix, dir: Forward, w: &Walk{
		Source:      podEndpoint(src, srcIP),
		Destination: dst.ep,
	}, proto: req.To.Protocol, dstPort: targetPort(req.To)}
	if m := ix.vipWarning(dst.ip); m != "" {
		wk.w.Warnings = append(wk.w.Warnings, m)
	}
	if dst.ep.Kind == TargetIP && ix.fab != nil && !wk.inFabric(dst.ip) {
		wk.w.Warnings = append(wk.w.Warnings, fmt.Sprintf("%s is neither a pod, a node nor an address in the fabric facts: walking to it as an address outside the cluster", dst.ip))
		wk.w.Destination.Kind = TargetExternal
	}
	wk.walk(src, srcIP, dst, req)
	wk.finish()
	return wk.w, nil
}

// sourceIP picks src's address of dst's family, or says why there is none.
func sourceIP(req Request, src *Pod, dst netip.Addr) (netip.Addr, error) {
	if ip, ok := pickIP(src.IPs, dst); ok {
		return ip, nil
	}
	if len(src.IPs) == 0 {
		return netip.Addr{}, &RequestError{fmt.Sprintf("pod %s has no IP yet (is it running?)", req.Source)}
	}
	return netip.Addr{}, &RequestError{fmt.Sprintf("pod %s has no IP of the same family as %s", req.Source, dst)}
}

// podEndpoint is pod p at its address ip as one end of a walk.
func podEndpoint(p *Pod, ip netip.Addr) Endpoint {
	return Endpoint{Kind: TargetPod, Namespace: p.Namespace, Name: p.Name, Node: p.Node, IP: ip.String()}
}

// destination is the resolved target of a walk.
type destination struct {
	ep  Endpoint
	ip  netip.Addr
	pod *Pod
	// rport is the router port whose own address the destination is: the walk ends at its router.
	rport *RouterPort
}

// add appends a hop, numbering it and marking its direction.
func (wk *walker) add(h Hop) {
	if wk.svc != nil {
		wk.svc.placeBefore(wk, &h)
	}
	h.Index = len(wk.w.Hops) + 1
	h.Direction = wk.dir
	if h.Status == "" {
		h.Status = StatusOK
	}
	wk.w.Hops = append(wk.w.Hops, h)
	if wk.svc != nil {
		wk.svc.placeAfter(wk, h)
	}
}

// finish sets the verdict from the hops: the first hop broken on its own (the root cause; hops
// it explains are marked), else the first unknown one.
func (wk *walker) finish() {
	wk.fillPackets()
	wk.ofprotoEvidence()
	wk.explainConsequences()
	w := wk.w
	w.Verdict = VerdictReachable
	for i, h := range w.Hops {
		if h.Status == StatusBroken && h.ConsequenceOf == 0 {
			w.Verdict, w.BrokenAt, w.Reason = VerdictBroken, h.Index, h.Detail
			// The packet goes no further: hops after the break were not reached, so they are not listed.
			w.Hops = w.Hops[:i+1]
			return
		}
	}
	for _, h := range w.Hops {
		if h.Status == StatusUnknown {
			w.Verdict, w.Reason = VerdictUnknown, h.Detail
			return
		}
	}
}

// podSide is what the walk learned on a pod's node: the L2 facts the fabric hops check against.
type podSide struct {
	node     string
	ni       *nodeIdx
	mac      string
	hostVeth string
	ovsPort  *Port
	vlan     *int
	gateway  netip.Addr // next hop from the pod's routing table (invalid when direct)
	direct   bool       // destination on-link (the pod has a route to it)
	nextMAC  string     // MAC of the next hop (gateway or on-link destination) from the neighbour table
	// refreshed: the pod sent a packet just before its node was read, so its MAC-table entries
	// must be there; pendingUplink is the uplink hop whose router MAC is missing all the same,
	// broken unless a configuration fault after it explains the missing reply (settleUplink).
	refreshed     bool
	pendingUplink int
}

func (wk *walker) walk(src *Pod, srcIP netip.Addr, dst destination, req Request) {
	srcPort, dstPort := wk.podToDestination(src, srcIP, dst)
	if req.NoReturn || wk.brokenSoFar() {
		return
	}
	if dst.ep.Kind == TargetIP {
		wk.dir = Return
		wk.externalReturn(src, srcIP, srcPort, dst)
		return
	}
	wk.dir = Return
	wk.returnPath(src, srcIP, srcPort, dst, dstPort)
}

// podToDestination walks from a pod to a destination: the pod's node-side layers, its logical
// port, the switch, the routers and the destination's side. It returns the pod's logical port and
// the one the destination was delivered to.
func (wk *walker) podToDestination(src *Pod, srcIP netip.Addr, dst destination) (srcPort, dstPort *SwitchPort) {
	ix := wk.ix
	ps := wk.sourceL2(src, srcIP, dst.ip)
	fab := ix.fab
	if fab == nil {
		wk.uplinkHop(ps, ps.nextMAC, "router")
		wk.settleUplink(ps)
		wk.add(Hop{Kind: HopFabricPort, Name: "fabric", Node: src.Node, Status: StatusUnknown, Hint: HintFabricFacts,
			Detail: "no fabric facts: the logical switches and routers are not walked"})
		wk.destinationHop(dst, nil)
		return nil, nil
	}
	srcPort = wk.sourceFabricPort(src, srcIP, dst.ip, ps)
	if srcPort == nil {
		wk.settleUplink(ps)
		wk.destinationHop(dst, nil)
		return nil, nil
	}
	wk.firewallHop(srcPort, FirewallEgress, flow{src: srcIP, dst: dst.ip, srcPort: srcPort, dstPort: wk.portOfIP(dst.ip)})
	sw := wk.switchHop(srcPort, srcIP)
	var final *Switch
	if ps.direct {
		wk.settleUplink(ps)
		final = sw
	} else {
		entry := wk.gatewayEntry(srcPort.Switch, ps.gateway, srcIP)
		wk.settleUplink(ps)
		if entry != nil {
			var at *RouterPort
			final, at = wk.route(entry, dst.ip)
			if at != nil {
				wk.routerDestinationHop(dst, at)
				return srcPort, nil
			}
		}
	}
	if final != nil {
		if dst.rport != nil {
			wk.routerOnSwitch(final, dst)
			return srcPort, nil
		}
		dstPort = wk.deliver(final, dst)
		wk.overlayAtDelivery(srcPort, dstPort, flow{src: srcIP, dst: dst.ip, srcPort: srcPort, dstPort: dstPort}, wk.ix.mtuAt(src.Node, srcIP))
	}
	wk.destinationHop(dst, dstPort)
	return srcPort, dstPort
}

// brokenSoFar reports whether a hop walked so far is broken: the packet goes no further.
func (wk *walker) brokenSoFar() bool {
	for _, h := range wk.w.Hops {
		if h.Status == StatusBroken {
			return true
		}
	}
	return false
}

// settleUplink decides a refreshed pod's missing router MAC: a consequence of a broken hop after the
// uplink (the answer could not come back: a VLAN mismatch, a port down, no gateway; marked by
// explainConsequences), else broken on its own.
func (wk *walker) settleUplink(ps *podSide) {
	i := ps.pendingUplink
	if i == 0 {
		return
	}
	ps.pendingUplink = 0
	if causeAfter(wk.w.Hops, i-1) == nil {
		wk.w.Hops[i-1].Status = StatusBroken
	}
}

// hopKindOf is the kind of the hop that ends a walk to a destination of kind k.
func hopKindOf(k TargetKind) HopKind {
	switch k {
	case TargetPod:
		return HopPod
	case TargetNode:
		return HopNode
	case TargetRouter:
		return HopRouter
	}
	return HopIP
}

// destinationHop adds the destination itself, checking its interface when its node's facts exist.
func (wk *walker) destinationHop(d destination, sp *SwitchPort) {
	ix := wk.ix
	h := Hop{Kind: hopKindOf(d.ep.Kind), Name: d.ep.String(), Node: d.ep.Node, IP: d.ip.String()}
	if d.ep.Kind == TargetIP {
		if sp == nil && wk.leftFabric() {
			h.Detail = fmt.Sprintf("%s is outside the fabric: reached beyond the uplink", d.ip)
			wk.add(h)
			return
		}
		if sp == nil {
			h.Status, h.Detail = StatusUnknown, fmt.Sprintf("%s is neither a pod, a node nor a port in the facts", d.ip)
		} else {
			h.Detail = "bound to logical port " + portName(sp)
		}
		wk.add(h)
		return
	}
	ni := ix.states[d.ep.Node]
	if ni == nil {
		h.Detail = fmt.Sprintf("no facts from node %s: its interfaces are not checked", d.ep.Node)
		wk.add(h)
		return
	}
	ns := ni.destNetns(d)
	if ns == nil {
		h.Detail = fmt.Sprintf("no network namespace on node %s holds %s: not checked", d.ep.Node, d.ip)
		wk.add(h)
		return
	}
	h.Netns = ns.Name
	nsSrc := cmp.Or(ns.Source, SourceNetlink+"@"+d.ep.Node)
	if d.pod != nil && !d.pod.HostNetwork {
		wk.destL2(d, ni, ns, sp)
	}
	link, addr := linkHolding(ns, d.ip)
	if addr != nil {
		h.Evidence = append(h.Evidence, ev(nsSrc, "%s has %s", addr.Link, addr.CIDR))
	}
	if link == nil {
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("no interface in netns %s on node %s holds %s", ns.Name, d.ep.Node, d.ip)
		wk.add(h)
		return
	}
	h.Interface, h.MAC = link.Name, NormalizeMAC(link.MAC)
	h.Evidence = append(h.Evidence, ev(nsSrc, "%s index %d mac %s state %s", link.Name, link.Index, h.MAC, linkState(link)))
	if !link.Up() {
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("%s on %s is down", link.Name, d.ep.String())
	} else {
		h.Detail = fmt.Sprintf("%s holds %s", link.Name, d.ip)
	}
	wk.add(h)
}

// inFabric reports whether dst is bound to a logical port: leaving by an uplink cannot reach it.
func (wk *walker) inFabric(dst netip.Addr) bool { return wk.portOfIP(dst) != nil }
