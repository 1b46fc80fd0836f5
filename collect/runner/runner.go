// Package runner reaches a node to run a command there: locally, through a user's command template
// (ssh, `ip netns exec`, ...), by exec into the CNI's agent pod on the node through the API server,
// or in an ephemeral privileged debug pod. A runner only transports argv and stdout; what runs (our
// own `collect node`, or the tools an agent pod carries) is the backend's business.
package runner

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// ByName is implemented by runners that can reach a node by its name alone, before its object
// (its address) is read, and cheaply enough to do so for a walk the API may still refuse: a walk
// then starts reading a node as soon as the API names it. (A debug pod is neither cheap nor
// without a trace in the cluster: DebugPod waits for the API's answer.)
type ByName interface {
	ReachesByName() bool
}

// ReachesByName says whether r reaches a node by its name alone; nil (no runner: this machine is
// the node, recognised by its name) does.
func ReachesByName(r Runner) bool {
	if r == nil {
		return true
	}
	b, ok := r.(ByName)
	return ok && b.ReachesByName()
}

// Node is the node to run on.
type Node struct {
	Name string
	// IP is the node's InternalIP, for templates that reach the node by address.
	IP string
}

// Runner runs argv on a node and returns its standard output.
type Runner interface {
	// Run runs argv on node. A command that fails returns an *ExitError with its stderr.
	Run(ctx context.Context, node Node, argv []string) ([]byte, error)
	// String names the runner in messages ("node-exec 'ssh {nodeIP}'").
	String() string
}

// ExitError is a command that ran and failed, or could not be started on the node.
type ExitError struct {
	Argv []string
	// Code is the exit status; 127 when the program was not found.
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.Code)
	}
	return fmt.Sprintf("%s: %s", strings.Join(e.Argv, " "), msg)
}

// NotFound reports whether the program was not found on the node (exit 127 or the like).
func (e *ExitError) NotFound() bool {
	s := strings.ToLower(e.Stderr)
	return e.Code == 127 || strings.Contains(s, "executable file not found") || strings.Contains(s, "no such file or directory") && strings.Contains(s, "exec")
}

// IsNotFound reports whether err says the program is missing on the node.
func IsNotFound(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.NotFound()
}

// Template runs argv prefixed by a user's command template, with {node} and {nodeIP} replaced in
// each word. The template is split like a shell would (quotes, backslashes) but never passed to one
// here. When the template goes through remote shells (ssh joins its arguments into one line that
// the node's shell splits again), each argument is quoted once per shell, so what runs on the node
// is exactly argv.
type Template struct {
	words []string
	raw   string
	// Shells is how many shells the command line goes through after the template's program: by
	// default one per word that runs ssh (`ssh bastion ssh {nodeIP}` is two).
	Shells int
	// Label names the template in messages (the caller's setting, e.g. a flag); "template" (or
	// "host template") if empty.
	Label string
	// host: the template reaches hypervisors, {host} and {hostIP} (NewHostTemplate).
	host bool
}

// placeholders are the words the template replaces with the target's name and address, and what
// the target is called in messages.
func (t *Template) placeholders() (name, addr, kind string) {
	if t.host {
		return "{host}", "{hostIP}", KindHost
	}
	return "{node}", "{nodeIP}", KindNode
}

// NewTemplate parses a node command template. Its error says what is wrong with the template and
// is meant to follow the name of the setting it came from ("--node-exec " + err).
func NewTemplate(tmpl string) (*Template, error) { return newTemplate(tmpl, false) }

// newTemplate parses a node template, or with host a hypervisor's (NewHostTemplate).
func newTemplate(tmpl string, host bool) (*Template, error) {
	words, err := Split(tmpl)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", tmpl, err)
	}
	if len(words) == 0 {
		if host {
			return nil, fmt.Errorf("is empty: give a command such as 'ssh {hostIP}'")
		}
		return nil, fmt.Errorf("is empty: give a command such as 'ssh {nodeIP}' or 'ip netns exec {node}'")
	}
	return &Template{words: words, raw: tmpl, Shells: remoteShells(words), host: host}, nil
}

// Argv returns the template's words for node followed by argv, quoted for the template's remote
// shells. The node's name must be a DNS name and its address an IP without a zone (both come from
// the API server or the fabric, which check neither strictly enough for a command line).
func (t *Template) Argv(node Node, argv []string) ([]string, error) {
	name, addr, kind := t.placeholders()
	var pairs []string
	for _, w := range t.words {
		if strings.Contains(w, name) && !contains(pairs, name) {
			if err := CheckName(kind, node.Name); err != nil {
				return nil, err
			}
			pairs = append(pairs, name, Quote(node.Name))
		}
		if strings.Contains(w, addr) && !contains(pairs, addr) {
			if node.IP == "" {
				return nil, fmt.Errorf("%s %s has no address for %s in %s", kind, node.Name, addr, t)
			}
			a, err := parseAddr(kind, node.IP)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, addr, Quote(a.String()))
		}
	}
	r := strings.NewReplacer(pairs...) // one pass: a value is never expanded again
	out := make([]string, 0, len(t.words)+len(argv))
	for _, w := range t.words {
		out = append(out, r.Replace(w))
	}
	for _, a := range argv {
		for range t.Shells {
			a = Quote(a)
		}
		out = append(out, a)
	}
	return out, nil
}

func contains(pairs []string, key string) bool {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i] == key {
			return true
		}
	}
	return false
}

// Run runs the expanded command locally.
func (t *Template) Run(ctx context.Context, node Node, argv []string) ([]byte, error) {
	full, err := t.Argv(node, argv)
	if err != nil {
		return nil, err
	}
	return Local{}.Run(ctx, node, full)
}

