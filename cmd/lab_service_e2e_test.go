package cmd_test

import (
	"bufio"
	"context"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// TestLabServiceE2E walks the lab's Service (lab.sh svc-up: OVN Load_Balancer, EndpointSlice with
// endpoints on two nodes, NodePort) and the way out (t0 uplink, SNAT, an external host) and holds
// each walk against real packets: what curl from kube-dns gets back from the VIP (which endpoint
// answered, from which source), and what tcpdump on the external host sees (the source after SNAT).
// Then the broken scenarios: no ready endpoint, a missing SNAT rule, a pool member down.
func TestLabServiceE2E(t *testing.T) {
	labtest.SkipShort(t, "root, OVS, OVN and a kube-apiserver (the lab)")
	labtest.RequireBinaries(t, "curl", "tcpdump", "python3", "ethtool")
	l := startE2ELab(t)
	l.mustScript(t, "svc-up")
	var kubeDNS e2ePod
	for _, p := range l.facts.Pods {
		if p.ref() == "kube-system/kube-dns" {
			kubeDNS = p
		}
	}
	netns := l.facts.Name + "-kube-system-kube-dns"
	const vip, nodePort, ext = "10.96.0.80", "172.15.0.4:30080", "192.0.2.7"

	t.Run("service: the walk's endpoints are the ones that answer", func(t *testing.T) {
		answered := map[string]string{} // endpoint pod -> client address it saw
		deadline := time.Now().Add(20 * time.Second)
		for len(answered) < 2 && time.Now().Before(deadline) {
			pod, client := curlFrom(t, netns, "http://"+vip+"/")
			answered[pod] = client
		}
		for _, to := range []string{"svc/default/web", "svc/default/web:http", vip + ":80", nodePort} {
			for _, be := range backends {
				w, r := l.walk(t, be, kubeDNS, to)
				if r.code != 0 || w.Verdict != trace.VerdictReachable || w.Service == nil {
					t.Fatalf("%s %s: exit %d verdict %s (%s)\nstderr: %s", be, to, r.code, w.Verdict, w.Reason, r.stderr)
				}
				var walked []string
				for _, ew := range w.Service.Walks {
					if ew.Walk.Verdict == trace.VerdictReachable && ew.Pod != nil {
						walked = append(walked, ew.Pod.Name)
					}
					svc := hopOf(&ew.Walk, trace.HopService, "")
					if svc == nil || svc.Service.LoadBalancer != "Service_default/web_TCP_cluster" || !strings.HasSuffix(svc.Service.Endpoint, ":8080") {
						t.Errorf("%s %s: endpoint %s service hop %+v", be, to, ew.Endpoint, svc)
					}
				}
				sort.Strings(walked)
				var got []string
				for p := range answered {
					got = append(got, p)
				}
				sort.Strings(got)
				if !slices.Equal(walked, got) {
					t.Errorf("%s %s: the walk reaches %v, curl to the VIP got answers from %v", be, to, walked, got)
				}
			}
		}
		// The load balancer DNATs only: the endpoints see kube-dns's own address.
		for pod, client := range answered {
			if client != kubeDNS.IP {
				t.Errorf("%s saw the client as %s, want kube-dns's %s (DNAT, no SNAT)", pod, client, kubeDNS.IP)
			}
		}
	})

	t.Run("external: the SNAT source tcpdump sees", func(t *testing.T) {
		w, r := l.walk(t, "native", kubeDNS, ext)
		if r.code != 0 || w.Verdict != trace.VerdictReachable || w.Destination.Kind != trace.TargetExternal {
			t.Fatalf("exit %d verdict %s (%s) destination %+v\nstderr: %s", r.code, w.Verdict, w.Reason, w.Destination, r.stderr)
		}
		nat := hopOf(w, trace.HopNAT, trace.Forward)
		if nat == nil || nat.NAT == nil || nat.Router != "t0" {
			t.Fatalf("no SNAT hop on t0:\n%s", hopsWithoutEvidence(w))
		}
		seen := tcpdumpSource(t, l.facts.Name+"-ext", func() {
			_ = exec.Command("ip", "netns", "exec", netns, "traceroute", "-I", "-n", "-q", "1", "-w", "1", "-m", "8", ext).Run()
		})
		if seen != nat.NAT.Translated.Src {
			t.Errorf("tcpdump on the external host saw source %q, the walk says %s", seen, nat.NAT.Translated.Src)
		}
		back := hopOf(w, trace.HopNAT, trace.Return)
		if back == nil || back.NAT.Translated.Dst != kubeDNS.IP {
			t.Errorf("no un-SNAT back to kube-dns:\n%s", hopsWithoutEvidence(w))
		}
	})

	t.Run("broken: no ready endpoint", func(t *testing.T) {
		l.mustScript(t, "break", "no-ready-endpoint")
		defer l.mustScript(t, "heal")
		w, r := l.walk(t, "native", kubeDNS, "svc/default/web")
		if r.code != 1 || w.Verdict != trace.VerdictBroken || w.Reason != "service default/web has no ready endpoint (2 listed, none ready)" {
			t.Fatalf("exit %d verdict %s reason %q", r.code, w.Verdict, w.Reason)
		}
		if out, err := exec.Command("ip", "netns", "exec", netns, "curl", "-s", "--noproxy", "*", "--max-time", "2", "http://"+vip+"/").CombinedOutput(); err == nil {
			t.Errorf("curl to the VIP answered %q: the walk says broken", out)
		}
	})

	t.Run("broken: missing SNAT rule", func(t *testing.T) {
		l.mustScript(t, "break", "missing-snat")
		defer l.mustScript(t, "heal")
		w, r := l.walk(t, "native", kubeDNS, ext)
		if r.code != 1 || w.Verdict != trace.VerdictBroken || !strings.HasPrefix(w.Reason, "no SNAT rule on router t0 matches source "+kubeDNS.IP) {
			t.Fatalf("exit %d verdict %s reason %q", r.code, w.Verdict, w.Reason)
		}
		seen := tcpdumpSource(t, l.facts.Name+"-ext", func() {
			_ = exec.Command("ip", "netns", "exec", netns, "traceroute", "-I", "-n", "-q", "1", "-w", "1", "-m", "8", ext).Run()
		})
		if seen != kubeDNS.IP {
			t.Errorf("tcpdump on the external host saw source %q, want the pod's own %s (no SNAT)", seen, kubeDNS.IP)
		}
		if exec.Command("ip", "netns", "exec", netns, "curl", "-s", "--max-time", "2", "http://"+ext+"/").Run() == nil {
			t.Error("the external host answered a pod with no SNAT")
		}
	})

	t.Run("broken: a load balancer whose pool member is down", func(t *testing.T) {
		// lab.sh polls the Southbound until OVN's health check says redis-slave is offline.
		l.mustScript(t, "break", "lb-member-down")
		defer l.mustScript(t, "heal")
		for range 8 {
			if pod, _ := curlFrom(t, netns, "http://"+vip+"/"); pod != "nginx-3" {
				t.Fatalf("curl to the VIP got an answer from %s with redis-slave's member down", pod)
			}
		}
		w, r := l.walk(t, "native", kubeDNS, "svc/default/web", "--ovn-sb", l.facts.Hypervisor.SB)
		if r.code != 0 || w.Verdict != trace.VerdictReachable || w.Service == nil || len(w.Service.Walks) != 2 {
			t.Fatalf("exit %d verdict %s (%s)\nstderr: %s", r.code, w.Verdict, w.Reason, r.stderr)
		}
		for _, ew := range w.Service.Walks {
			svc := hopOf(&ew.Walk, trace.HopService, "")
			if ew.Pod == nil || svc == nil {
				t.Fatalf("endpoint %s: pod %v service hop %v", ew.Endpoint, ew.Pod, svc)
			}
			switch ew.Pod.Name {
			case "nginx-3":
				if ew.Walk.Verdict != trace.VerdictReachable || svc.Status != trace.StatusOK {
					t.Errorf("the healthy endpoint: verdict %s, service hop %s (%s)", ew.Walk.Verdict, svc.Status, svc.Detail)
				}
			case "redis-slave":
				if ew.Walk.Verdict != trace.VerdictBroken || svc.Status != trace.StatusBroken ||
					!strings.HasPrefix(svc.Detail, "pool member 172.16.0.7:8080 of Service_default/web_TCP_cluster is down (Service_Monitor offline") {
					t.Errorf("the endpoint whose member is down: verdict %s, service hop %s (%s)", ew.Walk.Verdict, svc.Status, svc.Detail)
				}
			}
		}
	})
}

// curlFrom GETs url from a netns; the lab's servers answer "POD CLIENT_IP".
func curlFrom(t *testing.T, netns, url string) (pod, client string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", netns, "curl", "-s", "--noproxy", "*", "--max-time", "2", url).Output()
	if err != nil {
		t.Fatalf("curl %s from %s: %v", url, netns, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("curl %s: answer %q", url, out)
	}
	return f[0], f[1]
}

// tcpdumpSource runs tcpdump on eth0 of netns while send runs and returns the source address of the
// first ICMP echo request it saw ("" when none).
func tcpdumpSource(t *testing.T, netns string, send func()) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", netns, "tcpdump", "-l", "-n", "-i", "eth0", "-c", "1", "icmp[icmptype] == icmp-echo")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// tcpdump says "listening on" once its capture is open: send only then.
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("tcpdump did not start listening")
	}
	go send()
	sc := bufio.NewScanner(out)
	src := ""
	if sc.Scan() {
		// "12:00:00.000000 IP 198.51.100.10 > 192.0.2.7: ICMP echo request, ..."
		if f := strings.Fields(sc.Text()); len(f) > 2 && f[1] == "IP" {
			src = f[2]
		}
	}
	_ = cmd.Wait()
	return src
}
