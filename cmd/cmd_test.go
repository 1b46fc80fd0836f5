package cmd_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/cmd"
)

const published = "../testdata/scenarios/nsx-published/snapshot.json"

// serviceSnapshot is the Service scenario (svc/default/web) as a snapshot file.
const serviceSnapshot = "../testdata/scenarios/nsx-service/snapshot.json"

type result struct {
	code     int
	out, err string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	var out, errb bytes.Buffer
	code := cmd.Run(context.Background(), args, cmd.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errb})
	return result{code, out.String(), errb.String()}
}

func TestTracePublished(t *testing.T) {
	r := run(t, "trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4", "--snapshot", published)
	if r.code != 0 || r.err != "" {
		t.Fatalf("exit %d stderr %q", r.code, r.err)
	}
	for _, want := range []string{"verdict: reachable", "L3 hops: 172.16.1.1 → 100.64.96.10 → 100.64.96.5 → 172.15.0.4", "veth1a2b", "kube-system_kube-dns", "return path"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	// NS/NAME and an IP destination give the same walk.
	r2 := run(t, "trace", "kube-system/kube-dns", "--to", "172.15.0.4", "--snapshot", published)
	if r2.out != r.out {
		t.Errorf("kube-system/kube-dns --to 172.15.0.4 differs from -n kube-system kube-dns --to node/172.15.0.4")
	}
}

func TestTraceBrokenExitsOne(t *testing.T) {
	r := run(t, "trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", "../testdata/scenarios/nsx-published/broken/vlan-mismatch.json", "-o", "json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (broken); stderr %q", r.code, r.err)
	}
	if !strings.Contains(r.out, `"verdict": "broken"`) || !strings.Contains(r.out, `"reason": "VLAN mismatch: OVS port veth1a2b tag 101, fabric port kube-system_kube-dns traffic_tag 110"`) {
		t.Errorf("json lacks the verdict or reason:\n%s", r.out)
	}
}

func TestTraceUnknownExitsThree(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "s.json")
	b, _ := os.ReadFile(published)
	// Drop the fabric: the walk cannot pass the node.
	s := strings.Replace(string(b), `"fabric": {`, `"fabricGone": {`, 1)
	if err := os.WriteFile(snap, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, "trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", snap)
	if r.code != 3 || !strings.Contains(r.out, "verdict: unknown") || !strings.Contains(r.out, "no fabric facts: the logical switches and routers are not walked (collect them with --fabric nsx|ovn)") {
		t.Errorf("exit %d, want 3 with an unknown verdict:\n%s%s", r.code, r.out, r.err)
	}
}

