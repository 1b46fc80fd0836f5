package agentless_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/packetwalk/kubectl-packetwalk/collect/agentless"
	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
)

// viaShells runs line through n nested `sh -c` the way ssh does (each hop joins its arguments
// with spaces and the far side's shell splits the line) and returns the argv the last shell ran.
func viaShells(t *testing.T, words []string, n int) []string {
	t.Helper()
	for range n {
		var out, errb bytes.Buffer
		c := exec.Command("sh", "-c", "printf '%s\\0' "+strings.Join(words, " "))
		c.Stdout, c.Stderr, c.Dir = &out, &errb, t.TempDir()
		if err := c.Run(); err != nil {
			t.Fatalf("sh -c %q: %v %s", strings.Join(words, " "), err, errb.String())
		}
		words = strings.Split(strings.TrimSuffix(out.String(), "\x00"), "\x00")
	}
	return words
}

// hostileNode answers the agentless commands as a node whose netns, interface and bridge names are
// name, and records every argv it was asked to run.
type hostileNode struct {
	name string
	mu   sync.Mutex
	argv [][]string
}

func (h *hostileNode) run(_ context.Context, argv []string) ([]byte, error) {
	h.mu.Lock()
	h.argv = append(h.argv, append([]string{}, argv...))
	h.mu.Unlock()
	q, _ := json.Marshal(h.name)
	joined := strings.Join(argv, " ")
	switch {
	case joined == "ip -j netns list":
		return []byte(fmt.Sprintf(`[{"name":%s},{"name":"cni-1"}]`, q)), nil
	case argv[0] == "stat":
		var b strings.Builder
		for i, p := range argv[4:] {
			fmt.Fprintf(&b, "%d %s\n", 4026531840+i, p)
		}
		return []byte(b.String()), nil
	case argv[0] == "lsns":
		return []byte(`{"namespaces":[{"ns":4026531840,"pid":1},{"ns":4026532999,"pid":4242}]}`), nil
	case strings.Contains(joined, "link show"):
		return []byte(fmt.Sprintf(`[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"mtu":65536,"operstate":"UNKNOWN","link_type":"loopback","address":"00:00:00:00:00:00"},{"ifindex":2,"ifname":%s,"flags":["UP"],"mtu":1500,"operstate":"UP","link_type":"ether","address":"02:00:00:00:00:01"}]`, q)), nil
	case argv[0] == "ip" || argv[0] == "nsenter":
		return []byte("[]"), nil
	case joined == "ovs-vsctl --timeout=10 --format=json --data=json list Bridge":
		return []byte(fmt.Sprintf(`{"headings":["_uuid","name","ports","datapath_type"],"data":[[["uuid","u1"],%s,["set",[]],""],[["uuid","u2"],"br-int",["set",[]],""]]}`, q)), nil
	case argv[0] == "ovs-vsctl":
		return []byte(`{"headings":[],"data":[]}`), nil
	case argv[0] == "ovs-appctl":
		return []byte(" port  VLAN  MAC                Age\n"), nil
	}
	return nil, fmt.Errorf("unexpected command %q", argv)
}

// namesIn returns the names from the node that argv carries: the netns of `ip -n NAME`, the
// namespaces stat reads, the bridge of `ovs-appctl fdb/show`.
func namesIn(argv []string) []string {
	switch {
	case argv[0] == "ip" && len(argv) > 2 && argv[1] == "-n":
		return []string{argv[2]}
	case argv[0] == "stat":
		var out []string
		for _, p := range argv[4:] {
			out = append(out, strings.TrimPrefix(p, "/var/run/netns/"))
		}
		return out
	case argv[0] == "ovs-appctl":
		return argv[len(argv)-1:]
	}
	return nil
}

// FuzzHostileNamesNeverReachAShell: names found on a node (netns, interface, bridge) go through
// every agentless command builder and the native one, then through ssh-like templates (one and two
// remote shells): what the node's shell runs is exactly the argv built, a name no tool would make
// is reported and never reaches a command, and a name that passes reaches it unchanged.
func FuzzHostileNamesNeverReachAShell(f *testing.F) {
	labtest.RequireBinaries(f, "sh")
	for _, s := range []string{"x;touch pwned;", "$(touch pwned)", "`id`", "a b", "it's", `"q"`, "br-int", "cni-5d1c", "-n", "*", "~root", "a\nb", "%i %n", "x=y", "tap0:1", "é"} {
		f.Add(s)
	}
	one, err := runner.NewTemplate("ssh -o BatchMode=yes {nodeIP}")
	if err != nil {
		f.Fatal(err)
	}
	two, err := runner.NewTemplate("ssh bastion ssh {nodeIP}")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if len(name) > 64 || !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0 {
			return // exec cannot pass NUL; JSON output is UTF-8
		}
		h := &hostileNode{name: name}
		st, err := agentless.Collect(context.Background(), h.run, agentless.Options{Node: "n1"})
		if err != nil {
			t.Fatalf("collect: %v", err)
		}
		netnsOK := runner.CheckName(runner.KindNetns, name) == nil
		for _, argv := range h.argv {
			for _, n := range namesIn(argv) {
				if n == name && !netnsOK {
					t.Fatalf("rejected name %q reached %q", name, argv)
				}
			}
		}
		if !netnsOK && !strings.Contains(strings.Join(st.Warnings, "\n"), "skipped") {
			t.Fatalf("name %q skipped without a warning: %q", name, st.Warnings)
		}
		for _, ns := range st.Netns {
			for _, l := range ns.Links {
				if runner.CheckName(runner.KindIface, l.Name) != nil {
					t.Fatalf("link %q kept", l.Name)
				}
			}
		}
		// Every command built, plus the native backend's, and one argument carrying the raw name
		// (a --node-binary path is the user's and may hold anything).
		cmds := append(h.argv, []string{"/opt/my tools/kubectl-packetwalk", "collect", "node", "--node-name", "n1"}, []string{"echo", name})
		for _, argv := range cmds {
			for shells, tp := range map[int]*runner.Template{1: one, 2: two} {
				full, err := tp.Argv(runner.Node{Name: "n1", IP: "192.0.2.7"}, argv)
				if err != nil {
					t.Fatal(err)
				}
				// ssh's own words are its options and destination; the rest is the remote line.
				skip := map[int]int{1: 4, 2: 2}[shells]
				rest := full[skip:]
				if shells == 2 {
					rest = viaShells(t, rest, 1)[2:] // the bastion runs `ssh NODE ...`
				}
				got := viaShells(t, rest, 1)
				if strings.Join(got, "\x00") != strings.Join(argv, "\x00") {
					t.Fatalf("%d shell(s): built %q, the node ran %q", shells, argv, got)
				}
			}
		}
	})
}
