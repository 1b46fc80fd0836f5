package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
)

// Agent runs argv by exec, through the API server, into the CNI's agent pod on the node (the pod
// matching a label selector with spec.nodeName = the node, found with one LIST per node).
type Agent struct {
	// Label names the runner in messages (the caller's setting); "agent pods" if empty.
	Label     string
	cs        *kubeclient.Client
	cfg       *rest.Config
	selector  string
	container string

	mu   sync.Mutex
	pods map[string]*corev1.Pod
	// exec is the executor factory; tests replace it.
	exec func(cfg *rest.Config, method string, u *rest.Request) (remotecommand.Executor, error)
}

// NewAgent parses SELECTOR[:CONTAINER] and returns the runner through those agent pods; its error
// follows the setting's name as NewTemplate's does.
func NewAgent(cs *kubeclient.Client, cfg *rest.Config, spec string) (*Agent, error) {
	sel, container := spec, ""
	if i := strings.LastIndex(spec, ":"); i >= 0 {
		sel, container = spec[:i], spec[i+1:]
	}
	if _, err := labels.Parse(sel); err != nil || sel == "" {
		return nil, fmt.Errorf("%q: want LABEL-SELECTOR[:CONTAINER], e.g. app=ovs-node:openvswitch", spec)
	}
	return &Agent{cs: cs, cfg: cfg, selector: sel, container: container, pods: map[string]*corev1.Pod{}, exec: newExecutor}, nil
}

func newExecutor(cfg *rest.Config, method string, r *rest.Request) (remotecommand.Executor, error) {
	// WebSocket first (the default since 1.31), SPDY for older API servers.
	ws, err := remotecommand.NewWebSocketExecutor(cfg, method, r.URL().String())
	if err != nil {
		return nil, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, method, r.URL())
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool { return true })
}

// ReachesByName says yes: a node's agent pod is found by the node's name.
func (a *Agent) ReachesByName() bool { return true }

// String names the runner in messages: its Label (the caller's setting) and the agent pods' selector.
func (a *Agent) String() string {
	s := cmp.Or(a.Label, "agent pods") + " " + a.selector
	if a.container != "" {
		s += ":" + a.container
	}
	return s
}

// Pod finds the running agent pod on node.
func (a *Agent) Pod(ctx context.Context, node string) (*corev1.Pod, error) {
	a.mu.Lock()
	p := a.pods[node]
	a.mu.Unlock()
	if p != nil {
		return p, nil
	}
	l, err := a.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		LabelSelector: a.selector,
		FieldSelector: fields.AndSelectors(fields.OneTermEqualSelector("spec.nodeName", node), fields.OneTermEqualSelector("status.phase", string(corev1.PodRunning))).String(),
	})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("find the agent pod (%s) on %s: forbidden: your user may not list pods cluster-wide (RBAC); bind the ClusterRole in deploy/rbac-plugin.yaml, or check with `kubectl auth can-i list pods -A`", a.selector, node)
		}
		return nil, fmt.Errorf("find the agent pod (%s) on %s: %w", a.selector, node, err)
	}
	if len(l.Items) == 0 {
		return nil, fmt.Errorf("no running pod matches %s on node %s: check the CNI agent's labels with `kubectl get pods -A -o wide -l %s`", a.selector, node, a.selector)
	}
	p = &l.Items[0]
	a.mu.Lock()
	a.pods[node] = p
	a.mu.Unlock()
	return p, nil
}

// Run execs argv in the agent pod's container (no TTY, no stdin).
func (a *Agent) Run(ctx context.Context, node Node, argv []string) ([]byte, error) {
	p, container, ex, err := a.executor(ctx, node, argv)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out := &capped{max: MaxOutput, full: func() { cancel(errTooMuchOutput) }}
	errb := &capped{max: maxStderr}
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: out, Stderr: errb})
	if context.Cause(ctx) == errTooMuchOutput {
		return nil, fmt.Errorf("%s in %s/%s: printed more than %d MiB: stopped", strings.Join(argv, " "), p.Namespace, p.Name, MaxOutput>>20)
	}
	if err == nil {
		return out.b.Bytes(), nil
	}
	var ce exec.CodeExitError
	if errors.As(err, &ce) {
		return out.b.Bytes(), &ExitError{Argv: argv, Code: ce.Code, Stderr: errb.b.String()}
	}
	if strings.Contains(err.Error(), "executable file not found") || strings.Contains(err.Error(), "no such file") {
		return nil, &ExitError{Argv: argv, Code: 127, Stderr: err.Error()}
	}
	return nil, execErr(p, container, node, err)
}

// execErr names the exec that failed; a refused one says which right is missing and where it is.
func execErr(p *corev1.Pod, container string, node Node, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("exec in %s/%s (%s) on %s: forbidden: your user may not create pods/exec in namespace %s (RBAC); bind the Role in deploy/rbac-node-agent.yaml there, or check with `kubectl auth can-i create pods/exec -n %s`",
			p.Namespace, p.Name, container, node.Name, p.Namespace, p.Namespace)
	}
	return fmt.Errorf("exec in %s/%s (%s) on %s: %w", p.Namespace, p.Name, container, node.Name, err)
}

// executor finds the agent pod on node and prepares the exec of argv in its container (the
// named one, else the pod's first).
func (a *Agent) executor(ctx context.Context, node Node, argv []string) (*corev1.Pod, string, remotecommand.Executor, error) {
	p, err := a.Pod(ctx, node.Name)
	if err != nil {
		return nil, "", nil, err
	}
	container := a.container
	if container == "" && len(p.Spec.Containers) > 0 {
		container = p.Spec.Containers[0].Name
	}
	req := a.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(p.Namespace).Name(p.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: argv, Stdout: true, Stderr: true}, kubeclient.ParameterCodec())
	ex, err := a.exec(a.cfg, "POST", req)
	if err != nil {
		return nil, "", nil, err
	}
	return p, container, ex, nil
}

// Stream execs argv in the agent pod's container and hands its output to read as it arrives.
func (a *Agent) Stream(ctx context.Context, node Node, argv []string, read func(io.Reader) error) error {
	p, container, ex, err := a.executor(ctx, node, argv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	errb := &capped{max: maxStderr}
	done := make(chan error, 1)
	go func() {
		err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: pw, Stderr: errb})
		pw.CloseWithError(err)
		done <- err
	}()
	what := fmt.Sprintf("%s in %s/%s", strings.Join(argv, " "), p.Namespace, p.Name)
	lr := &limitReader{r: pr, left: MaxOutput, what: what}
	rerr := read(lr)
	if lr.left < 0 {
		rerr = lr.err()
	}
	if rerr != nil {
		cancel()
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(pr, MaxOutput))
	}
	pr.CloseWithError(io.ErrClosedPipe) // the stream's writes fail instead of blocking
	err = <-done
	var ce exec.CodeExitError
	switch {
	case errors.As(err, &ce):
		return &ExitError{Argv: argv, Code: ce.Code, Stderr: errb.b.String()}
	case apierrors.IsForbidden(err):
		// The refusal also reached read through the pipe: name it, not the read's failure.
		return execErr(p, container, node, err)
	case rerr != nil:
		return rerr
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "executable file not found") || strings.Contains(err.Error(), "no such file"):
		return &ExitError{Argv: argv, Code: 127, Stderr: err.Error()}
	}
	return execErr(p, container, node, err)
}
