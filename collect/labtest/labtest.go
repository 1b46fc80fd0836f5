// Package labtest decides whether a test that needs real components (root, network namespaces,
// OVS, OVN, kube-apiserver) can run: in CI (CI=true) a missing component fails the test, on a
// laptop it skips with a message saying how to run it.
package labtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
