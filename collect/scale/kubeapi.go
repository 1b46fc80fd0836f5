package scale

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// KubeOptions configure a KubeServer.
type KubeOptions struct {
	// Latency is added to every request before it is answered.
	Latency time.Duration
	// Timeline, when set, records every request.
	Timeline *Timeline
	// MaxLimit caps a LIST page as the real API server's watch cache does not (it honours any
	// limit); 0 means no cap.
	MaxLimit int
}

// KubeServer is a Kubernetes API test server holding a generated cluster: enough of the core/v1
// API for client-go's typed CoreV1 client (GET and LIST of pods and nodes, fieldSelector on
// metadata.name, metadata.namespace, spec.nodeName and status.podIP, labelSelector, limit and
// continue), JSON only, read-only. Objects are encoded once, so a 150,000-pod cluster answers a
// GET in microseconds: the time a request takes is the injected latency.
type KubeServer struct {
	*httptest.Server
	opts KubeOptions

	nodes     []object // sorted by name
	pods      []object // sorted by namespace/name
	nodeByKey map[string]int
	podByKey  map[string]int
	podsByIP  map[string][]int
	podsOn    map[string][]int
	// services and slices are the Services and EndpointSlices (kubeservice.go).
	services []object
	slices   []object
	svcByKey map[string]int

	done chan struct{}
}

type object struct {
	key       string // name, or namespace/name
	namespace string
	name      string
	labels    labels.Set
	fields    fields.Set
	raw       []byte
}

// NewKubeServer starts a server for c on a loopback port (plain HTTP, no authentication).
func NewKubeServer(c trace.Cluster, o KubeOptions) *KubeServer {
	s := &KubeServer{opts: o, nodeByKey: map[string]int{}, podByKey: map[string]int{}, podsByIP: map[string][]int{}, podsOn: map[string][]int{}, done: make(chan struct{})}
	for _, n := range c.Nodes {
		obj := NodeObject(n)
		raw, _ := json.Marshal(obj)
		s.nodes = append(s.nodes, object{key: n.Name, name: n.Name, labels: obj.Labels, fields: fields.Set{"metadata.name": n.Name}, raw: raw})
	}
	for _, p := range c.Pods {
		obj := PodObject(p)
		raw, _ := json.Marshal(obj)
		f := fields.Set{"metadata.name": p.Name, "metadata.namespace": p.Namespace, "spec.nodeName": p.Node, "status.podIP": obj.Status.PodIP, "status.phase": p.Phase}
		s.pods = append(s.pods, object{key: p.Namespace + "/" + p.Name, namespace: p.Namespace, name: p.Name, labels: obj.Labels, fields: f, raw: raw})
	}
	sort.Slice(s.nodes, func(i, j int) bool { return s.nodes[i].key < s.nodes[j].key })
	sort.Slice(s.pods, func(i, j int) bool { return s.pods[i].key < s.pods[j].key })
	for i, n := range s.nodes {
		s.nodeByKey[n.key] = i
	}
	for i, p := range s.pods {
		s.podByKey[p.key] = i
		if ip := p.fields["status.podIP"]; ip != "" {
			s.podsByIP[ip] = append(s.podsByIP[ip], i)
		}
		s.podsOn[p.fields["spec.nodeName"]] = append(s.podsOn[p.fields["spec.nodeName"]], i)
	}
	s.addServices(c)
	s.Server = httptest.NewServer(metered("kube", o.Latency, s.done, o.Timeline, http.HandlerFunc(s.serve)))
	return s
}

// Close stops the server, cutting short answers held back by latency.
func (s *KubeServer) Close() {
	close(s.done)
	s.Server.Close()
}

// Kubeconfig returns a kubeconfig for the server.
func (s *KubeServer) Kubeconfig() []byte { return kubeconfig(s.URL, "{token: scale-token}") }

