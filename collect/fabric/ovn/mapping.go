package ovn

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// keyOVNKNode is the external_ids key OVN-Kubernetes names a node's ports with.
const keyOVNKNode = "k8s.ovn.org/node"

func sortedLSPs(d *nbData) []*nbdb.LogicalSwitchPort {
	return sortedByName(d.lsps, func(p *nbdb.LogicalSwitchPort) string { return p.Name })
}

func sortedSwitches(d *nbData) []*nbdb.LogicalSwitch {
	return sortedByName(d.switches, func(s *nbdb.LogicalSwitch) string { return s.Name })
}

func sortedRouters(d *nbData) []*nbdb.LogicalRouter {
	return sortedByName(d.routers, func(r *nbdb.LogicalRouter) string { return r.Name })
}

// sortedByName lists a table's rows in name order.
func sortedByName[T any](rows map[string]*T, name func(*T) string) []*T {
	out := make([]*T, 0, len(rows))
	for _, r := range rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return name(out[i]) < name(out[j]) })
	return out
}

// parseAddresses reads one Logical_Switch_Port addresses entry: "MAC IP...", "router",
// "unknown", "dynamic".
func parseAddresses(s string) (mac string, ips []netip.Addr) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "", nil
	}
	if mac = trace.NormalizeMAC(f[0]); mac != "" {
		f = f[1:]
	}
	for _, x := range f {
		x, _, _ = strings.Cut(x, "/")
		if a, err := netip.ParseAddr(x); err == nil {
			ips = append(ips, a.Unmap())
		}
	}
	return mac, ips
}

// lspAddrs is every MAC and IP a switch port declares: its addresses ("MAC IP...", with "dynamic"
// standing for dynamic_addresses, "router" and "unknown" for none), and its port_security.
func lspAddrs(p *nbdb.LogicalSwitchPort) (macs []string, ips []netip.Addr) {
	entries := append([]string{}, p.Addresses...)
	if p.DynamicAddresses != nil {
		entries = append(entries, *p.DynamicAddresses)
	}
	entries = append(entries, p.PortSecurity...)
	for _, e := range entries {
		mac, xs := parseAddresses(e)
		if mac != "" && !slices.Contains(macs, mac) {
			macs = append(macs, mac)
		}
		for _, x := range xs {
			if !slices.Contains(ips, x) {
				ips = append(ips, x)
			}
		}
	}
	return macs, ips
}

// lspHolds reports whether a switch port declares ip or mac.
func lspHolds(p *nbdb.LogicalSwitchPort, ip netip.Addr, mac string) bool {
	macs, ips := lspAddrs(p)
	return (ip.IsValid() && slices.Contains(ips, ip)) || (mac != "" && slices.Contains(macs, mac))
}

// knownNames are the port names CNIs give a pod's port: OVN-Kubernetes NS_POD, Kube-OVN POD.NS.
// They are tried last, after the node's iface-id and the addresses on the pod's switch.
func knownNames(p trace.PodRef) []string {
	return []string{p.Namespace + "_" + p.Name, p.Name + "." + p.Namespace}
}

func nodeOf(p *nbdb.LogicalSwitchPort) string {
	return p.ExternalIDs[keyOVNKNode]
}

func podOf(p *nbdb.LogicalSwitchPort) *trace.PodRef {
	// OVN-Kubernetes: external_ids namespace=NS, pod=true, port name NS_POD.
	if ns := p.ExternalIDs["namespace"]; ns != "" && p.ExternalIDs["pod"] == "true" && strings.HasPrefix(p.Name, ns+"_") {
		return &trace.PodRef{Namespace: ns, Name: strings.TrimPrefix(p.Name, ns+"_")}
	}
	return nil
}

// tierOf reads the tier from the name (OVN has no tiers): t0*/GR_* (gateway routers) are tier0,
// t1*/ovn_cluster_router tier1, anything else "" (a router the walk routes through all the same).
func tierOf(r *nbdb.LogicalRouter) string {
	n := strings.ToLower(r.Name)
	switch {
	case strings.HasPrefix(n, "t0"), strings.HasPrefix(n, "gr_"):
		return trace.Tier0
	case strings.HasPrefix(n, "t1"), n == "ovn_cluster_router":
		return trace.Tier1
	}
	return ""
}

func containsAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// switchSubnets: other_config:subnet (and ipv6_prefix), else the networks of attached router ports.
func switchSubnets(d *nbData) map[string][]netip.Prefix {
	lrpByName := map[string]*nbdb.LogicalRouterPort{}
	for _, rp := range d.lrps {
		lrpByName[rp.Name] = rp
	}
	out := map[string][]netip.Prefix{}
	for u, s := range d.switches {
		ps := otherConfigSubnets(s)
		if len(ps) == 0 {
			for _, pu := range s.Ports {
				lsp := d.lsps[pu]
				if lsp == nil || lsp.Type != "router" {
					continue
				}
				if rp := lrpByName[lsp.Options["router-port"]]; rp != nil {
					for _, n := range rp.Networks {
						if p, err := netip.ParsePrefix(n); err == nil {
							ps = append(ps, p.Masked())
						}
					}
				}
			}
		}
		out[u] = ps
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// fabric maps the rows read to the snapshot model, sorted by ID, and says what it cannot model.
func (d *nbData) fabric(q fabric.Query) (*trace.Fabric, []string) {
	f := &trace.Fabric{Provider: trace.SourceOVN}
	var switchOf map[string]string
	f.Switches, switchOf = d.mapSwitches()
	f.SwitchPorts = d.mapSwitchPorts(q, switchOf)
	var routerOf map[string]*nbdb.LogicalRouter
	var warn []string
	f.Routers, f.Routes, routerOf, warn = d.mapRouters()
	f.LoadBalancers, f.NATRules = d.loadBalancers(), d.natRules()
	if len(f.LoadBalancers) > 0 {
		// OVN balances in the logical pipeline: a switch's load balancer DNATs its ports' packets.
		f.ServiceLoadBalancing = trace.LBFabric
	}
	f.RouterPorts = d.mapRouterPorts(routerOf)
	return f, warn
}

// mapSwitches are the logical switches with their subnets, and each switch port's switch (by UUID).
func (d *nbData) mapSwitches() ([]trace.Switch, map[string]string) {
	var out []trace.Switch
	switchOf := map[string]string{} // LSP UUID -> switch name
	subnets := switchSubnets(d)
	for _, s := range sortedSwitches(d) {
		sw := trace.Switch{ID: s.Name, Name: s.Name, Source: trace.SourceOVN}
		for _, p := range subnets[s.UUID] {
			sw.Subnets = append(sw.Subnets, p.String())
		}
		out = append(out, sw)
		for _, u := range s.Ports {
			switchOf[u] = s.Name
		}
	}
	return out, switchOf
}

// mapSwitchPorts are the logical switch ports: VIFs, CHILD ports with their tags, router ports; a
// port the query's node facts bind to a pod (by iface-id) names that pod.
func (d *nbData) mapSwitchPorts(q fabric.Query, switchOf map[string]string) []trace.SwitchPort {
	var out []trace.SwitchPort
	byIface := map[string]*trace.PodRef{}
	for _, e := range queryEndpoints(q) {
		if e.IfaceID != "" && e.Pod != nil {
			byIface[e.IfaceID] = e.Pod
		}
	}
	for _, p := range sortedLSPs(d) {
		sp := trace.SwitchPort{ID: p.Name, Name: p.Name, Switch: switchOf[p.UUID], AttachmentID: p.Name,
			NodeName: nodeOf(p), Pod: podOf(p), Up: p.Up, Source: trace.SourceOVN}
		switch {
		case p.ParentName != nil && *p.ParentName != "":
			sp.Type = trace.PortChild
			sp.ParentPort, sp.ParentVIF = *p.ParentName, *p.ParentName
			switch {
			case p.Tag != nil:
				sp.TrafficTag = ptr(*p.Tag)
			case p.TagRequest != nil && *p.TagRequest > 0:
				sp.TrafficTag = ptr(*p.TagRequest)
			}
		case p.Type == "router":
			sp.Type = trace.PortRouter
			sp.RouterPort = p.Options["router-port"]
			sp.AttachmentID = ""
		case p.Type == "":
			sp.Type = trace.PortVIF
		default:
			sp.Type = p.Type
		}
		macs, ips := lspAddrs(p)
		sp.MACs = macs
		for _, ip := range ips {
			sp.IPs = append(sp.IPs, ip.String())
		}
		if sp.Pod == nil && byIface[p.Name] != nil {
			sp.Pod = byIface[p.Name] // the node's OVS binds this port to the pod
		}
		out = append(out, sp)
	}
	return out
}

// mapRouters are the logical routers with their main-table destination routes (others are warned
// about), and each router port's router (by UUID).
func (d *nbData) mapRouters() ([]trace.Router, []trace.FabricRoute, map[string]*nbdb.LogicalRouter, []string) {
	var routers []trace.Router
	var routes []trace.FabricRoute
	var warn []string
	routerOf := map[string]*nbdb.LogicalRouter{}
	for _, r := range sortedRouters(d) {
		routers = append(routers, trace.Router{ID: r.Name, Name: r.Name, Tier: tierOf(r), Source: trace.SourceOVN})
		for _, u := range r.Ports {
			if rp := d.lrps[u]; rp != nil {
				routerOf[rp.UUID] = r
			}
		}
		for _, u := range r.StaticRoutes {
			rt := d.routes[u]
			if rt == nil {
				continue
			}
			if rt.Policy != nil && *rt.Policy == nbdb.LogicalRouterStaticRoutePolicySrcIP {
				warn = append(warn, fmt.Sprintf("ovn: router %s has a source-IP route %s via %s: the walk only does destination routing", r.Name, rt.IPPrefix, rt.Nexthop))
				continue
			}
			if rt.RouteTable != "" {
				warn = append(warn, fmt.Sprintf("ovn: router %s has route %s in route table %q: only main-table routes are walked", r.Name, rt.IPPrefix, rt.RouteTable))
				continue
			}
			fr := trace.FabricRoute{Router: r.Name, Prefix: normPrefix(rt.IPPrefix), Origin: trace.OriginStatic, Source: trace.SourceOVN}
			if rt.Nexthop != "discard" {
				fr.NextHop = rt.Nexthop
			}
			if rt.OutputPort != nil {
				fr.OutPort = *rt.OutputPort
			}
			routes = append(routes, fr)
		}
	}
	return routers, routes, routerOf, warn
}

// mapRouterPorts are the router ports of the routers read: link (peer), uplink (gateway chassis) or
// downlink (a switch's router port points at it), sorted by ID.
func (d *nbData) mapRouterPorts(routerOf map[string]*nbdb.LogicalRouter) []trace.RouterPort {
	downlink := map[string]string{} // router port name -> LSP name
	for _, p := range sortedLSPs(d) {
		if p.Type == "router" && p.Options["router-port"] != "" {
			downlink[p.Options["router-port"]] = p.Name
		}
	}
	var rps []trace.RouterPort
	for _, rp := range d.lrps {
		r := routerOf[rp.UUID]
		if r == nil {
			continue
		}
		p := trace.RouterPort{ID: rp.Name, Name: rp.Name, Router: r.Name, Networks: rp.Networks, Source: trace.SourceOVN}
		p.MAC = trace.NormalizeMAC(rp.MAC)
		if rp.Enabled != nil {
			p.Up = ptr(*rp.Enabled)
		}
		p.LinkedSwitchPort = downlink[rp.Name]
		switch {
		case rp.Peer != nil && *rp.Peer != "":
			p.Kind, p.PeerRouterPort = trace.RouterPortLink, *rp.Peer
		case len(rp.GatewayChassis) > 0 || rp.HaChassisGroup != nil || r.Options["chassis"] != "":
			p.Kind = trace.RouterPortUplink
		case p.LinkedSwitchPort != "":
			p.Kind = trace.RouterPortDownlink
		}
		rps = append(rps, p)
	}
	sort.Slice(rps, func(i, j int) bool { return rps[i].ID < rps[j].ID })
	return rps
}

// queryEndpoints is every endpoint of q: sources, destinations, and the ports of Ports.
func queryEndpoints(q fabric.Query) []fabric.Endpoint {
	return append(append(append([]fabric.Endpoint{}, q.Sources...), q.Destinations...), q.Ports...)
}

// unfound warns of each pod whose port no row read declares, saying what was tried, and lists its
// IP in f.NotFound so the walk says unknown there rather than broken.
func (d *nbData) unfound(q fabric.Query, f *trace.Fabric) []string {
	var out []string
	seen := map[netip.Addr]bool{}
	for _, e := range queryEndpoints(q) {
		if e.Pod == nil || !e.IP.IsValid() || seen[e.IP] {
			continue
		}
		seen[e.IP] = true
		found := false
		for _, p := range d.lsps {
			if p.Type != "router" && lspHolds(p, e.IP, e.MAC) {
				found = true
				break
			}
		}
		if found {
			continue
		}
		f.NotFound = append(f.NotFound, e.IP.String())
		var tried []string
		if e.IfaceID != "" {
			tried = append(tried, fmt.Sprintf("the iface-id %q its node's OVS reports", e.IfaceID))
		} else {
			tried = append(tried, "no iface-id (its node's OVS was not read or names none)")
		}
		if sw := d.searched[e.IP]; len(sw) > 0 {
			tried = append(tried, fmt.Sprintf("the addresses, dynamic_addresses and port_security of every port on switch %s", strings.Join(sw, ", ")))
		} else {
			tried = append(tried, fmt.Sprintf("no switch's subnet (other_config:subnet or its router port's networks) holds %s", e.IP))
		}
		tried = append(tried, "the names "+strings.Join(knownNames(*e.Pod), ", "))
		mac := ""
		if e.MAC != "" {
			mac = " " + e.MAC
		}
		out = append(out, fmt.Sprintf("ovn: no logical switch port found for pod %s (%s%s): tried %s", e.Pod, e.IP, mac, strings.Join(tried, "; ")))
	}
	sort.Strings(f.NotFound)
	return out
}

// normPrefix writes a route prefix as a masked CIDR (OVN accepts a bare address for a host route).
func normPrefix(s string) string {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return s
}
