package ovn

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/mapper"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// nbData is the decoded NB rows one Collect read, keyed by UUID.
type nbData struct {
	switches map[string]*nbdb.LogicalSwitch
	lsps     map[string]*nbdb.LogicalSwitchPort
	routers  map[string]*nbdb.LogicalRouter
	lrps     map[string]*nbdb.LogicalRouterPort
	routes   map[string]*nbdb.LogicalRouterStaticRoute
	nats     map[string]*nbdb.NAT
	lbs      map[string]*nbdb.LoadBalancer
}

type reader struct {
	cli      client.Client
	schema   ovsdb.DatabaseSchema
	warnings []string
}

// sel is one select: a table and a where clause (conditions ANDed).
type sel struct {
	table string
	where []ovsdb.Condition
}

// all matches every row: a select needs a where clause, and an empty one is dropped by omitempty.
var all = []ovsdb.Condition{ovsdb.NewCondition("_uuid", ovsdb.ConditionNotEqual, ovsdb.UUID{GoUUID: "00000000-0000-0000-0000-000000000000"})}

func eq(col string, v any) []ovsdb.Condition {
	return []ovsdb.Condition{ovsdb.NewCondition(col, ovsdb.ConditionEqual, v)}
}

func hasKey(col, k, v string) []ovsdb.Condition {
	return []ovsdb.Condition{ovsdb.NewCondition(col, ovsdb.ConditionIncludes, ovsdb.OvsMap{GoMap: map[any]any{k: v}})}
}

func byUUID(table string, uuids []string) []sel {
	out := make([]sel, 0, len(uuids))
	for _, u := range uuids {
		out = append(out, sel{table, eq("_uuid", ovsdb.UUID{GoUUID: u})})
	}
	return out
}

