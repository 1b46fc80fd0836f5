package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// The walks to a Service: one per endpoint, the service hop where the cluster balances, and the
// Service walk's verdict.

// walkService walks from src to every ready endpoint of the Service (or the one req.Endpoint
// names) and sums them up: reachable when any is, the first endpoint walk's hops up to its
// service hop as the Service walk's own.
func (ix *Index) walkService(req Request, src *Pod, st *svcTarget) (*Walk, error) {
	srcIP, err := sourceIP(req, src, st.vip)
	if err != nil {
		return nil, err
	}
	ix.findLB(st)
	eps := ix.endpoints(st)
	d := st.detail(eps)
	sw := &ServiceWalk{Namespace: st.svc.Namespace, Name: st.svc.Name, Type: d.Type, VIP: d.VIP, Protocol: d.Protocol,
		PortName: d.PortName, TargetPort: d.TargetPort, LoadBalancing: d.LoadBalancing, Endpoints: d.Endpoints, Ready: d.Ready}
	walkTo, err := endpointsToWalk(req, st, eps)
	if err != nil {
		return nil, err
	}
	out := &Walk{
		Source:      podEndpoint(src, srcIP),
		Destination: Endpoint{Kind: TargetService, Namespace: st.svc.Namespace, Name: st.svc.Name, IP: st.vip.String()},
		Service:     sw,
	}
	if len(walkTo) == 0 {
		ix.walkToVIP(out, req, src, srcIP, st, eps)
		return out, nil
	}
	for _, e := range walkTo {
		ew, err := ix.walkToEndpoint(req, src, srcIP, st, e, eps)
		if err != nil {
			return nil, err
		}
		if ew.Walk.Verdict == VerdictReachable {
			sw.Reachable++
		}
		sw.Walks = append(sw.Walks, ew)
	}
	sumServiceWalk(out, sw)
	return out, nil
}

// countReady counts the ready endpoints.
func countReady(eps []svcEndpoint) int {
	ready := 0
	for _, e := range eps {
		if e.ready {
			ready++
		}
	}
	return ready
}

// endpointsToWalk picks the endpoints to walk to: the one req.Endpoint names (an error when it
// names none), else every ready one.
func endpointsToWalk(req Request, st *svcTarget, eps []svcEndpoint) ([]svcEndpoint, error) {
	var walkTo []svcEndpoint
	for _, e := range eps {
		if req.Endpoint != "" {
			if e.ip.String() == req.Endpoint || e.String() == req.Endpoint || (e.pod != nil && e.pod.String() == req.Endpoint) {
				walkTo = append(walkTo, e)
			}
			continue
		}
		if e.ready {
			walkTo = append(walkTo, e)
		}
	}
	if req.Endpoint != "" && len(walkTo) == 0 {
		var names []string
		for _, e := range eps {
			names = append(names, e.String())
		}
		return nil, &RequestError{fmt.Sprintf("%s %s is not an endpoint of service %s/%s (its endpoints: %s)", req.Words.endpoint(), req.Endpoint, st.svc.Namespace, st.svc.Name, cmp.Or(strings.Join(names, ", "), "none"))}
	}
	return walkTo, nil
}

// walkToVIP fills out with the walk towards the address itself, broken at the service hop:
// there is no endpoint to walk to.
func (ix *Index) walkToVIP(out *Walk, req Request, src *Pod, srcIP netip.Addr, st *svcTarget, eps []svcEndpoint) {
	wk := ix.newServiceWalker(src, srcIP, st, nil, eps, req)
	wk.w.Destination = out.Destination
	wk.walk(src, srcIP, destination{ep: out.Destination, ip: st.vip}, Request{NoReturn: true})
	wk.placeService()
	wk.finish()
	out.Hops, out.Verdict, out.BrokenAt, out.Reason, out.Warnings = wk.w.Hops, wk.w.Verdict, wk.w.BrokenAt, wk.w.Reason, wk.w.Warnings
}

