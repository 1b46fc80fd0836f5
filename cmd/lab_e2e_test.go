package cmd_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

var backends = []string{"native", "agentless"}

// TestLabE2E walks the live lab (lab.sh up: OVS nodes, OVN fabric, kube-apiserver) through the
// Kubernetes API, --node-exec with both node backends and --fabric ovn, and holds every walk
// against a real traceroute from the pod's netns; then breaks the lab one way at a time; then
// proves that no command writes to any OVSDB database or Kubernetes object.
func TestLabE2E(t *testing.T) {
	start := time.Now()
	l := startE2ELab(t)
	defer func() { t.Logf("lab e2e in %v", time.Since(start).Round(time.Millisecond)) }()

	kubeDNS, nginx3 := l.publishedPods()

	t.Run("kube objects", func(t *testing.T) { testKubeObjects(t, l) })
	if t.Failed() {
		return
	}
	t.Run("every pod to every node and the other namespace", func(t *testing.T) { testHealthyWalks(t, l) })
	t.Run("the same with the MAC tables flushed", func(t *testing.T) { testIdleWalks(t, l) })

	t.Run("kube-dns to 172.15.0.4 as published", func(t *testing.T) {
		want := []string{"172.16.1.1", "100.64.96.10", "100.64.96.5", "172.15.0.4"}
		for _, be := range backends {
			w, r := l.walk(t, be, kubeDNS, "node/172.15.0.4", "--probe=icmp", "--pod-exec", "ip netns exec "+l.facts.Name+"-{namespace}-{pod}")
			if r.code != 0 || w.Verdict != trace.VerdictReachable {
				t.Fatalf("%s: exit %d verdict %s (%s)\nstderr: %s", be, r.code, w.Verdict, w.Reason, r.stderr)
			}
			if got := routerHops(w); !slices.Equal(got, want) {
				t.Errorf("%s: router hops %v, want %v", be, got, want)
			}
			var l2 []trace.HopKind
			for _, h := range w.Hops {
				if h.Kind == "switch" {
					break
				}
				l2 = append(l2, h.Kind)
				if h.Status != trace.StatusOK {
					t.Errorf("%s: hop %d %s %s is %s: %s", be, h.Index, h.Kind, h.Name, h.Status, h.Detail)
				}
			}
			if wantL2 := []trace.HopKind{"pod", "veth", "ovs-port", "mac-table", "ovs-uplink", "fabric-port"}; !slices.Equal(l2, wantL2) {
				t.Errorf("%s: L2 hops %v, want %v", be, l2, wantL2)
			}
			if p := w.Probe; p == nil || !p.Reached || !slices.Equal(p.Hops, want) || len(p.Differences) > 0 || p.Error != "" {
				t.Errorf("%s: the plugin's own traceroute: %+v", be, p)
			}
		}
	})

	t.Run("path MTU probe against a 1400-byte link", func(t *testing.T) { testPathMTU(t, l, kubeDNS) })
	t.Run("bundles walk like the cluster", func(t *testing.T) { testBundle(t, l) })
	t.Run("macs on 172.15.0.3", func(t *testing.T) { testMacs(t, l, "172.15.0.3"); testMacsJoin(t, l, "172.15.0.3") })

	plan := writePlan(t, l)
	t.Run("check healthy", func(t *testing.T) {
		junit := filepath.Join(t.TempDir(), "junit.xml")
		rep, r := runCheck(t, l, "native", plan, junit)
		if r.code != 0 || rep.Total != 3*len(l.facts.Pods) || rep.Passed != rep.Total {
			t.Fatalf("check: exit %d, %d checks %d passed\n%s%s", r.code, rep.Total, rep.Passed, r.stdout, r.stderr)
		}
		if tests, failures := junitCounts(t, junit); tests != rep.Total || failures != 0 {
			t.Errorf("junit: %d tests %d failures, want %d and 0", tests, failures, rep.Total)
		}
	})

	// One scenario at a time, healed before the next: kube-dns (on 172.15.0.3) to node 172.15.0.4.
	for _, sc := range []struct {
		name, kind, reason string
		// traceroute is what traceroute from kube-dns answers; nil: not run (it would heal the break).
		traceroute []string
		// fails says which pairs of the every-pod-to-every-node plan fail.
		fails func(p e2ePod) bool
	}{
		{"vlan-mismatch", "fabric-port", "VLAN mismatch: OVS port veth1a2b tag 101, fabric port kube-system_kube-dns traffic_tag 199",
			[]string{}, func(p e2ePod) bool { return p.ref() == "kube-system/kube-dns" }},
		{"t0-route", "router", "no route to 172.15.0.0/24 on router t0",
			[]string{"172.16.1.1", "100.64.96.10"}, func(e2ePod) bool { return true }},
		{"return-route", "router", "no route to 172.16.1.0/24 on router t0",
			[]string{"172.16.1.1", "100.64.96.10"}, func(p e2ePod) bool { return p.Namespace == "kube-system" }},
		{"veth-down", "veth", "veth1a2b is down",
			[]string{}, func(p e2ePod) bool { return p.ref() == "kube-system/kube-dns" }},
		{"stale-mac", "mac-table", "stale MAC: 02:50:56:00:03:01 learned on br-int port 1 (eth1) VLAN 101",
			nil, func(p e2ePod) bool { return p.ref() == "kube-system/kube-dns" }},
	} {
		t.Run("broken/"+sc.name, func(t *testing.T) {
			l.mustScript(t, "break", sc.name)
			defer l.mustScript(t, "heal")
			var walk *trace.Walk
			for _, be := range backends {
				w, r := l.walk(t, be, kubeDNS, "node/172.15.0.4")
				h := hopAt(w, w.BrokenAt)
				if r.code != 1 || w.Verdict != trace.VerdictBroken || h == nil || string(h.Kind) != sc.kind || !strings.Contains(w.Reason, sc.reason) {
					t.Errorf("%s: exit %d verdict %s brokenAt %d (%+v) reason %q; want exit 1, broken at a %s hop, reason %q\nstderr: %s",
						be, r.code, w.Verdict, w.BrokenAt, h, w.Reason, sc.kind, sc.reason, r.stderr)
				}
				walk = w
			}
			// The check matrix names the right pairs, hop and reason.
			junit := filepath.Join(t.TempDir(), "junit.xml")
			rep, r := runCheck(t, l, "native", plan, junit)
			wantFail := map[string]bool{}
			for _, p := range l.facts.Pods {
				for _, n := range l.facts.Nodes {
					if sc.fails(p) {
						wantFail[p.ref()+" -> node/"+n.Name] = true
					}
				}
			}
			gotFail := map[string]bool{}
			for _, res := range rep.Results {
				if res.Result != trace.CheckFail {
					if res.Result != trace.CheckPass {
						t.Errorf("check %s: %s (%s)", res.Name, res.Result, res.Error)
					}
					continue
				}
				key := res.Source.Namespace + "/" + res.Source.Name + " -> " + res.Destination
				gotFail[key] = true
				h := hopAt(res.Walk, res.Walk.BrokenAt)
				if h == nil || string(h.Kind) != sc.kind || !strings.Contains(res.Walk.Reason, strings.SplitN(sc.reason, ":", 2)[0]) {
					t.Errorf("check %s: broken at %+v reason %q, want a %s hop, %q", key, h, res.Walk.Reason, sc.kind, sc.reason)
				}
			}
			if r.code != 1 || fmt.Sprint(sortedKeys(gotFail)) != fmt.Sprint(sortedKeys(wantFail)) {
				t.Errorf("check: exit %d, failed %v\nwant exit 1, failed %v", r.code, sortedKeys(gotFail), sortedKeys(wantFail))
			}
			if tests, failures := junitCounts(t, junit); tests != rep.Total || failures != len(wantFail) {
				t.Errorf("junit: %d tests %d failures, want %d and %d", tests, failures, rep.Total, len(wantFail))
			}

			if sc.traceroute != nil {
				// traceroute stops where the walk breaks: it answers the routers up to the broken
				// one (a router answers TTL-exceeded even when it cannot forward), none when the
				// walk breaks below the first router.
				var where []string
				if h := hopAt(walk, walk.BrokenAt); h != nil && h.Kind == "router" {
					for _, fh := range walk.Hops {
						if fh.Direction == "forward" && fh.Kind == "router" {
							where = append(where, fh.IP)
							if fh.Name == h.Name {
								break
							}
						}
					}
				}
				got := traceroute(t, kubeDNS.Netns, "172.15.0.4")
				if !slices.Equal(got, sc.traceroute) || !slices.Equal(got, where) {
					t.Errorf("traceroute from kube-dns answered %v, want %v (the walk breaks at hop %d: routers %v)", got, sc.traceroute, walk.BrokenAt, where)
				}
			}
			if sc.name == "stale-mac" {
				// Traffic to kube-dns is what the stale entry drops (kube-dns's own packets would
				// relearn its MAC): traceroute from nginx-3 dies on node 172.15.0.3, after t1-kube-system.
				got := traceroute(t, nginx3.Netns, kubeDNS.IP)
				if want := []string{"172.16.0.1", "100.64.96.18", "100.64.96.11"}; !slices.Equal(got, want) {
					t.Errorf("traceroute from nginx-3 to kube-dns answered %v, want %v", got, want)
				}
				for _, be := range backends {
					w, r := l.walk(t, be, nginx3, "pod/kube-system/kube-dns")
					if r.code != 1 || w.Verdict != trace.VerdictBroken || !strings.Contains(w.Reason, "02:50:56:00:03:01") {
						t.Errorf("%s: nginx-3 to kube-dns: exit %d verdict %s reason %q; traceroute is lost on node 172.15.0.3 "+
							"(kube-dns's MAC is on the trunk in VLAN 101), the walk should break there naming the stale MAC", be, r.code, w.Verdict, w.Reason)
					}
				}
			}
			testScenarioFlushed(t, l, plan, sc.name, sc.kind, sc.reason, sc.traceroute, sc.fails)
		})
	}

	t.Run("healed", func(t *testing.T) {
		w, r := l.walk(t, "native", kubeDNS, "node/172.15.0.4")
		if r.code != 0 || w.Verdict != trace.VerdictReachable {
			t.Errorf("after heal: exit %d verdict %s %s", r.code, w.Verdict, w.Reason)
		}
	})

	t.Run("read-only", func(t *testing.T) { testReadOnly(t, l, plan, kubeDNS, nginx3) })
}

