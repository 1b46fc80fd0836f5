package live

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/agentless"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// HostTimeout bounds reading one hypervisor.
const HostTimeout = 20 * time.Second

// readHosts reads, through run, each host of the fabric (the hypervisors the walk's ports are
// bound to) whose tunnels the provider did not give, in parallel: its tunnels and underlay
// (agentless.CollectHost), reached by its name and its first TEP. A host that cannot be read is a
// warning: its tunnels are then not checked.
func readHosts(ctx context.Context, run runner.Runner, fab *trace.Fabric) []string {
	if run == nil || fab == nil || len(fab.Hosts) == 0 {
		return nil
	}
	warns := make([][]string, len(fab.Hosts))
	var wg sync.WaitGroup
	for i := range fab.Hosts {
		h := &fab.Hosts[i]
		if len(h.Tunnels) > 0 || h.Underlay != nil || h.Placeholder {
			continue // the provider read it (NSX: the manager's view), or it stands in for one
		}
		var peers []string
		for _, o := range fab.Hosts {
			if o.ID != h.ID {
				for _, tep := range o.TEPs {
					peers = append(peers, tep.IP)
				}
			}
		}
		node := runner.Node{Name: h.Name}
		if len(h.TEPs) > 0 {
			node.IP = h.TEPs[0].IP
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			hctx, cancel := context.WithTimeout(ctx, HostTimeout)
			defer cancel()
			do := func(ctx context.Context, argv []string) ([]byte, error) { return run.Run(ctx, node, argv) }
			w, err := agentless.CollectHost(hctx, do, h, peers)
			if err != nil {
				w = append(w, fmt.Sprintf("hypervisor %s not read through %s: %v; its tunnels are not checked", h.Name, run, err))
			}
			warns[i] = w
		}()
	}
	wg.Wait()
	var out []string
	for _, w := range warns {
		out = append(out, w...)
	}
	return out
}
