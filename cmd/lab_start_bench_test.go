package cmd_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
)

var writeStart = flag.Bool("write-start", false, "BenchmarkLabStart: write its numbers into testdata/bench/results.md (make bench)")

// labStartMarker opens the section of results.md this benchmark writes (the scale report keeps it).
const labStartMarker = "<!-- lab-start: written by BenchmarkLabStart (cmd) -->"

// run1 runs argv once through the rusage helper and returns its wall time and peak RSS (getrusage
// of the process and its children). Through the helper, not straight from this test: a Go parent
// starts children with vfork, and the kernel then counts the parent's resident set as the child's.
func run1(b *testing.B, env []string, rusage string, argv ...string) (time.Duration, int64) {
	b.Helper()
	c := exec.Command(rusage, argv...)
	c.Env = env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		b.Fatalf("%s: %v\n%s%s", strings.Join(argv, " "), err, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	var wall, kb int64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "rusage: wall-ns=%d maxrss-kb=%d", &wall, &kb); err != nil {
		b.Fatalf("%s: rusage line %q: %v", strings.Join(argv, " "), lines[len(lines)-1], err)
	}
	return time.Duration(wall), kb << 10
}

// BenchmarkLabStart walks kube-dns to node 172.15.0.4 on the lab, live (the API server, the two
// nodes through --node-exec with our binary, the OVN Northbound database), beside `ovn-trace` of
// the same flow on the lab's Southbound database, one after the other in each iteration. It reports
// both wall times, their ratio and both peak RSS; the target is a walk within 1.5x of ovn-trace and
// at most 48 MB.
func BenchmarkLabStart(b *testing.B) {
	l := startE2ELab(b)
	labtest.RequireBinaries(b, "ovn-trace")
	rusage := filepath.Join(b.TempDir(), "rusage")
	if out, err := exec.Command("go", "build", "-o", rusage, "../testdata/bench/rusage").CombinedOutput(); err != nil {
		b.Fatalf("go build rusage: %v\n%s", err, out)
	}
	kubeDNS, _ := l.publishedPods()
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KUBECONFIG=") {
			env = append(env, e)
		}
	}
	walk := append([]string{l.bin, "trace", kubeDNS.ref(), "--to", "node/172.15.0.4", "-o", "json"}, l.live("native")...)
	flow := fmt.Sprintf(`inport == "kube-system_kube-dns" && eth.src == %s && eth.dst == %s && ip4.src == %s && ip4.dst == 172.15.0.4 && ip.ttl == 64 && icmp4.type == 8`,
		kubeDNS.MAC, l.facts.RouterMAC, kubeDNS.IP)
	ovnTrace := []string{"ovn-trace", "--db=" + l.facts.Hypervisor.SB, "ls-kube-system", flow}
	// The binary as read from disk (as after an install or a reboot, like ovn-trace's), not the
	// pages `go build` just wrote: the kernel maps a fresh write's large folios whole, which
	// would count most of the binary as resident.
	if f, err := os.Open(l.bin); err == nil {
		_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
	}
	// Once each before timing: page cache and the API server's caches warm, as for a user's second run.
	run1(b, env, rusage, walk...)
	run1(b, env, rusage, ovnTrace...)
	// A sub-benchmark, so that the lab comes up once however many times the loop is sized.
	b.Run("walk-vs-ovn-trace", func(b *testing.B) {
		var walks, traces []time.Duration
		var walkRSS, traceRSS int64
		for range b.N {
			d, rss := run1(b, env, rusage, walk...)
			walks, walkRSS = append(walks, d), max(walkRSS, rss)
			d, rss = run1(b, env, rusage, ovnTrace...)
			traces, traceRSS = append(traces, d), max(traceRSS, rss)
		}
		b.StopTimer()
		w, o := median(walks), median(traces)
		b.ReportMetric(float64(w)/1e6, "walk-ms")
		b.ReportMetric(float64(o)/1e6, "ovn-trace-ms")
		b.ReportMetric(float64(w)/float64(o), "walk/ovn-trace")
		b.ReportMetric(float64(walkRSS)/(1<<20), "walk-RSS-MB")
		b.ReportMetric(float64(traceRSS)/(1<<20), "ovn-trace-RSS-MB")
		if *writeStart && b.N > 1 {
			writeStartResults(b, len(walks), w, o, walkRSS, traceRSS)
		}
	})
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// writeStartResults replaces the lab start-up section at the end of testdata/bench/results.md.
func writeStartResults(b *testing.B, runs int, walk, trace time.Duration, walkRSS, traceRSS int64) {
	path := filepath.Join("..", "testdata", "bench", "results.md")
	old, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	head := string(old)
	if i := strings.Index(head, labStartMarker); i >= 0 {
		head = head[:i]
	}
	ok := func(v bool) string {
		if v {
			return "met"
		}
		return "NOT met"
	}
	var s strings.Builder
	fmt.Fprintf(&s, "%s\n## Start-up: a live walk on the lab against ovn-trace\n\n", labStartMarker)
	fmt.Fprintf(&s, "Generated by `make bench` (`go test ./cmd -run '^$' -bench LabStart -args -write-start`); do not edit by hand.\n\n")
	fmt.Fprintf(&s, "`kubectl-packetwalk trace kube-system/kube-dns --to node/172.15.0.4` live on the lab (kube-apiserver, both nodes through\n")
	fmt.Fprintf(&s, "`--node-exec` with our `collect node`, `--fabric ovn --ovn-nb`) against `ovn-trace` of the same flow (kube-dns's port, MAC and IP to\n")
	fmt.Fprintf(&s, "172.15.0.4, ICMP echo, TTL 64) on the lab's Southbound database; %d runs of each, alternating, after one warm-up run:\n", runs)
	fmt.Fprintf(&s, "median wall time, peak RSS (getrusage, through testdata/bench/rusage) of the largest run. The binary is read from disk (its page cache dropped first),\n")
	fmt.Fprintf(&s, "as ovn-trace's is: a binary `go build` has just written is mapped in large folios and counts almost whole as resident.\n")
	fmt.Fprintf(&s, "The walk's binary is built as `make dist` builds a release (`CGO_ENABLED=0`, `-trimpath -ldflags '-s -w'`).\n\n")
	fmt.Fprintf(&s, "| | wall (median) | peak RSS |\n|---|---:|---:|\n")
	fmt.Fprintf(&s, "| walk | %.0f ms | %.1f MB |\n", float64(walk)/1e6, float64(walkRSS)/(1<<20))
	fmt.Fprintf(&s, "| ovn-trace | %.0f ms | %.1f MB |\n\n", float64(trace)/1e6, float64(traceRSS)/(1<<20))
	fmt.Fprintf(&s, "Walk / ovn-trace: %.2fx (target ≤ 1.5x: %s); walk peak RSS %.1f MB (target ≤ 48 MB: %s).\n",
		float64(walk)/float64(trace), ok(float64(walk) <= 1.5*float64(trace)), float64(walkRSS)/(1<<20), ok(walkRSS <= 48<<20))
	if err := os.WriteFile(path, []byte(strings.TrimRight(head, "\n")+"\n\n"+s.String()), 0o644); err != nil {
		b.Fatal(err)
	}
}
