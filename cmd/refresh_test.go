package cmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

func TestRefreshNeedsPodExec(t *testing.T) {
	for _, c := range []string{"trace", "check"} {
		args := []string{c, "--refresh", "--snapshot", published}
		if c == "trace" {
			args = append(args, "kube-system/kube-dns", "--to", "node/172.15.0.4")
		}
		r := run(t, args...)
		if r.code != 2 || !strings.Contains(r.err, "--refresh needs --pod-exec") {
			t.Errorf("%s --refresh without --pod-exec: exit %d %q", c, r.code, r.err)
		}
	}
}

// An idle node (its MAC table flushed): trace holds on the configuration, macs lists the pods that
// have no entry with the bridge's aging time.
func TestIdleNodeCommands(t *testing.T) {
	s, err := trace.LoadSnapshot(published)
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Nodes {
		s.Nodes[i].OVS.MACTable = nil
	}
	f := filepath.Join(t.TempDir(), "idle.json")
	w, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := trace.WriteSnapshot(w, s); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r := run(t, "trace", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--snapshot", f)
	if r.code != 0 || !strings.Contains(r.out, "verdict: reachable") || !strings.Contains(r.out, "not in the MAC table of br-int VLAN 101") {
		t.Errorf("trace of an idle pod: exit %d\n%s%s", r.code, r.out, r.err)
	}
	r = run(t, "macs", "--node", "172.15.0.3", "--snapshot", f)
	if r.code != 0 || !strings.Contains(r.out, "no entry (idle longer than the aging time, 300 s, or never sent)") ||
		!strings.Contains(r.out, "kube-system/kube-dns") || !strings.Contains(r.out, "veth1a2b") {
		t.Errorf("macs of an idle node: exit %d\n%s%s", r.code, r.out, r.err)
	}
}
