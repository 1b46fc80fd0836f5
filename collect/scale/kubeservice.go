package scale

import (
	"encoding/json"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// The API test server's Services and EndpointSlices: GET of a Service, LIST of Services by field
// selector (metadata.name, metadata.namespace, spec.clusterIP, spec.type) and LIST of a namespace's
// EndpointSlices by label selector (kubernetes.io/service-name), as the real API server serves them.

// ServiceObject is the Service the server holds for s.
func ServiceObject(s trace.Service) *corev1.Service {
	svc := &corev1.Service{
		TypeMeta: metav1.TypeMeta{Kind: "Service", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, UID: types.UID("uid-svc-" + s.Namespace + "-" + s.Name), ResourceVersion: "1",
			CreationTimestamp: metav1.Unix(1700000000, 0)},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceType(s.Type), ClusterIPs: s.ClusterIPs, Selector: s.Selector, ExternalIPs: s.ExternalIPs,
			SessionAffinity: corev1.ServiceAffinityNone, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}},
	}
	if len(s.ClusterIPs) > 0 {
		svc.Spec.ClusterIP = s.ClusterIPs[0]
	}
	for _, p := range s.Ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: p.Name, Protocol: corev1.Protocol(p.Protocol), Port: int32(p.Port),
			TargetPort: intstr.Parse(p.TargetPort), NodePort: int32(p.NodePort)})
	}
	for _, ip := range s.LoadBalancerIPs {
		svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return svc
}

// EndpointSliceObject is the EndpointSlice the server holds for sl.
func EndpointSliceObject(sl trace.EndpointSlice) *discoveryv1.EndpointSlice {
	out := &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: sl.Name, Namespace: sl.Namespace, ResourceVersion: "1",
			Labels: map[string]string{discoveryv1.LabelServiceName: sl.Service, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
		AddressType: discoveryv1.AddressType(sl.AddressType),
	}
	for _, p := range sl.Ports {
		name, proto, port := p.Name, corev1.Protocol(p.Protocol), int32(p.Port)
		out.Ports = append(out.Ports, discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &port})
	}
	for _, e := range sl.Endpoints {
		ep := discoveryv1.Endpoint{Addresses: e.Addresses, Conditions: discoveryv1.EndpointConditions{Ready: e.Ready, Serving: e.Serving, Terminating: e.Terminating}}
		if e.Node != "" {
			n := e.Node
			ep.NodeName = &n
		}
		if e.Pod != nil {
			ep.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: e.Pod.Namespace, Name: e.Pod.Name}
		}
		out.Endpoints = append(out.Endpoints, ep)
	}
	return out
}

// addServices files c's Services and EndpointSlices.
func (s *KubeServer) addServices(c trace.Cluster) {
	s.svcByKey = map[string]int{}
	for _, v := range c.Services {
		obj := ServiceObject(v)
		raw, _ := json.Marshal(obj)
		f := fields.Set{"metadata.name": v.Name, "metadata.namespace": v.Namespace, "spec.clusterIP": obj.Spec.ClusterIP, "spec.type": string(obj.Spec.Type)}
		s.svcByKey[v.Namespace+"/"+v.Name] = len(s.services)
		s.services = append(s.services, object{key: v.Namespace + "/" + v.Name, namespace: v.Namespace, name: v.Name, fields: f, raw: raw})
	}
	for _, sl := range c.EndpointSlices {
		obj := EndpointSliceObject(sl)
		raw, _ := json.Marshal(obj)
		f := fields.Set{"metadata.name": sl.Name, "metadata.namespace": sl.Namespace}
		s.slices = append(s.slices, object{key: sl.Namespace + "/" + sl.Name, namespace: sl.Namespace, name: sl.Name, labels: labels.Set(obj.Labels), fields: f, raw: raw})
	}
}

// routeServices answers /api/v1/services, /api/v1/namespaces/NS/services[/NAME] (seg after v1) and
// /apis/discovery.k8s.io/v1/namespaces/NS/endpointslices; ok false for any other path.
func (s *KubeServer) routeServices(r *http.Request, group string, seg []string) (int, []byte, bool) {
	switch {
	case group == "" && len(seg) == 1 && seg[0] == "services":
		code, b := s.list(r, "v1", "ServiceList", s.services, nil, false, "")
		return code, b, true
	case group == "" && len(seg) == 3 && seg[0] == "namespaces" && seg[2] == "services":
		code, b := s.list(r, "v1", "ServiceList", s.services, nil, false, seg[1])
		return code, b, true
	case group == "" && len(seg) == 4 && seg[0] == "namespaces" && seg[2] == "services":
		if i, ok := s.svcByKey[seg[1]+"/"+seg[3]]; ok {
			return http.StatusOK, s.services[i].raw, true
		}
		code, b := status(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("services %q not found", seg[3]))
		return code, b, true
	case group == "discovery.k8s.io/v1" && len(seg) == 3 && seg[0] == "namespaces" && seg[2] == "endpointslices":
		code, b := s.list(r, "discovery.k8s.io/v1", "EndpointSliceList", s.slices, nil, false, seg[1])
		return code, b, true
	}
	return 0, nil, false
}

// ScaleService is the Service a scale run walks to: ns-000/web, its endpoints pod 0 of the first,
// the middle and the last node (three endpoints however large the cluster).
func (z Size) ScaleService() (trace.Service, trace.EndpointSlice) {
	svc := trace.Service{Namespace: scenario.NamespaceName(0), Name: "web", Type: trace.ServiceClusterIP, ClusterIPs: []string{"10.96.0.80"},
		Ports: []trace.ServicePort{{Name: "http", Protocol: trace.ProtocolTCP, Port: 80, TargetPort: "http"}}}
	yes := true
	sl := trace.EndpointSlice{Namespace: svc.Namespace, Name: "web-scale", Service: "web", AddressType: "IPv4",
		Ports: []trace.EndpointPort{{Name: "http", Protocol: trace.ProtocolTCP, Port: 8080}}}
	for _, i := range []int{0, z.Nodes / 2, z.Nodes - 1} {
		ns, name, ip := z.PodOf(i, 0)
		sl.Endpoints = append(sl.Endpoints, trace.ServiceEndpoint{Addresses: []string{ip}, Ready: &yes, Node: scenario.NodeName(i),
			Pod: &trace.PodRef{Namespace: ns, Name: name}})
	}
	return svc, sl
}
