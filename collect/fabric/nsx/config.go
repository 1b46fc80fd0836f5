// Package nsx reads the fabric part of a snapshot from an NSX-T Manager: the logical ports of a
// walk's endpoints (CHILD ports with their parent VIF and traffic tag), their logical switches,
// the router ports on those switches, and the tier-1 / tier-0 routers the routes lead through,
// with their ports and routes. It reads only what the walks need (path-directed), through the
// Management API (/api/v1) or the Policy API (/policy/api/v1), and only ever sends GET (plus the
// POST of /api/session/create for session auth).
//
// cmd/fabric_nsx.go fills Config from its flags and names them in Config.Hints, so messages
// name the flags a user gives.
package nsx

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
)

// API selectors.
const (
	APIManagement = "management"
	APIPolicy     = "policy"
)

// Auth modes.
const (
	AuthBasic   = "basic"
	AuthSession = "session"
)

// DefaultPasswordEnv is the environment variable the password is read from by default.
const DefaultPasswordEnv = "NSX_PASSWORD"

// Config says how to reach and read an NSX-T Manager.
type Config struct {
	// Manager is the manager's URL, https://HOST[:PORT].
	Manager string
	// User is the API user (default admin).
	User string
	// PasswordEnv names the environment variable holding the password (default NSX_PASSWORD);
	// PasswordFile, when set, is read instead. The password is never a flag value.
	PasswordEnv  string
	PasswordFile string
	// CAFile is a PEM bundle to verify the manager's certificate with (a private CA).
	CAFile string
	// Insecure skips TLS verification; New warns through Logf.
	Insecure bool
	// API is management (default) or policy.
	API string
	// AuthMode is session (default: one login, then JSESSIONID + X-XSRF-TOKEN) or basic.
	AuthMode string
	// RequestTimeout bounds one HTTP request (default 30s); Deadline the whole Collect (default 2m).
	RequestTimeout time.Duration
	Deadline       time.Duration
	// Retries is how many times a request is retried on 429/502/503/504 or a timeout (default 4;
	// negative means none).
	Retries int
	// HTTPClient replaces the client New builds (tests); its TLS settings are used as they are.
	HTTPClient *http.Client
	// Logf receives warnings (TLS verification off, retries), one call at a time; nil discards them.
	Logf func(format string, args ...any)
	// Sleep waits between retries (tests inject a fake clock); nil waits for real. Requests run
	// concurrently, so Sleep may be called by several at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// PageSize asks list APIs for pages of this size (default 1000, NSX's maximum).
	PageSize int
	// Hints names the caller's settings in messages.
	Hints Hints
}

// Hints are how the caller names Config's settings in messages (cmd: its flags); empty fields
// keep neutral words.
type Hints struct {
	Manager, User, PasswordFile, CAFile, Insecure, API, Auth, RequestTimeout, Deadline string
	// Chosen follows "Manager is required": how the caller chose this provider.
	Chosen string
}

func (h Hints) manager() string  { return cmp.Or(h.Manager, "the NSX Manager address") }
func (h Hints) user() string     { return cmp.Or(h.User, "the NSX user") }
func (h Hints) pwFile() string   { return cmp.Or(h.PasswordFile, "the NSX password file") }
func (h Hints) caFile() string   { return cmp.Or(h.CAFile, "the NSX CA file") }
func (h Hints) insecure() string { return cmp.Or(h.Insecure, "as configured") }
func (h Hints) api() string      { return cmp.Or(h.API, "the NSX API") }
func (h Hints) auth() string     { return cmp.Or(h.Auth, "the NSX authentication") }
func (h Hints) reqTimeout() string {
	return cmp.Or(h.RequestTimeout, "the request timeout")
}

// required says that Manager is missing, with how the provider was chosen if the caller said.
func (h Hints) required() string {
	if h.Chosen == "" {
		return h.manager() + " is required"
	}
	return h.manager() + " is required " + h.Chosen
}

// basicAuth says how to choose basic authentication.
func (h Hints) basicAuth() string {
	if h.Auth == "" {
		return "basic authentication"
	}
	return h.Auth + " basic"
}

