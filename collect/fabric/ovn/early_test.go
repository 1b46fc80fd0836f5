package ovn_test

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn"
)

// countingProxy forwards a unix socket to target and counts the connections it accepted; each
// accepted connection's client side is sent on conns (so a test can close it), and closed is
// told when the client closed one.
type countingProxy struct {
	path   string
	ln     net.Listener
	conns  chan net.Conn
	closed chan struct{}
	mu     sync.Mutex
	n      int
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	p := &countingProxy{conns: make(chan net.Conn, 8), closed: make(chan struct{}, 8)}
	p.path, p.ln = proxy(t, target, func(c, s net.Conn) {
		p.mu.Lock()
		p.n++
		p.mu.Unlock()
		p.conns <- c
		go func() { _, _ = io.Copy(s, c); s.Close(); p.closed <- struct{}{} }()
		go func() { _, _ = io.Copy(c, s); c.Close() }()
	})
	return p
}

func (p *countingProxy) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// waitPrepared polls until Prepare's connection is made and up (up) or is no longer up, and
// fails with what after 10 s.
func waitPrepared(t *testing.T, prov fabric.Provider, up bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ovn.PreparedConnected(prov) != up; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s within 10 s", what)
		}
	}
}

func waitFor(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s within 10 s", what)
	}
}

// prepared is a provider on NB through a counting proxy, Prepare called: its release, and the
// proxy's end of the connection Prepare made.
func prepared(t *testing.T) (*countingProxy, fabric.Provider, func(), net.Conn) {
	t.Helper()
	px := newCountingProxy(t, startNB(t))
	prov, err := ovn.New(ovn.Config{NB: "unix:" + px.path, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	release := prov.(fabric.Preparer).Prepare(context.Background())
	select {
	case c := <-px.conns:
		return px, prov, release, c
	case <-time.After(10 * time.Second):
		release()
		t.Fatal("Prepare did not connect within 10 s")
	}
	return nil, nil, nil, nil
}

// TestPrepareConnectsAheadOfCollect: Prepare connects to the Northbound database at once, and the
// Collect that follows reads over that connection: with the database no longer accepting new
// connections once Prepare's is made, Collect still reads it.
func TestPrepareConnectsAheadOfCollect(t *testing.T) {
	px, prov, release, _ := prepared(t)
	defer release()
	px.ln.Close() // no second connection can be made from here on
	f, _, err := prov.Collect(context.Background(), fabric.Query{All: true})
	if err != nil {
		t.Fatalf("Collect after Prepare: %v", err)
	}
	if len(f.Switches) < 200 {
		t.Errorf("Collect read %d switches over the prepared connection, want the 200 made", len(f.Switches))
	}
	if n := px.accepted(); n != 1 {
		t.Errorf("%d connections to NB, want Prepare's one", n)
	}
	waitFor(t, "Collect did not close the prepared connection", px.closed)
}

// TestPrepareReleaseClosesAnUnusedConnection: a walk that ends before its fabric read (a pod that
// does not exist) leaves no connection open.
func TestPrepareReleaseClosesAnUnusedConnection(t *testing.T) {
	px, _, release, _ := prepared(t)
	release()
	waitFor(t, "release did not close the prepared connection", px.closed)
	if n := px.accepted(); n != 1 {
		t.Errorf("%d connections to NB, want Prepare's one", n)
	}
}

// TestPreparedConnectionDroppedIsMadeAnew: a prepared connection that dropped while the nodes
// were read (an NB leader change, a restart) is not used: Collect connects again and reads.
func TestPreparedConnectionDroppedIsMadeAnew(t *testing.T) {
	px, prov, release, first := prepared(t)
	defer release()
	// Wait until the client is connected (its schema read), then drop it.
	waitPrepared(t, prov, true, "the prepared client did not connect")
	first.Close()
	waitPrepared(t, prov, false, "the prepared client did not see its connection drop")
	f, _, err := prov.Collect(context.Background(), fabric.Query{All: true})
	if err != nil {
		t.Fatalf("Collect after the prepared connection dropped: %v", err)
	}
	if len(f.Switches) < 200 {
		t.Errorf("Collect read %d switches, want the 200 made", len(f.Switches))
	}
	if n := px.accepted(); n != 2 {
		t.Errorf("%d connections to NB, want 2 (Prepare's, dropped, and a new one)", n)
	}
}

// TestReleaseDoesNotWaitForAHungDial: a walk that fails before its fabric read (a pod that does
// not exist) ends at once even when the NB connection Prepare started hangs (the server accepts
// and never answers); the hung connection is closed.
func TestReleaseDoesNotWaitForAHungDial(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "hung.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted, closed := make(chan struct{}), make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		close(accepted)
		_, _ = io.Copy(io.Discard, c) // never answers; returns when the client closes
		close(closed)
	}()
	prov, err := ovn.New(ovn.Config{NB: "unix:" + sock, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	release := prov.(fabric.Preparer).Prepare(context.Background())
	waitFor(t, "Prepare did not connect", accepted)
	done := make(chan struct{})
	go func() { release(); close(done) }()
	waitFor(t, "release still waits for the hung dial", done)
	waitFor(t, "the hung connection was not closed", closed)
}
