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
		Name, IP, Netns, VswitchdCtl string
	} `json:"nodes"`
	Pods []struct {
		Namespace, Name, Node, IP, MAC, Netns, HostVeth string
		VLAN                                            int
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
	t.Cleanup(func() {
		if out, err := l.script("down"); err != nil {
			t.Errorf("lab.sh down: %v\n%s", err, out)
		}
	})
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
// the fabric the OVN provider reads for src -> dst; node state is absent.
func (l *lab) snapshot(srcNS, srcName, dstNode string) (*trace.Snapshot, []string) {
	l.t.Helper()
	s := &trace.Snapshot{APIVersion: trace.APIVersion}
	var src, dst fabric.Endpoint
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
	f, warnings, err := prov.Collect(context.Background(), fabric.Query{Sources: []fabric.Endpoint{src}, Destinations: []fabric.Endpoint{dst}})
	if err != nil {
		l.t.Fatal(err)
	}
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

// TestLabWalkMatchesTraceroute: the walk over the OVN fabric names the same router hops as a real
// traceroute from kube-dns's netns, and both are the published ones.
func TestLabWalkMatchesTraceroute(t *testing.T) {
	l := startLab(t)
	want := []string{"172.16.1.1", "100.64.96.10", "100.64.96.5", "172.15.0.4"}
	got := l.traceroute(l.pod("kube-system", "kube-dns"), "172.15.0.4")
	if !slices.Equal(got, want) {
		t.Fatalf("traceroute -I -n from kube-dns to 172.15.0.4 printed %v, want %v", got, want)
	}
	s, warnings := l.snapshot("kube-system", "kube-dns", "172.15.0.4")
	w, err := trace.WalkSnapshot(s, trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}})
	if err != nil {
		t.Fatal(err)
	}
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
	// Path-directed: the pods not on the walk are not read.
	for _, p := range s.Fabric.SwitchPorts {
		if p.Type == trace.PortChild && p.ID != "kube-system_kube-dns" {
			t.Errorf("read switch port %s, which no hop of kube-dns -> 172.15.0.4 needs", p.ID)
		}
	}
}
