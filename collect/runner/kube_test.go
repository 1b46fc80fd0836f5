package runner

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
)

func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }

// fakeKubelet answers the API server's kubelet requests for container logs.
func fakeKubelet(t *testing.T, log string) (port int32, paths chan string) {
	paths = make(chan string, 10)
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path
		if strings.HasPrefix(r.URL.Path, "/containerLogs/") {
			_, _ = w.Write([]byte(log))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(s.Close)
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return int32(n), paths
}

// TestDebugPod plays the kubelet: it checks the debug pod the runner creates, marks it finished,
// serves its log through the API server's pods/log proxy, and checks the pod is deleted.
func TestDebugPod(t *testing.T) {
	srv := kubetest.Get(t)
	cs := srv.Client()
	ctx := context.Background()
	paths := debugNode(t, cs, "dbg-node", `{"apiVersion":"packetwalk/v1"}`)
	d := NewDebugPod(kubeclientFor(t, srv), "default", "registry.example/packetwalk:dev")
	d.Poll = 50 * time.Millisecond
	r, pod := runDebugPod(t, d, cs, "dbg-node")
	c := pod.Spec.Containers[0]
	if !pod.Spec.HostNetwork || !pod.Spec.HostPID || c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged ||
		pod.Spec.RestartPolicy != corev1.RestartPolicyNever || c.Image != "registry.example/packetwalk:dev" ||
		strings.Join(c.Command, " ") != "/kubectl-packetwalk collect node --node-name dbg-node" || len(c.VolumeMounts) != 2 || !c.VolumeMounts[0].ReadOnly {
		t.Errorf("debug pod spec: %+v", pod.Spec)
	}
	if r.err != nil || string(r.out) != `{"apiVersion":"packetwalk/v1"}` {
		t.Fatalf("Run = %q, %v", r.out, r.err)
	}
	if p := <-paths; p != "/containerLogs/default/"+pod.Name+"/packetwalk" {
		t.Errorf("kubelet asked for %s", p)
	}
	_, err := cs.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("debug pod still there after Run: %v", err)
	}
}

// TestDebugPodNotDeleted: a user whose Role lacks delete pods gets the node's log read and still an
// error naming the pod left behind and the missing verb, not a silent leftover privileged pod.
func TestDebugPodNotDeleted(t *testing.T) {
	srv := kubetest.Get(t)
	admin := srv.Client()
	ctx := context.Background()
	debugNode(t, admin, "dbg-nodel", `{"apiVersion":"packetwalk/v1"}`)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "dbg-no-delete", Namespace: "default"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	}}
	if _, err := admin.RbacV1().Roles("default").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dbg-no-delete", Namespace: "default"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "dbg-no-delete"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "dbg-no-delete"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.RbacV1().Roles("default").Delete(ctx, "dbg-no-delete", metav1.DeleteOptions{})
		_ = admin.RbacV1().RoleBindings("default").Delete(ctx, "dbg-no-delete", metav1.DeleteOptions{})
	})
	for _, v := range []string{"create", "get"} {
		if err := kubetest.WaitAllowed(ctx, admin, "dbg-no-delete", "default", v, "pods"); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(srv.Config())
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "dbg-no-delete"}
	user, err := kubeclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDebugPod(user, "default", "registry.example/packetwalk:dev")
	d.Poll = 50 * time.Millisecond
	r, pod := runDebugPod(t, d, admin, "dbg-nodel")
	t.Cleanup(func() { _ = admin.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{}) })
	want := "debug pod default/" + pod.Name + " on dbg-nodel not deleted (delete it with `kubectl delete pod -n default " + pod.Name + "`): forbidden: your user may not delete pods in namespace default"
	if r.err == nil || r.out != nil || !strings.HasPrefix(r.err.Error(), want) || strings.Contains(r.err.Error(), "\n") {
		t.Errorf("Run = %q, %v\nwant the error %s...", r.out, r.err, want)
	}
	if _, err := admin.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the pod the user could not delete: %v", err)
	}
}

// debugNode registers node name whose kubelet (a test server) serves log as every container's log.
func debugNode(t *testing.T, cs kubernetes.Interface, name, log string) (paths chan string) {
	t.Helper()
	port, paths := fakeKubelet(t, log)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}},
	}}
	ctx := context.Background()
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kubetest.DeleteNode(ctx, cs, name) })
	return paths
}

