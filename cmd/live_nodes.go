package cmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/collect/agentless"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// nodeCollector is a runner times a backend: how the node is reached, and what runs there.
type nodeCollector struct {
	run     runner.Runner // nil: not reachable, unless this machine is the node
	backend string
	binary  string
	// agentlessOK says the runner can run the agentless tools (a debug pod of our image cannot).
	agentlessOK bool
	// timeout bounds one node's collection.
	timeout time.Duration
}

// nodeCollector builds the node collector the flags ask for; restCfg is the client config of the
// runners that reach the nodes through the API server.
func (f *FactOptions) nodeCollector(g *GlobalOptions, restCfg func() (*rest.Config, error)) (*nodeCollector, error) {
	c := &nodeCollector{backend: f.NodeBackend, binary: f.NodeBinary, agentlessOK: true, timeout: f.NodeTimeout}
	if c.timeout <= 0 {
		c.timeout = DefaultNodeTimeout
	}
	if c.backend == "" {
		c.backend = BackendAuto
	}
	switch {
	case f.NodeExec != "":
		t, err := runner.NewTemplate(f.NodeExec)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		c.run = t
	case f.NodeAgent != "", f.NodeDebugImage != "":
		cfg, err := restCfg()
		if err != nil {
			return nil, err
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, factsErr(err)
		}
		if f.NodeAgent != "" {
			a, err := runner.NewAgent(cs, cfg, f.NodeAgent)
			if err != nil {
				return nil, usageErr("%v", err)
			}
			c.run, c.backend = a, BackendAgentless
		} else {
			c.run = runner.NewDebugPod(cs, g.namespace(), f.NodeDebugImage)
			c.backend, c.binary, c.agentlessOK = BackendNative, runner.DebugBinary, false
		}
	}
	return c, nil
}

// collect returns one node's state and the sources it came from; failures are warnings on them.
func (c *nodeCollector) collect(ctx context.Context, n trace.Node) (*trace.NodeState, []trace.SourceInfo) {
	node := runner.Node{Name: n.Name, IP: kube.NodeIP(n)}
	r := c.run
	binary := c.binary
	if r == nil {
		if hostname() != n.Name {
			return nil, []trace.SourceInfo{{Name: trace.SourceNetlink + "@" + n.Name, Warnings: []string{
				fmt.Sprintf("node state of %s not collected: reach the node with --node-exec, --node-agent or --node-debug-image", n.Name)}}}
		}
		r = runner.Local{}
		if exe, err := os.Executable(); err == nil && c.backend != BackendAgentless {
			binary = exe
		}
	}
	at := liveNow()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// A node past its timeout is named with the flag to raise; the error under it says what hung.
	why := func(err error) string {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Sprintf("no answer within --node-timeout %s (%v)", c.timeout, clipMsg(err.Error()))
		}
		return clipMsg(err.Error())
	}
	if c.backend != BackendAgentless {
		st, srcs, err := c.native(ctx, r, node, binary)
		if err == nil {
			return st, srcs
		}
		if c.backend == BackendNative || !c.agentlessOK || !runner.IsNotFound(err) {
			return nil, []trace.SourceInfo{{Name: trace.SourceNetlink + "@" + n.Name, CollectedAt: at, Warnings: []string{
				fmt.Sprintf("node state of %s not collected through %s: %s", n.Name, r, why(err))}}}
		}
		// auto: our binary is not on the node; use the tools that are.
	}
	st, err := agentless.Collect(ctx, func(ctx context.Context, argv []string) ([]byte, error) {
		sr, ok := r.(runner.Streamer)
		if !ok || !agentless.PrintsJSON(argv) {
			return r.Run(ctx, node, argv)
		}
		// JSON that does not start as JSON fails on its first byte, not once all of it arrived.
		var out []byte
		err := sr.Stream(ctx, node, argv, func(rd io.Reader) (err error) {
			out, err = readJSONish(rd, strings.Join(argv, " "))
			return err
		})
		return out, err
	}, agentless.Options{Node: n.Name})
	if err != nil {
		return nil, []trace.SourceInfo{{Name: trace.SourceNetlink + "@" + n.Name, CollectedAt: at, Warnings: []string{
			fmt.Sprintf("node state of %s not collected through %s (agentless): %s", n.Name, r, why(err))}}}
	}
	for i, w := range st.Warnings {
		st.Warnings[i] = clipMsg(w)
	}
	srcs := []trace.SourceInfo{{Name: trace.SourceNetlink + "@" + n.Name, CollectedAt: at, Warnings: st.Warnings}}
	if st.OVS != nil {
		srcs = append(srcs, trace.SourceInfo{Name: st.OVS.Source, CollectedAt: at})
		if st.OVS.FDBSource != "" {
			srcs = append(srcs, trace.SourceInfo{Name: st.OVS.FDBSource, CollectedAt: at})
		}
	}
	return st, srcs
}

// maxMessage bounds a message built from what a node printed (a hostile number in its JSON is
// otherwise echoed whole by the decoder's error).
const maxMessage = 512

func clipMsg(s string) string { return runner.Clip(s, maxMessage) }

// readJSONish reads a command's JSON output whole, failing as soon as its first non-blank byte
// cannot start a JSON array or object (empty output is left to the parser: some commands print
// nothing for "none").
func readJSONish(r io.Reader, what string) ([]byte, error) {
	br := bufio.NewReader(r)
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if c != '[' && c != '{' {
			return nil, fmt.Errorf("%s: printed %q where JSON was expected", what, c)
		}
		_ = br.UnreadByte()
		return io.ReadAll(br)
	}
}

// native runs our own `collect node` on the node and takes Nodes[0] of the snapshot it prints.
func (c *nodeCollector) native(ctx context.Context, r runner.Runner, node runner.Node, binary string) (*trace.NodeState, []trace.SourceInfo, error) {
	argv := []string{binary, "collect", "node", "--node-name", node.Name}
	what := "from `collect node` on " + node.Name
	var s *trace.Snapshot
	if sr, ok := r.(runner.Streamer); ok {
		// Decoded as it arrives: garbage fails on its first bytes, and nothing is held twice.
		err := sr.Stream(ctx, node, argv, func(out io.Reader) (err error) {
			s, err = trace.ReadSnapshot(out, what)
			return err
		})
		if err != nil {
			return nil, nil, err
		}
	} else {
		out, err := r.Run(ctx, node, argv)
		if err != nil {
			return nil, nil, err
		}
		if s, err = trace.ReadSnapshot(bytes.NewReader(out), what); err != nil {
			return nil, nil, err
		}
	}
	if len(s.Nodes) == 0 {
		return nil, nil, fmt.Errorf("`collect node` on %s printed no node state", node.Name)
	}
	st := s.Nodes[0]
	st.Name = node.Name
	for i := range s.Sources {
		for j, w := range s.Sources[i].Warnings {
			s.Sources[i].Warnings[j] = clipMsg(w)
		}
	}
	return &st, s.Sources, nil
}
