package ovn

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
)

// locate reads, for each endpoint whose port no row read declares, every port of the switch whose
// subnet holds its IP: a pod's port is found by its addresses, dynamic_addresses or port_security
// whatever its name. A switch's subnet is its other_config:subnet (or ipv6_prefix), else the
// networks of the router port on it, so both are read first: every switch's name and other_config
// (not its ports), and every router port's name and networks.
func (r *reader) locate(ctx context.Context, d *nbData, endpoints []fabric.Endpoint) error {
	var want []fabric.Endpoint
	for _, e := range endpoints {
		if e.IP.IsValid() && d.portWith(e.IP, e.MAC) == nil {
			want = append(want, e)
		}
	}
	if len(want) == 0 {
		return nil
	}
	idx := newNBData()
	err := r.run(ctx, idx, []sel{
		{table: nbdb.LogicalSwitchTable, where: all, cols: []string{"_uuid", "name", "other_config"}},
		{table: nbdb.LogicalRouterPortTable, where: all, cols: []string{"_uuid", "name", "networks"}},
	})
	if err != nil {
		return err
	}
	// Router-type switch ports point at router ports by name: a switch whose router port's
	// networks hold the IP is the switch holding that router-type port.
	rpNets := map[string][]string{}
	for _, rp := range idx.lrps {
		rpNets[rp.Name] = rp.Networks
	}
	bySubnet := map[netip.Addr][]string{} // endpoint IP -> switch UUIDs
	byRouter := map[netip.Addr][]string{} // endpoint IP -> router-type LSP UUIDs
	var switchUUIDs, lspUUIDs []string
	for _, e := range want {
		for _, sw := range sortedSwitches(idx) {
			if containsAddr(otherConfigSubnets(sw), e.IP) {
				bySubnet[e.IP] = append(bySubnet[e.IP], sw.UUID)
				switchUUIDs = append(switchUUIDs, sw.UUID)
			}
		}
		for _, p := range sortedLSPs(d) {
			if p.Type == "router" && networksHold(rpNets[p.Options["router-port"]], e.IP) {
				byRouter[e.IP] = append(byRouter[e.IP], p.UUID)
				lspUUIDs = append(lspUUIDs, p.UUID)
			}
		}
	}
	slices.Sort(switchUUIDs)
	slices.Sort(lspUUIDs)
	var sels []sel
	for _, u := range slices.Compact(switchUUIDs) {
		if d.switches[u] == nil {
			sels = append(sels, byUUID(nbdb.LogicalSwitchTable, []string{u})...)
		}
	}
	for _, u := range slices.Compact(lspUUIDs) {
		sels = append(sels, switchHolding(u))
	}
	if err := r.run(ctx, d, sels); err != nil {
		return err
	}
	// The candidate switches, now read whole: their ports not read yet.
	var ports []string
	for _, e := range want {
		for _, sw := range sortedSwitches(d) {
			if !slices.Contains(bySubnet[e.IP], sw.UUID) && !slices.ContainsFunc(sw.Ports, func(u string) bool { return slices.Contains(byRouter[e.IP], u) }) {
				continue
			}
			if !slices.Contains(d.searched[e.IP], sw.Name) {
				d.searched[e.IP] = append(d.searched[e.IP], sw.Name)
			}
			for _, u := range sw.Ports {
				if d.lsps[u] == nil {
					ports = append(ports, u)
				}
			}
		}
	}
	slices.Sort(ports)
	return r.run(ctx, d, byUUID(nbdb.LogicalSwitchPortTable, slices.Compact(ports)))
}

// otherConfigSubnets is a switch's other_config:subnet and ipv6_prefix (OVN-Kubernetes, Kube-OVN).
func otherConfigSubnets(s *nbdb.LogicalSwitch) []netip.Prefix {
	var ps []netip.Prefix
	for _, k := range []string{"subnet", "ipv6_prefix"} {
		for _, x := range strings.FieldsFunc(s.OtherConfig[k], func(r rune) bool { return r == ' ' || r == ',' }) {
			if p, err := netip.ParsePrefix(x); err == nil {
				ps = append(ps, p.Masked())
			}
		}
	}
	return ps
}
