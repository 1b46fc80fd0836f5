package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// NotFoundError is a pod or node that does not exist.
type NotFoundError struct{ Msg string }

func (e *NotFoundError) Error() string { return e.Msg }

// IsNotFound reports whether err is a NotFoundError.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// AccessError is a request the API server refused or could not be sent.
type AccessError struct{ Msg string }

func (e *AccessError) Error() string { return e.Msg }

// Hints word, in the caller's terms (the CLI names its flags), how a user fixes what an API error
// reports. Empty hints get plain words.
type Hints struct {
	// Credentials follows "rejected the credentials (401 Unauthorized): log in again or ".
	Credentials string
	// Timeout says how to wait longer for a slow API server.
	Timeout string
	// Reach says what to check when the API server cannot be reached.
	Reach string
}

func (h Hints) credentials() string {
	return cmp.Or(h.Credentials, "check the kubeconfig's context and user")
}
func (h Hints) timeout() string { return cmp.Or(h.Timeout, "raise the request timeout") }
func (h Hints) reach() string {
	return cmp.Or(h.Reach, "check the kubeconfig's context and the network")
}

// explain turns a client-go error into one line saying what to do.
func (c *Collector) explain(err error, verb, resource, ns string) error {
	where := "cluster-wide"
	if ns != "" {
		where = "in namespace " + ns
	}
	switch {
	case apierrors.IsForbidden(err):
		return &AccessError{Msg: fmt.Sprintf("forbidden: your user may not %s %s %s (RBAC); grant the read-only ClusterRole in deploy/rbac-plugin.yaml, or check with `kubectl auth can-i %s %s`", verb, resource, where, verb, resource)}
	case apierrors.IsUnauthorized(err):
		return &AccessError{Msg: fmt.Sprintf("the API server at %s rejected the credentials (401 Unauthorized): log in again or %s", c.host, c.hints.credentials())}
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		reason := err.Error()
		if ue != nil {
			reason = ue.Err.Error()
		}
		if errors.Is(err, context.DeadlineExceeded) || ne != nil && ne.Timeout() {
			reason = fmt.Sprintf("no answer in time (%s if the server is just slow)", c.hints.timeout())
		}
		return &AccessError{Msg: fmt.Sprintf("cannot reach the Kubernetes API server at %s: %s (%s)", c.host, reason, c.hints.reach())}
	}
	return &AccessError{Msg: fmt.Sprintf("%s %s %s: %v", verb, resource, where, err)}
}

// Similar returns up to max names close to name: sharing a prefix or within a small edit distance,
// closest first.
func Similar(name string, names []string, max int) []string {
	type cand struct {
		n string
		d int
	}
	var cs []cand
	for _, n := range names {
		d := trace.EditDistance(name, n)
		limit := len(name)/3 + 1
		if d <= limit || (len(name) >= 3 && (strings.HasPrefix(n, name) || strings.HasPrefix(name, n))) {
			cs = append(cs, cand{n, d})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].n < cs[j].n
	})
	var out []string
	for i := 0; i < len(cs) && i < max; i++ {
		out = append(out, cs[i].n)
	}
	return out
}
