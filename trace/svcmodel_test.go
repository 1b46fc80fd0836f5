package trace

import (
	"testing"
)

// serviceSnapshot is a snapshot with every Service, load balancer, NAT and ofproto/trace field set.
func serviceSnapshot() *Snapshot {
	no, yes := false, true
	return &Snapshot{APIVersion: APIVersion,
		Cluster: Cluster{
			Services: []Service{{Namespace: "web", Name: "front", Type: ServiceNodePort, ClusterIPs: []string{"10.96.0.10"}, Headless: true, ExternalName: "front.example.com",
				ExternalIPs: []string{"192.0.2.7"}, LoadBalancerIPs: []string{"198.51.100.9"},
				Ports:    []ServicePort{{Name: "http", Protocol: ProtocolTCP, Port: 80, TargetPort: "http", NodePort: 30080}},
				Selector: map[string]string{"app": "front"}, ExternalTrafficPolicy: "Cluster", SessionAffinity: "None", Source: "kube"}},
			EndpointSlices: []EndpointSlice{{Namespace: "web", Name: "front-abc", Service: "front", AddressType: "IPv4",
				Ports: []EndpointPort{{Name: "http", Protocol: ProtocolTCP, Port: 8080}},
				Endpoints: []ServiceEndpoint{{Addresses: []string{"172.16.1.5"}, Ready: &no, Serving: &yes, Terminating: &no,
					Node: "node-a", Pod: &PodRef{Namespace: "web", Name: "front-1"}, Zone: "z1"}}, Source: "kube"}},
		},
		Nodes: []NodeState{{Name: "node-a", OFProtoTraces: []OFProtoTrace{{Bridge: "br-int", Flow: "in_port=5,tcp,nw_src=172.16.1.2,nw_dst=10.96.0.10,tp_dst=80",
			Src: "172.16.1.2", Dst: "10.96.0.10:80", Protocol: ProtocolTCP, DatapathActions: "ct(commit,nat(dst=172.16.1.5:8080)),2",
			Groups: []string{"group:3"}, NAT: "172.16.1.5:8080", Output: []string{"0. priority 100"}, Error: "e", Source: "ofproto@node-a"}}}},
		Fabric: &Fabric{Provider: "ovn", ServiceLoadBalancing: LBFabric,
			LoadBalancers: []LoadBalancer{{ID: "u1", Name: "Service_web/front_TCP_cluster", Kind: LBKindOVN, Protocol: ProtocolTCP,
				Switches: []string{"ls1"}, Routers: []string{"gr1"},
				VIPs: []LBVIP{{IP: "10.96.0.10", Port: 80, Protocol: ProtocolTCP, Pool: "p1", PoolName: "pool",
					Backends: []LBBackend{{IP: "172.16.1.5", Port: 8080, Name: "m1", Status: BackendDown, StatusDetail: "health check failed"}}}},
				HealthCheck: &LBHealthCheck{ID: "hc1", Kind: "ovn-service-monitor", Options: map[string]string{"interval": "5"}},
				Service:     &PodRef{Namespace: "web", Name: "front"}, Enabled: &yes, Warnings: []string{"w"}, Source: "ovn"}},
			NATRules: []NATRule{{ID: "n1", Name: "snat-web", Type: NATSnat, Router: "gr1",
				Match: NATMatch{Source: "172.16.1.0/24", Destination: "0.0.0.0/0", Expression: "tcp"}, TranslatedIP: "192.168.50.10",
				TranslatedPorts: "1024-65535", AppliedTo: []string{"gr1-uplink"}, ExternalMAC: "0a:00:00:00:00:01", LogicalPort: "lp1",
				Priority: 10, Disabled: true, Origin: &NATOrigin{Kind: NATOriginSNATPool, Namespace: "web", Name: "pool1",
					Tags: map[string]string{"ncp/snat_pool": "pool1"}}, Source: "ovn"}},
		},
	}
}

// TestServiceModelRoundTrip: Services, slices, load balancers, NAT rules and traces survive write + read
// (the streamed decoder agrees with encoding/json).
func TestServiceModelRoundTrip(t *testing.T) {
	roundTrip(t, serviceSnapshot(), Service{}, ServicePort{}, EndpointSlice{}, EndpointPort{}, ServiceEndpoint{},
		OFProtoTrace{}, LoadBalancer{}, LBVIP{}, LBBackend{}, LBHealthCheck{}, NATRule{}, NATMatch{}, NATOrigin{})
}

func TestServiceEndpointIsReady(t *testing.T) {
	no, yes := false, true
	for name, c := range map[string]struct {
		ready *bool
		want  bool
	}{"unset reads as ready": {nil, true}, "ready": {&yes, true}, "not ready": {&no, false}} {
		t.Run(name, func(t *testing.T) {
			if got := (ServiceEndpoint{Ready: c.ready}).IsReady(); got != c.want {
				t.Errorf("got %v", got)
			}
		})
	}
}
