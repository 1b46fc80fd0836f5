package agentless

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// The ip -j parsers: any bytes give facts or one error line, never a panic; routes come out as
// canonical prefixes (or "default", or what ip printed when it is neither) and MACs canonical.

func oneLineErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Fatalf("error spans lines: %q", err)
	}
}

func FuzzParseLinks(f *testing.F) {
	f.Add([]byte(`[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"operstate":"UNKNOWN","link_type":"loopback","address":"00:00:00:00:00:00"},` +
		`{"ifindex":2,"link_index":7,"ifname":"veth-a","flags":["UP"],"mtu":1500,"operstate":"UP","link_type":"ether","address":"0A:58:AC:10:01:02","link_netnsid":0,"linkinfo":{"info_kind":"veth"}},` +
		`{"ifindex":3,"link":"eth0","ifname":"eth0.101","mtu":1500,"operstate":"LOWERLAYERDOWN","address":"02:50:56:56:44:52","linkinfo":{"info_kind":"vlan","info_data":{"protocol":"802.1Q","id":101}}},` +
		`{"ifindex":4,"link":"if9","ifname":"p","linkinfo":{"info_kind":"veth"}},{"ifindex":5,"ifname":"t","linkinfo":{"info_kind":"tun","info_data":{"type":"tap"}}}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"linkinfo":{"info_kind":"vlan","info_data":[1]}}]`))
	f.Add([]byte(`{"ifindex":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ls, err := ParseLinks(b)
		oneLineErr(t, err)
		for _, l := range ls {
			if l.MAC != "" && trace.NormalizeMAC(l.MAC) != l.MAC {
				t.Fatalf("MAC %q", l.MAC)
			}
		}
	})
}

func FuzzParseAddrs(f *testing.F) {
	f.Add([]byte(`[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},{"family":"inet6","local":"::1","prefixlen":128}]},` +
		`{"ifname":"eth0","addr_info":[{"local":"fe80::1","prefixlen":64,"tentative":true},{"local":"172.16.1.2","prefixlen":24}]}]`))
	f.Add([]byte(`[{"addr_info":null}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		as, err := ParseAddrs(b)
		oneLineErr(t, err)
		for _, a := range as {
			if !strings.Contains(a.CIDR, "/") {
				t.Fatalf("CIDR %q", a.CIDR)
			}
		}
	})
}

func FuzzParseRoutes(f *testing.F) {
	f.Add([]byte(`[{"dst":"default","gateway":"172.16.1.1","dev":"eth0","flags":[]},{"dst":"172.16.1.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"172.16.1.2","flags":[]},` +
		`{"dst":"10.0.0.7","dev":"x","scope":"host"},{"type":"local","dst":"1.2.3.4"},{"dst":"10.1.2.3/8","table":"main","nexthops":[{"gateway":"1.1.1.1","dev":"a"},{"gateway":"2.2.2.2","dev":"b"}]},` +
		`{"dst":"fd00::/64","dev":"eth0","table":"255"},{"dst":"fd00::1%eth0"}]`))
	f.Add([]byte(`[{"dst":"::ffff:1.2.3.4/120"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseRoutes(b)
		oneLineErr(t, err)
		for _, r := range rs {
			if p, err := netip.ParsePrefix(r.Dst); err == nil && p.Masked() != p {
				t.Fatalf("route %q is not masked", r.Dst)
			}
		}
	})
}

func FuzzParseNeighbors(f *testing.F) {
	f.Add([]byte(`[{"dst":"172.16.1.1","dev":"eth0","lladdr":"02:50:56:56:44:52","state":["REACHABLE"]},{"dst":"fe80::1","dev":"eth0","state":["FAILED"]},{"dst":"1.1.1.1","lladdr":"x","state":["permanent","noarp"]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ns, err := ParseNeighbors(b)
		oneLineErr(t, err)
		for _, n := range ns {
			if n.State != strings.ToUpper(n.State) {
				t.Fatalf("state %q", n.State)
			}
		}
	})
}

// FuzzParseOVS: the three ovs-vsctl --format=json --data=json tables, in one input split at NUL
// bytes, give facts or one error line; every port named on a bridge is a port that exists.
func FuzzParseOVS(f *testing.F) {
	br := `{"data":[[["uuid","b1"],"netdev","br-int",["set",[["uuid","p1"],["uuid","p2"]]]]],"headings":["_uuid","datapath_type","name","ports"]}`
	pt := `{"data":[[["uuid","p1"],["set",[["uuid","i1"]]],"veth-a",101,["set",[]],["set",[]]],[["uuid","p2"],["uuid","i2"],"eth1",["set",[]],["set",[101,102]],"trunk"]],"headings":["_uuid","interfaces","name","tag","trunks","vlan_mode"]}`
	it := `{"data":[[["uuid","i1"],"up",["map",[["attached-mac","0a:58:ac:10:01:02"],["iface-id","kube-system_kube-dns"]]],"up","0A:58:AC:10:01:02","veth-a",1,""],[["uuid","i2"],["set",[]],["map",[]],["set",[]],["set",[]],"eth1",["set",[]],"internal"]],"headings":["_uuid","admin_state","external_ids","link_state","mac_in_use","name","ofport","type"]}`
	f.Add([]byte(br + "\x00" + pt + "\x00" + it))
	f.Add([]byte(`{"data":[[1]],"headings":[]}` + "\x00" + `{"data":[],"headings":["a","b"]}` + "\x00" + `{}`))
	f.Add([]byte(`{"data":[[["set",[["map",1]]]]],"headings":["tag"]}` + "\x00{}\x00" + `{"data":[[["named-uuid","x"],1e300,-1]],"headings":["_uuid","ofport","tag"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		parts := strings.SplitN(string(b), "\x00", 3)
		for len(parts) < 3 {
			parts = append(parts, "")
		}
		o, err := ParseOVS([]byte(parts[0]), []byte(parts[1]), []byte(parts[2]))
		oneLineErr(t, err)
		if err != nil {
			return
		}
		ports := map[string]bool{}
		for _, p := range o.Ports {
			ports[p.Name] = true
		}
		for _, b := range o.Bridges {
			for _, p := range b.Ports {
				if !ports[p] {
					t.Fatalf("bridge %s names port %q that is not listed", b.Name, p)
				}
			}
		}
	})
}
