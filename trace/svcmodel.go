package trace

// The Service, load-balancing and NAT model: Kubernetes Services and their EndpointSlices
// (Cluster.Services, Cluster.EndpointSlices), the load balancers that implement them
// (Fabric.LoadBalancers: OVN Load_Balancer rows, NSX virtual servers with their pools), the NAT
// rules on the fabric's routers (Fabric.NATRules: OVN NAT on the gateway router, NSX tier-0/tier-1
// NAT rules written by NCP), where the cluster balances (Fabric.ServiceLoadBalancing), and what a
// node's OVS says it does with one packet (NodeState.OFProtoTraces). Walks to a Service carry one
// walk per endpoint (Walk.Service); service and nat hops carry their own facts (Hop.Service, Hop.NAT)
// and every hop after a NAT the packet's addresses as translated (Hop.Packet).

// Target and endpoint kinds of Service and external walks (see the Target kinds in walk.go).
const (
	// TargetService is a Kubernetes Service: --to svc/NS/NAME[:PORT], or its ClusterIP, NodePort
	// or LoadBalancer address given as an IP.
	TargetService TargetKind = "service"
	// TargetExternal is an endpoint kind only: an address outside every fabric subnet, reached by
	// the tier-0 uplink (the way out).
	TargetExternal TargetKind = "external"
)

// Hop kinds of Service and external walks (see the Hop kinds in walk.go).
const (
	// HopService is the load-balancing step: the Service, the load balancer that picks an
	// endpoint, and the endpoint it picks (the DNAT).
	HopService HopKind = "service"
	// HopNAT is a NAT rule the packet meets: its original and translated addresses.
	HopNAT HopKind = "nat"
)

// Service types as Kubernetes spells them (spec.type).
const (
	ServiceClusterIP    = "ClusterIP"
	ServiceNodePort     = "NodePort"
	ServiceLoadBalancer = "LoadBalancer"
	ServiceExternalName = "ExternalName"
)

// Protocols as Kubernetes spells them (ServicePort.protocol, EndpointPort.protocol).
const (
	ProtocolTCP  = "TCP"
	ProtocolUDP  = "UDP"
	ProtocolSCTP = "SCTP"
)

// Service is a Kubernetes Service (core/v1), as much of it as a walk needs.
type Service struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Type is ClusterIP, NodePort, LoadBalancer or ExternalName ("" reads as ClusterIP).
	Type string `json:"type,omitempty"`
	// ClusterIPs are spec.clusterIPs ("None" for a headless Service is left out and Headless set).
	ClusterIPs []string `json:"clusterIPs,omitempty"`
	// Headless is true for spec.clusterIP "None": no virtual address, clients reach endpoints directly.
	Headless bool `json:"headless,omitempty"`
	// ExternalIPs are spec.externalIPs.
	ExternalIPs []string `json:"externalIPs,omitempty"`
	// LoadBalancerIPs are status.loadBalancer.ingress[].ip: the addresses the load balancer
	// (NSX virtual server, cloud LB) answers on.
	LoadBalancerIPs []string `json:"loadBalancerIPs,omitempty"`
	// ExternalName is spec.externalName of an ExternalName Service (a DNS name, not walked).
	ExternalName string        `json:"externalName,omitempty"`
	Ports        []ServicePort `json:"ports,omitempty"`
	// Selector is spec.selector; empty for a Service whose EndpointSlices are written by hand.
	Selector map[string]string `json:"selector,omitempty"`
	// ExternalTrafficPolicy is Cluster or Local (NodePort/LoadBalancer): Local sends node-port
	// traffic only to endpoints on the node it arrived at.
	ExternalTrafficPolicy string `json:"externalTrafficPolicy,omitempty"`
	// SessionAffinity is None or ClientIP.
	SessionAffinity string `json:"sessionAffinity,omitempty"`
	Source          string `json:"source,omitempty"`
}

// Ref names the Service.
func (s Service) Ref() PodRef { return PodRef{Namespace: s.Namespace, Name: s.Name} }

