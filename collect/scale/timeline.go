// Package scale is the scale harness: it generates a cluster and an NSX-like fabric of a chosen
// size (scenario.Synthetic), serves them from test servers that speak the real protocols (a
// Kubernetes API test server for client-go, the NSX Manager API test server, and an emulated node
// behind the real --node-exec runner), each with an injected round-trip latency and counted
// requests and bytes, runs the built kubectl-packetwalk binary against them, and reports per
// operation the wall time, the requests on the critical path and in total, the bytes read and the
// peak RSS. `make bench` writes the numbers to testdata/bench/results.md.
package scale

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Call is one request a server answered (or one command a node ran): when it arrived, when its
// answer was written, and how many bytes the answer had.
type Call struct {
	// Source is "kube", "nsx" or "node".
	Source     string
	What       string
	Start, End time.Time
	Bytes      int64
}

// Timeline collects the calls of every server of one run. It is safe for concurrent use.
type Timeline struct {
	mu    sync.Mutex
	calls []Call
}

// Add records a call.
func (t *Timeline) Add(c Call) {
	t.mu.Lock()
	t.calls = append(t.calls, c)
	t.mu.Unlock()
}

// Reset forgets every call.
func (t *Timeline) Reset() {
	t.mu.Lock()
	t.calls = nil
	t.mu.Unlock()
}

// Calls returns the calls so far, sorted by start.
func (t *Timeline) Calls() []Call {
	t.mu.Lock()
	out := append([]Call(nil), t.calls...)
	t.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// CriticalPath is the length of the longest chain of strictly sequential calls: each call of the
// chain starts after (or when) the previous one ended. Calls that overlap count once: it is the
// number of round trips a run waited for one after the other, whatever ran beside them.
func CriticalPath(calls []Call) int {
	type ev struct {
		at  time.Time
		end bool
		i   int
	}
	evs := make([]ev, 0, 2*len(calls))
	for i, c := range calls {
		evs = append(evs, ev{c.Start, false, i}, ev{c.End, true, i})
	}
	// In time order; at equal times ends first, so a call starting as another ends follows it.
	sort.Slice(evs, func(a, b int) bool {
		if !evs[a].at.Equal(evs[b].at) {
			return evs[a].at.Before(evs[b].at)
		}
		return evs[a].end && !evs[b].end
	})
	chain := make([]int, len(calls))
	ended, best := 0, 0
	for _, e := range evs {
		if e.end {
			ended = max(ended, chain[e.i])
			continue
		}
		chain[e.i] = ended + 1
		best = max(best, chain[e.i])
	}
	return best
}

// Totals sums the calls per source: requests and bytes.
func Totals(calls []Call) (reqs map[string]int, bytes map[string]int64) {
	reqs, bytes = map[string]int{}, map[string]int64{}
	for _, c := range calls {
		reqs[c.Source]++
		bytes[c.Source] += c.Bytes
	}
	return reqs, bytes
}

// CriticalChain is one longest chain of strictly sequential calls (see CriticalPath), in order.
func CriticalChain(calls []Call) []Call {
	cs := append([]Call(nil), calls...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Start.Before(cs[j].Start) })
	// depth[i] = longest chain ending with call i; prev[i] = the call before it in that chain.
	depth, prev := make([]int, len(cs)), make([]int, len(cs))
	best := -1
	for i, c := range cs {
		depth[i], prev[i] = 1, -1
		for j := 0; j < i; j++ {
			if !cs[j].End.After(c.Start) && depth[j]+1 > depth[i] {
				depth[i], prev[i] = depth[j]+1, j
			}
		}
		if best < 0 || depth[i] > depth[best] {
			best = i
		}
	}
	var out []Call
	for i := best; i >= 0; i = prev[i] {
		out = append(out, cs[i])
	}
	for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
		out[a], out[b] = out[b], out[a]
	}
	return out
}

// WriteTimeline writes calls one a line (start and end in ms from the first start, source, bytes,
// what), then the critical chain: what `-scale.timeline` leaves for a developer to read.
func WriteTimeline(w io.Writer, calls []Call) {
	if len(calls) == 0 {
		return
	}
	cs := append([]Call(nil), calls...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Start.Before(cs[j].Start) })
	t0 := cs[0].Start
	line := func(c Call) {
		fmt.Fprintf(w, "%9.1f %9.1f  %-4s %9d  %s\n", ms64(c.Start.Sub(t0)), ms64(c.End.Sub(t0)), c.Source, c.Bytes, c.What)
	}
	for _, c := range cs {
		line(c)
	}
	chain := CriticalChain(cs)
	fmt.Fprintf(w, "\n# critical chain: %d calls\n", len(chain))
	for _, c := range chain {
		line(c)
	}
}

func ms64(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// metered serves next after latency (cut short when the client goes or done closes; nil done
// never closes) and records each request on tl as a call of source, with the bytes answered.
func metered(source string, latency time.Duration, done <-chan struct{}, tl *Timeline, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-done:
				t.Stop()
				return
			}
		}
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if tl != nil {
			tl.Add(Call{Source: source, What: r.Method + " " + r.URL.RequestURI(), Start: start, End: time.Now(), Bytes: cw.n})
		}
	})
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}
