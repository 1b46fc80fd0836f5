package ovn

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/ovn-org/libovsdb/mapper"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovsdbrpc"
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
	lbGroups map[string]*nbdb.LoadBalancerGroup
	hcs      map[string]*nbdb.LoadBalancerHealthCheck
	// searched names, per endpoint IP, the switches whose ports were read to find its port.
	searched map[netip.Addr][]string
	// gen counts the rows decoded: what is derived from the data holds while it does not change.
	gen int
}

type reader struct {
	cli      db
	schema   ovsdb.DatabaseSchema
	warnings []string
}

// sel is one select: a table and a where clause (conditions ANDed), and optionally the columns.
type sel struct {
	table string
	where []ovsdb.Condition
	cols  []string
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
		out = append(out, sel{table: table, where: eq("_uuid", ovsdb.UUID{GoUUID: u})})
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
		ops[i] = ovsdb.Operation{Op: ovsdb.OperationSelect, Table: s.table, Where: s.where, Columns: s.cols}
	}
	m := mapper.NewMapper(r.schema)
	objs, err := selectDecoded(ctx, r.cli, ops, func(i int, row ovsdb.Row) (any, error) {
		return decodeNB(m, r.schema.Table(sels[i].table), sels[i].table, row)
	})
	if err != nil {
		return err
	}
	for _, os := range objs {
		for _, o := range os {
			d.put(o)
		}
	}
	return nil
}

// db is what the reads need of a database connection: an ovsdbrpc.Client (tests wrap one).
type db interface {
	ovsdbrpc.Transactor
	Schema() ovsdb.DatabaseSchema
}

// decodeNB decodes one row of an NB table the reads know into its model object.
func decodeNB(m mapper.Mapper, ts *ovsdb.TableSchema, table string, row ovsdb.Row) (any, error) {
	if ts == nil {
		return nil, fmt.Errorf("the database has no table %s (is it OVN_Northbound?)", table)
	}
	switch table {
	case nbdb.LogicalSwitchTable:
		return ovsdbrpc.DecodeRow(m, ts, table, row, func(o *nbdb.LogicalSwitch) *string { return &o.UUID })
	case nbdb.LogicalSwitchPortTable:
		return ovsdbrpc.DecodeRow(m, ts, table, row, func(o *nbdb.LogicalSwitchPort) *string { return &o.UUID })
	case nbdb.LogicalRouterTable:
		return ovsdbrpc.DecodeRow(m, ts, table, row, func(o *nbdb.LogicalRouter) *string { return &o.UUID })
	case nbdb.LogicalRouterPortTable:
		return ovsdbrpc.DecodeRow(m, ts, table, row, func(o *nbdb.LogicalRouterPort) *string { return &o.UUID })
	case nbdb.LogicalRouterStaticRouteTable:
		return ovsdbrpc.DecodeRow(m, ts, table, row, func(o *nbdb.LogicalRouterStaticRoute) *string { return &o.UUID })
	case nbdb.NATTable:
		return ovsdbrpc.DecodeRow(m, ts, table, row, func(o *nbdb.NAT) *string { return &o.UUID })
	case nbdb.LoadBalancerTable:
		return ovsdbrpc.DecodeRow(m, ts, table, row, func(o *nbdb.LoadBalancer) *string { return &o.UUID })
	case nbdb.LoadBalancerGroupTable:
		return ovsdbrpc.DecodeRow(m, ts, table, row, func(o *nbdb.LoadBalancerGroup) *string { return &o.UUID })
	case nbdb.LoadBalancerHealthCheckTable:
		return ovsdbrpc.DecodeRow(m, ts, table, row, func(o *nbdb.LoadBalancerHealthCheck) *string { return &o.UUID })
	}
	return nil, fmt.Errorf("unexpected table %s", table)
}

// put files a decoded row under its _uuid.
func (d *nbData) put(o any) {
	d.gen++
	switch o := o.(type) {
	case *nbdb.LogicalSwitch:
		d.switches[o.UUID] = o
	case *nbdb.LogicalSwitchPort:
		d.lsps[o.UUID] = o
	case *nbdb.LogicalRouter:
		d.routers[o.UUID] = o
	case *nbdb.LogicalRouterPort:
		d.lrps[o.UUID] = o
	case *nbdb.LogicalRouterStaticRoute:
		d.routes[o.UUID] = o
	case *nbdb.NAT:
		d.nats[o.UUID] = o
	case *nbdb.LoadBalancer:
		d.lbs[o.UUID] = o
	case *nbdb.LoadBalancerGroup:
		d.lbGroups[o.UUID] = o
	case *nbdb.LoadBalancerHealthCheck:
		d.hcs[o.UUID] = o
	}
}

