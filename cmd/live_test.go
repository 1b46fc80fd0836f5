package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMain(m *testing.M) {
	code := kubetest.Main(m)
	if plugin.dir != "" {
		os.RemoveAll(plugin.dir)
	}
	os.Exit(code)
}

var plugin struct {
	once     sync.Once
	dir, bin string
	err      error
}

// PluginBinary builds the plugin once for the whole test binary, in a directory anyone may read
// (one test runs it as nobody), removed by TestMain. It is built as `make dist` builds a release
// (static, stripped): the lab tests and BenchmarkLabStart run the binary users install.
func PluginBinary(t testing.TB) string {
	t.Helper()
	plugin.once.Do(func() {
		if plugin.dir, plugin.err = os.MkdirTemp("", "pwt-bin-"); plugin.err != nil {
			return
		}
		_ = os.Chmod(plugin.dir, 0o755)
		plugin.bin = filepath.Join(plugin.dir, "kubectl-packetwalk")
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", plugin.bin, "./kubectl-packetwalk")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			plugin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if plugin.err != nil {
		t.Fatal(plugin.err)
	}
	return plugin.bin
}

type liveResult struct {
	code     int
	out, err string
	requests []string
}

// runLive runs the CLI against the test API server, counting its requests.
func runLive(t *testing.T, srv *kubetest.Server, args ...string) liveResult {
	t.Helper()
	cnt := &kube.Counter{}
	liveHooks.wrapTransport = func(rt http.RoundTripper) http.RoundTripper { return cnt.Wrap(rt) }
	defer func() { liveHooks.wrapTransport = nil }()
	t.Setenv("KUBECONFIG", srv.Kubeconfig)
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errb})
	return liveResult{code, out.String(), errb.String(), cnt.Requests()}
}