// run executes the selects in one read-only transaction and decodes each row into d.
func (r *reader) run(ctx context.Context, d *nbData, sels []sel) error {
	if len(sels) == 0 {
		return nil
	}
	ops := make([]ovsdb.Operation, len(sels))
	for i, s := range sels {
		ops[i] = ovsdb.Operation{Op: ovsdb.OperationSelect, Table: s.table, Where: s.where}
	}
	res, err := r.cli.Transact(ctx, ops...)
	if err != nil {
		return err
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		return err
	}
	m := mapper.NewMapper(r.schema)
	for i, s := range sels {
		for _, row := range res[i].Rows {
			if err := d.decode(m, r.schema.Table(s.table), s.table, row); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeInto decodes row into a new T and files it under its _uuid (which the mapper leaves unset:
// the column is not in the table schema).
func decodeInto[T any](m mapper.Mapper, ts *ovsdb.TableSchema, table string, row ovsdb.Row, into map[string]*T, uuid func(*T) *string) error {
	obj := new(T)
	info, err := mapper.NewInfo(table, ts, obj)
	if err != nil {
		return err
	}
	if err := m.GetRowData(&row, info); err != nil {
		return err
	}
	u, ok := row["_uuid"].(ovsdb.UUID)
	if !ok {
		return fmt.Errorf("table %s: a row without _uuid", table)
	}
	*uuid(obj) = u.GoUUID
	into[u.GoUUID] = obj
	return nil
}

func (d *nbData) decode(m mapper.Mapper, ts *ovsdb.TableSchema, table string, row ovsdb.Row) error {
	if ts == nil {
		return fmt.Errorf("the database has no table %s (is it OVN_Northbound?)", table)
	}
	switch table {
	case nbdb.LogicalSwitchTable:
		return decodeInto(m, ts, table, row, d.switches, func(o *nbdb.LogicalSwitch) *string { return &o.UUID })
	case nbdb.LogicalSwitchPortTable:
		return decodeInto(m, ts, table, row, d.lsps, func(o *nbdb.LogicalSwitchPort) *string { return &o.UUID })
	case nbdb.LogicalRouterTable:
		return decodeInto(m, ts, table, row, d.routers, func(o *nbdb.LogicalRouter) *string { return &o.UUID })
	case nbdb.LogicalRouterPortTable:
		return decodeInto(m, ts, table, row, d.lrps, func(o *nbdb.LogicalRouterPort) *string { return &o.UUID })
	case nbdb.LogicalRouterStaticRouteTable:
		return decodeInto(m, ts, table, row, d.routes, func(o *nbdb.LogicalRouterStaticRoute) *string { return &o.UUID })
	case nbdb.NATTable:
		return decodeInto(m, ts, table, row, d.nats, func(o *nbdb.NAT) *string { return &o.UUID })
	case nbdb.LoadBalancerTable:
		return decodeInto(m, ts, table, row, d.lbs, func(o *nbdb.LoadBalancer) *string { return &o.UUID })
	}
	return fmt.Errorf("unexpected table %s", table)
}

func newNBData() *nbData {
	return &nbData{
		switches: map[string]*nbdb.LogicalSwitch{}, lsps: map[string]*nbdb.LogicalSwitchPort{},
		routers: map[string]*nbdb.LogicalRouter{}, lrps: map[string]*nbdb.LogicalRouterPort{},
		routes: map[string]*nbdb.LogicalRouterStaticRoute{}, nats: map[string]*nbdb.NAT{}, lbs: map[string]*nbdb.LoadBalancer{},
	}
}

// read fetches what q needs in at most four transactions:
//  1. the routing topology (switches, routers, router ports, static routes, router-type switch
//     ports: it grows with namespaces and nodes, not pods) and the switch ports bound to the
//     query's endpoints and nodes (by name NS_POD, external_ids packetwalk/pod, packetwalk/node);
//  2. the parents of the CHILD ports found, the CHILD ports of the queried nodes, and, for an
//     endpoint IP no port claims yet, the ports of the switch whose subnet holds it;
//  3. the NAT rules and load balancers of the routers and switches the paths cross.
//
// With q.All it reads every switch port instead.
func (r *reader) read(ctx context.Context, q fabric.Query) (*nbData, error) {
	d := newNBData()
	sels := []sel{
		{nbdb.LogicalSwitchTable, all}, {nbdb.LogicalRouterTable, all}, {nbdb.LogicalRouterPortTable, all},
		{nbdb.LogicalRouterStaticRouteTable, all},
	}
	if q.All {
		sels = append(sels, sel{nbdb.LogicalSwitchPortTable, all})
	} else {
		sels = append(sels, sel{nbdb.LogicalSwitchPortTable, eq("type", "router")})
		for _, e := range append(append([]fabric.Endpoint{}, q.Sources...), q.Destinations...) {
			if e.Pod != nil {
				sels = append(sels,
					sel{nbdb.LogicalSwitchPortTable, eq("name", e.Pod.Namespace+"_"+e.Pod.Name)},
					sel{nbdb.LogicalSwitchPortTable, hasKey("external_ids", keyPod, e.Pod.String())})
			}
			if e.Node != "" && e.Pod == nil {
				sels = append(sels, nodeSels(e.Node)...)
			}
		}
		for _, n := range q.Nodes {
			sels = append(sels, nodeSels(n)...)
		}
	}
	if err := r.run(ctx, d, sels); err != nil {
		return nil, err
	}
	if !q.All {
		if err := r.run(ctx, d, r.second(d, q)); err != nil {
			return nil, err
		}
	}
	if err := r.run(ctx, d, r.third(d, q)); err != nil {
		return nil, err
	}
	return d, nil
}

func nodeSels(n string) []sel {
	return []sel{{nbdb.LogicalSwitchPortTable, hasKey("external_ids", keyNode, n)},
		{nbdb.LogicalSwitchPortTable, hasKey("external_ids", keyOVNKNode, n)}}
}

func (r *reader) second(d *nbData, q fabric.Query) []sel {
	var sels []sel
	have := map[string]bool{}
	for _, p := range d.lsps {
		have[p.Name] = true
	}
	nodes := map[string]bool{}
	for _, n := range q.Nodes {
		nodes[n] = true
	}
	for _, p := range sortedLSPs(d) {
		if p.ParentName != nil && !have[*p.ParentName] {
			have[*p.ParentName] = true
			sels = append(sels, sel{nbdb.LogicalSwitchPortTable, eq("name", *p.ParentName)})
		}
		if n := nodeOf(p); n != "" && nodes[n] {
			sels = append(sels, sel{nbdb.LogicalSwitchPortTable, eq("parent_name", p.Name)})
		}
	}
	// Endpoint IPs no port claims: read the ports of the switch whose subnet holds the IP.
	claimed := map[netip.Addr]bool{}
	for _, p := range d.lsps {
		for _, a := range p.Addresses {
			_, ips := parseAddresses(a)
			for _, ip := range ips {
				claimed[ip] = true
			}
		}
	}
	subnets := switchSubnets(d)
	done := map[string]bool{}
	for _, e := range append(append([]fabric.Endpoint{}, q.Sources...), q.Destinations...) {
		if !e.IP.IsValid() || claimed[e.IP] {
			continue
		}
		for _, s := range sortedSwitches(d) {
			if done[s.UUID] || !containsAddr(subnets[s.UUID], e.IP) {
				continue
			}
			done[s.UUID] = true
			var missing []string
			for _, u := range s.Ports {
				if d.lsps[u] == nil {
					missing = append(missing, u)
				}
			}
			sort.Strings(missing)
			sels = append(sels, byUUID(nbdb.LogicalSwitchPortTable, missing)...)
		}
	}
	return sels
}

// third reads the NAT rules and load balancers of the routers and switches on the paths.
func (r *reader) third(d *nbData, q fabric.Query) []sel {
	f, _ := d.fabric(q)
	routers, switches := pathObjects(f, q)
	var sels []sel
	for _, lr := range sortedRouters(d) {
		if routers[lr.Name] || q.All {
			sels = append(sels, byUUID(nbdb.NATTable, lr.Nat)...)
			sels = append(sels, byUUID(nbdb.LoadBalancerTable, lr.LoadBalancer)...)
		}
	}
	for _, ls := range sortedSwitches(d) {
		if switches[ls.Name] || q.All {
			sels = append(sels, byUUID(nbdb.LoadBalancerTable, ls.LoadBalancer)...)
		}
	}
	return sels
}

// pathObjects follows the engine's routing from each source's switch towards each destination and
// returns the routers and switches crossed (by ID), so only their NAT and load balancers are read.
func pathObjects(f *trace.Fabric, q fabric.Query) (routers, switches map[string]bool) {
	routers, switches = map[string]bool{}, map[string]bool{}
	portsOf := map[string][]trace.RouterPort{}
	for _, rp := range f.RouterPorts {
		portsOf[rp.Router] = append(portsOf[rp.Router], rp)
	}
	rpByID := map[string]trace.RouterPort{}
	for _, rp := range f.RouterPorts {
		rpByID[rp.ID] = rp
	}
	swOfRP := map[string]string{}
	for _, sp := range f.SwitchPorts {
		if sp.RouterPort != "" {
			swOfRP[sp.RouterPort] = sp.Switch
		}
	}
	start := func(ip netip.Addr) (string, string) { // switch, first router
		for _, sp := range f.SwitchPorts {
			for _, s := range sp.IPs {
				if a, err := netip.ParseAddr(s); err == nil && a == ip {
					for _, rp := range f.RouterPorts {
						if swOfRP[rp.ID] == sp.Switch {
							return sp.Switch, rp.Router
						}
					}
					return sp.Switch, ""
				}
			}
		}
		return "", ""
	}
	walk := func(from, to netip.Addr) {
		sw, rt := start(from)
		if sw != "" {
			switches[sw] = true
		}
		seen := map[string]bool{}
		for rt != "" && !seen[rt] {
			seen[rt], routers[rt] = true, true
			st := trace.RouteStep(f, rt, to)
			if !st.Found {
				return
			}
			if st.Connected {
				if s := swOfRP[st.OutPort]; s != "" {
					switches[s] = true
				}
				return
			}
			rt = rpByID[st.PeerPort].Router
		}
	}
	for _, s := range q.Sources {
		for _, t := range q.Destinations {
			if s.IP.IsValid() && t.IP.IsValid() {
				walk(s.IP, t.IP)
				walk(t.IP, s.IP)
			}
		}
	}
	return routers, switches
}
