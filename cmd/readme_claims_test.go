package cmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeRow returns the README's exit-code table row for code.
func readmeRow(t *testing.T, code string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "| "+code+" | ") {
			return line
		}
	}
	t.Fatalf("README has no exit-code row for %s", code)
	return ""
}

// The README's exit-code table is what the tool does: each claim of a row, run offline.
func TestExitCodesMatchTheREADME(t *testing.T) {
	dir := t.TempDir()
	badPlan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(badPlan, []byte("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n  - from: kube-system/kube-dns\n    to: nodes\n    expect: maybe\n"), 0o644)
	noFabric := filepath.Join(dir, "nofabric.json")
	b, _ := os.ReadFile(published)
	os.WriteFile(noFabric, []byte(strings.Replace(string(b), `"fabric":`, `"unused":`, 1)), 0o644)
	broken := "../testdata/scenarios/nsx-published/broken/vlan-mismatch.json"
	for _, tc := range []struct {
		code, claim string
		args        []string
		stderr      string // a part of the one error line, when there is one
	}{
		{"0", "the path holds", []string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4"}, ""},
		{"0", "every check passed", []string{"check", "--from", "kube-system/kube-dns", "--to", "nodes"}, ""},
		{"1", "the path is broken", []string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", broken}, ""},
		{"1", "some check failed", []string{"check", "--from", "kube-system/kube-dns", "--to", "nodes", "--snapshot", broken}, ""},
		{"2", "bad flag", []string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--bogus"}, "unknown flag: --bogus"},
		{"2", "unknown pod", []string{"trace", "kube-system/kube-dsn", "--to", "node/172.15.0.4"}, "pod kube-system/kube-dsn not found in the snapshot (did you mean kube-system/kube-dns?)"},
		{"2", "namespace", []string{"trace", "kube-sytem/kube-dns", "--to", "node/172.15.0.4"}, "(did you mean kube-system/kube-dns?)"},
		{"2", "namespace", []string{"trace", "default/kube-dns", "--to", "node/172.15.0.4"}, "(did you mean kube-system/kube-dns?)"},
		{"2", "node (with suggestions", []string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.44"}, "node 172.15.0.44 not found in the snapshot (did you mean"},
		{"2", "node (with suggestions", []string{"trace", "kube-system/kube-dns", "--to", "node/worker-1"}, "node worker-1 not found in the snapshot (its nodes are 172.15.0.3, 172.15.0.4, 172.15.0.5)"},
		{"2", "unknown `--from` pod (with suggestions)", []string{"check", "--from", "kube-system/kube-dsn", "--to", "nodes"}, "--from: pod kube-system/kube-dsn not found (did you mean kube-system/kube-dns?)"},
		{"2", "a selector that matches no pod", []string{"check", "-n", "shop", "--from", "app=cart", "--to", "nodes"}, "--from app=cart matches no pod in namespace shop"},
		{"2", "`--to` without `--from`", []string{"check", "--to", "node/172.15.0.4"}, "--to needs --from"},
		{"2", "bad plan (with its line)", []string{"check", "--plan", badPlan}, "plan.yaml:6: checks[0].expect must be reachable or broken"},
		{"3", "unreadable snapshot", []string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", filepath.Join(dir, "missing.json")}, "missing.json"},
		{"3", "a verdict `unknown`", []string{"trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", noFabric}, ""},
		{"3", "a check's walk is unknown", []string{"check", "--from", "kube-system/kube-dns", "--to", "nodes", "--snapshot", noFabric}, ""},
	} {
		t.Run(tc.code+" "+tc.claim, func(t *testing.T) {
			if row := readmeRow(t, tc.code); !strings.Contains(row, tc.claim) {
				t.Fatalf("the README's row for exit %s does not claim %q:\n%s", tc.code, tc.claim, row)
			}
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "--snapshot") {
				args = append(args, "--snapshot", published)
			}
			r := run(t, args...)
			if want := tc.code; string(rune('0'+r.code)) != want {
				t.Errorf("%s: exit %d, the README says %s\nstdout %s\nstderr %s", strings.Join(tc.args, " "), r.code, want, r.out, r.err)
			}
			if tc.stderr != "" && (!strings.Contains(r.err, tc.stderr) || strings.Count(r.err, "\n") > 2) {
				t.Errorf("%s: stderr %q, want one line with %q", strings.Join(tc.args, " "), r.err, tc.stderr)
			}
		})
	}
}

// The README's completion claims, each run through cobra's __complete.
func TestCompletionMatchesTheREADME(t *testing.T) {
	b, _ := os.ReadFile("../README.md")
	readme := strings.Join(strings.Fields(string(b)), " ")
	for _, claim := range []string{"`NS/NAME` of every namespace once they stop matching", "`node/NAME` and `pod/NS/NAME` of every namespace for `--to`",
		"the same for `check --from` and `check --to` (with `nodes`, `pods` and after commas)", "never file names for any of them"} {
		if !strings.Contains(readme, claim) {
			t.Errorf("README no longer claims %q: update this test with it", claim)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		// No -n: the default namespace has no kube-* pod, so every namespace's NS/NAME.
		{[]string{"trace", "kube-system/k"}, []string{"kube-system/kube-dns", "kube-system/kube-proxy-check", "kube-system/kubernetes-dashboard"}},
		{[]string{"trace", "kube"}, []string{"kube-system/heapster", "kube-system/kube-dns", "kube-system/kube-proxy-check", "kube-system/kubernetes-dashboard", "kube-system/monitoring-grafana", "kube-system/monitoring-influxdb"}},
		{[]string{"trace", "-n", "kube-system", "kube-d"}, []string{"kube-dns"}},
		{[]string{"trace", "kube-system/h"}, []string{"kube-system/heapster"}},
		{[]string{"trace", "x", "--to", "pod/kube-system/kube-d"}, []string{"pod/kube-system/kube-dns"}},
		{[]string{"trace", "x", "--to", "pod/"}, []string{"pod/default/frontend", "pod/default/nginx-1", "pod/default/nginx-2", "pod/default/nginx-3", "pod/default/redis-master", "pod/default/redis-slave",
			"pod/kube-system/heapster", "pod/kube-system/kube-dns", "pod/kube-system/kube-proxy-check", "pod/kube-system/kubernetes-dashboard", "pod/kube-system/monitoring-grafana", "pod/kube-system/monitoring-influxdb"}},
		{[]string{"trace", "x", "-n", "kube-system", "--to", "pod/default/nginx-"}, []string{"pod/default/nginx-1", "pod/default/nginx-2", "pod/default/nginx-3"}},
		{[]string{"check", "--from", "kube-system/kube-d"}, []string{"kube-system/kube-dns"}},
		{[]string{"check", "--to", "no"}, []string{"nodes", "node/172.15.0.3", "node/172.15.0.4", "node/172.15.0.5"}},
		{[]string{"check", "--to", "nodes,pod/kube-system/he"}, []string{"nodes,pod/kube-system/heapster"}},
		{[]string{"check", "--expect", ""}, []string{"reachable", "broken"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			// --snapshot goes before the word being completed.
			args := append([]string{"__complete", tc.args[0], "--snapshot", published}, tc.args[1:]...)
			r := run(t, args...)
			lines := strings.Split(strings.TrimSpace(r.out), "\n")
			got, directive := lines[:len(lines)-1], lines[len(lines)-1]
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("%v: completions %q, want %q", tc.args, got, tc.want)
			}
			if directive != ":4" { // cobra.ShellCompDirectiveNoFileComp
				t.Errorf("%v: directive %s, want :4 (no file names)", tc.args, directive)
			}
		})
	}
}
