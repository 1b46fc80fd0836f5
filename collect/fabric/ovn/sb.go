package ovn

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/ovn-org/libovsdb/mapper"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/sbdb"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovsdbrpc"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// SourceSB names facts read from the OVN Southbound database in evidence.
const SourceSB = "ovn-sb"

// selectRows runs one read-only transaction of one select per where clause on table and decodes
// the rows into T (uuid files the row's _uuid, which the mapper leaves unset).
func selectRows[T any](ctx context.Context, cli db, table string, wheres [][]ovsdb.Condition, uuid func(*T) *string) ([]*T, error) {
	if len(wheres) == 0 {
		return nil, nil
	}
	schema := cli.Schema()
	ts := schema.Table(table)
	if ts == nil {
		return nil, fmt.Errorf("the database has no table %s", table)
	}
	ops := make([]ovsdb.Operation, len(wheres))
	for i, w := range wheres {
		ops[i] = ovsdb.Operation{Op: ovsdb.OperationSelect, Table: table, Where: w}
	}
	m := mapper.NewMapper(schema)
	objs, err := selectDecoded(ctx, cli, ops, func(_ int, row ovsdb.Row) (any, error) {
		return ovsdbrpc.DecodeRow(m, ts, table, row, uuid)
	})
	if err != nil {
		return nil, err
	}
	seen := map[string]*T{}
	var out []*T
	for _, os := range objs {
		for _, o := range os {
			v := o.(*T)
			seen[*uuid(v)] = v
		}
	}
	for _, v := range seen {
		out = append(out, v)
	}
	return out, nil
}

// firewallPorts are the ports whose host and firewall are read: the endpoints' ports, and for a
// bundle (q.All) every port but the router ones.
func firewallPorts(f *trace.Fabric, q fabric.Query) []string {
	if !q.All {
		return endpointPorts(f, q)
	}
	var ports []string
	for _, sp := range f.SwitchPorts {
		if sp.Type != trace.PortRouter {
			ports = append(ports, sp.ID)
		}
	}
	return ports
}

// endpointPorts are the names of the logical ports bound to the query's endpoints (by IP or the
// iface-id their node reports) and their parents: the ports whose host and firewall a walk shows.
func endpointPorts(f *trace.Fabric, q fabric.Query) []string {
	ips := map[netip.Addr]bool{}
	ids := map[string]bool{}
	for _, e := range queryEndpoints(q) {
		if e.IP.IsValid() {
			ips[e.IP] = true
		}
		if e.IfaceID != "" {
			ids[e.IfaceID] = true
		}
	}
	byID := map[string]*trace.SwitchPort{}
	for i := range f.SwitchPorts {
		byID[f.SwitchPorts[i].ID] = &f.SwitchPorts[i]
	}
	want := map[string]bool{}
	for _, sp := range f.SwitchPorts {
		if sp.Type == trace.PortRouter {
			continue
		}
		hit := ids[sp.AttachmentID]
		for _, s := range sp.IPs {
			if a, err := netip.ParseAddr(s); err == nil && ips[a] {
				hit = true
			}
		}
		if !hit {
			continue
		}
		want[sp.ID] = true
		if p := byID[sp.ParentPort]; p != nil {
			want[p.ID] = true
		}
	}
	out := make([]string, 0, len(want))
	for n := range want {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// readSB reads, from the Southbound database at addr, the chassis each of ports is bound to
// (Port_Binding.chassis) and those chassis with their encapsulations (Chassis.encaps -> Encap
// type and ip): three select-only transactions whatever the size of the cluster. It fills f.Hosts
// and each port's Host.
//
// It then reads the Service_Monitor rows of mons: failing that is a warning.
func (p *provider) readSB(ctx context.Context, f *trace.Fabric, ports []string, mons []lbMonitor) ([]string, error) {
	cli, err := p.connection(ctx, &p.earlySB, p.connectSB)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	if err := readBindings(ctx, cli, f, ports, p.cfg.SB); err != nil {
		return nil, err
	}
	w, err := readMonitors(ctx, cli, f, mons, p.cfg.SB)
	if err != nil {
		w = append(w, fmt.Sprintf("ovn: %v; the load balancers' backend health is not known", err))
	}
	return w, nil
}

// readBindings is readSB's reads on a connected client.
func readBindings(ctx context.Context, cli db, f *trace.Fabric, ports []string, addr string) error {
	var wheres [][]ovsdb.Condition
	for _, n := range ports {
		wheres = append(wheres, eq("logical_port", n))
	}
	pbs, err := selectRows(ctx, cli, sbdb.PortBindingTable, wheres, func(o *sbdb.PortBinding) *string { return &o.UUID })
	if err != nil {
		return fmt.Errorf("cannot read Port_Binding from the OVN Southbound database at %s: %w", addr, err)
	}
	bound := map[string]string{} // logical port -> chassis UUID
	var chassisUUIDs []string
	for _, pb := range pbs {
		if pb.Chassis != nil && *pb.Chassis != "" {
			bound[pb.LogicalPort] = *pb.Chassis
			if !slices.Contains(chassisUUIDs, *pb.Chassis) {
				chassisUUIDs = append(chassisUUIDs, *pb.Chassis)
			}
		}
	}
	sort.Strings(chassisUUIDs)
	chs, err := selectRows(ctx, cli, sbdb.ChassisTable, uuidWheres(chassisUUIDs), func(o *sbdb.Chassis) *string { return &o.UUID })
	if err != nil {
		return fmt.Errorf("cannot read Chassis from the OVN Southbound database at %s: %w", addr, err)
	}
	var encapUUIDs []string
	for _, c := range chs {
		encapUUIDs = append(encapUUIDs, c.Encaps...)
	}
	sort.Strings(encapUUIDs)
	encaps, err := selectRows(ctx, cli, sbdb.EncapTable, uuidWheres(encapUUIDs), func(o *sbdb.Encap) *string { return &o.UUID })
	if err != nil {
		return fmt.Errorf("cannot read Encap from the OVN Southbound database at %s: %w", addr, err)
	}
	f.Hosts = hostsFromSB(chs, encaps)
	name := map[string]string{}
	for _, c := range chs {
		name[c.UUID] = c.Name
	}
	for i := range f.SwitchPorts {
		if u, ok := bound[f.SwitchPorts[i].ID]; ok {
			f.SwitchPorts[i].Host = name[u]
		}
	}
	return nil
}

func uuidWheres(uuids []string) [][]ovsdb.Condition {
	out := make([][]ovsdb.Condition, 0, len(uuids))
	for _, u := range uuids {
		out = append(out, eq("_uuid", ovsdb.UUID{GoUUID: u}))
	}
	return out
}

// hostsFromSB maps chassis to hosts (ID = chassis name, Name = hostname) with their encaps as
// TEPs, sorted by ID.
func hostsFromSB(chs []*sbdb.Chassis, encaps []*sbdb.Encap) []trace.Host {
	byUUID := map[string]*sbdb.Encap{}
	for _, e := range encaps {
		byUUID[e.UUID] = e
	}
	hosts := make([]trace.Host, 0, len(chs))
	for _, c := range chs {
		h := trace.Host{ID: c.Name, Name: cmp.Or(c.Hostname, c.Name), HostSwitch: "br-int", Source: SourceSB}
		for _, u := range c.Encaps {
			if e := byUUID[u]; e != nil {
				h.TEPs = append(h.TEPs, trace.TEP{IP: e.IP, Encap: string(e.Type), Source: SourceSB})
			}
		}
		sort.Slice(h.TEPs, func(i, j int) bool { return h.TEPs[i].Encap+h.TEPs[i].IP < h.TEPs[j].Encap+h.TEPs[j].IP })
		hosts = append(hosts, h)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].ID < hosts[j].ID })
	return hosts
}

