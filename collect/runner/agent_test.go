package runner

import (
	"errors"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestExecErr: an exec that fails names the pod, container and node and keeps the cause; a refused
// one names the missing right instead.
func TestExecErr(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "ovs-node-b"}}
	err := execErr(p, "openvswitch", Node{Name: "agt-b"}, syscall.ECONNRESET)
	if want := "exec in kube-system/ovs-node-b (openvswitch) on agt-b: " + syscall.ECONNRESET.Error(); err == nil || err.Error() != want || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("execErr = %v, want %q wrapping the cause", err, want)
	}
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods/exec"}, "ovs-node-b", errors.New("no"))
	err = execErr(p, "openvswitch", Node{Name: "agt-b"}, forbidden)
	if want := "exec in kube-system/ovs-node-b (openvswitch) on agt-b: forbidden: your user may not create pods/exec in namespace kube-system (RBAC); bind the Role in deploy/rbac-node-agent.yaml there, or check with `kubectl auth can-i create pods/exec -n kube-system`"; err == nil || err.Error() != want {
		t.Errorf("execErr = %v, want %q", err, want)
	}
}
