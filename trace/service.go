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

// A walk to a Service is one walk per ready endpoint (or the one --endpoint names), each from the
// source pod with the load-balancing step (a service hop) where the cluster balances: on the
// source node's OVS (node-ovs), or where the fabric load balancer is applied (the source's switch
// or a router on the way). The Service is reachable when any endpoint walk is.

// parseServiceTarget parses NS/NAME[:PORT] (or NAME[:PORT] with defaultNS) after "svc/".
func parseServiceTarget(rest, defaultNS string) (Target, bool) {
	name, port, _ := strings.Cut(rest, ":")
	parts := strings.Split(name, "/")
	t := Target{Kind: TargetService, Port: port}
	switch {
	case len(parts) == 1 && parts[0] != "" && defaultNS != "":
		t.Namespace, t.Name = defaultNS, parts[0]
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		t.Namespace, t.Name = parts[0], parts[1]
	default:
		return Target{}, false
	}
	if strings.Contains(rest, ":") && port == "" {
		return Target{}, false
	}
	return t, true
}

// svcTarget is a resolved walk to a Service: the Service, its chosen port and the address and
// port the packet is sent to.
type svcTarget struct {
	svc      *Service
	port     *ServicePort
	vip      netip.Addr
	vipPort  int
	protocol string
	nodePort bool
}

func (st *svcTarget) vipString() string { return hostPort(st.vip.String(), st.vipPort) }

// hostPort writes IP:PORT ([IPv6]:PORT), or the IP alone for port 0.
func hostPort(ip string, port int) string {
	if port == 0 {
		return ip
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip + ":" + strconv.Itoa(port)
	}
	return netip.AddrPortFrom(a, uint16(port)).String()
}

// serviceTarget resolves t to a Service when it names one (svc/NS/NAME) or its address is one of a
// Service's ClusterIPs, external or load balancer IPs, or a node IP with a NodePort; nil otherwise.
func (ix *Index) serviceTarget(t Target) (*svcTarget, error) {
	switch t.Kind {
	case TargetService:
		svc := ix.service(t.Namespace, t.Name)
		if svc == nil {
			return nil, &RequestError{fmt.Sprintf("service %s/%s not found in the snapshot%s", t.Namespace, t.Name, ix.suggestServices(t.Namespace, t.Name))}
		}
		sp, err := pickServicePort(svc, t.Port, t.Protocol)
		if err != nil {
			return nil, err
		}
		st := &svcTarget{svc: svc, port: sp, vipPort: sp.Port, protocol: cmp.Or(sp.Protocol, ProtocolTCP)}
		for _, ip := range append(append(append([]string{}, svc.ClusterIPs...), svc.LoadBalancerIPs...), svc.ExternalIPs...) {
			if a, ok := parseAddr(ip); ok {
				st.vip = a
				break
			}
		}
		if !st.vip.IsValid() {
			return nil, &RequestError{fmt.Sprintf("service %s/%s has no ClusterIP, external or load balancer IP (headless or ExternalName): trace to one of its pods", svc.Namespace, svc.Name)}
		}
		return st, nil
	case TargetIP:
		a, ok := parseAddr(t.IP)
		if !ok {
			return nil, nil
		}
		port := 0
		if t.Port != "" {
			n, err := strconv.Atoi(t.Port)
			if err != nil || n < 1 || n > 65535 {
				return nil, &RequestError{fmt.Sprintf("--to %s: port %q is not a number from 1 to 65535", t.IP, t.Port)}
			}
			port = n
		}
		return ix.serviceByAddr(a, port, t.Protocol)
	}
	return nil, nil
}

