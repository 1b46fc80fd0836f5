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
	dir string
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
	dst, err := ix.resolveTarget(req.To)
	if err != nil {
		return nil, err
	}
	srcIP, ok := pickIP(src.IPs, dst.ip)
	if !ok {
		if len(src.IPs) == 0 {
			return nil, &RequestError{fmt.Sprintf("pod %s has no IP yet (is it running?)", req.Source)}
		}
		return nil, &RequestError{fmt.Sprintf("pod %s has no IP of the same family as %s", req.Source, dst.ip)}
	}
	wk := &walker{ix: ix, dir: Forward, w: &Walk{
		Source:      Endpoint{Kind: TargetPod, Namespace: src.Namespace, Name: src.Name, Node: src.Node, IP: srcIP.String()},
		Destination: dst.ep,
	}}
	if dst.ep.Kind == TargetIP && ix.fab != nil && !wk.inFabric(dst.ip) {
		wk.w.Warnings = append(wk.w.Warnings, fmt.Sprintf("%s is neither a pod, a node nor an address in the fabric facts: walking to it as an address outside the cluster", dst.ip))
	}
	wk.walk(src, srcIP, dst, req)
	wk.finish()
	return wk.w, nil
}

// destination is the resolved target of a walk.
type destination struct {
	ep  Endpoint
	ip  netip.Addr
	pod *Pod
	// rport is the router port whose own address the destination is: the walk ends at its router.
	rport *RouterPort
}

func (ix *Index) resolveTarget(t Target) (destination, error) {
	switch t.Kind {
	case TargetNode:
		n := ix.nodes[t.Name]
		if n == nil {
			if a, ok := parseAddr(t.Name); ok {
				n = ix.nodesByIP[a]
			}
		}
		if n == nil {
			return destination{}, &RequestError{fmt.Sprintf("node %s not found in the snapshot%s", t.Name, ix.suggestNodes(t.Name))}
		}
		ip, ok := n.IP()
		if !ok {
			return destination{}, &RequestError{fmt.Sprintf("node %s has no address in the snapshot", n.Name)}
		}
		return destination{ep: Endpoint{Kind: TargetNode, Name: n.Name, Node: n.Name, IP: ip.String()}, ip: ip}, nil
	case TargetPod:
		ref := PodRef{Namespace: t.Namespace, Name: t.Name}
		p := ix.pods[ref.String()]
		if p == nil {
			return destination{}, &RequestError{fmt.Sprintf("pod %s not found in the snapshot%s", ref, ix.suggestPods(ref))}
		}
		if len(p.IPs) == 0 {
			return destination{}, &RequestError{fmt.Sprintf("destination pod %s has no IP yet (is it running?)", ref)}
		}
		a, _ := parseAddr(p.IPs[0])
		return destination{ep: Endpoint{Kind: TargetPod, Namespace: p.Namespace, Name: p.Name, Node: p.Node, IP: a.String()}, ip: a, pod: p}, nil
	case TargetIP:
		a, ok := parseAddr(t.IP)
		if !ok {
			return destination{}, &RequestError{fmt.Sprintf("%q is not an IP address", t.IP)}
		}
		if p := ix.podsByIP[a]; p != nil {
			return destination{ep: Endpoint{Kind: TargetPod, Namespace: p.Namespace, Name: p.Name, Node: p.Node, IP: a.String()}, ip: a, pod: p}, nil
		}
		if n := ix.nodesByIP[a]; n != nil {
			return destination{ep: Endpoint{Kind: TargetNode, Name: n.Name, Node: n.Name, IP: a.String()}, ip: a}, nil
		}
		if rp := ix.routerPortOf(a); rp != nil {
			return destination{ep: Endpoint{Kind: TargetRouter, Name: ix.fab.routerName(rp.Router), IP: a.String(), MAC: NormalizeMAC(rp.MAC)}, ip: a, rport: rp}, nil
		}
		return destination{ep: Endpoint{Kind: TargetIP, IP: a.String()}, ip: a}, nil
	}
	return destination{}, &RequestError{fmt.Sprintf("unknown destination kind %q", t.Kind)}
}

