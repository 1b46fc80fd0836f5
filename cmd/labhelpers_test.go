package cmd_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/packetwalk/kubectl-packetwalk/cmd"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// e2eFacts is the part of $PW_LAB_DIR/lab.json the e2e tests read.
type e2eFacts struct {
	Name       string `json:"name"`
	Kubeconfig string `json:"kubeconfig"`
	NodeExec   string `json:"nodeExec"`
	Hypervisor struct {
		Netns, NB, SB, Ovsdb string
	} `json:"hypervisor"`
	RouterMAC string `json:"routerMac"`
	Nodes     []struct {
		Name, IP, Netns, Ovsdb, VswitchdCtl string
	} `json:"nodes"`
	Pods []e2ePod `json:"pods"`
}

type e2ePod struct {
	Namespace, Name, Node, IP, MAC, Netns, HostVeth string
	VLAN                                            int
}

func (p e2ePod) ref() string { return p.Namespace + "/" + p.Name }

// e2eLab is a lab of the test's own (lab.sh up with a unique PW_LAB_NAME), with the plugin built once.
type e2eLab struct {
	t     testing.TB
	dir   string
	env   []string
	bin   string
	facts e2eFacts
	kube  kubernetes.Interface
}

// startE2ELab needs root, OVS, OVN, traceroute and the cached kube-apiserver/etcd (fails in CI,
// skips elsewhere), brings a lab up and registers its teardown.
func startE2ELab(t testing.TB) *e2eLab {
	t.Helper()
	return startE2ELabWith(t, "pwe")
}