// serviceByAddr finds the Service answering on a:port (port 0: any of its ports when it has one).
func (ix *Index) serviceByAddr(a netip.Addr, port int, proto string) (*svcTarget, error) {
	node := ix.nodesByIP[a] != nil
	for i := range ix.snap.Cluster.Services {
		svc := &ix.snap.Cluster.Services[i]
		vip := slices.ContainsFunc(append(append(append([]string{}, svc.ClusterIPs...), svc.LoadBalancerIPs...), svc.ExternalIPs...), func(s string) bool {
			b, ok := parseAddr(s)
			return ok && b == a
		})
		for j := range svc.Ports {
			sp := &svc.Ports[j]
			if proto != "" && !strings.EqualFold(cmp.Or(sp.Protocol, ProtocolTCP), proto) {
				continue
			}
			switch {
			case vip && (port == 0 && len(svc.Ports) == 1 || port == sp.Port):
				return &svcTarget{svc: svc, port: sp, vip: a, vipPort: sp.Port, protocol: cmp.Or(sp.Protocol, ProtocolTCP)}, nil
			case node && port != 0 && sp.NodePort == port:
				return &svcTarget{svc: svc, port: sp, vip: a, vipPort: port, protocol: cmp.Or(sp.Protocol, ProtocolTCP), nodePort: true}, nil
			}
		}
		if vip && port == 0 {
			return nil, &RequestError{fmt.Sprintf("%s is service %s/%s, which has ports %s: name one with --to svc/%s/%s:PORT or %s:PORT", a, svc.Namespace, svc.Name, portList(svc), svc.Namespace, svc.Name, a)}
		}
		if vip {
			return nil, &RequestError{fmt.Sprintf("%s is service %s/%s, which has no port %d%s (its ports: %s)", a, svc.Namespace, svc.Name, port, protoSuffix(proto), portList(svc))}
		}
	}
	return nil, nil
}

func protoSuffix(p string) string {
	if p == "" {
		return ""
	}
	return "/" + strings.ToUpper(p)
}

