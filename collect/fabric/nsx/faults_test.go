package nsx

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

func collectPublished(t *testing.T, s *nsxtest.Server, mod func(*Config)) (*trace.Fabric, []string, error, []string) {
	t.Helper()
	p, logs := newTestProvider(t, s, mod)
	f, w, err := p.Collect(context.Background(), kubeDNSToNode())
	return f, w, err, *logs
}

func TestSessionExpiryAndXSRFRotationLogInAgain(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	p, _ := newTestProvider(t, s, nil)
	ctx := context.Background()
	if _, _, err := p.Collect(ctx, kubeDNSToNode()); err != nil {
		t.Fatal(err)
	}
	s.ExpireSessions()
	f, _, err := p.Collect(ctx, kubeDNSToNode())
	if err != nil {
		t.Fatalf("after session expiry: %v", err)
	}
	assertPublishedWalk(t, walkWith(t, f))
	s.RotateXSRF()
	if f, _, err = p.Collect(ctx, kubeDNSToNode()); err != nil {
		t.Fatalf("after XSRF rejection: %v", err)
	}
	assertPublishedWalk(t, walkWith(t, f))
	if s.Logins() != 3 || s.Rejected() != 2 {
		t.Fatalf("logins %d, rejected %d: want 3 logins (first, after expiry, after XSRF rejection) and 2 rejections", s.Logins(), s.Rejected())
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	s.Inject("/api/v1/logical-routers/", 2, nsxtest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3"})
	s.Inject("/api/v1/logical-switches/", 1, nsxtest.Fault{Status: http.StatusServiceUnavailable})
	fs := &fakeSleep{}
	f, warns, err, _ := collectPublished(t, s, func(c *Config) { c.Sleep = fs.sleep })
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	assertPublishedWalk(t, walkWith(t, f))
	var threes, others int
	for _, w := range fs.waits {
		if w == 3*time.Second {
			threes++
		} else if w >= 125*time.Millisecond && w <= 250*time.Millisecond {
			others++
		}
	}
	if threes != 2 || others != 1 || len(fs.waits) != 3 {
		t.Fatalf("waits %v: want Retry-After 3s twice and one jittered backoff in [125ms, 250ms]", fs.waits)
	}
}

func TestRetriesGiveUpWithAClearWarning(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	s.Inject("/api/v1/logical-routers/lr-t0/routing/static-routes", 100, nsxtest.Fault{Status: http.StatusServiceUnavailable})
	s.Inject("/api/v1/logical-routers/lr-t1-nodes/routing/advertisement", 100, nsxtest.Fault{Status: http.StatusInternalServerError})
	f, warns, err, _ := collectPublished(t, s, func(c *Config) { c.Retries = 2 })
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(warns, "\n")
	if !strings.Contains(joined, "static-routes with 503") || !strings.Contains(joined, "after 3 attempts") ||
		!strings.Contains(joined, "advertisement with 500") {
		t.Fatalf("warnings %q", warns)
	}
	if n := s.RequestsByPath()["/api/v1/logical-routers/lr-t1-nodes/routing/advertisement"]; n != 1 {
		t.Fatalf("a 500 was asked %d times, want once (not retried)", n)
	}
	// Without the node T1's advertisement the T0 has no route to the node subnet: the walk says so.
	w := walkWith(t, f)
	if w.Verdict != trace.VerdictBroken || !strings.Contains(w.Reason, "no route to 172.15.0.0/24 on router t0") {
		t.Fatalf("verdict %s: %s", w.Verdict, w.Reason)
	}
}

func TestTruncatedBodyIsReadAgain(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	s.Inject("/api/v1/logical-router-ports", 1, nsxtest.Fault{Truncate: true})
	f, warns, err, logs := collectPublished(t, s, nil)
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	assertPublishedWalk(t, walkWith(t, f))
	if !strings.Contains(strings.Join(logs, "\n"), "unreadable") {
		t.Fatalf("no retry logged: %q", logs)
	}
}

func TestWrongContentTypeSaysWhatToCheck(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	s.Inject("/api/v1/search/query", 100, nsxtest.Fault{ContentType: "text/html"})
	_, _, err, _ := collectPublished(t, s, nil)
	if err == nil || !strings.Contains(err.Error(), `"text/html", not JSON`) || !strings.Contains(err.Error(), "--nsx-manager") {
		t.Fatalf("err %v", err)
	}
}

// A fatal answer while reading a security policy's scope group stops the collection as it does
// anywhere else in the firewall (the fabric read so far kept, the error a warning, no firewall):
// it is not taken for a scope that holds no port, the policy skipped and the reads going on.
func TestFatalReadOfPolicyScopeStops(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	s.Inject("/policy/api/v1/infra/domains/default/groups/group-1/members/segment-ports", 100, nsxtest.Fault{ContentType: "text/html"})
	p, _ := newTestProvider(t, s, func(c *Config) { c.API = APIPolicy })
	f, warns, err := p.Collect(context.Background(), fabric.Query{All: true})
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0], `"text/html", not JSON`) {
		t.Fatalf("err %v, warnings %q: want the one warning of the manager's non-JSON answer", err, warns)
	}
	if f.Firewall != nil {
		t.Fatalf("firewall of %d rules (complete %v), want none: the collection stops at a fatal answer", len(f.Firewall.Rules), f.Firewall.Complete)
	}
}

