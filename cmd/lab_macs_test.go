package cmd_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// labNames is the part of lab.json naming the fabric: each pod's logical port, each namespace's
// router and gateway.
type labNames struct {
	Pods []struct {
		Namespace, Name, Node, MAC, Lsp string
		VLAN                            int
	} `json:"pods"`
	Namespaces []struct {
		Name, Router, Gateway string
	} `json:"namespaces"`
}

func (l *e2eLab) names(t *testing.T) labNames {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var n labNames
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

type macsRow struct {
	Port, MAC, Role, Pod, Owner, FabricPort string
	VLAN                                    int
	FabricTag                               *int
	Uplink                                  bool
}

type macsTable struct {
	Rows       []macsRow
	AgingTimes map[string]int
	Idle       []struct {
		Pod, MAC, Port, FabricPort string
		VLAN                       *int
	}
}

// testMacsJoin: live `macs` joins every row to its fabric port, in both backends: a pod's MAC to
// its CHILD port (however the port is named), the router MAC on the uplink of each VLAN to that
// VLAN's router port, named, with the router's name and gateway as its owner. With the node's MAC
// table flushed, every pod is listed as idle with its port, VLAN and CHILD port.
func testMacsJoin(t *testing.T, l *e2eLab, node string) {
	names := l.names(t)
	wantPod, wantRouter, wantIdle := map[string]string{}, map[int]string{}, map[string]string{}
	for _, p := range names.Pods {
		if p.Node != node {
			continue
		}
		wantPod[p.MAC] = fmt.Sprintf("%s/%s %s VLAN %d", p.Namespace, p.Name, p.Lsp, p.VLAN)
		wantIdle[p.Namespace+"/"+p.Name] = fmt.Sprintf("%s VLAN %d %s", p.MAC, p.VLAN, p.Lsp)
		for _, ns := range names.Namespaces {
			if ns.Name == p.Namespace {
				wantRouter[p.VLAN] = fmt.Sprintf("router %s %s on t1-%s-dl", ns.Router, ns.Gateway, ns.Name)
			}
		}
	}
	macs := func(be string) macsTable {
		r := l.pw(append([]string{"macs", "--node", node, "-o", "json"}, l.live(be)...)...)
		var mt macsTable
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &mt) != nil {
			t.Fatalf("%s: macs: exit %d\n%s%s", be, r.code, r.stdout, r.stderr)
		}
		return mt
	}
	for _, be := range backends {
		mt := macs(be)
		gotPod, gotRouter := map[string]string{}, map[int]string{}
		for _, row := range mt.Rows {
			switch {
			case row.Role == "pod":
				gotPod[row.MAC] = fmt.Sprintf("%s %s VLAN %d", row.Pod, row.FabricPort, row.VLAN)
				if row.FabricTag == nil || *row.FabricTag != row.VLAN {
					t.Errorf("%s: %s joined to %s with tag %v, want the row's VLAN %d", be, row.Pod, row.FabricPort, row.FabricTag, row.VLAN)
				}
			case row.Role == "router" && row.Uplink:
				gotRouter[row.VLAN] = fmt.Sprintf("%s on %s", row.Owner, row.FabricPort)
			}
		}
		if fmt.Sprint(gotPod) != fmt.Sprint(wantPod) {
			t.Errorf("%s: pod rows joined %v\nwant %v", be, gotPod, wantPod)
		}
		if fmt.Sprint(gotRouter) != fmt.Sprint(wantRouter) {
			t.Errorf("%s: router rows joined %v\nwant %v", be, gotRouter, wantRouter)
		}
		if mt.AgingTimes["br-int"] != 300 || len(mt.Idle) != 0 {
			t.Errorf("%s: aging times %v, idle %+v; want br-int 300 s and no idle pod after traffic", be, mt.AgingTimes, mt.Idle)
		}
	}
	l.flushMACs(t)
	for _, be := range backends {
		mt := macs(be)
		got := map[string]string{}
		for _, im := range mt.Idle {
			v := 0
			if im.VLAN != nil {
				v = *im.VLAN
			}
			got[im.Pod] = fmt.Sprintf("%s VLAN %d %s", im.MAC, v, im.FabricPort)
		}
		if len(mt.Rows) != 0 || fmt.Sprint(got) != fmt.Sprint(wantIdle) {
			t.Errorf("%s: flushed: %d rows, idle %v\nwant idle %v", be, len(mt.Rows), got, wantIdle)
		}
	}
	l.warm(t)
}

// warm has every pod talk again (one traceroute each), so the MAC tables hold them as after lab.sh up.
func (l *e2eLab) warm(t *testing.T) {
	t.Helper()
	parallel(len(l.facts.Pods), 3, func(i int) {
		p := l.facts.Pods[i]
		if got := traceroute(t, p.Netns, "172.15.0.4"); len(got) == 0 || got[len(got)-1] != "172.15.0.4" {
			t.Errorf("warm: traceroute from %s to 172.15.0.4: %v", p.ref(), got)
		}
	})
}