// startE2ELabWith is startE2ELab for a lab named PREFIX<pid> with env added to lab.sh's (e.g.
// PW_LAB_KUBELET=1). PW_E2E_LAB_NAME names an existing lab to use instead (up is idempotent; with
// PW_KEEP_LAB=1 it stays up): for iterating on a test.
func startE2ELabWith(t testing.TB, prefix string, env ...string) *e2eLab {
	t.Helper()
	labtest.RequireRoot(t)
	labtest.RequireBinaries(t, "ovsdb-server", "ovs-vswitchd", "ovn-northd", "ovn-controller", "ovn-nbctl",
		"ovs-vsctl", "ovs-appctl", "ovsdb-client", "ip", "traceroute", "nsenter", "lsns", "curl", "openssl")
	if _, _, err := kubetest.Binaries(); err != nil {
		labtest.Unavailable(t, "kube-apiserver and etcd", "build them once with testdata/kube/build.sh (make kube-bins)")
	}
	name := fmt.Sprintf("%s%d", prefix, os.Getpid())
	if n := os.Getenv("PW_E2E_LAB_NAME"); n != "" {
		name = n
	}
	l := &e2eLab{t: t, dir: filepath.Join(os.TempDir(), name)}
	l.env = append(append(os.Environ(), "PW_LAB_DIR="+l.dir, "PW_LAB_NAME="+name), env...)

	l.bin = cmd.PluginBinary(t)

	t.Cleanup(l.down)
	start := time.Now()
	if out, err := l.script("up"); err != nil {
		t.Fatalf("lab.sh up: %v\n%s", err, out)
	}
	t.Logf("lab up (network + kube-apiserver) in %v", time.Since(start).Round(time.Millisecond))
	b, err := os.ReadFile(filepath.Join(l.dir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &l.facts); err != nil {
		t.Fatalf("lab.json: %v", err)
	}
	if l.facts.Kubeconfig == "" || l.facts.NodeExec == "" {
		t.Fatalf("lab.json lacks kubeconfig or nodeExec:\n%s", b)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", l.facts.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	l.kube = kubernetes.NewForConfigOrDie(cfg)
	return l
}

// down runs lab.sh down and checks the API server and etcd it started are gone.
func (l *e2eLab) down() {
	var pids []int
	for _, f := range []string{"kube/etcd.pid", "kube/kube-apiserver.pid"} {
		if b, err := os.ReadFile(filepath.Join(l.dir, f)); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if os.Getenv("PW_KEEP_LAB") != "" {
		l.t.Logf("PW_KEEP_LAB set: lab %s left up", l.dir)
		return
	}
	if out, err := l.script("down"); err != nil {
		l.t.Errorf("lab.sh down: %v\n%s", err, out)
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); bytes.Contains(b, []byte(l.dir)) {
				l.t.Errorf("lab.sh down left process %d running: %s", pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
			}
		}
	}
}

func (l *e2eLab) script(args ...string) ([]byte, error) {
	cmd := exec.Command("bash", append([]string{"../testdata/lab/lab.sh"}, args...)...)
	cmd.Env = l.env
	return cmd.CombinedOutput()
}

func (l *e2eLab) mustScript(t *testing.T, args ...string) {
	t.Helper()
	if out, err := l.script(args...); err != nil {
		t.Fatalf("lab.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// live is the flags of a live run: the lab's API server, its OVN Northbound and its nodes through
// the lab's node-exec wrapper with the given backend.
func (l *e2eLab) live(backend string) []string {
	return []string{"--kubeconfig", l.facts.Kubeconfig, "--fabric", "ovn", "--ovn-nb", l.facts.Hypervisor.NB,
		"--node-exec", l.facts.NodeExec, "--node-backend", backend, "--node-binary", l.bin}
}

type pwResult struct {
	code           int
	stdout, stderr string
}

// pw runs the plugin as a user would (KUBECONFIG unset: the flags say everything).
func (l *e2eLab) pw(args ...string) pwResult {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.bin, args...)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KUBECONFIG=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		code = xe.ExitCode()
	} else if err != nil {
		code = -1
		errb.WriteString(err.Error())
	}
	return pwResult{code, out.String(), errb.String()}
}

// walk runs trace -o json and decodes the walk.
func (l *e2eLab) walk(t *testing.T, backend string, pod e2ePod, to string, extra ...string) (*trace.Walk, pwResult) {
	t.Helper()
	args := append([]string{"trace", pod.ref(), "--to", to, "-o", "json"}, l.live(backend)...)
	r := l.pw(append(args, extra...)...)
	var w trace.Walk
	if err := json.Unmarshal([]byte(r.stdout), &w); err != nil {
		t.Fatalf("trace %s --to %s (%s): exit %d, no JSON walk: %v\nstderr: %s", pod.ref(), to, backend, r.code, err, r.stderr)
	}
	return &w, r
}

// traceroute runs `traceroute -I -n` from a netns and returns the addresses of the hops, "*" for
// no answer, with the unanswered tail dropped. Two probes a hop: a router that has to resolve the
// next MAC first (the tables were just flushed) may drop one, as a real traceroute's user sees.
func traceroute(t *testing.T, netns, dst string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", netns, "traceroute", "-I", "-n", "-q", "2", "-w", "1", "-m", "6", dst).CombinedOutput()
	if err != nil {
		t.Fatalf("traceroute from %s to %s: %v\n%s", netns, dst, err, out)
	}
	var hops []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] == "traceroute" {
			continue
		}
		hops = append(hops, firstAnswer(f[1:]))
	}
	for len(hops) > 0 && hops[len(hops)-1] == "*" {
		hops = hops[:len(hops)-1]
	}
	return hops
}

// firstAnswer is the address that answered a hop's probes ("*" when none did): the first field of
// a traceroute line, after the hop number, that is an address.
func firstAnswer(fields []string) string {
	for _, f := range fields {
		if _, err := netip.ParseAddr(f); err == nil {
			return f
		}
	}
	return "*"
}

// routerHops is what traceroute should print for a walk: the address each forward router hop is
// entered by, then the destination.
func routerHops(w *trace.Walk) []string {
	var out []string
	for _, h := range w.Hops {
		if h.Direction == "forward" && h.Kind == "router" {
			out = append(out, h.IP)
		}
	}
	return append(out, w.Destination.IP)
}

// hopOf is the walk's first hop of that kind in direction dir (any when ""), or nil.
func hopOf(w *trace.Walk, kind trace.HopKind, dir trace.Direction) *trace.Hop {
	for i := range w.Hops {
		if w.Hops[i].Kind == kind && (dir == "" || w.Hops[i].Direction == dir) {
			return &w.Hops[i]
		}
	}
	return nil
}

// hopAt returns the hop with index i.
func hopAt(w *trace.Walk, i int) *trace.Hop {
	for k := range w.Hops {
		if w.Hops[k].Index == i {
			return &w.Hops[k]
		}
	}
	return nil
}

// hopsWithoutEvidence is the walk's hops as JSON without evidence (ages, collection details), for
// comparing the native and agentless backends field by field.
func hopsWithoutEvidence(w *trace.Walk) string {
	hs := append([]trace.Hop(nil), w.Hops...)
	for i := range hs {
		hs[i].Evidence = nil
	}
	b, _ := json.MarshalIndent(hs, "", " ")
	return string(b)
}

// parallel runs do(i) for i in [0,n) on workers goroutines (the machine has 2 cores).
func parallel(n, workers int, do func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				do(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// fdbEntry is one row of `ovs-appctl fdb/show`.
type fdbEntry struct {
	OFPort string
	VLAN   int
	MAC    string
}

// fdbShow reads a node's MAC table with ovs-appctl, through the lab's node-exec wrapper.
func (l *e2eLab) fdbShow(t *testing.T, node string) []fdbEntry {
	t.Helper()
	out, err := exec.Command(filepath.Join(l.dir, "node-exec"), node, "ovs-appctl", "fdb/show", "br-int").CombinedOutput()
	if err != nil {
		t.Fatalf("fdb/show on %s: %v\n%s", node, err, out)
	}
	var rows []fdbEntry
	for _, line := range strings.Split(string(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		rows = append(rows, fdbEntry{f[0], v, strings.ToLower(f[2])})
	}
	sort.Slice(rows, func(i, j int) bool { return fmt.Sprint(rows[i]) < fmt.Sprint(rows[j]) })
	return rows
}

// dbDumps is every OVSDB database of the lab (NB, SB, the hypervisor's and each node's
// Open_vSwitch), each as `ovsdb-client dump --format=json`, normalised. Interface.statistics is
// left out: ovs-vswitchd itself rewrites those counters as packets flow (ARP refreshes), no client
// does; every other column of every table is compared.
func (l *e2eLab) dbDumps(t *testing.T) map[string]string {
	t.Helper()
	dbs := map[string]string{"OVN_Northbound": l.facts.Hypervisor.NB, "OVN_Southbound": l.facts.Hypervisor.SB,
		"Open_vSwitch@hypervisor": l.facts.Hypervisor.Ovsdb}
	for _, n := range l.facts.Nodes {
		dbs["Open_vSwitch@"+n.Name] = n.Ovsdb
	}
	out := map[string]string{}
	for name, addr := range dbs {
		b, err := exec.Command("ovsdb-client", "dump", "--format=json", addr).Output()
		if err != nil {
			t.Fatalf("ovsdb-client dump %s: %v", addr, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		var tables []string
		for dec.More() {
			var tb struct {
				Caption  string   `json:"caption"`
				Headings []string `json:"headings"`
				Data     [][]any  `json:"data"`
			}
			if err := dec.Decode(&tb); err != nil {
				t.Fatalf("ovsdb-client dump %s: %v", addr, err)
			}
			var rows []string
			for _, row := range tb.Data {
				m := map[string]any{}
				for i, h := range tb.Headings {
					if tb.Caption == "Interface table" && h == "statistics" {
						continue
					}
					m[h] = row[i]
				}
				rb, _ := json.Marshal(m)
				rows = append(rows, string(rb))
			}
			sort.Strings(rows)
			tables = append(tables, tb.Caption+"\n"+strings.Join(rows, "\n"))
		}
		if len(tables) == 0 {
			t.Fatalf("ovsdb-client dump %s printed no tables", addr)
		}
		out[name] = strings.Join(tables, "\n")
	}
	return out
}

// resourceVersions is every node's and pod's resourceVersion (and the object count).
func (l *e2eLab) resourceVersions(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	nodes, err := l.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		out["node/"+n.Name] = n.ResourceVersion
	}
	pods, err := l.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		out["pod/"+p.Namespace+"/"+p.Name] = p.ResourceVersion
	}
	return out
}

// changed names the keys whose values differ between two maps.
func changed(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