func TestErrorsAreOneClearLine(t *testing.T) {
	dir := t.TempDir()
	badJSON := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(badJSON, []byte("{not json"), 0o644)
	oldVer := filepath.Join(dir, "old.json")
	_ = os.WriteFile(oldVer, []byte(`{"apiVersion":"packetwalk/v0"}`), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"trace", "kube-system/kube-dnz", "--to", "node/172.15.0.4", "--snapshot", published}, 2, "error: pod kube-system/kube-dnz not found in the snapshot (did you mean kube-system/kube-dns?)"},
		{[]string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.99", "--snapshot", published}, 2, "error: node 172.15.0.99 not found in the snapshot"},
		{[]string{"trace", "kube-system/kube-dns", "--snapshot", published}, 2, "error: --to is required"},
		{[]string{"trace", "kube-system/kube-dns", "--to", "svc/a/b/c", "--snapshot", published}, 2, `error: --to must be node/NAME, pod/NS/NAME, svc/NS/NAME[:PORT], an IP address or IP:PORT, got "svc/a/b/c"`},
		{[]string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "-o", "xml", "--snapshot", published}, 2, `error: invalid argument "xml" for "-o, --output" flag: must be one of table|wide|json|yaml|dot|mermaid`},
		{[]string{"trace", "--to", "node/172.15.0.4", "--snapshot", published}, 2, "error: kubectl packetwalk trace takes exactly 1 argument (the source pod), got 0"},
		{[]string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", filepath.Join(dir, "missing.json")}, 3, "error: cannot read snapshot: "},
		{[]string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", badJSON}, 3, "is not valid JSON"},
		{[]string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", oldVer}, 3, `has apiVersion "packetwalk/v0": this version of kubectl-packetwalk reads "packetwalk/v1"`},
		{[]string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", published, "--color", "sometimes"}, 2, "error: --color must be auto, always or never"},
		{[]string{"macs", "--node", "nope", "--snapshot", published}, 2, "error: no node facts in the snapshot for node nope; it has: 172.15.0.3, 172.15.0.4, 172.15.0.5"},
		{[]string{"macs", "--snapshot", published}, 2, "error: --node NAME is required"},
		{[]string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--bogus"}, 2, "error: unknown flag: --bogus"},
		{[]string{"nosuchcommand"}, 2, `error: unknown command "nosuchcommand"`},
		// The engine's messages name trace's own flags.
		{[]string{"trace", "kube-system/kube-dns", "--to", "svc/default/web", "--endpoint", "10.9.9.9", "--snapshot", serviceSnapshot}, 2,
			"error: --endpoint 10.9.9.9 is not an endpoint of service default/web (its endpoints: "},
		{[]string{"trace", "kube-system/kube-dns", "--to", "172.15.0.4", "--endpoint", "10.9.9.9", "--snapshot", published}, 2,
			"error: --endpoint is for a walk to a Service, and 172.15.0.4 is none in the facts: drop --endpoint or name the Service with svc/NS/NAME"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := run(t, c.args...)
			if r.code != c.code || !strings.Contains(r.err, c.want) {
				t.Errorf("%v: exit %d stderr %q; want exit %d and %q", c.args, r.code, r.err, c.code, c.want)
			}
			if first := strings.SplitN(r.err, "\n", 2)[0]; !strings.HasPrefix(first, "error: ") {
				t.Errorf("%v: first stderr line %q is not an error line", c.args, first)
			}
			if strings.Contains(r.err, "goroutine ") || strings.Count(r.err, "\n") > 2 {
				t.Errorf("%v: stderr is not one clear line:\n%s", c.args, r.err)
			}
		})
	}
}

func TestMACsPublished(t *testing.T) {
	r := run(t, "macs", "--node", "172.15.0.3", "--snapshot", published)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	// Every pod MAC with its VLAN and pod, and the router MAC once per VLAN on the uplink.
	if n := strings.Count(r.out, "02:50:56:56:44:52"); n != 9 {
		t.Errorf("router MAC appears %d times, want once per pod VLAN (9):\n%s", n, r.out)
	}
	for _, want := range []string{"veth1a2b", "101", "kube-system/kube-dns", "kube-system_kube-dns", "eth1 (uplink)", "router t1-kube-system 172.16.1.1"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("macs output lacks %q", want)
		}
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, c := range [][]string{{"trace", "--help"}, {"macs", "--help"}} {
		r := run(t, c...)
		if r.code != 0 || !strings.Contains(r.out, "Examples:") || !strings.Contains(r.out, "kubectl packetwalk") {
			t.Errorf("%v: exit %d, help lacks examples:\n%s", c, r.code, r.out)
		}
	}
	r := run(t, "--help")
	if !strings.Contains(r.out, "Exit codes: 0 the path holds, 1 the path is broken, 2 usage error, 3 facts missing") {
		t.Errorf("root help lacks the exit codes:\n%s", r.out)
	}
}

func TestVersion(t *testing.T) {
	r := run(t, "version", "-o", "json")
	if r.code != 0 || !strings.Contains(r.out, `"version":`) || !strings.Contains(r.out, `"platform":`) {
		t.Errorf("version -o json: %d %s %s", r.code, r.out, r.err)
	}
}

// fakeTraceroute writes a script that stands in for `traceroute` in the pod and prints hops.
func fakeTraceroute(t *testing.T, hops ...string) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# called as: fake POD traceroute -I -n ... DEST\necho 'traceroute to x (x), 16 hops max, 60 byte packets'\n")
	for i, h := range hops {
		b.WriteString("echo ' " + strconv.Itoa(i+1) + "  " + h + "  0.5 ms'\n")
	}
	p := filepath.Join(dir, "fake")
	if err := os.WriteFile(p, []byte(b.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTraceProbe(t *testing.T) {
	agree := fakeTraceroute(t, "172.16.1.1", "100.64.96.10", "100.64.96.5", "172.15.0.4")
	r := run(t, "trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", published, "--probe", "--pod-exec", agree+" {namespace}/{pod}")
	if r.code != 0 || !strings.Contains(r.out, "probe: icmp from kube-system/kube-dns") || !strings.Contains(r.out, "traceroute agrees with the walk (reached 172.15.0.4)") {
		t.Errorf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	differ := fakeTraceroute(t, "172.16.1.1", "100.64.96.10", "100.64.96.7", "172.15.0.4")
	r = run(t, "trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", published, "--probe", "--pod-exec", differ, "-o", "json")
	if !strings.Contains(r.err, "warning: the probe differs from the walk: hop 3: the walk has 100.64.96.5, traceroute shows 100.64.96.7") || !strings.Contains(r.out, `"probe": {`) {
		t.Errorf("differing probe: exit %d\n%s%s", r.code, r.out, r.err)
	}
	r = run(t, "trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", published, "--probe")
	if r.code != 2 || !strings.Contains(r.err, "--probe needs --pod-exec") {
		t.Errorf("--probe without --pod-exec: %d %s", r.code, r.err)
	}
}

// Shell completion offers pod names for POD, node/ and pod/ targets for --to, nodes for --node,
// and the -o values (here from a snapshot; live, from the cluster).
func TestCompletion(t *testing.T) {
	// A `collect cluster` directory is a snapshot too.
	bundle := t.TempDir()
	data, err := os.ReadFile(published)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "snapshot.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "trace", "-n", "kube-system", "--snapshot", published, "kube-"}, []string{"kube-dns", "kube-proxy-check"}},
		{[]string{"__complete", "trace", "kube-dns", "-n", "kube-system", "--snapshot", published, "--to", "node/"}, []string{"node/172.15.0.3", "node/172.15.0.4", "node/172.15.0.5"}},
		{[]string{"__complete", "trace", "kube-dns", "-n", "kube-system", "--snapshot", published, "--to", "pod/kube-system/h"}, []string{"pod/kube-system/heapster"}},
		{[]string{"__complete", "macs", "--snapshot", published, "--node", "172.15.0."}, []string{"172.15.0.3", "172.15.0.4", "172.15.0.5"}},
		{[]string{"__complete", "macs", "--snapshot", bundle, "--node", "172.15.0."}, []string{"172.15.0.3", "172.15.0.4", "172.15.0.5"}},
		{[]string{"__complete", "trace", "x", "-o", ""}, []string{"table", "wide", "json", "yaml", "dot", "mermaid"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args[1:], " "), func(t *testing.T) {
			r := run(t, c.args...)
			lines := strings.Split(strings.TrimSpace(r.out), "\n")
			got := lines[:len(lines)-1] // the last line is the directive
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%v: completions %q, want %q", c.args[1:], got, c.want)
			}
		})
	}
}