// ServicePort is one entry of a Service's spec.ports.
type ServicePort struct {
	// Name is the port's name; "" is allowed when the Service has one port.
	Name string `json:"name,omitempty"`
	// Protocol is TCP, UDP or SCTP ("" reads as TCP).
	Protocol string `json:"protocol,omitempty"`
	// Port is the Service's port (on ClusterIPs, external and load balancer IPs).
	Port int `json:"port"`
	// TargetPort is spec.ports[].targetPort as written: a number ("8080") or the name of a
	// container port ("http"), resolved per endpoint through the EndpointSlice's ports.
	TargetPort string `json:"targetPort,omitempty"`
	// NodePort is the port every node answers on for NodePort and LoadBalancer Services; 0 when none.
	NodePort int `json:"nodePort,omitempty"`
}

// EndpointSlice is a discovery.k8s.io/v1 EndpointSlice of a Service.
type EndpointSlice struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Service is the label kubernetes.io/service-name: the Service the slice belongs to.
	Service string `json:"service"`
	// AddressType is IPv4, IPv6 or FQDN.
	AddressType string `json:"addressType,omitempty"`
	// Ports are the slice's ports; a Service port's name matches one of them (the resolved target port).
	Ports     []EndpointPort    `json:"ports,omitempty"`
	Endpoints []ServiceEndpoint `json:"endpoints,omitempty"`
	Source    string            `json:"source,omitempty"`
}

// EndpointPort is one of an EndpointSlice's ports: the Service port's name and the port number
// the endpoints listen on (the named target port, resolved by the EndpointSlice controller).
type EndpointPort struct {
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	Port     int    `json:"port"`
}

// ServiceEndpoint is one endpoint of an EndpointSlice.
type ServiceEndpoint struct {
	Addresses []string `json:"addresses"`
	// Ready, Serving and Terminating are the endpoint's conditions; nil when the slice omits them
	// (Ready nil reads as ready, as kube-proxy does).
	Ready       *bool `json:"ready,omitempty"`
	Serving     *bool `json:"serving,omitempty"`
	Terminating *bool `json:"terminating,omitempty"`
	// Node is nodeName: the node the endpoint runs on.
	Node string `json:"node,omitempty"`
	// Pod is targetRef when it is a Pod.
	Pod *PodRef `json:"pod,omitempty"`
	// Zone is the endpoint's zone, when set.
	Zone string `json:"zone,omitempty"`
}

// IsReady reports whether the endpoint takes new connections (conditions.ready, nil = ready).
func (e ServiceEndpoint) IsReady() bool { return e.Ready == nil || *e.Ready }

// Where the cluster balances ClusterIP and NodePort traffic (Fabric.ServiceLoadBalancing).
const (
	// LBNodeOVS is NCP's nsx-kube-proxy: OpenFlow select groups and conntrack DNAT in the source
	// node's br-int (read with ovs-appctl ofproto/trace).
	LBNodeOVS = "node-ovs"
	// LBFabric is the fabric's own load balancer: OVN Load_Balancer rows on the logical switch or
	// router (OVN-Kubernetes), NSX virtual servers on a tier-1 (LoadBalancer Services under NCP).
	LBFabric = "fabric"
)

// Load balancer kinds (LoadBalancer.Kind).
const (
	// LBKindOVN is an OVN Northbound Load_Balancer row.
	LBKindOVN = "ovn-load-balancer"
	// LBKindNSXVirtualServer is an NSX load balancer virtual server (MP /api/v1/loadbalancer/
	// virtual-servers, Policy /infra/lb-virtual-servers) with its pool.
	LBKindNSXVirtualServer = "nsx-virtual-server"
)

// Backend statuses (LBBackend.Status).
const (
	BackendUp       = "up"
	BackendDown     = "down"
	BackendDisabled = "disabled"
	BackendUnknown  = "unknown"
)

