package cmd

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestMACsLocalWithoutOVSSaysItOnce: on a host without OVS, `macs --local` prints one error line
// (no warning repeating it, nothing glued to it) and exits 3.
func TestMACsLocalWithoutOVSSaysItOnce(t *testing.T) {
	var out, errb strings.Builder
	sock := "unix:" + filepath.Join(t.TempDir(), "db.sock")
	code := Run(context.Background(), []string{"macs", "--local", "--node-name", "n1", "--ovsdb", sock},
		Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errb})
	lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
	if code != ExitNoFacts || len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") || strings.Count(lines[0], "cannot reach ovsdb-server") != 1 || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 3 and one line saying OVS is not reachable", code, out.String(), errb.String())
	}
}