// walkToEndpoint walks from src through the Service to endpoint e.
func (ix *Index) walkToEndpoint(req Request, src *Pod, srcIP netip.Addr, st *svcTarget, e svcEndpoint, eps []svcEndpoint) (EndpointWalk, error) {
	dst, err := ix.resolveTarget(Target{Kind: TargetIP, IP: e.ip.String()})
	if err != nil {
		return EndpointWalk{}, err
	}
	wk := ix.newServiceWalker(src, srcIP, st, &e, eps, req)
	wk.w.Destination = dst.ep
	wk.walk(src, srcIP, dst, req)
	wk.placeService()
	wk.finish()
	return EndpointWalk{Endpoint: e.String(), Pod: e.pod, Node: e.node, Ready: e.ready, Walk: *wk.w}, nil
}

// sumServiceWalk gives out the first endpoint walk's hops up to its service hop, the verdict over
// all endpoint walks and every endpoint walk's warnings once.
func sumServiceWalk(out *Walk, sw *ServiceWalk) {
	first := sw.Walks[0].Walk
	for i, h := range first.Hops {
		if h.Kind == HopService {
			out.Hops = append([]Hop(nil), first.Hops[:i+1]...)
			break
		}
	}
	out.Verdict, out.Reason = serviceVerdict(sw)
	for _, h := range out.Hops {
		if h.Status == StatusBroken && out.Verdict == VerdictBroken {
			out.BrokenAt = h.Index
			break
		}
	}
	for _, ew := range sw.Walks {
		for _, m := range ew.Walk.Warnings {
			if !slices.Contains(out.Warnings, m) {
				out.Warnings = append(out.Warnings, m)
			}
		}
	}
}

// serviceVerdict: reachable when any endpoint walk is; else broken when every one is; else unknown.
func serviceVerdict(sw *ServiceWalk) (Verdict, string) {
	broken, unknown := 0, 0
	var firstBroken string
	for _, ew := range sw.Walks {
		switch ew.Walk.Verdict {
		case VerdictBroken:
			broken++
			if firstBroken == "" {
				firstBroken = fmt.Sprintf("%s: %s", ew.Endpoint, ew.Walk.Reason)
			}
		case VerdictUnknown:
			unknown++
		}
	}
	n := len(sw.Walks)
	summary := fmt.Sprintf("%d of %d walked endpoints reachable (%d of %d ready)", sw.Reachable, n, sw.Ready, sw.Endpoints)
	switch {
	case sw.Reachable > 0:
		return VerdictReachable, summary
	case broken == n:
		return VerdictBroken, summary + "; " + firstBroken
	}
	return VerdictUnknown, summary
}

// findLB sets st's fabric load balancer with the Service's VIP:port and protocol (st.lb, st.lbVIP),
// and where the cluster balances its traffic (st.balancing): once a Service walk, for all its
// endpoint walks.
func (ix *Index) findLB(st *svcTarget) {
	if ix.fab == nil {
		return
	}
	st.lb, st.lbVIP = ix.fabricLB(st)
	st.balancing = ix.fab.f.ServiceLoadBalancing
	if st.lb != nil && st.lb.Kind == LBKindNSXVirtualServer {
		st.balancing = LBFabric
	}
}

// fabricLB finds the fabric load balancer with the Service's VIP:port and protocol, and its VIP.
func (ix *Index) fabricLB(st *svcTarget) (best *LoadBalancer, bestVIP *LBVIP) {
	for _, x := range ix.fab.vips[st.vip] {
		lb, v := x.lb, x.vip
		if v.Port != 0 && v.Port != st.vipPort {
			continue
		}
		if !strings.EqualFold(cmp.Or(v.Protocol, lb.Protocol, ProtocolTCP), st.protocol) {
			continue
		}
		if best == nil || lb.ID < best.ID {
			best, bestVIP = lb, v
		}
	}
	return best, bestVIP
}

// lbVIP is one VIP of a fabric load balancer (fabIdx.vips).
type lbVIP struct {
	lb  *LoadBalancer
	vip *LBVIP
}

