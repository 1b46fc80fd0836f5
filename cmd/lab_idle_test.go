package cmd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// flushMACs empties every node's MAC table, as OVS itself does to a pod idle for the aging time.
// The revalidators relearn a MAC from the stats of a datapath flow still in place (traffic of the
// last seconds): the flows are purged first, and the flush repeated until fdb/show is empty.
func (l *e2eLab) flushMACs(t *testing.T) {
	t.Helper()
	appctl := func(node string, args ...string) {
		t.Helper()
		c := exec.Command(filepath.Join(l.dir, "node-exec"), append([]string{node, "ovs-appctl"}, args...)...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("ovs-appctl %v on %s: %v\n%s", args, node, err, out)
		}
	}
	for _, n := range l.facts.Nodes {
		deadline := time.Now().Add(10 * time.Second)
		for {
			appctl(n.Name, "revalidator/purge")
			appctl(n.Name, "fdb/flush", "br-int")
			rows := l.fdbShow(t, n.Name)
			if len(rows) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("fdb/show on %s still lists %v 10 s after fdb/flush", n.Name, rows)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// idleHops checks the L2 hops of a walk of an idle pod: every hop ok, and the source's MAC-table
// and uplink hops say the entries are not in the table (the flush held: no traffic refilled it).
func idleHops(t *testing.T, key string, w *trace.Walk) {
	t.Helper()
	if w.Verdict != trace.VerdictReachable {
		t.Errorf("%s, MAC tables flushed: verdict %s at hop %d: %s", key, w.Verdict, w.BrokenAt, w.Reason)
	}
	seen := 0
	for _, h := range w.Hops {
		if h.Status != trace.StatusOK {
			t.Errorf("%s, MAC tables flushed: hop %d %s is %s: %s", key, h.Index, h.Kind, h.Status, h.Detail)
		}
		if h.Direction == trace.Forward && (h.Kind == trace.HopMACTable || h.Kind == trace.HopUplink) && seen < 2 {
			seen++
			if !strings.Contains(h.Detail, "not in the MAC table") {
				t.Errorf("%s, MAC tables flushed: hop %d %s says %q, want the entry missing", key, h.Index, h.Kind, h.Detail)
			}
		}
	}
}

// testIdleWalks: with every node's MAC table flushed, every pod-to-node and pod-to-pod walk of both
// backends holds on the configuration alone; the router hops then agree with traceroute (run after
// the walks: its packets refill the tables). With --refresh the pod sends first and the walk reads
// its entries learned again.
func testIdleWalks(t *testing.T, l *e2eLab) {
	var pairs [][2]string // pod ref, target
	ipOf := map[string]string{}
	pods := map[string]e2ePod{}
	for _, p := range l.facts.Pods {
		pods[p.ref()] = p
		for _, n := range l.facts.Nodes {
			pairs = append(pairs, [2]string{p.ref(), "node/" + n.Name})
			ipOf["node/"+n.Name] = n.IP
		}
		for _, q := range l.facts.Pods {
			if q.Namespace != p.Namespace {
				pairs = append(pairs, [2]string{p.ref(), "pod/" + q.ref()})
				ipOf["pod/"+q.ref()] = q.IP
			}
		}
	}
	l.flushMACs(t)
	walks := make([]*trace.Walk, len(pairs))
	parallel(len(pairs), 3, func(i int) {
		w, r := l.walk(t, "native", pods[pairs[i][0]], pairs[i][1])
		if r.code != 0 {
			t.Errorf("trace %s -> %s (native, flushed): exit %d\n%s", pairs[i][0], pairs[i][1], r.code, r.stderr)
		}
		walks[i] = w
	})
	var plan strings.Builder
	plan.WriteString("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n")
	for _, p := range pairs {
		fmt.Fprintf(&plan, "  - from: %s\n    to: [%s]\n", p[0], p[1])
	}
	planFile := filepath.Join(t.TempDir(), "idle.yaml")
	writeFile(t, planFile, plan.String())
	rep, r := runCheck(t, l, "agentless", planFile, filepath.Join(t.TempDir(), "junit.xml"))
	if r.code != 0 || rep.Passed != len(pairs) {
		t.Errorf("check --node-backend agentless, MAC tables flushed: exit %d, %d of %d passed\n%s", r.code, rep.Passed, len(pairs), r.stderr)
	}
	agentless := map[string]*trace.Walk{}
	for _, res := range rep.Results {
		agentless[res.Source.Namespace+"/"+res.Source.Name+" -> "+res.Destination] = res.Walk
	}
	for i, p := range pairs {
		key := p[0] + " -> " + p[1]
		idleHops(t, key+" (native)", walks[i])
		if a := agentless[key]; a == nil {
			t.Errorf("%s: no agentless walk", key)
		} else {
			idleHops(t, key+" (agentless)", a)
		}
	}
	// Now the traffic: traceroute agrees with the walks made while the tables were empty.
	for i, p := range pairs {
		got := traceroute(t, pods[p[0]].Netns, ipOf[p[1]])
		if want := routerHops(walks[i]); !slices.Equal(got, want) {
			t.Errorf("%s: walk with the MAC tables flushed has router hops %v, traceroute -I %v", p[0]+" -> "+p[1], want, got)
		}
	}

	// --refresh: the pod sends one packet before its node is read: its MAC and the router's are back.
	l.flushMACs(t)
	var kubeDNS e2ePod
	for _, p := range l.facts.Pods {
		if p.ref() == "kube-system/kube-dns" {
			kubeDNS = p
		}
	}
	for _, be := range backends {
		w, r := l.walk(t, be, kubeDNS, "node/172.15.0.4", "--refresh", "--pod-exec", "ip netns exec "+l.facts.Name+"-{namespace}-{pod}")
		if r.code != 0 || w.Verdict != trace.VerdictReachable {
			t.Fatalf("%s --refresh: exit %d verdict %s (%s)\n%s", be, r.code, w.Verdict, w.Reason, r.stderr)
		}
		for _, h := range w.Hops {
			if h.Direction == trace.Forward && (h.Kind == trace.HopMACTable || h.Kind == trace.HopUplink) && !strings.Contains(h.Detail, "learned on") {
				t.Errorf("%s --refresh: hop %d %s %q, want the entry learned again", be, h.Index, h.Kind, h.Detail)
			}
		}
	}
	l.warm(t)
}

// testScenarioFlushed runs a broken scenario again with every node's MAC table flushed: the walk
// finds the same fault from the configuration alone (a stale entry is gone with the flush: that
// walk holds, and traceroute then gets through too), the check matrix names the same pairs, and
// traceroute agrees.
func testScenarioFlushed(t *testing.T, l *e2eLab, plan, name, kind, reason string, tr []string, fails func(e2ePod) bool) {
	kubeDNS, nginx3 := l.publishedPods()
	if name == "stale-mac" {
		fails = func(e2ePod) bool { return false }
	}
	l.flushMACs(t)
	var walk *trace.Walk
	for _, be := range backends {
		w, r := l.walk(t, be, kubeDNS, "node/172.15.0.4")
		walk = w
		if name == "stale-mac" {
			if r.code != 0 || w.Verdict != trace.VerdictReachable {
				t.Errorf("flushed %s (%s): the stale entry is gone, want reachable; exit %d verdict %s %s", name, be, r.code, w.Verdict, w.Reason)
			}
			continue
		}
		h := hopAt(w, w.BrokenAt)
		if r.code != 1 || h == nil || string(h.Kind) != kind || !strings.Contains(w.Reason, reason) {
			t.Errorf("flushed %s (%s): exit %d verdict %s brokenAt %d (%+v) reason %q; want broken at a %s hop, %q\n%s", name, be, r.code, w.Verdict, w.BrokenAt, h, w.Reason, kind, reason, r.stderr)
		}
		if up := hopOf(w, "ovs-uplink", ""); name == "vlan-mismatch" && (up == nil || up.ConsequenceOf != w.BrokenAt) {
			t.Errorf("flushed %s (%s): uplink hop %+v, want the router MAC missing as a consequence of hop %d", name, be, up, w.BrokenAt)
		}
	}
	if name == "vlan-mismatch" {
		// Even after the pod sent a packet (whose answer cannot come back), the tags are the fault.
		w, r := l.walk(t, "native", kubeDNS, "node/172.15.0.4", "--refresh", "--pod-exec", "ip netns exec "+l.facts.Name+"-{namespace}-{pod}")
		if h := hopAt(w, w.BrokenAt); r.code != 1 || h == nil || string(h.Kind) != kind || !strings.Contains(w.Reason, reason) {
			t.Errorf("flushed %s --refresh: exit %d brokenAt %d (%+v) reason %q; want the %s hop, %q", name, r.code, w.BrokenAt, h, w.Reason, kind, reason)
		}
		// Root cause first: the router MAC missing on the uplink is the mismatch's consequence.
		if up := hopOf(w, "ovs-uplink", ""); up == nil || up.Status != trace.StatusBroken || up.ConsequenceOf != w.BrokenAt {
			t.Errorf("flushed %s --refresh: uplink hop %+v, want broken as a consequence of hop %d", name, up, w.BrokenAt)
		}
		l.flushMACs(t)
	}
	rep, r := runCheck(t, l, "native", plan, filepath.Join(t.TempDir(), "junit.xml"))
	var gotFail, wantFail []string
	for _, res := range rep.Results {
		if res.Result == trace.CheckFail {
			gotFail = append(gotFail, res.Source.Namespace+"/"+res.Source.Name+" -> "+res.Destination)
		}
	}
	for _, p := range l.facts.Pods {
		for _, n := range l.facts.Nodes {
			if fails(p) {
				wantFail = append(wantFail, p.ref()+" -> node/"+n.Name)
			}
		}
	}
	slices.Sort(gotFail)
	slices.Sort(wantFail)
	if !slices.Equal(gotFail, wantFail) || (len(wantFail) > 0) != (r.code == 1) {
		t.Errorf("flushed %s: check exit %d, failed %v\nwant failed %v", name, r.code, gotFail, wantFail)
	}
	switch {
	case name == "stale-mac":
		want := []string{"172.16.0.1", "100.64.96.18", "100.64.96.11", kubeDNS.IP}
		if got := traceroute(t, nginx3.Netns, kubeDNS.IP); !slices.Equal(got, want) {
			t.Errorf("flushed stale-mac: traceroute from nginx-3 to kube-dns %v, want %v", got, want)
		}
	case tr != nil:
		var where []string
		if h := hopAt(walk, walk.BrokenAt); h != nil && h.Kind == "router" {
			for _, fh := range walk.Hops {
				if fh.Direction == trace.Forward && fh.Kind == "router" {
					where = append(where, fh.IP)
					if fh.Name == h.Name {
						break
					}
				}
			}
		}
		// A hop that is kube-dns itself is its own kernel saying the gateway does not answer ARP
		// (!H: its neighbour entry aged out with the veth down): no router answered either way.
		got := slices.DeleteFunc(traceroute(t, kubeDNS.Netns, "172.15.0.4"), func(h string) bool { return h == kubeDNS.IP })
		if !slices.Equal(got, tr) || !slices.Equal(got, where) {
			t.Errorf("flushed %s: traceroute %v, want %v (the walk breaks at hop %d: routers %v)", name, got, tr, walk.BrokenAt, where)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
