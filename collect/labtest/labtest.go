// Package labtest decides whether a test that needs real components (root, network namespaces,
// OVS, OVN, kube-apiserver) can run: in CI (CI=true) a missing component fails the test, on a
// laptop it skips with a message saying how to run it.
package labtest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI, where nothing may skip silently.
func InCI() bool {
	v := os.Getenv("CI")
	return v == "true" || v == "1"
}

// Unavailable fails the test in CI and skips it elsewhere, with how to get the component.
func Unavailable(t testing.TB, what, how string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is not available in CI (CI=true): %s", what, how)
	}
	t.Skipf("skipping: %s is not available; %s", what, how)
}

// SkipShort skips a test that starts real components (a lab, kube-apiserver) under -short, even
// in CI: -short asks for the tests that need nothing but Go.
func SkipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipping under -short: needs %s (run without -short)", what)
	}
}

// RequireRoot needs uid 0 (network namespaces, OVS); it is a lab test, skipped under -short.
func RequireRoot(t testing.TB) {
	t.Helper()
	SkipShort(t, "root and a lab")
	if os.Geteuid() != 0 {
		Unavailable(t, "root", "run the lab tests as root: sudo -E make test (or sudo -E go test ./...)")
	}
}

// RequireBinaries needs the named programs on PATH.
func RequireBinaries(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Unavailable(t, n, "install the Debian packages openvswitch-switch ovn-central ovn-host iproute2 traceroute (see .ci/run)")
		}
	}
}

// ProcsWith returns the pids of the processes whose command line contains marker (Linux /proc),
// for the tests that prove no process is left behind.
func ProcsWith(marker string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(marker)) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// OVSDBServer runs a real ovsdb-server (no root) serving a new database of schema (a .ovsschema
// path) on a unix socket under a temporary directory, stopped when the test ends; it returns the
// socket's path once the server listens.
func OVSDBServer(t testing.TB, schema string) string {
	t.Helper()
	RequireBinaries(t, "ovsdb-server", "ovsdb-tool")
	dir := t.TempDir()
	db, sock := filepath.Join(dir, "db"), filepath.Join(dir, "db.sock")
	if out, err := exec.Command("ovsdb-tool", "create", db, schema).CombinedOutput(); err != nil {
		t.Fatalf("ovsdb-tool create %s: %v\n%s", schema, err, out)
	}
	srv := exec.Command("ovsdb-server", "--remote=punix:"+sock, "--unixctl="+filepath.Join(dir, "ctl"), "--no-chdir", db)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatal("ovsdb-server did not listen within 10 s")
		}
	}
}

// ServeUnix listens on a new unix socket (under a short temporary directory: a socket's path is
// limited to 108 bytes) and serves it as Serve does. It returns the socket's path and the
// listener, for a test that stops accepting early.
func ServeUnix(t testing.TB, serve func(net.Conn)) (string, net.Listener) {
	t.Helper()
	dir, err := os.MkdirTemp("", "pwsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	Serve(t, ln, serve)
	return sock, ln
}

// Serve hands each connection ln accepts to serve, each on its own goroutine. When the test ends
// the listener closes, then every connection it accepted.
func Serve(t testing.TB, ln net.Listener, serve func(net.Conn)) {
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}
