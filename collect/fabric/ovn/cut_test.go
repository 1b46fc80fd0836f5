package ovn_test

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn"
	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
)

// startNB runs a real ovsdb-server serving an OVN_Northbound database on a unix socket (no root).
func startNB(t *testing.T) string {
	t.Helper()
	labtest.RequireBinaries(t, "ovn-nbctl")
	sock := labtest.OVSDBServer(t, "/usr/share/ovn/ovn-nb.ovsschema")
	// Enough rows that one answer spans several reads.
	args := []string{"--db=unix:" + sock, "--timeout=20"}
	for i := range 200 {
		args = append(args, "--", "ls-add", "sw-"+strings.Repeat("x", 40)+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	if out, err := exec.Command("ovn-nbctl", args...).CombinedOutput(); err != nil {
		t.Fatalf("ovn-nbctl: %v\n%s", err, out)
	}
	return sock
}

// cuttingProxy forwards a unix socket to the NB server and, once the client sent a transact,
// passes on a part of the server's next answer and then closes the client's connection: a
// connection cut mid-stream.
func cuttingProxy(t *testing.T, target, method string) string {
	t.Helper()
	path, _ := proxy(t, target, func(c, s net.Conn) {
		var mu sync.Mutex
		transacted := false
		go func() { // client -> server, watching for the transact
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					mu.Lock()
					transacted = transacted || bytes.Contains(buf[:n], []byte(`"`+method+`"`))
					mu.Unlock()
					_, _ = s.Write(buf[:n])
				}
				if err != nil {
					s.Close()
					return
				}
			}
		}()
		go func() { // server -> client, cut half-way through the transact's answer
			buf := make([]byte, 64<<10)
			for {
				n, err := s.Read(buf)
				mu.Lock()
				cut := transacted
				mu.Unlock()
				if cut && n > 0 {
					_, _ = c.Write(buf[:n/2])
					c.Close()
					s.Close()
					return
				}
				if n > 0 {
					_, _ = c.Write(buf[:n])
				}
				if err != nil {
					c.Close()
					return
				}
			}
		}()
	})
	return path
}

// TestCutConnectionIsReportedFast: a Northbound connection cut in the middle of an answer fails
// the read at once, saying the connection was cut, not after --ovn-timeout with "context deadline
// exceeded".
func TestCutConnectionIsReportedFast(t *testing.T) {
	nb := startNB(t)
	for _, m := range []string{"list_dbs", "get_schema", "transact"} {
		t.Run(m, func(t *testing.T) { testCut(t, cuttingProxy(t, nb, m)) })
	}
}

func testCut(t *testing.T, sock string) {
	p, err := ovn.New(ovn.Config{NB: "unix:" + sock, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := p.Collect(context.Background(), fabric.Query{All: true})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "connection was cut") || strings.Contains(err.Error(), "deadline") {
			t.Errorf("Collect = %v, want the cut connection named", err)
		}
	case <-time.After(10 * time.Second): // half the timeout: a hang would wait it all
		t.Fatal("Collect still waits 10 s after the connection was cut")
	}
}

// proxy forwards a new unix socket to the one at target: each connection it accepts is handed,
// with its own connection to target, to serve. It returns the socket's path and its listener.
func proxy(t *testing.T, target string, serve func(client, server net.Conn)) (string, net.Listener) {
	t.Helper()
	return labtest.ServeUnix(t, func(c net.Conn) {
		s, err := net.Dial("unix", target)
		if err != nil {
			c.Close()
			return
		}
		serve(c, s)
	})
}
