package kubeclient

import (
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
)

// oneDial makes the requests that start before the client has a connection share one: net/http
// dials once per request when it has no connection yet, so a walk's first two requests (source
// pod and destination node, sent at once) paid two TCP+TLS handshakes to the API server, and HTTP/2
// then dropped the second connection. The first request goes at once; the others wait until it
// has its connection (then HTTP/2 finds it in the pool) or has failed; after that it only passes
// requests through. Against an HTTP/1.1-only server the waiting requests dial their own after the
// first, as they did before.
type oneDial struct {
	next  http.RoundTripper
	first atomic.Bool   // a request has claimed the first dial
	ready chan struct{} // closed once the first request got its connection or returned
	once  sync.Once
}

func newOneDial(next http.RoundTripper) *oneDial {
	return &oneDial{next: next, ready: make(chan struct{})}
}

// RoundTrip sends the request, holding it first while another request is getting the connection.
func (o *oneDial) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case <-o.ready:
		return o.next.RoundTrip(req)
	default:
	}
	if o.first.CompareAndSwap(false, true) {
		// HTTP/2 calls GotConn itself once the connection is ready, HTTP/1 before writing.
		trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { o.markReady() }}
		resp, err := o.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		o.markReady() // the dial failed, or GotConn already fired
		return resp, err
	}
	select {
	case <-o.ready:
		return o.next.RoundTrip(req)
	case <-req.Context().Done():
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, on errors too
		}
		return nil, req.Context().Err()
	}
}

func (o *oneDial) markReady() { o.once.Do(func() { close(o.ready) }) }

// WrappedRoundTripper lets client-go's helpers (CloseIdleConnectionsFor, TLSClientConfig) reach the
// transport inside.
func (o *oneDial) WrappedRoundTripper() http.RoundTripper { return o.next }
