package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	"sigs.k8s.io/yaml"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

const (
	kubeletNode  = "172.15.0.6"
	debugImage   = "localhost/packetwalk/debug:lab"
	agentRunner  = "app=pw-node-agent:agent"
	kubeletOnCI  = "PW_LAB_KUBELET_E2E"
	realNodeHint = "install containerd runc buildah (apt-get) and build the kubelet once with testdata/kube/build.sh"
)

// TestLabKubeletE2E runs the plugin against the lab's real node (PW_LAB_KUBELET=1: kubelet v1.34.4,
// containerd, runc, the lab's CNI plugin), whose pods the kubelet started: each runner (--node-exec
// with both backends, --node-agent into the node agent pod, --node-debug-image with the image built
// from the repo's Dockerfile) walks the real pods, every walk against traceroute run in the pod
// itself through the API (exec); then the debug pod's life: gone after a run, after a failure and
// after Ctrl-C.
func TestLabKubeletE2E(t *testing.T) {
	if os.Getenv(kubeletOnCI) == "" {
		// Opt-in until it has run green in CI: see testdata/node/FINDINGS.md.
		t.Skipf("skipping: set %s=1 to run the real-kubelet e2e (root; %s)", kubeletOnCI, realNodeHint)
	}
	labtest.RequireRoot(t)
	labtest.RequireBinaries(t, "containerd", "runc", "ctr", "buildah")
	cache := os.Getenv("PW_CACHE")
	if cache == "" {
		cache = "/var/cache/packetwalk"
	}
	if _, err := os.Stat(filepath.Join(cache, "bin", "kubelet")); err != nil {
		labtest.Unavailable(t, "the kubelet", realNodeHint)
	}
	start := time.Now()
	l := startE2ELabWith(t, "pwk", "PW_LAB_KUBELET=1")
	t.Logf("lab with a real kubelet up in %v", time.Since(start).Round(time.Millisecond))
	if out, err := exec.Command("bash", "../testdata/node/images.sh", "debug").CombinedOutput(); err != nil {
		t.Fatalf("images.sh debug: %v\n%s", err, out)
	}
	if out, err := exec.Command("ctr", "-a", filepath.Join(l.dir, "kubelet", "containerd.sock"), "-n", "k8s.io",
		"images", "import", filepath.Join(cache, "images", "debug.tar")).CombinedOutput(); err != nil {
		t.Fatalf("ctr images import debug.tar: %v\n%s", err, out)
	}

	ctx := context.Background()
	node, err := l.kube.CoreV1().Nodes().Get(ctx, kubeletNode, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ni := node.Status.NodeInfo; ni.KubeletVersion != "v1.34.4" || !strings.HasPrefix(ni.ContainerRuntimeVersion, "containerd://1.") {
		t.Fatalf("node %s: kubelet %q runtime %q: not the lab's real kubelet and containerd", kubeletNode, ni.KubeletVersion, ni.ContainerRuntimeVersion)
	}
	web := l.realPod(t, "default", "web-6")
	dns := l.realPod(t, "kube-system", "dns-6")
	t.Run("pods wired like NCP", func(t *testing.T) {
		for _, p := range []*corev1.Pod{web, dns} {
			l.checkWiring(t, p)
		}
	})

	// traceroute from inside the pods (exec through the API server and the kubelet) first: it is
	// also the traffic that puts the pods' MACs in br-int's MAC table, as any real traffic would.
	type walkCase struct {
		from *corev1.Pod
		to   string
		ip   string
		hops []string
	}
	// Every walk starts and ends on the real node: the other nodes have no kubelet, so neither an
	// agent pod nor a debug pod can reach them.
	cases := []walkCase{
		{from: web, to: "node/" + kubeletNode, ip: kubeletNode},
		{from: dns, to: "pod/default/web-6", ip: web.Status.PodIP},
	}
	for i, c := range cases {
		cases[i].hops = l.podTraceroute(t, c.from, c.ip)
		if len(cases[i].hops) == 0 || cases[i].hops[len(cases[i].hops)-1] != c.ip {
			t.Fatalf("traceroute from %s/%s to %s does not arrive: %v", c.from.Namespace, c.from.Name, c.ip, cases[i].hops)
		}
	}

	runners := map[string][]string{
		"node-exec/native":    {"--node-exec", l.facts.NodeExec, "--node-backend", "native", "--node-binary", l.bin},
		"node-exec/agentless": {"--node-exec", l.facts.NodeExec, "--node-backend", "agentless"},
		"node-agent":          {"--node-agent", agentRunner},
		"node-debug-image":    {"--node-debug-image", debugImage},
	}
	for _, name := range []string{"node-exec/native", "node-exec/agentless", "node-agent", "node-debug-image"} {
		flags := append([]string{"--kubeconfig", l.facts.Kubeconfig, "--fabric", "ovn", "--ovn-nb", l.facts.Hypervisor.NB}, runners[name]...)
		t.Run(name, func(t *testing.T) {
			for _, c := range cases {
				r := l.pw(append([]string{"trace", c.from.Namespace + "/" + c.from.Name, "--to", c.to, "-o", "json"}, flags...)...)
				var w trace.Walk
				if err := json.Unmarshal([]byte(r.stdout), &w); err != nil {
					t.Fatalf("trace %s/%s --to %s: exit %d, no JSON walk: %v\nstderr: %s", c.from.Namespace, c.from.Name, c.to, r.code, err, r.stderr)
				}
				if r.code != 0 || w.Verdict != trace.VerdictReachable {
					t.Errorf("trace %s/%s --to %s: exit %d verdict %s (%s)\nstderr: %s", c.from.Namespace, c.from.Name, c.to, r.code, w.Verdict, w.Reason, r.stderr)
					continue
				}
				if got := routerHops(&w); !slices.Equal(got, c.hops) {
					t.Errorf("trace %s/%s --to %s: router hops %v, traceroute in the pod %v", c.from.Namespace, c.from.Name, c.to, got, c.hops)
				}
				var l2 []string
				for _, h := range w.Hops {
					if h.Kind == "switch" {
						break
					}
					l2 = append(l2, h.Kind)
					if h.Status != trace.StatusOK {
						t.Errorf("%s: hop %d %s %s is %s: %s", c.to, h.Index, h.Kind, h.Name, h.Status, h.Detail)
					}
				}
				if want := []string{"pod", "veth", "ovs-port", "mac-table", "ovs-uplink", "fabric-port"}; !slices.Equal(l2, want) {
					t.Errorf("%s: L2 hops %v, want %v", c.to, l2, want)
				}
			}
			l.testRealMacs(t, flags, web, dns)
			l.testRealCheck(t, flags, cases[0].to, web, dns)
			l.testRealCollect(t, flags, web, dns)
			l.noDebugPods(t)
		})
	}

	t.Run("debug pod removed after a failure", func(t *testing.T) {
		r := l.pw("trace", "default/web-6", "--to", "node/"+kubeletNode, "--kubeconfig", l.facts.Kubeconfig,
			"--fabric", "ovn", "--ovn-nb", l.facts.Hypervisor.NB, "--node-debug-image", "localhost/packetwalk/no-such-image:lab")
		if r.code != 3 || !strings.Contains(r.stderr, "ErrImagePull") && !strings.Contains(r.stderr, "ImagePullBackOff") {
			t.Errorf("a debug image that does not exist: exit %d, want 3 and the pull error\nstderr: %s", r.code, r.stderr)
		}
		l.noDebugPods(t)
	})
	t.Run("debug pod removed on Ctrl-C", func(t *testing.T) { l.testDebugInterrupt(t) })
	t.Run("RBAC of deploy/ only", func(t *testing.T) { l.testRBAC(t, cases[0].from, cases[0].to) })
}

// testRBAC binds only deploy/rbac-*.yaml to group netops (the lab's token packetwalk-lab-netops-token)
// and runs the agent and debug runners as that user; then takes one verb away from each and wants
// exit 3 and a message naming what is missing.
func (l *e2eLab) testRBAC(t *testing.T, from *corev1.Pod, to string) {
	ctx := context.Background()
	rb := l.kube.RbacV1()
	if _, err := l.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "packetwalk",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	roles := map[string]*rbacv1.Role{}
	for _, f := range []string{"rbac-plugin.yaml", "rbac-node-agent.yaml", "rbac-debug-pod.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "deploy", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---") {
			var kind struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &kind); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			switch kind.Kind {
			case "ClusterRole":
				var cr rbacv1.ClusterRole
				if err := yaml.Unmarshal([]byte(doc), &cr); err != nil {
					t.Fatal(err)
				}
				if _, err := rb.ClusterRoles().Create(ctx, &cr, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				if _, err := rb.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: cr.Name},
					RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cr.Name},
					Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "netops"}}}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			case "Role":
				var r rbacv1.Role
				if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
					t.Fatal(err)
				}
				if _, err := rb.Roles(r.Namespace).Create(ctx, &r, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				if _, err := rb.RoleBindings(r.Namespace).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace},
					RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: r.Name},
					Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "netops"}}}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				roles[r.Name] = &r
			}
		}
	}
	if roles["packetwalk-agent-exec"] == nil || roles["packetwalk-debug"] == nil {
		t.Fatalf("deploy/ lacks the Roles packetwalk-agent-exec or packetwalk-debug: %v", roles)
	}
	kc := filepath.Join(t.TempDir(), "netops.kubeconfig")
	b, err := os.ReadFile(l.facts.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, bytes.ReplaceAll(b, []byte("packetwalk-lab-admin-token"), []byte("packetwalk-lab-netops-token")), 0o600); err != nil {
		t.Fatal(err)
	}
	src := from.Namespace + "/" + from.Name
	modes := []struct {
		name, role string
		flags      []string
		drop       string // the verb taken away
		resource   string
	}{
		{"node-agent", "packetwalk-agent-exec", []string{"--node-agent", agentRunner}, "create", "pods/exec"},
		{"node-debug-image", "packetwalk-debug", []string{"-n", "packetwalk", "--node-debug-image", debugImage}, "create", "pods"},
	}
	for _, m := range modes {
		args := append([]string{"trace", src, "--to", to, "-o", "json", "--kubeconfig", kc, "--fabric", "ovn", "--ovn-nb", l.facts.Hypervisor.NB}, m.flags...)
		if r := l.pw(args...); r.code != 0 {
			t.Errorf("%s with only deploy/rbac-*.yaml bound: exit %d\n%s", m.name, r.code, r.stderr)
		}
		role := roles[m.role].DeepCopy()
		for i := range role.Rules {
			role.Rules[i].Verbs = slices.DeleteFunc(slices.Clone(role.Rules[i].Verbs), func(v string) bool { return v == m.drop })
		}
		if _, err := rb.Roles(role.Namespace).Update(ctx, role, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// RBAC takes effect when the API server's informer has the change: poll for the refusal.
		var r pwResult
		deadline := time.Now().Add(20 * time.Second)
		for {
			r = l.pw(args...)
			if r.code != 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r.code != 3 || !strings.Contains(r.stderr, m.resource) || !strings.Contains(r.stderr, m.drop) ||
			strings.Contains(r.stderr, "goroutine ") {
			t.Errorf("%s without %s %s: exit %d, want 3 and a message naming %s %s\nstderr: %s", m.name, m.drop, m.resource, r.code, m.drop, m.resource, r.stderr)
		} else {
			t.Logf("%s without %s %s: %s", m.name, m.drop, m.resource, lastLine(r.stderr))
		}
	}
	l.noDebugPods(t)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// realPod is a pod of the real node, Running with an IP the lab's CNI gave it.
func (l *e2eLab) realPod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := l.kube.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != kubeletNode || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
		t.Fatalf("pod %s/%s: node %s phase %s IP %q: want Running on %s with an IP", ns, name, p.Spec.NodeName, p.Status.Phase, p.Status.PodIP, kubeletNode)
	}
	return p
}