// indexVIPs indexes the fabric load balancers' VIPs by address, in the order the facts list them.
func (fab *fabIdx) indexVIPs() {
	fab.vips = map[netip.Addr][]lbVIP{}
	for i := range fab.f.LoadBalancers {
		lb := &fab.f.LoadBalancers[i]
		for j := range lb.VIPs {
			if a, ok := ParseAddr(lb.VIPs[j].IP); ok {
				fab.vips[a] = append(fab.vips[a], lbVIP{lb, &lb.VIPs[j]})
			}
		}
	}
}

// svcState is what a walker to a Service endpoint carries: the service hop to place where the
// cluster balances, and the reply's un-DNAT to place on the way back.
type svcState struct {
	st  *svcTarget
	ep  *svcEndpoint
	hop Hop
	// afterSwitch / beforeRouter / afterOVSPort say where the service hop goes.
	afterSwitch, beforeRouter string
	afterOVSPort              bool
	placed                    bool
	// returnAfterSwitch is the switch whose return hop the reply's un-DNAT follows ("" for node-ovs:
	// before the source's OVS port on the way back).
	returnAfterSwitch string
	returnPlaced      bool
}

// newServiceWalker prepares a walker to endpoint e (nil: no endpoint) with its service hop.
func (ix *Index) newServiceWalker(src *Pod, srcIP netip.Addr, st *svcTarget, e *svcEndpoint, eps []svcEndpoint, req Request) *walker {
	wk := &walker{ix: ix, dir: Forward, w: &Walk{
		Source: podEndpoint(src, srcIP),
	}}
	ss := &svcState{st: st, ep: e}
	ss.hop = ix.serviceHop(st, e, eps, req, srcIP, src.Node)
	srcSwitch := ""
	if ix.fab != nil {
		for _, sp := range ix.fab.portsByIP[srcIP] {
			if sp.Type != PortRouter {
				srcSwitch = ix.fab.switchName(sp.Switch)
			}
		}
	}
	lb := st.lb
	switch {
	case lb != nil && len(lb.Switches) > 0:
		ss.afterSwitch = srcSwitch
		for _, s := range lb.Switches {
			if ix.fab.switchName(s) == srcSwitch {
				ss.returnAfterSwitch = srcSwitch
			}
		}
		if ss.returnAfterSwitch == "" && lb.Kind == LBKindOVN && ss.hop.Status != StatusBroken {
			ss.hop.Status = StatusBroken
			ss.hop.Detail = fmt.Sprintf("load balancer %s with VIP %s is applied to switch %s, not to the source's switch %s: OVN balances a switch's VIPs only for packets entering from its own ports",
				cmp.Or(lb.Name, lb.ID), st.vipString(), ix.fabSwitchNames(lb.Switches), cmp.Or(srcSwitch, "(unknown)"))
		}
		if ss.returnAfterSwitch == "" {
			ss.returnAfterSwitch = srcSwitch
		}
	case lb != nil && len(lb.Routers) > 0:
		ss.beforeRouter = ix.fab.routerName(lb.Routers[0])
		ss.hop.Router = ss.beforeRouter
		ss.returnAfterSwitch = srcSwitch
	case ix.fab != nil && ix.fab.f.ServiceLoadBalancing == LBNodeOVS:
		ss.afterOVSPort = true
		ss.hop.Node = src.Node
	default:
		ss.afterSwitch = srcSwitch
		ss.returnAfterSwitch = srcSwitch
		if srcSwitch == "" {
			ss.afterOVSPort = true
		}
	}
	wk.svc = ss
	return wk
}

func (ix *Index) fabSwitchNames(ids []string) string {
	var out []string
	for _, id := range ids {
		out = append(out, ix.fab.switchName(id))
	}
	return strings.Join(out, ", ")
}

