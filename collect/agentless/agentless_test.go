package agentless_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/agentless"
	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/collect/node"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestCollectNetns builds a "node" (a netns) with a "pod" netns joined by a veth pair, then
// collects it through the node-exec runner `ip netns exec NODE`, the way a user's template would.
func TestCollectNetns(t *testing.T) {
	labtest.RequireRoot(t)
	labtest.RequireBinaries(t, "ip", "nsenter", "stat")
	nodeNS, pod := fmt.Sprintf("pwal-n%d", os.Getpid()), fmt.Sprintf("pwal-p%d", os.Getpid())
	sh(t, "ip", "netns", "add", nodeNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", nodeNS).Run() })
	sh(t, "ip", "netns", "add", pod)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", pod).Run() })
	in := func(ns string, args ...string) { sh(t, append([]string{"ip", "-n", ns}, args...)...) }
	in(nodeNS, "link", "add", "vethpod1", "type", "veth", "peer", "name", "eth0")
	in(nodeNS, "link", "set", "eth0", "netns", pod)
	in(nodeNS, "link", "set", "vethpod1", "address", "02:00:00:00:01:01", "up")
	in(nodeNS, "link", "add", "uplink", "type", "veth", "peer", "name", "hv-port")
	in(nodeNS, "link", "set", "uplink", "up")
	in(nodeNS, "addr", "add", "172.15.0.3/24", "dev", "uplink")
	in(nodeNS, "link", "set", "lo", "up")
	in(pod, "link", "set", "eth0", "address", "02:00:00:00:00:02", "up")
	in(pod, "addr", "add", "172.16.1.2/24", "dev", "eth0", "nodad")
	in(pod, "route", "add", "default", "via", "172.16.1.1")
	in(pod, "neigh", "add", "172.16.1.1", "lladdr", "02:50:56:56:44:52", "dev", "eth0", "nud", "permanent")

	tmpl, err := runner.NewTemplate("ip netns exec {node}")
	if err != nil {
		t.Fatal(err)
	}
	run := func(ctx context.Context, argv []string) ([]byte, error) {
		return tmpl.Run(ctx, runner.Node{Name: nodeNS}, argv)
	}
	st, err := agentless.Collect(context.Background(), run, agentless.Options{Node: "n1", NoProcs: true, NoOVS: true, Match: []string{pod}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Netns) != 2 || st.Netns[0].Name != "root" || !st.Netns[0].Root || st.Netns[1].Name != pod {
		t.Fatalf("netns %+v, want root then %s", st.Netns, pod)
	}
	root, p := st.Netns[0], st.Netns[1]
	if root.Inode == 0 || p.Inode == 0 || root.Inode == p.Inode || root.Source != "netlink@n1" {
		t.Errorf("inodes %d %d source %q", root.Inode, p.Inode, root.Source)
	}
	link := func(ns trace.Netns, name string) trace.Link {
		for _, l := range ns.Links {
			if l.Name == name {
				return l
			}
		}
		t.Fatalf("no link %s in %s: %+v", name, ns.Name, ns.Links)
		return trace.Link{}
	}
	hv, eth0 := link(root, "vethpod1"), link(p, "eth0")
	if hv.Kind != "veth" || hv.PeerIndex != eth0.Index || hv.PeerNetns != pod || hv.PeerNetnsID == nil || hv.MAC != "02:00:00:00:01:01" || !hv.AdminUp {
		t.Errorf("host veth %+v, want veth peer %d in %s", hv, eth0.Index, pod)
	}
	if eth0.PeerIndex != hv.Index || eth0.PeerNetns != "root" || eth0.OperState != "up" {
		t.Errorf("pod eth0 %+v, want peer %d in root, up", eth0, hv.Index)
	}
	if l := link(root, "lo"); l.Kind != "loopback" {
		t.Errorf("lo kind %q", l.Kind)
	}
	if u, hvp := link(root, "uplink"), link(root, "hv-port"); u.PeerIndex != hvp.Index || u.PeerNetns != "" || u.PeerNetnsID != nil {
		t.Errorf("same-netns veth %+v, want peer %d, no netns id", u, hvp.Index)
	}
	if fmt.Sprint(p.Addresses) != "[{eth0 172.16.1.2/24}]" {
		t.Errorf("pod addresses %v", p.Addresses)
	}
	if fmt.Sprint(p.Routes) != "[{172.16.1.0/24  eth0 0 link 172.16.1.2} {default 172.16.1.1 eth0 0  } {fe80::/64  eth0 0  }]" {
		t.Errorf("pod routes %v", p.Routes)
	}
	if fmt.Sprint(p.Neighbors) != "[{172.16.1.1 02:50:56:56:44:52 eth0 PERMANENT}]" {
		t.Errorf("pod neighbours %v", p.Neighbors)
	}
	// Both collectors must agree field by field (trace.NodeState's conventions).
	native, _, err := node.Collect(context.Background(), node.Options{Node: "n1", RootNetns: "/var/run/netns/" + nodeNS, NoProcs: true, Match: []string{pod}})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, native.Netns), mustJSON(t, st.Netns); a != b {
		for i := range min(len(native.Netns), len(st.Netns)) {
			for j := range min(len(native.Netns[i].Links), len(st.Netns[i].Links)) {
				if x, y := native.Netns[i].Links[j], st.Netns[i].Links[j]; mustJSON(t, x) != mustJSON(t, y) {
					t.Errorf("netns %s link %s: native %+v, agentless %+v (the conventions on trace.NodeState decide)", native.Netns[i].Name, x.Name, x, y)
				}
			}
		}
		t.Errorf("native and agentless disagree:\nnative:    %s\nagentless: %s", a, b)
	}
	for i := 1; i < len(root.Links); i++ {
		if root.Links[i-1].Index >= root.Links[i].Index {
			t.Errorf("links not sorted by index: %+v", root.Links)
		}
	}
}

// TestParseLinks covers kinds the test kernel may lack (vlan, tap), from `ip -j -d link` output.
func TestParseLinks(t *testing.T) {
	in := `[{"ifindex":3,"ifname":"eth1.101","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"operstate":"UP","link_type":"ether","address":"02:AA:00:00:00:01","link":"eth1","linkinfo":{"info_kind":"vlan","info_data":{"protocol":"802.1Q","id":101}}},` +
		`{"ifindex":4,"ifname":"tap0","flags":["BROADCAST","MULTICAST"],"mtu":1500,"operstate":"DOWN","link_type":"ether","address":"02:aa:00:00:00:02","linkinfo":{"info_kind":"tun","info_data":{"type":"tap"}}},` +
		`{"ifindex":2,"ifname":"eth1","flags":["UP","LOWER_UP"],"mtu":9000,"operstate":"LOWERLAYERDOWN","link_type":"ether","address":"02:aa:00:00:00:03"}]`
	ls, err := agentless.ParseLinks([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%+v", ls)
	want := "[{Index:3 Name:eth1.101 Kind:vlan MAC:02:aa:00:00:00:01 MTU:1500 OperState:up AdminUp:true PeerIndex:0 PeerNetnsID:<nil> PeerNetns: VLANID:101 Parent:eth1 Master:} " +
		"{Index:4 Name:tap0 Kind:tap MAC:02:aa:00:00:00:02 MTU:1500 OperState:down AdminUp:false PeerIndex:0 PeerNetnsID:<nil> PeerNetns: VLANID:0 Parent: Master:} " +
		"{Index:2 Name:eth1 Kind:device MAC:02:aa:00:00:00:03 MTU:9000 OperState:lowerlayerdown AdminUp:true PeerIndex:0 PeerNetnsID:<nil> PeerNetns: VLANID:0 Parent: Master:}]"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := agentless.ParseLinks([]byte("Object \"link\" is unknown")); err == nil || !strings.HasPrefix(err.Error(), "ip -j -d link: ") {
		t.Errorf("bad input: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseOVS(t *testing.T) {
	bridges := `{"data":[[["uuid","b1"],"netdev","br-int",["map",[["mac-aging-time","60"]]],["set",[["uuid","p1"],["uuid","p2"]]]]],"headings":["_uuid","datapath_type","name","other_config","ports"]}`
	ports := `{"data":[[["uuid","p1"],["set",[["uuid","i1"]]],"veth1",101,["set",[]],["set",[]]],` +
		`[["uuid","p2"],["set",[["uuid","i2"]]],"uplink",["set",[]],["set",[102,101]],"trunk"]],"headings":["_uuid","interfaces","name","tag","trunks","vlan_mode"]}`
	ifaces := `{"data":[[["uuid","i1"],"up",["map",[["iface-id","default_nginx-1"]]],"up","02:00:00:00:01:01","veth1",1,""],` +
		`[["uuid","i2"],["set",[]],["map",[]],["set",[]],["set",[]],"uplink",-1,"system"]],"headings":["_uuid","admin_state","external_ids","link_state","mac_in_use","name","ofport","type"]}`
	o, err := agentless.ParseOVS([]byte(bridges), []byte(ports), []byte(ifaces))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%+v|%+v %d|%+v|%+v|%+v", o.Bridges, o.Ports[0].Trunks, *o.Ports[1].Tag, o.Ports[0], o.Interfaces[0], o.Interfaces[1])
	want := "[{Name:br-int DatapathType:netdev Ports:[uplink veth1] MACAgingTime:60}]|[101 102] 101|" +
		"{Name:uplink Bridge:br-int Tag:<nil> Trunks:[101 102] VLANMode:trunk Interfaces:[uplink]}|" +
		"{Name:uplink OFPort:-1 Type:system MACInUse: AdminState: LinkState: ExternalIDs:map[]}|" +
		"{Name:veth1 OFPort:1 Type: MACInUse:02:00:00:00:01:01 AdminState:up LinkState:up ExternalIDs:map[iface-id:default_nginx-1]}"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