func newNBData() *nbData {
	return &nbData{
		switches: map[string]*nbdb.LogicalSwitch{}, lsps: map[string]*nbdb.LogicalSwitchPort{},
		routers: map[string]*nbdb.LogicalRouter{}, lrps: map[string]*nbdb.LogicalRouterPort{},
		routes: map[string]*nbdb.LogicalRouterStaticRoute{}, nats: map[string]*nbdb.NAT{}, lbs: map[string]*nbdb.LoadBalancer{},
		lbGroups: map[string]*nbdb.LoadBalancerGroup{}, hcs: map[string]*nbdb.LoadBalancerHealthCheck{},
		searched: map[netip.Addr][]string{},
	}
}

// read fetches what q needs. With q.All it reads the five tables whole. Otherwise it follows the
// paths, one small select-only transaction per step, so the amount read does not grow with the
// number of pods:
//  1. the switch ports of the query's endpoints by what a deployment gives: the iface-id the
//     pod's node reports (OVN's own binding key), and OVN-Kubernetes' and Kube-OVN's names; the
//     ports OVN-Kubernetes tags with a queried node; and the router-type switch ports (one per
//     downlink);
//  2. the parents of the CHILD ports found and the CHILD ports of the queried nodes;
//  3. for an endpoint no port read declares (addresses, dynamic_addresses, port_security), the
//     ports of the switch whose subnet holds its IP (other_config:subnet, or the networks of the
//     router port on it), read whole;
//  4. the switches holding the ports read;
//  5. from each source's switch, the routers the engine's longest-prefix match goes through
//     (each with all its ports and static routes), up to the destination's switch; for an
//     endpoint IP no port claims, the ports of the switch whose subnet holds it; then the same
//     from each destination back to the source;
//  6. the NAT rules and load balancers of the routers and switches crossed.
func (r *reader) read(ctx context.Context, q fabric.Query) (*nbData, error) {
	d := newNBData()
	if q.All {
		err := r.run(ctx, d, []sel{
			{table: nbdb.LogicalSwitchTable, where: all}, {table: nbdb.LogicalRouterTable, where: all}, {table: nbdb.LogicalRouterPortTable, where: all},
			{table: nbdb.LogicalRouterStaticRouteTable, where: all}, {table: nbdb.LogicalSwitchPortTable, where: all},
		})
		if err != nil {
			return nil, err
		}
		return d, r.readLBs(ctx, d, q)
	}
	endpoints := queryEndpoints(q)
	sels := []sel{{table: nbdb.LogicalSwitchPortTable, where: eq("type", "router")}}
	named := map[string]bool{}
	byName := func(n string) {
		if n != "" && !named[n] {
			named[n] = true
			sels = append(sels, sel{table: nbdb.LogicalSwitchPortTable, where: eq("name", n)})
		}
	}
	for _, e := range endpoints {
		byName(e.IfaceID)
		if e.Pod != nil {
			for _, n := range knownNames(*e.Pod) {
				byName(n)
			}
		}
		if e.Node != "" && e.Pod == nil {
			sels = append(sels, nodeSels(e.Node)...)
		}
	}
	for _, n := range q.Nodes {
		sels = append(sels, nodeSels(n)...)
	}
	if err := r.run(ctx, d, sels); err != nil {
		return nil, err
	}
	if err := r.run(ctx, d, r.relatives(d, q)); err != nil {
		return nil, err
	}
	if err := r.locate(ctx, d, endpoints); err != nil {
		return nil, err
	}
	if err := r.run(ctx, d, r.relatives(d, q)); err != nil {
		return nil, err
	}
	if err := r.loadSwitches(ctx, d); err != nil {
		return nil, err
	}
	w := &pathReader{r: r, d: d, q: q}
	if len(q.Nodes) > 0 {
		// macs: the routers on the nodes' pod switches, so their MACs are named as routers.
		if err := w.switchRouters(ctx); err != nil {
			return nil, err
		}
	}
	for _, s := range q.Sources {
		for _, t := range q.Destinations {
			if err := w.walk(ctx, s.IP, t.IP); err != nil {
				return nil, err
			}
		}
	}
	if err := w.claimEndpoints(ctx, endpoints); err != nil {
		return nil, err
	}
	for _, s := range q.Sources {
		for _, t := range q.Destinations {
			if err := w.walk(ctx, t.IP, s.IP); err != nil {
				return nil, err
			}
		}
	}
	return d, r.readLBs(ctx, d, q)
}

