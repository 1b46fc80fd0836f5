package nsx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody bounds one response body; a list page of 1,000 logical ports is a few MB.
const maxBody = 256 << 20

// maxPages bounds cursor pagination: a manager that never ends a list cannot hang a walk.
const maxPages = 10000

// client is a read-only NSX Manager API client: GET with auth, retries, timeouts and pagination.
type client struct {
	base     *url.URL
	hc       *http.Client
	user     string
	password string
	cfg      Config

	mu      sync.Mutex
	session string // JSESSIONID
	xsrf    string
	// gen counts sessions: a request refused with session gen clears it only if it is still the
	// current one, so concurrent refusals cause one login, not one each.
	gen int
	// verified: the session has been answered (not 401/403) since it was made or since the
	// current Collect began. An unverified session is tried by one request while the others wait.
	verified  bool
	verifying chan struct{}
	// loggingIn is the login in flight: concurrent requests wait for it instead of logging in too.
	loggingIn *loginCall
	// refusedErr is a refused login: every later request of the Collect fails with it rather than
	// sending the password again.
	refusedErr error
}

type loginCall struct {
	done chan struct{}
	err  error
}

// httpError is a non-2xx answer of the manager, with the NSX error body's message and its
// related errors (where a generic message keeps the real cause).
type httpError struct {
	Status  int
	Path    string
	Code    int
	Msg     string
	Related []string
}

func (e *httpError) Error() string {
	msg := e.Msg
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	out := fmt.Sprintf("NSX Manager answered GET %s with %d: %s", e.Path, e.Status, msg)
	if e.Code != 0 {
		out += fmt.Sprintf(" (error_code %d)", e.Code)
	}
	if len(e.Related) > 0 {
		out += "; related: " + strings.Join(e.Related, "; ")
	}
	return out
}

// isNotFound says whether the manager has no such object (or API).
func isNotFound(err error) bool {
	var he *httpError
	return errors.As(err, &he) && he.Status == http.StatusNotFound
}

// isRefused says whether the manager refused the request as such (400, 404): a query syntax it
// does not take, say.
func isRefused(err error) bool {
	var he *httpError
	return errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusBadRequest)
}

// transientSearch are the error codes of a 400 the search API answers while its index is not
// ready: 60508 indexing in progress and 60514 search timeout (openstack/vmware-nsxlib v3/client.py
// retries both), 60515 index out of sync. They are retried with backoff, like a 503.
var transientSearch = map[int]bool{60508: true, 60514: true, 60515: true}

// notJSONError is an answer that is not JSON: a proxy's or a login page, not the manager's API.
// Nothing else read through the same address can be trusted either, so it ends the collection.
type notJSONError struct{ msg string }

func (e *notJSONError) Error() string { return e.msg }

// authError is a refused login or request: one line saying what to check.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

// errorBody is the NSX error body (ApiError): {httpStatus, error_code, error_message,
// module_name, related_errors}.
type errorBody struct {
	HTTPStatus    string `json:"httpStatus"`
	ErrorCode     int    `json:"error_code"`
	ErrorMessage  string `json:"error_message"`
	ModuleName    string `json:"module_name"`
	RelatedErrors []struct {
		ErrorCode    int    `json:"error_code"`
		ErrorMessage string `json:"error_message"`
	} `json:"related_errors"`
}

// related are the messages of an error body's related errors.
func (eb errorBody) related() []string {
	var out []string
	for _, r := range eb.RelatedErrors {
		if r.ErrorMessage == "" {
			continue
		}
		if r.ErrorCode != 0 {
			out = append(out, fmt.Sprintf("%s (error_code %d)", strings.TrimSpace(r.ErrorMessage), r.ErrorCode))
		} else {
			out = append(out, strings.TrimSpace(r.ErrorMessage))
		}
	}
	return out
}

func (c *client) passwordHint() string {
	if c.cfg.PasswordFile != "" {
		return "the password in " + c.cfg.Hints.pwFile() + " " + c.cfg.PasswordFile
	}
	env := c.cfg.PasswordEnv
	if env == "" {
		env = DefaultPasswordEnv
	}
	return "the password in $" + env
}

func (c *client) refused(status int, what, msg string) error {
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &authError{fmt.Sprintf("NSX Manager %s refused user %q (%d %s: %s): check %s, %s, and that the user's role may read %s",
		c.base.Host, c.user, status, http.StatusText(status), msg, c.cfg.Hints.user(), c.passwordHint(), what)}
}

