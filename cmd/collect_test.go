package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/node/nodelab"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func TestCollectNodeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"collect"}, "collect needs a subcommand: cluster, node"},
		{[]string{"collect", "node", "--ovsdb", "/var/run/openvswitch/db.sock"}, "--ovsdb must be unix:PATH"},
		{[]string{"collect", "node", "--netns", "[x"}, "bad netns pattern"},
		{[]string{"collect", "node", "--netns-holding", "10.0.0.1,pod-a"}, `--netns-holding: "pod-a" is not an IP address`},
		{[]string{"collect", "node", "--netns-holding", "fe80::1%eth0"}, `--netns-holding: "fe80::1%eth0" is not an IP address`},
		{[]string{"collect", "node", "--netns-holding="}, "--netns-holding needs the addresses of the pods to read, or none"},
		{[]string{"macs", "--local", "--snapshot", "x.json"}, "--local reads this node live: drop --snapshot"},
		{[]string{"macs"}, "--node NAME is required (or --local on the node itself)"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := runCLI(tc.args...)
			if code != ExitUsage || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, code, errOut, tc.want)
			}
		})
	}
}

// collectLab runs `collect node` for the lab node (read from outside through --root-netns).
func collectLab(t *testing.T, lab *nodelab.Node, extra ...string) (*trace.Snapshot, int, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "node.json")
	args := append([]string{"collect", "node", "--node-name", "172.15.0.3", "--root-netns", lab.NetnsPath(),
		"--netns", lab.Name + "-pod-*", "--no-proc-netns", "--ovsdb", lab.DB(), "--ovs-vswitchd-ctl", lab.Ctl(), "--output", out}, extra...)
	code, _, errOut := runCLI(args...)
	snap, err := trace.LoadSnapshot(out)
	if err != nil {
		t.Fatalf("collect node wrote no snapshot (exit %d, %s): %v", code, errOut, err)
	}
	return snap, code, errOut
}

// withNode is the published snapshot with node 172.15.0.3's facts replaced by st.
func withNode(t *testing.T, st trace.NodeState) string {
	t.Helper()
	pub, err := trace.LoadSnapshot("../testdata/scenarios/nsx-published/snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	for i := range pub.Nodes {
		if pub.Nodes[i].Name == st.Name {
			pub.Nodes[i] = st
		}
	}
	p := filepath.Join(t.TempDir(), "merged.json")
	f, _ := os.Create(p)
	defer f.Close()
	if err := trace.WriteSnapshot(f, pub); err != nil {
		t.Fatal(err)
	}
	return p
}

type l2hop struct{ Kind, Name, Interface, MAC, VLAN, Status string }

func l2Hops(t *testing.T, snapshot string) ([]l2hop, map[trace.HopKind]trace.Hop, int) {
	t.Helper()
	code, out, errOut := runCLI("trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--snapshot", snapshot, "-o", "json")
	var w trace.Walk
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		t.Fatalf("trace -o json (exit %d, %s): %v", code, errOut, err)
	}
	var hs []l2hop
	byKind := map[trace.HopKind]trace.Hop{}
	for _, h := range w.Hops {
		switch h.Kind {
		case trace.HopPod, trace.HopVeth, trace.HopOVSPort, trace.HopMACTable, trace.HopUplink:
		default:
			continue
		}
		if h.Direction != trace.Forward {
			continue
		}
		v := ""
		if h.VLAN != nil {
			v = fmt.Sprint(*h.VLAN)
		}
		hs = append(hs, l2hop{string(h.Kind), h.Name, h.Interface, h.MAC, v, string(h.Status)})
		if _, seen := byKind[h.Kind]; !seen {
			byKind[h.Kind] = h
		}
	}
	return hs, byKind, code
}

