package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/node/nodelab"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// ipJSON runs `ip -n NS -j ARGS` and decodes it.
func ipJSON(t *testing.T, ns string, args ...string) []map[string]any {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns, "-j"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ip -n %s -j %s: %v", ns, strings.Join(args, " "), err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("ip -j %s: %v", strings.Join(args, " "), err)
	}
	return v
}

func str(m map[string]any, k string) string {
	if v, ok := m[k]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

// expectLinks is `ip -d link` in the collector's terms.
func expectLinks(t *testing.T, ns string) []trace.Link {
	var out []trace.Link
	names := map[string]string{}
	for _, l := range ipJSON(t, ns, "-d", "link", "show") {
		names[str(l, "ifindex")] = str(l, "ifname")
	}
	for _, l := range ipJSON(t, ns, "-d", "link", "show") {
		x := trace.Link{Name: str(l, "ifname"), MTU: int(l["mtu"].(float64)), Index: int(l["ifindex"].(float64)),
			OperState: strings.ToLower(str(l, "operstate")), MAC: str(l, "address")}
		for _, f := range l["flags"].([]any) {
			x.AdminUp = x.AdminUp || f == "UP"
		}
		x.Kind = trace.KindDevice
		if info, ok := l["linkinfo"].(map[string]any); ok {
			x.Kind = str(info, "info_kind")
			if d, ok := info["info_data"].(map[string]any); ok && x.Kind == "tun" {
				x.Kind = str(d, "type")
			}
		}
		if str(l, "link_type") == "loopback" {
			x.Kind, x.MAC = trace.KindLoopback, ""
		}
		if x.Kind == trace.KindVeth {
			if v, ok := l["link_index"]; ok {
				x.PeerIndex = int(v.(float64))
			}
			if v, ok := l["link_netnsid"]; ok {
				id := int(v.(float64))
				x.PeerNetnsID = &id
			}
		}
		if m := str(l, "master"); m != "" {
			x.Master = m
		}
		out = append(out, x)
	}
	return out
}

// tentative reports whether any address in netns ns is still tentative (DAD running).
func tentative(t *testing.T, ns string) bool {
	for _, l := range ipJSON(t, ns, "addr", "show") {
		for _, a := range l["addr_info"].([]any) {
			if a.(map[string]any)["tentative"] == true {
				return true
			}
		}
	}
	return false
}

func TestCollectMatchesIPCommand(t *testing.T) {
	lab := nodelab.Up(t, "nl", nodelab.Published[:3])
	// IPv6 link-local addresses stay tentative until duplicate address detection ends: wait for it,
	// or an address may appear between the collection and the ip command.
	deadline := time.Now().Add(10 * time.Second)
	netns := []string{lab.Name}
	for _, p := range lab.Pods {
		netns = append(netns, lab.Netns(p))
	}
	for _, ns := range netns {
		for tentative(t, ns) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	st, warnings, err := Collect(context.Background(), Options{Node: "n1", RootNetns: lab.NetnsPath(), Match: []string{lab.Name + "-pod-*"}, NoProcs: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	var names []string
	for _, ns := range st.Netns {
		names = append(names, ns.Name)
	}
	want := []string{"root"}
	for _, p := range lab.Pods {
		want = append(want, lab.Netns(p))
	}
	sort.Strings(want[1:])
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("netns = %v, want %v", names, want)
	}
	for _, ns := range st.Netns {
		ipns := ns.Name
		if ns.Root {
			ipns = lab.Name
		}
		t.Run(ns.Name, func(t *testing.T) {
			// Links: every field ip -d link prints, peer netns names aside.
			got := append([]trace.Link(nil), ns.Links...)
			for i := range got {
				got[i].PeerNetns = ""
			}
			if w := expectLinks(t, ipns); !reflect.DeepEqual(got, w) {
				t.Errorf("links:\n got %+v\nwant %+v", got, w)
			}
			// Addresses.
			var wantAddrs []string
			for _, l := range ipJSON(t, ipns, "addr", "show") {
				for _, a := range l["addr_info"].([]any) {
					a := a.(map[string]any)
					if a["tentative"] == true {
						continue
					}
					wantAddrs = append(wantAddrs, fmt.Sprintf("%s %s/%v", l["ifname"], a["local"], a["prefixlen"]))
				}
			}
			var gotAddrs []string
			for _, a := range ns.Addresses {
				gotAddrs = append(gotAddrs, a.Link+" "+a.CIDR)
			}
			sort.Strings(wantAddrs)
			sort.Strings(gotAddrs)
			if !reflect.DeepEqual(gotAddrs, wantAddrs) {
				t.Errorf("addresses:\n got %v\nwant %v", gotAddrs, wantAddrs)
			}
			// Routes, both families, main table.
			var wantRoutes []trace.Route
			for _, fam := range []string{"-4", "-6"} {
				for _, r := range ipJSON(t, ipns, fam, "route", "show", "table", "main") {
					if ty := str(r, "type"); ty != "" && ty != "unicast" {
						continue
					}
					x := trace.Route{Dst: str(r, "dst"), Gateway: str(r, "gateway"), Dev: str(r, "dev"), Src: str(r, "prefsrc")}
					if s := str(r, "scope"); s == "link" || s == "host" {
						x.Scope = s
					}
					if x.Dst != "default" && !strings.Contains(x.Dst, "/") {
						if strings.Contains(x.Dst, ":") {
							x.Dst += "/128"
						} else {
							x.Dst += "/32"
						}
					}
					wantRoutes = append(wantRoutes, x)
				}
			}
			sortRoutes(wantRoutes)
			if !reflect.DeepEqual(ns.Routes, wantRoutes) {
				t.Errorf("routes:\n got %+v\nwant %+v", ns.Routes, wantRoutes)
			}
			// Neighbours, as ip neigh shows them.
			var wantN []string
			for _, n := range ipJSON(t, ipns, "neigh", "show") {
				var st []string
				for _, s := range n["state"].([]any) {
					st = append(st, fmt.Sprint(s))
				}
				wantN = append(wantN, fmt.Sprintf("%s %s %s %s", str(n, "dst"), str(n, "lladdr"), str(n, "dev"), strings.Join(st, " ")))
			}
			var gotN []string
			for _, n := range ns.Neighbors {
				gotN = append(gotN, fmt.Sprintf("%s %s %s %s", n.IP, n.MAC, n.Dev, n.State))
			}
			sort.Strings(wantN)
			sort.Strings(gotN)
			if !reflect.DeepEqual(gotN, wantN) {
				t.Errorf("neighbours:\n got %v\nwant %v", gotN, wantN)
			}
		})
	}
	// veth pairs resolve across namespaces: each pod's eth0 peers with its host veth in root.
	root := st.Netns[0]
	for _, ns := range st.Netns[1:] {
		var eth *trace.Link
		for i := range ns.Links {
			if ns.Links[i].Name == "eth0" {
				eth = &ns.Links[i]
			}
		}
		if eth == nil || eth.PeerNetns != "root" {
			t.Fatalf("%s eth0 = %+v, want a veth whose peer is in root", ns.Name, eth)
		}
		var host *trace.Link
		for i := range root.Links {
			if root.Links[i].Index == eth.PeerIndex {
				host = &root.Links[i]
			}
		}
		if host == nil || host.PeerNetns != ns.Name || host.PeerIndex != eth.Index {
			t.Errorf("%s: host side %+v does not point back at eth0 index %d", ns.Name, host, eth.Index)
		}
	}
}

func sortRoutes(rs []trace.Route) {
	ns := trace.Netns{Routes: rs}
	trace.SortNetns(&ns)
}

func TestCollectNetnsVanishing(t *testing.T) {
	lab := nodelab.Up(t, "nv", nodelab.Published[:2])
	gone := lab.Netns(lab.Pods[0])
	opts := Options{Node: "n1", RootNetns: lab.NetnsPath(), Match: []string{lab.Name + "-pod-*"}, NoProcs: true}
	opts.beforeOpen = func(name string) {
		if name == gone {
			if out, err := exec.Command("ip", "netns", "del", gone).CombinedOutput(); err != nil {
				t.Fatalf("ip netns del: %v %s", err, out)
			}
		}
	}
	st, warnings, err := Collect(context.Background(), opts)
	if err != nil {
		t.Fatalf("a vanished pod netns must not fail the collection: %v", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "netns "+gone+": not read: it vanished during collection") {
		t.Errorf("warnings = %q, want one saying %s vanished", warnings, gone)
	}
	if len(st.Netns) != 2 || st.Netns[1].Name != lab.Netns(lab.Pods[1]) {
		t.Errorf("netns = %+v, want root and the remaining pod", st.Netns)
	}
}

func TestCollectProcessNetns(t *testing.T) {
	nodelab.Require(t)
	// A namespace known only through a process: unshare -n sleep.
	c := exec.Command("unshare", "-n", "sleep", "60")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	name := fmt.Sprintf("pid:%d", c.Process.Pid)
	var found *trace.Netns
	for range 50 { // unshare has to exec sleep before the pid is in its own netns
		st, _, err := Collect(context.Background(), Options{Node: "n1", Match: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Netns) == 2 {
			found = &st.Netns[1]
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if found == nil || found.Name != name || found.Inode == 0 || len(found.Links) != 1 || found.Links[0].Kind != trace.KindLoopback {
		t.Fatalf("process netns = %+v, want %s with only lo", found, name)
	}
}

// OnlyHolding reads the root namespace and those holding one of Holding's addresses, each exactly
// as a read of every namespace gives it (the root's veth peers in unread namespaces aside: no
// nsid question names them); with no address, the root namespace alone, without looking for others.
func TestCollectOnlyHolding(t *testing.T) {
	lab := nodelab.Up(t, "nh", nodelab.Published[:3])
	base := Options{Node: "n1", RootNetns: lab.NetnsPath(), Match: []string{lab.Name + "-pod-*"}, NoProcs: true}
	all, _, err := Collect(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]trace.Netns{}
	for _, ns := range all.Netns {
		byName[ns.Name] = ns
	}
	second := lab.Pods[1]
	ip := netip.MustParsePrefix(second.CIDR).Addr()
	for _, tc := range []struct {
		name    string
		holding []netip.Addr
		want    []string
	}{
		{"one pod", []netip.Addr{ip}, []string{"root", lab.Netns(second)}},
		{"an address no pod holds", []netip.Addr{netip.MustParseAddr("192.0.2.99")}, []string{"root"}},
		{"none", nil, []string{"root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := base
			opts.OnlyHolding, opts.Holding = true, tc.holding
			opened := 0
			opts.beforeOpen = func(string) { opened++ }
			st, warnings, err := Collect(context.Background(), opts)
			if err != nil || len(warnings) != 0 {
				t.Fatalf("err %v, warnings %v", err, warnings)
			}
			// With no address, no other namespace is even opened.
			if (len(tc.holding) == 0) != (opened == 0) {
				t.Errorf("%d namespaces opened", opened)
			}
			var names []string
			for _, ns := range st.Netns {
				names = append(names, ns.Name)
				want := byName[ns.Name]
				if ns.Root {
					for i := range want.Links {
						if !slices.Contains(tc.want, want.Links[i].PeerNetns) {
							want.Links[i].PeerNetns = ""
						}
					}
				}
				if !reflect.DeepEqual(ns, want) {
					t.Errorf("netns %s read alone:\n%+v\nwant as in a read of all:\n%+v", ns.Name, ns, want)
				}
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("netns %v, want %v", names, tc.want)
			}
		})
	}
}

// With OnlyHolding, the namespaces of processes are looked for only while the root and named
// namespaces do not hold every address: a /proc that cannot be scanned says when it was tried.
func TestCollectOnlyHoldingScansProcessesOnlyWhenNeeded(t *testing.T) {
	lab := nodelab.Up(t, "np", nodelab.Published[:2])
	pod := netip.MustParsePrefix(lab.Pods[0].CIDR).Addr()
	for _, tc := range []struct {
		name    string
		holding []netip.Addr
		scanned bool
	}{
		{"a named namespace holds it", []netip.Addr{pod}, false},
		{"one address no named namespace holds", []netip.Addr{pod, netip.MustParseAddr("192.0.2.99")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Node: "n1", RootNetns: lab.NetnsPath(), Match: []string{lab.Name + "-pod-*", "pid:*"},
				ProcDir: t.TempDir() + "/no-proc", OnlyHolding: true, Holding: tc.holding}
			st, warnings, err := Collect(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			scanned := len(warnings) == 1 && strings.Contains(warnings[0], "cannot scan "+opts.ProcDir)
			if scanned != tc.scanned || (!tc.scanned && len(warnings) != 0) {
				t.Errorf("warnings %q: /proc scanned %v, want %v", warnings, scanned, tc.scanned)
			}
			if len(st.Netns) != 2 || st.Netns[1].Name != lab.Netns(lab.Pods[0]) {
				t.Errorf("netns %+v, want the root and %s", st.Netns, lab.Netns(lab.Pods[0]))
			}
		})
	}
}
