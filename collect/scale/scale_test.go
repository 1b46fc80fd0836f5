package scale

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if ran, code := RunNaiveFromEnv(); ran {
		os.Exit(code)
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	binOnce sync.Once
	bins    Binaries
	binErr  error
	binDir  string
)

// binaries builds the tool and the emulated node once per test binary.
func binaries(t testing.TB) Binaries {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "packetwalk-scale-bin-")
		if binErr != nil {
			return
		}
		root, _ := filepath.Abs("../..")
		bins, binErr = Build(context.Background(), root, binDir)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return bins
}

func TestSmoke(t *testing.T) {
	b := binaries(t)
	e, err := Start(Small, 20*time.Millisecond, b)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, op := range Ops {
		m, err := e.RunOp(context.Background(), op)
		t.Logf("%s: wall %v crit %d reqs %v bytes %v rss %.1f MB err %v\n%s", op, m.Wall, m.Critical, m.Requests, m.Bytes, float64(m.RSS)/1e6, err, lastLines(m.Stderr, 3))
	}
}
