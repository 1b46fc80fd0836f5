package cmd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
)

// TestLabAgentlessOverSSH reaches the lab's node VMs as the README's first example does, through a
// real sshd on each node (lab.sh ssh-up: Debian's openssh-server in the node's view, on the node's
// own address, key auth, pinned host keys) with the agentless backend, and holds every walk of the
// every-pod-to-every-node plan to the walk through the lab's node-exec wrapper. Then a network
// namespace and an OVS bridge with shell in their names appear on a node: the walks stay the same,
// each name is one warning, and the command in them never runs.
func TestLabAgentlessOverSSH(t *testing.T) {
	labtest.RequireBinaries(t, "ssh", "ssh-keygen")
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		labtest.Unavailable(t, "sshd", "install openssh-server")
	}
	start := time.Now()
	l := startE2ELab(t)
	defer func() { t.Logf("ssh e2e in %v", time.Since(start).Round(time.Millisecond)) }()
	l.mustScript(t, "ssh-up")
	b, err := os.ReadFile(filepath.Join(l.dir, "ssh", "node-exec"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := strings.TrimSpace(string(b))
	viaSSH := []string{"--kubeconfig", l.facts.Kubeconfig, "--fabric", "ovn", "--ovn-nb", l.facts.Hypervisor.NB,
		"--node-exec", tmpl, "--node-backend", "agentless"}
	plan := writePlan(t, l)
	check := func(flags []string) (checkReport, pwResult) {
		junit := filepath.Join(t.TempDir(), "junit.xml")
		rep, r := runCheck(t, l, "agentless", plan, junit)
		if flags == nil {
			return rep, r
		}
		r = l.pw(append([]string{"check", "--plan", plan, "--junit", junit, "-o", "json"}, flags...)...)
		return decodeCheck(t, r), r
	}

	wrapper, rw := check(nil)
	if rw.code != 0 || wrapper.Passed != len(l.facts.Pods)*len(l.facts.Nodes) {
		t.Fatalf("check through the node-exec wrapper: exit %d, %d of %d passed\n%s", rw.code, wrapper.Passed, wrapper.Total, rw.stderr)
	}
	same := func(t *testing.T, what string, got checkReport, r pwResult) {
		t.Helper()
		if r.code != 0 || got.Total != wrapper.Total || got.Passed != wrapper.Passed {
			t.Fatalf("%s: exit %d, %d of %d passed (wrapper: %d of %d)\nstderr: %s", what, r.code, got.Passed, got.Total, wrapper.Passed, wrapper.Total, r.stderr)
		}
		for i, res := range got.Results {
			want := wrapper.Results[i]
			if res.Name != want.Name || hopsWithoutEvidence(res.Walk) != hopsWithoutEvidence(want.Walk) {
				t.Errorf("%s: %s differs from the wrapper's walk:\n%s\nwant:\n%s", what, res.Name, hopsWithoutEvidence(res.Walk), hopsWithoutEvidence(want.Walk))
			}
		}
	}

	t.Run("walks through sshd", func(t *testing.T) {
		rep, r := check(viaSSH)
		same(t, "ssh", rep, r)
		if strings.Contains(r.stderr, "not collected") {
			t.Errorf("a node was not read through ssh:\n%s", r.stderr)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("hostile names", func(t *testing.T) {
		node := l.facts.Nodes[0].Name
		words, err := runner.Split(strings.ReplaceAll(tmpl, "{nodeIP}", node))
		if err != nil {
			t.Fatal(err)
		}
		// onNode runs a command line on the node through ssh, parsed by the node's shell on purpose.
		onNode := func(line string) string {
			out, err := exec.Command(words[0], append(words[1:], line)...).CombinedOutput()
			if err != nil {
				t.Fatalf("ssh %s %s: %v\n%s", node, line, err, out)
			}
			return strings.TrimSpace(string(out))
		}
		home := onNode("pwd") // where a command injected into a session would write
		marker := l.facts.Name + "-pwned"
		netns, bridge := "x;touch "+marker+";", "br;touch "+marker+";"
		t.Cleanup(func() {
			_ = exec.Command(words[0], append(words[1:], "ip netns del "+runner.Quote(netns))...).Run()
			_ = exec.Command(filepath.Join(l.dir, "node-exec"), node, "ovs-vsctl", "--if-exists", "del-br", bridge).Run()
			_ = os.Remove(filepath.Join(home, marker))
		})
		onNode("ip netns add " + runner.Quote(netns))
		if out, err := exec.Command(filepath.Join(l.dir, "node-exec"), node, "ovs-vsctl", "add-br", bridge, "--",
			"set", "bridge", bridge, "datapath_type=netdev").CombinedOutput(); err != nil {
			t.Fatalf("ovs-vsctl add-br: %v\n%s", err, out)
		}
		if got := onNode("ip netns list"); !strings.Contains(got, netns) {
			t.Fatalf("the node does not list netns %q:\n%s", netns, got)
		}

		rep, r := check(viaSSH)
		same(t, "ssh with hostile names", rep, r)
		for _, want := range []string{
			fmt.Sprintf(`warning: netlink@%s: netns name "x;touch %s;" has ';', which no netns tool would put in a name: skipped`, node, marker),
			fmt.Sprintf(`warning: netlink@%s: MAC table not read: bridge name "br;touch %s;" has ';', which no bridge tool would put in a name: skipped`, node, marker),
		} {
			if n := strings.Count(r.stderr, want); n != 1 {
				t.Errorf("warning %q printed %d times, want once:\n%s", want, n, r.stderr)
			}
		}
		for _, dir := range []string{home, l.dir, "."} {
			if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
				t.Errorf("%s/%s exists: a name found on the node ran as a command", dir, marker)
			}
		}
	})
}
