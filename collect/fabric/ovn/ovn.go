// Package ovn reads an OVN Northbound database (collect/ovsdbrpc, select-only transactions) into the
// fabric part of a trace.Snapshot: logical switches and their ports (CHILD ports with parent_name
// and tag), logical routers, router ports and static routes.
//
// Equivalent to: `ovn-nbctl show` plus `ovn-nbctl lr-route-list ROUTER` for the routers on the path.
//
// Mapping rules (names are IDs: they are unique in NB and readable):
//   - Logical_Switch -> Switch; Subnets from other_config:subnet (OVN-Kubernetes, Kube-OVN style,
//     space or comma separated), else the networks of the router ports attached to it.
//   - Logical_Switch_Port with parent_name and tag -> child (ParentPort = ParentVIF = the parent's
//     name, which is also its iface-id; TrafficTag = tag, else tag_request); type "router" -> router
//     (RouterPort = options:router-port); type "" -> vif; other types keep their OVN type
//     (localnet, localport, patch, ...). AttachmentID = the name (the iface-id OVS binds).
//   - NodeName from external_ids packetwalk/node, else k8s.ovn.org/node; Pod from external_ids
//     packetwalk/pod ("NS/NAME"), else OVN-Kubernetes' namespace + pod=true with name NS_POD.
//   - Logical_Router -> Router; Tier from external_ids packetwalk/tier (tier0/tier1), else from
//     the name: t0*/GR_* (gateway routers) are tier0, t1*/ovn_cluster_router tier1, else "".
//   - Logical_Router_Port -> RouterPort; Kind link when peer is set, uplink for a gateway port
//     (gateway_chassis, ha_chassis_group, or on a router pinned to a chassis), downlink when a
//     switch port points at it.
//   - Logical_Router_Static_Route -> FabricRoute origin static (nexthop "discard" -> no next hop);
//     src-ip policy routes, non-main route tables, NAT rules and load balancers on the path are
//     not modelled by the engine and are reported as warnings.
package ovn

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovsdbrpc"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// DefaultTimeout bounds connecting to and reading the NB database when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Config says how to reach the OVN Northbound database.
type Config struct {
	// NB is the database address: unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT.
	NB string
	// CACert, Cert and Key are PEM files for ssl: addresses.
	CACert, Cert, Key string
	// Timeout bounds connecting and reading (DefaultTimeout when zero).
	Timeout time.Duration
	// SB is the Southbound database (unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT, ssl with the NB
	// certificates), for the chassis the walk's ports are bound to; "" reads no hosts.
	SB string
	// Hints names the caller's settings in messages.
	Hints Hints
}

// Hints are how the caller names its settings in messages (cmd: its flags); empty fields keep
// neutral words.
type Hints struct {
	// NB names Config.NB, as in "NB %q is not an OVSDB address".
	NB string
	// SB names Config.SB.
	SB string
	// TLS names Config.CACert, Cert and Key together, as in "NB ssl:... needs TLS (PEM files)".
	TLS string
	// Chosen follows "NB is required": how the caller chose this provider.
	Chosen string
}

func (h Hints) nb() string { return cmp.Or(h.NB, "the OVN Northbound address") }
func (h Hints) sb() string { return cmp.Or(h.SB, "the OVN Southbound address") }
func (h Hints) tls() string {
	return cmp.Or(h.TLS, "a CA certificate, a client certificate and its key")
}

// required says that NB is missing, with how the provider was chosen if the caller said.
func (h Hints) required() string {
	if h.Chosen == "" {
		return h.nb() + " is required"
	}
	return h.nb() + " is required " + h.Chosen
}

type provider struct {
	cfg   Config
	tls   *tls.Config
	sbTLS *tls.Config

	mu sync.Mutex // guards sbTLS and the slots below
	// earlyNB and earlySB are the connections Prepare started (early.go), each taken once.
	earlyNB, earlySB *pending
	// ahead is the read ReadAhead started (ahead.go), taken once by the next Collect.
	ahead *readAhead
}

