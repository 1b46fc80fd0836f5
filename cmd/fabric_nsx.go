package cmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx"
)

// nsxOptions are the flags of --fabric nsx: the NSX-T Manager, its credentials and deadlines.
type nsxOptions struct {
	Manager      string
	User         string
	CAFile       string
	PasswordEnv  string
	PasswordFile string
	Insecure     bool
	API          string
	Auth         string
	ReqTimeout   time.Duration
	Deadline     time.Duration
	Retries      int
}

func (o *nsxOptions) Name() string  { return "nsx" }
func (o *nsxOptions) Where() string { return "--nsx-manager" }
func (o *nsxOptions) Given() bool   { return o.Manager != "" }

func (o *nsxOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Manager, "nsx-manager", o.Manager, "the NSX-T Manager URL, https://HOST[:PORT]")
	fs.StringVar(&o.User, "nsx-user", "admin", "the NSX-T API user")
	fs.StringVar(&o.PasswordEnv, "nsx-password-env", "NSX_PASSWORD", "environment variable holding the NSX-T password (never a flag value)")
	fs.StringVar(&o.PasswordFile, "nsx-password-file", o.PasswordFile, "file holding the NSX-T password (wins over --nsx-password-env)")
	fs.StringVar(&o.CAFile, "nsx-ca-file", o.CAFile, "PEM bundle of a private CA to verify the NSX-T Manager's certificate")
	fs.StringVar(&o.CAFile, "nsx-ca", "", "")
	_ = fs.MarkHidden("nsx-ca") // the first name of --nsx-ca-file, kept for scripts
	fs.BoolVar(&o.Insecure, "nsx-insecure-skip-tls-verify", false, "do not verify the NSX-T Manager's certificate (prints a warning)")
	fs.StringVar(&o.API, "nsx-api", "management", "NSX-T API to read: management (/api/v1) or policy (/policy/api/v1)")
	fs.StringVar(&o.Auth, "nsx-auth", "session", "NSX-T authentication: session (one login, JSESSIONID + X-XSRF-TOKEN) or basic")
	fs.DurationVar(&o.ReqTimeout, "nsx-request-timeout", 30*time.Second, "deadline of one NSX-T API request")
	fs.DurationVar(&o.Deadline, "nsx-timeout", 2*time.Minute, "deadline of all NSX-T reads of one command")
	fs.IntVar(&o.Retries, "nsx-retries", 4, "retries of an NSX-T request on 429/502/503/504 or a timeout, with backoff and jitter")
}

func (o *nsxOptions) Validate() error {
	if o.Manager == "" {
		return usageErr("--fabric nsx needs --nsx-manager https://HOST")
	}
	if o.API != "management" && o.API != "policy" {
		return usageErr("--nsx-api must be management or policy, got %q", o.API)
	}
	if o.Auth != "session" && o.Auth != "basic" {
		return usageErr("--nsx-auth must be session or basic, got %q", o.Auth)
	}
	return nil
}

func (o *nsxOptions) Provider(g *GlobalOptions) (fabric.Provider, error) {
	return nsx.New(nsx.Config{Manager: o.Manager, User: o.User, CAFile: o.CAFile,
		PasswordEnv: o.PasswordEnv, PasswordFile: o.PasswordFile, Insecure: o.Insecure,
		API: o.API, AuthMode: o.Auth, RequestTimeout: o.ReqTimeout, Deadline: o.Deadline, Retries: nsxRetries(o.Retries),
		Hints: nsxHints,
		Logf: func(format string, args ...any) {
			// One "warning: " whether or not the provider's message carries its own.
			fmt.Fprintf(g.ErrOut, "warning: %s\n", oneLine(strings.TrimPrefix(fmt.Sprintf(format, args...), "warning: ")))
		}})
}

// nsxHints names the flags in the NSX provider's messages.
var nsxHints = nsx.Hints{Manager: "--nsx-manager", User: "--nsx-user", PasswordFile: "--nsx-password-file",
	CAFile: "--nsx-ca-file", Insecure: "--nsx-insecure-skip-tls-verify", API: "--nsx-api", Auth: "--nsx-auth",
	RequestTimeout: "--nsx-request-timeout", Deadline: "--nsx-timeout", Chosen: "with --fabric nsx"}

func (o *nsxOptions) Timeout() time.Duration {
	if o.Deadline > 0 {
		return o.Deadline
	}
	return 2 * time.Minute // the flag's default
}

// nsxRetries maps --nsx-retries to nsx.Config.Retries, where 0 means the default: the flag's 0
// means none.
func nsxRetries(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
