package kubetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NodeSpec describes a node to create.
type NodeSpec struct {
	Name       string
	InternalIP string
	PodCIDR    string
	// NotReady sets the Ready condition to False (default True).
	NotReady bool
	Labels   map[string]string
}

// PodSpec describes a pod to create on a node.
type PodSpec struct {
	Namespace, Name, Node string
	// IP is set through the status subresource; "" leaves the pod without an IP (Pending).
	IP          string
	HostNetwork bool
	Labels      map[string]string
}

// NodeObject builds the Node object for n (status included: node status is kept on create).
func NodeObject(n NodeSpec) *corev1.Node {
	ready := corev1.ConditionTrue
	if n.NotReady {
		ready = corev1.ConditionFalse
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: map[string]string{"kubernetes.io/hostname": n.Name}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "Test"}},
		},
	}
	for k, v := range n.Labels {
		node.Labels[k] = v
	}
	if n.PodCIDR != "" {
		node.Spec.PodCIDR, node.Spec.PodCIDRs = n.PodCIDR, []string{n.PodCIDR}
	}
	if n.InternalIP != "" {
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.InternalIP}, {Type: corev1.NodeHostName, Address: n.Name}}
	}
	return node
}

// CreateNode creates a node (and sets its status when the API server dropped it on create).
func CreateNode(ctx context.Context, c kubernetes.Interface, n NodeSpec) error {
	want := NodeObject(n)
	got, err := c.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create node %s: %w", n.Name, err)
	}
	if len(got.Status.Conditions) == 0 && len(want.Status.Conditions) > 0 {
		got.Status = want.Status
		if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("set status of node %s: %w", n.Name, err)
		}
	}
	return nil
}

// CreatePod creates a pod bound to p.Node and, when p.IP is set, marks it Running with that IP
// through the status subresource (there is no kubelet to do it).
func CreatePod(ctx context.Context, c kubernetes.Interface, p PodSpec) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels},
		Spec: corev1.PodSpec{
			NodeName:    p.Node,
			HostNetwork: p.HostNetwork,
			Containers:  []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	got, err := c.CoreV1().Pods(p.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	if p.IP == "" {
		return nil
	}
	got.Status.Phase = corev1.PodRunning
	got.Status.PodIP, got.Status.PodIPs = p.IP, []corev1.PodIP{{IP: p.IP}}
	if p.HostNetwork {
		got.Status.HostIP, got.Status.HostIPs = p.IP, []corev1.HostIP{{IP: p.IP}}
	}
	if _, err := c.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("set status of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// EnsureNamespace creates a namespace unless it exists.
func EnsureNamespace(ctx context.Context, c kubernetes.Interface, name string) error {
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// DeletePod deletes a pod at once (grace period 0: no kubelet would finish a graceful delete).
func DeletePod(ctx context.Context, c kubernetes.Interface, ns, name string) error {
	zero := int64(0)
	err := c.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// DeleteNode deletes a node.
func DeleteNode(ctx context.Context, c kubernetes.Interface, name string) error {
	err := c.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Objects creates nodes and pods and registers their deletion with t.Cleanup, so a test leaves
// the shared server as it found it.
func Objects(t testing.TB, c kubernetes.Interface, nodes []NodeSpec, pods []PodSpec) {
	t.Helper()
	ctx := context.Background()
	for _, n := range nodes {
		if err := CreateNode(ctx, c, n); err != nil {
			t.Fatal(err)
		}
		name := n.Name
		t.Cleanup(func() {
			if err := DeleteNode(ctx, c, name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}
	for _, p := range pods {
		if err := EnsureNamespace(ctx, c, p.Namespace); err != nil {
			t.Fatal(err)
		}
		if err := CreatePod(ctx, c, p); err != nil {
			t.Fatal(err)
		}
		ns, name := p.Namespace, p.Name
		t.Cleanup(func() {
			if err := DeletePod(ctx, c, ns, name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}
}

// Load creates nodes and pods with workers concurrent requests (for scale tests; no cleanup:
// use a server of its own). It returns the first error.
func Load(ctx context.Context, c kubernetes.Interface, workers int, nodes []NodeSpec, pods []PodSpec) error {
	ns := map[string]bool{}
	for _, p := range pods {
		if !ns[p.Namespace] {
			ns[p.Namespace] = true
			if err := EnsureNamespace(ctx, c, p.Namespace); err != nil {
				return err
			}
		}
	}
	run := func(n int, do func(i int) error) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var next atomic.Int64
		var once sync.Once
		var first error
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= n || ctx.Err() != nil {
						return
					}
					if err := do(i); err != nil {
						once.Do(func() { first = err; cancel() })
						return
					}
				}
			}()
		}
		wg.Wait()
		return first
	}
	if err := run(len(nodes), func(i int) error { return CreateNode(ctx, c, nodes[i]) }); err != nil {
		return err
	}
	return run(len(pods), func(i int) error { return CreatePod(ctx, c, pods[i]) })
}

// WaitAllowed waits until the API server lets user do verb on resource (core group) in namespace
// ns, asked by SubjectAccessReview: RBAC objects just created take a moment to reach the
// authorizer's cache, and a request made before that is refused.
func WaitAllowed(ctx context.Context, c kubernetes.Interface, user, ns, verb, resource string) error {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Resource: resource}}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := c.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if r.Status.Allowed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("user %s may still not %s %s in %s after 20 s: %s", user, verb, resource, ns, r.Status.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
