package scenario

import "github.com/packetwalk/kubectl-packetwalk/trace"

// Service scenarios: the published cluster with a Service and the tier-0's SNAT, as NCP sets them
// up. ClusterIP is balanced on the source node's OVS (nsx-kube-proxy: an OpenFlow select group and
// conntrack DNAT in br-int), which ofproto/trace shows; every namespace gets an SNAT rule on the
// tier-0 (tags ncp/project), applied on its uplink.

// ServiceVIP is the ClusterIP of default/web; WebPort its port and WebTargetPort the port the pods
// listen on (named "http" in the Service).
const (
	ServiceVIP    = "10.96.0.80"
	WebPort       = 80
	WebTargetPort = 8080
	// SNATIP is the address kube-system's pods leave the cluster with.
	SNATIP = "203.0.113.10"
	// ExternalIP is an address beyond the tier-0 uplink.
	ExternalIP = "198.51.100.7"
)

// Service is Published() with Service default/web (ClusterIP, NodePort 30080, target port "http")
// whose endpoints are nginx-3 on 172.15.0.4 and redis-slave on 172.15.0.5, the ofproto/trace of
// kube-dns's packet to it on node 172.15.0.3, and SNAT rules for both namespaces on the tier-0.
func Service() *trace.Snapshot {
	s := Published()
	yes := true
	s.Cluster.Services = append(s.Cluster.Services, trace.Service{Namespace: "default", Name: "web", Type: trace.ServiceNodePort,
		ClusterIPs: []string{ServiceVIP}, Ports: []trace.ServicePort{{Name: "http", Protocol: trace.ProtocolTCP, Port: WebPort, TargetPort: "http", NodePort: 30080}},
		Selector: map[string]string{"tier": "backend"}, ExternalTrafficPolicy: "Cluster", Source: trace.SourceKube})
	s.Cluster.EndpointSlices = append(s.Cluster.EndpointSlices, trace.EndpointSlice{Namespace: "default", Name: "web-7xk2p", Service: "web", AddressType: "IPv4",
		Ports: []trace.EndpointPort{{Name: "http", Protocol: trace.ProtocolTCP, Port: WebTargetPort}},
		Endpoints: []trace.ServiceEndpoint{
			{Addresses: []string{"172.16.0.6"}, Ready: &yes, Node: "172.15.0.4", Pod: &trace.PodRef{Namespace: "default", Name: "nginx-3"}},
			{Addresses: []string{"172.16.0.7"}, Ready: &yes, Node: "172.15.0.5", Pod: &trace.PodRef{Namespace: "default", Name: "redis-slave"}},
		}, Source: trace.SourceKube})
	s.Fabric.ServiceLoadBalancing = trace.LBNodeOVS
	for i := range s.Nodes {
		if s.Nodes[i].Name != "172.15.0.3" {
			continue
		}
		s.Nodes[i].OFProtoTraces = append(s.Nodes[i].OFProtoTraces, trace.OFProtoTrace{Bridge: "br-int",
			Flow: "in_port=3,dl_vlan=101,dl_src=" + PodMAC("172.15.0.3", 101) + ",dl_dst=" + RouterMAC + ",tcp,nw_src=172.16.1.2,nw_dst=" + ServiceVIP + ",tp_dst=80",
			Src:  "172.16.1.2", Dst: ServiceVIP + ":80", Protocol: trace.ProtocolTCP,
			DatapathActions: "ct(commit,zone=5,nat(dst=172.16.0.6:8080)),push_vlan(vid=101,pcp=0),1",
			Groups:          []string{"group:12"}, NAT: "172.16.0.6:8080",
			Output: []string{"0. ip,nw_dst=10.96.0.80,tp_dst=80, priority 100: group:12", "group 12 bucket 0: ct(commit,zone=5,nat(dst=172.16.0.6:8080))"},
			Source: "ofproto@172.15.0.3"})
	}
	for _, ns := range publishedNamespaces {
		ip := SNATIP
		if ns.ns != "kube-system" {
			ip = "203.0.113.11"
		}
		s.Fabric.NATRules = append(s.Fabric.NATRules, trace.NATRule{ID: "snat-" + ns.ns, Name: "ncp-snat-" + ns.ns, Type: trace.NATSnat, Router: "lr-t0",
			Match: trace.NATMatch{Source: ns.subnet}, TranslatedIP: ip, AppliedTo: []string{"lrp-t0-uplink-1"}, Priority: 1024,
			Origin: &trace.NATOrigin{Kind: trace.NATOriginNamespace, Namespace: ns.ns, Tags: map[string]string{"ncp/project": ns.ns}},
			Source: trace.SourceNSX})
	}
	return s
}

// ServiceVariants are the broken Service and external scenarios and what the walk must report.
var ServiceVariants = []Variant{
	{
		Name: "no-ready-endpoint",
		Break: func(s *trace.Snapshot) {
			no := false
			for i := range s.Cluster.EndpointSlices[0].Endpoints {
				s.Cluster.EndpointSlices[0].Endpoints[i].Ready = &no
			}
		},
		HopKind: trace.HopService, Direction: trace.Forward,
		Reason: "service default/web has no ready endpoint (2 listed, none ready)",
	},
	{
		Name: "missing-snat",
		Break: func(s *trace.Snapshot) {
			keep := s.Fabric.NATRules[:0]
			for _, r := range s.Fabric.NATRules {
				if r.ID != "snat-kube-system" {
					keep = append(keep, r)
				}
			}
			s.Fabric.NATRules = keep
		},
		HopKind: trace.HopNAT, Direction: trace.Forward,
		Reason: "no SNAT rule on router t0 matches source 172.16.1.2: the packet leaves by t0_uplink_1 with its private address and no reply can come back",
	},
}
