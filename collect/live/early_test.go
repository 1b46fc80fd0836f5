package live

import (
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// The fabric read started from names is kept only when it bound every endpoint the API resolved;
// otherwise the walk reads the fabric again by IP.
func TestEarlyFabricKeptOnlyWhenComplete(t *testing.T) {
	s := scenario.Published()
	res := &kube.Result{Cluster: s.Cluster}
	need := Need{Pods: []trace.PodRef{{Namespace: "kube-system", Name: "kube-dns"}}, Targets: []trace.Target{{Kind: trace.TargetNode, Name: "172.15.0.4"}}}
	done := func(f *trace.Fabric) *earlyFabric {
		e := &earlyFabric{cancel: func() {}, done: make(chan struct{}), fab: f}
		close(e.done)
		return e
	}
	if fab, _, _ := done(s.Fabric).result(res, need); fab == nil {
		t.Error("a complete early read was dropped")
	}
	partial := *s.Fabric
	partial.SwitchPorts = nil
	for _, sp := range s.Fabric.SwitchPorts {
		if sp.ID != "lp-node-172.15.0.4-mgmt" {
			partial.SwitchPorts = append(partial.SwitchPorts, sp)
		}
	}
	if fab, _, _ := done(&partial).result(res, need); fab != nil {
		t.Error("an early read without the destination node's port was kept")
	}
	var nilEarly *earlyFabric
	if fab, _, _ := nilEarly.result(res, need); fab != nil {
		t.Error("no early read, yet a fabric")
	}
	nilEarly.stop()
}