// checkWiring holds a real pod's wiring against NCP's layout: its eth0 MAC (read in the pod) is
// the attached-mac of an access port of br-int with a VLAN tag, whose external_ids name the pod,
// and an OVN CHILD port of the namespace's switch has the node's trunk as parent, the same tag,
// MAC and IP.
func (l *e2eLab) checkWiring(t *testing.T, p *corev1.Pod) {
	t.Helper()
	out, err := l.podExec(p, "ip", "-j", "link", "show", "eth0")
	if err != nil {
		t.Fatalf("ip link in %s/%s: %v", p.Namespace, p.Name, err)
	}
	var links []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j link in %s/%s: %v\n%s", p.Namespace, p.Name, err, out)
	}
	mac := links[0].Address
	ne := filepath.Join(l.dir, "node-exec")
	b, err := exec.Command(ne, kubeletNode, "ovs-vsctl", "--format=json", "--columns=name,external_ids",
		"find", "Interface", `external_ids:attached-mac="`+mac+`"`).CombinedOutput()
	if err != nil {
		t.Fatalf("ovs-vsctl find: %v\n%s", err, b)
	}
	s := string(b)
	for _, want := range []string{`"iface-id","` + p.Namespace + "_" + p.Name + `"`, `"pod-name","` + p.Name + `"`,
		`"pod-namespace","` + p.Namespace + `"`, `"ip_address","` + p.Status.PodIP + "/24" + `"`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s/%s: OVS interface with attached-mac %s lacks %s: %s", p.Namespace, p.Name, mac, want, s)
		}
	}
	var iface struct {
		Data [][]any `json:"data"`
	}
	if err := json.Unmarshal(b, &iface); err != nil || len(iface.Data) != 1 {
		t.Fatalf("%s/%s: want one OVS interface with attached-mac %s: %v %s", p.Namespace, p.Name, mac, err, s)
	}
	port, _ := iface.Data[0][0].(string)
	tag, err := exec.Command(ne, kubeletNode, "ovs-vsctl", "get", "Port", port, "tag").Output()
	if err != nil {
		t.Fatalf("ovs-vsctl get Port %s tag: %v", port, err)
	}
	lsp := p.Namespace + "_" + p.Name
	nb, err := exec.Command("ovn-nbctl", "--db="+l.facts.Hypervisor.NB, "get", "Logical_Switch_Port", lsp, "parent_name", "tag", "addresses").Output()
	if err != nil {
		t.Fatalf("ovn-nbctl get %s: %v", lsp, err)
	}
	want := fmt.Sprintf("node-%s-eth1\n%s\n[\"%s %s\"]\n", kubeletNode, strings.TrimSpace(string(tag)), mac, p.Status.PodIP)
	if string(nb) != want {
		t.Errorf("%s: CHILD port %q, want %q (OVS port %s tag %s)", lsp, nb, want, port, tag)
	}
	if _, err := netip.ParseAddr(p.Status.PodIP); err != nil {
		t.Errorf("%s: pod IP %q", lsp, p.Status.PodIP)
	}
}