// LoadBalancer is one fabric load balancer: an OVN Load_Balancer row or an NSX virtual server and
// its pool. It is applied where it balances (Switches, Routers); each VIP sends to its backends.
type LoadBalancer struct {
	// ID is the row's UUID (OVN) or the virtual server's id / Policy path (NSX).
	ID string `json:"id"`
	// Name is the row's name (OVN-Kubernetes: Service_NS/NAME_TCP_cluster) or display_name.
	Name string `json:"name,omitempty"`
	// Kind is ovn-load-balancer or nsx-virtual-server.
	Kind string `json:"kind"`
	// Protocol is the protocol of every VIP that does not name its own (OVN Load_Balancer.protocol;
	// OVN "" reads as tcp). Normalised to TCP, UDP or SCTP.
	Protocol string `json:"protocol,omitempty"`
	// Switches and Routers are the logical switch and router IDs the load balancer is applied to
	// (OVN Logical_Switch.load_balancer / Logical_Router.load_balancer; NSX: the tier-1 the LB
	// service is attached to).
	Switches []string `json:"switches,omitempty"`
	Routers  []string `json:"routers,omitempty"`
	VIPs     []LBVIP  `json:"vips,omitempty"`
	// HealthCheck is how the load balancer checks its backends; nil when it does not.
	HealthCheck *LBHealthCheck `json:"healthCheck,omitempty"`
	// Service is the Kubernetes Service it implements when its tags say so (OVN-Kubernetes
	// external_ids k8s.ovn.org/owner, NCP tags ncp/service ...); nil when nothing says.
	Service *PodRef `json:"service,omitempty"`
	// Enabled is false for a load balancer (NSX LB service or virtual server) that is disabled;
	// nil when the source does not say (OVN).
	Enabled *bool `json:"enabled,omitempty"`
	// Warnings are what went wrong reading it (a pool or its status that could not be read).
	Warnings []string `json:"warnings,omitempty"`
	Source   string   `json:"source,omitempty"`
}

// LBVIP is one virtual address of a load balancer and the backends it sends to.
type LBVIP struct {
	// IP is the virtual address; Port its port (0 = any port, OVN VIP without a port).
	IP   string `json:"ip"`
	Port int    `json:"port,omitempty"`
	// Protocol overrides LoadBalancer.Protocol when set.
	Protocol string `json:"protocol,omitempty"`
	// Pool is the NSX pool id / path the virtual server sends to; PoolName its display name.
	Pool     string `json:"pool,omitempty"`
	PoolName string `json:"poolName,omitempty"`
	// Backends are in the order the source lists them (OVN VIP value, NSX pool members).
	Backends []LBBackend `json:"backends,omitempty"`
}

// LBBackend is one backend of a VIP: an OVN VIP target or an NSX pool member.
type LBBackend struct {
	IP   string `json:"ip"`
	Port int    `json:"port,omitempty"`
	// Name is the pool member's display_name (NSX); "" when none.
	Name string `json:"name,omitempty"`
	// Status is up, down, disabled or unknown: NSX pool member status (UP/DOWN/DISABLED/UNUSED),
	// OVN Service_Monitor status for health-checked VIPs; unknown when nothing checks it.
	Status string `json:"status,omitempty"`
	// StatusDetail is what the source says about a backend that is not up ("health check failed").
	StatusDetail string `json:"statusDetail,omitempty"`
}

// LBHealthCheck is a load balancer's health check (OVN Load_Balancer_Health_Check, NSX monitor).
type LBHealthCheck struct {
	// ID names the check (row UUID, monitor id / path).
	ID string `json:"id,omitempty"`
	// Kind is the monitor type (OVN: "ovn-service-monitor"; NSX: LbHttpMonitor, LbTcpMonitor ...).
	Kind string `json:"kind,omitempty"`
	// Options are the check's options as the source gives them (interval, timeout, success_count ...).
	Options map[string]string `json:"options,omitempty"`
}

