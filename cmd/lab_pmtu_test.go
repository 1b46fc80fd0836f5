package cmd_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// testPathMTU proves --probe's full-size probe against real packets: on the healthy lab a
// 1500-byte don't-fragment ping from kube-dns reaches node 172.15.0.4 as the walk says; with that
// node's eth0 at MTU 1400 (a link the walk does not hold against the pod's MTU) small pings still
// pass, the full-size one is lost, and trace and check report the disagreement.
func testPathMTU(t *testing.T, l *e2eLab, pod e2ePod) {
	var dstNetns string
	for _, n := range l.facts.Nodes {
		if n.Name == "172.15.0.4" {
			dstNetns = n.Netns
		}
	}
	podExec := []string{"--probe", "--pod-exec", "ip netns exec " + l.facts.Name + "-{namespace}-{pod}"}
	ping := func(size string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, "ip", "netns", "exec", pod.Netns, "ping", "-n", "-M", "do", "-s", size, "-c", "2", "-i", "0.2", "-W", "2", "172.15.0.4").Run()
	}
	setMTU := func(mtu string) {
		t.Helper()
		if out, err := exec.Command("ip", "-n", dstNetns, "link", "set", "eth0", "mtu", mtu).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s link set eth0 mtu %s: %v\n%s", dstNetns, mtu, err, out)
		}
	}

	w, r := l.walk(t, "native", pod, "node/172.15.0.4", podExec...)
	if p := w.Probe; r.code != 0 || p == nil || p.PMTU == nil || !p.PMTU.Reached || p.PMTU.Size != 1500 || !p.PMTU.Expected || len(p.Differences) > 0 {
		t.Fatalf("healthy: exit %d probe %+v pmtu %+v\n%s", r.code, p, p.PMTU, r.stderr)
	}

	setMTU("1400")
	defer setMTU("1500")
	if err := ping("56"); err != nil {
		t.Fatalf("a small ping no longer reaches 172.15.0.4 with its eth0 at MTU 1400: %v", err)
	}
	if err := ping("1472"); err == nil {
		t.Fatal("a 1500-byte don't-fragment ping still reaches 172.15.0.4 with its eth0 at MTU 1400")
	}
	want := "a full-size 1500-byte don't-fragment packet did not reach 172.15.0.4, the walk says the path carries it"
	w, r = l.walk(t, "native", pod, "node/172.15.0.4", podExec...)
	p := w.Probe
	if p == nil || p.PMTU == nil || p.PMTU.Reached || !p.Reached || w.Verdict != trace.VerdictReachable || !strings.Contains(strings.Join(p.Differences, "; "), want) {
		t.Errorf("eth0 at MTU 1400: verdict %s probe %+v\nwant traceroute through, the full-size ping lost and %q", w.Verdict, p, want)
	}
	if !strings.Contains(r.stderr, "warning: the probe differs from the walk: "+want) {
		t.Errorf("stderr does not warn: %s", r.stderr)
	}
	tbl := l.pw(append(append([]string{"trace", pod.ref(), "--to", "node/172.15.0.4"}, l.live("native")...), podExec...)...)
	if !strings.Contains(tbl.stdout, "probe: the path-MTU probe disagrees with the walk: "+want) || !strings.Contains(tbl.stdout, "path MTU: a full-size 1500-byte don't-fragment ping did not reach 172.15.0.4") {
		t.Errorf("table:\n%s", tbl.stdout)
	}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	c := l.pw(append(append([]string{"check", "--from", pod.ref(), "--to", "node/172.15.0.4", "--junit", junit}, l.live("native")...), podExec...)...)
	if c.code != 1 || !strings.Contains(c.stdout, "probe disagrees with the walk: "+want) {
		t.Errorf("check: exit %d, want 1 and the disagreement\n%s%s", c.code, c.stdout, c.stderr)
	}
}

// testProbesAgree walks pod to `to` with --probe on a broken overlay and holds both probes against
// the walk: with an underlay MTU too small (mtuHop), traceroute reaches the destination while the
// full-size ping is lost, explained by the walk's transport hop; with a tunnel down, neither
// reaches. No difference either way: the walk and the packets agree.
func testProbesAgree(t *testing.T, l *e2eLab, pod e2ePod, to string, extra []string, mtuHop bool) {
	t.Helper()
	args := append(append([]string{}, extra...), "--probe", "--pod-exec", "ip netns exec "+l.facts.Name+"-{namespace}-{pod}")
	w, r := l.walk(t, "agentless", pod, to, args...)
	p := w.Probe
	if r.code != 1 || p == nil || p.Error != "" || p.PMTU == nil || p.PMTU.Error != "" {
		t.Fatalf("--probe: exit %d probe %+v\nstderr: %s", r.code, p, r.stderr)
	}
	if p.PMTU.Reached || len(p.Differences) > 0 || p.Reached != mtuHop {
		t.Errorf("--probe: traceroute reached %v (want %v), full-size ping reached %v, differences %q", p.Reached, mtuHop, p.PMTU.Reached, p.Differences)
	}
	if mtuHop && (p.PMTU.ConsequenceOf != w.BrokenAt || p.PMTU.Expected) {
		t.Errorf("--probe: the lost full-size ping is explained by hop %d (expected %v), want hop %d", p.PMTU.ConsequenceOf, p.PMTU.Expected, w.BrokenAt)
	}
}