// checkSB checks the SB addresses (their TLS settings, the NB's certificates, load in sbReady).
func checkSB(cfg Config) error {
	if cfg.SB == "" {
		return nil
	}
	for _, a := range strings.Split(cfg.SB, ",") {
		if err := checkAddress(a, cfg.Hints.sb()); err != nil {
			return err
		}
	}
	return nil
}

// overlay adds what lies beside the logical path: the firewall (ACLs) at the walk's ports and,
// with an SB address, the hosts they are bound to. Either failing is a warning: the walk goes on
// without it.
func (p *provider) overlay(ctx context.Context, cli db, nb *nbData, f *trace.Fabric, q fabric.Query) []string {
	var warnings []string
	ports := firewallPorts(f, q)
	fw, err := readFirewall(ctx, cli, nb, f, ports)
	if err != nil {
		warnings = append(warnings, fmt.Sprintf("ovn: cannot read the ACLs at the walk's ports: %v; the firewall is not walked", err))
	} else {
		f.Firewall = fw
	}
	mons := walkMonitors(f, nb.monitors(), q)
	if p.cfg.SB == "" {
		noSBMonitors(f, mons, p.cfg.Hints.sb())
		return warnings
	}
	if err := p.sbReady(); err != nil {
		return append(warnings, fmt.Sprintf("ovn: %s: %v", p.cfg.Hints.sb(), err))
	}
	w, err := p.readSB(ctx, f, ports, mons)
	if err != nil {
		warnings = append(warnings, fmt.Sprintf("ovn: %v; the hosts and tunnels are not walked", err))
	}
	return append(warnings, w...)
}

// connectSB makes a connected client of the Southbound database, or says why it cannot.
func (p *provider) connectSB(ctx context.Context) (*ovsdbrpc.Client, error) {
	cli, err := ovsdbrpc.Connect(ctx, "OVN_Southbound", strings.Split(p.cfg.SB, ","), p.sbTLS)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the OVN Southbound database at %s: %w (check %s and that ovsdb-server serves OVN_Southbound there)", p.cfg.SB, err, p.cfg.Hints.sb())
	}
	return cli, nil
}

// sbReady loads the Southbound TLS files when SB is ssl: and they are not loaded yet.
func (p *provider) sbReady() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !strings.HasPrefix(p.cfg.SB, "ssl:") || p.sbTLS != nil {
		return nil
	}
	t, err := tlsConfig(p.cfg)
	if err != nil {
		return err
	}
	p.sbTLS = t
	return nil
}