func (c *client) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	return c.hc.Do(req.WithContext(ctx))
}

// login opens a session: POST /api/session/create -> JSESSIONID cookie + X-XSRF-TOKEN header.
func (c *client) login(ctx context.Context) error {
	form := url.Values{"j_username": {c.user}, "j_password": {c.password}}.Encode()
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		req, _ := http.NewRequest(http.MethodPost, c.base.String()+"/api/session/create", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := c.send(rctx, req)
		if err != nil {
			cancel()
			if wait, asked, ok := c.retryable(ctx, attempt, err, nil); ok {
				if err := c.pause(ctx, wait, asked, loginRequest); err != nil {
					return err
				}
				continue
			}
			return c.transportError(ctx, loginRequest, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		cancel()
		if wait, asked, ok := c.retryable(ctx, attempt, nil, resp); ok {
			if err := c.pause(ctx, wait, asked, loginRequest); err != nil {
				return err
			}
			continue
		}
		if resp.StatusCode/100 != 2 {
			return c.refused(resp.StatusCode, "the API", bodyMessage(body))
		}
		var sid string
		for _, ck := range resp.Cookies() {
			if ck.Name == "JSESSIONID" {
				sid = ck.Value
			}
		}
		if sid == "" {
			return &authError{fmt.Sprintf("NSX Manager %s answered the session login without a JSESSIONID cookie: use %s", c.base.Host, c.cfg.Hints.basicAuth())}
		}
		c.mu.Lock()
		c.session, c.xsrf = sid, resp.Header.Get("X-XSRF-TOKEN")
		c.gen++
		c.verified = true
		c.mu.Unlock()
		return nil
	}
}

// loginRequest names the session login in messages.
const loginRequest = "POST /api/session/create"

func bodyMessage(b []byte) string {
	var eb errorBody
	if json.Unmarshal(b, &eb) == nil && eb.ErrorMessage != "" {
		if rel := eb.related(); len(rel) > 0 {
			return eb.ErrorMessage + "; related: " + strings.Join(rel, "; ")
		}
		return eb.ErrorMessage
	}
	return ""
}

// beginCollect starts a Collect: a session kept from an earlier one may have expired, so the
// first request proves it before the others use it; a refused login may be retried.
func (c *client) beginCollect() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.verified = false
	c.refusedErr = nil
}

// sessionFor returns the session a request is sent with, logging in (once, however many requests
// wait) when there is none. When the session is not yet known to work, the caller becomes its
// verifier (verify true): it must call settle once answered while the other requests wait.
func (c *client) sessionFor(ctx context.Context) (sid, xsrf string, gen int, verify bool, err error) {
	for {
		c.mu.Lock()
		if c.refusedErr != nil {
			err := c.refusedErr
			c.mu.Unlock()
			return "", "", 0, false, err
		}
		if c.session != "" {
			if c.verified {
				sid, xsrf, gen = c.session, c.xsrf, c.gen
				c.mu.Unlock()
				return sid, xsrf, gen, false, nil
			}
			if c.verifying == nil {
				c.verifying = make(chan struct{})
				sid, xsrf, gen = c.session, c.xsrf, c.gen
				c.mu.Unlock()
				return sid, xsrf, gen, true, nil
			}
			wait := c.verifying
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", "", 0, false, c.transportError(ctx, loginRequest, ctx.Err())
			}
		}
		if lc := c.loggingIn; lc != nil {
			c.mu.Unlock()
			select {
			case <-lc.done:
				if lc.err != nil {
					return "", "", 0, false, lc.err
				}
				continue
			case <-ctx.Done():
				return "", "", 0, false, c.transportError(ctx, loginRequest, ctx.Err())
			}
		}
		lc := &loginCall{done: make(chan struct{})}
		c.loggingIn = lc
		c.mu.Unlock()
		lc.err = c.login(ctx)
		c.mu.Lock()
		c.loggingIn = nil
		var ae *authError
		if errors.As(lc.err, &ae) {
			c.refusedErr = lc.err
		}
		c.mu.Unlock()
		close(lc.done)
		if lc.err != nil {
			return "", "", 0, false, lc.err
		}
	}
}

// settle ends a verification: ok says the session was answered (not refused).
func (c *client) settle(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.verified = true
	}
	if c.verifying != nil {
		close(c.verifying)
		c.verifying = nil
	}
}

// dropSession forgets session gen after the manager refused it (expired, or a stale XSRF token),
// unless a newer session has replaced it already.
func (c *client) dropSession(gen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.session, c.xsrf = "", ""
	}
}

