package scale

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
)

var (
	write      = flag.Bool("write", false, "run the harness at both sizes and write testdata/bench/results.md (make bench)")
	latency    = flag.Duration("scale.latency", 20*time.Millisecond, "round-trip latency injected on every request")
	largeNodes = flag.Int("scale.nodes", Large.Nodes, "nodes of the large size")
	ops        = flag.String("scale.ops", "", "operations to run, as the results table names them, separated by semicolons (default all)")
	timeline   = flag.String("scale.timeline", "", "directory to write each run's calls and critical chain to (SIZE-OP.txt); without -write, testdata/bench/results.md is left alone")
)

func large() Size {
	z := Large
	z.Nodes = *largeNodes
	return z
}

// selected reports whether op runs: every op without -scale.ops, else those it names (names
// hold commas: the list is separated by semicolons).
func selected(op string) bool {
	if *ops == "" {
		return true
	}
	for _, o := range strings.Split(*ops, ";") {
		if strings.TrimSpace(o) == op {
			return true
		}
	}
	return false
}

func TestMain(m *testing.M) {
	if ran, code := RunNaiveFromEnv(); ran {
		os.Exit(code)
	}
	code := kubetest.Main(m)
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

// TestWriteResults is `make bench`: every operation at the small and the large size, the MAC-table
// parse, and the report written to testdata/bench/results.md.
func TestWriteResults(t *testing.T) {
	if !*write && *timeline == "" {
		t.Skip("the scale harness runs with -write (make bench) or -scale.timeline: it builds the binaries and generates a 5,000-node cluster")
	}
	b := binaries(t)
	rep := &Report{Latency: *latency, Sizes: []Size{SmallAPIServer, Small, large()}, Measures: map[string]map[string]Measure{}, Errors: map[string]map[string]string{},
		Machine: Machine(), KubeAPI: map[string]string{}}
	for _, z := range rep.Sizes {
		rep.Measures[z.Name], rep.Errors[z.Name] = map[string]Measure{}, map[string]string{}
		start := time.Now()
		var api *RealAPI
		if z.RealAPI {
			var stop func()
			if api, stop = realAPI(t); api == nil {
				rep.KubeAPI[z.Name] = "not measured: no kube-apiserver binaries (make kube-bins)"
				continue
			}
			defer stop()
		}
		e, err := Start(z, *latency, b, api)
		if err != nil {
			t.Fatal(err)
		}
		rep.KubeAPI[z.Name] = e.KubeAPI
		t.Logf("%s: %d nodes generated and served by %s in %v", z.Name, z.Nodes, e.KubeAPI, time.Since(start).Round(time.Millisecond))
		for _, op := range Ops {
			if !selected(op) {
				continue
			}
			var runs []Measure
			var err error
			for i := 0; i < Repeats(op) && err == nil; i++ {
				var m Measure
				if m, err = e.RunOp(context.Background(), op); err == nil {
					runs = append(runs, m)
				}
			}
			if err != nil {
				t.Errorf("%s: %v", z.Name, err)
				rep.Errors[z.Name][op] = err.Error()
				continue
			}
			m := Median(runs)
			rep.Measures[z.Name][op] = m
			dumpTimeline(t, z, op, m)
			t.Logf("%s %-28s wall %8v critical %4d requests %v bytes %d rss %s", z.Name, op, m.Wall.Round(time.Millisecond), m.Critical, m.Requests, m.TotalBytes(), mb(m.RSS))
		}
		e.Close()
		if api != nil {
			api.Stop() // not beside the large size's runs on the same cores
		}
		runtime.GC()
		debug.FreeOSMemory()
	}
	d, err := ParseFDBMillion(3)
	if err != nil {
		t.Fatal(err)
	}
	rep.FDBParse, rep.FDBLines = d, 1_000_000
	if !*write {
		return // -scale.timeline alone: the calls are written, the committed results are not touched
	}
	path := filepath.Join("..", "..", "testdata", "bench", "results.md")
	// The lab start-up section (cmd's BenchmarkLabStart writes it) stays as it was.
	var lab string
	if old, err := os.ReadFile(path); err == nil {
		if i := strings.Index(string(old), labStartMarker); i >= 0 {
			lab = "\n" + string(old[i:])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep.Write(f)
	_, _ = f.WriteString(lab)
}

// labStartMarker opens the section of results.md that cmd's BenchmarkLabStart writes.
const labStartMarker = "<!-- lab-start: written by BenchmarkLabStart (cmd) -->"

// BenchmarkScale runs each operation against the small and the large generated cluster and reports
// what one run costs: wall-ms, critical (round trips on the critical path), requests, bytes and
// rss-MB (peak RSS of the tool's process).
func BenchmarkScale(b *testing.B) {
	bin := binaries(b)
	for _, z := range []Size{SmallAPIServer, Small, large()} {
		b.Run(z.Name, func(b *testing.B) {
			var api *RealAPI
			if z.RealAPI {
				var stop func()
				if api, stop = realAPI(b); api == nil {
					b.Skip("no kube-apiserver binaries (make kube-bins)")
				}
				defer stop()
			}
			e, err := Start(z, *latency, bin, api)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			for _, op := range Ops {
				if !selected(op) {
					continue
				}
				b.Run(strings.NewReplacer(" ", "_", ",", "", "(", "", ")", "", ">", "").Replace(op), func(b *testing.B) {
					var last Measure
					for b.Loop() {
						m, err := e.RunOp(context.Background(), op)
						if err != nil {
							b.Fatal(err)
						}
						last = m
					}
					b.ReportMetric(float64(last.Wall)/float64(time.Millisecond), "wall-ms")
					b.ReportMetric(float64(last.Critical), "critical")
					b.ReportMetric(float64(last.Total()), "requests")
					b.ReportMetric(float64(last.TotalBytes()), "bytes")
					b.ReportMetric(float64(last.RSS)/(1<<20), "rss-MB")
				})
			}
		})
	}
}

// BenchmarkParseFDBMillion is the MAC-table target: 1,000,000 fdb/show lines through ovs.ParseFDB.
func BenchmarkParseFDBMillion(b *testing.B) {
	for b.Loop() {
		d, err := ParseFDBMillion(1)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(d)/float64(time.Millisecond), "parse-ms")
	}
}

// realAPI starts a kube-apiserver of the harness's own for the small size (the large one,
// 150,000 pods, is served by the API test server) and returns how to stop it. Without the
// binaries it fails in CI and returns nil elsewhere, saying how to build them.
func realAPI(t testing.TB) (*RealAPI, func()) {
	if _, _, err := kubetest.Binaries(); err != nil {
		if labtest.InCI() {
			t.Fatalf("kube-apiserver is not available in CI (CI=true): %v", err)
		}
		t.Logf("the small size is not measured on a real kube-apiserver: %v", err)
		return nil, func() {}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := kubetest.Start(ctx)
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	var once sync.Once
	stop := func() { once.Do(s.Stop) }
	name := "kube-apiserver"
	if v, err := s.Client().Discovery().ServerVersion(); err == nil {
		name += " " + v.GitVersion
	}
	return &RealAPI{Config: s.Config(), Name: "a real " + name + " (and etcd) behind a proxy that adds the latency", Stop: stop}, stop
}

// dumpTimeline writes a run's calls to -scale.timeline, when it is set.
func dumpTimeline(t testing.TB, z Size, op string, m Measure) {
	if *timeline == "" {
		return
	}
	name := z.Name + "-" + strings.NewReplacer(" ", "_", ",", "", "(", "", ")", "", ">", "", "/", "_").Replace(op) + ".txt"
	f, err := os.Create(filepath.Join(*timeline, name))
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	WriteTimeline(f, m.Calls)
}
