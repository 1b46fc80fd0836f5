package nsx

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
)

// A retried login says it is the login POST; a retry our own backoff would push past the deadline
// says so, and never that the manager asked for the wait.
func TestRetryMessagesSayWhatWasRetried(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	s.Inject("/api/session/create", 1, nsxtest.Fault{Status: http.StatusServiceUnavailable})
	_, _, err, logs := collectPublished(t, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(logs, "\n"); !strings.Contains(all, "retrying POST /api/session/create in") || strings.Contains(all, "GET /api/session/create") {
		t.Fatalf("logs %q", logs)
	}

	// The deadlines below are weighed on the synctest bubble's clock (timed), which moves only by
	// the manager's 10ms a round trip: 30ms of 50ms are left when the search's first retry (a
	// backoff of 125-250ms) is weighed, however long the machine takes to run the requests.
	s.Inject("/api/v1/search/query", 100, nsxtest.Fault{Status: http.StatusServiceUnavailable})
	timed(t, s, 10*time.Millisecond, func(c *Config) { c.Deadline, c.Sleep = 50*time.Millisecond, sleepCtx }, func(t *testing.T, p fabric.Provider, _ *timeline) {
		_, _, err := p.Collect(context.Background(), kubeDNSToNode())
		if err == nil || !strings.Contains(err.Error(), "retrying GET /api/v1/search/query in") || !strings.Contains(err.Error(), "would pass the --nsx-timeout deadline (50ms)") || strings.Contains(err.Error(), "asked to wait") {
			t.Fatalf("own backoff past the deadline: %v", err)
		}
	})
	s3 := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s3.Close()
	s3.Inject("/api/v1/search/query", 100, nsxtest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "30"})
	timed(t, s3, 10*time.Millisecond, func(c *Config) { c.Deadline = time.Second }, func(t *testing.T, p fabric.Provider, _ *timeline) {
		if _, _, err := p.Collect(context.Background(), kubeDNSToNode()); err == nil || !strings.Contains(err.Error(), "NSX Manager asked to wait 30s before retrying GET /api/v1/search/query") {
			t.Fatalf("Retry-After past the deadline: %v", err)
		}
	})
}

// An HTML page where JSON was expected is the error, alone: no "no port is bound" before it.
func TestNotJSONIsTheCause(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	s.Inject("/api/v1/search/query", 100, nsxtest.Fault{ContentType: "text/html"})
	_, warns, err, _ := collectPublished(t, s, nil)
	if err == nil || !strings.Contains(err.Error(), `with "text/html", not JSON`) || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
}

// One --nsx-timeout for every Collect of a command: the early read by names and the read by
// addresses share it, against a manager that never answers.
func TestOneDeadlineForTheCommand(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	s.Inject("/api/", 1000, nsxtest.Fault{Delay: time.Minute})
	p, _ := newTestProvider(t, s, func(c *Config) { c.Deadline, c.AuthMode = 300*time.Millisecond, AuthBasic })
	_, _, first := p.Collect(context.Background(), kubeDNSToNode())
	if first == nil || !strings.Contains(first.Error(), "--nsx-timeout deadline (300ms) passed") {
		t.Fatalf("first collect: %v", first)
	}
	sent := s.Requests()
	// The second finds the deadline spent: it sends nothing and says which request was waiting.
	if _, _, err := p.Collect(context.Background(), kubeDNSToNode()); err == nil || err.Error() != first.Error() {
		t.Fatalf("second collect: %v, want %v", err, first)
	}
	if s.Requests() != sent {
		t.Fatalf("the second collect sent %d requests after the deadline", s.Requests()-sent)
	}
}

// The search API's transient refusals (indexing, timeout, out of sync) are retried with backoff,
// not taken for "no search API"; a search's last page, whose cursor is its result_count, is not
// followed by another request.
func TestSearchTransientErrorsAndLastPage(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	for _, code := range []int{nsxtest.ErrIndexingInProgress, nsxtest.ErrSearchTimeout, nsxtest.ErrIndexOutOfSync} {
		s.Inject("/api/v1/search/query", 1, nsxtest.Fault{Status: http.StatusBadRequest, ErrorCode: code})
	}
	fs := &fakeSleep{}
	f, warns, err, logs := collectPublished(t, s, func(c *Config) { c.Sleep = fs.sleep })
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	assertPublishedWalk(t, walkWith(t, f))
	if n := strings.Count(strings.Join(logs, "\n"), "search is not ready"); n != 3 || len(fs.waits) != 3 {
		t.Fatalf("%d retries logged, %d waits: %q", n, len(fs.waits), logs)
	}
	if n := s.RequestsByPath()["/api/v1/logical-ports"]; n > 3 {
		t.Fatalf("%d logical-port lists: a transient search error was taken for no search API", n)
	}

	// A search of 3 ports in pages of 2: two requests, not a third for the cursor "3".
	s2 := nsxtest.New(published(t), nsxtest.Options{Password: testPassword, PageSize: 2})
	defer s2.Close()
	p, _ := newTestProvider(t, s2, func(c *Config) { c.PageSize = 2 })
	st := newState(newFetcher(p.(*provider).c))
	found, _, err := st.searchPorts(context.Background(), `tags.scope:"ncp/node_name"`)
	if err != nil || len(found) != 3 {
		t.Fatalf("found %d ports tagged ncp/node_name, err %v", len(found), err)
	}
	if n := s2.RequestsByPath()["/api/v1/search/query"]; n != 2 {
		t.Fatalf("%d search requests for 3 results in pages of 2, want 2", n)
	}
}
