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

// TestLabTruth holds issue #20 to real packets on the lab: router addresses as destinations,
// return paths through the destination pod's own layers, walks that stop where they break, label
// selectors, a probe that disagrees with the walk, and the exit codes and completion the README
// promises.
func TestLabTruth(t *testing.T) {
	l := startE2ELab(t)
	labtest.RequireBinaries(t, "ping")
	pods := map[string]e2ePod{}
	for _, p := range l.facts.Pods {
		pods[p.ref()] = p
	}
	kubeDNS, nginx3 := pods["kube-system/kube-dns"], pods["default/nginx-3"]
	if kubeDNS.Netns == "" || nginx3.Netns == "" {
		t.Fatalf("lab.json lacks kube-dns or nginx-3: %+v", l.facts.Pods)
	}
	podExec := []string{"--pod-exec", "ip netns exec " + l.facts.Name + "-{namespace}-{pod}"}

	t.Run("router addresses", func(t *testing.T) {
		// Every router interface on kube-dns's way to the nodes, and the tier-0's ports: each
		// answers ping, and traceroute reaches it where the walk ends.
		for _, addr := range []string{"172.16.1.1", "100.64.96.11", "100.64.96.10", "100.64.96.4", "100.64.96.5", "172.15.0.1"} {
			if !ping(t, kubeDNS.Netns, addr) {
				t.Errorf("ping from kube-dns to %s got no answer: the lab is not what the test expects", addr)
				continue
			}
			got := traceroute(t, kubeDNS.Netns, addr)
			for _, be := range backends {
				w, r := l.walk(t, be, kubeDNS, addr)
				if r.code != 0 || w.Verdict != trace.VerdictReachable || w.Destination.Kind != trace.TargetRouter {
					t.Errorf("%s %s: exit %d verdict %s (%s), destination %+v; want a reachable router\nstderr %s", be, addr, r.code, w.Verdict, w.Reason, w.Destination, r.stderr)
					continue
				}
				if want := w.RouterHops(); !slices.Equal(got, want) {
					t.Errorf("%s %s: traceroute %v, the walk's L3 hops %v", be, addr, got, want)
				}
				if strings.Contains(r.stderr+strings.Join(w.Warnings, "\n"), "outside the cluster") {
					t.Errorf("%s %s: warned as outside the cluster: %s %v", be, addr, r.stderr, w.Warnings)
				}
				ret := 0
				for _, h := range w.Hops {
					if h.Direction == trace.Return {
						ret++
						if ret == 1 && (h.Kind != trace.HopRouter || h.Router != w.Destination.Name) {
							t.Errorf("%s %s: the return starts at %+v, not at router %s", be, addr, h, w.Destination.Name)
						}
					}
				}
				if ret == 0 {
					t.Errorf("%s %s: no return path", be, addr)
				}
			}
		}
		r := l.pw(append([]string{"check", "--from", "kube-system/kube-dns", "--to", "172.16.1.1,100.64.96.10,100.64.96.5,172.15.0.1", "--probe", "-o", "json"}, append(l.live("native"), podExec...)...)...)
		if r.code != 0 {
			t.Errorf("check to the router addresses with --probe: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("pod to pod both ways, fault on the destination's side", func(t *testing.T) {
		for _, be := range backends {
			w, r := l.walk(t, be, kubeDNS, "pod/default/nginx-3")
			if r.code != 0 || w.Verdict != trace.VerdictReachable {
				t.Fatalf("%s: healthy kube-dns -> nginx-3: exit %d %s (%s)", be, r.code, w.Verdict, w.Reason)
			}
			var ret []trace.HopKind
			for _, h := range w.Hops {
				if h.Direction == trace.Return && h.Node == nginx3.Node {
					ret = append(ret, h.Kind)
				}
			}
			if want := []trace.HopKind{"pod", "veth", "ovs-port", "mac-table", "ovs-uplink", "fabric-port"}; !slices.Equal(ret, want) {
				t.Errorf("%s: the return path's hops on nginx-3's node %v, want nginx-3's own layers %v", be, ret, want)
			}
		}
		if !ping(t, kubeDNS.Netns, nginx3.IP) || !ping(t, nginx3.Netns, kubeDNS.IP) {
			t.Fatal("kube-dns and nginx-3 do not ping each other on the healthy lab")
		}
		// nginx-3 sends its replies to a MAC no router has: requests still reach it, replies never leave.
		bogus := "02:00:00:00:00:99"
		netnsRun(t, nginx3.Netns, "ip", "neigh", "replace", "172.16.0.1", "lladdr", bogus, "dev", "eth0", "nud", "permanent")
		defer netnsRun(t, nginx3.Netns, "ip", "neigh", "replace", "172.16.0.1", "lladdr", l.facts.RouterMAC, "dev", "eth0", "nud", "reachable")
		if ping(t, kubeDNS.Netns, nginx3.IP) {
			t.Fatal("kube-dns still pings nginx-3 with nginx-3's gateway entry wrong")
		}
		if got := traceroute(t, nginx3.Netns, kubeDNS.IP); len(got) != 0 {
			t.Errorf("traceroute from nginx-3 answered %v, want nothing (its frames go to %s)", got, bogus)
		}
		for _, be := range backends {
			w, r := l.walk(t, be, kubeDNS, "pod/default/nginx-3")
			h := hopAt(w, w.BrokenAt)
			if r.code != 1 || h == nil || h.Direction != trace.Return || h.Node != nginx3.Node || !strings.Contains(w.Reason, bogus) {
				t.Errorf("%s: kube-dns -> nginx-3: exit %d verdict %s at %+v (%q); want broken on the return path at nginx-3's node naming %s", be, r.code, w.Verdict, h, w.Reason, bogus)
			}
			w, r = l.walk(t, be, nginx3, "pod/kube-system/kube-dns")
			h = hopAt(w, w.BrokenAt)
			if r.code != 1 || h == nil || h.Direction != trace.Forward || !strings.Contains(w.Reason, bogus) {
				t.Errorf("%s: nginx-3 -> kube-dns: exit %d verdict %s at %+v (%q); want broken on the way out naming %s", be, r.code, w.Verdict, h, w.Reason, bogus)
			}
		}
		r := l.pw(append([]string{"check", "--from", "kube-system/kube-dns", "--to", "pod/default/nginx-3"}, l.live("native")...)...)
		if r.code != 1 || !strings.Contains(r.stdout, "(return path)") {
			t.Errorf("check: exit %d, want 1 and the broken hop marked as on the return path:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	// A bundle collected while the tier-0 lost its route to the nodes, read after the lab healed:
	// the walk says broken where real packets get through.
	bundle := filepath.Join(t.TempDir(), "stale.tar.gz")
	t.Run("a broken walk stops, worded the same live and offline", func(t *testing.T) {
		l.mustScript(t, "break", "t0-route")
		defer l.mustScript(t, "heal")
		w, r := l.walk(t, "native", kubeDNS, "node/172.15.0.4")
		if r.code != 1 || w.BrokenAt != len(w.Hops) || w.BrokenOnReturn() {
			t.Fatalf("exit %d, broken at %d of %d hops: want the walk to end at its forward break", r.code, w.BrokenAt, len(w.Hops))
		}
		tbl := l.pw(append([]string{"trace", kubeDNS.ref(), "--to", "node/172.15.0.4"}, l.live("native")...)...)
		if !strings.Contains(tbl.stdout, "✗ the packet stops at hop "+strconv.Itoa(w.BrokenAt)) || strings.Contains(tbl.stdout, "\nreturn path\n") {
			t.Errorf("table:\n%s", tbl.stdout)
		}
		for _, f := range []string{"dot", "mermaid"} {
			o := l.pw(append([]string{"trace", kubeDNS.ref(), "--to", "node/172.15.0.4", "-o", f}, l.live("native")...)...)
			if out := "h" + strconv.Itoa(w.BrokenAt) + " -"; strings.Contains(o.stdout, out) {
				t.Errorf("-o %s draws an edge out of the broken hop:\n%s", f, o.stdout)
			}
		}
		c := l.pw(append([]string{"collect", "cluster", "--pod", kubeDNS.ref(), "--to", "node/172.15.0.4", "--output", bundle}, l.live("native")...)...)
		if c.code != 0 {
			t.Fatalf("collect cluster: exit %d %s", c.code, c.stderr)
		}
		off := l.pw("trace", kubeDNS.ref(), "--to", "node/172.15.0.4", "-o", "json", "--snapshot", bundle)
		var ow trace.Walk
		if err := json.Unmarshal([]byte(off.stdout), &ow); err != nil || ow.Reason != w.Reason {
			t.Errorf("offline reason %q, live %q (%v)", ow.Reason, w.Reason, err)
		}
	})

	t.Run("a probe that disagrees fails its check", func(t *testing.T) {
		junit := filepath.Join(t.TempDir(), "j.xml")
		r := l.pw(append([]string{"check", "--snapshot", bundle, "--from", kubeDNS.ref(), "--to", "node/172.15.0.4", "--probe", "--junit", junit}, podExec...)...)
		want := "probe disagrees with the walk: the probe reached 172.15.0.4, the walk says the path is broken"
		if r.code != 1 || !strings.Contains(r.stdout, want) {
			t.Errorf("check: exit %d, want 1 and %q in the table:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
		if b, _ := os.ReadFile(junit); !strings.Contains(string(b), `message="`+want) {
			t.Errorf("the JUnit failure lacks %q:\n%s", want, b)
		}
		tr := l.pw(append([]string{"trace", kubeDNS.ref(), "--to", "node/172.15.0.4", "--snapshot", bundle, "--probe"}, podExec...)...)
		if !strings.Contains(tr.stdout, "probe: traceroute disagrees with the walk: the probe reached 172.15.0.4") {
			t.Errorf("trace's table does not say the probe disagrees:\n%s", tr.stdout)
		}
	})

	t.Run("selectors live and offline", func(t *testing.T) {
		snap := filepath.Join(t.TempDir(), "all.tar.gz")
		c := l.pw(append([]string{"collect", "cluster", "--pod", nginx3.ref(), "--to", "node/172.15.0.3", "--node", "172.15.0.3", "--node", "172.15.0.4", "--node", "172.15.0.5", "--output", snap}, l.live("native")...)...)
		if c.code != 0 {
			t.Fatalf("collect cluster: exit %d %s", c.code, c.stderr)
		}
		plan := filepath.Join(t.TempDir(), "plan.yaml")
		os.WriteFile(plan, []byte("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - name: nginx-3-out\n    namespace: default\n    fromSelector: app=nginx-3\n    to: [node/172.15.0.3]\n"), 0o644)
		for _, args := range [][]string{
			{"check", "-n", "default", "--from", "app=nginx-3", "--to", "node/172.15.0.3"},
			{"check", "-A", "--from", "app=nginx-3", "--to", "node/172.15.0.3"},
			{"check", "--plan", plan},
		} {
			for _, src := range [][]string{l.live("native"), {"--snapshot", snap}} {
				r := l.pw(append(append(append([]string{}, args...), "-o", "json"), src...)...)
				var rep checkJSON
				_ = json.Unmarshal([]byte(r.stdout), &rep)
				if r.code != 0 || rep.Total != 1 || rep.Results[0].Source.Name != "nginx-3" {
					t.Errorf("%v %v: exit %d, %d checks\n%s%s", args, src[:1], r.code, rep.Total, r.stdout, r.stderr)
				}
			}
		}
		if r := l.pw(append([]string{"check", "--to", "node/172.15.0.3"}, l.live("native")...)...); r.code != 2 || !strings.Contains(r.stderr, "--to needs --from") {
			t.Errorf("check --to without --from: exit %d %q", r.code, r.stderr)
		}
		// JUnit times are real without --probe.
		junit := filepath.Join(t.TempDir(), "j.xml")
		if r := l.pw(append([]string{"check", "--from", kubeDNS.ref(), "--to", "nodes", "--junit", junit}, l.live("native")...)...); r.code != 0 {
			t.Errorf("check: exit %d %s", r.code, r.stderr)
		}
		if b, _ := os.ReadFile(junit); strings.Contains(string(b), `time="0.000000"`) || !strings.Contains(string(b), "<testcase") {
			t.Errorf("JUnit case times:\n%s", b)
		}
	})

	t.Run("a destination-only node without OVS is no news", func(t *testing.T) {
		// Node 172.15.0.5 as if it ran no OVS: its ovs-vsctl and ovs-appctl look in an empty run dir.
		wrapper := filepath.Join(t.TempDir(), "node-exec")
		script := "#!/bin/sh\nnode=$1; shift\nif [ \"$node\" = 172.15.0.5 ]; then exec " + l.dir + "/node-exec \"$node\" env OVS_RUNDIR=/nonexistent \"$@\"; fi\nexec " + l.dir + "/node-exec \"$node\" \"$@\"\n"
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		flags := []string{"--kubeconfig", l.facts.Kubeconfig, "--fabric", "ovn", "--ovn-nb", l.facts.Hypervisor.NB, "--node-exec", wrapper + " {node}", "--node-backend", "agentless", "-o", "json"}
		redis := pods["default/redis-slave"]
		if redis.Node != "172.15.0.5" {
			t.Fatalf("lab.json: redis-slave on %q, want 172.15.0.5", redis.Node)
		}
		w, r := l.walk(t, "agentless", kubeDNS, "node/172.15.0.5", "--node-exec", wrapper+" {node}")
		if r.code != 0 || strings.Contains(r.stderr+strings.Join(w.Warnings, "\n"), "no OVS") {
			t.Errorf("kube-dns -> node 172.15.0.5: exit %d, warnings %q, stderr %q: want no word about its OVS", r.code, w.Warnings, r.stderr)
		}
		r = l.pw(append([]string{"trace", nginx3.ref(), "--to", "pod/default/redis-slave"}, flags...)...)
		if !strings.Contains(r.stdout, "no OVS facts from node 172.15.0.5") {
			t.Errorf("nginx-3 -> redis-slave (on 172.15.0.5): the warnings in -o json lack the missing OVS:\n%s", r.stdout)
		}
		r = l.pw(append([]string{"trace", kubeDNS.ref(), "--to", "198.51.100.7"}, flags...)...)
		var ow trace.Walk
		if err := json.Unmarshal([]byte(r.stdout), &ow); err != nil || !slices.ContainsFunc(ow.Warnings, func(s string) bool { return strings.Contains(s, "outside the cluster") }) {
			t.Errorf("198.51.100.7: -o json warnings %q (%v)", ow.Warnings, err)
		}
	})

	t.Run("exit codes, suggestions and completion live", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"trace", "kube-system/kube-dsn", "--to", "node/172.15.0.4"}, "did you mean kube-dns?"},
			{[]string{"trace", "kube-sytem/kube-dns", "--to", "node/172.15.0.4"}, "did you mean kube-system/kube-dns?"},
			{[]string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.44"}, "did you mean 172.15.0.4"},
			{[]string{"trace", "kube-system/kube-dns", "--to", "node/worker-1"}, "node worker-1 not found"},
			{[]string{"check", "--from", "kube-system/kube-dsn", "--to", "nodes"}, "did you mean kube-system/kube-dns?"},
		} {
			t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
				r := l.pw(append(tc.args, l.live("native")...)...)
				if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("%v: exit %d stderr %q; want 2 and one line with %q", tc.args, r.code, r.stderr, tc.want)
				}
			})
		}
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"trace", "x", "--to", "pod/"}, "pod/kube-system/kube-dns"},
			{[]string{"trace", "x", "--to", "pod/default/"}, "pod/default/nginx-3"},
			{[]string{"trace", "kube-system/"}, "kube-system/kube-dns"},
			{[]string{"check", "--from", "kube-system/kube-d"}, "kube-system/kube-dns"},
			{[]string{"check", "--to", "nodes,pod/default/nginx-"}, "nodes,pod/default/nginx-3"},
		} {
			t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
				args := append([]string{"__complete", tc.args[0], "--kubeconfig", l.facts.Kubeconfig}, tc.args[1:]...)
				r := l.pw(args...)
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				if !slices.Contains(lines, tc.want) || lines[len(lines)-1] != ":4" {
					t.Errorf("completion %v: %q, want %q and no file names", tc.args, lines, tc.want)
				}
			})
		}
	})
}

// ping sends one echo from a netns and says whether it was answered.
func ping(t *testing.T, netns, dst string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Two tries: the first may wait on ARP.
	return exec.CommandContext(ctx, "ip", "netns", "exec", netns, "ping", "-n", "-c", "2", "-W", "1", "-i", "0.2", dst).Run() == nil
}

// netnsRun runs a command in a netns of the test's own lab.
func netnsRun(t *testing.T, netns string, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"netns", "exec", netns}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip netns exec %s %v: %v\n%s", netns, args, err, out)
	}
}