// serviceHop builds the load-balancing hop for a walk to endpoint e (nil when none is ready).
func (ix *Index) serviceHop(st *svcTarget, e *svcEndpoint, eps []svcEndpoint, req Request, srcIP netip.Addr, srcNode string) Hop {
	d := st.detail(eps)
	svcRef := d.Service
	h := Hop{Kind: HopService, Name: "svc/" + svcRef, IP: st.vip.String(), Service: d}
	src := cmp.Or(st.svc.Source, SourceKube)
	h.Evidence = append(h.Evidence, ev(src, "service %s type %s %s port %s -> targetPort %s", svcRef, d.Type, st.vipString(), portList(&Service{Ports: []ServicePort{*st.port}}), cmp.Or(st.port.TargetPort, strconv.Itoa(st.port.Port))))
	if st.nodePort {
		h.Evidence = append(h.Evidence, ev(src, "nodePort %d on every node: %s is node %s", st.vipPort, st.vip, ix.nodesByIP[st.vip].Name))
	}
	h.Evidence = append(h.Evidence, ev(src, "endpointslices: %d endpoints, %d ready%s", len(eps), d.Ready, endpointList(eps)))
	if e == nil {
		h.Status = StatusBroken
		if len(eps) == 0 {
			h.Detail = fmt.Sprintf("service %s has no endpoints (no EndpointSlice lists one: does its selector match a running pod?)", svcRef)
		} else {
			h.Detail = fmt.Sprintf("service %s has no ready endpoint (%d listed, none ready)", svcRef, len(eps))
		}
		return h
	}
	d.Endpoint = e.String()
	d.EndpointNode = e.node
	if e.pod != nil {
		d.EndpointPod = e.pod.String()
	}
	d.ChosenBy = ChosenEach
	if req.Endpoint != "" {
		d.ChosenBy = ChosenByRequest
	}
	h.NAT = &NATDetail{Type: NATDnat, Original: Packet{Src: srcIP.String(), Dst: st.vipString(), Protocol: st.protocol},
		Translated: Packet{Src: srcIP.String(), Dst: e.String(), Protocol: st.protocol}}
	h.Detail = fmt.Sprintf("%s -> endpoint %s", st.vipString(), e)
	if e.pod != nil {
		h.Detail += fmt.Sprintf(" (pod %s", e.pod)
		if e.node != "" {
			h.Detail += " on " + e.node
		}
		h.Detail += ")"
	}
	if !e.ready {
		h.Status = StatusBroken
		h.Detail = fmt.Sprintf("endpoint %s of service %s is not ready: it takes no new connections", e, svcRef)
		return h
	}
	ix.lbEvidence(&h, st, e, srcNode, req.Words)
	return h
}

func endpointList(eps []svcEndpoint) string {
	if len(eps) == 0 {
		return ""
	}
	var out []string
	for _, e := range eps {
		s := e.String()
		if !e.ready {
			s += " (not ready)"
		}
		out = append(out, s)
	}
	return ": " + strings.Join(out, ", ")
}

// lbEvidence checks the load balancer that must send the VIP to e: the fabric's (its VIP, the
// backend, the backend's health) or the node's OVS (ofproto/trace), and sets the hop's status.
func (ix *Index) lbEvidence(h *Hop, st *svcTarget, e *svcEndpoint, srcNode string, words Words) {
	if ix.fab == nil {
		h.Detail += "; load balancing not checked (no fabric facts)"
		return
	}
	if st.lb != nil {
		ix.fabricLBEvidence(h, st, e)
		return
	}
	if ix.fab.f.ServiceLoadBalancing == LBNodeOVS {
		ix.ovsLBEvidence(h, st, e, srcNode, words)
		return
	}
	if len(ix.fab.f.LoadBalancers) > 0 || ix.fab.f.ServiceLoadBalancing == LBFabric {
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("no %s load balancer on the path has VIP %s/%s: nothing sends the Service's traffic to its endpoints", ix.fab.f.Provider, st.vipString(), st.protocol)
		return
	}
	h.Detail += "; the fabric facts hold no load balancer: load balancing not checked"
}

