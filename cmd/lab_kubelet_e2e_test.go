package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	debugNS      = "packetwalk"
	realNodeHint = "install containerd runc buildah containernetworking-plugins (apt-get); the lab builds the kubelet (testdata/kube/build.sh kubelet) and the images (testdata/node/images.sh) once into $PW_CACHE"
)

// TestLabKubeletE2E runs the plugin against the lab's real node (PW_LAB_KUBELET=1: kubelet v1.34.4,
// containerd, runc, the lab's CNI plugin), whose pods the kubelet started. As a user holding only
// deploy/rbac-*.yaml, each runner (--node-exec with both backends, --node-agent into the node agent
// pod, --node-debug-image with the image built from the repo's Dockerfile) runs trace, macs, check
// and collect cluster on the real pods, every walk against traceroute run in the pod itself through
// the API (exec). Then the debug pod's life: gone after a run, after two kinds of failure and after
// Ctrl-C; then each verb of deploy/ taken away alone: exit 3 and one line naming it.
func TestLabKubeletE2E(t *testing.T) {
	labtest.RequireRoot(t) // skips under -short
	labtest.RequireBinaries(t, "containerd", "runc", "ctr", "buildah")
	if _, err := os.Stat("/usr/lib/cni/loopback"); err != nil {
		labtest.Unavailable(t, "the CNI loopback plugin", realNodeHint)
	}
	start := time.Now()
	l := startE2ELabWith(t, "pwk", "PW_LAB_KUBELET=1")
	t.Logf("lab with a real kubelet up in %v", time.Since(start).Round(time.Millisecond))

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
		if len(cases[i].hops) < 2 || cases[i].hops[len(cases[i].hops)-1] != c.ip {
			t.Fatalf("traceroute from %s/%s to %s does not arrive through a router: %v", c.from.Namespace, c.from.Name, c.ip, cases[i].hops)
		}
	}

	roles := l.bindDeployRBAC(t)
	netops := l.netopsKubeconfig(t)
	runners := map[string][]string{
		"node-exec/native":    {"--node-exec", l.facts.NodeExec, "--node-backend", "native", "--node-binary", l.bin},
		"node-exec/agentless": {"--node-exec", l.facts.NodeExec, "--node-backend", "agentless"},
		"node-agent":          {"--node-agent", agentRunner},
		"node-debug-image":    {"-n", debugNS, "--node-debug-image", debugImage},
	}
	for _, name := range []string{"node-exec/native", "node-exec/agentless", "node-agent", "node-debug-image"} {
		flags := append([]string{"--kubeconfig", netops, "--fabric", "ovn", "--ovn-nb", l.facts.Hypervisor.NB}, runners[name]...)
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
					l2 = append(l2, string(h.Kind))
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

	debugFlags := []string{"trace", "default/web-6", "--to", "node/" + kubeletNode, "-o", "json", "--kubeconfig", netops, "-n", debugNS,
		"--fabric", "ovn", "--ovn-nb", l.facts.Hypervisor.NB, "--node-debug-image"}
	t.Run("debug pod removed after its image failed to pull", func(t *testing.T) {
		r := l.pw(append(debugFlags, "localhost/packetwalk/no-such-image:lab")...)
		if r.code != 3 || !strings.Contains(r.stderr, "ErrImagePull") && !strings.Contains(r.stderr, "ImagePullBackOff") {
			t.Errorf("a debug image that does not exist: exit %d, want 3 and the pull error\nstderr: %s", r.code, r.stderr)
		}
		l.noDebugPods(t)
	})
	t.Run("debug pod removed after its command failed", func(t *testing.T) {
		// The tools image has no /kubectl-packetwalk: the container cannot start.
		r := l.pw(append(debugFlags, "localhost/packetwalk/tools:lab")...)
		if r.code != 3 || !strings.Contains(r.stderr, "StartError") || !strings.Contains(r.stderr, "stat "+runner.DebugBinary+": no such file") {
			t.Errorf("a debug image without %s: exit %d, want 3 and the runtime's error naming it\nstderr: %s", runner.DebugBinary, r.code, r.stderr)
		}
		l.noDebugPods(t)
	})
	t.Run("debug pod removed on Ctrl-C", func(t *testing.T) { l.testDebugInterrupt(t, netops) })
	t.Run("RBAC: each verb of deploy/ is needed", func(t *testing.T) { l.testRBACVerbs(t, roles, netops) })
}