// kubeconfig is a kubeconfig for the harness's API at server, with user's credentials (YAML).
func kubeconfig(server, user string) []byte {
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: scale
  cluster:
    server: %s
users:
- name: scale
  user: %s
contexts:
- name: scale
  context: {cluster: scale, user: scale, namespace: default}
current-context: scale
`, server, user))
}

// NodeObject is the Node the server holds for n: Ready, its addresses, pod CIDRs, and the
// capacity, node info and images a kubelet reports, so that bytes per node are realistic.
func NodeObject(n trace.Node) *corev1.Node {
	node := &corev1.Node{
		TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, UID: types.UID("uid-" + n.Name), ResourceVersion: "1", CreationTimestamp: metav1.Unix(1700000000, 0).Rfc3339Copy(),
			Labels: map[string]string{"kubernetes.io/hostname": n.Name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "m5.xlarge"}},
		Spec: corev1.NodeSpec{PodCIDRs: n.PodCIDRs, ProviderID: "vsphere://" + n.Name},
	}
	if len(n.PodCIDRs) > 0 {
		node.Spec.PodCIDR = n.PodCIDRs[0]
	}
	for _, a := range n.Addresses {
		node.Status.Addresses = append(node.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeAddressType(a.Type), Address: a.Address})
	}
	node.Status.Addresses = append(node.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: n.Name})
	ready := corev1.ConditionTrue
	if n.Ready != nil && !*n.Ready {
		ready = corev1.ConditionFalse
	}
	at := metav1.Unix(1700000000, 0)
	for _, c := range []struct {
		t corev1.NodeConditionType
		s corev1.ConditionStatus
		r string
	}{{corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory"}, {corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure"},
		{corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID"}, {corev1.NodeReady, ready, "KubeletReady"}} {
		node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{Type: c.t, Status: c.s, Reason: c.r, Message: "kubelet says " + c.r, LastHeartbeatTime: at, LastTransitionTime: at})
	}
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("100Gi")}
	node.Status.Capacity, node.Status.Allocatable = rl, rl
	node.Status.NodeInfo = corev1.NodeSystemInfo{MachineID: "m-" + n.Name, SystemUUID: "u-" + n.Name, BootID: "b-" + n.Name, KernelVersion: "6.1.0-18-amd64",
		OSImage: "Debian GNU/Linux 12 (bookworm)", ContainerRuntimeVersion: "containerd://1.7.13", KubeletVersion: "v1.34.4", OperatingSystem: "linux", Architecture: "amd64"}
	for i := 0; i < 8; i++ {
		node.Status.Images = append(node.Status.Images, corev1.ContainerImage{Names: []string{fmt.Sprintf("registry.example.com/app/image-%d@sha256:%064d", i, i), fmt.Sprintf("registry.example.com/app/image-%d:v1.%d", i, i)}, SizeBytes: int64(10000000 * (i + 1))})
	}
	return node
}

// PodObject is the Pod the server holds for p: one container, running, with the status a kubelet
// writes.
func PodObject(p trace.Pod) *corev1.Pod {
	at := metav1.Unix(1700000000, 0)
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: types.UID("uid-" + p.Namespace + "-" + p.Name), ResourceVersion: "1",
			CreationTimestamp: at, Labels: p.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: p.Name + "-rs", UID: "uid-rs"}}},
		Spec: corev1.PodSpec{NodeName: p.Node, HostNetwork: p.HostNetwork, ServiceAccountName: "default", RestartPolicy: corev1.RestartPolicyAlways,
			Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app/image-1:v1.1",
				Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Resources:    corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
				VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}}},
			Volumes: []corev1.Volume{{Name: "kube-api-access"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPhase(p.Phase), StartTime: &at},
	}
	for _, ip := range p.IPs {
		pod.Status.PodIPs = append(pod.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(p.IPs) > 0 {
		pod.Status.PodIP = p.IPs[0]
	}
	for _, c := range []corev1.PodConditionType{corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled} {
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue, LastTransitionTime: at})
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true, Image: "registry.example.com/app/image-1:v1.1",
		ImageID: "registry.example.com/app/image-1@sha256:0000", ContainerID: "containerd://" + p.Namespace + p.Name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at}}}}
	return pod
}

func (s *KubeServer) serve(w http.ResponseWriter, r *http.Request) {
	code, body := s.route(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func status(code int, reason metav1.StatusReason, msg string) (int, []byte) {
	b, _ := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code)})
	return code, b
}

// route answers GET /api/v1/nodes[/NAME], /api/v1/pods, /api/v1/namespaces/NS/pods[/NAME].
func (s *KubeServer) route(r *http.Request) (int, []byte) {
	if r.Method != http.MethodGet {
		return status(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, "the scale API server is read-only")
	}
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(seg) >= 4 && seg[0] == "apis" {
		if code, b, ok := s.routeServices(r, seg[1]+"/"+seg[2], seg[3:]); ok {
			return code, b
		}
	}
	if len(seg) < 3 || seg[0] != "api" || seg[1] != "v1" {
		return status(http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
	}
	seg = seg[2:]
	if code, b, ok := s.routeServices(r, "", seg); ok {
		return code, b
	}
	switch {
	case len(seg) == 1 && seg[0] == "nodes":
		return s.list(r, "v1", "NodeList", s.nodes, nil, false, "")
	case len(seg) == 2 && seg[0] == "nodes":
		if i, ok := s.nodeByKey[seg[1]]; ok {
			return http.StatusOK, s.nodes[i].raw
		}
		return status(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("nodes %q not found", seg[1]))
	case len(seg) == 1 && seg[0] == "pods":
		idx, ok := s.podIndex(r)
		return s.list(r, "v1", "PodList", s.pods, idx, ok, "")
	case len(seg) == 3 && seg[0] == "namespaces" && seg[2] == "pods":
		idx, ok := s.podIndex(r)
		return s.list(r, "v1", "PodList", s.pods, idx, ok, seg[1])
	case len(seg) == 4 && seg[0] == "namespaces" && seg[2] == "pods":
		if i, ok := s.podByKey[seg[1]+"/"+seg[3]]; ok {
			return http.StatusOK, s.pods[i].raw
		}
		return status(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("pods %q not found", seg[3]))
	}
	return status(http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
}

// podIndex narrows a pod LIST by the indexed field selectors (as the watch cache's indexes do).
func (s *KubeServer) podIndex(r *http.Request) ([]int, bool) {
	sel, err := fields.ParseSelector(r.URL.Query().Get("fieldSelector"))
	if err != nil {
		return nil, false
	}
	if v, ok := sel.RequiresExactMatch("status.podIP"); ok {
		return s.podsByIP[v], true
	}
	if v, ok := sel.RequiresExactMatch("spec.nodeName"); ok {
		return s.podsOn[v], true
	}
	return nil, false
}

// list answers a LIST: selectors, then limit/continue (the continue token is the next offset).
func (s *KubeServer) list(r *http.Request, apiVersion, kind string, all []object, index []int, indexed bool, ns string) (int, []byte) {
	q := r.URL.Query()
	fsel, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return status(http.StatusBadRequest, metav1.StatusReasonBadRequest, "invalid fieldSelector: "+err.Error())
	}
	lsel, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return status(http.StatusBadRequest, metav1.StatusReasonBadRequest, "invalid labelSelector: "+err.Error())
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if s.opts.MaxLimit > 0 && (limit <= 0 || limit > s.opts.MaxLimit) {
		limit = s.opts.MaxLimit
	}
	off := 0
	if c := q.Get("continue"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			return status(http.StatusBadRequest, metav1.StatusReasonBadRequest, "invalid continue token")
		}
		off = n
	}
	// Candidates in key order: the index when a selector has one, else every object.
	n := len(all)
	at := func(i int) *object { return &all[i] }
	if indexed {
		n = len(index)
		at = func(i int) *object { return &all[index[i]] }
	}
	var items [][]byte
	next := ""
	size := 0
	for i := off; i < n; i++ {
		o := at(i)
		if ns != "" && o.namespace != ns || !fsel.Matches(o.fields) || !lsel.Matches(o.labels) {
			continue
		}
		if limit > 0 && len(items) == limit {
			next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(i)))
			break
		}
		items = append(items, o.raw)
		size += len(o.raw) + 1
	}
	meta := `{"resourceVersion":"1"`
	if next != "" {
		meta += `,"continue":"` + next + `"`
	}
	meta += "}"
	b := make([]byte, 0, size+128)
	b = append(b, `{"kind":"`+kind+`","apiVersion":"`+apiVersion+`","metadata":`+meta+`,"items":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, "]}"...)
	return http.StatusOK, b
}