func portList(svc *Service) string {
	var out []string
	for _, p := range svc.Ports {
		s := strconv.Itoa(p.Port) + "/" + cmp.Or(p.Protocol, ProtocolTCP)
		if p.Name != "" {
			s = p.Name + " " + s
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// pickServicePort chooses the Service port a target names (by name or number), or its only port.
func pickServicePort(svc *Service, want, proto string) (*ServicePort, error) {
	var found []*ServicePort
	for i := range svc.Ports {
		sp := &svc.Ports[i]
		if proto != "" && !strings.EqualFold(cmp.Or(sp.Protocol, ProtocolTCP), proto) {
			continue
		}
		if want == "" || want == sp.Name || want == strconv.Itoa(sp.Port) {
			found = append(found, sp)
		}
	}
	ref := svc.Namespace + "/" + svc.Name
	switch {
	case len(svc.Ports) == 0:
		return nil, &RequestError{fmt.Sprintf("service %s has no ports", ref)}
	case len(found) == 0 && want != "":
		return nil, &RequestError{fmt.Sprintf("service %s has no port %q%s: its ports are %s", ref, want, protoSuffix(proto), portList(svc))}
	case len(found) == 0:
		return nil, &RequestError{fmt.Sprintf("service %s has no %s port: its ports are %s", ref, strings.ToUpper(proto), portList(svc))}
	case len(found) > 1:
		return nil, &RequestError{fmt.Sprintf("service %s has ports %s: name one with svc/%s:PORT (and --protocol when a number is both TCP and UDP)", ref, portList(svc), ref)}
	}
	return found[0], nil
}

func (ix *Index) service(ns, name string) *Service {
	for i := range ix.snap.Cluster.Services {
		if s := &ix.snap.Cluster.Services[i]; s.Namespace == ns && s.Name == name {
			return s
		}
	}
	return nil
}

func (ix *Index) suggestServices(ns, name string) string {
	var near []string
	for _, s := range ix.snap.Cluster.Services {
		if (s.Namespace == ns && similar(s.Name, name)) || s.Name == name {
			near = append(near, "svc/"+s.Namespace+"/"+s.Name)
		}
	}
	return didYouMean(near)
}

// svcEndpoint is one endpoint of the Service for the chosen port.
type svcEndpoint struct {
	ip    netip.Addr
	port  int
	ready bool
	node  string
	pod   *PodRef
}

func (e svcEndpoint) String() string { return hostPort(e.ip.String(), e.port) }

// endpoints lists the Service's endpoints for the port, with the port number each listens on: the
// slice's port of the same name (the named target port resolved), else a numeric targetPort.
func (ix *Index) endpoints(st *svcTarget) []svcEndpoint {
	var out []svcEndpoint
	seen := map[string]bool{}
	proto := st.protocol
	for _, sl := range ix.snap.Cluster.EndpointSlices {
		if sl.Namespace != st.svc.Namespace || sl.Service != st.svc.Name {
			continue
		}
		port := 0
		for _, p := range sl.Ports {
			if p.Name == st.port.Name && strings.EqualFold(cmp.Or(p.Protocol, ProtocolTCP), proto) {
				port = p.Port
			}
		}
		if port == 0 {
			if n, err := strconv.Atoi(st.port.TargetPort); err == nil {
				port = n
			} else if st.port.TargetPort == "" {
				port = st.port.Port
			}
		}
		for _, e := range sl.Endpoints {
			for _, s := range e.Addresses {
				a, ok := parseAddr(s)
				if !ok || !sameFamily(a, st.vip) || seen[a.String()] {
					continue
				}
				seen[a.String()] = true
				out = append(out, svcEndpoint{ip: a, port: port, ready: e.IsReady(), node: e.Node, pod: e.Pod})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ip.Less(out[j].ip) })
	return out
}

// walkService walks from src to every ready endpoint of the Service (or the one req.Endpoint
// names) and sums them up: reachable when any is, the first endpoint walk's hops up to its
// service hop as the Service walk's own.
func (ix *Index) walkService(req Request, src *Pod, st *svcTarget) (*Walk, error) {
	srcIP, ok := pickIP(src.IPs, st.vip)
	if !ok {
		if len(src.IPs) == 0 {
			return nil, &RequestError{fmt.Sprintf("pod %s has no IP yet (is it running?)", req.Source)}
		}
		return nil, &RequestError{fmt.Sprintf("pod %s has no IP of the same family as %s", req.Source, st.vip)}
	}
	eps := ix.endpoints(st)
	ready := 0
	for _, e := range eps {
		if e.ready {
			ready++
		}
	}
	sw := &ServiceWalk{Namespace: st.svc.Namespace, Name: st.svc.Name, Type: cmp.Or(st.svc.Type, ServiceClusterIP), VIP: st.vipString(),
		Protocol: st.protocol, PortName: st.port.Name, TargetPort: st.port.TargetPort, LoadBalancing: ix.loadBalancing(st),
		Endpoints: len(eps), Ready: ready}
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
		return nil, &RequestError{fmt.Sprintf("--endpoint %s is not an endpoint of service %s/%s (its endpoints: %s)", req.Endpoint, st.svc.Namespace, st.svc.Name, cmp.Or(strings.Join(names, ", "), "none"))}
	}
	out := &Walk{
		Source:      Endpoint{Kind: TargetPod, Namespace: src.Namespace, Name: src.Name, Node: src.Node, IP: srcIP.String()},
		Destination: Endpoint{Kind: TargetService, Namespace: st.svc.Namespace, Name: st.svc.Name, IP: st.vip.String()},
		Service:     sw,
	}
	if len(walkTo) == 0 {
		// No endpoint to walk to: the walk towards the address itself, broken at the service hop.
		wk := ix.newServiceWalker(src, srcIP, st, nil, eps, req)
		wk.w.Destination = out.Destination
		wk.walk(src, srcIP, destination{ep: out.Destination, ip: st.vip}, Request{NoReturn: true})
		wk.placeService()
		wk.finish()
		out.Hops, out.Verdict, out.BrokenAt, out.Reason, out.Warnings = wk.w.Hops, wk.w.Verdict, wk.w.BrokenAt, wk.w.Reason, wk.w.Warnings
		return out, nil
	}
	for _, e := range walkTo {
		dst, err := ix.resolveTarget(Target{Kind: TargetIP, IP: e.ip.String()})
		if err != nil {
			return nil, err
		}
		wk := ix.newServiceWalker(src, srcIP, st, &e, eps, req)
		wk.w.Destination = dst.ep
		wk.walk(src, srcIP, dst, req)
		wk.placeService()
		wk.finish()
		ew := EndpointWalk{Endpoint: e.String(), Pod: e.pod, Node: e.node, Ready: e.ready, Walk: *wk.w}
		if ew.Walk.Verdict == VerdictReachable {
			sw.Reachable++
		}
		sw.Walks = append(sw.Walks, ew)
	}
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
	return out, nil
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

// loadBalancing says where the cluster balances this Service's traffic.
func (ix *Index) loadBalancing(st *svcTarget) string {
	if ix.fab == nil {
		return ""
	}
	if lb, _ := ix.fabricLB(st); lb != nil && lb.Kind == LBKindNSXVirtualServer {
		return LBFabric
	}
	return ix.fab.f.ServiceLoadBalancing
}

// fabricLB finds the fabric load balancer with the Service's VIP:port and protocol, and its VIP.
func (ix *Index) fabricLB(st *svcTarget) (*LoadBalancer, *LBVIP) {
	if ix.fab == nil {
		return nil, nil
	}
	var best *LoadBalancer
	var bestVIP *LBVIP
	for i := range ix.fab.f.LoadBalancers {
		lb := &ix.fab.f.LoadBalancers[i]
		for j := range lb.VIPs {
			v := &lb.VIPs[j]
			a, ok := parseAddr(v.IP)
			if !ok || a != st.vip || (v.Port != 0 && v.Port != st.vipPort) {
				continue
			}
			if !strings.EqualFold(cmp.Or(v.Protocol, lb.Protocol, ProtocolTCP), st.protocol) {
				continue
			}
			if best == nil || lb.ID < best.ID {
				best, bestVIP = lb, v
			}
		}
	}
	return best, bestVIP
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
	srcNode           string
}

// newServiceWalker prepares a walker to endpoint e (nil: no endpoint) with its service hop.
func (ix *Index) newServiceWalker(src *Pod, srcIP netip.Addr, st *svcTarget, e *svcEndpoint, eps []svcEndpoint, req Request) *walker {
	wk := &walker{ix: ix, dir: Forward, w: &Walk{
		Source: Endpoint{Kind: TargetPod, Namespace: src.Namespace, Name: src.Name, Node: src.Node, IP: srcIP.String()},
	}}
	ss := &svcState{st: st, ep: e, srcNode: src.Node}
	ss.hop = ix.serviceHop(st, e, eps, req, srcIP, src.Node)
	srcSwitch := ""
	if ix.fab != nil {
		for _, sp := range ix.fab.portsByIP[srcIP] {
			if sp.Type != PortRouter {
				srcSwitch = ix.fab.switchName(sp.Switch)
			}
		}
	}
	lb, _ := ix.fabricLB(st)
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
	svcRef := st.svc.Namespace + "/" + st.svc.Name
	ready := 0
	for _, x := range eps {
		if x.ready {
			ready++
		}
	}
	d := &ServiceDetail{Service: svcRef, Type: cmp.Or(st.svc.Type, ServiceClusterIP), VIP: st.vipString(), Protocol: st.protocol,
		PortName: st.port.Name, TargetPort: st.port.TargetPort, LoadBalancing: ix.loadBalancing(st), Ready: ready, Endpoints: len(eps)}
	h := Hop{Kind: HopService, Name: "svc/" + svcRef, IP: st.vip.String(), Service: d}
	src := cmp.Or(st.svc.Source, SourceKube)
	h.Evidence = append(h.Evidence, ev(src, "service %s type %s %s port %s -> targetPort %s", svcRef, d.Type, st.vipString(), portList(&Service{Ports: []ServicePort{*st.port}}), cmp.Or(st.port.TargetPort, strconv.Itoa(st.port.Port))))
	if st.nodePort {
		h.Evidence = append(h.Evidence, ev(src, "nodePort %d on every node: %s is node %s", st.vipPort, st.vip, ix.nodesByIP[st.vip].Name))
	}
	h.Evidence = append(h.Evidence, ev(src, "endpointslices: %d endpoints, %d ready%s", len(eps), ready, endpointList(eps)))
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
	d.ChosenBy = "each"
	if req.Endpoint != "" {
		d.ChosenBy = "--endpoint"
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
	ix.lbEvidence(&h, st, e, srcNode)
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
func (ix *Index) lbEvidence(h *Hop, st *svcTarget, e *svcEndpoint, srcNode string) {
	d := h.Service
	if ix.fab == nil {
		h.Detail += "; load balancing not checked (no fabric facts)"
		return
	}
	lb, vip := ix.fabricLB(st)
	if lb != nil {
		d.LoadBalancer = cmp.Or(lb.Name, lb.ID)
		lsrc := cmp.Or(lb.Source, ix.fab.f.Provider)
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
		var backs []string
		var mine *LBBackend
		for i := range vip.Backends {
			b := &vip.Backends[i]
			s := hostPort(b.IP, b.Port)
			if b.Status != "" {
				s += " " + b.Status
			}
			backs = append(backs, s)
			if a, ok := parseAddr(b.IP); ok && a == e.ip && (b.Port == 0 || b.Port == e.port) {
				mine = b
			}
		}
		name := lb.Kind
		if vip.PoolName != "" || vip.Pool != "" {
			name += " pool " + cmp.Or(vip.PoolName, vip.Pool)
		}
		h.Evidence = append(h.Evidence, ev(lsrc, "%s %s%s: %s -> %s", name, d.LoadBalancer, where, hostPort(vip.IP, vip.Port), cmp.Or(strings.Join(backs, ", "), "no backends")))
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
		return
	}
	if ix.fab.f.ServiceLoadBalancing == LBNodeOVS {
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
						d.ChosenBy = "ofproto/trace"
					}
				}
			}
		}
		if d.LoadBalancer == "" {
			h.Detail += "; balanced by the source node's OVS (OpenFlow groups): run with --ofproto-trace to see the bucket it picks"
		}
		return
	}
	if len(ix.fab.f.LoadBalancers) > 0 || ix.fab.f.ServiceLoadBalancing == LBFabric {
		h.Status, h.Detail = StatusBroken, fmt.Sprintf("no %s load balancer on the path has VIP %s/%s: nothing sends the Service's traffic to its endpoints", ix.fab.f.Provider, st.vipString(), st.protocol)
		return
	}
	h.Detail += "; the fabric facts hold no load balancer: load balancing not checked"
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
			(ss.afterOVSPort && h.Kind == HopOVSPort && h.Node == ss.srcNode) {
			ss.placed = true
			wk.add(ss.hop)
		}
	case wk.dir == Return && ss.placed && !ss.returnPlaced && ss.hop.NAT != nil:
		if (ss.returnAfterSwitch != "" && h.Kind == HopSwitch && h.Name == ss.returnAfterSwitch) ||
			(ss.returnAfterSwitch == "" && h.Kind == HopMACTable && h.Node == ss.srcNode) {
			ss.returnPlaced = true
			n := ss.hop.NAT
			node := ""
			if ss.returnAfterSwitch == "" {
				node = ss.srcNode
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

// vipWarning says when an address walked to as such is a fabric load balancer's VIP that no
// Service in the snapshot has: the packet would be DNATed, and the walk cannot say to what.
func (ix *Index) vipWarning(a netip.Addr) string {
	if ix.fab == nil {
		return ""
	}
	for _, lb := range ix.fab.f.LoadBalancers {
		for _, v := range lb.VIPs {
			if b, ok := parseAddr(v.IP); ok && b == a {
				return fmt.Sprintf("%s is a VIP of load balancer %s, and no Service in the facts has it: the packet is sent on to a backend, the walk goes to the VIP (trace to svc/NS/NAME)", a, cmp.Or(lb.Name, lb.ID))
			}
		}
	}
	return ""
}
