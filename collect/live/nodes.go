package live

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/agentless"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Node backends: what runs on the node.
const (
	// BackendAuto runs our binary when the node has it, else the agentless tools.
	BackendAuto = "auto"
	// BackendNative runs our own `collect node` (netlink, OVSDB, unixctl).
	BackendNative = "native"
	// BackendAgentless runs the tools a CNI agent carries (ip, nsenter, ovs-vsctl, ovs-appctl).
	BackendAgentless = "agentless"
)

// DefaultNodeTimeout bounds one node's collection when Nodes.Timeout is zero.
const DefaultNodeTimeout = 2 * time.Minute

// Nodes is a runner times a backend: how a node is reached, and what runs there.
type Nodes struct {
	// Runner reaches the nodes; nil reaches none, unless this machine is the node.
	Runner runner.Runner
	// Backend is BackendAuto (""), BackendNative or BackendAgentless.
	Backend string
	// Binary is our binary on the node, for the native backend.
	Binary string
	// NoAgentless says the runner cannot run the agentless tools (a debug pod of our image).
	NoAgentless bool
	// Timeout bounds one node's collection (0: DefaultNodeTimeout).
	Timeout time.Duration
}

// nodeCollector reads one node at a time with the settings of a collection.
type nodeCollector struct {
	Nodes
	hints Hints
	now   func() time.Time
}

// collect returns one node's state and the sources it came from; failures are warnings on them.
// holding, when not nil, names the pod namespaces to read besides the root one (their
// addresses); our `collect node` then reads no other.
func (c *nodeCollector) collect(ctx context.Context, n trace.Node, holding []string) (*trace.NodeState, []trace.SourceInfo) {
	node := runner.Node{Name: n.Name, IP: kube.NodeIP(n)}
	r := c.Runner
	binary := c.Binary
	backend := c.Backend
	if backend == "" {
		backend = BackendAuto
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultNodeTimeout
	}
	if r == nil {
		if hostname() != n.Name {
			return nil, []trace.SourceInfo{{Name: trace.SourceNetlink + "@" + n.Name, Warnings: []string{
				fmt.Sprintf("node state of %s not collected: %s", n.Name, c.hints.unreachable())}}}
		}
		r = runner.Local{}
		if exe, err := os.Executable(); err == nil && backend != BackendAgentless {
			binary = exe
		}
	}
	at := c.now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A node past its timeout is named with the setting to raise; the error under it says what hung.
	why := func(err error) string {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Sprintf("no answer within %s %s (%v)", c.hints.nodeTimeout(), timeout, clipMsg(err.Error()))
		}
		return clipMsg(err.Error())
	}
	if backend != BackendAgentless {
		st, srcs, err := native(ctx, r, node, binary, holding)
		if err == nil {
			return st, srcs
		}
		if backend == BackendNative || c.NoAgentless || !runner.IsNotFound(err) {
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

// hostname is this machine's name, to recognise "the tool runs on the node".
func hostname() string {
	h, _ := os.Hostname()
	return h
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

// native runs our own `collect node` on the node and takes Nodes[0] of the snapshot it prints;
// with holding (not nil), only the pod namespaces holding those addresses. A binary on the node
// older than --netns-holding is run again without it.
func native(ctx context.Context, r runner.Runner, node runner.Node, binary string, holding []string) (*trace.NodeState, []trace.SourceInfo, error) {
	st, srcs, err := nativeArgs(ctx, r, node, binary, holding)
	if holding != nil && olderBinary(err) {
		return nativeArgs(ctx, r, node, binary, nil)
	}
	return st, srcs, err
}

// netnsHolding is `collect node`'s flag that limits the namespaces read, and NetnsHoldingNone its
// value for the root namespace alone.
const (
	netnsHolding     = "--netns-holding"
	NetnsHoldingNone = "none"
)

// olderBinary says whether err is a `collect node` that does not know --netns-holding.
func olderBinary(err error) bool {
	var ee *runner.ExitError
	return errors.As(err, &ee) && ee.Code == 2 && strings.Contains(ee.Stderr, "unknown flag: "+netnsHolding)
}

func nativeArgs(ctx context.Context, r runner.Runner, node runner.Node, binary string, holding []string) (*trace.NodeState, []trace.SourceInfo, error) {
	argv := []string{binary, "collect", "node", "--node-name", node.Name}
	if holding != nil {
		argv = append(argv, netnsHolding, cmp.Or(strings.Join(holding, ","), NetnsHoldingNone))
	}
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
