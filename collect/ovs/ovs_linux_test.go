package ovs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/node/nodelab"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// vsctlList runs `ovs-vsctl --format=json list TABLE` and returns rows as column -> value.
func vsctlList(t *testing.T, lab *nodelab.Node, table string) []map[string]any {
	t.Helper()
	out, err := exec.Command("ovs-vsctl", "--db="+lab.DB(), "--format=json", "list", table).Output()
	if err != nil {
		t.Fatalf("ovs-vsctl list %s: %v", table, err)
	}
	var v struct {
		Headings []string `json:"headings"`
		Data     [][]any  `json:"data"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, d := range v.Data {
		r := map[string]any{}
		for i, h := range v.Headings {
			r[h] = d[i]
		}
		rows = append(rows, r)
	}
	return rows
}

// ovsdbValue decodes OVSDB JSON notation: atoms, ["set",[...]], ["map",[[k,v],...]], ["uuid",u].
func ovsdbValue(v any) any {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return v
	}
	switch a[0] {
	case "uuid":
		return a[1]
	case "set":
		var out []any
		for _, x := range a[1].([]any) {
			out = append(out, ovsdbValue(x))
		}
		return out
	case "map":
		m := map[string]string{}
		for _, kv := range a[1].([]any) {
			kv := kv.([]any)
			m[fmt.Sprint(kv[0])] = fmt.Sprint(kv[1])
		}
		return m
	}
	return v
}

func TestCollectMatchesOVSTools(t *testing.T) {
	lab := nodelab.Up(t, "ovs", nodelab.Published[:4])
	// A trunk with an explicit VLAN list and vlan_mode, so every Port column has a value somewhere.
	// Reconfiguring the port flushes what it learned: fill the table again.
	lab.Sh(t, fmt.Sprintf("node_vsctl %s set port eth1 trunks=101,102,103,104 vlan_mode=trunk -- set bridge br-int other_config:mac-aging-time=45\n", lab.Name))
	lab.FillMACTable(t)
	o, warnings, err := Collect(context.Background(), Options{Node: "n1", DB: lab.DB(), VswitchdCtl: lab.Ctl()})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if o.Source != "ovsdb@n1" || o.FDBSource != "fdb@n1" {
		t.Errorf("sources %q %q", o.Source, o.FDBSource)
	}
	// Interfaces against ovs-vsctl list Interface.
	var want []trace.Interface
	ifUUID := map[string]string{}
	for _, r := range vsctlList(t, lab, "Interface") {
		x := trace.Interface{Name: r["name"].(string), Type: r["type"].(string), MACInUse: fmt.Sprint(r["mac_in_use"]),
			AdminState: fmt.Sprint(r["admin_state"]), LinkState: fmt.Sprint(r["link_state"])}
		x.OFPort = int(r["ofport"].(float64))
		if m := ovsdbValue(r["external_ids"]).(map[string]string); len(m) > 0 {
			x.ExternalIDs = m
		}
		ifUUID[fmt.Sprint(ovsdbValue(r["_uuid"]))] = x.Name
		want = append(want, x)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Name < want[j].Name })
	if !reflect.DeepEqual(o.Interfaces, want) {
		t.Errorf("interfaces:\n got %+v\nwant %+v", o.Interfaces, want)
	}
	// Ports against ovs-vsctl list Port.
	var wantPorts []trace.Port
	for _, r := range vsctlList(t, lab, "Port") {
		x := trace.Port{Name: r["name"].(string), Bridge: "br-int"}
		if tag, ok := r["tag"].(float64); ok {
			v := int(tag)
			x.Tag = &v
		}
		switch tr := ovsdbValue(r["trunks"]).(type) {
		case float64:
			x.Trunks = []int{int(tr)}
		case []any:
			for _, v := range tr {
				x.Trunks = append(x.Trunks, int(v.(float64)))
			}
		}
		sort.Ints(x.Trunks)
		if m, ok := r["vlan_mode"].(string); ok {
			x.VLANMode = m
		}
		switch in := ovsdbValue(r["interfaces"]).(type) {
		case string:
			x.Interfaces = []string{ifUUID[in]}
		case []any:
			for _, u := range in {
				x.Interfaces = append(x.Interfaces, ifUUID[fmt.Sprint(u)])
			}
		}
		wantPorts = append(wantPorts, x)
	}
	sort.Slice(wantPorts, func(i, j int) bool { return wantPorts[i].Name < wantPorts[j].Name })
	if !reflect.DeepEqual(o.Ports, wantPorts) {
		t.Errorf("ports:\n got %+v\nwant %+v", o.Ports, wantPorts)
	}
	if len(o.Bridges) != 1 || o.Bridges[0].Name != "br-int" || o.Bridges[0].DatapathType != "netdev" || len(o.Bridges[0].Ports) != len(wantPorts) ||
		o.Bridges[0].MACAgingTime != 45 {
		t.Errorf("bridges = %+v", o.Bridges)
	}
	// The MAC table: what ovs-appctl fdb/show prints (ages aside: they tick between the two reads).
	text := lab.Sh(t, "node_appctl "+lab.Name+" fdb/show br-int")
	viaAppctl, err := ParseFDB("br-int", text)
	if err != nil {
		t.Fatal(err)
	}
	key := func(es []trace.MACEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s %s %d %s", e.Bridge, e.Port, e.VLAN, e.MAC))
		}
		sort.Strings(out)
		return out
	}
	if got, w := key(o.MACTable), key(viaAppctl); !reflect.DeepEqual(got, w) {
		t.Errorf("MAC table:\n got %v\nwant %v", got, w)
	}
	// The published shape: each pod MAC on its access port and VLAN, the router MAC on the uplink per VLAN.
	have := map[string]bool{}
	for _, k := range key(o.MACTable) {
		have[k] = true
	}
	for i, p := range lab.Pods {
		for _, k := range []string{
			fmt.Sprintf("br-int %d %d %s", i+2, p.VLAN, p.MAC),
			fmt.Sprintf("br-int 1 %d %s", p.VLAN, nodelab.RouterMAC),
		} {
			if !have[k] {
				t.Errorf("MAC table lacks %q: %v", k, key(o.MACTable))
			}
		}
	}
	// The ovs-appctl fallback, when asked for: with no pid file to find the socket, ovs-appctl
	// (here a wrapper naming the lab's daemon, as ovs-appctl finds the node's own) reads the table.
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "ovs-appctl")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec ovs-appctl -t "+lab.Ctl()+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o2, w2, err := Collect(context.Background(), Options{Node: "n1", DB: lab.DB(), RunDir: dir, UseAppctl: true, Appctl: wrapper})
	if err != nil || len(w2) > 0 || !reflect.DeepEqual(key(o2.MACTable), key(viaAppctl)) {
		t.Errorf("appctl fallback: %v %q %v", err, w2, key(o2.MACTable))
	}
	// Not asked for: no fallback, one warning.
	_, w3, _ := Collect(context.Background(), Options{Node: "n1", DB: lab.DB(), RunDir: dir, Appctl: wrapper})
	if len(w3) != 1 || strings.Contains(w3[0], "fallback") {
		t.Errorf("without the fallback: warnings %q, want one naming the missing pid file", w3)
	}
}

func TestCollectOVSFailures(t *testing.T) {
	lab := nodelab.Up(t, "ovsf", nodelab.Published[:1])
	ctx := context.Background()

	t.Run("socket missing", func(t *testing.T) {
		_, _, err := Collect(ctx, Options{Node: "n1", DB: "unix:" + filepath.Join(t.TempDir(), "db.sock")})
		if err == nil || !strings.Contains(err.Error(), "socket does not exist") {
			t.Errorf("err = %v, want socket does not exist", err)
		}
	})
	t.Run("pid file missing", func(t *testing.T) {
		o, w, err := Collect(ctx, Options{Node: "n1", DB: lab.DB(), RunDir: t.TempDir()})
		if err != nil || o.FDBSource != "" || len(w) != 1 || !strings.Contains(w[0], "ovs-vswitchd is not running here") {
			t.Errorf("got %v, %q; want the OVS database and a warning that the MAC table was not read", err, w)
		}
	})
	t.Run("pid file found", func(t *testing.T) {
		// A run dir laid out as on a node: ovs-vswitchd.pid and ovs-vswitchd.PID.ctl.
		dir := t.TempDir()
		pid, _ := os.ReadFile(filepath.Join(lab.Dir, "ovs-vswitchd.pid"))
		_ = os.WriteFile(filepath.Join(dir, "ovs-vswitchd.pid"), pid, 0o644)
		_ = os.Symlink(lab.Ctl(), filepath.Join(dir, "ovs-vswitchd."+strings.TrimSpace(string(pid))+".ctl"))
		o, w, err := Collect(ctx, Options{Node: "n1", DB: lab.DB(), RunDir: dir})
		if err != nil || len(w) != 0 || len(o.MACTable) == 0 {
			t.Errorf("got %v, %q, %d entries; want the MAC table through the pid file", err, w, len(o.MACTable))
		}
	})
	t.Run("vswitchd stopped", func(t *testing.T) {
		pid, _ := os.ReadFile(filepath.Join(lab.Dir, "ovs-vswitchd.pid"))
		lab.Sh(t, "kill "+strings.TrimSpace(string(pid))+"; for i in $(seq 50); do kill -0 "+strings.TrimSpace(string(pid))+" 2>/dev/null || exit 0; sleep 0.1; done; exit 1")
		o, w, err := Collect(ctx, Options{Node: "n1", DB: lab.DB(), VswitchdCtl: lab.Ctl()})
		if err != nil || o == nil || len(o.Ports) == 0 || o.FDBSource != "" || len(w) != 1 || !strings.Contains(w[0], "MAC table not read") {
			t.Errorf("got %v, %q; want the database read and one MAC table warning", err, w)
		}
	})
	t.Run("OVS stopped", func(t *testing.T) {
		lab.Sh(t, "node_ovs_stop "+lab.Name)
		_, _, err := Collect(ctx, Options{Node: "n1", DB: lab.DB(), VswitchdCtl: lab.Ctl()})
		if err == nil || !strings.Contains(err.Error(), "cannot reach ovsdb-server") {
			t.Errorf("err = %v, want cannot reach ovsdb-server", err)
		}
	})
}

// Interface statistics (a column the models leave out, rewritten by ovs-vswitchd every few
// seconds) must not fail the read: with them present, asking for every column broke the monitor.
func TestCollectWithInterfaceStatistics(t *testing.T) {
	lab := nodelab.Up(t, "ovst", nodelab.Published[:1])
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command("ovs-vsctl", "--db="+lab.DB(), "get", "Interface", "eth1", "statistics").Output()
		if err == nil && strings.Contains(string(out), "=") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ovs-vswitchd wrote no statistics for eth1 in 15 s: %s %v", out, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Rewrite them while reading, as ovs-vswitchd does: updates arrive during the reads.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = exec.Command("ovs-vsctl", "--db="+lab.DB(), "set", "Interface", "eth1", fmt.Sprintf("statistics:rx_packets=%d", n)).Run()
		}
	}()
	defer func() { close(stop); <-done }()
	for i := 0; i < 40; i++ {
		if _, err := ReadDB(context.Background(), Options{DB: lab.DB()}); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
}