// ReachesByName says whether the template reaches a node by its name alone (it names no
// {nodeIP}, or for a host template no {hostIP}).
func (t *Template) ReachesByName() bool {
	_, addr, _ := t.placeholders()
	for _, w := range t.words {
		if strings.Contains(w, addr) {
			return false
		}
	}
	return true
}

// String names the runner in messages: its Label (the setting it came from) and the template.
func (t *Template) String() string {
	label := "template"
	if t.host {
		label = "host template"
	}
	return cmp.Or(t.Label, label) + " " + quote(t.raw)
}

// Local runs argv on this machine (the tool runs on the node, or the template already reaches it).
type Local struct{}

// MaxOutput bounds what is kept of a command's standard output (a node snapshot of a few hundred
// pods is a few MB); a command that prints more is stopped and fails.
var MaxOutput int64 = 256 << 20

// maxStderr bounds the standard error kept for messages.
const maxStderr = 64 << 10

// waitDelay is how long Wait waits for the output pipes after the command was killed (a
// grandchild that kept them open must not hang the walk).
const waitDelay = 2 * time.Second

// Run runs argv with exec, no shell. The command gets its own process group where the system has
// them, so a cancelled or timed-out context kills it and everything it started (ssh, sh -c, ...).
func (Local) Run(ctx context.Context, _ Node, argv []string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("runner: empty command")
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out := &capped{max: MaxOutput, full: func() { cancel(errTooMuchOutput) }}
	errb := &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = out, errb
	cmd.WaitDelay = waitDelay
	cmd.Env = ChildEnv()
	ownProcessGroup(cmd)
	err := cmd.Run()
	if context.Cause(ctx) == errTooMuchOutput {
		return nil, fmt.Errorf("%s: printed more than %d MiB: stopped", strings.Join(argv, " "), MaxOutput>>20)
	}
	if err == nil {
		return out.b.Bytes(), nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(argv, " "), context.Cause(ctx))
	}
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		return out.b.Bytes(), &ExitError{Argv: argv, Code: xe.ExitCode(), Stderr: errb.b.String()}
	}
	if errors.Is(err, exec.ErrNotFound) {
		return nil, &ExitError{Argv: argv, Code: 127, Stderr: err.Error()}
	}
	return nil, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
}

var errTooMuchOutput = errors.New("too much output")

// capped keeps at most max bytes; past that it calls full once and drops the rest (the command is
// being stopped), so the pipe never blocks the command.
type capped struct {
	b    bytes.Buffer
	max  int64
	full func()
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if c.over {
		return len(p), nil
	}
	if room := c.max - int64(c.b.Len()); int64(len(p)) > room {
		c.b.Write(p[:max(room, 0)])
		c.over = true
		if c.full != nil {
			c.full()
		}
		return len(p), nil
	}
	return c.b.Write(p)
}

func (Local) String() string { return "local" }

// ReachesByName says yes: this machine is the node.
func (Local) ReachesByName() bool { return true }

// Split splits s into words the way a POSIX shell would (single and double quotes, backslash
// escapes), without expansions, pipes or redirections: those characters are kept literally.
func Split(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Streamer is a Runner that hands a command's standard output to read while the command runs,
// instead of holding all of it: a decoder stops at the first byte that is not what it expects, and
// at MaxOutput.
type Streamer interface {
	Runner
	// Stream runs argv on node and calls read with its standard output. A command that fails
	// returns an *ExitError (whatever read said); else read's error.
	Stream(ctx context.Context, node Node, argv []string, read func(io.Reader) error) error
}

// limitReader fails once more than MaxOutput bytes were read.
type limitReader struct {
	r    io.Reader
	left int64
	what string
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, l.err()
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, l.err()
	}
	return n, err
}

func (l *limitReader) err() error {
	return fmt.Errorf("%s: printed more than %d MiB: stopped", l.what, MaxOutput>>20)
}

// Stream runs argv with exec, no shell, and hands its standard output to read.
func (Local) Stream(ctx context.Context, _ Node, argv []string, read func(io.Reader) error) error {
	if len(argv) == 0 {
		return errors.New("runner: empty command")
	}
	pctx := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	errb := &capped{max: maxStderr}
	cmd.Stderr = errb
	cmd.WaitDelay = waitDelay
	cmd.Env = ChildEnv()
	ownProcessGroup(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return &ExitError{Argv: argv, Code: 127, Stderr: err.Error()}
		}
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	lr := &limitReader{r: out, left: MaxOutput, what: strings.Join(argv, " ")}
	rerr := read(lr)
	if lr.left < 0 {
		rerr = lr.err() // the decoder's own words would blame the JSON
	}
	if rerr != nil {
		cancel() // what is left is not read: stop the command rather than wait for it
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(out, MaxOutput))
	}
	werr := cmd.Wait()
	if pctx.Err() != nil {
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), context.Cause(pctx))
	}
	var xe *exec.ExitError
	if errors.As(werr, &xe) && rerr == nil || errors.As(werr, &xe) && xe.ExitCode() > 0 {
		return &ExitError{Argv: argv, Code: xe.ExitCode(), Stderr: errb.b.String()}
	}
	if rerr != nil {
		return rerr
	}
	if werr != nil {
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), werr)
	}
	return nil
}

// Stream runs the expanded command locally, handing its output to read.
func (t *Template) Stream(ctx context.Context, node Node, argv []string, read func(io.Reader) error) error {
	full, err := t.Argv(node, argv)
	if err != nil {
		return err
	}
	return Local{}.Stream(ctx, node, full, read)
}