// NAT rule types (NATRule.Type). OVN's words; NSX's SNAT, DNAT, REFLEXIVE, NO_SNAT and NO_DNAT map
// to snat, dnat, dnat_and_snat (a stateless 1:1 rule both ways), no_snat and no_dnat.
const (
	NATSnat        = "snat"
	NATDnat        = "dnat"
	NATDnatAndSnat = "dnat_and_snat"
	NATNoSnat      = "no_snat"
	NATNoDnat      = "no_dnat"
)

// NAT origin kinds (NATOrigin.Kind): what made a rule apply to a pod.
const (
	// NATOriginNamespace is NCP's per-namespace SNAT rule (tags ncp/project).
	NATOriginNamespace = "namespace"
	// NATOriginSNATPool is an SNAT IP from the pool a ncp/snat_pool annotation names (on the pod,
	// its namespace or Service).
	NATOriginSNATPool = "ncp/snat_pool"
	// NATOriginEgressIP is an egress IP (OVN-Kubernetes EgressIP, Antrea Egress).
	NATOriginEgressIP = "egress-ip"
	// NATOriginCluster is a cluster-wide rule (OVN-Kubernetes' node SNAT to the node IP, NCP's
	// cluster SNAT).
	NATOriginCluster = "cluster"
	// NATOriginFloatingIP is a 1:1 rule for one address (OVN dnat_and_snat, NSX REFLEXIVE).
	NATOriginFloatingIP = "floating-ip"
)

// NATRule is one NAT rule on a logical router (OVN NAT row, NSX MP NatRule / Policy PolicyNatRule).
//
// For snat, a packet whose source is in Match.Source (and destination in Match.Destination when set)
// leaves with source TranslatedIP; the reply's destination is translated back. For dnat, a packet to
// Match.Destination is sent on to TranslatedIP. dnat_and_snat does both for one inside address
// (OVN: logical_ip <-> external_ip).
type NATRule struct {
	// ID is the row's UUID (OVN) or the rule's id / Policy path (NSX).
	ID string `json:"id"`
	// Name is the rule's display_name; "" when it has none.
	Name string `json:"name,omitempty"`
	// Type is snat, dnat, dnat_and_snat, no_snat or no_dnat.
	Type string `json:"type"`
	// Router is the Router.ID the rule is configured on (OVN gateway router, NSX tier-0 or tier-1).
	Router string `json:"router"`
	// Match is what the rule applies to.
	Match NATMatch `json:"match"`
	// TranslatedIP is what the matched address becomes: the external address of an snat / the
	// inside address of a dnat (OVN external_ip / logical_ip; NSX translated_network). A CIDR or
	// range means one of a pool.
	TranslatedIP string `json:"translatedIp,omitempty"`
	// TranslatedPorts is the port or range the port becomes (OVN external_port_range, NSX
	// translated_ports); "" when ports are kept.
	TranslatedPorts string `json:"translatedPorts,omitempty"`
	// AppliedTo are the router port IDs the rule is enforced on (OVN gateway_port / the distributed
	// gateway port; NSX applied_tos); empty means every uplink of Router.
	AppliedTo []string `json:"appliedTo,omitempty"`
	// ExternalMAC and LogicalPort are OVN's distributed dnat_and_snat: the rule is applied on the
	// chassis of LogicalPort with ExternalMAC as the floating IP's MAC.
	ExternalMAC string `json:"externalMac,omitempty"`
	LogicalPort string `json:"logicalPort,omitempty"`
	// Priority orders rules that match one packet: NSX rule_priority (lowest first); OVN none (the
	// longest logical_ip prefix wins), 0.
	Priority int `json:"priority,omitempty"`
	// Disabled rules are never applied (NSX enabled: false).
	Disabled bool `json:"disabled,omitempty"`
	// Origin is what created the rule and why it applies (a namespace, a ncp/snat_pool, an egress
	// IP); nil when nothing says.
	Origin *NATOrigin `json:"origin,omitempty"`
	Source string     `json:"source,omitempty"`
}

