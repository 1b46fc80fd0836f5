package node

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/node/nodelab"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovs"
)

// childEnv carries the options of a child collection (see TestCollectChild).
const childEnv = "PWT_COLLECT_CHILD"

type childOpts struct {
	Node ovs.Options
	NS   Options
}

// collectAll is what `collect node` reads: every netns, the OVS database and the MAC tables.
func collectAll(o childOpts) (int, int, error) {
	st, _, err := Collect(context.Background(), o.NS)
	if err != nil {
		return 0, 0, err
	}
	ov, _, err := ovs.Collect(context.Background(), o.Node)
	if err != nil {
		return 0, 0, err
	}
	return len(st.Netns), len(ov.MACTable), nil
}

// TestCollectChild is the child process of BenchmarkCollectNode250: one collection, so that the
// parent can read the peak RSS of exactly that. Without the variable it has nothing to do.
func TestCollectChild(t *testing.T) {
	v := os.Getenv(childEnv)
	if v == "" {
		t.Skip("helper process of BenchmarkCollectNode250")
	}
	var o childOpts
	if err := json.Unmarshal([]byte(v), &o); err != nil {
		t.Fatal(err)
	}
	if _, _, err := collectAll(o); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCollectNode250 collects a lab node with 250 pods (250 pod netns, 252 OVS ports, 500+
// MAC table entries): ns/op is one whole collection; maxrss-MB the peak RSS of a child process
// doing one. Targets: under 1 s and 50 MB.
func BenchmarkCollectNode250(b *testing.B) {
	lab := nodelab.Up(b, "bench", nodelab.Many(250))
	o := childOpts{
		NS:   Options{Node: "n", RootNetns: lab.NetnsPath(), Match: []string{lab.Name + "-pod-*"}, NoProcs: true},
		Node: ovs.Options{Node: "n", DB: lab.DB(), VswitchdCtl: lab.Ctl()},
	}
	nns, nmacs, err := collectAll(o)
	if err != nil || nns != 251 || nmacs < 500 {
		b.Fatalf("collected %d netns, %d MACs, %v; want 251 netns and at least 500 MACs", nns, nmacs, err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := collectAll(o); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	js, _ := json.Marshal(o)
	c := exec.Command(os.Args[0], "-test.run=^TestCollectChild$", "-test.count=1")
	c.Env = append(os.Environ(), childEnv+"="+string(js))
	if out, err := c.CombinedOutput(); err != nil {
		b.Fatalf("child collection: %v\n%s", err, out)
	}
	ru := c.ProcessState.SysUsage().(*syscall.Rusage)
	b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
}
