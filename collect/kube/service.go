package kube

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// A walk to a Service reads, by name or address: GET the Service (svc/NS/NAME), or LIST services
// by field selector spec.clusterIP=IP (an address that is no pod or node), or the NodePort and
// LoadBalancer Services by spec.type (a node address with a port, or an address no ClusterIP has);
// then LIST its EndpointSlices by label kubernetes.io/service-name, and GET each endpoint's pod and
// node. The count grows with the Service's endpoints, never with the cluster's nodes or pods.

// serviceTarget reads svc/NS/NAME and its endpoints.
func (s *session) serviceTarget(ctx context.Context, t trace.Target) error {
	svc, err := s.c.api.GetService(ctx, t.Namespace, t.Name)
	if apierrors.IsNotFound(err) {
		return &NotFoundError{Msg: fmt.Sprintf("service %s not found in namespace %s: give it as svc/NAMESPACE/NAME as `kubectl get services -A` shows it", t.Name, t.Namespace)}
	}
	if err != nil {
		return s.c.explain(err, "get", "services", t.Namespace)
	}
	return s.addService(ctx, svc)
}

// servicesByIP finds the Services answering on ip (and port when given): its ClusterIP, else a
// NodePort on a node address, else a LoadBalancer ingress or external IP. It reports whether one did.
func (s *session) servicesByIP(ctx context.Context, ip netip.Addr, port int, node bool) (bool, error) {
	if node {
		if port == 0 {
			return false, nil
		}
		for _, typ := range []corev1.ServiceType{corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer} {
			l, err := s.listServices(ctx, "spec.type="+string(typ))
			if err != nil {
				return false, err
			}
			for i := range l {
				if slices.ContainsFunc(l[i].Spec.Ports, func(p corev1.ServicePort) bool { return int(p.NodePort) == port }) {
					return true, s.addService(ctx, &l[i])
				}
			}
		}
		return false, nil
	}
	l, err := s.listServices(ctx, fields.OneTermEqualSelector("spec.clusterIP", ip.String()).String())
	if err != nil {
		return false, err
	}
	if len(l) > 0 {
		return true, s.addService(ctx, &l[0])
	}
	l, err = s.listServices(ctx, "spec.type="+string(corev1.ServiceTypeLoadBalancer))
	if err != nil {
		return false, err
	}
	for i := range l {
		if svcHasAddress(&l[i], ip) {
			return true, s.addService(ctx, &l[i])
		}
	}
	return false, nil
}

func svcHasAddress(svc *corev1.Service, ip netip.Addr) bool {
	for _, a := range svc.Spec.ExternalIPs {
		if b, err := netip.ParseAddr(a); err == nil && b.Unmap() == ip {
			return true
		}
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if b, err := netip.ParseAddr(in.IP); err == nil && b.Unmap() == ip {
			return true
		}
	}
	return false
}

// listServices lists Services cluster-wide by field selector, page by page, once per session: an
// address that is no ClusterIP and then turns out a node's lists the LoadBalancer Services twice.
func (s *session) listServices(ctx context.Context, sel string) ([]corev1.Service, error) {
	s.mu.Lock()
	out, ok := s.serviceLists[sel]
	s.mu.Unlock()
	if ok {
		return out, nil
	}
	v, err, _ := s.inflight.Do("services?"+sel, func() (any, error) {
		var out []corev1.Service
		opts := metav1.ListOptions{FieldSelector: sel, Limit: pageSize}
		for {
			l, err := s.c.api.ListServices(ctx, "", opts)
			if err != nil {
				return nil, err
			}
			out = append(out, l.Items...)
			if l.Continue == "" {
				s.mu.Lock()
				s.serviceLists[sel] = out
				s.mu.Unlock()
				return out, nil
			}
			opts.Continue = l.Continue
		}
	})
	if err != nil {
		return nil, s.c.explain(err, "list", "services", "")
	}
	return v.([]corev1.Service), nil
}

