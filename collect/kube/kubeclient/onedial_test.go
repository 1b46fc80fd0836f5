package kubeclient_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
)

// tlsServer is a TLS API server (HTTP/2 or HTTP/1.1 only) that counts the connections it accepts.
func tlsServer(t *testing.T, http2 bool) (*httptest.Server, *atomic.Int32, *rest.Config) {
	t.Helper()
	srv := httptest.NewUnstartedServer(&recorder{})
	srv.EnableHTTP2 = http2
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv, &conns, &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}

// A walk's first requests go out together; over HTTP/2 they share one connection (one TLS
// handshake) instead of dialing one each. An HTTP/1.1-only server still answers them all, each
// waiting request on its own connection.
func TestConcurrentFirstRequestsDialOnce(t *testing.T) {
	t.Run("http2", func(t *testing.T) {
		if n := concurrentFirstRequests(t, true); n != 1 {
			t.Errorf("server accepted %d connections for 4 concurrent first requests, want 1", n)
		}
	})
	t.Run("http1.1", func(t *testing.T) {
		if n := concurrentFirstRequests(t, false); n < 1 || n > 4 {
			t.Errorf("server accepted %d connections for 4 concurrent first requests, want 1 to 4", n)
		}
	})
}

// concurrentFirstRequests sends four requests at once from a new client and returns how many
// connections the server accepted.
func concurrentFirstRequests(t *testing.T, http2 bool) int32 {
	t.Helper()
	_, conns, cfg := tlsServer(t, http2)
	c, err := kubeclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	calls := []func() error{
		func() error { _, err := c.GetPod(ctx, "default", "src"); return err },
		func() error { _, err := c.GetNode(ctx, "node-2"); return err },
		func() error { _, err := c.ListPods(ctx, "", metav1.ListOptions{}); return err },
		func() error { _, err := c.ListNodes(ctx, metav1.ListOptions{}); return err },
	}
	start := make(chan struct{})
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() {
			<-start
			errs[i] = call()
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	return conns.Load()
}

// doneSignal is a context that says when someone first waits on it.
type doneSignal struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (d *doneSignal) Done() <-chan struct{} {
	d.once.Do(func() { close(d.waiting) })
	return d.Context.Done()
}

// A request waiting for the first one's connection gives up when its context ends, with the
// context's error, while the first is still dialing; the first then completes on its connection.
func TestWaitingRequestEndsWithItsContext(t *testing.T) {
	_, conns, cfg := tlsServer(t, true)
	dialing, release := make(chan struct{}), make(chan struct{})
	var dials atomic.Int32
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			close(dialing)
			<-release
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	c, err := kubeclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { _, err := c.GetPod(t.Context(), "default", "src"); first <- err }()
	<-dialing

	// The client's own http.Client, so nothing above the transport looks at the context first.
	hc := c.CoreV1().RESTClient().(*rest.RESTClient).Client
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	waitCtx := &doneSignal{Context: ctx, waiting: make(chan struct{})}
	req, err := http.NewRequestWithContext(waitCtx, http.MethodGet, cfg.Host+"/api/v1/nodes/node-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		resp, err := hc.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		second <- err
	}()
	<-waitCtx.waiting
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("waiting request ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting request still running 10s after its context was cancelled (the first is held in dial)")
	}

	close(release)
	if err := <-first; err != nil {
		t.Errorf("first request: %v", err)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1 (the cancelled request must not dial)", n)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("server accepted %d connections, want 1", n)
	}
}
