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
	out, err := tp.Run(context.Background(), runner.Node{Name: "n1; echo pwned", IP: "10.0.0.1"}, []string{"$(id)"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "n1; echo pwned 10.0.0.1 $(id)\n" {
		t.Errorf("output %q: the node name or argument was interpreted", got)
	}
	if _, err := runner.NewTemplate("  "); err == nil || !strings.Contains(err.Error(), "--node-exec is empty") {
		t.Errorf("empty template: %v", err)
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
