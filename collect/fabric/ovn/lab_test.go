package ovn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn"
	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// labFacts is the part of $PW_LAB_DIR/lab.json the tests read.
type labFacts struct {
	Hypervisor struct {
		NB string `json:"nb"`
	} `json:"hypervisor"`
	Nodes []struct {
		Name, IP, Netns, Ovsdb, VswitchdCtl string
	} `json:"nodes"`
	Pods []struct {
		Namespace, Name, Node, IP, MAC, Netns, HostVeth, Lsp, ParentLsp string
		VLAN                                                            int
	} `json:"pods"`
}

type lab struct {
	t     *testing.T
	dir   string
	env   []string
	facts labFacts
}

// startLab brings up a lab of its own (unique netns prefix and run directory) and tears it down
// at the end of the test.
func startLab(t *testing.T) *lab {
	t.Helper()
	labtest.RequireRoot(t)
	labtest.RequireBinaries(t, "ovsdb-server", "ovs-vswitchd", "ovn-northd", "ovn-controller", "ovn-nbctl", "ovs-vsctl", "ip", "traceroute")
	name := fmt.Sprintf("pwo%d", os.Getpid())
	l := &lab{t: t, dir: filepath.Join(os.TempDir(), name)}
	l.env = append(os.Environ(), "PW_LAB_DIR="+l.dir, "PW_LAB_NAME="+name)
	t.Cleanup(func() { l.down() })
	start := time.Now()
	if out, err := l.script("up"); err != nil {
		t.Fatalf("lab.sh up: %v\n%s", err, out)
	}
	t.Logf("lab up in %v", time.Since(start).Round(time.Millisecond))
	b, err := os.ReadFile(filepath.Join(l.dir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &l.facts); err != nil {
		t.Fatalf("lab.json: %v", err)
	}
	return l
}

// down runs lab.sh down and checks it removed every netns and daemon it made, and nothing else: a
// netns that merely shares the lab's prefix survives.
func (l *lab) down() {
	t := l.t
	list, _ := os.ReadFile(filepath.Join(l.dir, "netns.list"))
	pidFiles, _ := filepath.Glob(filepath.Join(l.dir, "*", "*.pid"))
	var pids []int
	for _, f := range pidFiles {
		var pid int
		if b, err := os.ReadFile(f); err == nil {
			if _, err := fmt.Sscan(string(b), &pid); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	bystander := filepath.Base(l.dir) + "-not-the-labs"
	if err := exec.Command("ip", "netns", "add", bystander).Run(); err == nil {
		defer exec.Command("ip", "netns", "del", bystander).Run()
	}
	if out, err := l.script("down"); err != nil {
		t.Errorf("lab.sh down: %v\n%s", err, out)
	}
	for _, ns := range strings.Fields(string(list)) {
		if _, err := os.Stat("/var/run/netns/" + ns); err == nil {
			t.Errorf("lab.sh down left netns %s", ns)
		}
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("lab.sh down left pid %d running", pid)
		}
	}
	if _, err := os.Stat("/var/run/netns/" + bystander); err != nil {
		t.Errorf("lab.sh down removed netns %s, which it did not make", bystander)
	}
	if _, err := os.Stat(l.dir); err == nil {
		t.Errorf("lab.sh down left %s", l.dir)
	}
}

func (l *lab) script(args ...string) (string, error) {
	cmd := exec.Command("../../../testdata/lab/lab.sh", args...)
	cmd.Env = l.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (l *lab) mustScript(args ...string) {
	l.t.Helper()
	if out, err := l.script(args...); err != nil {
		l.t.Fatalf("lab.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var hopRE = regexp.MustCompile(`^\s*\d+\s+(\S+)`)

// traceroute runs `traceroute -I -n` from a netns and returns the address of each hop ("*" for none).
func (l *lab) traceroute(netns, dst string) []string {
	l.t.Helper()
	out, err := exec.Command("ip", "netns", "exec", netns, "traceroute", "-I", "-n", "-q", "1", "-w", "1", "-m", "6", dst).CombinedOutput()
	if err != nil {
		l.t.Fatalf("traceroute from %s: %v\n%s", netns, err, out)
	}
	var hops []string
	for _, line := range strings.Split(string(out), "\n")[1:] {
		if m := hopRE.FindStringSubmatch(line); m != nil {
			hops = append(hops, m[1])
			if m[1] == dst {
				break
			}
		}
	}
	return hops
}

// snapshot is the lab's cluster (pods and nodes from lab.json, as the API would list them) with
// the fabric the OVN provider reads for src -> dst (a node name, or ip:ADDR for a bare IP, which
// the query then names by address only); node state is absent.
func (l *lab) snapshot(srcNS, srcName, dstNode string) (*trace.Snapshot, []string) {
	l.t.Helper()
	s := &trace.Snapshot{APIVersion: trace.APIVersion}
	var src, dst fabric.Endpoint
	if ip, ok := strings.CutPrefix(dstNode, "ip:"); ok {
		dst = fabric.Endpoint{IP: netip.MustParseAddr(ip)}
	}
	for _, n := range l.facts.Nodes {
		s.Cluster.Nodes = append(s.Cluster.Nodes, trace.Node{Name: n.Name, Source: trace.SourceKube,
			Addresses: []trace.NodeAddress{{Type: "InternalIP", Address: n.IP}}})
		if n.Name == dstNode {
			dst = fabric.Endpoint{IP: netip.MustParseAddr(n.IP), Node: n.Name}
		}
	}
	for _, p := range l.facts.Pods {
		s.Cluster.Pods = append(s.Cluster.Pods, trace.Pod{Namespace: p.Namespace, Name: p.Name, Node: p.Node, IPs: []string{p.IP}, Phase: "Running", Source: trace.SourceKube})
		if p.Namespace == srcNS && p.Name == srcName {
			src = fabric.Endpoint{IP: netip.MustParseAddr(p.IP), MAC: p.MAC, Node: p.Node, Pod: &trace.PodRef{Namespace: p.Namespace, Name: p.Name}}
		}
	}
	prov, err := ovn.New(ovn.Config{NB: l.facts.Hypervisor.NB, Timeout: 10 * time.Second})
	if err != nil {
		l.t.Fatal(err)
	}
	start := time.Now()
	f, warnings, err := prov.Collect(context.Background(), fabric.Query{Sources: []fabric.Endpoint{src}, Destinations: []fabric.Endpoint{dst}})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Logf("ovn Collect %s/%s -> %s: %v, %d switch ports, %d routers", srcNS, srcName, dstNode, time.Since(start).Round(time.Microsecond), len(f.SwitchPorts), len(f.Routers))
	s.Fabric = f
	return s, warnings
}

func (l *lab) pod(ns, name string) (netns string) {
	for _, p := range l.facts.Pods {
		if p.Namespace == ns && p.Name == name {
			return p.Netns
		}
	}
	l.t.Fatalf("lab.json has no pod %s/%s", ns, name)
	return ""
}

func (l *lab) walk(srcNS, srcName, dstNode string) (*trace.Snapshot, *trace.Walk, []string) {
	l.t.Helper()
	s, warnings := l.snapshot(srcNS, srcName, dstNode)
	to := trace.Target{Kind: trace.TargetNode, Name: dstNode}
	if ip, ok := strings.CutPrefix(dstNode, "ip:"); ok {
		to = trace.Target{Kind: trace.TargetIP, IP: ip}
	}
	w, err := trace.WalkSnapshot(s, trace.Request{Source: trace.PodRef{Namespace: srcNS, Name: srcName}, To: to})
	if err != nil {
		l.t.Fatal(err)
	}
	return s, w, warnings
}

func brokenHop(w *trace.Walk) *trace.Hop {
	for i, h := range w.Hops {
		if h.Status == trace.StatusBroken {
			return &w.Hops[i]
		}
	}
	return nil
}

func (l *lab) vsctl(node string, args ...string) string {
	l.t.Helper()
	for _, n := range l.facts.Nodes {
		if n.Name == node {
			out, err := exec.Command("ovs-vsctl", append([]string{"--db=" + n.Ovsdb}, args...)...).CombinedOutput()
			if err != nil {
				l.t.Fatalf("ovs-vsctl %v: %v\n%s", args, err, out)
			}
			return strings.TrimSpace(string(out))
		}
	}
	l.t.Fatalf("lab.json has no node %s", node)
	return ""
}

func (l *lab) fdb(node string) string {
	l.t.Helper()
	for _, n := range l.facts.Nodes {
		if n.Name == node {
			out, err := exec.Command("ovs-appctl", "-t", n.VswitchdCtl, "fdb/show", "br-int").CombinedOutput()
			if err != nil {
				l.t.Fatalf("fdb/show: %v\n%s", err, out)
			}
			return string(out)
		}
	}
	l.t.Fatalf("lab.json has no node %s", node)
	return ""
}

// fdbHas: fdb/show prints "port VLAN MAC age" rows.
func fdbHas(table, port string, vlan int, mac string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == port && f[1] == fmt.Sprint(vlan) && f[2] == mac {
			return true
		}
	}
	return false
}

var published = []string{"172.16.1.1", "100.64.96.10", "100.64.96.5", "172.15.0.4"}

// TestLab runs every lab check on one lab: it takes about two seconds to build.
func TestLab(t *testing.T) {
	l := startLab(t)
	kubeDNS := l.pod("kube-system", "kube-dns")

	t.Run("up is idempotent", func(t *testing.T) {
		start := time.Now()
		l.mustScript("up")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a second lab.sh up took %v: it should find the lab up and return", d)
		}
		if out, err := l.script("status"); err != nil || !strings.HasPrefix(out, "up:") {
			t.Errorf("lab.sh status = %q, %v; want up", out, err)
		}
	})

	// The walk over the OVN fabric names the same router hops as a real traceroute from
	// kube-dns's netns, and both are the published ones.
	t.Run("walk matches traceroute", func(t *testing.T) {
		got := l.traceroute(kubeDNS, "172.15.0.4")
		if !slices.Equal(got, published) {
			t.Fatalf("traceroute -I -n from kube-dns to 172.15.0.4 printed %v, want %v", got, published)
		}
		s, w, warnings := l.walk("kube-system", "kube-dns", "172.15.0.4")
		if hops := w.RouterHops(); !slices.Equal(hops, got) {
			t.Errorf("walk router hops %v, traceroute %v (warnings %v)", hops, got, warnings)
		}
		if w.Verdict == trace.VerdictBroken {
			t.Errorf("walk verdict broken at hop %d: %s", w.BrokenAt, w.Reason)
		}
		// The CHILD port carries the VLAN of kube-dns's OVS access port and names the node's trunk.
		var child *trace.SwitchPort
		for i, p := range s.Fabric.SwitchPorts {
			if p.ID == "kube-system_kube-dns" {
				child = &s.Fabric.SwitchPorts[i]
			}
		}
		if child == nil || child.Type != trace.PortChild || child.TrafficTag == nil || *child.TrafficTag != 101 ||
			child.ParentPort != "node-172.15.0.3-eth1" || !slices.Equal(child.IPs, []string{"172.16.1.2"}) {
			t.Errorf("kube-dns's switch port = %+v, want a child of node-172.15.0.3-eth1 with tag 101 and IP 172.16.1.2", child)
		}
		if tag := l.vsctl("172.15.0.3", "get", "port", "veth1a2b", "tag"); tag != "101" {
			t.Errorf("OVS access port veth1a2b has tag %s, the CHILD port %d", tag, 101)
		}
		// Path-directed: the pods, routers and switches not on the walk are not read.
		for _, p := range s.Fabric.SwitchPorts {
			if p.Type == trace.PortChild && p.ID != "kube-system_kube-dns" {
				t.Errorf("read switch port %s, which no hop of kube-dns -> 172.15.0.4 needs", p.ID)
			}
		}
		var routers, switches []string
		for _, r := range s.Fabric.Routers {
			routers = append(routers, r.ID)
		}
		for _, sw := range s.Fabric.Switches {
			switches = append(switches, sw.ID)
		}
		if want := []string{"lr-k8s-nodes", "t0", "t1-kube-system"}; !slices.Equal(routers, want) {
			t.Errorf("read routers %v, want only those on the path %v", routers, want)
		}
		if want := []string{"ls-k8s-nodes", "ls-kube-system"}; !slices.Equal(switches, want) {
			t.Errorf("read switches %v, want only those on the path %v", switches, want)
		}
	})

	t.Run("ports found however they are named", func(t *testing.T) { testPortNaming(t, l) })
	t.Run("read ahead", func(t *testing.T) { testReadAhead(t, l) })

	// A destination named only by its IP: the provider finds its port on the switch of its subnet.
	t.Run("walk to a bare IP matches traceroute", func(t *testing.T) {
		want := []string{"172.16.1.1", "100.64.96.10", "100.64.96.19", "172.16.0.6"}
		if got := l.traceroute(kubeDNS, "172.16.0.6"); !slices.Equal(got, want) {
			t.Fatalf("traceroute -I -n from kube-dns to 172.16.0.6 printed %v, want %v", got, want)
		}
		_, w, warnings := l.walk("kube-system", "kube-dns", "ip:172.16.0.6")
		if hops := w.RouterHops(); !slices.Equal(hops, want) || w.Verdict == trace.VerdictBroken {
			t.Errorf("walk router hops %v verdict %s (%s), traceroute %v (warnings %v)", hops, w.Verdict, w.Reason, want, warnings)
		}
	})

	// As in the published walk: the pod MAC on its access port, the router MAC on the trunk, same VLAN.
	t.Run("node MAC table", func(t *testing.T) {
		table := l.fdb("172.15.0.3")
		access := l.vsctl("172.15.0.3", "get", "interface", "veth1a2b", "ofport")
		trunk := l.vsctl("172.15.0.3", "get", "interface", "eth1", "ofport")
		if !fdbHas(table, access, 101, "02:50:56:00:03:01") {
			t.Errorf("fdb/show br-int on 172.15.0.3 has no kube-dns MAC on port %s VLAN 101:\n%s", access, table)
		}
		if !fdbHas(table, trunk, 101, "02:50:56:56:44:52") {
			t.Errorf("fdb/show br-int on 172.15.0.3 has no router MAC on the trunk port %s VLAN 101:\n%s", trunk, table)
		}
	})

	t.Run("t0-route", func(t *testing.T) {
		l.mustScript("break", "t0-route")
		defer l.mustScript("heal")
		got := l.traceroute(kubeDNS, "172.15.0.4")
		if len(got) < 3 || !slices.Equal(got[:2], published[:2]) || got[2] != "*" {
			t.Errorf("traceroute with the T0 route removed printed %v, want it to stop after 100.64.96.10", got)
		}
		_, w, _ := l.walk("kube-system", "kube-dns", "172.15.0.4")
		if h := brokenHop(w); w.Verdict != trace.VerdictBroken || h == nil || h.Kind != trace.HopRouter || h.Router != "t0" || h.Direction != trace.Forward {
			t.Errorf("walk verdict %s, broken hop %+v; want the forward hop at router t0 broken", w.Verdict, h)
		}
	})

	t.Run("return-route", func(t *testing.T) {
		l.mustScript("break", "return-route")
		defer l.mustScript("heal")
		if got := l.traceroute(kubeDNS, "172.15.0.4"); slices.Contains(got, "100.64.96.5") {
			t.Errorf("traceroute with the return route removed printed %v: the replies of 100.64.96.5 should be lost", got)
		}
		_, w, _ := l.walk("kube-system", "kube-dns", "172.15.0.4")
		if h := brokenHop(w); w.Verdict != trace.VerdictBroken || h == nil || h.Router != "t0" || h.Direction != trace.Return {
			t.Errorf("walk verdict %s, broken hop %+v; want the return hop at router t0 broken", w.Verdict, h)
		}
	})

	t.Run("vlan-mismatch", func(t *testing.T) {
		l.mustScript("break", "vlan-mismatch")
		defer l.mustScript("heal")
		if got := l.traceroute(kubeDNS, "172.15.0.4"); len(got) == 0 || got[0] != "*" {
			t.Errorf("traceroute with a mismatched CHILD tag printed %v, want no answer at all", got)
		}
		s, _, _ := l.walk("kube-system", "kube-dns", "172.15.0.4")
		for _, p := range s.Fabric.SwitchPorts {
			if p.ID == "kube-system_kube-dns" && (p.TrafficTag == nil || *p.TrafficTag == 101) {
				t.Errorf("the CHILD port's tag is %v after the break, want it to differ from the OVS port tag 101", p.TrafficTag)
			}
		}
	})

	t.Run("veth-down", func(t *testing.T) {
		l.mustScript("break", "veth-down")
		defer l.mustScript("heal")
		if got := l.traceroute(kubeDNS, "172.15.0.4"); len(got) == 0 || got[0] != "*" {
			t.Errorf("traceroute with kube-dns's host veth down printed %v, want no answer", got)
		}
	})

	// A stale entry: kube-dns's MAC learned on the trunk in its VLAN, so the node hairpins (drops)
	// traffic for it until the pod talks again.
	t.Run("stale-mac", func(t *testing.T) {
		l.mustScript("break", "stale-mac")
		defer l.mustScript("heal")
		trunk := l.vsctl("172.15.0.3", "get", "interface", "eth1", "ofport")
		if table := l.fdb("172.15.0.3"); !fdbHas(table, trunk, 101, "02:50:56:00:03:01") {
			t.Errorf("after break stale-mac, fdb/show has no kube-dns MAC on the trunk port %s VLAN 101:\n%s", trunk, table)
		}
		var node4 string
		for _, n := range l.facts.Nodes {
			if n.Name == "172.15.0.4" {
				node4 = n.Netns
			}
		}
		if got := l.traceroute(node4, "172.16.1.2"); slices.Contains(got, "172.16.1.2") {
			t.Errorf("traceroute from node 172.15.0.4 to kube-dns printed %v: the stale MAC entry should black-hole it", got)
		}
	})

	// Bad addresses fail with one line, quickly.
	t.Run("not a Northbound database", func(t *testing.T) {
		for _, nb := range []string{"unix:" + filepath.Join(l.dir, "hv", "db.sock"), "unix:" + filepath.Join(l.dir, "no-such.sock")} {
			p, err := ovn.New(ovn.Config{NB: nb, Timeout: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, _, err = p.Collect(context.Background(), fabric.Query{All: true})
			if err == nil || !strings.Contains(err.Error(), nb) || strings.Contains(err.Error(), "\n") || time.Since(start) > 4*time.Second {
				t.Errorf("Collect from %s: err %v after %v, want one line naming the address within the timeout", nb, err, time.Since(start))
			}
		}
	})

	t.Run("healed", func(t *testing.T) {
		if got := l.traceroute(kubeDNS, "172.15.0.4"); !slices.Equal(got, published) {
			t.Errorf("after heal traceroute printed %v, want %v", got, published)
		}
	})
}
