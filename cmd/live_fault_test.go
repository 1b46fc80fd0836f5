package cmd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
)

// The fault tests run the CLI against a real API server (kubetest), the NSX test server with
// fault injection, and node commands that hang, and assert what a user sees: the one-line error
// or warnings on stderr, the exit code, and the partial walk on stdout.

const nsxPassword = "pw-NSX-s3cret-7f1c"

var kubeDNSToNode4 = []string{"trace", "-n", "kube-system", "kube-dns", "--to", "node/172.15.0.4"}

// runCtx runs the CLI with ctx and KUBECONFIG set to kubeconfig.
func runCtx(t *testing.T, ctx context.Context, kubeconfig string, args ...string) liveResult {
	t.Helper()
	t.Setenv("KUBECONFIG", kubeconfig)
	var out, errb bytes.Buffer
	code := Run(ctx, args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errb})
	return liveResult{code: code, out: out.String(), err: errb.String()}
}

// writeKubeconfig writes a kubeconfig for server with a bearer token.
func writeKubeconfig(t *testing.T, server, token string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	c := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: %q}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]
current-context: x
`, server, token)
	if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// nsxServer starts the NSX test server with the published fabric and returns the flags that reach it.
func nsxServer(t *testing.T) (*nsxtest.Server, []string) {
	t.Helper()
	top, err := nsxtest.LoadDir("../testdata/nsx/published")
	if err != nil {
		t.Fatal(err)
	}
	s := nsxtest.New(top, nsxtest.Options{Password: nsxPassword})
	t.Cleanup(s.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, s.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NSX_PASSWORD", nsxPassword)
	return s, []string{"--fabric", "nsx", "--nsx-manager", s.URL, "--nsx-ca-file", ca}
}

// stalled listens on loopback and accepts connections that it never answers.
func stalled(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	labtest.Serve(t, l, func(net.Conn) {}) // each connection stays open, unanswered, until the test ends
	return "https://" + l.Addr().String()
}

// stalledHTTP completes TLS handshakes and reads requests, then never answers them.
func stalledHTTP(t *testing.T) string {
	t.Helper()
	stop := make(chan struct{})
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stop); s.Close() })
	return s.URL
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "https://" + addr
}

const (
	cantReach = "error: cannot reach the Kubernetes API server at SERVER: %s (check --kubeconfig/--context and the network, or use --snapshot FILE)\n"
	noAnswer  = "no answer in time (raise --request-timeout if the server is just slow)"
)

// TestFaultAPIServer: an API server that is down or hangs is one line and exit 3, in bounded time.
func TestFaultAPIServer(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() { settle(t, before) }) // runs last: after the test servers are closed
	defer func(d time.Duration) { defaultRequestTimeout = d }(defaultRequestTimeout)
	defaultRequestTimeout = time.Second
	down := closedPort(t)
	slowTCP := stalled(t)
	slowHTTP := stalledHTTP(t)
	for _, tc := range []struct {
		name    string
		server  string
		args    []string
		timeout time.Duration
		code    int
		err     string // DOWN, SLOW stand for the server URL
	}{
		{"down", down, kubeDNSToNode4, 20 * time.Second, ExitNoFacts, fmt.Sprintf(cantReach, "dial tcp HOSTPORT: connect: connection refused")},
		{"accepts, never answers TLS", slowTCP, append(kubeDNSToNode4, "--request-timeout", "1s"), 20 * time.Second, ExitNoFacts, fmt.Sprintf(cantReach, noAnswer)},
		{"answers TLS, never HTTP", slowHTTP, append(kubeDNSToNode4, "--request-timeout", "1s"), 20 * time.Second, ExitNoFacts, fmt.Sprintf(cantReach, noAnswer)},
		// No --request-timeout: the default (30s, 1s here) still ends the walk.
		{"answers TLS, never HTTP, no --request-timeout", slowHTTP, kubeDNSToNode4, 20 * time.Second, ExitNoFacts, fmt.Sprintf(cantReach, noAnswer)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := writeKubeconfig(t, tc.server, "tok")
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			start := time.Now()
			r := runCtx(t, ctx, kc, tc.args...)
			want := strings.ReplaceAll(strings.ReplaceAll(tc.err, "SERVER", tc.server), "HOSTPORT", strings.TrimPrefix(tc.server, "https://"))
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %s", el)
			}
			if r.code != tc.code || r.err != want {
				t.Errorf("exit %d stderr %q\nwant %d %q", r.code, r.err, tc.code, want)
			}
		})
	}
}

// settle waits, up to a deadline, for the goroutines started since before to end.
func settle(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left behind (%d before):\n%s", runtime.NumGoroutine()-before, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// childrenOfTest returns the pids of this test process's live children, but for those in except
// (the API server the tests share).
func childrenOfTest(except map[string]bool) []string {
	var out []string
	me := fmt.Sprint(os.Getpid())
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == me && f[0] != "Z" && !except[e.Name()] {
			out = append(out, e.Name())
		}
	}
	return out
}

// noProcessesLeft waits, up to a deadline, until no process carries marker and the test has no
// child but those it had before.
func noProcessesLeft(t *testing.T, marker string, before map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, c := labtest.ProcsWith(marker), childrenOfTest(before)
		if len(p) == 0 && len(c) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind: %v, children of the test: %v", p, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hangingNodeExec(marker string) string {
	// sh waits on a grandchild that holds stdout: both must be killed.
	return `sh -c 'sleep ` + marker + ` & sleep ` + marker + `; wait'`
}

// TestFaultNodeExecHangs: a node command that never ends is killed at --node-timeout with
// everything it started; the walk is printed with the node's hops unknown, and exits 3.
func TestFaultNodeExecHangs(t *testing.T) {
	srv := kubetest.Get(t)
	publishedCluster(t, srv)
	marker := fmt.Sprintf("%d.%d", 800+os.Getpid()%99, time.Now().UnixNano()%1000000)
	children := set(childrenOfTest(nil))
	start := time.Now()
	r := runCtx(t, context.Background(), srv.Kubeconfig, append(kubeDNSToNode4, "-o", "json", "--node-exec", hangingNodeExec(marker), "--node-timeout", "700ms")...)
	if el := time.Since(start); el > 700*time.Millisecond+5*time.Second {
		t.Errorf("took %s with --node-timeout 700ms", el)
	}
	if r.code != ExitNoFacts {
		t.Errorf("exit %d, want %d", r.code, ExitNoFacts)
	}
	// Each node is asked for the namespaces of the walk's pods on it only (kube-dns's on 172.15.0.3).
	holding := map[string]string{"172.15.0.3": "172.16.1.2", "172.15.0.4": "none"}
	for _, node := range []string{"172.15.0.3", "172.15.0.4"} {
		want := "warning: netlink@" + node + ": node state of " + node + " not collected through --node-exec '" + strings.ReplaceAll(hangingNodeExec(marker), "'", `'\''`) +
			"': no answer within --node-timeout 700ms (sh -c sleep " + marker + " & sleep " + marker + "; wait kubectl-packetwalk collect node --node-name " + node + " --netns-holding " + holding[node] + ": context deadline exceeded)\n"
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks\n%s\ngot\n%s", want, r.err)
		}
	}
	if !strings.Contains(r.out, `"verdict": "unknown"`) || !strings.Contains(r.out, `"ip": "172.16.1.2"`) {
		t.Errorf("want the partial walk with verdict unknown, got\n%s", r.out)
	}
	noProcessesLeft(t, marker, children)
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// TestFaultNSX: the NSX Manager refusing, failing, hanging or answering garbage is one warning
// line naming what to check; the walk is still printed (its fabric hops unknown) and exits 3.
func TestFaultNSX(t *testing.T) {
	srv := kubetest.Get(t)
	publishedCluster(t, srv)
	for _, tc := range []struct {
		name   string
		fault  *nsxtest.Fault
		prefix string
		env    string // NSX_PASSWORD, when not the right one
		args   []string
		want   string // the warning line; HOST stands for the manager's host:port
	}{
		{name: "works", want: ""},
		{name: "wrong password", env: "not-the-password", want: `fabric not read: NSX Manager HOST refused user "admin" (403 Forbidden: Not authorized to perform this operation.): check --nsx-user, the password in $NSX_PASSWORD, and that the user's role may read the API`},
		{name: "401", prefix: "/api/v1/logical-ports", fault: &nsxtest.Fault{Status: http.StatusUnauthorized}, want: `fabric not read: NSX Manager HOST refused user "admin" (401 Unauthorized: Unauthorized): check --nsx-user, the password in $NSX_PASSWORD, and that the user's role may read /api/v1/logical-ports`},
		{name: "403", prefix: "/api/v1/logical-ports", fault: &nsxtest.Fault{Status: http.StatusForbidden}, want: `fabric not read: NSX Manager HOST refused user "admin" (403 Forbidden: Forbidden): check --nsx-user, the password in $NSX_PASSWORD, and that the user's role may read /api/v1/logical-ports`},
		{name: "429", prefix: "/api/v1/logical-ports", fault: &nsxtest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "0"}, args: []string{"--nsx-retries", "1"}, want: "NSX Manager answered GET /api/v1/logical-ports with 429: Too Many Requests (after 2 attempts) (error_code 100)"},
		{name: "500", prefix: "/api/v1/logical-ports", fault: &nsxtest.Fault{Status: http.StatusInternalServerError}, want: "NSX Manager answered GET /api/v1/logical-ports with 500: Internal Server Error (after 1 attempts) (error_code 100)"},
		{name: "503", prefix: "/api/v1/logical-ports", fault: &nsxtest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "0"}, args: []string{"--nsx-retries", "1"}, want: "NSX Manager answered GET /api/v1/logical-ports with 503: Service Unavailable (after 2 attempts) (error_code 100)"},
		{name: "timeout", prefix: "/api/v1/logical-ports", fault: &nsxtest.Fault{Delay: time.Minute}, args: []string{"--nsx-request-timeout", "300ms", "--nsx-retries", "0"}, want: "NSX Manager HOST did not answer GET /api/v1/logical-ports within --nsx-request-timeout 300ms: check the manager's load or raise the timeout"},
		{name: "deadline", prefix: "/api/v1/logical-ports", fault: &nsxtest.Fault{Delay: time.Minute}, args: []string{"--nsx-timeout", "500ms"}, want: "reading GET /api/v1/logical-ports from NSX Manager HOST: the --nsx-timeout deadline (500ms) passed"},
		{name: "truncated page", prefix: "/api/v1/logical-ports", fault: &nsxtest.Fault{Truncate: true}, args: []string{"--nsx-retries", "0"}, want: "NSX Manager's answer to GET /api/v1/logical-ports is not complete JSON after 1 attempts: unexpected EOF"},
		{name: "login page", prefix: "/api/v1/logical-ports", fault: &nsxtest.Fault{ContentType: "text/html"}, want: `NSX Manager answered GET /api/v1/logical-ports with "text/html", not JSON: check that --nsx-manager is the NSX Manager itself, not a proxy or login page`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, flags := nsxServer(t)
			if tc.env != "" {
				t.Setenv("NSX_PASSWORD", tc.env)
			}
			if tc.fault != nil {
				s.Inject(tc.prefix, 1000, *tc.fault)
			}
			args := append(append(append([]string{}, kubeDNSToNode4...), "-o", "json"), flags...)
			start := time.Now()
			r := runCtx(t, context.Background(), srv.Kubeconfig, append(args, tc.args...)...)
			var nsxLines []string
			for _, l := range strings.SplitAfter(r.err, "\n") {
				if strings.HasPrefix(l, "warning: nsx") {
					nsxLines = append(nsxLines, l)
				}
			}
			var want string
			if tc.want != "" {
				want = "warning: nsx: " + strings.ReplaceAll(tc.want, "HOST", strings.TrimPrefix(s.URL, "https://")) + "\n"
			}
			got := strings.Join(nsxLines, "")
			if tc.name == "deadline" && len(nsxLines) == 1 && strings.HasSuffix(got, "the --nsx-timeout deadline (500ms) passed\n") {
				// One deadline for the command: the read in flight when it passed names it (the early
				// read's error is the answer; a second read would spend the deadline again).
				want = got
			}
			if got != want {
				t.Errorf("nsx warnings:\n%s\nwant\n%s", got, want)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %s", el)
			}
			if r.code != ExitNoFacts || !strings.Contains(r.out, `"ip": "172.16.1.2"`) {
				t.Errorf("exit %d, want %d with the walk; stdout\n%s", r.code, ExitNoFacts, r.out)
			}
		})
	}
}

