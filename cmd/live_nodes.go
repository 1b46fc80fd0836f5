package cmd

import (
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	"github.com/packetwalk/kubectl-packetwalk/collect/live"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
)

// nodes turns the runner flags into how the nodes are read.
func (f *FactOptions) nodes(g *GlobalOptions) (live.Nodes, error) {
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
