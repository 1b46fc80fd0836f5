package ovn

import (
	"cmp"
	"net/netip"
	"sort"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// OVN-Kubernetes' external_ids on load balancers and NAT rows.
const (
	keyOVNKOwner     = "k8s.ovn.org/owner"
	keyOVNKKind      = "k8s.ovn.org/kind"
	keyOVNKOwnerType = "k8s.ovn.org/owner-type"
	keyOVNKName      = "k8s.ovn.org/name"
)

// loadBalancers maps the Load_Balancer rows read to the model: each applied to the switches and
// routers that list it directly or through a Load_Balancer_Group.
func (d *nbData) loadBalancers() []trace.LoadBalancer {
	switches, routers := map[string][]string{}, map[string][]string{}
	groupLBs := func(groups []string) []string {
		var out []string
		for _, g := range groups {
			if lg := d.lbGroups[g]; lg != nil {
				out = append(out, lg.LoadBalancer...)
			}
		}
		return out
	}
	for _, s := range sortedSwitches(d) {
		for _, u := range append(append([]string{}, s.LoadBalancer...), groupLBs(s.LoadBalancerGroup)...) {
			switches[u] = appendOnce(switches[u], s.Name)
		}
	}
	for _, r := range sortedRouters(d) {
		for _, u := range append(append([]string{}, r.LoadBalancer...), groupLBs(r.LoadBalancerGroup)...) {
			routers[u] = appendOnce(routers[u], r.Name)
		}
	}
	var out []trace.LoadBalancer
	for _, lb := range d.lbs {
		m, _ := mapLB(lb, d.hcs, switches[lb.UUID], routers[lb.UUID])
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// appendOnce appends x unless xs ends with it. Its callers visit the switches (routers) in name
// order, appending each name in one run, so a repeat can only be the last element; a scan of all xs
// made a cluster-wide load balancer group cost the square of the nodes (6.4 s at 5,000).
func appendOnce(xs []string, x string) []string {
	if len(xs) > 0 && xs[len(xs)-1] == x {
		return xs
	}
	return append(xs, x)
}

// lbMonitor is a backend OVN health-checks: the Service_Monitor row ovn-northd keeps for it is
// keyed by ip, port, protocol and logical_port (the port ip_port_mappings names).
type lbMonitor struct {
	lb          string // trace.LoadBalancer.ID
	vip, back   int    // indexes into VIPs and their Backends
	ip, proto   string
	port        int
	logicalPort string
}

// mapLB maps one Load_Balancer row: its VIPs ("IP[:PORT]" -> "IP[:PORT],..."), protocol (tcp when
// unset), health checks, and the Service OVN-Kubernetes made it for. It also returns the backends
// a Service_Monitor row should report on: those of a VIP a health check names that have an
// ip_port_mappings entry (ovn-northd monitors no other).
func mapLB(lb *nbdb.LoadBalancer, hcs map[string]*nbdb.LoadBalancerHealthCheck, switches, routers []string) (trace.LoadBalancer, []lbMonitor) {
	out := trace.LoadBalancer{ID: cmp.Or(lb.Name, lb.UUID), Name: lb.Name, Kind: trace.LBKindOVN, Protocol: trace.ProtocolTCP,
		Switches: switches, Routers: routers, Source: trace.SourceOVN}
	if lb.Protocol != nil && *lb.Protocol != "" {
		out.Protocol = strings.ToUpper(*lb.Protocol)
	}
	if ns, name, ok := strings.Cut(lb.ExternalIDs[keyOVNKOwner], "/"); ok && lb.ExternalIDs[keyOVNKKind] == "Service" {
		out.Service = &trace.PodRef{Namespace: ns, Name: name}
	}
	checked := map[string]bool{} // VIP keys a health check row names
	read := false                // some health check row was read: which VIPs are checked is known
	if len(lb.HealthCheck) > 0 {
		out.HealthCheck = &trace.LBHealthCheck{ID: lb.HealthCheck[0], Kind: "ovn-service-monitor"}
		for _, u := range lb.HealthCheck {
			if hc := hcs[u]; hc != nil {
				read = true
				checked[hc.Vip] = true
				if out.HealthCheck.Options == nil {
					out.HealthCheck.Options = hc.Options
				}
			}
		}
	}
	var mons []lbMonitor
	keys := make([]string, 0, len(lb.Vips))
	for k := range lb.Vips {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ip, port, ok := splitVIP(k)
		if !ok {
			out.Warnings = append(out.Warnings, "VIP "+k+" is not IP[:PORT]")
			continue
		}
		v := trace.LBVIP{IP: ip, Port: port}
		for _, b := range strings.Split(lb.Vips[k], ",") {
			if b = strings.TrimSpace(b); b == "" {
				continue
			}
			bip, bport, ok := splitVIP(b)
			if !ok {
				out.Warnings = append(out.Warnings, "backend "+b+" of VIP "+k+" is not IP[:PORT]")
				continue
			}
			be := trace.LBBackend{IP: bip, Port: bport}
			switch mapping, mapped := lb.IPPortMappings[bip]; {
			case out.HealthCheck == nil: // nothing checks it: no status, as the source gives none
			case !read: // the health check rows were not read: which VIP they check is not known
				be.Status = trace.BackendUnknown
			case !checked[k]:
				be.Status, be.StatusDetail = trace.BackendUnknown, "not monitored: no health check names VIP "+k
			case !mapped:
				be.Status, be.StatusDetail = trace.BackendUnknown, "not monitored: ip_port_mappings has no entry for "+bip
			default:
				lport, _, _ := strings.Cut(mapping, ":")
				be.Status, be.StatusDetail = trace.BackendUnknown, "Service_Monitor not read"
				mons = append(mons, lbMonitor{lb: out.ID, vip: len(out.VIPs), back: len(v.Backends), ip: bip, port: bport,
					proto: strings.ToLower(out.Protocol), logicalPort: lport})
			}
			v.Backends = append(v.Backends, be)
		}
		out.VIPs = append(out.VIPs, v)
	}
	return out, mons
}

// monitors are the health-checked backends of the load balancers read.
func (d *nbData) monitors() []lbMonitor {
	var out []lbMonitor
	for _, lb := range d.lbs {
		_, m := mapLB(lb, d.hcs, nil, nil)
		out = append(out, m...)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return cmp.Or(cmp.Compare(a.lb, b.lb), cmp.Compare(a.vip, b.vip), cmp.Compare(a.back, b.back)) < 0
	})
	return out
}

// splitVIP parses OVN's "IP", "IP:PORT" or "[IPv6]:PORT".
func splitVIP(s string) (string, int, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().String(), int(ap.Port()), true
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().String(), 0, true
	}
	return "", 0, false
}

// natRules maps the NAT rows of every router read. snat and dnat_and_snat translate logical_ip to
// external_ip on the way out; dnat sends external_ip to logical_ip. A rule with a gateway_port is
// applied there; otherwise on the router's distributed gateway ports (those with gateway chassis),
// or, on a gateway router (options:chassis), its uplinks.
func (d *nbData) natRules() []trace.NATRule {
	var out []trace.NATRule
	for _, r := range sortedRouters(d) {
		var dgps []string
		for _, u := range r.Ports {
			if rp := d.lrps[u]; rp != nil && (len(rp.GatewayChassis) > 0 || rp.HaChassisGroup != nil) {
				dgps = append(dgps, rp.Name)
			}
		}
		sort.Strings(dgps)
		for _, u := range r.Nat {
			n := d.nats[u]
			if n == nil {
				continue
			}
			nr := trace.NATRule{ID: n.UUID, Name: n.ExternalIDs["name"], Type: n.Type, Router: r.Name, TranslatedPorts: n.ExternalPortRange, Source: trace.SourceOVN}
			switch n.Type {
			case nbdb.NATTypeSNAT:
				nr.Match.Source, nr.TranslatedIP = n.LogicalIP, n.ExternalIP
			case nbdb.NATTypeDNAT:
				nr.Match.Destination, nr.TranslatedIP = n.ExternalIP, n.LogicalIP
			case nbdb.NATTypeDNATAndSNAT:
				nr.Match.Source, nr.Match.Destination, nr.TranslatedIP = n.LogicalIP, n.ExternalIP, n.ExternalIP
				nr.Origin = &trace.NATOrigin{Kind: trace.NATOriginFloatingIP}
			}
			if n.GatewayPort != nil && *n.GatewayPort != "" {
				if rp := d.lrps[*n.GatewayPort]; rp != nil {
					nr.AppliedTo = []string{rp.Name}
				}
			} else if len(dgps) > 0 {
				nr.AppliedTo = dgps
			}
			if n.ExternalMAC != nil {
				nr.ExternalMAC = trace.NormalizeMAC(*n.ExternalMAC)
			}
			if n.LogicalPort != nil {
				nr.LogicalPort = *n.LogicalPort
			}
			if o := natOrigin(n.ExternalIDs); o != nil {
				nr.Origin = o
			}
			out = append(out, nr)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Router != out[j].Router {
			return out[i].Router < out[j].Router
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// natOrigin reads what made a NAT row from OVN-Kubernetes' external_ids (EgressIP rows carry
// owner-type EgressIP and the EgressIP's name); nil when they say nothing.
func natOrigin(ids map[string]string) *trace.NATOrigin {
	switch {
	case ids[keyOVNKOwnerType] == "EgressIP" || ids["name"] != "" && strings.HasPrefix(ids["name"], "egressip"):
		return &trace.NATOrigin{Kind: trace.NATOriginEgressIP, Name: cmp.Or(ids[keyOVNKName], ids["name"]), Tags: ids}
	case ids[keyOVNKOwnerType] != "":
		return &trace.NATOrigin{Kind: ids[keyOVNKOwnerType], Name: ids[keyOVNKName], Tags: ids}
	case ids["namespace"] != "":
		return &trace.NATOrigin{Kind: trace.NATOriginNamespace, Namespace: ids["namespace"], Tags: ids}
	}
	return nil
}