// cancelOnRequest is a RoundTripper that cancels the command's context at the nth API request.
type cancelOnRequest struct {
	rt     http.RoundTripper
	n      int
	seen   int
	mu     sync.Mutex
	cancel context.CancelFunc
}

func (c *cancelOnRequest) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.seen++
	if c.seen == c.n {
		c.cancel()
	}
	c.mu.Unlock()
	return c.rt.RoundTrip(r)
}

// TestFaultInterrupt: Ctrl-C (the context cancelled) during the API reads, the node commands or
// the NSX reads ends trace and check at once with one line, leaving no goroutine and no process
// behind: trace exits 3, check writes its report (every check not run) and exits 1.
func TestFaultInterrupt(t *testing.T) {
	srv := kubetest.Get(t)
	publishedCluster(t, srv)
	children := set(childrenOfTest(nil))
	for _, cmd := range [][]string{kubeDNSToNode4, {"check", "--from", "kube-system/kube-dns", "--to", "node/172.15.0.4"}} {
		for _, at := range []string{"first API request", "second API request", "node command", "NSX read"} {
			t.Run(cmd[0]+" at "+at, func(t *testing.T) {
				before := runtime.NumGoroutine()
				t.Cleanup(func() { settle(t, before) }) // last: after the NSX server is closed
				s, flags := nsxServer(t)
				marker := fmt.Sprintf("%d.%d", 700+os.Getpid()%99, time.Now().UnixNano()%1000000)
				args := append(append(append([]string{}, cmd...), flags...), "--node-exec", hangingNodeExec(marker))
				junit := filepath.Join(t.TempDir(), "junit.xml")
				if cmd[0] == "check" {
					args = append(args, "--junit", junit)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				switch at {
				case "first API request", "second API request":
					n := 1
					if at == "second API request" {
						n = 2
					}
					liveHooks.wrapTransport = func(rt http.RoundTripper) http.RoundTripper { return &cancelOnRequest{rt: rt, n: n, cancel: cancel} }
					defer func() { liveHooks.wrapTransport = nil }()
				case "node command":
					go func() {
						for ctx.Err() == nil && len(labtest.ProcsWith(marker)) < 2 {
							time.Sleep(10 * time.Millisecond)
						}
						cancel()
					}()
				case "NSX read":
					s.Inject("/api/v1/logical-ports", 1000, nsxtest.Fault{Delay: time.Minute})
					go func() {
						for ctx.Err() == nil && s.RequestsByPath()["/api/v1/logical-ports"] == 0 {
							time.Sleep(10 * time.Millisecond)
						}
						cancel()
					}()
				}
				start := time.Now()
				r := runCtx(t, ctx, srv.Kubeconfig, args...)
				if el := time.Since(start); el > 10*time.Second {
					t.Errorf("took %s after Ctrl-C", el)
				}
				if cmd[0] == "check" {
					// check reports what it could name, as not run, and exits 1 (README).
					if r.code != ExitBroken || !strings.HasSuffix(r.err, "error: interrupted while the facts were read: no check ran (context canceled)\n") ||
						!strings.Contains(r.out, "interrupted") {
						t.Errorf("exit %d stdout %q stderr %q, want %d, the report and the interruption", r.code, r.out, r.err, ExitBroken)
					}
					if fi, err := os.Stat(junit); err != nil || fi.Mode().Perm() != 0o644 {
						t.Errorf("--junit after Ctrl-C: %v, mode %v; want the report, readable by the CI's other steps (0644)", err, fi)
					}
				} else if r.code != ExitNoFacts || !strings.HasSuffix(r.err, "error: collection interrupted: context canceled\n") {
					t.Errorf("exit %d stderr %q, want %d and the interruption", r.code, r.err, ExitNoFacts)
				}
				noProcessesLeft(t, marker, children)
			})
		}
	}
}
