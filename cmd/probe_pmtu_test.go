package cmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// pmtuPair is two network namespaces joined by a veth pair: "pod" (10.255.0.1, MTU 1500) and
// "dst" (10.255.0.2). A veth drops a frame larger than the receiving end's MTU without a word, as
// an underlay too small for an encapsulated packet does.
func pmtuPair(t *testing.T) (pod, dst string) {
	labtest.RequireRoot(t)
	labtest.RequireBinaries(t, "ip", "ping")
	pod, dst = fmt.Sprintf("pw-pmtu-%d-pod", os.Getpid()), fmt.Sprintf("pw-pmtu-%d-dst", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{pod, dst} {
		run("netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run("-n", ns, "link", "set", "lo", "up")
	}
	run("-n", pod, "link", "add", "eth0", "mtu", "1500", "type", "veth", "peer", "name", "eth0", "netns", dst)
	run("-n", pod, "addr", "add", "10.255.0.1/30", "dev", "eth0")
	run("-n", dst, "addr", "add", "10.255.0.2/30", "dev", "eth0")
	run("-n", pod, "link", "set", "eth0", "up")
	run("-n", dst, "link", "set", "eth0", "up")
	return pod, dst
}

// mtuWalk is a walk to 10.255.0.2 whose tunnel needs 1558 bytes over an underlay of 1400 (the
// transport hop as the engine writes it), or a walk that holds when underlay is 0.
func mtuWalk(underlay int) *trace.Walk {
	w := &trace.Walk{Source: trace.Endpoint{Kind: trace.TargetPod, Namespace: "ns", Name: "pod", IP: "10.255.0.1"},
		Destination: trace.Endpoint{Kind: trace.TargetIP, IP: "10.255.0.2"}, Verdict: trace.VerdictReachable,
		Hops: []trace.Hop{{Index: 1, Kind: trace.HopPod, Name: "ns/pod", Direction: trace.Forward, Status: trace.StatusOK}}}
	if underlay > 0 {
		d := fmt.Sprintf("MTU %d of the underlay eth1 on hv-2 cannot carry a full 1500-byte packet in geneve (needs 1558)", underlay)
		w.Hops = append(w.Hops, trace.Hop{Index: 2, Kind: trace.HopTransport, Name: "hv-1 → hv-2", Direction: trace.Forward, Status: trace.StatusBroken, Detail: d,
			Transport: &trace.TransportDetail{LocalHost: "hv-1", RemoteHost: "hv-2", Encap: "geneve", State: trace.TunnelUp, InnerMTU: 1500, MTUNeeded: 1558, UnderlayMTU: underlay}})
		w.Verdict, w.BrokenAt, w.Reason = trace.VerdictBroken, 2, d
	}
	return w
}

// The full-size probe through --pod-exec: it passes where the path carries the pod's MTU, is lost
// where a link is smaller (small pings still pass), and is compared with what the walk says.
func TestPMTUProbe(t *testing.T) {
	pod, dst := pmtuPair(t)
	prefix := []string{"ip", "netns", "exec", pod}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("the path carries 1500 bytes: reached, as the walk says", func(t *testing.T) {
		w := mtuWalk(0)
		r := runPMTUProbe(ctx, prefix, w, 1500)
		if !r.Reached || !r.Expected || r.Error != "" || trace.PMTUDisagreement(w, *r) != "" {
			t.Errorf("%+v: %s", r, trace.PMTUDisagreement(w, *r))
		}
	})
	if out, err := exec.Command("ip", "-n", dst, "link", "set", "eth0", "mtu", "1400").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if err := exec.Command("ip", "netns", "exec", pod, "ping", "-n", "-c", "1", "-W", "2", "10.255.0.2").Run(); err != nil {
		t.Fatalf("a small ping no longer passes: %v", err)
	}
	t.Run("a 1400-byte link the walk does not know: the probe disagrees", func(t *testing.T) {
		w := mtuWalk(0)
		r := runPMTUProbe(ctx, prefix, w, 1500)
		d := trace.PMTUDisagreement(w, *r)
		if r.Reached || r.Error != "" || !strings.Contains(d, "a full-size 1500-byte don't-fragment packet did not reach 10.255.0.2, the walk says the path carries it") {
			t.Errorf("%+v: %q", r, d)
		}
	})
	t.Run("the walk's MTU hop explains the lost packet: they agree", func(t *testing.T) {
		w := mtuWalk(1400)
		r := runPMTUProbe(ctx, prefix, w, 1500)
		if r.Reached || r.Expected || r.ConsequenceOf != 2 || r.Error != "" || trace.PMTUDisagreement(w, *r) != "" {
			t.Errorf("%+v: %s", r, trace.PMTUDisagreement(w, *r))
		}
		// traceroute's small packets get through an MTU-only break: no disagreement there either.
		if d := trace.ReachDisagreement(w, true); d != "" {
			t.Errorf("a small probe that passes an MTU-only break: %q", d)
		}
	})
	t.Run("a smaller probe from a pod with MTU 1400 passes", func(t *testing.T) {
		w := mtuWalk(0)
		if r := runPMTUProbe(ctx, prefix, w, 1400); !r.Reached || r.Size != 1400 {
			t.Errorf("%+v", r)
		}
	})
	t.Run("no MTU in the facts: said, not guessed", func(t *testing.T) {
		if r := runPMTUProbe(ctx, prefix, mtuWalk(0), 0); r.Error == "" || r.Reached {
			t.Errorf("%+v", r)
		}
	})
}