// get reads one object (or one page) into out, retrying what is worth retrying. It is safe for
// concurrent use: one login serves every request.
func (c *client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := c.base.String() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	relogged := false
	for attempt := 0; ; attempt++ {
		next, err := c.getOnce(ctx, u, path, attempt, &relogged, out)
		switch next {
		case getRetry:
			continue
		case getRelogin:
			// A fresh login after a refused session does not count as an attempt.
			attempt--
			continue
		}
		return err
	}
}

// getNext is what get does after one attempt.
type getNext int

const (
	getDone    getNext = iota // return the attempt's error (nil: out is filled)
	getRetry                  // try again: the pause before it is over
	getRelogin                // the session was refused and dropped: log in and try again
)

// answer is a response with its body read; readErr says reading the body failed (cut short).
type answer struct {
	resp    *http.Response
	body    []byte
	readErr error
}

// getOnce is one attempt at GET u (path names it in messages) into out. relogged says whether
// this get has logged in again already: a refused session is worth one fresh login, no more.
func (c *client) getOnce(ctx context.Context, u, path string, attempt int, relogged *bool, out any) (getNext, error) {
	var sid, xsrf string
	var gen int
	verify := false
	if c.cfg.AuthMode == AuthSession {
		var err error
		if sid, xsrf, gen, verify, err = c.sessionFor(ctx); err != nil {
			return getDone, err
		}
	}
	a, err := c.roundTrip(ctx, u, sid, xsrf, gen, verify)
	if err != nil {
		if wait, asked, ok := c.retryable(ctx, attempt, err, nil); ok {
			return c.again(ctx, wait, asked, path)
		}
		return getDone, c.transportError(ctx, "GET "+path, err)
	}
	switch {
	case a.resp.StatusCode == http.StatusUnauthorized || a.resp.StatusCode == http.StatusForbidden:
		if c.cfg.AuthMode == AuthSession && !*relogged {
			// The session expired or its XSRF token went stale: log in again once.
			*relogged = true
			c.dropSession(gen)
			return getRelogin, nil
		}
		return getDone, c.refused(a.resp.StatusCode, path, bodyMessage(a.body))
	case a.resp.StatusCode/100 != 2:
		return c.failedStatus(ctx, attempt, path, a)
	}
	return c.decodeAnswer(ctx, attempt, path, a, out)
}

// roundTrip sends one GET of u, with the session (sid, xsrf) or basic auth, and reads the body.
// verify says this request tests session gen: its answer settles it for the requests waiting.
func (c *client) roundTrip(ctx context.Context, u, sid, xsrf string, gen int, verify bool) (answer, error) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "application/json")
	if c.cfg.AuthMode == AuthBasic {
		req.SetBasicAuth(c.user, c.password)
	} else {
		req.AddCookie(&http.Cookie{Name: "JSESSIONID", Value: sid})
		req.Header.Set("X-XSRF-TOKEN", xsrf)
	}
	resp, err := c.send(rctx, req)
	if verify {
		refused := err == nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden)
		if refused {
			// Before the waiting requests wake: they must log in, not try the refused session.
			c.dropSession(gen)
		}
		c.settle(err == nil && !refused)
	}
	if err != nil {
		return answer{}, err
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	return answer{resp: resp, body: body, readErr: readErr}, nil
}

// failedStatus handles an error status other than a refusal: another attempt where the manager
// says one will do (429, 5xx, a search index not ready yet), else the manager's error.
func (c *client) failedStatus(ctx context.Context, attempt int, path string, a answer) (getNext, error) {
	he := &httpError{Status: a.resp.StatusCode, Path: path}
	var eb errorBody
	if json.Unmarshal(a.body, &eb) == nil {
		he.Code, he.Msg, he.Related = eb.ErrorCode, eb.ErrorMessage, eb.related()
	}
	if wait, asked, ok := c.retryable(ctx, attempt, nil, a.resp); ok {
		return c.again(ctx, wait, asked, path)
	}
	transient := a.resp.StatusCode == http.StatusBadRequest && transientSearch[he.Code]
	if transient && attempt < c.cfg.Retries && ctx.Err() == nil {
		// The search index is not ready (indexing, timed out, out of sync): it will be.
		c.cfg.Logf("NSX Manager's search is not ready (%s, error_code %d)", strings.TrimSuffix(he.Msg, "."), he.Code)
		return c.again(ctx, c.backoff(attempt), false, path)
	}
	if he.Status == http.StatusTooManyRequests || he.Status >= 500 || transient {
		he.Msg = strings.TrimSpace(he.Msg + fmt.Sprintf(" (after %d attempts)", attempt+1))
	}
	return getDone, he
}

