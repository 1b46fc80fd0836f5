// Package nodelab builds lab nodes for tests with testdata/lab/lib/node.sh: a node netns with its
// own OVS, pods on VLAN-tagged access ports and a router netns on the trunk uplink answering as
// every pod's gateway. Names are unique per test (prefix pwt-), and cleanup removes exactly them.
package nodelab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
)

// RouterMAC is the gateway MAC the lab router answers from (the published distributed-router MAC).
const RouterMAC = "02:50:56:56:44:52"

// Pod is one pod of a lab node.
type Pod struct {
	Name   string // short name; its netns is NODE-pod-NAME
	CIDR   string // 172.16.1.2/24
	GW     string
	MAC    string
	VLAN   int
	HostIF string // host-side veth; "" lets the lab name it
}

// Netns is the pod's network namespace name on node n.
func (n *Node) Netns(p Pod) string { return n.Name + "-pod-" + p.Name }

// Published are the nine pods of the published node 172.15.0.3, as in the NSX-T scenario.
var Published = []Pod{
	{"kube-system-kube-dns", "172.16.1.2/24", "172.16.1.1", "02:50:56:00:03:01", 101, "veth1a2b"},
	{"kube-system-heapster", "172.16.1.3/24", "172.16.1.1", "02:50:56:00:03:02", 102, "vethd5a5"},
	{"kube-system-kubernetes-dashboard", "172.16.1.4/24", "172.16.1.1", "02:50:56:00:03:03", 103, "veth538e"},
	{"kube-system-monitoring-grafana", "172.16.1.5/24", "172.16.1.1", "02:50:56:00:03:04", 104, "veth9f20"},
	{"kube-system-monitoring-influxdb", "172.16.1.6/24", "172.16.1.1", "02:50:56:00:03:05", 105, "vethe8ba"},
	{"default-nginx-1", "172.16.0.2/24", "172.16.0.1", "02:50:56:00:03:06", 106, "veth64bb"},
	{"default-nginx-2", "172.16.0.3/24", "172.16.0.1", "02:50:56:00:03:07", 107, "veth664e"},
	{"default-redis-master", "172.16.0.4/24", "172.16.0.1", "02:50:56:00:03:08", 108, "vethc3b7"},
	{"default-frontend", "172.16.0.5/24", "172.16.0.1", "02:50:56:00:03:09", 109, "vethbbff"},
}

// Many returns n pods on VLANs 101.., one MAC each, all in 172.17.0.0/16 behind 172.17.255.1.
func Many(n int) []Pod {
	out := make([]Pod, n)
	for i := range out {
		k := i + 1
		out[i] = Pod{Name: fmt.Sprint(k), CIDR: fmt.Sprintf("172.17.%d.%d/16", i/250, i%250+2), GW: "172.17.255.1",
			MAC: fmt.Sprintf("02:51:00:00:%02x:%02x", k>>8, k&255), VLAN: 100 + k}
	}
	return out
}

// Node is a running lab node.
type Node struct {
	Name   string // the node's netns
	Router string // the router's netns
	Dir    string // the node's OVS run dir
	Pods   []Pod
	lib    string
	env    []string
}

// DB is the node's ovsdb-server endpoint; Ctl its ovs-vswitchd control socket.
func (n *Node) DB() string  { return "unix:" + filepath.Join(n.Dir, "db.sock") }
func (n *Node) Ctl() string { return filepath.Join(n.Dir, "ovs-vswitchd.ctl") }

// NetnsPath is the path of the node's netns.
func (n *Node) NetnsPath() string { return "/var/run/netns/" + n.Name }

// Require skips (or fails in CI) when the lab cannot run here.
func Require(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		labtest.Unavailable(t, "Linux", "the node lab needs Linux network namespaces")
	}
	labtest.RequireRoot(t)
	labtest.RequireBinaries(t, "ip", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-appctl", "ovs-ofctl", "ovsdb-tool", "bash")
}

// libPath finds testdata/lab/lib/node.sh from the package directory upwards.
func libPath(t testing.TB) string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		p := filepath.Join(d, "testdata", "lab", "lib", "node.sh")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("testdata/lab/lib/node.sh not found above %s", dir)
	return ""
}

