package cmd_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// overlayFacts is the overlay part of lab.json: the hypervisors and the --host-exec template.
type overlayFacts struct {
	HostExec string `json:"hostExec"`
	Hosts    []struct {
		Name, Chassis, Netns, TEP, Underlay string
		UnderlayMTU                         int
	} `json:"hosts"`
}

// TestLabOverlayE2E walks across the lab's two hypervisors (node 172.15.0.5 sits on the second,
// Geneve between them over an underlay veth) and holds each walk against real packets: a tunnel
// whose underlay link is down (BFD down), an underlay MTU of 1500 (small pings pass, a 1472-byte
// DF ping does not), and a NetworkPolicy's ACL dropping one pod's egress to the nodes.
func TestLabOverlayE2E(t *testing.T) {
	labtest.RequireRoot(t)
	labtest.RequireBinaries(t, "ping")
	l := startE2ELab(t)
	b, err := os.ReadFile(filepath.Join(l.dir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var of overlayFacts
	if err := json.Unmarshal(b, &of); err != nil || of.HostExec == "" || len(of.Hosts) != 2 {
		t.Fatalf("lab.json has no hosts or hostExec (%v):\n%s", err, b)
	}
	pods := map[string]e2ePod{}
	for _, p := range l.facts.Pods {
		pods[p.ref()] = p
	}
	kubeDNS, heapster := pods["kube-system/kube-dns"], pods["kube-system/heapster"]
	hv1, hv2 := of.Hosts[0], of.Hosts[1]
	overlay := []string{"--ovn-sb", l.facts.Hypervisor.SB, "--host-exec", of.HostExec}
	walk := func(t *testing.T, p e2ePod, to string) (*trace.Walk, pwResult) {
		t.Helper()
		return l.walk(t, "agentless", p, to, overlay...)
	}

	t.Run("across hypervisors", func(t *testing.T) {
		w, r := walk(t, kubeDNS, "node/172.15.0.5")
		if r.code != 0 || w.Verdict != trace.VerdictReachable {
			t.Fatalf("exit %d verdict %s (%s)\nstderr: %s", r.code, w.Verdict, w.Reason, r.stderr)
		}
		tr := transportHops(w, trace.Forward)
		if len(tr) != 1 {
			t.Fatalf("forward transport hops %+v, want one", tr)
		}
		d := tr[0].Transport
		if d.LocalHost != hv1.Name || d.RemoteHost != hv2.Name || d.LocalTEP != hv1.TEP || d.RemoteTEP != hv2.TEP || d.Encap != "geneve" ||
			d.State != "up" || d.MTUNeeded != 1558 || d.UnderlayMTU != hv1.UnderlayMTU {
			t.Errorf("transport %+v", *d)
		}
		if back := transportHops(w, trace.Return); len(back) != 1 || back[0].Transport.LocalHost != hv2.Name {
			t.Errorf("return transport %+v", back)
		}
		if got, want := traceroute(t, kubeDNS.Netns, "172.15.0.5"), routerHops(w); !slices.Equal(got, want) {
			t.Errorf("traceroute %v, walk %v", got, want)
		}
		if !pingDF(kubeDNS.Netns, "172.15.0.5", 1472) {
			t.Error("a full-size DF ping does not pass a 1600-byte underlay")
		}
		// Same hypervisor: one line, no tunnel.
		w, r = walk(t, kubeDNS, "node/172.15.0.4")
		if r.code != 0 || len(transportHops(w, trace.Forward)) != 0 || !slices.ContainsFunc(w.Hops, func(h trace.Hop) bool { return h.Kind == trace.HopHost }) {
			t.Errorf("same host: exit %d, hops %s", r.code, hopsWithoutEvidence(w))
		}
	})
	if t.Failed() {
		return
	}

	t.Run("underlay MTU 1500", func(t *testing.T) {
		l.mustScript(t, "break", "underlay-mtu")
		defer l.mustScript(t, "heal")
		if !pingDF(kubeDNS.Netns, "172.15.0.5", 1000) {
			t.Error("a small ping does not pass")
		}
		if pingDF(kubeDNS.Netns, "172.15.0.5", 1472) {
			t.Error("a 1472-byte DF ping passes an underlay of 1500: the scenario is not what it says")
		}
		w, r := walk(t, kubeDNS, "node/172.15.0.5")
		h := hopAt(w, w.BrokenAt)
		want := "cannot carry a full 1500-byte packet in geneve (needs 1558)"
		if r.code != 1 || h == nil || h.Kind != trace.HopTransport || !strings.Contains(w.Reason, want) || h.Transport.UnderlayMTU != 1500 {
			t.Errorf("exit %d broken at %+v reason %q, want the transport hop: %q\nstderr: %s", r.code, h, w.Reason, want, r.stderr)
		}
		testProbesAgree(t, l, kubeDNS, "node/172.15.0.5", overlay, true)
	})

	t.Run("tunnel down", func(t *testing.T) {
		l.mustScript(t, "break", "tunnel-down") // returns once BFD says down
		defer l.mustScript(t, "heal")
		w, r := walk(t, kubeDNS, "node/172.15.0.5")
		h := hopAt(w, w.BrokenAt)
		if r.code != 1 || h == nil || h.Kind != trace.HopTransport || h.Transport.State != "down" ||
			h.Transport.BFDDiagnostic != "Control Detection Time Expired" || !strings.Contains(w.Reason, "is down: BFD Control Detection Time Expired") {
			t.Fatalf("exit %d broken at %+v reason %q\nstderr: %s", r.code, h, w.Reason, r.stderr)
		}
		// traceroute answers the routers (they run on the source's hypervisor) and nothing beyond.
		want, exact := w.ExpectedTraceroute()
		if got := traceroute(t, kubeDNS.Netns, "172.15.0.5"); !exact || !slices.Equal(got, want) {
			t.Errorf("traceroute %v, the walk expects %v (exact %v)", got, want, exact)
		}
		if pingDF(kubeDNS.Netns, "172.15.0.5", 56) {
			t.Error("a ping crosses a tunnel whose underlay is down")
		}
		testProbesAgree(t, l, kubeDNS, "node/172.15.0.5", overlay, false)
	})

	t.Run("NetworkPolicy ACL drops heapster's egress to the nodes", func(t *testing.T) {
		l.mustScript(t, "break", "netpol-acl")
		defer l.mustScript(t, "heal")
		w, r := walk(t, heapster, "node/172.15.0.5")
		h := hopAt(w, w.BrokenAt)
		if r.code != 1 || h == nil || h.Kind != trace.HopFirewall || h.Firewall.Direction != trace.FirewallEgress || h.Firewall.Action != trace.FirewallDrop ||
			h.Firewall.RuleName != "kube-system_deny-node-egress_0" || h.Firewall.NetworkPolicy != "kube-system/deny-node-egress" {
			t.Fatalf("exit %d broken at %+v (%+v) reason %q\nstderr: %s", r.code, h, h.Firewall, w.Reason, r.stderr)
		}
		want, exact := w.ExpectedTraceroute()
		if got := traceroute(t, heapster.Netns, "172.15.0.5"); !exact || !slices.Equal(got, want) {
			t.Errorf("traceroute %v, the walk expects %v (exact %v)", got, want, exact)
		}
		// The policy holds heapster only: kube-dns still reaches the node, its walk through the
		// firewall's default.
		w, r = walk(t, kubeDNS, "node/172.15.0.5")
		if r.code != 0 || w.Verdict != trace.VerdictReachable {
			t.Errorf("kube-dns: exit %d verdict %s (%s)", r.code, w.Verdict, w.Reason)
		}
		if !pingDF(kubeDNS.Netns, "172.15.0.5", 56) || pingDF(heapster.Netns, "172.15.0.5", 56) {
			t.Error("pings do not agree with the policy: kube-dns should pass, heapster not")
		}
	})
}

func transportHops(w *trace.Walk, dir trace.Direction) []trace.Hop {
	var out []trace.Hop
	for _, h := range w.Hops {
		if h.Kind == trace.HopTransport && h.Direction == dir {
			out = append(out, h)
		}
	}
	return out
}

// pingDF sends one don't-fragment ICMP echo of size bytes of payload from netns and says whether
// it was answered.
func pingDF(netns, dst string, size int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "ip", "netns", "exec", netns, "ping", "-n", "-c", "1", "-W", "2", "-M", "do", "-s", strconv.Itoa(size), dst).Run() == nil
}
