// Package cmd holds the cobra commands of kubectl-packetwalk. Each command builds a trace.Request
// (or the like) from its flags, calls collect, then trace, then render; nothing below cmd/ sees
// cobra or pflag.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
)

// Exit codes, the CLI contract.
const (
	ExitOK      = 0
	ExitBroken  = 1
	ExitUsage   = 2
	ExitNoFacts = 3
)

// Streams are the command's standard streams.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// ExitError carries an exit code; its message is printed as one line.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

func usageErr(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

func factsErr(err error) error { return &ExitError{Code: ExitNoFacts, Err: err} }

// silent is returned when the command already reported its outcome (a broken walk) and only the
// exit code is left to set.
func silent(code int) error { return &ExitError{Code: code} }

// GlobalOptions are the flags every command shares.
type GlobalOptions struct {
	Streams
	ConfigFlags *KubeFlags
	Color       string
	// restCfg is restConfig loaded once per command (NewRootCmd): the API reads, the node runners
	// through the API server and --ofproto-trace's share it.
	restCfg func() (*rest.Config, error)
}

// kubeConfig is the client config of the flags, loaded once per command.
func (g *GlobalOptions) kubeConfig() (*rest.Config, error) {
	if g.restCfg == nil {
		return restConfig(g)
	}
	return g.restCfg()
}

// Main runs the CLI with args and returns the process exit code.
func Main(args []string, s Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, s)
}

// Run runs the CLI in ctx (tests call it directly) and returns the exit code.
func Run(ctx context.Context, args []string, s Streams) int {
	root := NewRootCmd(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(s.ErrOut, "error: %s\n", oneLine(ee.Err.Error()))
		}
		return ee.Code
	}
	// Errors from cobra itself: unknown flags, bad flag values, wrong argument counts.
	fmt.Fprintf(s.ErrOut, "error: %s\n", oneLine(err.Error()))
	fmt.Fprintf(s.ErrOut, "Run '%s --help' for usage.\n", commandPath(root, args))
	return ExitUsage
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func commandPath(root *cobra.Command, args []string) string {
	c, _, err := root.Find(args)
	if err != nil || c == nil {
		return root.CommandPath()
	}
	return c.CommandPath()
}

// NewRootCmd builds the command tree.
func NewRootCmd(s Streams) *cobra.Command {
	g := &GlobalOptions{Streams: s, ConfigFlags: NewKubeFlags(), Color: "auto"}
	g.restCfg = sync.OnceValues(func() (*rest.Config, error) { return restConfig(g) })
	root := &cobra.Command{
		Use:   "kubectl-packetwalk",
		Short: "Show the path a packet takes from a pod, hop by hop, across every layer",
		Long: `kubectl packetwalk shows the path a packet takes from a Kubernetes pod to a node, a pod or an IP:
the pod's eth0, the veth pair, the node's OVS port and its VLAN tag, the OVS MAC table, the SDN's
logical port (NSX-T CHILD VIF with its traffic tag, or an OVN child port), the logical switch, the
tier-1 / tier-0 routers and their links, and the destination; then the way back. Every link comes
with its evidence, and the first link that does not hold is named.

Exit codes: 0 the path holds, 1 the path is broken, 2 usage error, 3 facts missing.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl packetwalk",
		},
	}
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.SetIn(s.In)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr("%v", err) })
	g.ConfigFlags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVar(&g.Color, "color", g.Color, "colour output: auto (when stdout is a terminal and NO_COLOR is unset), always or never")
	root.AddCommand(NewCmdTrace(g), NewCmdMACs(g), NewCmdCheck(g), NewCmdVersion(g))
	root.AddCommand(NewCmdCollect(g))
	return root
}

// requireArgs gives a one-line usage error naming what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s takes exactly %d argument (%s), got %d", c.CommandPath(), n, what, len(args))
		}
		return nil
	}
}
