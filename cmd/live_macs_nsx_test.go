package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// Live `macs --fabric nsx` joins every router row to its router by name and to the router port
// (#15), through either NSX API: the Kubernetes API a real API server, the fabric the NSX test
// server, the node's facts what `collect node` prints there (a script behind --node-exec).
func TestLiveMACsNSXNamesTheRouter(t *testing.T) {
	srv := kubetest.Get(t)
	publishedCluster(t, srv)
	dir := t.TempDir()
	for _, n := range scenario.Published().Nodes {
		var b bytes.Buffer
		if err := trace.WriteSnapshot(&b, &trace.Snapshot{APIVersion: trace.APIVersion, Nodes: []trace.NodeState{n}}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n.Name+".json"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The node's `collect node`: its facts, whatever the command appended.
	script := filepath.Join(dir, "node.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat \""+dir+"/$1.json\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[int]string{}
	for v := 101; v <= 105; v++ {
		want[v] = "router t1-kube-system 172.16.1.1"
	}
	for v := 106; v <= 109; v++ {
		want[v] = "router t1-default 172.16.0.1"
	}
	for _, api := range []string{"management", "policy"} {
		t.Run(api, func(t *testing.T) {
			_, flags := nsxServer(t)
			args := append([]string{"macs", "--node", "172.15.0.3", "-o", "json", "--node-exec", "sh " + script + " {node}", "--nsx-api", api}, flags...)
			r := runCtx(t, context.Background(), srv.Kubeconfig, args...)
			if r.code != 0 || strings.Contains(r.err, "warning") {
				t.Fatalf("exit %d, stderr %s", r.code, r.err)
			}
			var tbl trace.MACTable
			if err := json.Unmarshal([]byte(r.out), &tbl); err != nil {
				t.Fatalf("-o json: %v\n%s", err, r.out)
			}
			got := map[int]string{}
			for _, row := range tbl.Rows {
				if row.Role != trace.RoleRouter {
					continue
				}
				if row.FabricPort == "" {
					t.Errorf("router row VLAN %d joins no fabric port: %+v", row.VLAN, row)
				}
				got[row.VLAN] = row.Owner
			}
			for v, w := range want {
				if got[v] != w {
					t.Errorf("router row VLAN %d: owner %q, want %q (the router's name, not its id)", v, got[v], w)
				}
			}
		})
	}
}
