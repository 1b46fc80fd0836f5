package ovn

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/sbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// walkMonitors keeps the health-checked backends of the VIPs the walk goes to (every one for a
// bundle): a cluster-wide Load_Balancer_Group holds every Service's rows.
func walkMonitors(f *trace.Fabric, mons []lbMonitor, q fabric.Query) []lbMonitor {
	want := map[netip.Addr]bool{}
	for _, a := range q.VIPs {
		want[a.Unmap()] = true
	}
	for _, e := range q.Destinations {
		if e.IP.IsValid() {
			want[e.IP.Unmap()] = true
		}
	}
	idx := lbIndex(f)
	var out []lbMonitor
	for _, m := range mons {
		lb := idx[m.lb]
		if lb == nil || m.vip >= len(lb.VIPs) {
			continue
		}
		a, err := netip.ParseAddr(lb.VIPs[m.vip].IP)
		if q.All || err == nil && want[a.Unmap()] {
			out = append(out, m)
		}
	}
	return out
}

func lbIndex(f *trace.Fabric) map[string]*trace.LoadBalancer {
	idx := map[string]*trace.LoadBalancer{}
	for i := range f.LoadBalancers {
		idx[f.LoadBalancers[i].ID] = &f.LoadBalancers[i]
	}
	return idx
}

// noSBMonitors says, on each health-checked backend, where its health is.
func noSBMonitors(f *trace.Fabric, mons []lbMonitor, hint string) {
	idx := lbIndex(f)
	for _, m := range mons {
		if lb := idx[m.lb]; lb != nil {
			lb.VIPs[m.vip].Backends[m.back].StatusDetail = "its Service_Monitor is in the OVN Southbound: give " + hint
		}
	}
}

// readMonitors reads the Service_Monitor rows of mons (one select-only transaction, one select
// per backend by ip and port) and sets each backend's health from the row with its protocol and
// logical port. A backend with no such row stays unknown; a row at a backend's ip and port that
// matches no backend is not used. Both are warnings.
func readMonitors(ctx context.Context, cli db, f *trace.Fabric, mons []lbMonitor, addr string) ([]string, error) {
	var wheres [][]ovsdb.Condition
	seen := map[string]bool{}
	for _, m := range mons {
		k := fmt.Sprintf("%s|%d", m.ip, m.port)
		if !seen[k] {
			seen[k] = true
			wheres = append(wheres, []ovsdb.Condition{ovsdb.NewCondition("ip", ovsdb.ConditionEqual, m.ip), ovsdb.NewCondition("port", ovsdb.ConditionEqual, m.port)})
		}
	}
	rows, err := selectRows(ctx, cli, sbdb.ServiceMonitorTable, wheres, func(o *sbdb.ServiceMonitor) *string { return &o.UUID })
	if err != nil {
		return nil, fmt.Errorf("cannot read Service_Monitor from the OVN Southbound database at %s: %w", addr, err)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].UUID < rows[j].UUID })
	proto := func(r *sbdb.ServiceMonitor) string {
		if r.Protocol == nil || *r.Protocol == "" {
			return sbdb.ServiceMonitorProtocolTCP
		}
		return *r.Protocol
	}
	idx := lbIndex(f)
	used := map[string]bool{}
	var warnings []string
	for _, m := range mons {
		lb := idx[m.lb]
		if lb == nil {
			continue
		}
		b := &lb.VIPs[m.vip].Backends[m.back]
		var row *sbdb.ServiceMonitor
		for _, r := range rows {
			if r.IP == m.ip && r.Port == m.port && proto(r) == m.proto && r.LogicalPort == m.logicalPort {
				row = r
				break
			}
		}
		if row == nil {
			b.StatusDetail = "no Service_Monitor row in the Southbound"
			warnings = append(warnings, fmt.Sprintf("ovn: load balancer %s health-checks %s/%s on port %s but the Southbound has no Service_Monitor for it (is ovn-northd running?): its health is not known",
				lb.ID, hostPort(m.ip, m.port), m.proto, m.logicalPort))
			continue
		}
		used[row.UUID] = true
		st := ""
		if row.Status != nil {
			st = *row.Status
		}
		switch st {
		case sbdb.ServiceMonitorStatusOnline:
			b.Status, b.StatusDetail = trace.BackendUp, "Service_Monitor online"
		case sbdb.ServiceMonitorStatusOffline, sbdb.ServiceMonitorStatusError:
			b.Status, b.StatusDetail = trace.BackendDown, "Service_Monitor "+st+": ovn-northd leaves it out of the VIP"
		case "":
			b.Status, b.StatusDetail = trace.BackendUnknown, "Service_Monitor has no status yet: ovn-northd still sends to it"
		default:
			b.Status, b.StatusDetail = trace.BackendUnknown, "Service_Monitor status "+st
		}
	}
	for _, r := range rows {
		if !used[r.UUID] {
			warnings = append(warnings, fmt.Sprintf("ovn: Service_Monitor %s (%s/%s on port %s, %s) matches no health-checked backend on the walk by protocol and logical port: not used",
				r.UUID, hostPort(r.IP, r.Port), proto(r), r.LogicalPort, statusOf(r)))
		}
	}
	return warnings, nil
}

func statusOf(r *sbdb.ServiceMonitor) string {
	if r.Status == nil || *r.Status == "" {
		return "no status"
	}
	return *r.Status
}

// hostPort writes IP:PORT ([IPv6]:PORT), or the IP alone for port 0.
func hostPort(ip string, port int) string {
	if port == 0 {
		return ip
	}
	if a, err := netip.ParseAddr(ip); err == nil {
		return netip.AddrPortFrom(a, uint16(port)).String()
	}
	return fmt.Sprintf("%s:%d", ip, port)
}
