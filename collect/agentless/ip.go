// Package agentless collects a node's facts with the tools a CNI's agent pod already carries,
// instead of our own binary: `ip -j -d link/addr/route/neigh` in the root namespace and in every
// other one (`ip -n NAME` for named namespaces, `nsenter -t PID -n` for those of processes, found
// with `lsns -J -t net`), `ovs-vsctl --format=json --data=json list Bridge/Port/Interface` and
// `ovs-appctl fdb/show BRIDGE`. The output is parsed into exactly the facts the native collector
// (collect/node, collect/ovs) gives, following the conventions on trace.NodeState.
package agentless

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// ipLink is one element of `ip -j -d link show`.
type ipLink struct {
	Index       int      `json:"ifindex"`
	Name        string   `json:"ifname"`
	Flags       []string `json:"flags"`
	MTU         int      `json:"mtu"`
	OperState   string   `json:"operstate"`
	LinkType    string   `json:"link_type"`
	Address     string   `json:"address"`
	Link        *string  `json:"link"`
	LinkIndex   int      `json:"link_index"`
	LinkNetnsID *int     `json:"link_netnsid"`
	Master      string   `json:"master"`
	LinkInfo    *struct {
		Kind string          `json:"info_kind"`
		Data json.RawMessage `json:"info_data"`
	} `json:"linkinfo"`
}

// ParseLinks parses `ip -j -d link show`. Equivalent to the native collector's netlink LinkList.
func ParseLinks(b []byte) ([]trace.Link, error) {
	var in []ipLink
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("ip -j -d link: %w", err)
	}
	byName := map[string]int{}
	for _, l := range in {
		byName[l.Name] = l.Index
	}
	out := make([]trace.Link, 0, len(in))
	for _, l := range in {
		x := trace.Link{Index: l.Index, Name: l.Name, MTU: l.MTU, OperState: strings.ToLower(l.OperState),
			MAC: trace.NormalizeMAC(l.Address), Master: l.Master, PeerNetnsID: l.LinkNetnsID}
		if l.LinkType == "loopback" && x.MAC == "00:00:00:00:00:00" {
			x.MAC = "" // as netlink's collector: lo has no MAC
		}
		x.AdminUp = hasFlag(l.Flags, "UP")
		var data struct {
			ID   int    `json:"id"`
			Type string `json:"type"`
		}
		switch {
		case l.LinkInfo != nil && l.LinkInfo.Kind != "":
			x.Kind = l.LinkInfo.Kind
			_ = json.Unmarshal(l.LinkInfo.Data, &data)
			if x.Kind == trace.KindTun && data.Type == "tap" {
				x.Kind = "tap"
			}
		case l.LinkType == "loopback" || hasFlag(l.Flags, "LOOPBACK"):
			x.Kind = trace.KindLoopback
		default:
			x.Kind = trace.KindDevice
		}
		// IFLA_LINK: ip prints link_index when the peer is in another namespace, else the peer's name.
		peer := l.LinkIndex
		if peer == 0 && l.Link != nil {
			if i, ok := byName[*l.Link]; ok {
				peer = i
			} else if n, err := strconv.Atoi(strings.TrimPrefix(*l.Link, "if")); err == nil {
				peer = n
			}
		}
		switch x.Kind {
		case trace.KindVeth:
			x.PeerIndex = peer
		case trace.KindVLAN:
			x.VLANID = data.ID
			if l.Link != nil {
				x.Parent = *l.Link
			}
		}
		if x.Kind != trace.KindVeth {
			x.PeerNetnsID = nil
		}
		out = append(out, x)
	}
	return out, nil
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

