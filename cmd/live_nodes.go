package cmd

import (
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	"github.com/packetwalk/kubectl-packetwalk/collect/live"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
)

// nodes is how the nodes are read, made from the runner flags once per command: the collection
// and --ofproto-trace share one runner (one API client, and the agent runner finds each node's
// agent pod once, not again for the traces).
func (f *FactOptions) nodes(g *GlobalOptions) (live.Nodes, error) {
	if f.liveNodes != nil {
		return *f.liveNodes, nil
	}
	c, err := f.newNodes(g)
	if err == nil {
		f.liveNodes = &c
	}
	return c, err
}

// newNodes turns the runner flags into how the nodes are read.
func (f *FactOptions) newNodes(g *GlobalOptions) (live.Nodes, error) {
	c := live.Nodes{Backend: f.NodeBackend, Binary: f.NodeBinary, Timeout: f.NodeTimeout}
	switch {
	case f.NodeExec != "":
		t, err := runner.NewTemplate(f.NodeExec)
		if err != nil {
			return c, usageErr("--node-exec %v", err)
		}
		t.Label = "--node-exec"
		c.Runner = t
	case f.NodeAgent != "", f.NodeDebugImage != "":
		cfg, err := g.kubeConfig()
		if err != nil {
			return c, err
		}
		cs, err := kubeclient.NewForConfig(cfg)
		if err != nil {
			return c, factsErr(err)
		}
		if f.NodeAgent != "" {
			a, err := runner.NewAgent(cs, cfg, f.NodeAgent)
			if err != nil {
				return c, usageErr("--node-agent %v", err)
			}
			a.Label = "--node-agent"
			c.Runner, c.Backend = a, BackendAgentless
		} else {
			d := runner.NewDebugPod(cs, g.namespace(), f.NodeDebugImage)
			d.Label = "--node-debug-image"
			c.Runner = d
			c.Backend, c.Binary, c.NoAgentless = BackendNative, runner.DebugBinary, true
		}
	}
	return c, nil
}
