package runner_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

func readSnapshot(s **trace.Snapshot) func(io.Reader) error {
	return func(r io.Reader) (err error) {
		*s, err = trace.ReadSnapshot(r, "from the node")
		return err
	}
}

// TestStreamGarbageFailsOnItsFirstBytes: a node that prints garbage and keeps going is stopped as
// soon as the decoder sees the garbage, not when it finishes or the deadline passes.
func TestStreamGarbageFailsOnItsFirstBytes(t *testing.T) {
	labtest.RequireBinaries(t, "sh", "sleep")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var s *trace.Snapshot
		done <- runner.Local{}.Stream(ctx, runner.Node{}, []string{"sh", "-c", "echo '<html>'; exec sleep 60"}, readSnapshot(&s))
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not valid JSON: invalid character '<'") {
			t.Errorf("Stream = %v, want the JSON error on the first byte", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Stream still waits for a node whose first byte was garbage")
	}
}

// TestStreamStopsAtTheLimit: decoding stops at MaxOutput with one line naming the limit.
func TestStreamStopsAtTheLimit(t *testing.T) {
	labtest.RequireBinaries(t, "sh", "yes", "tr")
	defer func(m int64) { runner.MaxOutput = m }(runner.MaxOutput)
	runner.MaxOutput = 1 << 20
	var s *trace.Snapshot
	endless := `printf '{"apiVersion": "'; yes aaaaaaaa | tr -d '\n'` // valid JSON so far, forever
	err := runner.Local{}.Stream(context.Background(), runner.Node{}, []string{"sh", "-c", endless}, readSnapshot(&s))
	if err == nil || !strings.HasPrefix(err.Error(), "sh -c ") || !strings.HasSuffix(err.Error(), ": printed more than 1 MiB: stopped") {
		t.Errorf("Stream = %v, want the limit named", err)
	}
	// A failing command is its exit, whatever the decoder thought of its (empty) output.
	err = runner.Local{}.Stream(context.Background(), runner.Node{}, []string{"no-such-program-pw"}, readSnapshot(&s))
	if !runner.IsNotFound(err) {
		t.Errorf("missing program: %v", err)
	}
}

// bigSnapshot writes a node snapshot of about size bytes: many pod namespaces, as `collect node`
// prints them.
func bigSnapshot(tb testing.TB, size int) string {
	tb.Helper()
	f := filepath.Join(tb.TempDir(), "node.json")
	st := trace.NodeState{Name: "n1"}
	one := func(i int) trace.Netns {
		return trace.Netns{Name: fmt.Sprintf("cni-%08d-aaaa-bbbb-cccc-dddddddddddd", i), Inode: uint64(4026532000 + i),
			Links:     []trace.Link{{Index: 1, Name: "lo", Kind: "loopback"}, {Index: 3, Name: "eth0", Kind: "veth", MAC: "02:00:00:00:00:01", MTU: 1500, OperState: "up", AdminUp: true}},
			Addresses: []trace.Address{{Link: "eth0", CIDR: fmt.Sprintf("10.%d.%d.%d/24", i>>16&255, i>>8&255, i&255)}},
			Routes:    []trace.Route{{Dst: "default", Gateway: "10.0.0.1", Dev: "eth0"}, {Dst: "10.0.0.0/24", Dev: "eth0", Scope: "link"}},
			Neighbors: []trace.Neighbor{{IP: "10.0.0.1", MAC: "02:50:56:56:44:52", Dev: "eth0", State: "reachable"}}}
	}
	b, _ := json.MarshalIndent(one(0), "        ", "  ")
	for i := 0; i < size/len(b); i++ {
		st.Netns = append(st.Netns, one(i))
	}
	w, err := os.Create(f)
	if err != nil {
		tb.Fatal(err)
	}
	bw := bufio.NewWriter(w)
	if err := trace.WriteSnapshot(bw, &trace.Snapshot{APIVersion: trace.APIVersion, Nodes: []trace.NodeState{st}}); err != nil {
		tb.Fatal(err)
	}
	bw.Flush()
	w.Close()
	return f
}

// peakHeap samples the live heap while do runs and returns its peak above the start.
func peakHeap(do func()) uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(s); return s[0].Value.Uint64() }
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	do()
	close(stop)
	<-sampled
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

// BenchmarkNodeOutput100MB reads a 100 MB `collect node` answer the way the native backend does:
// streamed into the decoder, against the old way (held whole, then decoded). peak-MB is the live
// heap's peak above the start, the number that multiplies by the nodes read at once.
func BenchmarkNodeOutput100MB(b *testing.B) {
	f := bigSnapshot(b, 100<<20)
	fi, _ := os.Stat(f)
	b.Logf("output: %d MB", fi.Size()>>20)
	argv := []string{"cat", f}
	for _, bc := range []struct {
		name string
		read func() error
	}{
		{"streamed", func() error {
			var s *trace.Snapshot
			return runner.Local{}.Stream(context.Background(), runner.Node{}, argv, readSnapshot(&s))
		}},
		{"buffered", func() error {
			out, err := runner.Local{}.Run(context.Background(), runner.Node{}, argv)
			if err != nil {
				return err
			}
			_, err = trace.ReadSnapshot(bytes.NewReader(out), "from the node")
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(fi.Size())
			var peak uint64
			for b.Loop() {
				var err error
				if p := peakHeap(func() { err = bc.read() }); p > peak {
					peak = p
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
			b.ReportMetric(float64(peak)/float64(fi.Size()), "peak/output")
		})
	}
}
