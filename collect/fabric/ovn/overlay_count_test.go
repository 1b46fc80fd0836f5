package ovn

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/stdr"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/database/inmemory"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
	"github.com/ovn-org/libovsdb/server"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/sbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// counting counts the transactions a reader sends.
type counting struct {
	client.Client
	n int
}

func (c *counting) Transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	c.n++
	return c.Client.Transact(ctx, ops...)
}

// serve starts libovsdb's in-memory OVSDB server for a schema and returns a connected client.
func serve(t *testing.T, schema ovsdb.DatabaseSchema, cm model.ClientDBModel) client.Client {
	t.Helper()
	stdr.SetVerbosity(0) // the server package turns its logging up to 5 when imported
	dbm, errs := model.NewDatabaseModel(schema, cm)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	srv, err := server.NewOvsdbServer(inmemory.NewDatabase(map[string]model.ClientDBModel{schema.Name: cm}), dbm)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "db.sock")
	go func() { _ = srv.Serve("unix", sock) }()
	t.Cleanup(srv.Close)
	for deadline := time.Now().Add(5 * time.Second); !srv.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("in-memory OVSDB server not ready")
		}
	}
	discard := logr.Discard()
	cli, err := client.NewOVSDBClient(cm, client.WithEndpoint("unix:"+sock), client.WithLogger(&discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cli.Close)
	return cli
}

func insert(table, name string, row ovsdb.Row) ovsdb.Operation {
	return ovsdb.Operation{Op: ovsdb.OperationInsert, Table: table, UUIDName: name, Row: row}
}

func ref(name string) ovsdb.UUID { return ovsdb.UUID{GoUUID: name} }

func mustTransact(t *testing.T, cli client.Client, ops []ovsdb.Operation) []ovsdb.OperationResult {
	t.Helper()
	res, err := cli.Transact(context.Background(), ops...)
	if err == nil {
		_, err = ovsdb.CheckOperationResults(res, ops)
	}
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// overlayReads reads the hosts and the firewall of two endpoint ports in databases of n chassis,
// n bound ports, n port groups with one ACL and one address set each, and returns the number of
// transactions each read sent.
func overlayReads(t *testing.T, n int) (sbTxns, nbTxns int) {
	sbm, _ := sbdb.FullDatabaseModel()
	sb := serve(t, sbdb.Schema(), sbm)
	ops := []ovsdb.Operation{insert(sbdb.DatapathBindingTable, "dp", ovsdb.Row{"tunnel_key": 1})}
	for i := range n {
		ops = append(ops,
			insert(sbdb.EncapTable, fmt.Sprintf("e%d", i), ovsdb.Row{"type": "geneve", "ip": fmt.Sprintf("192.168.%d.%d", i/250, i%250+1), "chassis_name": fmt.Sprintf("ch-%d", i)}),
			insert(sbdb.ChassisTable, fmt.Sprintf("c%d", i), ovsdb.Row{"name": fmt.Sprintf("ch-%d", i), "hostname": fmt.Sprintf("host-%d", i),
				"encaps": ovsdb.OvsSet{GoSet: []any{ref(fmt.Sprintf("e%d", i))}}}),
			insert(sbdb.PortBindingTable, "", ovsdb.Row{"logical_port": fmt.Sprintf("lp-%d", i), "datapath": ref("dp"), "tunnel_key": i + 1,
				"chassis": ref(fmt.Sprintf("c%d", i))}))
	}
	mustTransact(t, sb, ops)
	ends := []string{"lp-0", fmt.Sprintf("lp-%d", n-1)}
	f := &trace.Fabric{Provider: "ovn", SwitchPorts: []trace.SwitchPort{{ID: ends[0], Switch: "ls"}, {ID: ends[1], Switch: "ls"}}}
	c := &counting{Client: sb}
	if err := readBindings(context.Background(), c, f, ends, "test"); err != nil {
		t.Fatal(err)
	}
	if len(f.Hosts) != 2 || f.SwitchPorts[0].Host != "ch-0" || f.SwitchPorts[1].Host != fmt.Sprintf("ch-%d", n-1) ||
		len(f.Hosts[0].TEPs) != 1 || f.Hosts[0].TEPs[0].IP != "192.168.0.1" {
		t.Fatalf("n=%d: hosts %+v ports %+v", n, f.Hosts, f.SwitchPorts)
	}
	sbTxns = c.n

	nbm, _ := nbdb.FullDatabaseModel()
	nb := serve(t, nbdb.Schema(), nbm)
	ops = []ovsdb.Operation{insert(nbdb.NBGlobalTable, "", ovsdb.Row{})}
	var lsps []any
	for i := range n {
		lsp, acl := fmt.Sprintf("p%d", i), fmt.Sprintf("a%d", i)
		lsps = append(lsps, ref(lsp))
		ops = append(ops,
			insert(nbdb.LogicalSwitchPortTable, lsp, ovsdb.Row{"name": fmt.Sprintf("lp-%d", i)}),
			insert(nbdb.ACLTable, acl, ovsdb.Row{"priority": 1001, "direction": "from-lport", "action": "drop",
				"match": fmt.Sprintf("inport == @pg%d && ip4.dst == $as%d", i, i)}),
			insert(nbdb.AddressSetTable, "", ovsdb.Row{"name": fmt.Sprintf("as%d", i), "addresses": ovsdb.OvsSet{GoSet: []any{"172.15.0.4"}}}),
			insert(nbdb.PortGroupTable, "", ovsdb.Row{"name": fmt.Sprintf("pg%d", i), "ports": ovsdb.OvsSet{GoSet: []any{ref(lsp)}}, "acls": ovsdb.OvsSet{GoSet: []any{ref(acl)}}}))
	}
	ops = append(ops, insert(nbdb.LogicalSwitchTable, "", ovsdb.Row{"name": "ls", "ports": ovsdb.OvsSet{GoSet: lsps}}))
	mustTransact(t, nb, ops)
	d := newNBData()
	for _, e := range ends {
		ps, err := selectRows(context.Background(), nb, nbdb.LogicalSwitchPortTable, [][]ovsdb.Condition{eq("name", e)}, func(o *nbdb.LogicalSwitchPort) *string { return &o.UUID })
		if err != nil || len(ps) != 1 {
			t.Fatalf("port %s: %v", e, err)
		}
		d.lsps[ps[0].UUID] = ps[0]
	}
	c = &counting{Client: nb}
	fw, err := readFirewall(context.Background(), c, d, f, ends)
	if err != nil {
		t.Fatal(err)
	}
	if len(fw.Rules) != 2 || fw.Rules[0].Unknown != "" || len(fw.Rules[0].AppliedTo.Ports) != 1 || len(fw.Rules[0].Destinations.CIDRs) != 1 {
		t.Fatalf("n=%d: rules %+v", n, fw.Rules)
	}
	return sbTxns, c.n
}

// TestOverlayReadsAreConstant: the hosts and the firewall of a walk cost the same number of
// transactions on 10 chassis and ports as on 2,000.
func TestOverlayReadsAreConstant(t *testing.T) {
	sbSmall, nbSmall := overlayReads(t, 10)
	sbBig, nbBig := overlayReads(t, 2000)
	t.Logf("transactions: Southbound %d and %d, Northbound ACLs %d and %d", sbSmall, sbBig, nbSmall, nbBig)
	if sbSmall != sbBig || nbSmall != nbBig || sbSmall > 3 || nbSmall > 5 {
		t.Errorf("Southbound %d -> %d, Northbound %d -> %d transactions from 10 to 2,000 chassis: want the same, at most 3 and 5", sbSmall, sbBig, nbSmall, nbBig)
	}
}

// selects counts the select operations a reader sends, by table.
type selects struct {
	client.Client
	n map[string]int
}

func (c *selects) Transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	for _, op := range ops {
		c.n[op.Table]++
	}
	return c.Client.Transact(ctx, ops...)
}