// fabricLBEvidence shows the Service's fabric load balancer (st.lb) with its VIP's backends and
// breaks the hop when it is disabled, has no backend for e, or e's backend is down.
func (ix *Index) fabricLBEvidence(h *Hop, st *svcTarget, e *svcEndpoint) {
	d, lb, vip := h.Service, st.lb, st.lbVIP
	d.LoadBalancer = cmp.Or(lb.Name, lb.ID)
	lsrc := cmp.Or(lb.Source, ix.fab.f.Provider)
	backs, mine := lbBackends(vip, e)
	name := lb.Kind
	if vip.PoolName != "" || vip.Pool != "" {
		name += " pool " + cmp.Or(vip.PoolName, vip.Pool)
	}
	h.Evidence = append(h.Evidence, ev(lsrc, "%s %s%s: %s -> %s", name, d.LoadBalancer, ix.lbPlace(lb), hostPort(vip.IP, vip.Port), cmp.Or(strings.Join(backs, ", "), "no backends")))
	if lb.HealthCheck != nil {
		h.Evidence = append(h.Evidence, ev(lsrc, "health check %s %s", cmp.Or(lb.HealthCheck.Kind, "monitor"), cmp.Or(lb.HealthCheck.ID, "")))
	}
	switch {
	case lb.Enabled != nil && !*lb.Enabled:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("load balancer %s for %s is disabled", d.LoadBalancer, st.vipString())
	case mine == nil:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("load balancer %s does not send %s to endpoint %s (its backends: %s)", d.LoadBalancer, st.vipString(), e, cmp.Or(strings.Join(backs, ", "), "none"))
	case mine.Status == BackendDown || mine.Status == BackendDisabled:
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("pool member %s of %s is %s%s: the load balancer sends it nothing", hostPort(mine.IP, mine.Port), d.LoadBalancer, mine.Status, paren(mine.StatusDetail))
	}
	for _, w := range lb.Warnings {
		h.Evidence = append(h.Evidence, ev(lsrc, "warning: %s", w))
	}
}

// lbPlace says where lb sits: " on switch ... on router ...", or "" when the facts do not say.
func (ix *Index) lbPlace(lb *LoadBalancer) string {
	where := ""
	if len(lb.Switches) > 0 {
		where = " on switch " + ix.fabSwitchNames(lb.Switches)
	}
	if len(lb.Routers) > 0 {
		var rs []string
		for _, r := range lb.Routers {
			rs = append(rs, ix.fab.routerName(r))
		}
		where += " on router " + strings.Join(rs, ", ")
	}
	return where
}

// lbBackends lists vip's backends with their status and returns the one that is endpoint e (nil
// when none is).
func lbBackends(vip *LBVIP, e *svcEndpoint) ([]string, *LBBackend) {
	var backs []string
	var mine *LBBackend
	for i := range vip.Backends {
		b := &vip.Backends[i]
		s := hostPort(b.IP, b.Port)
		if b.Status != "" {
			s += " " + b.Status
		}
		backs = append(backs, s)
		if a, ok := ParseAddr(b.IP); ok && a == e.ip && (b.Port == 0 || b.Port == e.port) {
			mine = b
		}
	}
	return backs, mine
}

