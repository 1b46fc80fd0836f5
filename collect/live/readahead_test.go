package live

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// aheadFabric is a provider that binds by node and reads ahead: it records, in order, what it
// was asked and when.
type aheadFabric struct {
	fabricOf
	mu     sync.Mutex
	events []string
	ahead  []fabric.Query
}

func (f *aheadFabric) BindsByNode() bool { return true }

func (f *aheadFabric) event(e string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
}

func (f *aheadFabric) ReadAhead(_ context.Context, q fabric.Query) func() {
	f.mu.Lock()
	f.ahead = append(f.ahead, q)
	f.mu.Unlock()
	f.event("read ahead")
	return func() { f.event("stop") }
}

func (f *aheadFabric) Collect(ctx context.Context, q fabric.Query) (*trace.Fabric, []string, error) {
	f.event("collect")
	return f.fabricOf.Collect(ctx, q)
}

// A provider that binds by node is asked to read ahead once, beside the nodes, with what the API
// names (the pod's address, no iface-id or MAC); Collect follows with the node facts, and the
// read-ahead is stopped after it.
func TestReadAheadBesideTheNodes(t *testing.T) {
	srv := kubetest.Get(t)
	want := published(t, srv)
	run := &snapshotRunner{s: want}
	fab := &aheadFabric{fabricOf: fabricOf{fab: want.Fabric}}
	_, err := Collect(context.Background(), Config{REST: srv.Config(), Fabric: fab, FabricTimeout: time.Minute,
		Nodes: Nodes{Runner: run, Backend: BackendNative, Binary: "pw"}}, kubeDNSToNode4)
	if err != nil {
		t.Fatal(err)
	}
	if got := fab.events; len(got) != 3 || got[0] != "read ahead" || got[1] != "collect" || got[2] != "stop" {
		t.Fatalf("events %q, want read ahead, collect, stop", got)
	}
	if len(fab.ahead) != 1 || len(fab.ahead[0].Sources) != 1 || len(fab.ahead[0].Destinations) != 1 {
		t.Fatalf("read ahead with %+v, want kube-dns to node 172.15.0.4", fab.ahead)
	}
	if src := fab.ahead[0].Sources[0]; src.IP.String() != "172.16.1.2" || src.IfaceID != "" || src.MAC != "" {
		t.Errorf("read-ahead source %+v, want kube-dns's address without node facts", src)
	}
	if len(fab.queries) != 1 || fab.queries[0].Sources[0].MAC == "" {
		t.Errorf("Collect asked %+v, want kube-dns with the MAC its node reports", fab.queries)
	}
}