// TestSharedLBsReadOnce: a Load_Balancer_Group and a load balancer attached to two switches and a
// router (as OVN-Kubernetes attaches its cluster-wide group and a node's load balancers) are each
// selected once, and a group's load balancer already read directly is not selected again.
func TestSharedLBsReadOnce(t *testing.T) {
	nbm, _ := nbdb.FullDatabaseModel()
	nb := serve(t, nbdb.Schema(), nbm)
	set := func(names ...string) ovsdb.OvsSet {
		var s []any
		for _, n := range names {
			s = append(s, ref(n))
		}
		return ovsdb.OvsSet{GoSet: s}
	}
	mustTransact(t, nb, []ovsdb.Operation{
		insert(nbdb.LoadBalancerHealthCheckTable, "hc", ovsdb.Row{"vip": "10.96.0.10:53"}),
		insert(nbdb.LoadBalancerTable, "node", ovsdb.Row{"name": "node-lb", "vips": ovsdb.OvsMap{GoMap: map[any]any{"10.96.0.10:53": "10.244.0.5:53"}}, "health_check": set("hc")}),
		insert(nbdb.LoadBalancerTable, "svc", ovsdb.Row{"name": "svc-lb", "vips": ovsdb.OvsMap{GoMap: map[any]any{"10.96.0.1:443": "172.18.0.2:6443"}}}),
		insert(nbdb.LoadBalancerGroupTable, "grp", ovsdb.Row{"name": "clusterLBGroup", "load_balancer": set("svc", "node")}),
		insert(nbdb.LogicalSwitchTable, "", ovsdb.Row{"name": "node-a", "load_balancer": set("node"), "load_balancer_group": set("grp")}),
		insert(nbdb.LogicalSwitchTable, "", ovsdb.Row{"name": "node-b", "load_balancer": set("node"), "load_balancer_group": set("grp")}),
		insert(nbdb.LogicalRouterTable, "", ovsdb.Row{"name": "GR_node-a", "load_balancer": set("node"), "load_balancer_group": set("grp")}),
	})
	c := &selects{Client: nb, n: map[string]int{}}
	r := &reader{cli: c, schema: nb.Schema()}
	d, err := r.read(context.Background(), fabric.Query{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.lbs) != 2 || len(d.lbGroups) != 1 || len(d.hcs) != 1 {
		t.Fatalf("read %d load balancers, %d groups, %d health checks: want 2, 1, 1", len(d.lbs), len(d.lbGroups), len(d.hcs))
	}
	if c.n[nbdb.LoadBalancerGroupTable] != 1 || c.n[nbdb.LoadBalancerTable] != 2 || c.n[nbdb.LoadBalancerHealthCheckTable] != 1 {
		t.Errorf("selects by table %v: want Load_Balancer_Group 1, Load_Balancer 2, Load_Balancer_Health_Check 1", c.n)
	}
}