// ParseAddrs parses `ip -j addr show`: every non-tentative address as IP/LEN.
func ParseAddrs(b []byte) ([]trace.Address, error) {
	var in []struct {
		Name  string `json:"ifname"`
		Addrs []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
			Tentative bool   `json:"tentative"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("ip -j addr: %w", err)
	}
	var out []trace.Address
	for _, l := range in {
		for _, a := range l.Addrs {
			if a.Tentative || a.Local == "" {
				continue
			}
			out = append(out, trace.Address{Link: l.Name, CIDR: a.Local + "/" + strconv.Itoa(a.PrefixLen)})
		}
	}
	return out, nil
}

// ParseRoutes parses `ip -j route show` or `ip -j -6 route show` (the main table). A host route printed as a bare IP
// becomes IP/32 (or /128), as netlink gives it.
func ParseRoutes(b []byte) ([]trace.Route, error) {
	var in []struct {
		Type     string `json:"type"`
		Dst      string `json:"dst"`
		Gateway  string `json:"gateway"`
		Dev      string `json:"dev"`
		Scope    string `json:"scope"`
		PrefSrc  string `json:"prefsrc"`
		Table    string `json:"table"`
		Protocol string `json:"protocol"`
		NextHops []struct {
			Gateway string `json:"gateway"`
			Dev     string `json:"dev"`
		} `json:"nexthops"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("ip -j route: %w", err)
	}
	var out []trace.Route
	for _, r := range in {
		if (r.Table != "" && r.Table != "main") || (r.Type != "" && r.Type != "unicast") {
			continue // as the native collector: unicast routes of the main table only
		}
		dst := r.Dst
		if dst != "default" && !strings.Contains(dst, "/") {
			if a, err := netip.ParseAddr(dst); err == nil {
				dst = netip.PrefixFrom(a, a.BitLen()).String()
			}
		} else if p, err := netip.ParsePrefix(dst); err == nil {
			dst = p.Masked().String()
		}
		x := trace.Route{Dst: dst, Gateway: r.Gateway, Dev: r.Dev, Src: r.PrefSrc}
		if r.Scope == "link" || r.Scope == "host" {
			x.Scope = r.Scope
		}
		if len(r.NextHops) == 0 {
			out = append(out, x)
		}
		for _, nh := range r.NextHops {
			y := x
			y.Gateway, y.Dev = nh.Gateway, nh.Dev
			out = append(out, y)
		}
	}
	return out, nil
}

// ParseNeighbors parses `ip -j neigh show`; entries without a MAC (FAILED, INCOMPLETE) are kept.
func ParseNeighbors(b []byte) ([]trace.Neighbor, error) {
	var in []struct {
		Dst    string   `json:"dst"`
		Dev    string   `json:"dev"`
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("ip -j neigh: %w", err)
	}
	var out []trace.Neighbor
	for _, n := range in {
		out = append(out, trace.Neighbor{IP: n.Dst, MAC: trace.NormalizeMAC(n.LLAddr), Dev: n.Dev, State: strings.ToUpper(strings.Join(n.State, " "))})
	}
	return out, nil
}

// resolvePeers names the namespace holding each veth's peer in another namespace (link_netnsid set): the one with a veth whose index is our
// PeerIndex and whose PeerIndex is our index (a mutual pair), "root" included.
func resolvePeers(nss []trace.Netns) {
	type key struct{ idx, peer int }
	where := map[key][]string{}
	for _, ns := range nss {
		for _, l := range ns.Links {
			if l.Kind == trace.KindVeth {
				k := key{l.Index, l.PeerIndex}
				where[k] = append(where[k], ns.Name)
			}
		}
	}
	for i := range nss {
		for j := range nss[i].Links {
			l := &nss[i].Links[j]
			if l.Kind != trace.KindVeth || l.PeerIndex == 0 || l.PeerNetnsID == nil {
				continue
			}
			var cands []string
			for _, n := range where[key{l.PeerIndex, l.Index}] {
				if n != nss[i].Name {
					cands = append(cands, n)
				}
			}
			if len(cands) == 1 {
				l.PeerNetns = cands[0]
			}
		}
	}
}
