package runner

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DebugBinary is where deploy/Dockerfile puts kubectl-packetwalk in the debug image.
const DebugBinary = "/kubectl-packetwalk"

// DebugLabel marks the pods the debug runner creates (and only those).
const DebugLabel = "packetwalk.io/debug"

// DebugPod runs argv as the command of an ephemeral privileged pod bound to the node, with the
// node's network and PID namespaces and its /var/run/netns and OVS run directories; it waits for the
// pod to finish, reads its log as the output and deletes the pod, whatever happened.
type DebugPod struct {
	// Label names the runner in messages (the caller's setting); "debug pods of" if empty.
	Label     string
	cs        *kubeclient.Client
	namespace string
	image     string
	// Poll is the status poll interval; Timeout bounds one run (pull + collect).
	Poll    time.Duration
	Timeout time.Duration
}

// NewDebugPod returns the runner through debug pods of image, created in namespace.
func NewDebugPod(cs *kubeclient.Client, namespace, image string) *DebugPod {
	return &DebugPod{cs: cs, namespace: namespace, image: image, Poll: 500 * time.Millisecond, Timeout: 3 * time.Minute}
}

// String names the runner in messages: its Label (the caller's setting) and the image.
func (d *DebugPod) String() string { return cmp.Or(d.Label, "debug pods of") + " " + d.image }

// PodSpec is the pod that runs argv on node.
func (d *DebugPod) PodSpec(node Node, argv []string) *corev1.Pod {
	yes, zero := true, int64(0)
	hostDir := func(name, path string) (corev1.Volume, corev1.VolumeMount) {
		t := corev1.HostPathDirectoryOrCreate
		if name == "netns" {
			t = corev1.HostPathDirectory
		}
		prop := corev1.MountPropagationHostToContainer
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &t}}},
			corev1.VolumeMount{Name: name, MountPath: path, ReadOnly: true, MountPropagation: &prop}
	}
	var vols []corev1.Volume
	var mounts []corev1.VolumeMount
	for _, v := range [][2]string{{"netns", "/var/run/netns"}, {"ovs", "/var/run/openvswitch"}} {
		vol, m := hostDir(v[0], v[1])
		vols, mounts = append(vols, vol), append(mounts, m)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      debugPodName(),
			Namespace: d.namespace,
			Labels:    map[string]string{DebugLabel: "true"},
		},
		Spec: corev1.PodSpec{
			NodeName:                      node.Name,
			HostNetwork:                   true,
			HostPID:                       true,
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &zero,
			AutomountServiceAccountToken:  new(bool),
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Volumes:                       vols,
			Containers: []corev1.Container{{
				Name:            "packetwalk",
				Image:           d.image,
				Command:         argv,
				SecurityContext: &corev1.SecurityContext{Privileged: &yes},
				VolumeMounts:    mounts,
			}},
		},
	}
}

// Run creates the pod, waits for it to finish, returns its log and deletes it. A pod that could not
// be deleted is an error naming it, even when its log was read: a privileged pod must not be left.
func (d *DebugPod) Run(ctx context.Context, node Node, argv []string) (out []byte, err error) {
	pods := d.cs.CoreV1().Pods(d.namespace)
	p := d.PodSpec(node, argv)
	_, err = pods.Create(ctx, p, metav1.CreateOptions{})
	if err != nil && ctx.Err() == nil {
		return nil, d.explain(err, "create", "pods", "create debug pod on "+node.Name)
	}
	// Interrupted during the create, the pod may exist all the same: its name is ours, delete it.
	defer func() {
		// A fresh context: the pod is removed even when ctx was cancelled.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		zero := int64(0)
		derr := pods.Delete(cctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if derr != nil && !apierrors.IsNotFound(derr) {
			derr = d.explain(derr, "delete", "pods", fmt.Sprintf("debug pod %s/%s on %s not deleted (delete it with `kubectl delete pod -n %s %s`)", d.namespace, p.Name, node.Name, d.namespace, p.Name))
			out, err = nil, errors.Join(err, derr)
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("create debug pod on %s: %w", node.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	for {
		cur, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return nil, d.explain(err, "get", "pods", fmt.Sprintf("debug pod %s/%s on %s", d.namespace, p.Name, node.Name))
		}
		switch cur.Status.Phase {
		case corev1.PodSucceeded, corev1.PodFailed:
			limit := MaxOutput + 1
			out, lerr := pods.GetLogs(p.Name, &corev1.PodLogOptions{Container: "packetwalk", LimitBytes: &limit}).DoRaw(ctx)
			if lerr != nil {
				return nil, d.explain(lerr, "get", "pods/log", fmt.Sprintf("log of debug pod %s/%s", d.namespace, p.Name))
			}
			if int64(len(out)) > MaxOutput {
				return nil, fmt.Errorf("debug pod %s/%s on %s printed more than %d MiB: not read", d.namespace, p.Name, node.Name, MaxOutput>>20)
			}
			if cur.Status.Phase == corev1.PodFailed {
				code, why := terminated(cur)
				if l := lastLine(string(out)); l != "" {
					why = l
				}
				return nil, &ExitError{Argv: argv, Code: code, Stderr: why}
			}
			return out, nil
		}
		if why := stuck(cur); why != "" {
			return nil, fmt.Errorf("debug pod %s/%s on %s: %s", d.namespace, p.Name, node.Name, why)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("debug pod %s/%s on %s did not finish in %s (phase %s): is the node up and the image %s pullable?", d.namespace, p.Name, node.Name, d.Timeout, cur.Status.Phase, d.image)
		case <-time.After(d.Poll):
		}
	}
}

// debugPodName is packetwalk-debug- and 10 random characters, chosen here rather than by the API
// server (generateName) so that a create cut short by Ctrl-C still knows what to delete.
func debugPodName() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // the API server's generateName alphabet
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "packetwalk-debug-" + string(b)
}

// explain says what a refused request lacks: the verb, the resource and the namespace, and where
// the Role granting them is.
func (d *DebugPod) explain(err error, verb, resource, what string) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%s: forbidden: your user may not %s %s in namespace %s (RBAC); bind the Role in deploy/rbac-debug-pod.yaml there, or check with `kubectl auth can-i %s %s -n %s`",
			what, verb, resource, d.namespace, verb, resource, d.namespace)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// terminated is the container's exit code and the runtime's reason (a container that could not
// start has no log, only this: "StartError: ... no such file or directory").
func terminated(p *corev1.Pod) (int, string) {
	for _, s := range p.Status.ContainerStatuses {
		if t := s.State.Terminated; t != nil {
			why := t.Reason
			if t.Message != "" {
				why += ": " + t.Message
			}
			return int(t.ExitCode), why
		}
	}
	return 1, ""
}

// stuck names a waiting reason that will not resolve by itself (a bad image).
func stuck(p *corev1.Pod) string {
	for _, s := range p.Status.ContainerStatuses {
		if w := s.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError":
				return w.Reason + ": " + w.Message
			}
		}
	}
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
