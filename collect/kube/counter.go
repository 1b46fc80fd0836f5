package kube

import (
	"net/http"
	"sort"
	"sync"
)

// Counter counts the HTTP requests sent to the API server; install it with
// rest.Config.WrapTransport = counter.Wrap. It is how tests (and --v output) show the cost of a walk.
type Counter struct {
	mu   sync.Mutex
	reqs []string
}

// Wrap returns rt counting every request.
func (c *Counter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		line := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			line += "?" + r.URL.RawQuery
		}
		c.mu.Lock()
		c.reqs = append(c.reqs, line)
		c.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

// Count is the number of requests so far.
func (c *Counter) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

// Requests returns "METHOD PATH?QUERY" of every request so far, sorted.
func (c *Counter) Requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string(nil), c.reqs...)
	sort.Strings(out)
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
