package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// A walk to a Service is one walk per ready endpoint (or the one --endpoint names), each from the
// source pod with the load-balancing step (a service hop) where the cluster balances: on the
// source node's OVS (node-ovs), or where the fabric load balancer is applied (the source's switch
// or a router on the way). The Service is reachable when any endpoint walk is.

// parseServiceTarget parses NS/NAME[:PORT] (or NAME[:PORT] with defaultNS) after "svc/".
func parseServiceTarget(rest, defaultNS string) (Target, bool) {
	name, port, _ := strings.Cut(rest, ":")
	parts := strings.Split(name, "/")
	t := Target{Kind: TargetService, Port: port}
	switch {
	case len(parts) == 1 && parts[0] != "" && defaultNS != "":
		t.Namespace, t.Name = defaultNS, parts[0]
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		t.Namespace, t.Name = parts[0], parts[1]
	default:
		return Target{}, false
	}
	if strings.Contains(rest, ":") && port == "" {
		return Target{}, false
	}
	return t, true
}

// addresses are the Service's virtual addresses as written: ClusterIPs, load balancer IPs, then
// external IPs.
func (svc *Service) addresses() []string {
	return slices.Concat(svc.ClusterIPs, svc.LoadBalancerIPs, svc.ExternalIPs)
}

// svcTarget is a resolved walk to a Service: the Service, its chosen port and the address and
// port the packet is sent to.
type svcTarget struct {
	svc      *Service
	port     *ServicePort
	vip      netip.Addr
	vipPort  int
	protocol string
	nodePort bool
	// lb and lbVIP are the fabric load balancer with the VIP and its VIP (nil when none);
	// balancing is where the cluster balances (node-ovs, fabric, "" without fabric facts). Set by
	// findLB once a Service walk.
	lb        *LoadBalancer
	lbVIP     *LBVIP
	balancing string
}

func (st *svcTarget) vipString() string { return hostPort(st.vip.String(), st.vipPort) }

// detail is what a Service walk and each of its service hops say of the Service, its endpoints
// eps and where it is balanced.
func (st *svcTarget) detail(eps []svcEndpoint) *ServiceDetail {
	return &ServiceDetail{Service: st.svc.Ref().String(), Type: cmp.Or(st.svc.Type, ServiceClusterIP), VIP: st.vipString(),
		Protocol: st.protocol, PortName: st.port.Name, TargetPort: st.port.TargetPort, LoadBalancing: st.balancing,
		Ready: countReady(eps), Endpoints: len(eps)}
}

// hostPort writes IP:PORT ([IPv6]:PORT), or the IP alone for port 0.
func hostPort(ip string, port int) string {
	if port == 0 {
		return ip
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip + ":" + strconv.Itoa(port)
	}
	return netip.AddrPortFrom(a, uint16(port)).String()
}

// serviceTarget resolves t to a Service when it names one (svc/NS/NAME) or its address is one of a
// Service's ClusterIPs, external or load balancer IPs, or a node IP with a NodePort; nil otherwise.
func (ix *Index) serviceTarget(t Target, words Words) (*svcTarget, error) {
	switch t.Kind {
	case TargetService:
		svc := ix.service(t.Namespace, t.Name)
		if svc == nil {
			return nil, &RequestError{fmt.Sprintf("service %s/%s not found in the snapshot%s", t.Namespace, t.Name, ix.suggestServices(t.Namespace, t.Name))}
		}
		sp, err := pickServicePort(svc, t.Port, t.Protocol, words)
		if err != nil {
			return nil, err
		}
		st := &svcTarget{svc: svc, port: sp, vipPort: sp.Port, protocol: cmp.Or(sp.Protocol, ProtocolTCP)}
		for _, ip := range svc.addresses() {
			if a, ok := ParseAddr(ip); ok {
				st.vip = a
				break
			}
		}
		if !st.vip.IsValid() {
			return nil, &RequestError{fmt.Sprintf("service %s/%s has no ClusterIP, external or load balancer IP (headless or ExternalName): trace to one of its pods", svc.Namespace, svc.Name)}
		}
		return st, nil
	case TargetIP:
		a, ok := ParseAddr(t.IP)
		if !ok {
			return nil, nil
		}
		port := 0
		if t.Port != "" {
			n, err := strconv.Atoi(t.Port)
			if err != nil || n < 1 || n > 65535 {
				return nil, &RequestError{fmt.Sprintf("%s %s: port %q is not a number from 1 to 65535", words.to(), t.IP, t.Port)}
			}
			port = n
		}
		return ix.serviceByAddr(a, port, t.Protocol, words)
	}
	return nil, nil
}

