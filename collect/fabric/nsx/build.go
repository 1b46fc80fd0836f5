package nsx

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// fabric assembles what has been read into the model, sorted, with the routes NSX derives:
//   - a tier-1 linked to a tier-0 sends what it does not own to the tier-0 over the link (tier1-default);
//   - a tier-0 reaches a linked tier-1's downlink subnets when that tier-1 advertises its NSX
//     connected routes, and its static routes when it advertises those (advertised);
//   - configured static routes (static). Connected networks come from the ports.
func (st *state) fabric() *trace.Fabric {
	f := &trace.Fabric{Provider: "nsx"}
	subnets := map[string][]string{}
	for _, rp := range st.sortedRouterPorts() {
		sp := st.ports[rp.LinkedSwitchPort]
		if sp == nil || rp.Kind != trace.RouterPortDownlink {
			continue
		}
		for _, n := range rp.Networks {
			if p, err := netip.ParsePrefix(n); err == nil && !contains(subnets[sp.Switch], p.Masked().String()) {
				subnets[sp.Switch] = append(subnets[sp.Switch], p.Masked().String())
			}
		}
	}
	for _, id := range sortedKeys(st.switches) {
		s := *st.switches[id]
		s.Subnets = subnets[id]
		f.Switches = append(f.Switches, s)
	}
	for _, sp := range st.sortedPorts() {
		f.SwitchPorts = append(f.SwitchPorts, *sp)
	}
	for _, id := range sortedKeys(st.routers) {
		f.Routers = append(f.Routers, *st.routers[id])
	}
	for _, rp := range st.sortedRouterPorts() {
		f.RouterPorts = append(f.RouterPorts, *rp)
	}
	for _, id := range sortedKeys(st.routers) {
		f.Routes = append(f.Routes, st.routesOf(id)...)
	}
	st.services.fill(f)
	st.addOverlayTo(f)
	return f
}

func sortedKeys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (st *state) portsOf(router string) []*trace.RouterPort {
	var out []*trace.RouterPort
	for _, rp := range st.sortedRouterPorts() {
		if rp.Router == router {
			out = append(out, rp)
		}
	}
	return out
}

func (st *state) routesOf(id string) []trace.FabricRoute {
	r := st.routers[id]
	var out []trace.FabricRoute
	for _, sr := range st.static[id] {
		hops := 0
		for _, nh := range sr.NextHops {
			if nh.IPAddress != "" {
				out = append(out, trace.FabricRoute{Router: id, Prefix: sr.Network, NextHop: nh.IPAddress, Origin: trace.OriginStatic, Source: trace.SourceNSX})
				hops++
			}
		}
		if hops == 0 {
			out = append(out, trace.FabricRoute{Router: id, Prefix: sr.Network, Origin: trace.OriginStatic, Source: trace.SourceNSX})
		}
	}
	switch r.Tier {
	case trace.Tier1:
		for _, rp := range st.portsOf(id) {
			if rp.Kind != trace.RouterPortLink {
				continue
			}
			// The link port of a tier-1 leads up to its tier-0, whatever that router turns out to be.
			if peer := st.rports[rp.PeerRouterPort]; peer != nil {
				if nh := firstAddr(peer); nh != "" {
					out = append(out, trace.FabricRoute{Router: id, Prefix: defaultFor(nh), NextHop: nh, Origin: trace.OriginDefault, Source: trace.SourceNSX})
				}
			}
		}
	case trace.Tier0:
		for _, rp := range st.portsOf(id) {
			if rp.Kind != trace.RouterPortLink {
				continue
			}
			t1port := st.rports[rp.PeerRouterPort]
			if t1port == nil {
				continue
			}
			a := st.adv[t1port.Router]
			nh := firstAddr(t1port)
			if a == nil || !a.Enabled || nh == "" {
				continue
			}
			var prefixes []string
			if a.AdvertiseNSXConnectedRoutes {
				for _, dl := range st.portsOf(t1port.Router) {
					if dl.Kind != trace.RouterPortDownlink {
						continue
					}
					for _, n := range dl.Networks {
						if p, err := netip.ParsePrefix(n); err == nil {
							prefixes = append(prefixes, p.Masked().String())
						}
					}
				}
			}
			if a.AdvertiseStaticRoutes {
				for _, sr := range st.static[t1port.Router] {
					prefixes = append(prefixes, sr.Network)
				}
			}
			for _, p := range prefixes {
				out = append(out, trace.FabricRoute{Router: id, Prefix: p, NextHop: nh, Origin: trace.OriginAdvertised, Source: trace.SourceNSX})
			}
		}
	}
	return out
}

func defaultFor(nh string) string {
	if strings.Contains(nh, ":") {
		return "::/0"
	}
	return "0.0.0.0/0"
}