func testKubeObjects(t *testing.T, l *e2eLab) {
	ctx := context.Background()
	nodes, err := l.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, n := range nodes.Items {
		ip, ready := "", false
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip = a.Address
			}
		}
		for _, c := range n.Status.Conditions {
			ready = ready || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
		}
		got[n.Name] = fmt.Sprintf("%s ready=%v", ip, ready)
	}
	want := map[string]string{}
	for _, n := range l.facts.Nodes {
		want[n.Name] = n.IP + " ready=true"
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("nodes %v, want %v", got, want)
	}
	pods, err := l.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gotPods := map[string]string{}
	for _, p := range pods.Items {
		gotPods[p.Namespace+"/"+p.Name] = p.Spec.NodeName + " " + p.Status.PodIP + " " + string(p.Status.Phase)
	}
	wantPods := map[string]string{}
	for _, p := range l.facts.Pods {
		wantPods[p.ref()] = p.Node + " " + p.IP + " Running"
	}
	if fmt.Sprint(gotPods) != fmt.Sprint(wantPods) {
		t.Errorf("pods %v, want %v", gotPods, wantPods)
	}
}

// testHealthyWalks traces every pod to every node and to every pod of the other namespace with
// both backends: each walk holds with every hop ok, its router hops are traceroute's hop for hop,
// and the two backends give the same hops.
func testHealthyWalks(t *testing.T, l *e2eLab) {
	type pair struct {
		pod    e2ePod
		to, ip string
	}
	var pairs []pair
	for _, p := range l.facts.Pods {
		for _, n := range l.facts.Nodes {
			pairs = append(pairs, pair{p, "node/" + n.Name, n.IP})
		}
		for _, q := range l.facts.Pods {
			if q.Namespace != p.Namespace {
				pairs = append(pairs, pair{p, "pod/" + q.ref(), q.IP})
			}
		}
	}
	type job struct {
		pair
		native bool // false runs traceroute
	}
	var jobs []job
	for _, p := range pairs {
		jobs = append(jobs, job{p, false}, job{p, true})
	}
	var mu sync.Mutex
	probes := map[string][]string{}
	walks := map[string]*trace.Walk{}
	start := time.Now()
	parallel(len(jobs), 3, func(i int) {
		j := jobs[i]
		key := j.pod.ref() + " -> " + j.to
		if !j.native {
			got := traceroute(t, j.pod.Netns, j.ip)
			mu.Lock()
			probes[key] = got
			mu.Unlock()
			return
		}
		w, r := l.walk(t, "native", j.pod, j.to)
		if r.code != 0 {
			t.Errorf("trace %s (native): exit %d\nstderr: %s", key, r.code, r.stderr)
		}
		mu.Lock()
		walks["native "+key] = w
		mu.Unlock()
	})
	// The agentless backend walks the same pairs in one check run (facts gathered once per node, the
	// walks in its JSON report): a trace per pair would spend ~1 s per walk running ip and ovs tools.
	var plan strings.Builder
	plan.WriteString("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n")
	for _, p := range pairs {
		fmt.Fprintf(&plan, "  - from: %s\n    to: [%s]\n", p.pod.ref(), p.to)
	}
	planFile := filepath.Join(t.TempDir(), "pairs.yaml")
	if err := os.WriteFile(planFile, []byte(plan.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, r := runCheck(t, l, "agentless", planFile, filepath.Join(t.TempDir(), "junit.xml"))
	if r.code != 0 || rep.Total != len(pairs) {
		t.Errorf("check --node-backend agentless over %d pairs: exit %d, %d checks\n%s", len(pairs), r.code, rep.Total, r.stderr)
	}
	for _, res := range rep.Results {
		walks["agentless "+res.Source.Namespace+"/"+res.Source.Name+" -> "+res.Destination] = res.Walk
	}
	for key, w := range walks {
		if w.Verdict != trace.VerdictReachable {
			t.Errorf("%s: verdict %s at hop %d: %s", key, w.Verdict, w.BrokenAt, w.Reason)
		}
		for _, h := range w.Hops {
			if h.Status != trace.StatusOK {
				t.Errorf("%s: hop %d %s %s is %s: %s", key, h.Index, h.Kind, h.Name, h.Status, h.Detail)
			}
		}
	}
	t.Logf("%d pairs: traced (native), checked (agentless) and tracerouted in %v", len(pairs), time.Since(start).Round(time.Millisecond))
	for _, p := range pairs {
		key := p.pod.ref() + " -> " + p.to
		tr := probes[key]
		if len(tr) == 0 || tr[len(tr)-1] != p.ip || slices.Contains(tr, "*") {
			t.Errorf("%s: traceroute %v does not reach %s: the lab is not healthy", key, tr, p.ip)
		}
		for _, be := range backends {
			if w := walks[be+" "+key]; w != nil && !slices.Equal(routerHops(w), tr) {
				t.Errorf("%s (%s): walk's router hops %v, traceroute -I %v", key, be, routerHops(w), tr)
			}
		}
		n, a := walks["native "+key], walks["agentless "+key]
		if n != nil && a != nil && hopsWithoutEvidence(n) != hopsWithoutEvidence(a) {
			t.Errorf("%s: native and agentless walks differ:\nnative:    %s\nagentless: %s", key, hopsWithoutEvidence(n), hopsWithoutEvidence(a))
		}
	}
}

// testMacs: macs --node lists every pod MAC of the node with its VLAN and pod, and the router MAC
// once per VLAN on the uplink, row for row what ovs-appctl fdb/show prints there.
func testMacs(t *testing.T, l *e2eLab, node string) {
	for _, be := range backends {
		before := l.fdbShow(t, node)
		r := l.pw(append([]string{"macs", "--node", node, "-o", "json"}, l.live(be)...)...)
		after := l.fdbShow(t, node)
		if r.code != 0 {
			t.Fatalf("%s: macs: exit %d\n%s", be, r.code, r.stderr)
		}
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Fatalf("the MAC table of %s moved while macs ran:\n%v\n%v", node, before, after)
		}
		var table struct {
			Node string `json:"node"`
			Rows []struct {
				Port, OFPort, MAC, Role, Pod string
				VLAN                         int
				Uplink                       bool
			} `json:"rows"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &table); err != nil {
			t.Fatalf("%s: macs -o json: %v\n%s", be, err, r.stdout)
		}
		var got []fdbEntry
		routers := map[int]int{}
		pods := map[string]string{}
		for _, row := range table.Rows {
			got = append(got, fdbEntry{row.OFPort, row.VLAN, strings.ToLower(row.MAC)})
			switch {
			case row.Role == "router" && row.Uplink && row.Port == "eth1" && row.MAC == l.facts.RouterMAC:
				routers[row.VLAN]++
			case row.Role == "pod":
				pods[row.Pod] = fmt.Sprintf("%s vlan %d port %s", row.MAC, row.VLAN, row.Port)
			}
		}
		sort.Slice(got, func(i, j int) bool { return fmt.Sprint(got[i]) < fmt.Sprint(got[j]) })
		if fmt.Sprint(got) != fmt.Sprint(before) {
			t.Errorf("%s: macs rows (ofport VLAN MAC)\n%v\nfdb/show\n%v", be, got, before)
		}
		wantPods, wantRouters := map[string]string{}, map[int]int{}
		for _, p := range l.facts.Pods {
			if p.Node == node {
				wantPods[p.ref()] = fmt.Sprintf("%s vlan %d port %s", p.MAC, p.VLAN, p.HostVeth)
				wantRouters[p.VLAN] = 1
			}
		}
		if fmt.Sprint(pods) != fmt.Sprint(wantPods) || fmt.Sprint(routers) != fmt.Sprint(wantRouters) {
			t.Errorf("%s: pods %v routers per VLAN %v\nwant pods %v routers %v", be, pods, routers, wantPods, wantRouters)
		}
	}
}

// writePlan writes a check plan: every pod of the lab to every node.
func writePlan(t *testing.T, l *e2eLab) string {
	var b strings.Builder
	b.WriteString("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n")
	var nodes []string
	for _, n := range l.facts.Nodes {
		nodes = append(nodes, "node/"+n.Name)
	}
	for _, p := range l.facts.Pods {
		fmt.Fprintf(&b, "  - from: %s\n    to: [%s]\n", p.ref(), strings.Join(nodes, ", "))
	}
	f := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

type checkReport struct {
	Total, Passed, Failed int
	Results               []struct {
		Name, Result, Destination, Error string
		Source                           trace.PodRef
		Walk                             *trace.Walk
	}
}

// decodeCheck decodes `check -o json`; every result carries its walk.
func decodeCheck(t *testing.T, r pwResult) checkReport {
	t.Helper()
	var rep checkReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("check -o json: exit %d: %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	for _, res := range rep.Results {
		if res.Walk == nil {
			t.Fatalf("check %s: no walk in the JSON report", res.Name)
		}
	}
	return rep
}

// publishedPods are the lab's pods of the published walk: its source and a pod on another node.
func (l *e2eLab) publishedPods() (kubeDNS, nginx3 e2ePod) {
	for _, p := range l.facts.Pods {
		switch p.ref() {
		case "kube-system/kube-dns":
			kubeDNS = p
		case "default/nginx-3":
			nginx3 = p
		}
	}
	return kubeDNS, nginx3
}

func runCheck(t *testing.T, l *e2eLab, backend, plan, junit string) (checkReport, pwResult) {
	t.Helper()
	r := l.pw(append([]string{"check", "--plan", plan, "--junit", junit, "-o", "json"}, l.live(backend)...)...)
	return decodeCheck(t, r), r
}

// junitCounts reads a JUnit report: test cases and failed test cases.
func junitCounts(t *testing.T, file string) (tests, failures int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("--junit wrote nothing: %v", err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("junit %s is not XML: %v", file, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "testcase":
				tests++
			case "failure":
				failures++
			}
		}
	}
	return tests, failures
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// testReadOnly runs every command against the live lab and checks that no OVSDB database (NB, SB,
// the hypervisor's and every node's Open_vSwitch) and no node or pod changed; a control step then
// makes one deliberate write of each kind and checks the comparison sees it.
func testReadOnly(t *testing.T, l *e2eLab, plan string, kubeDNS, nginx3 e2ePod) {
	dbBefore, rvBefore := l.dbDumps(t), l.resourceVersions(t)
	out := t.TempDir()
	var ran []string
	run := func(wantCode int, args ...string) {
		t.Helper()
		r := l.pw(args...)
		ran = append(ran, strings.Join(args[:2], " "))
		if r.code != wantCode {
			t.Errorf("%s: exit %d, want %d\n%s", strings.Join(args, " "), r.code, wantCode, r.stderr)
		}
	}
	for _, be := range backends {
		live := l.live(be)
		run(0, append([]string{"trace", kubeDNS.ref(), "--to", "node/172.15.0.4", "-o", "wide"}, live...)...)
		run(0, append([]string{"trace", nginx3.ref(), "--to", "pod/" + kubeDNS.ref(), "-o", "json"}, live...)...)
		run(0, append([]string{"macs", "--node", "172.15.0.3"}, live...)...)
		run(0, append([]string{"check", "--plan", plan, "--junit", filepath.Join(out, be+".xml")}, live...)...)
		run(0, append([]string{"collect", "cluster", "--node", "172.15.0.3", "--node", "172.15.0.4", "--node", "172.15.0.5",
			"--output", filepath.Join(out, be+".tar.gz")}, live...)...)
	}
	for _, n := range l.facts.Nodes {
		c := exec.Command(filepath.Join(l.dir, "node-exec"), n.Name, l.bin, "collect", "node", "--node-name", n.Name,
			"--output", filepath.Join(out, n.Name+".json"))
		if b, err := c.CombinedOutput(); err != nil {
			t.Errorf("collect node on %s: %v\n%s", n.Name, err, b)
		}
		ran = append(ran, "collect node")
	}
	dbAfter, rvAfter := l.dbDumps(t), l.resourceVersions(t)
	if d := changed(dbBefore, dbAfter); len(d) > 0 {
		t.Errorf("databases changed while %v ran: %v", ran, d)
	}
	if d := changed(rvBefore, rvAfter); len(d) > 0 {
		t.Errorf("Kubernetes objects changed while %v ran: %v", ran, d)
	}
	if len(rvBefore) != len(l.facts.Nodes)+len(l.facts.Pods) {
		t.Errorf("resourceVersions of %d objects, want %d nodes and pods", len(rvBefore), len(l.facts.Nodes)+len(l.facts.Pods))
	}

	// Control: one write to a node's Open_vSwitch, one to NB, one node label; each must show.
	node := l.facts.Nodes[0]
	vsctl := func(args ...string) {
		t.Helper()
		if b, err := exec.Command("ovs-vsctl", append([]string{"--db=" + node.Ovsdb, "--no-wait"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ovs-vsctl %v: %v\n%s", args, err, b)
		}
	}
	nbctl := func(args ...string) {
		t.Helper()
		if b, err := exec.Command("ovn-nbctl", append([]string{"--db=" + l.facts.Hypervisor.NB}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ovn-nbctl %v: %v\n%s", args, err, b)
		}
	}
	label := func(v string) {
		t.Helper()
		patch := fmt.Sprintf(`{"metadata":{"labels":{"packetwalk-control":%s}}}`, v)
		if _, err := l.kube.CoreV1().Nodes().Patch(context.Background(), node.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	vsctl("set", "bridge", "br-int", "external_ids:packetwalk-control=1")
	nbctl("set", "logical_switch", "ls-default", "external_ids:packetwalk-control=1")
	label(`"1"`)
	dbCtl, rvCtl := l.dbDumps(t), l.resourceVersions(t)
	if d, want := changed(dbAfter, dbCtl), []string{"OVN_Northbound", "Open_vSwitch@" + node.Name}; !slices.Equal(d, want) {
		t.Errorf("control writes: the dumps show %v changed, want %v", d, want)
	}
	if d, want := changed(rvAfter, rvCtl), []string{"node/" + node.Name}; !slices.Equal(d, want) {
		t.Errorf("control label: resourceVersions show %v changed, want %v", d, want)
	}
	vsctl("remove", "bridge", "br-int", "external_ids", "packetwalk-control")
	nbctl("remove", "logical_switch", "ls-default", "external_ids", "packetwalk-control")
	label("null")
	if d := changed(dbAfter, l.dbDumps(t)); len(d) > 0 {
		t.Errorf("after undoing the control writes the dumps still differ: %v", d)
	}
}