// ovsLBEvidence shows the source node's ofproto/trace of the VIP, when one was taken: the OVS
// groups balancing it and the conntrack DNAT it picks.
func (ix *Index) ovsLBEvidence(h *Hop, st *svcTarget, e *svcEndpoint, srcNode string, words Words) {
	d := h.Service
	if ni := ix.states[srcNode]; ni != nil {
		for _, t := range ni.st.OFProtoTraces {
			if t.Dst != st.vipString() || t.Error != "" {
				continue
			}
			d.LoadBalancer = cmp.Or(strings.Join(t.Groups, ","), t.Bridge)
			h.Evidence = append(h.Evidence, ev(cmp.Or(t.Source, "ofproto@"+srcNode), "ofproto/trace %s %s: datapath actions %s", t.Bridge, t.Flow, t.DatapathActions))
			if t.NAT != "" {
				h.Evidence = append(h.Evidence, ev(cmp.Or(t.Source, "ofproto@"+srcNode), "conntrack DNAT to %s", t.NAT))
				if t.NAT == e.String() || t.NAT == e.ip.String() {
					d.ChosenBy = ChosenByOFProto
				}
			}
		}
	}
	if d.LoadBalancer == "" {
		h.Detail += "; balanced by the source node's OVS (OpenFlow groups): "
		if words.OFProtoTrace == "" {
			h.Detail += "its ofproto/trace shows the bucket it picks"
		} else {
			h.Detail += "run with " + words.OFProtoTrace + " to see the bucket it picks"
		}
	}
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// placeBefore adds the service hop before h when h is the router where the load balancer is.
func (ss *svcState) placeBefore(wk *walker, h *Hop) {
	if ss.placed || wk.dir != Forward || ss.beforeRouter == "" || h.Kind != HopRouter || h.Router != ss.beforeRouter {
		return
	}
	ss.placed = true
	wk.add(ss.hop)
}

// placeAfter adds the service hop after h when h is where the cluster balances, and the reply's
// un-DNAT on the way back.
func (ss *svcState) placeAfter(wk *walker, h Hop) {
	switch {
	case wk.dir == Forward && !ss.placed:
		if (ss.afterSwitch != "" && h.Kind == HopSwitch && h.Name == ss.afterSwitch) ||
			(ss.afterOVSPort && h.Kind == HopOVSPort && h.Node == wk.w.Source.Node) {
			ss.placed = true
			wk.add(ss.hop)
		}
	case wk.dir == Return && ss.placed && !ss.returnPlaced && ss.hop.NAT != nil:
		if (ss.returnAfterSwitch != "" && h.Kind == HopSwitch && h.Name == ss.returnAfterSwitch) ||
			(ss.returnAfterSwitch == "" && h.Kind == HopMACTable && h.Node == wk.w.Source.Node) {
			ss.returnPlaced = true
			n := ss.hop.NAT
			node := ""
			if ss.returnAfterSwitch == "" {
				node = wk.w.Source.Node
			}
			wk.add(Hop{Kind: HopNAT, Name: "un-DNAT " + ss.st.vipString(), IP: ss.st.vip.String(), Node: node,
				Detail: fmt.Sprintf("reply from %s leaves as from %s (connection tracking)", n.Translated.Dst, n.Original.Dst),
				NAT: &NATDetail{Type: NATDnat, Reverse: true, Original: Packet{Src: n.Translated.Dst, Dst: n.Original.Src, Protocol: n.Original.Protocol},
					Translated: Packet{Src: n.Original.Dst, Dst: n.Original.Src, Protocol: n.Original.Protocol}},
				Evidence: []Evidence{ev(SourceEngine, "the load balancer's connection entry reverses its DNAT")}})
		}
	}
}

// placeService adds the service hop at the end of the forward path when the walk never met the
// place where the cluster balances (a router not on the way to the endpoint).
func (wk *walker) placeService() {
	ss := wk.svc
	if ss == nil || ss.placed {
		return
	}
	ss.placed = true
	h := ss.hop
	if h.Status != StatusBroken && ss.beforeRouter != "" {
		h.Detail += fmt.Sprintf("; the load balancer is on router %s, which the path to the endpoint does not cross: that leg is not walked", ss.beforeRouter)
	}
	// Forward hops first: the service hop goes right after them (before any return hop).
	i := 0
	for i < len(wk.w.Hops) && wk.w.Hops[i].Direction == Forward {
		i++
	}
	rest := append([]Hop(nil), wk.w.Hops[i:]...)
	wk.w.Hops = wk.w.Hops[:i]
	wk.svc = nil
	wk.add(h)
	for _, r := range rest {
		wk.dir = r.Direction
		wk.add(r)
	}
	wk.svc = ss
}