// NATMatch is what a NAT rule matches.
type NATMatch struct {
	// Source is the inside address or network a rule applies to (OVN logical_ip for snat; NSX
	// source_network); "" = any.
	Source string `json:"source,omitempty"`
	// Destination is the address a dnat rule answers on (OVN external_ip for dnat; NSX
	// destination_network), or the destination an snat is limited to; "" = any.
	Destination string `json:"destination,omitempty"`
	// Expression is a further match the tool does not evaluate (OVN NAT.match, NSX service); a rule
	// with one is reported, not assumed to apply.
	Expression string `json:"expression,omitempty"`
}

// NATOrigin is what created a NAT rule and why it applies to a pod, read from the rule's tags
// (NCP ncp/project, ncp/snat_pool ...) or external_ids (OVN-Kubernetes).
type NATOrigin struct {
	// Kind is namespace, ncp/snat_pool, egress-ip, cluster or floating-ip.
	Kind string `json:"kind"`
	// Namespace is the namespace the rule is for; Name the object that asked for it (the pool, the
	// EgressIP, the Service).
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Tags are the raw tags / external_ids the origin was read from, for evidence.
	Tags map[string]string `json:"tags,omitempty"`
}

// OFProtoTrace is what `ovs-appctl ofproto/trace BRIDGE FLOW` printed on a node for one packet of a
// walk: the OpenFlow tables, groups and conntrack actions the node's OVS takes (trace --ofproto-trace).
type OFProtoTrace struct {
	// Bridge is the bridge traced (br-int).
	Bridge string `json:"bridge"`
	// Flow is the flow given to ofproto/trace (in_port=5,dl_vlan=..,tcp,nw_src=..,nw_dst=..,tp_dst=..).
	Flow string `json:"flow"`
	// Src and Dst are the packet's addresses the flow was built from ("IP" or "IP:PORT"), so the
	// engine matches a trace to a hop.
	Src string `json:"src"`
	Dst string `json:"dst"`
	// Protocol is TCP, UDP or "" for ICMP.
	Protocol string `json:"protocol,omitempty"`
	// DatapathActions is the trace's final "Datapath actions:" line.
	DatapathActions string `json:"datapathActions,omitempty"`
	// Groups are the OpenFlow groups the packet went through ("group:3"), in order.
	Groups []string `json:"groups,omitempty"`
	// NAT is the address the trace's ct(nat(dst=...)) / ct(nat(src=...)) translated to: "IP[:PORT]";
	// "" when no NAT. For a select group that picks by hash, the bucket ofproto/trace chose.
	NAT string `json:"nat,omitempty"`
	// Output is the trace's text, trimmed to its flow lines (what a reader checks against).
	Output []string `json:"output,omitempty"`
	// Error is why the trace could not be read (the runner failed, ovs-appctl said no).
	Error  string `json:"error,omitempty"`
	Source string `json:"source,omitempty"`
}

// Packet is a packet's addresses at one hop; set on hops from a NAT on, so a reader sees the
// source and destination as translated (and translated back on the return path).
type Packet struct {
	// Src and Dst are "IP" or "IP:PORT".
	Src string `json:"src"`
	Dst string `json:"dst"`
	// Protocol is TCP, UDP, SCTP or "" (ICMP, the walk's default probe).
	Protocol string `json:"protocol,omitempty"`
}