type debugResult struct {
	out []byte
	err error
}

// runDebugPod runs d on node and plays its kubelet: waits for the debug pod (read with admin),
// marks it Succeeded and returns what Run returned and the pod as created.
func runDebugPod(t *testing.T, d *DebugPod, admin kubernetes.Interface, node string) (debugResult, *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	done := make(chan debugResult, 1)
	go func() {
		out, err := d.Run(ctx, Node{Name: node, IP: "127.0.0.1"}, []string{DebugBinary, "collect", "node", "--node-name", node})
		done <- debugResult{out, err}
	}()
	var pod *corev1.Pod
	deadline := time.Now().Add(20 * time.Second)
	for pod == nil {
		l, err := admin.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: DebugLabel + "=true", FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) == 1 {
			pod = &l.Items[0]
			continue
		}
		select {
		case r := <-done:
			t.Fatalf("Run returned before its pod was seen: %q, %v", r.out, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no debug pod created within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	pod.Status.Phase = corev1.PodSucceeded
	if _, err := admin.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		return r, pod
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of the pod finishing")
	}
	return debugResult{}, nil
}

type recordingExecutor struct{}

func (recordingExecutor) Stream(remotecommand.StreamOptions) error { return nil }
func (e recordingExecutor) StreamWithContext(_ context.Context, o remotecommand.StreamOptions) error {
	_, err := o.Stdout.Write([]byte("ok\n"))
	return err
}

// TestAgent finds the agent pod through the real API server and checks the exec request it sends
// (the stream itself needs a kubelet: see the report's gaps).
func TestAgent(t *testing.T) {
	srv := kubetest.Get(t)
	kubetest.Objects(t, srv.Client(), []kubetest.NodeSpec{{Name: "agt-a", InternalIP: "10.95.0.1"}, {Name: "agt-b", InternalIP: "10.95.0.2"}},
		[]kubetest.PodSpec{
			{Namespace: "kube-system", Name: "ovs-node-a", Node: "agt-a", IP: "10.95.0.1", HostNetwork: true, Labels: map[string]string{"app": "ovs-node"}},
			{Namespace: "kube-system", Name: "ovs-node-b", Node: "agt-b", IP: "10.95.0.2", HostNetwork: true, Labels: map[string]string{"app": "ovs-node"}},
			{Namespace: "kube-system", Name: "other-b", Node: "agt-b", IP: "10.95.0.2", HostNetwork: true, Labels: map[string]string{"app": "other"}},
		})
	a, err := NewAgent(kubeclientFor(t, srv), srv.Config(), "app=ovs-node:openvswitch")
	if err != nil {
		t.Fatal(err)
	}
	var got *url.URL
	a.exec = func(cfg *rest.Config, method string, r *rest.Request) (remotecommand.Executor, error) {
		got = r.URL()
		if method != "POST" {
			t.Errorf("method %s", method)
		}
		return recordingExecutor{}, nil
	}
	out, err := a.Run(context.Background(), Node{Name: "agt-b"}, []string{"ovs-vsctl", "--format=json", "list", "Bridge"})
	if err != nil || string(out) != "ok\n" {
		t.Fatalf("Run = %q, %v", out, err)
	}
	if got.Path != "/api/v1/namespaces/kube-system/pods/ovs-node-b/exec" ||
		got.Query().Get("container") != "openvswitch" || strings.Join(got.Query()["command"], " ") != "ovs-vsctl --format=json list Bridge" ||
		got.Query().Get("stdout") != "true" || got.Query().Get("stderr") != "true" || got.Query().Get("stdin") != "" || got.Query().Get("tty") != "" {
		t.Errorf("exec request %s", got)
	}
	_, err = a.Run(context.Background(), Node{Name: "agt-none"}, []string{"ip"})
	if err == nil || !strings.HasPrefix(err.Error(), "no running pod matches app=ovs-node on node agt-none") {
		t.Errorf("no agent pod: %v", err)
	}
	if _, err := NewAgent(kubeclientFor(t, srv), srv.Config(), "app in (:x"); err == nil {
		t.Error("bad selector accepted")
	}
}

// kubeclientFor is the runners' API client on the test server.
func kubeclientFor(t *testing.T, srv *kubetest.Server) *kubeclient.Client {
	t.Helper()
	c, err := kubeclient.NewForConfig(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