// publishedCluster loads the Kubernetes part of the published walk into the API server.
func publishedCluster(t *testing.T, srv *kubetest.Server) *trace.Snapshot {
	t.Helper()
	s, err := trace.LoadSnapshot("../testdata/scenarios/nsx-published/snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var nodes []kubetest.NodeSpec
	for _, n := range s.Cluster.Nodes {
		nodes = append(nodes, kubetest.NodeSpec{Name: n.Name, InternalIP: kube.NodeIP(n)})
	}
	var pods []kubetest.PodSpec
	for _, p := range s.Cluster.Pods {
		ip := ""
		if len(p.IPs) > 0 {
			ip = p.IPs[0]
		}
		pods = append(pods, kubetest.PodSpec{Namespace: p.Namespace, Name: p.Name, Node: p.Node, IP: ip, HostNetwork: p.HostNetwork})
	}
	kubetest.Objects(t, srv.Client(), nodes, pods)
	return s
}

func TestLiveTrace(t *testing.T) {
	srv := kubetest.Get(t)
	publishedCluster(t, srv)

	r := runLive(t, srv, "trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "-o", "json")
	// No node state and no fabric: the verdict is unknown (exit 3), and stderr says why, one line each.
	if r.code != ExitNoFacts {
		t.Errorf("exit %d, want %d; stderr %s", r.code, ExitNoFacts, r.err)
	}
	if len(r.requests) > 6 {
		t.Errorf("%d API requests, want at most 6:\n%s", len(r.requests), strings.Join(r.requests, "\n"))
	}
	for _, want := range []string{"warning: netlink@172.15.0.3: node state of 172.15.0.3 not collected: reach the node with --node-exec"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	var w struct {
		Source, Destination struct{ Node, IP string }
		Verdict             string
	}
	if err := json.Unmarshal([]byte(r.out), &w); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.out)
	}
	if w.Source.IP != "172.16.1.2" || w.Source.Node != "172.15.0.3" || w.Destination.IP != "172.15.0.4" || w.Verdict != "unknown" {
		t.Errorf("walk %+v", w)
	}

	// The same facts through a bundle: collect cluster, then trace --snapshot gives the same walk.
	dir := t.TempDir()
	for _, out := range []string{filepath.Join(dir, "b.tar.gz"), filepath.Join(dir, "bundle")} {
		c := runLive(t, srv, "collect", "cluster", "--pod", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--output", out)
		if c.code != 0 || !strings.HasPrefix(c.out, "wrote "+out+": 2 nodes, 1 pods, 0 node states, fabric none") {
			t.Fatalf("collect cluster: exit %d out %q err %q", c.code, c.out, c.err)
		}
		o := runLive(t, srv, "trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "-o", "json", "--snapshot", out)
		if o.code != r.code || o.out != r.out || len(o.requests) != 0 {
			t.Errorf("trace --snapshot %s: exit %d, %d requests, output differs from the live walk:\n%s", out, o.code, len(o.requests), o.out)
		}
	}
}

func TestLiveErrors(t *testing.T) {
	srv := kubetest.Get(t)
	publishedCluster(t, srv)
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"trace", "-n", "kube-system", "kube-dsn", "--to", "node/172.15.0.4"}, ExitUsage,
			"error: source pod kube-dsn not found in namespace kube-system; did you mean kube-dns?\n"},
		{[]string{"trace", "--context", "nobody", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4"}, ExitNoFacts,
			"error: forbidden: your user may not get pods in namespace kube-system (RBAC); grant the read-only ClusterRole in deploy/rbac-plugin.yaml, or check with `kubectl auth can-i get pods`\n"},
		{[]string{"trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.9"}, ExitUsage,
			"error: no node is named 172.15.0.9 or has it as an address: give a node name as `kubectl get nodes` shows it, or its InternalIP; did you mean 172.15.0.3, 172.15.0.4, 172.15.0.5?\n"},
		{[]string{"trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--node-exec", "'ssh"}, ExitUsage,
			"error: --node-exec \"'ssh\": unterminated single quote\n"},
		{[]string{"trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--fabric", "ovn"}, ExitUsage,
			"error: --fabric ovn needs --ovn-nb unix:PATH|tcp:HOST:PORT\n"},
		{[]string{"trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--fabric", "ovn", "--ovn-nb", "foo"}, ExitUsage,
			"error: --ovn-nb \"foo\" is not an OVSDB address: use unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT\n"},
		{[]string{"trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--fabric", "ovn", "--ovn-nb", "ssl:10.0.0.1:6641"}, ExitUsage,
			"error: --ovn-nb ssl:10.0.0.1:6641 needs --ovn-nb-ca-cert, --ovn-nb-cert and --ovn-nb-key (PEM files)\n"},
		{[]string{"trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--fabric", "ovn", "--ovn-nb", "tcp:127.0.0.1:6641", "--ovn-sb", "bar"}, ExitUsage,
			"error: --ovn-sb \"bar\" is not an OVSDB address: use unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT\n"},
		{[]string{"trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--fabric", "nsx", "--nsx-manager", "nsx.example.com"}, ExitUsage,
			"error: --nsx-manager \"nsx.example.com\" is not a URL: use https://HOST\n"},
		{[]string{"trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--fabric", "nsx", "--nsx-manager", "http://nsx"}, ExitUsage,
			"error: --nsx-manager \"http://nsx\" uses http: the NSX Manager API is served over https\n"},
		{[]string{"trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--node-backend", "ssh"}, ExitUsage,
			"error: --node-backend must be auto, native or agentless, got \"ssh\"\n"},
		{[]string{"collect", "cluster", "--node", "172.15.0.3"}, ExitUsage,
			"error: --output DIR or --output FILE.tar.gz is required\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runLive(t, srv, tc.args...)
			if r.code != tc.code || r.err != tc.err {
				t.Errorf("%s: exit %d stderr %q, want %d %q", strings.Join(tc.args, " "), r.code, r.err, tc.code, tc.err)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "x.tar.gz")
	os.WriteFile(bad, []byte{0x1f, 0x8b, 0, 0}, 0o644)
	r := runLive(t, srv, "trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--snapshot", bad)
	if r.code != ExitNoFacts || !strings.HasPrefix(r.err, "error: snapshot "+bad+" is not a valid .tar.gz") {
		t.Errorf("bad archive: exit %d stderr %q", r.code, r.err)
	}
}

// TestLiveNodeExec collects node state through --node-exec into netns "nodes", with our own
// binary (native) and with the agentless tools, and checks both give the same facts.
func TestLiveNodeExec(t *testing.T) {
	labtest.RequireRoot(t)
	labtest.RequireBinaries(t, "ip", "nsenter", "lsns", "stat")
	srv := kubetest.Get(t)
	kubetest.Objects(t, srv.Client(),
		[]kubetest.NodeSpec{{Name: "pwx-a", InternalIP: "10.97.0.1"}, {Name: "pwx-b", InternalIP: "10.97.0.2"}},
		[]kubetest.PodSpec{{Namespace: "pwx", Name: "web", Node: "pwx-a", IP: "10.96.1.2"}})
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	prefix := fmt.Sprintf("pwx%d-", os.Getpid())
	for _, n := range []string{"pwx-a", "pwx-b"} {
		ns := prefix + n
		sh("ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		sh("ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh("ip", "-n", prefix+"pwx-a", "link", "add", "veth-web", "type", "veth", "peer", "name", "eth0")
	sh("ip", "-n", prefix+"pwx-a", "addr", "add", "10.97.0.1/24", "dev", "veth-web")

	bin := PluginBinary(t)
	// The runner goes through a wrapper that logs each command's program, to see what auto ran.
	logf := filepath.Join(t.TempDir(), "commands")
	wrapper := filepath.Join(t.TempDir(), "node-exec")
	script := "#!/bin/sh\nnode=$1; shift\necho \"$1\" >> " + logf + "\nexec ip netns exec " + prefix + "$node \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpl := wrapper + " {node}"
	states := map[string]string{}
	for _, backend := range []string{"native", "agentless", "auto"} {
		_ = os.Remove(logf)
		out := filepath.Join(t.TempDir(), "b")
		// --netns/--no-proc-netns are not passed through: read only root namespaces, which the
		// test's netns "nodes" have (other processes' namespaces on this machine would differ).
		r := runLive(t, srv, "collect", "cluster", "--pod", "pwx/web", "--to", "node/pwx-b", "--node-exec", tmpl,
			"--node-backend", backend, "--node-binary", bin, "--output", out)
		if r.code != 0 {
			t.Fatalf("%s: exit %d stderr %s", backend, r.code, r.err)
		}
		s, err := LoadSnapshotFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Nodes) != 2 || s.Nodes[0].Name != "pwx-a" || len(s.Nodes[0].Netns) == 0 || !s.Nodes[0].Netns[0].Root {
			t.Fatalf("%s: node states %+v", backend, s.Nodes)
		}
		var root trace.Netns = s.Nodes[0].Netns[0]
		b, _ := json.Marshal(root)
		states[backend] = string(b)
		if backend == "auto" {
			ran, _ := os.ReadFile(logf)
			if progs := strings.Fields(string(ran)); len(progs) == 0 || progs[0] != bin || strings.Contains(string(ran), "\nip\n") {
				t.Errorf("auto with --node-binary present should run it alone; the node ran: %q", progs)
			}
		}
		if !strings.Contains(states[backend], `"name":"veth-web"`) || !strings.Contains(states[backend], `"cidr":"10.97.0.1/24"`) {
			t.Errorf("%s: root netns of pwx-a lacks veth-web 10.97.0.1/24: %s", backend, b)
		}
	}
	if states["native"] != states["agentless"] {
		t.Errorf("native and agentless disagree on pwx-a's root netns:\nnative:    %s\nagentless: %s", states["native"], states["agentless"])
	}
	if states["auto"] != states["native"] {
		t.Errorf("auto (with --node-binary present) should read what native reads")
	}
}

// check with named pods and destinations reads only those (no cluster-wide list); a selector or
// "nodes" lists the cluster once.
func TestLiveCheckReadsWhatItNames(t *testing.T) {
	srv := kubetest.Get(t)
	publishedCluster(t, srv)
	r := runLive(t, srv, "check", "--from", "kube-system/kube-dns", "--to", "node/172.15.0.4,node/172.15.0.5,pod/default/nginx-3", "-o", "json")
	for _, q := range r.requests {
		if strings.Contains(q, "/pods?") && !strings.Contains(q, "fieldSelector") || strings.Contains(q, "/nodes?") {
			t.Errorf("a named check listed the cluster: %s", q)
		}
	}
	if len(r.requests) > 8 || !strings.Contains(r.out, `"total": 3`) {
		t.Errorf("exit %d, %d requests:\n%s\n%s", r.code, len(r.requests), strings.Join(r.requests, "\n"), r.out)
	}
	r = runLive(t, srv, "check", "--from", "kube-system/kube-dns", "--to", "nodes", "-o", "json")
	lists := 0
	for _, q := range r.requests {
		if strings.Contains(q, "/nodes?") || strings.Contains(q, "/pods?") && !strings.Contains(q, "fieldSelector") {
			lists++
		}
	}
	if lists == 0 || !strings.Contains(r.out, `"total": 2`) {
		t.Errorf("--to nodes: %d cluster lists, exit %d\n%s", lists, r.code, r.out)
	}
}

// A pod deleted mid-walk (after the API read, its network namespace gone by the time the node is
// read): the walk is still printed, names the missing namespace, and exits 3 (facts missing).
func TestLivePodDeletedMidWalk(t *testing.T) {
	labtest.RequireRoot(t)
	labtest.RequireBinaries(t, "ip")
	srv := kubetest.Get(t)
	kubetest.Objects(t, srv.Client(),
		[]kubetest.NodeSpec{{Name: "pwd-a", InternalIP: "10.98.0.1"}, {Name: "pwd-b", InternalIP: "10.98.0.2"}},
		[]kubetest.PodSpec{{Namespace: "pwd", Name: "web", Node: "pwd-a", IP: "10.98.1.2"}})
	prefix := fmt.Sprintf("pwd%d-", os.Getpid())
	for _, n := range []string{"pwd-a", "pwd-b"} {
		ns := prefix + n
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add: %v %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	// The destination node holds its address on an interface that is up.
	for _, args := range [][]string{
		{"link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"addr", "add", "10.98.0.2/24", "dev", "v0"},
		{"link", "set", "v0", "up"}, {"link", "set", "v1", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", prefix + "pwd-b"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	bin := PluginBinary(t)
	deleted := false
	liveHooks.afterKube = func() {
		zero := int64(0)
		err := srv.Client().CoreV1().Pods("pwd").Delete(context.Background(), "web", metav1.DeleteOptions{GracePeriodSeconds: &zero})
		deleted = err == nil
	}
	defer func() { liveHooks.afterKube = nil }()
	r := runLive(t, srv, "trace", "pwd/web", "--to", "node/pwd-b", "--node-exec", "ip netns exec "+prefix+"{node}", "--node-binary", bin, "-o", "json")
	if !deleted {
		t.Fatal("the hook did not delete the pod")
	}
	if r.code != ExitNoFacts || !strings.Contains(r.out, `"verdict": "unknown"`) || !strings.Contains(r.out, "no network namespace on node pwd-a holds 10.98.1.2") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", r.code, r.out, r.err)
	}
	if strings.Contains(r.err, "panic") || strings.Count(r.err, "\n") > 6 {
		t.Errorf("stderr is not a few clear lines:\n%s", r.err)
	}
}