func TestSlowManagerTimesOut(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword, Latency: 2 * time.Second})
	defer s.Close()
	start := time.Now()
	_, _, err, _ := collectPublished(t, s, func(c *Config) { c.RequestTimeout, c.Retries = 50*time.Millisecond, 1 })
	if err == nil || !strings.Contains(err.Error(), "did not answer") || !strings.Contains(err.Error(), "--nsx-request-timeout") {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %s: the request timeout did not cut the slow answers short", d)
	}
	start = time.Now()
	_, _, err, _ = collectPublished(t, s, func(c *Config) { c.Deadline = 100 * time.Millisecond })
	if err == nil || !strings.Contains(err.Error(), "--nsx-timeout deadline") {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %s past a 100ms deadline", d)
	}
}

func TestTLSVerificationOnByDefault(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	_, _, err, _ := collectPublished(t, s, func(c *Config) { c.HTTPClient = nil })
	if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "--nsx-ca-file") {
		t.Fatalf("untrusted certificate accepted or unclear: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, s.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _, err, _ := collectPublished(t, s, func(c *Config) { c.HTTPClient, c.CAFile = nil, ca })
	if err != nil {
		t.Fatalf("with --nsx-ca-file: %v", err)
	}
	assertPublishedWalk(t, walkWith(t, f))
	_, _, err, logs := collectPublished(t, s, func(c *Config) { c.HTTPClient, c.Insecure = nil, true })
	if err != nil || !strings.Contains(strings.Join(logs, ""), "TLS verification") {
		t.Fatalf("insecure: err %v, logs %q", err, logs)
	}
}

func TestBadConfigIsOneClearLine(t *testing.T) {
	t.Setenv("NSX_PASSWORD", "")
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "--nsx-manager is required"},
		{Config{Manager: "nsx.example.com"}, "is not a URL"},
		{Config{Manager: "https://nsx", API: "rest"}, "--nsx-api must be"},
		{Config{Manager: "https://nsx", AuthMode: "kerberos"}, "--nsx-auth must be"},
		{Config{Manager: "https://nsx"}, "set $NSX_PASSWORD or give --nsx-password-file"},
		{Config{Manager: "https://nsx", PasswordFile: "/nonexistent/pw"}, "--nsx-password-file"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			tc.cfg.Hints = cliHints
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%+v: err %v, want %q", tc.cfg, err, tc.want)
			}
		})
	}
}