// deployRole is a Role or ClusterRole of deploy/, as bound to group netops.
type deployRole struct {
	file string
	role *rbacv1.Role // Namespace "" for the ClusterRole
}

// bindDeployRBAC creates the debug namespace (Pod Security privileged, as deploy/ says), the roles
// of deploy/rbac-*.yaml and their bindings to group netops (the lab's token
// packetwalk-lab-netops-token): the user has those rights and no others. Idempotent.
func (l *e2eLab) bindDeployRBAC(t *testing.T) map[string]deployRole {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: debugNS, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}
	if _, err := l.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	roles := map[string]deployRole{}
	for _, f := range []string{"rbac-plugin.yaml", "rbac-node-agent.yaml", "rbac-debug-pod.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "deploy", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---") {
			var r rbacv1.Role // a ClusterRole has the same fields
			var kind struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &kind); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if kind.Kind != "Role" && kind.Kind != "ClusterRole" {
				continue
			}
			if err := yaml.UnmarshalStrict([]byte(doc), &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if kind.Kind == "ClusterRole" && r.Namespace != "" {
				t.Fatalf("%s: ClusterRole %s with a namespace", f, r.Name)
			}
			roles[r.Name] = deployRole{file: f, role: &r}
			l.putRole(t, &r)
			subjects := []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "netops"}}
			ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind.Kind, Name: r.Name}
			meta := metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace}
			if kind.Kind == "ClusterRole" {
				_, err = l.kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: meta, RoleRef: ref, Subjects: subjects}, metav1.CreateOptions{})
			} else {
				_, err = l.kube.RbacV1().RoleBindings(r.Namespace).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: ref, Subjects: subjects}, metav1.CreateOptions{})
			}
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
	}
	for _, want := range []string{"packetwalk-reader", "packetwalk-agent-exec", "packetwalk-debug"} {
		if roles[want].role == nil {
			t.Fatalf("deploy/ lacks the role %s: %v", want, roles)
		}
	}
	if roles["packetwalk-debug"].role.Namespace != debugNS {
		t.Fatalf("deploy/rbac-debug-pod.yaml: Role in %q, the test uses %q", roles["packetwalk-debug"].role.Namespace, debugNS)
	}
	return roles
}

