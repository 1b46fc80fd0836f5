package agentless

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"

	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// tunnelTypes are the OVS interface types that carry an overlay.
var tunnelTypes = map[string]bool{trace.EncapGeneve: true, trace.EncapVXLAN: true, trace.EncapSTT: true}

// CollectHost reads one hypervisor's side of the overlay with the tools every OVS host has:
// its tunnel interfaces (`ovs-vsctl list Interface`: type, options:remote_ip/local_ip, bfd_status,
// mtu), its bridges and ports (to tell an OVS bridge holding the TEP from a plain device), and the
// route towards each peer TEP (`ip -j route get`) with the MTU of the device it leaves by (the
// physical ports of that bridge, else `ip -j link show DEV`). peers are the other hosts' TEPs.
// It fills h.Tunnels and h.Underlay and returns warnings; an unreachable host is an error.
func CollectHost(ctx context.Context, run Run, h *trace.Host, peers []string) ([]string, error) {
	src := trace.SourceOVSDB + "@" + h.Name
	o, ifaces, err := listOVS(ctx, run)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", h.Name, err)
	}
	var ifs vsctlTable
	if err := json.Unmarshal(ifaces, &ifs); err != nil {
		return nil, fmt.Errorf("host %s: ovs-vsctl list Interface: %w", h.Name, err)
	}
	mtu := map[string]int{}
	linkUp := map[string]bool{}
	h.Tunnels = nil
	for _, r := range ifs.rows() {
		name, typ := str(r["name"]), str(r["type"])
		if m := ints(r["mtu"]); len(m) == 1 {
			mtu[name] = m[0]
		}
		linkUp[name] = str(r["link_state"]) == "up"
		if !tunnelTypes[typ] {
			continue
		}
		opts := strMap(r["options"])
		t := trace.Tunnel{Name: name, Encap: typ, LocalIP: opts["local_ip"], RemoteIP: opts["remote_ip"], MTU: mtu[name], State: trace.TunnelUnknown, Source: src}
		if t.LocalIP == "" && len(h.TEPs) > 0 {
			t.LocalIP = h.TEPs[0].IP
		}
		if bfd := strMap(r["bfd_status"]); bfd["state"] != "" {
			b := &trace.BFD{State: bfd["state"], RemoteState: bfd["remote_state"], Diagnostic: bfd["diagnostic"], RemoteDiagnostic: bfd["remote_diagnostic"]}
			if f, err := strconv.ParseBool(bfd["forwarding"]); err == nil {
				b.Forwarding = &f
			}
			t.BFD = b
			t.State = trace.TunnelDown
			if b.State == "up" && (b.Forwarding == nil || *b.Forwarding) {
				t.State = trace.TunnelUp
			}
		}
		h.Tunnels = append(h.Tunnels, t)
	}
	sort.Slice(h.Tunnels, func(i, j int) bool { return h.Tunnels[i].Name < h.Tunnels[j].Name })
	var warns []string
	if len(peers) == 0 {
		return warns, nil
	}
	u, err := underlay(ctx, run, o, mtu, linkUp, peers[0])
	if err != nil {
		return append(warns, fmt.Sprintf("host %s: underlay towards %s not read: %v", h.Name, peers[0], err)), nil
	}
	u.Source = src
	h.Underlay = u
	return warns, nil
}

// underlay finds the device packets to the peer TEP leave by and the MTU it carries: for an OVS
// bridge holding the TEP (userspace tunnelling: br-phy), its other ports, the smallest MTU.
func underlay(ctx context.Context, run Run, o *trace.OVS, mtu map[string]int, linkUp map[string]bool, peer string) (*trace.Underlay, error) {
	a, err := netip.ParseAddr(peer)
	if err != nil {
		return nil, fmt.Errorf("peer TEP %q is not an address", peer)
	}
	b, err := run(ctx, []string{"ip", "-j", "route", "get", a.String()})
	if err != nil {
		return nil, err
	}
	var rs []struct {
		Dst     string `json:"dst"`
		Gateway string `json:"gateway"`
		Dev     string `json:"dev"`
		PrefSrc string `json:"prefsrc"`
	}
	if err := json.Unmarshal(b, &rs); err != nil || len(rs) == 0 {
		return nil, fmt.Errorf("ip -j route get %s: no route in %q", a, b)
	}
	r := rs[0]
	u := &trace.Underlay{Interface: r.Dev, Routes: []trace.Route{{Dst: a.String() + "/32", Gateway: r.Gateway, Dev: r.Dev, Src: r.PrefSrc}}}
	for _, br := range o.Bridges {
		if br.Name != r.Dev {
			continue
		}
		for _, pn := range br.Ports {
			for _, p := range o.Ports {
				if p.Name != pn || p.Name == br.Name {
					continue
				}
				for _, in := range p.Interfaces {
					if m := mtu[in]; m > 0 && (u.MTU == 0 || m < u.MTU) {
						up := linkUp[in]
						u.Interface, u.MTU, u.Up = in, m, &up
					}
				}
			}
		}
	}
	if u.MTU > 0 {
		return u, nil
	}
	if err := runner.CheckName(runner.KindIface, r.Dev); err != nil {
		return nil, err
	}
	b, err = run(ctx, []string{"ip", "-j", "link", "show", "dev", r.Dev})
	if err != nil {
		return nil, err
	}
	var ls []struct {
		MTU       int    `json:"mtu"`
		OperState string `json:"operstate"`
	}
	if err := json.Unmarshal(b, &ls); err != nil || len(ls) == 0 {
		return nil, fmt.Errorf("ip -j link show dev %s: %q", r.Dev, b)
	}
	up := ls[0].OperState != "DOWN"
	u.MTU, u.Up = ls[0].MTU, &up
	return u, nil
}
