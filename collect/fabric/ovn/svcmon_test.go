package ovn

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/sbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// monitorLab is a health-checked load balancer with three backends: one whose Service_Monitor is
// online, one offline, and one without ip_port_mappings (not monitored); plus n unrelated rows in
// the Southbound, and one at the offline backend's address on another logical port.
func monitorLab(t *testing.T, n int) (*trace.Fabric, []lbMonitor, *counting) {
	t.Helper()
	d := newNBData()
	d.hcs["hc1"] = &nbdb.LoadBalancerHealthCheck{UUID: "hc1", Vip: "10.96.0.80:80", Options: map[string]string{"interval": "1"}}
	d.lbs["lb1"] = &nbdb.LoadBalancer{UUID: "lb1", Name: "Service_default/web_TCP_cluster", HealthCheck: []string{"hc1"},
		Vips:           map[string]string{"10.96.0.80:80": "172.16.0.6:8080,172.16.1.7:8080,172.16.2.8:8080"},
		IPPortMappings: map[string]string{"172.16.0.6": "default_web-a:172.16.0.254", "172.16.1.7": "default_web-b:172.16.1.254"}}
	d.switches["s1"] = &nbdb.LogicalSwitch{UUID: "s1", Name: "node-a", LoadBalancer: []string{"lb1"}}
	q := fabric.Query{VIPs: []netip.Addr{netip.MustParseAddr("10.96.0.80")}}
	f, _ := d.fabric(q)
	mons := walkMonitors(f, d.monitors(), q)

	sbm, _ := sbdb.FullDatabaseModel()
	sb := serve(t, sbdb.Schema(), sbm)
	mon := func(ip, lport, status string) ovsdb.Operation {
		return insert(sbdb.ServiceMonitorTable, "", ovsdb.Row{"ip": ip, "port": 8080, "protocol": "tcp", "logical_port": lport, "status": status,
			"src_ip": "172.16.0.254", "src_mac": "0a:58:0a:00:00:01"})
	}
	ops := []ovsdb.Operation{mon("172.16.0.6", "default_web-a", "online"), mon("172.16.1.7", "default_web-b", "offline"),
		mon("172.16.1.7", "other_port", "online")}
	for i := range n {
		ops = append(ops, mon(fmt.Sprintf("172.20.%d.%d", i/250, i%250+1), fmt.Sprintf("p%d", i), "online"))
	}
	mustTransact(t, sb, ops)
	return f, mons, &counting{Client: sb}
}

// TestServiceMonitorHealth: the Southbound's Service_Monitor status becomes each health-checked
// backend's health, an unmatched row is a warning, and the read costs one transaction whatever
// the Southbound holds.
func TestServiceMonitorHealth(t *testing.T) {
	for _, n := range []int{0, 2000} {
		f, mons, c := monitorLab(t, n)
		if len(mons) != 2 {
			t.Fatalf("n=%d: monitored backends %+v, want the two with ip_port_mappings", n, mons)
		}
		warnings, err := readMonitors(context.Background(), c, f, mons, "test")
		if err != nil {
			t.Fatal(err)
		}
		b := f.LoadBalancers[0].VIPs[0].Backends
		if b[0].Status != trace.BackendUp || b[1].Status != trace.BackendDown || !strings.Contains(b[1].StatusDetail, "offline") ||
			b[2].Status != trace.BackendUnknown || !strings.Contains(b[2].StatusDetail, "not monitored") {
			t.Errorf("n=%d: backends %+v", n, b)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "other_port") || !strings.Contains(warnings[0], "not used") {
			t.Errorf("n=%d: warnings %q, want one for the row on other_port", n, warnings)
		}
		if c.n != 1 {
			t.Errorf("n=%d: %d transactions, want 1", n, c.n)
		}
	}
}

// TestServiceMonitorMissing: a monitored backend with no Service_Monitor row stays unknown, with a
// warning, and no Southbound leaves it unknown saying where its health is.
func TestServiceMonitorMissing(t *testing.T) {
	f, mons, c := monitorLab(t, 0)
	mons[0].logicalPort = "renamed"
	warnings, err := readMonitors(context.Background(), c, f, mons, "test")
	if err != nil {
		t.Fatal(err)
	}
	b := f.LoadBalancers[0].VIPs[0].Backends
	if b[0].Status != trace.BackendUnknown || len(warnings) != 3 || !strings.Contains(warnings[0], "no Service_Monitor") {
		t.Errorf("backend %+v warnings %q", b[0], warnings)
	}
	f, mons, _ = monitorLab(t, 0)
	noSBMonitors(f, mons, "--ovn-sb")
	if b := f.LoadBalancers[0].VIPs[0].Backends[1]; b.Status != trace.BackendUnknown || !strings.Contains(b.StatusDetail, "--ovn-sb") {
		t.Errorf("without a Southbound: %+v", b)
	}
}
