package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
)

// waitGone waits, up to a deadline, until no process carries marker.
func waitGone(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := labtest.ProcsWith(marker)
		if len(p) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind: %v", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTemplateHangKilledAtDeadline: a --node-exec command that never ends, and the process it
// started, are killed when the context ends; Run returns within the deadline plus the wait delay.
func TestTemplateHangKilledAtDeadline(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		labtest.Unavailable(t, "/proc", "run the runner tests on Linux")
	}
	labtest.RequireBinaries(t, "sh", "sleep")
	marker := fmt.Sprintf("%d.%d", 900+os.Getpid()%99, time.Now().UnixNano()%1000000)
	// sh starts a grandchild that holds stdout open, then waits: both must go.
	tm, err := NewTemplate(`sh -c 'sleep ` + marker + ` & sleep ` + marker + `; :'`)
	if err != nil {
		t.Fatal(err)
	}
	for _, stop := range []string{"deadline", "cancel"} {
		t.Run(stop, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if stop == "cancel" {
				ctx, cancel = context.WithCancel(context.Background())
				go func() {
					for len(labtest.ProcsWith(marker)) < 2 {
						time.Sleep(10 * time.Millisecond)
					}
					cancel()
				}()
			}
			start := time.Now()
			_, err := tm.Run(ctx, Node{Name: "n1"}, []string{"collect", "node"})
			want := context.DeadlineExceeded
			if stop == "cancel" {
				want = context.Canceled
			}
			if !errors.Is(err, want) || !strings.HasPrefix(err.Error(), "sh -c sleep "+marker) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			if el := time.Since(start); el > 300*time.Millisecond+waitDelay+time.Second {
				t.Errorf("Run returned after %s", el)
			}
			waitGone(t, marker)
		})
	}
}

// TestOutputIsCapped: a command printing without end is stopped at MaxOutput.
func TestOutputIsCapped(t *testing.T) {
	old := MaxOutput
	MaxOutput = 1 << 20
	defer func() { MaxOutput = old }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Local{}.Run(ctx, Node{}, []string{"sh", "-c", "yes 0123456789abcdef"})
	if want := "sh -c yes 0123456789abcdef: printed more than 1 MiB: stopped"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if ctx.Err() != nil {
		t.Fatal("stopped only by the test's deadline")
	}
	waitGone(t, "0123456789abcdef")

	// Exactly at the cap is fine; stderr is kept short for the message.
	out, err := Local{}.Run(ctx, Node{}, []string{"sh", "-c", fmt.Sprintf("head -c %d /dev/zero; head -c 1000000 /dev/zero | tr '\\0' x >&2; exit 3", MaxOutput)})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || len(out) != int(MaxOutput) || len(ee.Stderr) != maxStderr {
		t.Fatalf("got %d bytes, %v (stderr %d bytes)", len(out), err, len(ee.Stderr))
	}
}
