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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	port, paths := fakeKubelet(t, `{"apiVersion":"packetwalk/v1"}`)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "dbg-node"}, Status: corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}},
	}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kubetest.DeleteNode(ctx, cs, "dbg-node") })

	d := NewDebugPod(kubeclientFor(t, srv), "default", "registry.example/packetwalk:dev")
	d.Poll = 50 * time.Millisecond
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := d.Run(ctx, Node{Name: "dbg-node", IP: "127.0.0.1"}, []string{DebugBinary, "collect", "node", "--node-name", "dbg-node"})
		done <- result{out, err}
	}()

	var pod *corev1.Pod
	deadline := time.Now().Add(20 * time.Second)
	for pod == nil {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: DebugLabel + "=true", FieldSelector: "spec.nodeName=dbg-node"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) == 1 {
			pod = &l.Items[0]
		} else if time.Now().After(deadline) {
			t.Fatal("no debug pod created within 20s")
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	c := pod.Spec.Containers[0]
	if !pod.Spec.HostNetwork || !pod.Spec.HostPID || c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged ||
		pod.Spec.RestartPolicy != corev1.RestartPolicyNever || c.Image != "registry.example/packetwalk:dev" ||
		strings.Join(c.Command, " ") != "/kubectl-packetwalk collect node --node-name dbg-node" || len(c.VolumeMounts) != 2 || !c.VolumeMounts[0].ReadOnly {
		t.Errorf("debug pod spec: %+v", pod.Spec)
	}
	pod.Status.Phase = corev1.PodSucceeded
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of the pod finishing")
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

type recordingExecutor struct{ url *url.URL }

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
