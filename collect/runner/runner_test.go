package runner_test

import (
	"context"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
)

func TestSplit(t *testing.T) {
	for in, want := range map[string]string{
		`ssh -o 'StrictHostKeyChecking no' {nodeIP}`: "ssh|-o|StrictHostKeyChecking no|{nodeIP}",
		`ip netns exec {node}`:                       "ip|netns|exec|{node}",
		`a "b c" d\ e "x\"y" ''`:                     `a|b c|d e|x"y|`,
		`echo $HOME; rm -rf / | cat`:                 "echo|$HOME;|rm|-rf|/|||cat",
	} {
		got, err := runner.Split(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("Split(%q) = %q, %v; want %q", in, strings.Join(got, "|"), err, want)
		}
	}
	for _, bad := range []string{`'open`, `"open`, `trail\`} {
		if _, err := runner.Split(bad); err == nil {
			t.Errorf("Split(%q) = nil error", bad)
		}
	}
}

func TestTemplateNeverUsesAShell(t *testing.T) {
	tp, err := runner.NewTemplate("echo {node} {nodeIP}")
	if err != nil {
		t.Fatal(err)
	}
	out, err := tp.Run(context.Background(), runner.Node{Name: "n1", IP: "10.0.0.1"}, []string{"$(id)", "a b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "n1 10.0.0.1 $(id) a b\n" {
		t.Errorf("output %q: an argument was interpreted or quoted for no shell", got)
	}
	if _, err := runner.NewTemplate("  "); err == nil || !strings.HasPrefix(err.Error(), "is empty: give a command") {
		t.Errorf("empty template: %v", err)
	}
}

// TestTemplateRefusesHostileNodes: a node name or address from the API that is not a DNS name or
// a plain IP never makes it into a command line, and the message says what was wrong.
func TestTemplateRefusesHostileNodes(t *testing.T) {
	tp, err := runner.NewTemplate("ssh bastion ssh {nodeIP} {node}")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		node runner.Node
		want string
	}{
		{runner.Node{Name: "n1; touch pwned", IP: "10.0.0.1"}, `node name "n1; touch pwned" has ';'`},
		{runner.Node{Name: "n1", IP: "fe80::1%x;touch pwned;"}, `has an IPv6 zone: not used`},
		{runner.Node{Name: "n1", IP: "10.0.0.1 -oProxyCommand=x"}, `is not an IP address`},
		{runner.Node{Name: "n1"}, "node n1 has no address for {nodeIP}"},
		{runner.Node{Name: "-oProxyCommand=x", IP: "10.0.0.1"}, "starts with -"},
	} {
		t.Run(tc.node.Name, func(t *testing.T) {
			if _, err := tp.Argv(tc.node, []string{"true"}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: %v, want %q", tc.node, err, tc.want)
			}
		})
	}
}

// TestTemplateQuotesForEachSsh: each ssh in a template is one shell on the far side; arguments are
// quoted once per ssh and never for a template without one.
func TestTemplateQuotesForEachSsh(t *testing.T) {
	node := runner.Node{Name: "n1", IP: "::ffff:10.0.0.1"}
	for tmpl, want := range map[string]string{
		"ip netns exec {node}":            "ip|netns|exec|n1|stat|-c|%i %n",
		"ssh -l root {nodeIP}":            `ssh|-l|root|10.0.0.1|stat|-c|'%i %n'`,
		"/usr/bin/ssh bastion ssh {node}": `/usr/bin/ssh|bastion|ssh|n1|stat|-c|''\''%i %n'\'''`,
	} {
		tp, err := runner.NewTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tp.Argv(node, []string{"stat", "-c", "%i %n"})
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("%s: %q, %v; want %s", tmpl, strings.Join(got, "|"), err, want)
		}
	}
}

func TestExitErrors(t *testing.T) {
	labtest.RequireBinaries(t, "sh")
	_, err := runner.Local{}.Run(context.Background(), runner.Node{}, []string{"no-such-program-pw"})
	if !runner.IsNotFound(err) {
		t.Errorf("missing program: %v, want not found", err)
	}
	_, err = runner.Local{}.Run(context.Background(), runner.Node{}, []string{"sh", "-c", "echo boom >&2; exit 3"})
	var ee *runner.ExitError
	if err == nil || err.Error() != "sh -c echo boom >&2; exit 3: boom" {
		t.Errorf("got %v", err)
	} else if !asExit(err, &ee) || ee.Code != 3 {
		t.Errorf("code %+v", ee)
	}
}

func asExit(err error, ee **runner.ExitError) bool {
	e, ok := err.(*runner.ExitError)
	*ee = e
	return ok
}

// TestChildrenGetOnlyTheEnvironmentTheyNeed: a node command (ssh, ip netns exec, kubectl exec for
// --pod-exec) never sees the NSX password or other secrets of the tool's environment, and keeps
// what ssh and kubectl need.
func TestChildrenGetOnlyTheEnvironmentTheyNeed(t *testing.T) {
	labtest.RequireBinaries(t, "sh")
	t.Setenv("NSX_PASSWORD", "s3cret")
	t.Setenv("GITHUB_TOKEN", "ghp_x")
	t.Setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
	t.Setenv("KUBECONFIG", "/tmp/kc")
	tp, err := runner.NewTemplate("sh -c")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]runner.Runner{"local": runner.Local{}, "template": tp} {
		argv := []string{"echo ${NSX_PASSWORD:-none} ${GITHUB_TOKEN:-none} $SSH_AUTH_SOCK $KUBECONFIG ${PATH:+path}"}
		if name == "local" {
			argv = append([]string{"sh", "-c"}, argv...)
		}
		out, err := r.Run(context.Background(), runner.Node{Name: "n1"}, argv)
		if got := strings.TrimSpace(string(out)); err != nil || got != "none none /tmp/agent.sock /tmp/kc path" {
			t.Errorf("%s: the child saw %q (%v)", name, got, err)
		}
	}
}

// A template reaches a node by its name unless it names the node's address; nil (this machine)
// and the agent do; a runner that does not say does not.
func TestReachesByName(t *testing.T) {
	for tmpl, want := range map[string]bool{
		"ssh {node}": true, "ip netns exec {node}": true, "ssh {nodeIP}": false,
		"ssh -J bastion core@{nodeIP}": false, "ssh bastion ssh {node}": true,
	} {
		tp, err := runner.NewTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := runner.ReachesByName(tp); got != want {
			t.Errorf("runner.ReachesByName(%q) = %v, want %v", tmpl, got, want)
		}
	}
	if !runner.ReachesByName(nil) || !runner.ReachesByName(runner.Local{}) || !runner.ReachesByName(&runner.Agent{}) {
		t.Error("nil, Local and Agent reach a node by its name")
	}
	if runner.ReachesByName(&runner.DebugPod{}) {
		t.Error("a debug pod waits for the API's answer")
	}
}
