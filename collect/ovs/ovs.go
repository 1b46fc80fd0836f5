// Package ovs collects a node's Open vSwitch facts: bridges, ports and interfaces from the
// Open_vSwitch database (one select-only transaction of three tables, then closed) and the MAC table of
// each bridge from ovs-vswitchd's unixctl socket (`fdb/show`), so no OVS binary is needed.
package ovs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ovn-org/libovsdb/mapper"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/ovs/vswitchd"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovsdbrpc"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// DefaultDB is the usual ovsdb-server socket.
const DefaultDB = "unix:" + DefaultRunDir + "/db.sock"

// DefaultTimeout bounds each OVS read when the context has no deadline.
const DefaultTimeout = 5 * time.Second

// Options say where OVS is.
type Options struct {
	// Node is the node name used in source names (ovsdb@NODE, fdb@NODE).
	Node string
	// DB is the ovsdb-server endpoint, unix:PATH (tcp:/ssl: work too); default DefaultDB.
	DB string
	// VswitchdCtl is ovs-vswitchd's unixctl socket; "" finds it through RunDir/ovs-vswitchd.pid.
	VswitchdCtl string
	// RunDir is OVS's run directory; default DefaultRunDir.
	RunDir string
	// CtlHint says how the caller names VswitchdCtl, for the errors when it cannot be found.
	CtlHint string
	// UseAppctl falls back to the ovs-appctl binary (Appctl, default "ovs-appctl" on PATH) when
	// the unixctl socket cannot be read.
	UseAppctl bool
	Appctl    string
	// Timeout bounds each read; default DefaultTimeout.
	Timeout time.Duration
}

func (o *Options) defaults() {
	if o.DB == "" {
		o.DB = DefaultDB
	}
	if o.RunDir == "" {
		o.RunDir = DefaultRunDir
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
}

// Collect reads OVS. The error is set when the database cannot be read (no OVS on this node, or
// a wrong socket); a MAC table that cannot be read is a warning and leaves MACTable empty and
// FDBSource unset, so the engine knows it was not read.
func Collect(ctx context.Context, opts Options) (*trace.OVS, []string, error) {
	opts.defaults()
	o, err := ReadDB(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	o.Source = trace.SourceOVSDB + "@" + opts.Node
	var warnings []string
	macs, err := ReadMACTables(ctx, opts, o.Bridges)
	if err != nil {
		warnings = append(warnings, err.Error())
	} else {
		o.MACTable = macs
		o.FDBSource = trace.SourceFDB + "@" + opts.Node
	}
	return o, warnings, nil
}

// ReadDB reads bridges, ports and interfaces. Equivalent to:
// `ovs-vsctl --format=json list Bridge/Port/Interface`.
func ReadDB(ctx context.Context, opts Options) (*trace.OVS, error) {
	opts.defaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	// Sent with the handshake: one round trip, and only these columns' schema decoded.
	c, tx, err := ovsdbrpc.ConnectTransact(ctx, "Open_vSwitch", []string{opts.DB}, nil, readDBOps...)
	if err != nil {
		return nil, fmt.Errorf("cannot reach ovsdb-server at %s: %s", opts.DB, connectHint(ctx, err, opts.Timeout))
	}
	defer c.Close()
	res, err := tx.Results(ctx)
	if err != nil {
		return nil, fmt.Errorf("ovsdb %s: reading Bridge, Port, Interface: %w", opts.DB, err)
	}
	m := mapper.NewMapper(c.Schema())
	bridges, err := rows(m, c.Schema(), vswitchd.BridgeTable, res[0], func(b *vswitchd.Bridge) *string { return &b.UUID })
	if err != nil {
		return nil, fmt.Errorf("ovsdb %s: %w", opts.DB, err)
	}
	ports, err := rows(m, c.Schema(), vswitchd.PortTable, res[1], func(p *vswitchd.Port) *string { return &p.UUID })
	if err != nil {
		return nil, fmt.Errorf("ovsdb %s: %w", opts.DB, err)
	}
	ifaces, err := rows(m, c.Schema(), vswitchd.InterfaceTable, res[2], func(i *vswitchd.Interface) *string { return &i.UUID })
	if err != nil {
		return nil, fmt.Errorf("ovsdb %s: %w", opts.DB, err)
	}
	return Convert(bridges, ports, ifaces), nil
}

// readDBOps are ReadDB's selects: the columns its models hold (the rest, such as Interface
// statistics rewritten every few seconds, is not needed).
var readDBOps = []ovsdb.Operation{
	{Op: ovsdb.OperationSelect, Table: vswitchd.BridgeTable, Columns: ovsdbrpc.Columns(vswitchd.Bridge{})},
	{Op: ovsdb.OperationSelect, Table: vswitchd.PortTable, Columns: ovsdbrpc.Columns(vswitchd.Port{})},
	{Op: ovsdb.OperationSelect, Table: vswitchd.InterfaceTable, Columns: ovsdbrpc.Columns(vswitchd.Interface{})},
}

// rows decodes the rows a select of table returned.
func rows[T any](m mapper.Mapper, schema ovsdb.DatabaseSchema, table string, r ovsdb.OperationResult, uuid func(*T) *string) ([]T, error) {
	ts := schema.Table(table)
	if ts == nil {
		return nil, fmt.Errorf("the database has no table %s (is it Open_vSwitch?)", table)
	}
	out := make([]T, 0, len(r.Rows))
	for _, row := range r.Rows {
		obj, err := ovsdbrpc.DecodeRow(m, ts, table, row, uuid)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", table, err)
		}
		out = append(out, *obj)
	}
	return out, nil
}

// connectHint says why the OVSDB handshake failed: no answer in time, a connection that closed
// (not an ovsdb-server), or what dialHint makes of the dial error.
func connectHint(ctx context.Context, err error, timeout time.Duration) string {
	inner := unwrapAll(err)
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return "interrupted"
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s (is ovsdb-server hung?)", timeout)
	case errors.Is(inner, io.EOF) || errors.Is(inner, io.ErrUnexpectedEOF) || closedText(err.Error()):
		return "the connection closed during the handshake (is it an ovsdb-server socket?)"
	}
	return dialHint(inner)
}