// Up builds a node named pwt-<tag>-<pid> with pods, its router answering each gateway, and fills
// the MAC table (each pod resolves its gateway). Cleanup takes it down.
func Up(t testing.TB, tag string, pods []Pod) *Node {
	t.Helper()
	Require(t)
	name := fmt.Sprintf("pwt-%s-%d", tag, os.Getpid())
	labDir := filepath.Join(os.TempDir(), "pwt-lab")
	n := &Node{Name: name, Router: name + "-r", Dir: filepath.Join(labDir, name), Pods: pods, lib: libPath(t),
		env: append(os.Environ(), "PW_LAB_DIR="+labDir, "PW_LAB_QUIET=1")}
	t.Cleanup(func() { n.Down(t) })
	var b strings.Builder
	fmt.Fprintf(&b, "node_up %s\nnode_router_up %s eth1 %s %s\nnode_eth0 %s 172.15.0.3/24 172.15.0.1 %s mgmt0 172.15.0.1/24\n",
		name, name, n.Router, RouterMAC, name, n.Router)
	gws := map[string]bool{}
	for _, p := range pods {
		fmt.Fprintf(&b, "node_pod_add %s %s %s %s %s %d %s\n", name, n.Netns(p), p.CIDR, p.GW, p.MAC, p.VLAN, p.HostIF)
		if !gws[p.GW] {
			gws[p.GW] = true
			fmt.Fprintf(&b, "node_router_gw %s %s %s\n", n.Router, p.GW, RouterMAC)
		}
	}
	n.Sh(t, b.String())
	n.FillMACTable(t)
	return n
}

// FillMACTable makes every pod resolve its gateway until br-int has learned each pod's MAC on its
// VLAN and the router MAC on the uplink (eth1, ofport 1) in that VLAN; it fails after 20 s.
func (n *Node) FillMACTable(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		fdb := n.Sh(t, "node_appctl "+n.Name+" fdb/show br-int")
		var script strings.Builder
		for _, p := range n.Pods {
			podOK := strings.Contains(fdb, fmt.Sprintf(" %d  %s ", p.VLAN, p.MAC))
			rtrOK := strings.Contains(fdb, fmt.Sprintf("    1  %4d  %s ", p.VLAN, RouterMAC))
			if !podOK || !rtrOK {
				fmt.Fprintf(&script, "ip -n %s neigh flush all; node_resolve %s %s 10\n", n.Netns(p), n.Netns(p), p.GW)
			}
		}
		if script.Len() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab: MAC table of %s not filled in 20 s:\n%s", n.Name, fdb)
		}
		n.Sh(t, script.String())
		time.Sleep(100 * time.Millisecond) // learning happens in the revalidator, just after the reply
	}
}

// Sh runs a script with lib/node.sh sourced; a failure fails the test with its output.
func (n *Node) Sh(t testing.TB, script string) string {
	t.Helper()
	out, err := n.sh(script)
	if err != nil {
		t.Fatalf("lab: %v\n%s", err, out)
	}
	return out
}

func (n *Node) sh(script string) (string, error) {
	c := exec.Command("bash", "-c", "set -euo pipefail\n. "+n.lib+"\n"+script)
	c.Env = n.env
	timer := time.AfterFunc(5*time.Minute, func() {
		if c.Process != nil {
			_ = c.Process.Kill()
		}
	})
	defer timer.Stop()
	out, err := c.CombinedOutput()
	return string(out), err
}

// In runs a command in the node's netns and returns its stdout.
func (n *Node) In(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...).Output()
	if err != nil {
		t.Fatalf("ip netns exec %s %s: %v", n.Name, strings.Join(args, " "), err)
	}
	return string(out)
}

// Down removes the node, its pods and its router (what Up made, nothing else).
func (n *Node) Down(t testing.TB) {
	if out, err := n.sh("node_down " + n.Name); err != nil {
		t.Errorf("lab down: %v\n%s", err, out)
	}
}
