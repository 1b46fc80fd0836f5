// Package kubeclient is the part of the Kubernetes API the plugin uses: pods, nodes and Services
// (core/v1) and EndpointSlices (discovery/v1), with the call shapes of client-go's clientset. The
// clientset registers and links every API group (two thirds of the binary, and most of its
// start-up); this client knows these two groups only and asks for the same requests, protobuf
// first as the clientset does.
package kubeclient

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// registry is the two groups' scheme and codecs, made at the first client: a run that reads no
// API (collect node on a node, --snapshot) does not pay for it.
var registry = sync.OnceValue(func() *schemes {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, discoveryv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // the generated registrations cannot fail
		}
	}
	return &schemes{scheme: s, codecs: serializer.NewCodecFactory(s), params: runtime.NewParameterCodec(s)}
})

type schemes struct {
	scheme *runtime.Scheme
	codecs serializer.CodecFactory
	params runtime.ParameterCodec
}

// ParameterCodec encodes the options of a request (list, get, exec, log) as query parameters.
func ParameterCodec() runtime.ParameterCodec { return registry().params }

// Client reaches core/v1 and discovery/v1 through one HTTP client and one rate limiter.
type Client struct {
	core, discovery rest.Interface
}

// NewForConfig is kubernetes.NewForConfig for the two groups.
func NewForConfig(c *rest.Config) (*Client, error) {
	cfg := *c
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	hc, err := rest.HTTPClientFor(&cfg)
	if err != nil {
		return nil, err
	}
	hc.Transport = newOneDial(hc.Transport) // outside the auth wrappers: see oneDial
	if cfg.RateLimiter == nil && cfg.QPS > 0 {
		if cfg.Burst <= 0 {
			return nil, fmt.Errorf("burst is required to be greater than 0 when RateLimiter is not set and QPS is set to greater than 0")
		}
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	core, err := restFor(cfg, hc, corev1.SchemeGroupVersion, "/api")
	if err != nil {
		return nil, err
	}
	disc, err := restFor(cfg, hc, discoveryv1.SchemeGroupVersion, "/apis")
	if err != nil {
		return nil, err
	}
	return &Client{core: core, discovery: disc}, nil
}

func restFor(cfg rest.Config, hc *http.Client, gv schema.GroupVersion, path string) (*rest.RESTClient, error) {
	cfg.GroupVersion = &gv
	cfg.APIPath = path
	r := registry()
	cfg.NegotiatedSerializer = rest.CodecFactoryForGeneratedClient(r.scheme, r.codecs).WithoutConversion()
	return rest.RESTClientForConfigAndClient(&cfg, hc)
}

// CoreV1 is the core group.
func (c *Client) CoreV1() CoreV1 { return CoreV1{c.core} }

// DiscoveryV1 is the discovery.k8s.io group.
func (c *Client) DiscoveryV1() DiscoveryV1 { return DiscoveryV1{c.discovery} }

// CoreV1 reads core/v1 objects.
type CoreV1 struct{ rc rest.Interface }

// RESTClient is the group's REST client (for subresources such as exec).
func (c CoreV1) RESTClient() rest.Interface { return c.rc }

// Pods of a namespace ("" for all).
func (c CoreV1) Pods(ns string) Pods { return Pods{resource{c.rc, ns, "pods"}} }

// Nodes of the cluster.
func (c CoreV1) Nodes() Nodes { return Nodes{resource{c.rc, "", "nodes"}} }

// Services of a namespace ("" for all).
func (c CoreV1) Services(ns string) Services { return Services{resource{c.rc, ns, "services"}} }

// DiscoveryV1 reads discovery.k8s.io/v1 objects.
type DiscoveryV1 struct{ rc rest.Interface }

// EndpointSlices of a namespace ("" for all).
func (c DiscoveryV1) EndpointSlices(ns string) EndpointSlices {
	return EndpointSlices{resource{c.rc, ns, "endpointslices"}}
}

// object is *T as a runtime.Object.
type object[T any] interface {
	*T
	runtime.Object
}

// resource is one resource of a group, in a namespace or cluster-wide.
type resource struct {
	rc       rest.Interface
	ns, name string
}

func get[T any, PT object[T]](ctx context.Context, r resource, name string, o metav1.GetOptions) (*T, error) {
	out := PT(new(T))
	err := r.rc.Get().UseProtobufAsDefault().NamespaceIfScoped(r.ns, r.ns != "").Resource(r.name).Name(name).
		VersionedParams(&o, ParameterCodec()).Do(ctx).Into(out)
	return (*T)(out), err
}

func list[L any, PL object[L]](ctx context.Context, r resource, o metav1.ListOptions) (*L, error) {
	out := PL(new(L))
	err := r.rc.Get().UseProtobufAsDefault().NamespaceIfScoped(r.ns, r.ns != "").Resource(r.name).
		VersionedParams(&o, ParameterCodec()).Do(ctx).Into(out)
	return (*L)(out), err
}

// Nodes gets and lists nodes.
type Nodes struct{ resource }

// Get reads one node.
func (r Nodes) Get(ctx context.Context, name string, o metav1.GetOptions) (*corev1.Node, error) {
	return get[corev1.Node](ctx, r.resource, name, o)
}

// List reads the nodes the options select.
func (r Nodes) List(ctx context.Context, o metav1.ListOptions) (*corev1.NodeList, error) {
	return list[corev1.NodeList](ctx, r.resource, o)
}

// Services gets and lists Services.
type Services struct{ resource }

// Get reads one Service.
func (r Services) Get(ctx context.Context, name string, o metav1.GetOptions) (*corev1.Service, error) {
	return get[corev1.Service](ctx, r.resource, name, o)
}

// List reads the Services the options select.
func (r Services) List(ctx context.Context, o metav1.ListOptions) (*corev1.ServiceList, error) {
	return list[corev1.ServiceList](ctx, r.resource, o)
}

// EndpointSlices lists EndpointSlices.
type EndpointSlices struct{ resource }

// List reads the EndpointSlices the options select.
func (r EndpointSlices) List(ctx context.Context, o metav1.ListOptions) (*discoveryv1.EndpointSliceList, error) {
	return list[discoveryv1.EndpointSliceList](ctx, r.resource, o)
}

// Pods gets, lists, creates and deletes pods, and reads their logs.
type Pods struct{ resource }

// Get reads one pod.
func (p Pods) Get(ctx context.Context, name string, o metav1.GetOptions) (*corev1.Pod, error) {
	return get[corev1.Pod](ctx, p.resource, name, o)
}

// List reads the pods the options select.
func (p Pods) List(ctx context.Context, o metav1.ListOptions) (*corev1.PodList, error) {
	return list[corev1.PodList](ctx, p.resource, o)
}

// Create makes a pod (the debug pod runner's, the only write).
func (p Pods) Create(ctx context.Context, pod *corev1.Pod, o metav1.CreateOptions) (*corev1.Pod, error) {
	out := &corev1.Pod{}
	err := p.rc.Post().UseProtobufAsDefault().Namespace(p.ns).Resource("pods").
		VersionedParams(&o, ParameterCodec()).Body(pod).Do(ctx).Into(out)
	return out, err
}

// Delete removes a pod.
func (p Pods) Delete(ctx context.Context, name string, o metav1.DeleteOptions) error {
	return p.rc.Delete().UseProtobufAsDefault().Namespace(p.ns).Resource("pods").Name(name).Body(&o).Do(ctx).Error()
}

// GetLogs is the request for a pod's log.
func (p Pods) GetLogs(name string, o *corev1.PodLogOptions) *rest.Request {
	return p.rc.Get().Namespace(p.ns).Name(name).Resource("pods").SubResource("log").VersionedParams(o, ParameterCodec())
}

// GetPod reads one pod.
func (c *Client) GetPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
}