// serviceByAddr finds the Service answering on a:port (port 0: any of its ports when it has one).
func (ix *Index) serviceByAddr(a netip.Addr, port int, proto string, words Words) (*svcTarget, error) {
	node := ix.nodesByIP[a] != nil
	for i := range ix.snap.Cluster.Services {
		svc := &ix.snap.Cluster.Services[i]
		vip := slices.ContainsFunc(svc.addresses(), func(s string) bool {
			b, ok := ParseAddr(s)
			return ok && b == a
		})
		for j := range svc.Ports {
			sp := &svc.Ports[j]
			if proto != "" && !strings.EqualFold(cmp.Or(sp.Protocol, ProtocolTCP), proto) {
				continue
			}
			switch {
			case vip && (port == 0 && len(svc.Ports) == 1 || port == sp.Port):
				return &svcTarget{svc: svc, port: sp, vip: a, vipPort: sp.Port, protocol: cmp.Or(sp.Protocol, ProtocolTCP)}, nil
			case node && port != 0 && sp.NodePort == port:
				return &svcTarget{svc: svc, port: sp, vip: a, vipPort: port, protocol: cmp.Or(sp.Protocol, ProtocolTCP), nodePort: true}, nil
			}
		}
		if vip && port == 0 {
			return nil, &RequestError{fmt.Sprintf("%s is service %s/%s, which has ports %s: name one with %s svc/%s/%s:PORT or %s:PORT", a, svc.Namespace, svc.Name, portList(svc), words.to(), svc.Namespace, svc.Name, a)}
		}
		if vip {
			return nil, &RequestError{fmt.Sprintf("%s is service %s/%s, which has no port %d%s (its ports: %s)", a, svc.Namespace, svc.Name, port, protoSuffix(proto), portList(svc))}
		}
	}
	return nil, nil
}

func protoSuffix(p string) string {
	if p == "" {
		return ""
	}
	return "/" + strings.ToUpper(p)
}

func portList(svc *Service) string {
	var out []string
	for _, p := range svc.Ports {
		s := strconv.Itoa(p.Port) + "/" + cmp.Or(p.Protocol, ProtocolTCP)
		if p.Name != "" {
			s = p.Name + " " + s
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// pickServicePort chooses the Service port a target names (by name or number), or its only port.
func pickServicePort(svc *Service, want, proto string, words Words) (*ServicePort, error) {
	var found []*ServicePort
	for i := range svc.Ports {
		sp := &svc.Ports[i]
		if proto != "" && !strings.EqualFold(cmp.Or(sp.Protocol, ProtocolTCP), proto) {
			continue
		}
		if want == "" || want == sp.Name || want == strconv.Itoa(sp.Port) {
			found = append(found, sp)
		}
	}
	ref := svc.Namespace + "/" + svc.Name
	switch {
	case len(svc.Ports) == 0:
		return nil, &RequestError{fmt.Sprintf("service %s has no ports", ref)}
	case len(found) == 0 && want != "":
		return nil, &RequestError{fmt.Sprintf("service %s has no port %q%s: its ports are %s", ref, want, protoSuffix(proto), portList(svc))}
	case len(found) == 0:
		return nil, &RequestError{fmt.Sprintf("service %s has no %s port: its ports are %s", ref, strings.ToUpper(proto), portList(svc))}
	case len(found) > 1:
		return nil, &RequestError{fmt.Sprintf("service %s has ports %s: name one with svc/%s:PORT (and %s when a number is both TCP and UDP)", ref, portList(svc), ref, words.protocol())}
	}
	return found[0], nil
}

func (ix *Index) service(ns, name string) *Service {
	for i := range ix.snap.Cluster.Services {
		if s := &ix.snap.Cluster.Services[i]; s.Namespace == ns && s.Name == name {
			return s
		}
	}
	return nil
}

func (ix *Index) suggestServices(ns, name string) string {
	var near []string
	for _, s := range ix.snap.Cluster.Services {
		if (s.Namespace == ns && similar(s.Name, name)) || s.Name == name {
			near = append(near, "svc/"+s.Namespace+"/"+s.Name)
		}
	}
	return didYouMean(near)
}

// svcEndpoint is one endpoint of the Service for the chosen port.
type svcEndpoint struct {
	ip    netip.Addr
	port  int
	ready bool
	node  string
	pod   *PodRef
}

func (e svcEndpoint) String() string { return hostPort(e.ip.String(), e.port) }

// endpoints lists the Service's endpoints for the port, with the port number each listens on: the
// slice's port of the same name (the named target port resolved), else a numeric targetPort.
func (ix *Index) endpoints(st *svcTarget) []svcEndpoint {
	var out []svcEndpoint
	seen := map[string]bool{}
	proto := st.protocol
	for _, sl := range ix.snap.Cluster.EndpointSlices {
		if sl.Namespace != st.svc.Namespace || sl.Service != st.svc.Name {
			continue
		}
		port := 0
		for _, p := range sl.Ports {
			if p.Name == st.port.Name && strings.EqualFold(cmp.Or(p.Protocol, ProtocolTCP), proto) {
				port = p.Port
			}
		}
		if port == 0 {
			if n, err := strconv.Atoi(st.port.TargetPort); err == nil {
				port = n
			} else if st.port.TargetPort == "" {
				port = st.port.Port
			}
		}
		for _, e := range sl.Endpoints {
			for _, s := range e.Addresses {
				a, ok := ParseAddr(s)
				if !ok || !sameFamily(a, st.vip) || seen[a.String()] {
					continue
				}
				seen[a.String()] = true
				out = append(out, svcEndpoint{ip: a, port: port, ready: e.IsReady(), node: e.Node, pod: e.Pod})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ip.Less(out[j].ip) })
	return out
}

// vipWarning says when an address walked to as such is a fabric load balancer's VIP that no
// Service in the snapshot has: the packet would be DNATed, and the walk cannot say to what.
func (ix *Index) vipWarning(a netip.Addr) string {
	if ix.fab == nil {
		return ""
	}
	if vips := ix.fab.vips[a]; len(vips) > 0 {
		lb := vips[0].lb
		return fmt.Sprintf("%s is a VIP of load balancer %s, and no Service in the facts has it: the packet is sent on to a backend, the walk goes to the VIP (trace to svc/NS/NAME)", a, cmp.Or(lb.Name, lb.ID))
	}
	return ""
}