// addService keeps the Service and reads its EndpointSlices and each endpoint's pod and node.
func (s *session) addService(ctx context.Context, svc *corev1.Service) error {
	key := svc.Namespace + "/" + svc.Name
	s.mu.Lock()
	if s.services[key] != nil {
		s.mu.Unlock()
		return nil
	}
	s.services[key] = svc
	s.mu.Unlock()
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}).String()
	opts := metav1.ListOptions{LabelSelector: sel, Limit: pageSize}
	var found []discoveryv1.EndpointSlice
	for {
		l, err := s.c.api.ListEndpointSlices(ctx, svc.Namespace, opts)
		if err != nil {
			return s.c.explain(err, "list", "endpointslices", svc.Namespace)
		}
		found = append(found, l.Items...)
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	s.mu.Lock()
	s.slices[key] = found
	s.mu.Unlock()
	if len(found) == 0 && svc.Spec.Type != corev1.ServiceTypeExternalName {
		s.warn("service %s has no EndpointSlice: does its selector match a running pod?", key)
	}
	for _, sl := range found {
		for _, e := range sl.Endpoints {
			if e.TargetRef == nil || e.TargetRef.Kind != "Pod" {
				continue
			}
			ns := e.TargetRef.Namespace
			if ns == "" {
				ns = svc.Namespace
			}
			p, err := s.getPod(ctx, trace.PodRef{Namespace: ns, Name: e.TargetRef.Name}, "endpoint pod")
			if IsNotFound(err) {
				s.warn("endpoint pod %s/%s of service %s no longer exists", ns, e.TargetRef.Name, key)
				continue
			}
			if err != nil {
				return err
			}
			if err := s.podNode(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// ConvertService turns a Service into the snapshot's form.
func ConvertService(svc *corev1.Service) trace.Service {
	out := trace.Service{Namespace: svc.Namespace, Name: svc.Name, Type: string(svc.Spec.Type), ExternalIPs: svc.Spec.ExternalIPs,
		ExternalName: svc.Spec.ExternalName, Selector: svc.Spec.Selector, ExternalTrafficPolicy: string(svc.Spec.ExternalTrafficPolicy),
		SessionAffinity: string(svc.Spec.SessionAffinity), Source: trace.SourceKube}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, ip := range ips {
		if ip == corev1.ClusterIPNone {
			out.Headless = true
			continue
		}
		out.ClusterIPs = append(out.ClusterIPs, ip)
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			out.LoadBalancerIPs = append(out.LoadBalancerIPs, in.IP)
		}
	}
	for _, p := range svc.Spec.Ports {
		out.Ports = append(out.Ports, trace.ServicePort{Name: p.Name, Protocol: string(p.Protocol), Port: int(p.Port),
			TargetPort: p.TargetPort.String(), NodePort: int(p.NodePort)})
	}
	return out
}

// ConvertEndpointSlice turns an EndpointSlice into the snapshot's form.
func ConvertEndpointSlice(sl *discoveryv1.EndpointSlice) trace.EndpointSlice {
	out := trace.EndpointSlice{Namespace: sl.Namespace, Name: sl.Name, Service: sl.Labels[discoveryv1.LabelServiceName],
		AddressType: string(sl.AddressType), Source: trace.SourceKube}
	for _, p := range sl.Ports {
		ep := trace.EndpointPort{}
		if p.Name != nil {
			ep.Name = *p.Name
		}
		if p.Protocol != nil {
			ep.Protocol = string(*p.Protocol)
		}
		if p.Port != nil {
			ep.Port = int(*p.Port)
		}
		out.Ports = append(out.Ports, ep)
	}
	for _, e := range sl.Endpoints {
		se := trace.ServiceEndpoint{Addresses: e.Addresses, Ready: e.Conditions.Ready, Serving: e.Conditions.Serving, Terminating: e.Conditions.Terminating}
		if e.NodeName != nil {
			se.Node = *e.NodeName
		}
		if e.Zone != nil {
			se.Zone = *e.Zone
		}
		if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
			ns := e.TargetRef.Namespace
			if ns == "" {
				ns = sl.Namespace
			}
			se.Pod = &trace.PodRef{Namespace: ns, Name: e.TargetRef.Name}
		}
		out.Endpoints = append(out.Endpoints, se)
	}
	return out
}

// addServices converts the Services and slices read, sorted.
func (s *session) addServices(c *trace.Cluster) {
	keys := make([]string, 0, len(s.services))
	for k := range s.services {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.Services = append(c.Services, ConvertService(s.services[k]))
		sl := s.slices[k]
		sort.Slice(sl, func(i, j int) bool { return sl[i].Name < sl[j].Name })
		for i := range sl {
			c.EndpointSlices = append(c.EndpointSlices, ConvertEndpointSlice(&sl[i]))
		}
	}
}

// targetPortNumber is the port of an IP:PORT target (0 when none).
func targetPortNumber(t trace.Target) int {
	n, _ := strconv.Atoi(t.Port)
	return n
}

// isForbidden: the user may not read Services (RBAC); an address is then walked as an address.
func isForbidden(err error) bool {
	var ae *AccessError
	return errors.As(err, &ae) && strings.HasPrefix(ae.Msg, "forbidden:")
}
