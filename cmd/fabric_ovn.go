package cmd

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn"
)

// ovnOptions are the flags of --fabric ovn: the OVN Northbound database.
type ovnOptions struct {
	NB, CA, Cert, Key string
	// SB is the Southbound database, for the chassis and TEPs of the walk's ports.
	SB string
	// NBTimeout bounds connecting to and reading the NB database.
	NBTimeout time.Duration
}

func (o *ovnOptions) Name() string  { return "ovn" }
func (o *ovnOptions) Where() string { return "--ovn-nb" }
func (o *ovnOptions) Given() bool   { return o.NB != "" || o.SB != "" }

func (o *ovnOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.NB, "ovn-nb", o.NB, "the OVN Northbound database: unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT")
	fs.StringVar(&o.CA, "ovn-nb-ca-cert", o.CA, "CA certificate (PEM) for an ssl: --ovn-nb")
	fs.StringVar(&o.Cert, "ovn-nb-cert", o.Cert, "client certificate (PEM) for an ssl: --ovn-nb")
	fs.StringVar(&o.Key, "ovn-nb-key", o.Key, "client private key (PEM) for an ssl: --ovn-nb")
	fs.DurationVar(&o.NBTimeout, "ovn-nb-timeout", 10*time.Second, "deadline for connecting to and reading the OVN Northbound database")
	fs.StringVar(&o.SB, "ovn-sb", o.SB, "the OVN Southbound database, for the hosts (chassis) and TEPs (encaps) of the walk's ports: unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT (ssl with the --ovn-nb-* certificates)")
}

func (o *ovnOptions) Validate() error {
	if o.NB == "" {
		return usageErr("--fabric ovn needs --ovn-nb unix:PATH|tcp:HOST:PORT")
	}
	return nil
}

func (o *ovnOptions) Provider(*GlobalOptions) (fabric.Provider, error) {
	return ovn.New(ovn.Config{NB: o.NB, SB: o.SB, CACert: o.CA, Cert: o.Cert, Key: o.Key, Timeout: o.NBTimeout, Hints: ovnHints})
}

// ovnHints names the flags in the OVN provider's messages.
var ovnHints = ovn.Hints{NB: "--ovn-nb", SB: "--ovn-sb", TLS: "--ovn-nb-ca-cert, --ovn-nb-cert and --ovn-nb-key", Chosen: "with --fabric ovn"}

func (o *ovnOptions) Timeout() time.Duration {
	if o.NBTimeout > 0 {
		return o.NBTimeout
	}
	return ovn.DefaultTimeout
}