// decodeAnswer decodes a successful answer into out; a body cut short is read again.
func (c *client) decodeAnswer(ctx context.Context, attempt int, path string, a answer, out any) (getNext, error) {
	if mt, _, _ := mime.ParseMediaType(a.resp.Header.Get("Content-Type")); mt != "application/json" {
		return getDone, &notJSONError{fmt.Sprintf("NSX Manager answered GET %s with %q, not JSON: check that %s is the NSX Manager itself, not a proxy or login page", path, a.resp.Header.Get("Content-Type"), c.cfg.Hints.manager())}
	}
	readErr := a.readErr
	if readErr == nil {
		dec := json.NewDecoder(bytes.NewReader(a.body))
		readErr = dec.Decode(out)
	}
	if readErr != nil {
		// A body cut short is a transport problem: read it again.
		if attempt < c.cfg.Retries {
			c.cfg.Logf("NSX Manager's answer to GET %s was unreadable (%v)", path, readErr)
			return c.again(ctx, c.backoff(attempt), false, path)
		}
		return getDone, fmt.Errorf("NSX Manager's answer to GET %s is not complete JSON after %d attempts: %w", path, attempt+1, readErr)
	}
	return getDone, nil
}

// again pauses before another attempt at GET path; asked says the manager asked for the wait.
func (c *client) again(ctx context.Context, wait time.Duration, asked bool, path string) (getNext, error) {
	if err := c.pause(ctx, wait, asked, "GET "+path); err != nil {
		return getDone, err
	}
	return getRetry, nil
}

// retryable says whether a failed attempt is worth another, how long to wait first, and whether
// the manager asked for that wait (Retry-After) or it is our own backoff.
func (c *client) retryable(ctx context.Context, attempt int, err error, resp *http.Response) (time.Duration, bool, bool) {
	if attempt >= c.cfg.Retries || ctx.Err() != nil {
		return 0, false, false
	}
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return c.backoff(attempt), false, true
		}
		return 0, false, false
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return d, true, true
		}
		return c.backoff(attempt), false, true
	}
	return 0, false, false
}

// backoff is exponential from 250ms, capped at 8s, with jitter over its upper half.
func (c *client) backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << min(attempt, 5)
	d = min(d, 8*time.Second)
	return d/2 + rand.N(d/2+1)
}

func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// pause waits before a retry of request ("GET /path", loginRequest) unless the wait would pass the
// overall deadline; asked says the manager asked for the wait (Retry-After), else it is our backoff.
func (c *client) pause(ctx context.Context, d time.Duration, asked bool, request string) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		if asked {
			return &transportError{fmt.Sprintf("NSX Manager asked to wait %s before retrying %s, past %s (%s)", d.Round(time.Millisecond), request, c.cfg.Hints.deadline(), c.cfg.Deadline)}
		}
		return &transportError{fmt.Sprintf("retrying %s in %s would pass %s (%s): check the manager's load or %s", request, d.Round(time.Millisecond), c.cfg.Hints.deadline(), c.cfg.Deadline, c.cfg.Hints.raiseDeadline())}
	}
	c.cfg.Logf("retrying %s in %s", request, d.Round(time.Millisecond))
	if err := c.cfg.Sleep(ctx, d); err != nil {
		return c.transportError(ctx, request, err)
	}
	return nil
}

// transportError is a manager that did not answer: unreachable, too slow, or past the deadline.
type transportError struct{ msg string }

func (e *transportError) Error() string { return e.msg }

// transportError describes a request ("GET /path", loginRequest) that got no answer.
func (c *client) transportError(ctx context.Context, request string, err error) error {
	if ctx.Err() != nil {
		return &transportError{fmt.Sprintf("reading %s from NSX Manager %s: %s (%s) passed", request, c.base.Host, c.cfg.Hints.deadline(), c.cfg.Deadline)}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &transportError{fmt.Sprintf("NSX Manager %s did not answer %s within %s %s: check the manager's load or raise the timeout", c.base.Host, request, c.cfg.Hints.reqTimeout(), c.cfg.RequestTimeout)}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &transportError{fmt.Sprintf("cannot reach NSX Manager %s (%s): %v: check %s and, for a private CA, %s", c.base.Host, request, err, c.cfg.Hints.manager(), c.cfg.Hints.caFile())}
}