// closedText finds a closed connection by its words too (an error a layer flattened to text).
func closedText(s string) bool {
	for _, w := range []string{"EOF", "broken pipe", "connection reset by peer"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// unwrapAll digs to the innermost error so dialHint sees the syscall error.
func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// Convert turns Open_vSwitch rows into the model, resolving UUID references to names (the rows
// from OVSDB here, from ovs-vsctl's JSON in collect/agentless).
func Convert(bridges []vswitchd.Bridge, ports []vswitchd.Port, ifaces []vswitchd.Interface) *trace.OVS {
	o := &trace.OVS{}
	ifName := map[string]string{}
	for _, in := range ifaces {
		ifName[in.UUID] = in.Name
		x := trace.Interface{Name: in.Name, Type: in.Type}
		if in.Ofport != nil {
			x.OFPort = *in.Ofport
		}
		if in.MACInUse != nil {
			x.MACInUse = trace.NormalizeMAC(*in.MACInUse)
		}
		if in.AdminState != nil {
			x.AdminState = string(*in.AdminState)
		}
		if in.LinkState != nil {
			x.LinkState = string(*in.LinkState)
		}
		if len(in.ExternalIDs) > 0 {
			x.ExternalIDs = in.ExternalIDs
		}
		o.Interfaces = append(o.Interfaces, x)
	}
	portName := map[string]string{}
	for _, p := range ports {
		portName[p.UUID] = p.Name
	}
	bridgeOf := map[string]string{}
	for _, b := range bridges {
		x := trace.Bridge{Name: b.Name, DatapathType: b.DatapathType}
		// How long an idle MAC stays in the table: a missing pod MAC is an idle pod, not a fault.
		if t, err := strconv.Atoi(b.OtherConfig["mac-aging-time"]); err == nil && t > 0 {
			x.MACAgingTime = t
		}
		for _, u := range b.Ports {
			if n, ok := portName[u]; ok {
				x.Ports = append(x.Ports, n)
				bridgeOf[u] = b.Name
			}
		}
		sort.Strings(x.Ports)
		o.Bridges = append(o.Bridges, x)
	}
	for _, p := range ports {
		x := trace.Port{Name: p.Name, Bridge: bridgeOf[p.UUID], Tag: p.Tag}
		if len(p.Trunks) > 0 {
			x.Trunks = append([]int(nil), p.Trunks...)
			sort.Ints(x.Trunks)
		}
		if p.VLANMode != nil {
			x.VLANMode = string(*p.VLANMode)
		}
		for _, u := range p.Interfaces {
			if n, ok := ifName[u]; ok {
				x.Interfaces = append(x.Interfaces, n)
			}
		}
		sort.Strings(x.Interfaces)
		o.Ports = append(o.Ports, x)
	}
	sort.Slice(o.Bridges, func(i, j int) bool { return o.Bridges[i].Name < o.Bridges[j].Name })
	sort.Slice(o.Ports, func(i, j int) bool { return o.Ports[i].Name < o.Ports[j].Name })
	sort.Slice(o.Interfaces, func(i, j int) bool { return o.Interfaces[i].Name < o.Interfaces[j].Name })
	return o
}

// ReadMACTables reads `fdb/show` of every bridge from ovs-vswitchd, through its unixctl socket,
// or through ovs-appctl when opts.UseAppctl and the socket fails.
func ReadMACTables(ctx context.Context, opts Options, bridges []trace.Bridge) ([]trace.MACEntry, error) {
	opts.defaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	sock := opts.VswitchdCtl
	var findErr error
	if sock == "" {
		sock, findErr = FindVswitchdCtl(opts.RunDir, opts.CtlHint)
	}
	var out []trace.MACEntry
	for _, b := range bridges {
		text, err := fdbShow(ctx, opts, sock, findErr, b.Name)
		if err != nil {
			return nil, fmt.Errorf("MAC table not read: %w", err)
		}
		es, err := ParseFDB(b.Name, text)
		if err != nil {
			return nil, fmt.Errorf("MAC table not read: %w", err)
		}
		out = append(out, es...)
	}
	return out, nil
}

func fdbShow(ctx context.Context, opts Options, sock string, findErr error, bridge string) (string, error) {
	var err error
	if findErr == nil {
		var text string
		if text, err = Unixctl(ctx, sock, "fdb/show", bridge); err == nil {
			return text, nil
		}
	} else {
		err = findErr
	}
	if !opts.UseAppctl {
		return "", err
	}
	s := sock
	if findErr != nil {
		s = "" // let ovs-appctl find the daemon itself
	}
	text, aerr := appctl(ctx, opts.Appctl, s, "fdb/show", bridge)
	if aerr != nil {
		return "", fmt.Errorf("%w; fallback: %w", err, aerr)
	}
	return text, nil
}
