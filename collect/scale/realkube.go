package scale

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// LoadCluster creates a generated cluster in a real kube-apiserver: its namespaces, and the same
// Node and Pod objects the API test server serves (NodeObject, PodObject), their status set
// through the status subresource as a kubelet would. workers requests run at once.
func LoadCluster(parent context.Context, c kubernetes.Interface, cl trace.Cluster, workers int) error {
	// A group's context ends when its Wait returns: each step derives its own from parent.
	eg, ctx := errgroup.WithContext(parent)
	eg.SetLimit(workers)
	seen := map[string]bool{}
	for _, p := range cl.Pods {
		if seen[p.Namespace] {
			continue
		}
		seen[p.Namespace] = true
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.Namespace}}
		eg.Go(func() error {
			if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create namespace %s: %w", ns.Name, err)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	eg, ctx = errgroup.WithContext(parent)
	eg.SetLimit(workers)
	for _, n := range cl.Nodes {
		want := NodeObject(n)
		eg.Go(func() error {
			obj := want.DeepCopy()
			obj.ObjectMeta = metav1.ObjectMeta{Name: want.Name, Labels: want.Labels}
			got, err := c.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create node %s: %w", want.Name, err)
			}
			got.Status = want.Status
			if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("set status of node %s: %w", want.Name, err)
			}
			return nil
		})
	}
	for _, p := range cl.Pods {
		want := PodObject(p)
		eg.Go(func() error {
			obj := want.DeepCopy()
			obj.ObjectMeta = metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace, Labels: want.Labels, OwnerReferences: want.OwnerReferences}
			// The API server wants a volume's source; the test server's pod names none.
			for i := range obj.Spec.Volumes {
				obj.Spec.Volumes[i].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
			}
			obj.Status = corev1.PodStatus{}
			got, err := c.CoreV1().Pods(p.Namespace).Create(ctx, obj, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create pod %s/%s: %w", p.Namespace, p.Name, err)
			}
			got.Status = want.Status
			if _, err := c.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("set status of pod %s/%s: %w", p.Namespace, p.Name, err)
			}
			return nil
		})
	}
	return eg.Wait()
}

// KubeProxy fronts a real kube-apiserver for the tool: every request waits the injected latency,
// goes to the API server with the proxy's credentials, and is recorded on the timeline.
type KubeProxy struct {
	URL    string
	server *httptest.Server
}

// NewKubeProxy starts a proxy to the API server cfg reaches.
func NewKubeProxy(cfg *rest.Config, latency time.Duration, tl *Timeline) (*KubeProxy, error) {
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = rt
	p := &KubeProxy{server: httptest.NewServer(metered("kube", latency, nil, tl, rp))}
	p.URL = p.server.URL
	return p, nil
}

// Close stops the proxy.
func (p *KubeProxy) Close() { p.server.Close() }

// Kubeconfig points a client at the proxy (which authenticates to the API server itself).
func (p *KubeProxy) Kubeconfig() []byte { return kubeconfig(p.URL, "{}") }