// TestCollectNodeWalksLikePublished builds a node shaped like the published 172.15.0.3, collects
// it, and checks that trace gives the same L2 part of the walk as the hand-written snapshot.
func TestCollectNodeWalksLikePublished(t *testing.T) {
	lab := nodelab.Up(t, "walk", nodelab.Published)
	snap, code, errOut := collectLab(t, lab)
	if code != ExitOK || errOut != "" {
		t.Fatalf("collect node: exit %d, stderr %q", code, errOut)
	}
	if len(snap.Nodes) != 1 || snap.Nodes[0].OVS == nil || len(snap.Nodes[0].OVS.MACTable) == 0 || len(snap.Sources) != 3 {
		t.Fatalf("snapshot lacks the node's facts: %+v", snap.Sources)
	}
	got, byKind, code := l2Hops(t, withNode(t, snap.Nodes[0]))
	want, _, _ := l2Hops(t, "../testdata/scenarios/nsx-published/snapshot.json")
	if code != ExitOK {
		t.Errorf("trace on the collected node: exit %d, want 0 (path holds)", code)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("L2 hops differ from the published walk:\n got %v\nwant %v", got, want)
	}
	// What a user checks: the names, VLAN and MACs of the published walk.
	for kind, w := range map[trace.HopKind]string{
		trace.HopVeth:     "veth1a2b",
		trace.HopOVSPort:  "veth1a2b VLAN 101",
		trace.HopMACTable: "02:50:56:00:03:01",
		trace.HopUplink:   "eth1 02:50:56:56:44:52 101",
	} {
		h := byKind[kind]
		s := fmt.Sprintf("%s %s %s %s %s", h.Name, h.Interface, h.MAC, h.Detail, vlanOf(h))
		for _, part := range strings.Fields(w) {
			if !strings.Contains(s, part) {
				t.Errorf("%s hop %q lacks %q", kind, s, part)
			}
		}
		if h.Status != trace.StatusOK {
			t.Errorf("%s hop is %s: %s", kind, h.Status, h.Detail)
		}
	}

	// A veth set down: collected as such, and the walk breaks there.
	lab.Sh(t, "ip -n "+lab.Name+" link set veth1a2b down")
	// The kernel marks the peer's eth0 lowerlayerdown a moment later (linkwatch): wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for strings.Contains(lab.Sh(t, "ip -n "+lab.Netns(lab.Pods[0])+" -o link show eth0"), "state UP") {
		if time.Now().After(deadline) {
			t.Fatal("the pod's eth0 still up 10 s after its host veth was set down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	snap, _, _ = collectLab(t, lab)
	code, out, _ := runCLI("trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--snapshot", withNode(t, snap.Nodes[0]), "-o", "json")
	var w trace.Walk
	_ = json.Unmarshal([]byte(out), &w)
	// The kernel reports the pod's eth0 lowerlayerdown once its peer is admin down, so the walk
	// breaks at the pod hop already (the hand-written variant keeps eth0 up and breaks at the veth).
	if code != ExitBroken || w.BrokenAt == 0 || w.BrokenAt > 2 || !strings.Contains(w.Reason, "down") {
		t.Errorf("veth down: exit %d, broken at %d (%s); want exit 1, broken at the pod or veth hop, saying down", code, w.BrokenAt, w.Reason)
	}
	links := map[string]trace.Link{}
	for _, ns := range snap.Nodes[0].Netns {
		for _, l := range ns.Links {
			links[ns.Name+"/"+l.Name] = l
		}
	}
	if l := links["root/veth1a2b"]; l.AdminUp || l.OperState != "down" {
		t.Errorf("host veth collected as %+v, want admin down", l)
	}
	if l := links[lab.Netns(lab.Pods[0])+"/eth0"]; l.Up() {
		t.Errorf("pod eth0 collected as %+v, want not up", l)
	}
}

func vlanOf(h trace.Hop) string {
	if h.VLAN == nil {
		return ""
	}
	return fmt.Sprint(*h.VLAN)
}

// TestCollectNodeWithoutOVS: OVS stopped is a warning in the snapshot, not a failure.
func TestCollectNodeWithoutOVS(t *testing.T) {
	lab := nodelab.Up(t, "noovs", nodelab.Published[:1])
	lab.Sh(t, "node_ovs_stop "+lab.Name)
	snap, code, errOut := collectLab(t, lab)
	if code != ExitOK {
		t.Errorf("exit %d, want 0: a node without OVS is a warning", code)
	}
	if !strings.Contains(errOut, "warning: ovsdb@172.15.0.3: no OVS facts: cannot reach ovsdb-server") {
		t.Errorf("stderr %q lacks the OVS warning", errOut)
	}
	st := snap.Nodes[0]
	if st.OVS != nil || len(st.Netns) != 2 || len(snap.Sources) != 3 || len(snap.Sources[1].Warnings) != 1 {
		t.Errorf("snapshot: ovs %v, %d netns, sources %+v", st.OVS, len(st.Netns), snap.Sources)
	}
	// macs --local needs the MAC table: exit 3 with one line.
	code, _, errOut = runCLI("macs", "--local", "--node-name", "n", "--root-netns", lab.NetnsPath(), "--no-proc-netns", "--netns", "none", "--ovsdb", lab.DB())
	if code != ExitNoFacts || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "cannot reach ovsdb-server") {
		t.Errorf("macs --local without OVS: exit %d, %q", code, errOut)
	}
}

// TestMACsLocal: the live MAC table joined to ports and VLANs, router MAC on the uplink.
func TestMACsLocal(t *testing.T) {
	lab := nodelab.Up(t, "macs", nodelab.Published[:2])
	code, out, errOut := runCLI("macs", "--local", "--node-name", "172.15.0.3", "--root-netns", lab.NetnsPath(), "--no-proc-netns",
		"--netns", lab.Name+"-pod-*", "--ovsdb", lab.DB(), "--ovs-vswitchd-ctl", lab.Ctl(), "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var tbl trace.MACTable
	if err := json.Unmarshal([]byte(out), &tbl); err != nil {
		t.Fatal(err)
	}
	rows := map[string]trace.MACRow{}
	for _, r := range tbl.Rows {
		rows[fmt.Sprintf("%s/%d/%s", r.Port, r.VLAN, r.MAC)] = r
	}
	for i, p := range lab.Pods {
		if r, ok := rows[fmt.Sprintf("%s/%d/%s", p.HostIF, p.VLAN, p.MAC)]; !ok || r.OFPort != fmt.Sprint(i+2) {
			t.Errorf("no row for pod %s on %s VLAN %d: %+v", p.Name, p.HostIF, p.VLAN, tbl.Rows)
		}
		if r, ok := rows[fmt.Sprintf("eth1/%d/%s", p.VLAN, nodelab.RouterMAC)]; !ok || r.Role != trace.RoleRouter || !r.Uplink {
			t.Errorf("router MAC on eth1 VLAN %d not shown as the router on the uplink: %+v", p.VLAN, r)
		}
	}
}

// TestCollectNodeUnprivileged: a user who may not open the OVS socket gets warnings, not a crash.
func TestCollectNodeUnprivileged(t *testing.T) {
	lab := nodelab.Up(t, "priv", nodelab.Published[:1])
	bin := PluginBinary(t) // nobody reaches it: not in t.TempDir(), which is private to root
	c := exec.Command(bin, "collect", "node", "--node-name", "n", "--no-proc-netns", "--netns", "none",
		"--ovsdb", lab.DB(), "--ovs-vswitchd-ctl", lab.Ctl())
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if c.ProcessState == nil || c.ProcessState.ExitCode() != 0 {
		t.Fatalf("as nobody: %v, stderr %q", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "permission denied (run as root)") || strings.Contains(stderr.String(), "goroutine") {
		t.Errorf("stderr %q: want a permission-denied warning", stderr.String())
	}
	if _, err := trace.ReadSnapshot(&stdout, "stdout"); err != nil {
		t.Errorf("no snapshot on stdout: %v", err)
	}
}