// ServiceDetail is the service hop's own facts (Hop.Service).
type ServiceDetail struct {
	// Service is NS/NAME; Type its type.
	Service string `json:"service"`
	Type    string `json:"type,omitempty"`
	// VIP is the address and port the packet was sent to ("10.96.0.10:53", a node IP and NodePort,
	// a load balancer IP); Protocol TCP, UDP or SCTP.
	VIP      string `json:"vip"`
	Protocol string `json:"protocol,omitempty"`
	// PortName is the Service port's name; TargetPort the target port as the Service writes it
	// (a number or a name), resolved to the endpoint's port number.
	PortName   string `json:"portName,omitempty"`
	TargetPort string `json:"targetPort,omitempty"`
	// LoadBalancing is where the choice is made: node-ovs or fabric.
	LoadBalancing string `json:"loadBalancing,omitempty"`
	// LoadBalancer names the object that chooses (OVN Load_Balancer name, NSX virtual server,
	// "br-int group:N" on the node); "" when none was found.
	LoadBalancer string `json:"loadBalancer,omitempty"`
	// Endpoint is the chosen endpoint "IP:PORT"; EndpointPod and EndpointNode where it runs.
	Endpoint     string `json:"endpoint,omitempty"`
	EndpointPod  string `json:"endpointPod,omitempty"`
	EndpointNode string `json:"endpointNode,omitempty"`
	// Ready is how many endpoints are ready; Endpoints how many the slices list.
	Ready     int `json:"ready"`
	Endpoints int `json:"endpoints"`
	// ChosenBy says how the endpoint was chosen.
	ChosenBy Choice `json:"chosenBy,omitempty"`
}

// Choice is how a Service walk's endpoint was chosen (ServiceDetail.ChosenBy).
type Choice string

// Endpoint choices. ChosenByRequest is worded by the command (the flag that names the endpoint):
// nothing in trace/ names a flag.
const (
	// ChosenEach: every ready endpoint is walked.
	ChosenEach Choice = "each"
	// ChosenByRequest: the request named the endpoint (Request.Endpoint).
	ChosenByRequest Choice = "request"
	// ChosenByOFProto: the bucket the source node's OVS picked (ofproto/trace).
	ChosenByOFProto Choice = "ofproto/trace"
)

// NATDetail is the nat hop's own facts (Hop.NAT).
type NATDetail struct {
	// Type is snat, dnat or dnat_and_snat.
	Type string `json:"type"`
	// Rule and RuleName name the rule; Router the router it is on.
	Rule     string `json:"rule,omitempty"`
	RuleName string `json:"ruleName,omitempty"`
	Router   string `json:"router,omitempty"`
	// Original and Translated are the packet before and after the rule.
	Original   Packet `json:"original"`
	Translated Packet `json:"translated"`
	// Reverse is true on the return path: the reply translated back (un-NATed).
	Reverse bool `json:"reverse,omitempty"`
	// Origin is what created the rule and why it applies.
	Origin *NATOrigin `json:"origin,omitempty"`
}

// ServiceWalk is a walk to a Service (Walk.Service): the Service, the load-balancing facts, and one
// walk per ready endpoint (or the one --endpoint names). The Service is reachable when any is.
type ServiceWalk struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Type      string `json:"type,omitempty"`
	// VIP, Protocol, PortName and TargetPort as in ServiceDetail.
	VIP        string `json:"vip"`
	Protocol   string `json:"protocol,omitempty"`
	PortName   string `json:"portName,omitempty"`
	TargetPort string `json:"targetPort,omitempty"`
	// LoadBalancing is node-ovs or fabric.
	LoadBalancing string `json:"loadBalancing,omitempty"`
	// Endpoints is how many endpoints the slices list; Ready how many are ready; Reachable how many
	// of the walked ones are reachable.
	Endpoints int `json:"endpoints"`
	Ready     int `json:"ready"`
	Reachable int `json:"reachable"`
	// Walks are the endpoint walks, each whole from the source pod with its own verdict, in
	// endpoint address order.
	Walks []EndpointWalk `json:"walks,omitempty"`
}

// EndpointWalk is the walk to one endpoint of a Service.
type EndpointWalk struct {
	// Endpoint is "IP:PORT"; Pod and Node where it runs; Ready its readiness.
	Endpoint string  `json:"endpoint"`
	Pod      *PodRef `json:"pod,omitempty"`
	Node     string  `json:"node,omitempty"`
	Ready    bool    `json:"ready"`
	Walk     Walk    `json:"walk"`
}