// routerPortOf is the router port that owns address a (the lowest id when several claim it), or nil.
func (ix *Index) routerPortOf(a netip.Addr) *RouterPort {
	if ix.fab == nil {
		return nil
	}
	var best *RouterPort
	for _, rp := range ix.fab.rportByAddr[a] {
		if best == nil || rp.ID < best.ID {
			best = rp
		}
	}
	return best
}

// IP is the address a walk to the node goes to: its InternalIP (IPv4 first), else an ExternalIP,
// else any address that parses.
func (n *Node) IP() (netip.Addr, bool) {
	var best netip.Addr
	rank := 99
	for _, ad := range n.Addresses {
		a, ok := parseAddr(ad.Address)
		if !ok {
			continue
		}
		r := 4
		switch ad.Type {
		case "InternalIP":
			r = 0
		case "ExternalIP":
			r = 2
		}
		if a.Is6() {
			r++
		}
		if r < rank {
			best, rank = a, r
		}
	}
	return best, rank < 99
}

// pickIP returns the first of ips in the family of want (any when want is invalid).
func pickIP(ips []string, want netip.Addr) (netip.Addr, bool) {
	for _, s := range ips {
		a, ok := parseAddr(s)
		if ok && (!want.IsValid() || sameFamily(a, want)) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func (ix *Index) suggestPods(ref PodRef) string {
	var near, sameName, nsNear []string
	for k, p := range ix.pods {
		switch {
		case p.Namespace == ref.Namespace && similar(p.Name, ref.Name):
			near = append(near, k)
		case p.Name == ref.Name:
			// The right pod in another namespace: a wrong -n or NS/.
			sameName = append(sameName, k)
		case p.Namespace != ref.Namespace && similar(p.Namespace, ref.Namespace) && similar(p.Name, ref.Name):
			nsNear = append(nsNear, k)
		}
	}
	return didYouMean(append(append(near, sameName...), nsNear...))
}

// PodError is a *RequestError naming a pod the snapshot does not hold (with suggestions), or nil.
func (ix *Index) PodError(ref PodRef) error {
	if ix.pods[ref.String()] != nil {
		return nil
	}
	return &RequestError{fmt.Sprintf("pod %s not found%s", ref, ix.suggestPods(ref))}
}

func (ix *Index) suggestNodes(name string) string {
	var near []string
	for k := range ix.nodes {
		if similar(k, name) {
			near = append(near, k)
		}
	}
	if len(near) == 0 && len(ix.nodeNames) > 0 && len(ix.nodeNames) <= 5 {
		return " (its nodes are " + strings.Join(ix.nodeNames, ", ") + ")"
	}
	return didYouMean(near)
}

// similar reports whether a user probably meant candidate when typing typed: a small edit
// distance, or one contains the other (a generated pod name suffix left out).
func similar(candidate, typed string) bool {
	if typed == "" {
		return false
	}
	if strings.HasPrefix(candidate, typed) || strings.Contains(typed, candidate) {
		return true
	}
	max := len(typed) / 4
	if max < 2 {
		max = 2
	}
	return EditDistance(candidate, typed) <= max
}

// EditDistance is the Levenshtein distance of two names (names over 64 bytes only compare equal
// or far), for "did you mean" suggestions.
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func didYouMean(near []string) string {
	if len(near) == 0 {
		return ""
	}
	sort.Strings(near)
	if len(near) > 3 {
		near = near[:3]
	}
	return " (did you mean " + strings.Join(near, ", ") + "?)"
}

// add appends a hop, numbering it and marking its direction.
func (wk *walker) add(h Hop) {
	h.Index = len(wk.w.Hops) + 1
	h.Direction = wk.dir
	if h.Status == "" {
		h.Status = StatusOK
	}
	wk.w.Hops = append(wk.w.Hops, h)
}

// finish sets the verdict from the hops: the first broken hop, else the first unknown one.
func (wk *walker) finish() {
	w := wk.w
	w.Verdict = VerdictReachable
	for i, h := range w.Hops {
		if h.Status == StatusBroken {
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

func ev(source, format string, args ...any) Evidence {
	return Evidence{Source: source, Fact: fmt.Sprintf(format, args...)}
}

func vlanPtr(v int) *int { return &v }

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
	if req.NoReturn || dst.ep.Kind == TargetIP || wk.brokenSoFar() {
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
		wk.add(Hop{Kind: HopFabricPort, Name: "fabric", Node: src.Node, Status: StatusUnknown,
			Detail: "no fabric facts: collect them with --fabric nsx|ovn to walk the logical switches and routers"})
		wk.destinationHop(dst, nil)
		return nil, nil
	}
	srcPort = wk.sourceFabricPort(src, srcIP, dst.ip, ps)
	if srcPort == nil {
		wk.settleUplink(ps)
		wk.destinationHop(dst, nil)
		return nil, nil
	}
	sw := wk.switchHop(srcPort, srcIP)
	var final *Switch
	if ps.direct {
		wk.settleUplink(ps)
		final = sw
	} else {
		gw := ps.gateway
		if !gw.IsValid() {
			gw = wk.gatewayOf(srcPort.Switch, srcIP)
		}
		var entry *RouterPort
		if gw.IsValid() {
			entry = wk.gatewayPort(srcPort.Switch, gw)
		} else {
			wk.add(Hop{Kind: HopRouter, Name: "gateway", Status: StatusUnknown,
				Detail: fmt.Sprintf("no gateway known for switch %s", fab.switchName(srcPort.Switch))})
		}
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

// settleUplink decides a refreshed pod's missing router MAC: explained by a broken hop after the
// uplink (the answer could not come back: a VLAN mismatch, a port down, no gateway), else broken.
func (wk *walker) settleUplink(ps *podSide) {
	i := ps.pendingUplink
	if i == 0 {
		return
	}
	ps.pendingUplink = 0
	for _, h := range wk.w.Hops[i:] {
		if h.Status == StatusBroken {
			wk.w.Hops[i-1].Detail += fmt.Sprintf(" (explained by hop %d)", h.Index)
			return
		}
	}
	wk.w.Hops[i-1].Status = StatusBroken
}

// sourceL2 walks pod eth0, the veth pair, the OVS access port, the MAC table and the uplink.
func (wk *walker) sourceL2(src *Pod, srcIP, dstIP netip.Addr) *podSide {
	ix := wk.ix
	ps := &podSide{node: src.Node}
	podEv := ev(cmp.Or(src.Source, SourceKube), "pod %s/%s IP %s on node %s", src.Namespace, src.Name, srcIP, src.Node)
	ni := ix.states[src.Node]
	if ni == nil {
		wk.add(Hop{Kind: HopPod, Name: src.Namespace + "/" + src.Name, Node: src.Node, IP: srcIP.String(), Status: StatusUnknown,
			Detail:   fmt.Sprintf("no facts from node %s: collect them (collect node, --node-exec or a snapshot)", src.Node),
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

func linkState(l *Link) string {
	st := cmp.Or(l.OperState, "unknown")
	if !l.AdminUp {
		st += " (admin down)"
	}
	return st
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
		h.Evidence = append(h.Evidence, ev(fsrc, "fdb/show %s has no entry for %s on VLAN %d", bridge, nextMAC, vlan))
	case learned == nil:
		// The MAC table is a cache: an idle pod's router MAC ages out; the trunk carrying the VLAN
		// is the configuration that matters. After the pod sent a packet, its reply must be there.
		h.Detail = fmt.Sprintf("%s MAC %s not in the MAC table of %s VLAN %d (nothing from it for %d s, the aging time, or never): uplink %s carries VLAN %d", what, nextMAC, bridge, vlan, aging, up.Name, vlan)
		h.Evidence = append(h.Evidence, ev(fsrc, "fdb/show %s has no entry for %s on VLAN %d (mac-aging-time %d s)", bridge, nextMAC, vlan, aging))
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

func intsString(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, ",") + "]"
}

func portVLANString(p *Port) string {
	var parts []string
	if p.Tag != nil {
		parts = append(parts, fmt.Sprintf("tag=%d", *p.Tag))
	}
	if len(p.Trunks) > 0 {
		parts = append(parts, "trunks="+intsString(p.Trunks))
	}
	if p.VLANMode != "" {
		parts = append(parts, "vlan_mode="+p.VLANMode)
	}
	if len(parts) == 0 {
		return "untagged (all VLANs)"
	}
	return strings.Join(parts, " ")
}

func fdbLine(e MACEntry) string {
	return fmt.Sprintf("%s: port %s VLAN %d MAC %s age %d", e.Bridge, e.Port, e.VLAN, NormalizeMAC(e.MAC), e.Age)
}

// fdbAged is an entry with the bridge's aging time: how long it stays without another frame.
func fdbAged(e MACEntry, aging int) string {
	return fmt.Sprintf("%s s of %d s aging time", fdbLine(e), aging)
}

func kvString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", k, m[k])
	}
	return b.String()
}

func routeString(r Route) string {
	s := r.Dst
	if r.Gateway != "" {
		s += " via " + r.Gateway
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	if r.Scope != "" && r.Scope != "universe" {
		s += " scope " + r.Scope
	}
	return s
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

// sourceFabricPort finds the pod's logical port (a CHILD port with parent VIF and traffic tag),
// checks it against the node (VLAN tag, MAC, parent VIF), and adds the uplink and port hops.
func (wk *walker) sourceFabricPort(p *Pod, ip, dstIP netip.Addr, ps *podSide) *SwitchPort {
	fab := wk.ix.fab
	sp := wk.findPodPort(p, ip, ps.mac)
	// The uplink hop needs the next hop's MAC: the neighbour entry, else the gateway router port's MAC.
	next := ps.nextMAC
	what := "router"
	if ps.direct {
		what = "destination"
	}
	if next == "" && sp != nil && ps.gateway.IsValid() {
		if rp := wk.gatewayPortQuiet(sp.Switch, ps.gateway); rp != nil {
			next = NormalizeMAC(rp.MAC)
		}
	}
	if next == "" && ps.direct {
		for _, c := range fab.portsByIP[dstIP] {
			if len(c.MACs) > 0 {
				next = NormalizeMAC(c.MACs[0])
			}
		}
	}
	wk.uplinkHop(ps, next, what)
	wk.checkGatewayMAC(p, sp, ps)
	if sp == nil {
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
		return nil
	}
	fsrc := cmp.Or(sp.Source, fab.f.Provider)
	h := Hop{Kind: HopFabricPort, Name: portName(sp), Node: p.Node, IP: ip.String(), MAC: ps.mac, VLAN: sp.TrafficTag}
	h.Evidence = append(h.Evidence, ev(fsrc, "%s", describePort(sp, fab)))
	par := fab.parentOf(sp)
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
	if par != nil {
		h.Evidence = append(h.Evidence, ev(cmp.Or(par.Source, fab.f.Provider), "parent VIF %s", describePort(par, fab)))
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
		if a, ok := parseAddr(ip); ok {
			if n := ix.nodesByIP[a]; n != nil {
				return n.Name
			}
		}
	}
	return ""
}

func describePort(sp *SwitchPort, fab *fabIdx) string {
	var b strings.Builder
	fmt.Fprintf(&b, "logical port %s", portName(sp))
	if sp.ID != "" && sp.ID != sp.Name {
		fmt.Fprintf(&b, " (%s)", sp.ID)
	}
	fmt.Fprintf(&b, " on switch %s", fab.switchName(sp.Switch))
	if sp.Type != "" {
		fmt.Fprintf(&b, " type %s", sp.Type)
	}
	if sp.TrafficTag != nil {
		fmt.Fprintf(&b, " traffic_tag %d", *sp.TrafficTag)
	}
	if len(sp.MACs) > 0 || len(sp.IPs) > 0 {
		fmt.Fprintf(&b, " bindings %s %s", strings.Join(sp.MACs, ","), strings.Join(sp.IPs, ","))
	}
	if sp.NodeName != "" {
		fmt.Fprintf(&b, " node %s", sp.NodeName)
	}
	return b.String()
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
			if a, ok := parseAddr(x); ok && a == ip {
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
		if nh, ok := parseAddr(r.NextHop); ok {
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
	fab := wk.ix.fab
	seen := map[string]bool{}
	for i := 0; i < maxRouterHops; i++ {
		rid := entry.Router
		r := fab.routers[rid]
		h := Hop{Kind: HopRouter, Name: fab.routerName(rid), Router: fab.routerName(rid), Interface: rpName(entry), MAC: NormalizeMAC(entry.MAC)}
		if ip := portAddrFor(entry, dst); ip.IsValid() {
			h.IP = ip.String()
		}
		tier := ""
		if r != nil {
			tier = r.Tier
			h.Evidence = append(h.Evidence, ev(cmp.Or(r.Source, fab.f.Provider), "router %s (%s) %s", h.Name, rid, strings.ToUpper(cmp.Or(r.Tier, "router"))))
		}
		h.Evidence = append(h.Evidence, ev(cmp.Or(entry.Source, fab.f.Provider), "enters by %s port %s %s mac %s", cmp.Or(entry.Kind, "router"), rpName(entry), strings.Join(entry.Networks, ","), NormalizeMAC(entry.MAC)))
		if r == nil {
			h.Status, h.Detail = StatusUnknown, fmt.Sprintf("router %s of port %s not in the fabric facts", rid, rpName(entry))
			wk.add(h)
			return nil, nil
		}
		if tier != "" && tier != Tier0 && tier != Tier1 {
			h.Status, h.Detail = StatusUnknown, fmt.Sprintf("router %s has unknown tier %q", h.Name, tier)
			wk.add(h)
			return nil, nil
		}
		if seen[rid] {
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("routing loop: %s reached router %s twice", dst, h.Name)
			wk.add(h)
			return nil, nil
		}
		seen[rid] = true
		if entry.Up != nil && !*entry.Up {
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("router port %s on %s is down", rpName(entry), h.Name)
			wk.add(h)
			return nil, nil
		}
		if fab.ownPort(rid, dst) != nil {
			return nil, entry
		}
		rc, ok := fab.lookup(rid, dst)
		if !ok {
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("no route to %s on router %s", wk.destPrefix(dst), h.Name)
			wk.add(h)
			return nil, nil
		}
		routeFact := fmt.Sprintf("route %s", rc.prefix)
		if rc.nextHop.IsValid() {
			routeFact += " via " + rc.nextHop.String()
		}
		if rc.out != nil {
			routeFact += " out " + rpName(rc.out)
		}
		routeFact += " (" + rc.origin + ")"
		h.Evidence = append(h.Evidence, ev(rc.source, "%s", routeFact))
		if rc.discard {
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("route %s on router %s discards the packet (no next hop)", rc.prefix, h.Name)
			wk.add(h)
			return nil, nil
		}
		if rc.origin == OriginConnected {
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
						entry = peer
						continue
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
			sw := fab.switches[sp.Switch]
			if sw == nil {
				sw = &Switch{ID: sp.Switch}
			}
			return sw, nil
		}
		// A route with a next hop: the egress port is the one whose network holds the next hop.
		out := rc.out
		if out == nil {
			out = egressFor(fab.rportsBy[rid], rc.nextHop)
		}
		if out == nil {
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("next hop %s of route %s on router %s is on none of its ports", rc.nextHop, rc.prefix, h.Name)
			wk.add(h)
			return nil, nil
		}
		if !portHolds(out, rc.nextHop) {
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("next hop %s is not a host address of %s on %s (network or broadcast address)", rc.nextHop, strings.Join(out.Networks, ","), rpName(out))
			wk.add(h)
			return nil, nil
		}
		if out.Up != nil && !*out.Up {
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("router port %s on %s is down", rpName(out), h.Name)
			wk.add(h)
			return nil, nil
		}
		next := wk.nextRouterPort(out, rc.nextHop)
		if next == nil {
			if out.Kind == RouterPortUplink && wk.inFabric(dst) {
				h.Status = StatusBroken
				h.Detail = fmt.Sprintf("no route to %s on router %s: only %s via %s, out uplink %s", wk.destPrefix(dst), h.Name, rc.prefix, rc.nextHop, rpName(out))
				wk.add(h)
				return nil, nil
			}
			if out.Kind == RouterPortUplink {
				h.Detail = fmt.Sprintf("route %s via %s leaves the fabric by uplink %s", rc.prefix, rc.nextHop, rpName(out))
				wk.add(h)
				wk.add(Hop{Kind: HopExternal, Name: rc.nextHop.String(), IP: rc.nextHop.String(), Status: StatusUnknown,
					Detail: fmt.Sprintf("beyond uplink %s of %s: outside the fabric, not walked", rpName(out), h.Name)})
				return nil, nil
			}
			h.Status, h.Detail = StatusBroken, fmt.Sprintf("next hop %s (route %s on %s) answers on no router port", rc.nextHop, rc.prefix, h.Name)
			wk.add(h)
			return nil, nil
		}
		h.Detail = fmt.Sprintf("route %s via %s (%s) out %s", rc.prefix, rc.nextHop, rc.origin, rpName(out))
		wk.add(h)
		entry = next
	}
	wk.add(Hop{Kind: HopRouter, Name: "routing loop", Status: StatusBroken,
		Detail: fmt.Sprintf("more than %d router hops to %s: routing loop", maxRouterHops, dst)})
	return nil, nil
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
		if a, ok := parseAddr(n); ok {
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
			if a, ok := parseAddr(n); ok && a == nh {
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

// destinationHop adds the destination itself, checking its interface when its node's facts exist.
func (wk *walker) destinationHop(d destination, sp *SwitchPort) {
	ix := wk.ix
	h := Hop{Kind: d.ep.Kind, Name: d.ep.String(), Node: d.ep.Node, IP: d.ip.String()}
	if h.Kind == TargetIP {
		h.Kind = HopIP
	}
	if d.ep.Kind == TargetIP {
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
	back := destination{ep: Endpoint{Kind: TargetPod, Namespace: src.Namespace, Name: src.Name, Node: src.Node, IP: srcIP.String()}, ip: srcIP, pod: src}
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
		final = wk.nodeReturn(d, srcIP, dstPort)
	}
	if final == nil {
		return
	}
	if final.ID != srcPort.Switch {
		wk.add(Hop{Kind: HopSwitch, Name: fab.switchName(final.ID), Status: StatusBroken,
			Detail: fmt.Sprintf("return traffic to %s is delivered on switch %s, but the pod's port is on %s", srcIP, fab.switchName(final.ID), fab.switchName(srcPort.Switch))})
		return
	}
	sp := wk.deliver(final, back)
	wk.destinationHop(back, sp)
}

// nodeReturn walks a node's way back to srcIP: its routing table, its gateway and the routers; it
// returns the switch the reply is delivered on (nil when it is not).
func (wk *walker) nodeReturn(d destination, srcIP netip.Addr, dstPort *SwitchPort) *Switch {
	ix := wk.ix
	fab := ix.fab
	var gw netip.Addr
	direct := false
	if ni := ix.states[d.ep.Node]; ni != nil {
		if ns := ni.destNetns(d); ns != nil {
			h := Hop{Kind: HopRoute, Name: d.ep.String(), Node: d.ep.Node, Netns: ns.Name, IP: d.ip.String()}
			rt, ok := lookupRoute(ns.Routes, srcIP)
			if !ok {
				h.Status, h.Detail = StatusBroken, fmt.Sprintf("no return route to %s on %s", srcIP, d.ep.String())
				wk.add(h)
				return nil
			}
			h.Evidence = append(h.Evidence, ev(cmp.Or(ns.Source, SourceNetlink+"@"+d.ep.Node), "route %s", routeString(rt)))
			if g, ok := parseAddr(rt.Gateway); ok && rt.Gateway != "" {
				gw = g
				h.Detail = fmt.Sprintf("route to %s via %s dev %s", srcIP, g, rt.Dev)
			} else {
				direct = true
				h.Detail = fmt.Sprintf("%s is on-link via %s", srcIP, rt.Dev)
			}
			h.Interface = rt.Dev
			wk.add(h)
		}
	}
	if direct {
		if sw := fab.switches[dstPort.Switch]; sw != nil {
			return sw
		}
		return &Switch{ID: dstPort.Switch}
	}
	if !gw.IsValid() {
		gw = wk.gatewayOf(dstPort.Switch, d.ip)
	}
	if !gw.IsValid() {
		wk.add(Hop{Kind: HopRouter, Name: "gateway", Status: StatusUnknown,
			Detail: fmt.Sprintf("no gateway known for switch %s", fab.switchName(dstPort.Switch))})
		return nil
	}
	entry := wk.gatewayPort(dstPort.Switch, gw)
	if entry == nil {
		return nil
	}
	final, _ := wk.route(entry, srcIP)
	return final
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

// inFabric reports whether dst is bound to a logical port: leaving by an uplink cannot reach it.
func (wk *walker) inFabric(dst netip.Addr) bool {
	for _, sp := range wk.ix.fab.portsByIP[dst] {
		if sp.Type != PortRouter {
			return true
		}
	}
	return false
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