// ListPods lists the pods of a namespace ("" for all) the options select.
func (c *Client) ListPods(ctx context.Context, ns string, o metav1.ListOptions) (*corev1.PodList, error) {
	return c.CoreV1().Pods(ns).List(ctx, o)
}

// GetNode reads one node.
func (c *Client) GetNode(ctx context.Context, name string) (*corev1.Node, error) {
	return c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
}

// ListNodes lists the nodes the options select.
func (c *Client) ListNodes(ctx context.Context, o metav1.ListOptions) (*corev1.NodeList, error) {
	return c.CoreV1().Nodes().List(ctx, o)
}

// GetService reads one Service.
func (c *Client) GetService(ctx context.Context, ns, name string) (*corev1.Service, error) {
	return c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
}

// ListServices lists the Services of a namespace ("" for all) the options select.
func (c *Client) ListServices(ctx context.Context, ns string, o metav1.ListOptions) (*corev1.ServiceList, error) {
	return c.CoreV1().Services(ns).List(ctx, o)
}

// ListEndpointSlices lists the EndpointSlices of a namespace the options select.
func (c *Client) ListEndpointSlices(ctx context.Context, ns string, o metav1.ListOptions) (*discoveryv1.EndpointSliceList, error) {
	return c.DiscoveryV1().EndpointSlices(ns).List(ctx, o)
}