// readLBs reads the NAT rules and load balancers of the paths (third), then the load balancers of
// the Load_Balancer_Groups the switches and routers there use (OVN-Kubernetes puts its cluster-wide
// Service load balancers in groups).
func (r *reader) readLBs(ctx context.Context, d *nbData, q fabric.Query) error {
	if err := r.run(ctx, d, r.third(d, q)); err != nil {
		return err
	}
	lbs := map[string]bool{}
	for _, lg := range d.lbGroups {
		for _, u := range lg.LoadBalancer {
			lbs[u] = true
		}
	}
	if err := r.run(ctx, d, byUUID(nbdb.LoadBalancerTable, unread(lbs, d.lbs))); err != nil {
		return err
	}
	// Their health checks (which VIP each checks): one more transaction, only when there are any.
	hcs := map[string]bool{}
	for _, lb := range d.lbs {
		for _, u := range lb.HealthCheck {
			hcs[u] = true
		}
	}
	return r.run(ctx, d, byUUID(nbdb.LoadBalancerHealthCheckTable, unread(hcs, d.hcs)))
}

func nodeSels(n string) []sel {
	return []sel{{table: nbdb.LogicalSwitchPortTable, where: hasKey("external_ids", keyOVNKNode, n)}}
}

// relatives: the parents of the CHILD ports read, and the CHILD ports of the queried nodes.
func (r *reader) relatives(d *nbData, q fabric.Query) []sel {
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
			sels = append(sels, sel{table: nbdb.LogicalSwitchPortTable, where: eq("name", *p.ParentName)})
		}
		if n := nodeOf(p); n != "" && nodes[n] {
			sels = append(sels, sel{table: nbdb.LogicalSwitchPortTable, where: eq("parent_name", p.Name)})
		}
	}
	return sels
}

// loadSwitches reads the switch of every non-router port read whose switch is not read yet.
func (r *reader) loadSwitches(ctx context.Context, d *nbData) error {
	held := map[string]bool{}
	for _, s := range d.switches {
		for _, u := range s.Ports {
			held[u] = true
		}
	}
	var sels []sel
	for _, p := range sortedLSPs(d) {
		if p.Type != "router" && !held[p.UUID] {
			sels = append(sels, switchHolding(p.UUID))
		}
	}
	return r.run(ctx, d, sels)
}

func switchHolding(lspUUID string) sel {
	return sel{table: nbdb.LogicalSwitchTable, where: []ovsdb.Condition{ovsdb.NewCondition("ports", ovsdb.ConditionIncludes,
		ovsdb.OvsSet{GoSet: []any{ovsdb.UUID{GoUUID: lspUUID}}})}}
}

// third reads the NAT rules and load balancers of the routers and switches on the paths, each row
// once (OVN-Kubernetes attaches one Load_Balancer_Group, and a node's load balancers, to many of
// them) and only those not read yet.
func (r *reader) third(d *nbData, q fabric.Query) []sel {
	var routers, switches map[string]bool
	if !q.All { // every router and switch else: no path to follow
		f, _ := d.fabric(q)
		routers, switches = pathObjects(f, q)
	}
	nats, lbs, groups := map[string]bool{}, map[string]bool{}, map[string]bool{}
	add := func(into map[string]bool, uuids []string) {
		for _, u := range uuids {
			into[u] = true
		}
	}
	for _, lr := range sortedRouters(d) {
		if routers[lr.Name] || q.All {
			add(nats, lr.Nat)
			add(lbs, lr.LoadBalancer)
			add(groups, lr.LoadBalancerGroup)
		}
	}
	for _, ls := range sortedSwitches(d) {
		if switches[ls.Name] || q.All {
			add(lbs, ls.LoadBalancer)
			add(groups, ls.LoadBalancerGroup)
		}
	}
	sels := byUUID(nbdb.NATTable, unread(nats, d.nats))
	sels = append(sels, byUUID(nbdb.LoadBalancerTable, unread(lbs, d.lbs))...)
	return append(sels, byUUID(nbdb.LoadBalancerGroupTable, unread(groups, d.lbGroups))...)
}

// unread is the UUIDs in want that have no row in have, sorted.
func unread[T any](want map[string]bool, have map[string]*T) []string {
	var out []string
	for _, u := range sortedKeys(want) {
		if have[u] == nil {
			out = append(out, u)
		}
	}
	return out
}