// putRole creates or replaces r (a ClusterRole when r.Namespace is "").
func (l *e2eLab) putRole(t *testing.T, r *rbacv1.Role) {
	t.Helper()
	ctx := context.Background()
	rb := l.kube.RbacV1()
	if r.Namespace == "" {
		cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: r.Name}, Rules: r.Rules}
		if cur, err := rb.ClusterRoles().Get(ctx, r.Name, metav1.GetOptions{}); err == nil {
			cr.ResourceVersion = cur.ResourceVersion
			_, err = rb.ClusterRoles().Update(ctx, cr, metav1.UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
		} else if _, err := rb.ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	nr := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace}, Rules: r.Rules}
	if cur, err := rb.Roles(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{}); err == nil {
		nr.ResourceVersion = cur.ResourceVersion
		if _, err := rb.Roles(r.Namespace).Update(ctx, nr, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	} else if _, err := rb.Roles(r.Namespace).Create(ctx, nr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// netopsKubeconfig is the lab's kubeconfig with the token of user netops-user (group netops).
func (l *e2eLab) netopsKubeconfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(l.facts.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("packetwalk-lab-admin-token")) {
		t.Fatalf("%s: no admin token to swap for netops's", l.facts.Kubeconfig)
	}
	kc := filepath.Join(t.TempDir(), "netops.kubeconfig")
	if err := os.WriteFile(kc, bytes.ReplaceAll(b, []byte("packetwalk-lab-admin-token"), []byte("packetwalk-lab-netops-token")), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

// testRBACVerbs takes each verb of deploy/ away alone (the others bound as in deploy/) and runs the
// command of the mode that needs it as netops: exit 3 and one line naming the verb, the resource
// and the file granting it; no stack, no hang. The roles are back as in deploy/ afterwards.
func (l *e2eLab) testRBACVerbs(t *testing.T, roles map[string]deployRole, netops string) {
	live := []string{"--kubeconfig", netops, "--fabric", "ovn", "--ovn-nb", l.facts.Hypervisor.NB}
	traceArgs := append([]string{"trace", "default/web-6", "--to", "node/" + kubeletNode, "-o", "json"}, live...)
	macsArgs := append([]string{"macs", "--node", kubeletNode, "-o", "json"}, live...)
	agent := []string{"--node-agent", agentRunner}
	debug := []string{"-n", debugNS, "--node-debug-image", debugImage}
	cases := []struct {
		role, resource, verb string
		args                 []string
		want                 string // in the one line that names the refusal
	}{
		{"packetwalk-reader", "pods", "get", append(slices.Clone(traceArgs), agent...), "may not get pods in namespace default"},
		{"packetwalk-reader", "pods", "list", append(slices.Clone(macsArgs), agent...), "may not list pods cluster-wide"},
		{"packetwalk-reader", "pods", "list", append(slices.Clone(traceArgs), agent...), "may not list pods cluster-wide"},
		{"packetwalk-agent-exec", "pods/exec", "create", append(slices.Clone(traceArgs), agent...), "may not create pods/exec in namespace kube-system"},
		{"packetwalk-debug", "pods", "create", append(slices.Clone(traceArgs), debug...), "may not create pods in namespace " + debugNS},
		{"packetwalk-debug", "pods", "delete", append(slices.Clone(traceArgs), debug...), "not deleted (delete it with `kubectl delete pod -n " + debugNS},
		{"packetwalk-debug", "pods/log", "get", append(slices.Clone(traceArgs), debug...), "may not get pods/log in namespace " + debugNS},
	}
	// Every rule's every verb is exercised here: deploy/ grants nothing the plugin does not need.
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.role+" "+c.resource+" "+c.verb] = true
	}
	for name, dr := range roles {
		for _, rule := range dr.role.Rules {
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					// Nodes are read with pods' rights in the same rule; Services and EndpointSlices only for
					// --to svc/... walks, which need a Service scenario, not this node.
					if !covered[name+" "+res+" "+v] && !(name == "packetwalk-reader" && (res == "nodes" || res == "services" || res == "endpointslices")) {
						t.Errorf("deploy/%s: %s %s in %s is never taken away here: needed?", dr.file, v, res, name)
					}
				}
			}
		}
	}
	defer func() {
		for _, dr := range roles {
			l.putRole(t, dr.role)
		}
		l.deleteDebugPods(t)
	}()
	for _, c := range cases {
		t.Run(c.role+" without "+c.verb+" "+c.resource, func(t *testing.T) {
			dr := roles[c.role]
			less := dr.role.DeepCopy()
			less.Rules = nil
			for _, rule := range dr.role.Rules {
				if slices.Contains(rule.Resources, c.resource) {
					rule = *rule.DeepCopy()
					rule.Verbs = slices.DeleteFunc(rule.Verbs, func(v string) bool { return v == c.verb })
					if len(rule.Verbs) == 0 {
						continue
					}
				}
				less.Rules = append(less.Rules, rule)
			}
			for _, other := range roles {
				if other.role.Name != c.role {
					l.putRole(t, other.role)
				}
			}
			l.putRole(t, less)
			// RBAC takes effect when the API server's informer has the change: poll for the refusal.
			var r pwResult
			deadline := time.Now().Add(20 * time.Second)
			for {
				r = l.pw(c.args...)
				if strings.Contains(r.stderr, c.want) || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			var named []string
			for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
				if strings.Contains(line, c.want) {
					named = append(named, line)
				}
			}
			verbRes := c.verb + " " + c.resource
			if r.code != 3 || len(named) != 1 || !strings.Contains(named[0], verbRes) || !strings.Contains(named[0], "deploy/"+dr.file) ||
				strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("without %s: exit %d, want 3 and one line naming %q, %q and deploy/%s\nstderr: %s", verbRes, r.code, c.want, verbRes, dr.file, r.stderr)
			} else {
				t.Logf("without %s: %s", verbRes, named[0])
			}
		})
	}
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
	if n := strings.TrimSpace(string(tag)); n == "[]" || n == "" {
		t.Errorf("%s/%s: OVS port %s has no VLAN tag: not an access port", p.Namespace, p.Name, port)
	}
	lsp := p.Namespace + "_" + p.Name
	nb, err := exec.Command("ovn-nbctl", "--db="+l.facts.Hypervisor.NB, "get", "Logical_Switch_Port", lsp, "parent_name", "tag", "addresses").Output()
	if err != nil {
		t.Fatalf("ovn-nbctl get %s: %v", lsp, err)
	}
	want := fmt.Sprintf("%q\n%s\n[\"%s %s\"]\n", l.trunkLSP(t, kubeletNode), strings.TrimSpace(string(tag)), mac, p.Status.PodIP)
	if string(nb) != want {
		t.Errorf("%s: CHILD port %q, want %q (OVS port %s tag %s)", lsp, nb, want, port, tag)
	}
}