// deadline names the overall deadline, as in "past DEADLINE (2m0s)".
func (h Hints) deadline() string {
	if h.Deadline == "" {
		return "the overall deadline"
	}
	return "the " + h.Deadline + " deadline"
}

// raiseDeadline says how to allow more time overall.
func (h Hints) raiseDeadline() string {
	return "raise " + cmp.Or(h.Deadline, "the overall deadline")
}

// New checks the configuration, reads the password and returns the NSX provider.
func New(cfg Config) (fabric.Provider, error) {
	p, err := newProvider(cfg)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// newProvider checks cfg, fills its defaults, reads the password and builds the client.
func newProvider(cfg Config) (*provider, error) {
	u, err := managerURL(cfg)
	if err != nil {
		return nil, err
	}
	if cfg, err = withDefaults(cfg); err != nil {
		return nil, err
	}
	pw, err := readPassword(cfg)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		if hc, err = httpClient(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Insecure {
		cfg.Logf("TLS verification of the NSX Manager %s is off (%s): anyone on the path can read the credentials", u.Host, cfg.Hints.insecure())
	}
	// Cookies are kept per provider by the client itself; redirects are not followed to another host.
	c := &client{base: u, hc: hc, user: cfg.User, password: pw, cfg: cfg}
	return &provider{cfg: cfg, c: c}, nil
}

// managerURL checks cfg.Manager and returns it without a trailing slash or query.
func managerURL(cfg Config) (*url.URL, error) {
	if cfg.Manager == "" {
		return nil, errors.New(cfg.Hints.required() + ": give the NSX Manager's address, e.g. https://nsx.example.com")
	}
	u, err := url.Parse(cfg.Manager)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%s %q is not a URL: use https://HOST", cfg.Hints.manager(), cfg.Manager)
	}
	if u.Scheme == "http" && cfg.HTTPClient == nil {
		return nil, fmt.Errorf("%s %q uses http: the NSX Manager API is served over https", cfg.Hints.manager(), cfg.Manager)
	}
	u.Path, u.RawQuery = strings.TrimSuffix(u.Path, "/"), ""
	return u, nil
}

// withDefaults checks cfg's API and authentication mode and fills in what is left unset.
func withDefaults(cfg Config) (Config, error) {
	switch cfg.API {
	case "":
		cfg.API = APIManagement
	case APIManagement, APIPolicy:
	default:
		return cfg, fmt.Errorf("%s must be management or policy, got %q", cfg.Hints.api(), cfg.API)
	}
	switch cfg.AuthMode {
	case "":
		cfg.AuthMode = AuthSession
	case AuthBasic, AuthSession:
	default:
		return cfg, fmt.Errorf("%s must be basic or session, got %q", cfg.Hints.auth(), cfg.AuthMode)
	}
	if cfg.User == "" {
		cfg.User = "admin"
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = 2 * time.Minute
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = 4
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 1000 {
		cfg.PageSize = 1000
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	} else {
		// Requests run concurrently: the caller's Logf is called by one of them at a time.
		var mu sync.Mutex
		logf := cfg.Logf
		cfg.Logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			logf(format, args...)
		}
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	return cfg, nil
}

// httpClient is the HTTPS client for the manager: TLS 1.2 or later, verified against cfg.CAFile
// (or the system's roots) unless cfg.Insecure, no proxy.
func httpClient(cfg Config) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Hints.caFile(), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %s holds no PEM certificate", cfg.Hints.caFile(), cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.Insecure {
		tc.InsecureSkipVerify = true
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.Proxy = nil
	// Keep a connection per request in flight: the default 2 idle connections per host make
	// every other request of a wide level a new TLS handshake.
	tr.MaxIdleConnsPerHost = maxConcurrent
	return &http.Client{Transport: tr}, nil
}

func readPassword(cfg Config) (string, error) {
	if cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("%s: %w", cfg.Hints.pwFile(), err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("%s %s is empty: put the NSX password in it", cfg.Hints.pwFile(), cfg.PasswordFile)
		}
		return pw, nil
	}
	env := cfg.PasswordEnv
	if env == "" {
		env = DefaultPasswordEnv
	}
	pw := os.Getenv(env)
	if pw == "" {
		return "", fmt.Errorf("no NSX password: set $%s or give %s", env, cfg.Hints.pwFile())
	}
	return pw, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
