package ovs

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// fakeDaemon listens on a unix socket and handles each connection with serve; it is closed, and
// its connections with it, when the test ends.
func fakeDaemon(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	sock, _ := labtest.ServeUnix(t, serve)
	return sock
}

// readRequest reads the one JSON-RPC request line.
func readRequest(c net.Conn) { _, _ = bufio.NewReader(c).ReadString('\n') }

func TestUnixctlFaults(t *testing.T) {
	old := MaxReply
	MaxReply = 1 << 20
	defer func() { MaxReply = old }()

	missing := filepath.Join(t.TempDir(), "none.ctl")
	for _, tc := range []struct {
		name    string
		serve   func(c net.Conn)
		timeout time.Duration
		want    string // SOCK stands for the socket
	}{
		{"socket missing", nil, time.Second,
			"cannot reach ovs-vswitchd at SOCK: socket does not exist (is OVS running? pass the socket path)"},
		{"closes at once", func(c net.Conn) { readRequest(c); c.Close() }, time.Second,
			"ovs-vswitchd SOCK: the connection closed before the answer to fdb/show was complete"},
		{"closes mid-answer", func(c net.Conn) { readRequest(c); c.Write([]byte(`{"id":0,"result":" port  VLAN`)); c.Close() }, time.Second,
			"ovs-vswitchd SOCK: the connection closed before the answer to fdb/show was complete"},
		{"never answers", func(c net.Conn) { readRequest(c) }, 300 * time.Millisecond,
			"ovs-vswitchd SOCK: reading the answer to fdb/show: no answer within 300ms (is ovs-vswitchd hung?)"},
		{"never reads", func(c net.Conn) {}, 300 * time.Millisecond,
			"ovs-vswitchd SOCK: reading the answer to fdb/show: no answer within 300ms (is ovs-vswitchd hung?)"},
		{"answers without end", func(c net.Conn) {
			readRequest(c)
			c.Write([]byte(`{"id":0,"result":"`))
			chunk := []byte(strings.Repeat("a", 64<<10))
			for {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}, 5 * time.Second,
			"ovs-vswitchd SOCK: the answer to fdb/show is larger than 1 MiB: not read"},
		{"not JSON-RPC", func(c net.Conn) { readRequest(c); c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")); c.Close() }, time.Second,
			"ovs-vswitchd SOCK: the answer to fdb/show is not JSON-RPC: invalid character 'H' looking for beginning of value"},
		{"error over lines", func(c net.Conn) {
			readRequest(c)
			c.Write([]byte(`{"id":0,"result":null,"error":"no such bridge\nbr-x\n"}`))
		}, time.Second,
			"ovs-vswitchd SOCK: fdb/show br-int: no such bridge br-x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := missing
			if tc.serve != nil {
				sock = fakeDaemon(t, tc.serve)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			start := time.Now()
			_, err := Unixctl(ctx, sock, "fdb/show", "br-int")
			want := strings.ReplaceAll(tc.want, "SOCK", sock)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant   %s", err, want)
			}
			if el := time.Since(start); el > tc.timeout+time.Second {
				t.Errorf("took %s, past the %s deadline", el, tc.timeout)
			}
		})
	}
}

// TestUnixctlCancel: Ctrl-C while ovs-vswitchd does not answer returns at once, not at the deadline.
func TestUnixctlCancel(t *testing.T) {
	got := make(chan struct{})
	sock := fakeDaemon(t, func(c net.Conn) { readRequest(c); close(got) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() { <-got; cancel() }()
	start := time.Now()
	_, err := Unixctl(ctx, sock, "fdb/show", "br-int")
	if want := "ovs-vswitchd " + sock + ": reading the answer to fdb/show: interrupted"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("cancel took %s", el)
	}
}

// TestReadMACTablesHungDaemon: a hung ovs-vswitchd costs one MAC table warning within the timeout.
func TestReadMACTablesHungDaemon(t *testing.T) {
	sock := fakeDaemon(t, func(c net.Conn) { readRequest(c) })
	_, err := ReadMACTables(context.Background(), Options{VswitchdCtl: sock, Timeout: 200 * time.Millisecond}, []trace.Bridge{{Name: "br-int"}})
	want := "MAC table not read: ovs-vswitchd " + sock + ": reading the answer to fdb/show: no answer within 200ms (is ovs-vswitchd hung?)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant   %s", err, want)
	}
}

// TestReadDBFaults: an ovsdb-server socket that is missing, closes on connect, or never answers
// gives one clear error within the timeout, and leaves no goroutine behind.
func TestReadDBFaults(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name  string
		serve func(c net.Conn)
		want  string
	}{
		{"closes at once", func(c net.Conn) { c.Close() },
			"cannot reach ovsdb-server at unix:SOCK: the connection closed during the handshake (is it an ovsdb-server socket?)"},
		{"closes mid-transaction", func(c net.Conn) { readRequest(c); c.Write([]byte(`{"id":`)); c.Close() },
			"cannot reach ovsdb-server at unix:SOCK: the connection closed during the handshake (is it an ovsdb-server socket?)"},
		{"never answers", func(c net.Conn) { readRequest(c) },
			"cannot reach ovsdb-server at unix:SOCK: no answer within 500ms (is ovsdb-server hung?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := fakeDaemon(t, tc.serve)
			start := time.Now()
			_, err := ReadDB(context.Background(), Options{DB: "unix:" + sock, Timeout: 500 * time.Millisecond})
			want := strings.ReplaceAll(tc.want, "SOCK", sock)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant   %s", err, want)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("took %s with a 500ms timeout", el)
			}
		})
	}
	settleGoroutines(t, before)
}

// settleGoroutines waits (up to a deadline) for the goroutine count to come back to before.
func settleGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