// trunkLSP is the logical switch port of node's trunk NIC (the parent of its pods' CHILD ports), from lab.json.
func (l *e2eLab) trunkLSP(t *testing.T, node string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var facts struct {
		Nodes []struct {
			Name  string
			Trunk struct{ LSP string }
		}
	}
	if err := json.Unmarshal(b, &facts); err != nil {
		t.Fatalf("lab.json: %v", err)
	}
	for _, n := range facts.Nodes {
		if n.Name == node && n.Trunk.LSP != "" {
			return n.Trunk.LSP
		}
	}
	t.Fatalf("lab.json: no trunk port of node %s", node)
	return ""
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

// testRealCollect: `collect cluster --node` of the real node holds both pods' network namespaces,
// and a walk from the bundle is reachable like the live one.
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
		if !strings.Contains(string(b), `"`+p.Status.PodIP+`/`) {
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
			l.deleteDebugPods(t)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deleteDebugPods removes, as the admin, the debug pods a test made the plugin leave.
func (l *e2eLab) deleteDebugPods(t *testing.T) {
	t.Helper()
	zero := int64(0)
	if err := l.kube.CoreV1().Pods(debugNS).DeleteCollection(context.Background(), metav1.DeleteOptions{GracePeriodSeconds: &zero},
		metav1.ListOptions{LabelSelector: runner.DebugLabel}); err != nil {
		t.Errorf("delete the debug pods left: %v", err)
	}
}

// testDebugInterrupt: SIGINT (Ctrl-C) to the plugin while its debug pod runs: the plugin exits, as
// interrupted, without a stack, and the pod is gone.
func (l *e2eLab) testDebugInterrupt(t *testing.T, kubeconfig string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.bin, "macs", "--node", kubeletNode, "--kubeconfig", kubeconfig, "-n", debugNS,
		"--node-debug-image", debugImage)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen *corev1.Pod
	for seen == nil && ctx.Err() == nil {
		pods, err := l.kube.CoreV1().Pods(debugNS).List(ctx, metav1.ListOptions{LabelSelector: runner.DebugLabel})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) > 0 {
			seen = &pods.Items[0]
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if seen == nil {
		t.Fatal("no debug pod appeared")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the plugin did not exit after Ctrl-C: %v\n%s", err, errb.String())
	}
	if cmd.ProcessState.ExitCode() == 0 {
		t.Errorf("interrupted while its debug pod %s ran, the plugin exited 0: it was not interrupted\n%s", seen.Name, errb.String())
	}
	if strings.Contains(errb.String(), "goroutine ") || strings.Contains(errb.String(), "panic") {
		t.Errorf("Ctrl-C: a stack trace:\n%s", errb.String())
	}
	t.Logf("Ctrl-C during debug pod %s: exit %d: %s", seen.Name, cmd.ProcessState.ExitCode(), strings.TrimSpace(errb.String()))
	l.noDebugPods(t)
}