// New checks cfg and returns a provider reading that NB database; it does not connect yet.
func New(cfg Config) (fabric.Provider, error) {
	if cfg.NB == "" {
		return nil, errors.New(cfg.Hints.required() + ": give unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT")
	}
	for _, a := range strings.Split(cfg.NB, ",") {
		if err := checkAddress(a, cfg.Hints.nb()); err != nil {
			return nil, err
		}
	}
	if err := checkSB(cfg); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	p := &provider{cfg: cfg}
	if strings.HasPrefix(cfg.NB, "ssl:") {
		t, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		p.tls = t
	}
	return p, nil
}

// checkAddress checks one OVSDB address; name is the setting it comes from.
func checkAddress(a, name string) error {
	bad := fmt.Errorf("%s %q is not an OVSDB address: use unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT", name, a)
	scheme, rest, ok := strings.Cut(a, ":")
	if !ok || rest == "" {
		return bad
	}
	switch scheme {
	case "unix":
		return nil
	case "tcp", "ssl":
		if i := strings.LastIndex(rest, ":"); i <= 0 || i == len(rest)-1 {
			return bad
		}
		return nil
	}
	return bad
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	if cfg.Cert == "" || cfg.Key == "" || cfg.CACert == "" {
		return nil, fmt.Errorf("%s %s needs %s (PEM files)", cfg.Hints.nb(), cfg.NB, cfg.Hints.tls())
	}
	cert, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("cannot load the OVN NB client certificate: %w", err)
	}
	ca, err := os.ReadFile(cfg.CACert)
	if err != nil {
		return nil, fmt.Errorf("cannot read the OVN NB CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("the OVN NB CA file %s holds no PEM certificate", cfg.CACert)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// errCut is a connection the server side closed in the middle of the conversation.
var errCut = errors.New("the connection was cut (the server or something on the way closed it mid-answer)")

// isCut says err is the connection closing under a call, not the deadline or an answer.
func isCut(ctx context.Context, err error) bool {
	return errors.Is(context.Cause(ctx), errCut) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, ovsdbrpc.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		err != nil && strings.HasSuffix(err.Error(), "unexpected EOF")
}

// Name returns "ovn".
func (p *provider) Name() string { return trace.SourceOVN }

// Collect connects, reads what the query needs with select-only transactions and disconnects.
func (p *provider) Collect(ctx context.Context, q fabric.Query) (*trace.Fabric, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	// A read-ahead is over Prepare's connection: it ends before Collect takes that connection.
	ahead := p.takeAhead(ctx)
	cli, err := p.connection(ctx, &p.earlyNB, p.connectNB)
	if err != nil {
		return nil, nil, err
	}
	defer cli.Close()
	// A connection that drops ends every read at once, named as cut (not a deadline later).
	ctx, cut := context.WithCancelCause(ctx)
	defer cut(nil)
	go func() {
		select {
		case <-cli.Gone():
			cut(errCut)
		case <-ctx.Done():
		}
	}()
	rdb := ahead.over(cli)
	r := &reader{cli: rdb, schema: cli.Schema()}
	nb, err := r.read(ctx, q)
	if err != nil {
		if isCut(ctx, err) {
			err = errCut
		}
		return nil, nil, fmt.Errorf("cannot read the OVN Northbound database at %s: %w", p.cfg.NB, err)
	}
	f, warnings := nb.fabric(q)
	warnings = append(append(r.warnings, warnings...), nb.unfound(q, f)...)
	return f, append(warnings, p.overlay(ctx, rdb, nb, f, q)...), nil
}

// connectNB makes a connected client of the Northbound database, or says why it cannot.
func (p *provider) connectNB(ctx context.Context) (*ovsdbrpc.Client, error) {
	cli, err := ovsdbrpc.Connect(ctx, "OVN_Northbound", strings.Split(p.cfg.NB, ","), p.tls)
	if err != nil {
		if isCut(ctx, err) {
			return nil, fmt.Errorf("cannot reach the OVN Northbound database at %s: %w while connecting", p.cfg.NB, errCut)
		}
		return nil, fmt.Errorf("cannot reach the OVN Northbound database at %s: %w (check %s and that ovsdb-server serves OVN_Northbound there)", p.cfg.NB, err, p.cfg.Hints.nb())
	}
	return cli, nil
}

// BindsByNode says yes: a pod's port is found first by the iface-id its node's OVS reports.
func (p *provider) BindsByNode() bool { return true }