// podExec runs argv in the pod's first container through the API server and the kubelet.
func (l *e2eLab) podExec(p *corev1.Pod, argv ...string) ([]byte, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", l.facts.Kubeconfig)
	if err != nil {
		return nil, err
	}
	req := l.kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(p.Namespace).Name(p.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: p.Spec.Containers[0].Name, Command: argv, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errb}); err != nil {
		return nil, fmt.Errorf("%v: %s", err, errb.String())
	}
	return out.Bytes(), nil
}

// podTraceroute is `traceroute -I -n` run in the pod: the hop addresses, the unanswered tail dropped.
func (l *e2eLab) podTraceroute(t *testing.T, p *corev1.Pod, dst string) []string {
	t.Helper()
	out, err := l.podExec(p, "traceroute", "-I", "-n", "-q", "1", "-w", "1", "-m", "6", dst)
	if err != nil {
		t.Fatalf("traceroute in %s/%s to %s: %v", p.Namespace, p.Name, dst, err)
	}
	var hops []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] == "traceroute" {
			continue
		}
		hops = append(hops, f[1])
	}
	for len(hops) > 0 && hops[len(hops)-1] == "*" {
		hops = hops[:len(hops)-1]
	}
	return hops
}

// testRealMacs: `macs --node` on the real node lists both pods' MACs on their access ports and VLANs.
func (l *e2eLab) testRealMacs(t *testing.T, flags []string, pods ...*corev1.Pod) {
	t.Helper()
	r := l.pw(append([]string{"macs", "--node", kubeletNode, "-o", "json"}, flags...)...)
	if r.code != 0 {
		t.Errorf("macs --node %s: exit %d\n%s", kubeletNode, r.code, r.stderr)
		return
	}
	var table struct {
		Rows []struct {
			MAC, Role, Pod string
			VLAN           int
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &table); err != nil {
		t.Fatalf("macs -o json: %v\n%s", err, r.stdout)
	}
	for _, p := range pods {
		found := false
		for _, row := range table.Rows {
			found = found || row.Role == "pod" && row.Pod == p.Namespace+"/"+p.Name && row.VLAN > 0
		}
		if !found {
			t.Errorf("macs --node %s: no row for pod %s/%s\n%s", kubeletNode, p.Namespace, p.Name, r.stdout)
		}
	}
}

// testRealCheck: a check plan from both real pods to a node passes, with JUnit.
func (l *e2eLab) testRealCheck(t *testing.T, flags []string, to string, pods ...*corev1.Pod) {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: packetwalk/v1\nkind: CheckPlan\nchecks:\n")
	for _, p := range pods {
		fmt.Fprintf(&b, "  - from: %s/%s\n    to: [%s]\n", p.Namespace, p.Name, to)
	}
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	junit := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(plan, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r := l.pw(append([]string{"check", "--plan", plan, "--junit", junit, "-o", "json"}, flags...)...)
	var rep checkReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.Total != len(pods) || rep.Passed != rep.Total {
		t.Errorf("check: exit %d, %d checks %d passed (%v)\n%s%s", r.code, rep.Total, rep.Passed, err, r.stdout, r.stderr)
	}
	if tests, failures := junitCounts(t, junit); tests != len(pods) || failures != 0 {
		t.Errorf("junit: %d tests %d failures, want %d and 0", tests, failures, len(pods))
	}
}

// testRealCollect: `collect cluster --node` of the real node holds both pods' network namespaces.
func (l *e2eLab) testRealCollect(t *testing.T, flags []string, pods ...*corev1.Pod) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	r := l.pw(append([]string{"collect", "cluster", "--node", kubeletNode, "--output", dir}, flags...)...)
	if r.code != 0 {
		t.Errorf("collect cluster --node %s: exit %d\n%s", kubeletNode, r.code, r.stderr)
		return
	}
	f, err := os.Open(filepath.Join(dir, "snapshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := trace.ReadSnapshot(f, "bundle")
	if err != nil {
		t.Fatal(err)
	}
	var st *trace.NodeState
	for i := range s.Nodes {
		if s.Nodes[i].Name == kubeletNode {
			st = &s.Nodes[i]
		}
	}
	if st == nil {
		t.Fatalf("collect cluster: no node state of %s", kubeletNode)
	}
	b, _ := json.Marshal(st)
	for _, p := range pods {
		if !strings.Contains(string(b), p.Status.PodIP) {
			t.Errorf("collect cluster: node state of %s lacks pod %s/%s's address %s", kubeletNode, p.Namespace, p.Name, p.Status.PodIP)
		}
	}
}

// noDebugPods: no pod of the debug runner is left, in any namespace (polled: a delete takes a moment).
func (l *e2eLab) noDebugPods(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pods, err := l.kube.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: runner.DebugLabel})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("debug pods left behind: %s/%s (%d)", pods.Items[0].Namespace, pods.Items[0].Name, len(pods.Items))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testDebugInterrupt: Ctrl-C while the debug pod runs removes it, and the plugin exits.
func (l *e2eLab) testDebugInterrupt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A debug pod that never finishes by itself: the plugin's image asked to wait on a socket that
	// never answers would be racy; instead interrupt as soon as the pod exists.
	cmd := exec.CommandContext(ctx, l.bin, "macs", "--node", kubeletNode, "--kubeconfig", l.facts.Kubeconfig,
		"--node-debug-image", debugImage)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := false
	for !seen && ctx.Err() == nil {
		pods, err := l.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: runner.DebugLabel})
		if err != nil {
			t.Fatal(err)
		}
		seen = len(pods.Items) > 0
		if !seen {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !seen {
		t.Fatal("no debug pod appeared")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the plugin did not exit after Ctrl-C: %v\n%s", err, errb.String())
	}
	if strings.Contains(errb.String(), "goroutine ") || strings.Contains(errb.String(), "panic") {
		t.Errorf("Ctrl-C: a stack trace:\n%s", errb.String())
	}
	l.noDebugPods(t)
}
