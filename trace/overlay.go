package trace

// The transport and firewall model: the hypervisors (hosts) a fabric's logical ports are bound to,
// their tunnel endpoints (TEPs) and tunnels, the MTUs the overlay needs, and the distributed
// firewall's rules in the firewall's own order. Providers fill these in Fabric.Hosts and
// Fabric.Firewall (NSX: transport nodes, their state and tunnels, MP sections / Policy security
// policies; OVN: Southbound Chassis/Encap/Port_Binding, the hypervisor's OVSDB, ACLs on switches
// and port groups); SwitchPort.Host binds a logical port to its Host.

// Hop kinds of the overlay and the firewall (see the Hop kinds in walk.go).
const (
	// HopTransport is the tunnel between two hosts: encapsulation from one TEP to the other.
	HopTransport HopKind = "transport"
	// HopFirewall is the firewall rule that decides the flow at a logical port.
	HopFirewall HopKind = "firewall"
	// HopHost is the one line a walk shows when both logical ports sit on the same host (no tunnel).
	HopHost HopKind = "host"
)

// Encapsulations a tunnel or TEP uses.
const (
	EncapGeneve = "geneve"
	EncapVXLAN  = "vxlan"
	EncapSTT    = "stt"
)

// Tunnel states.
const (
	TunnelUp       = "up"
	TunnelDown     = "down"
	TunnelDegraded = "degraded"
	TunnelUnknown  = "unknown"
)

// Host is a hypervisor that holds logical ports: an NSX transport node or an OVN chassis.
type Host struct {
	// ID is what logical ports name as their host: the NSX transport node id, the OVN chassis name
	// (the hypervisor's system-id).
	ID string `json:"id"`
	// Name is the host's display name or hostname (NSX display_name, OVN Chassis.hostname).
	Name string `json:"name,omitempty"`
	// TEPs are the host's tunnel endpoints (NSX TEP / vmk addresses, OVN Encap rows).
	TEPs []TEP `json:"teps,omitempty"`
	// HostSwitch is the switch the host's logical ports attach to (NSX host switch name, OVN
	// integration bridge "br-int").
	HostSwitch string `json:"hostSwitch,omitempty"`
	// HostSwitchMTU is the MTU the host switch carries (NSX uplink profile mtu; OVN: the MTU of the
	// bridge interface holding the TEP); 0 when unknown.
	HostSwitchMTU int `json:"hostSwitchMtu,omitempty"`
	// Underlay is how the host reaches other TEPs: the interface and route encapsulated packets
	// leave by; nil when not read.
	Underlay *Underlay `json:"underlay,omitempty"`
	// Tunnels are the host's tunnels to other hosts, as this host reports them.
	Tunnels []Tunnel `json:"tunnels,omitempty"`
	// Placeholder is true when the host is not a fact but stands in for one a source does not give
	// (the published scenario names no hypervisors); the walk marks what it derives from it.
	Placeholder bool `json:"placeholder,omitempty"`
	// Warnings are what went wrong reading this host (its OVSDB unreachable, ...).
	Warnings []string `json:"warnings,omitempty"`
	// Source names who said so (ovn-sb, nsx, ovsdb@HOST).
	Source string `json:"source,omitempty"`
}

// TEP is a tunnel endpoint of a host.
type TEP struct {
	// IP is the TEP's address (OVN Encap.ip, NSX tep_ip_addresses).
	IP string `json:"ip"`
	// Encap is the encapsulation: geneve, vxlan or stt.
	Encap string `json:"encap,omitempty"`
	// Interface is the host interface that holds the address (OVN: the bridge with ovn-encap-ip,
	// e.g. br-phy; NSX: the vmk/TEP device name); "" when unknown.
	Interface string `json:"interface,omitempty"`
	// Source names who said so.
	Source string `json:"source,omitempty"`
}

// Underlay is the host's physical side for tunnel traffic.
type Underlay struct {
	// Interface is the device encapsulated packets leave by (the route to the remote TEPs).
	Interface string `json:"interface,omitempty"`
	// MTU is that device's MTU: what the underlay carries; 0 when unknown.
	MTU int `json:"mtu,omitempty"`
	// Up is the device's link state; nil when unknown.
	Up *bool `json:"up,omitempty"`
	// Routes are the host's routes towards tunnel endpoints (OVS `ovs/route/show` or the kernel's),
	// in the Route form of node netns facts.
	Routes []Route `json:"routes,omitempty"`
	// Source names who said so.
	Source string `json:"source,omitempty"`
}

// Tunnel is one tunnel from a host to another, as the local host reports it.
type Tunnel struct {
	// Name is the tunnel's name on the host (OVS interface ovn-<chassis>-0, NSX tunnel name).
	Name string `json:"name,omitempty"`
	// Encap is the encapsulation: geneve, vxlan or stt.
	Encap string `json:"encap,omitempty"`
	// LocalIP and RemoteIP are the TEP addresses at both ends.
	LocalIP  string `json:"localIp,omitempty"`
	RemoteIP string `json:"remoteIp"`
	// RemoteHost is the Host.ID at the other end when the source names it (OVN external_ids
	// ovn-chassis-id, NSX remote_node_id); else the engine matches RemoteIP to a TEP.
	RemoteHost string `json:"remoteHost,omitempty"`
	// State is up, down, degraded or unknown: the tunnel's own status (NSX), or its BFD state.
	State string `json:"state,omitempty"`
	// BFD is the tunnel's BFD session; nil when BFD is not enabled on it (OVN enables it only
	// towards HA chassis), so its state is unknown unless something else says.
	BFD *BFD `json:"bfd,omitempty"`
	// MTU is the tunnel interface's MTU when the host reports one; 0 when unknown.
	MTU int `json:"mtu,omitempty"`
	// Source names who said so.
	Source string `json:"source,omitempty"`
}

// BFD is a tunnel's BFD session (OVS Interface bfd_status, NSX tunnel bfd).
type BFD struct {
	// State is the local session state: up, down, init or admin_down.
	State string `json:"state"`
	// RemoteState is the state the remote end reports.
	RemoteState string `json:"remoteState,omitempty"`
	// Diagnostic is the local diagnostic ("Control Detection Time Expired", "No Diagnostic").
	Diagnostic string `json:"diagnostic,omitempty"`
	// RemoteDiagnostic is the diagnostic the remote end reports.
	RemoteDiagnostic string `json:"remoteDiagnostic,omitempty"`
	// Forwarding is OVS's bfd_status:forwarding: whether BFD lets the tunnel carry traffic.
	Forwarding *bool `json:"forwarding,omitempty"`
}

// EncapOverhead is how many bytes an encapsulation adds to an inner IP packet of the pod's MTU:
// outer IPv4 (20) + UDP (8) + header (Geneve 8 plus OVN's 8-byte option; VXLAN 8) + the inner
// Ethernet header (14). 0 for an encapsulation it does not know.
func EncapOverhead(encap string) int {
	switch encap {
	case EncapGeneve:
		return 20 + 8 + 8 + 8 + 14
	case EncapVXLAN:
		return 20 + 8 + 8 + 14
	case EncapSTT:
		return 20 + 20 + 18 + 14
	}
	return 0
}

// Firewall directions, from the logical port's (the pod's or node's) point of view.
const (
	// FirewallEgress is traffic leaving the port's VM or pod (NSX OUT, OVN from-lport).
	FirewallEgress = "egress"
	// FirewallIngress is traffic entering the port's VM or pod (NSX IN, OVN to-lport).
	FirewallIngress = "ingress"
	// FirewallBoth is a rule for both directions (NSX IN_OUT).
	FirewallBoth = "both"
)

// Firewall actions, normalised; the rule's RawAction keeps the firewall's own word.
const (
	FirewallAllow  = "allow"
	FirewallDrop   = "drop"
	FirewallReject = "reject"
	// FirewallPass hands the decision to the next tier / category (OVN pass, NSX JUMP_TO_APPLICATION).
	FirewallPass = "pass"
	// FirewallUnknownAction is a decision the tool cannot tell: a rule's match it cannot evaluate,
	// or a default the source does not give.
	FirewallUnknownAction = "unknown"
)

// Firewall is the distributed firewall: every rule that can apply at the walk's logical ports.
type Firewall struct {
	// Kind names what was read: "ovn-acl", "nsx-mp" (sections and rules) or "nsx-policy"
	// (security policies and rules).
	Kind string `json:"kind"`
	// Rules are in the firewall's own evaluation order: the first rule that matches a flow
	// decides it (NSX: section order then rule order; Policy: category, policy sequence_number,
	// rule sequence_number; OVN: priority, highest first).
	Rules []FirewallRule `json:"rules,omitempty"`
	// DefaultAction is what happens to a flow no rule matches: allow, drop, or unknown when the
	// source does not say ("" reads as unknown). OVN without ACLs: allow.
	DefaultAction string `json:"defaultAction,omitempty"`
	// Complete is false when the collector read only part of the rules (a page or object it could
	// not fetch): a flow no rule matches is then unknown, not DefaultAction.
	Complete bool `json:"complete"`
	// Warnings are what went wrong reading the firewall.
	Warnings []string `json:"warnings,omitempty"`
	// Source names who said so.
	Source string `json:"source,omitempty"`
}

// FirewallRule is one rule (NSX MP firewall rule, Policy rule, OVN ACL) in normalised form: the rule
// matches a flow when it is enforced at the port (AppliedTo), in the flow's Direction, and Sources,
// Destinations, Services and the Unknown part all hold.
type FirewallRule struct {
	// ID is the rule's id (NSX rule id / path, OVN ACL UUID).
	ID string `json:"id"`
	// Name is the rule's display name (OVN ACL name); "" when it has none.
	Name string `json:"name,omitempty"`
	// Section is what holds the rule: NSX MP section id, Policy security policy path, OVN logical
	// switch or port group name.
	Section string `json:"section,omitempty"`
	// SectionName is the section's display name (or the OVN switch/port group name again).
	SectionName string `json:"sectionName,omitempty"`
	// Category is the NSX Policy category (Emergency, Application, ...) or the OVN ACL tier; "" when none.
	Category string `json:"category,omitempty"`
	// Priority is the rule's own ordering number as the firewall shows it (OVN ACL priority,
	// highest first; NSX sequence_number / rule position, lowest first). Rules is already in order.
	Priority int `json:"priority"`
	// Direction is egress, ingress or both, from the port's point of view.
	Direction string `json:"direction"`
	// Action is allow, drop, reject or pass.
	Action string `json:"action"`
	// RawAction is the firewall's own word for it (ALLOW, allow-related, allow-stateless, ...).
	RawAction string `json:"rawAction,omitempty"`
	// Stateful is true when an allowed flow's return traffic is allowed by its connection
	// (OVN allow-related, or allow on a switch with stateful ACLs; NSX stateful sections).
	Stateful bool `json:"stateful,omitempty"`
	// AppliedTo is where the rule is enforced.
	AppliedTo FirewallScope `json:"appliedTo"`
	// Sources and Destinations are what the packet's source and destination must be.
	Sources      FirewallPeer `json:"sources"`
	Destinations FirewallPeer `json:"destinations"`
	// Services are the protocols and destination ports the rule matches; empty means any.
	Services []FirewallService `json:"services,omitempty"`
	// Match is the rule's original match expression (OVN ACL match), for evidence.
	Match string `json:"match,omitempty"`
	// Unknown is the part of the match the tool cannot evaluate (an OVN field it does not model,
	// an NSGroup whose members it could not read). The rule matches only if that part also holds:
	// when every other condition holds, the walk says unknown at this rule, never a guess.
	Unknown string `json:"unknown,omitempty"`
	// Disabled rules are never evaluated (NSX disabled: true).
	Disabled bool `json:"disabled,omitempty"`
	// Default marks the firewall's default rule (NSX "Default Layer3 Rule"), the one that decides
	// when no other rule does.
	Default bool `json:"default,omitempty"`
	// Origin is what created the rule (a NetworkPolicy, ...); nil when nothing says.
	Origin *RuleOrigin `json:"origin,omitempty"`
	// Source names who said so.
	Source string `json:"source,omitempty"`
}

// FirewallScope is where a rule is enforced.
type FirewallScope struct {
	// Any is true when the rule applies at every port (NSX applied_tos empty: the whole DFW).
	Any bool `json:"any,omitempty"`
	// Switches are logical switch IDs whose every port enforces the rule (OVN ACL on a switch,
	// NSX applied to a logical switch).
	Switches []string `json:"switches,omitempty"`
	// Ports are switch port IDs that enforce it (OVN port group members, NSX applied_tos
	// logical ports and NSGroups resolved to their ports).
	Ports []string `json:"ports,omitempty"`
	// Groups name what Switches and Ports were resolved from (port group, NSGroup), for evidence.
	Groups []string `json:"groups,omitempty"`
}

// FirewallPeer is one side (source or destination) of a rule. The side matches when Any is set,
// or the address is in CIDRs, or the packet's port (source port for Sources, destination port for
// Destinations) is in Ports; Negate inverts that.
type FirewallPeer struct {
	// Any is true when the rule does not restrict this side. Any false with no CIDRs and no Ports
	// matches nothing (an empty address set).
	Any bool `json:"any,omitempty"`
	// CIDRs are addresses and networks ("10.0.0.5", "10.0.0.0/24") and ranges ("10.0.0.5-10.0.0.9").
	CIDRs []string `json:"cidrs,omitempty"`
	// Ports are switch port IDs (OVN inport/outport port group members, NSX logical ports).
	Ports []string `json:"ports,omitempty"`
	// Groups name what CIDRs and Ports were resolved from (address set, port group, NSGroup, IPSet,
	// Policy group), for evidence.
	Groups []string `json:"groups,omitempty"`
	// Negate means the side matches when the packet is NOT in the set (NSX sources_excluded, OVN !=).
	Negate bool `json:"negate,omitempty"`
}

// FirewallService is a protocol and its destination ports.
type FirewallService struct {
	// Protocol is tcp, udp, sctp, icmp, icmp6 or ip (any IP protocol).
	Protocol string `json:"protocol"`
	// Ports are destination ports or ranges ("80", "8000-8080"); empty means any port.
	Ports []string `json:"ports,omitempty"`
}

// Rule origin kinds.
const (
	OriginNetworkPolicy              = "NetworkPolicy"
	OriginAdminNetworkPolicy         = "AdminNetworkPolicy"
	OriginBaselineAdminNetworkPolicy = "BaselineAdminNetworkPolicy"
)

// RuleOrigin is what created a firewall rule, read from its tags (NCP ncp/network_policy) or
// external_ids (OVN-Kubernetes k8s.ovn.org/owner-type, k8s.ovn.org/name).
type RuleOrigin struct {
	// Kind is NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy, or the owner type as
	// the tags give it; "" when the tags name no kind.
	Kind string `json:"kind,omitempty"`
	// Namespace and Name name the object ("" Namespace for cluster-scoped ones).
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Tags are the raw tags / external_ids the origin was read from, for evidence.
	Tags map[string]string `json:"tags,omitempty"`
}

// String renders the origin as KIND: NS/NAME (or KIND: NAME).
func (o RuleOrigin) String() string {
	name := o.Name
	if o.Namespace != "" {
		name = o.Namespace + "/" + o.Name
	}
	if o.Kind == "" {
		return name
	}
	return o.Kind + ": " + name
}

// TransportDetail is the transport hop's own facts (Hop.Transport).
type TransportDetail struct {
	// LocalHost and RemoteHost are the hosts' names (Host.Name, else Host.ID).
	LocalHost  string `json:"localHost"`
	RemoteHost string `json:"remoteHost"`
	// LocalTEP and RemoteTEP are the tunnel endpoints' addresses.
	LocalTEP  string `json:"localTep,omitempty"`
	RemoteTEP string `json:"remoteTep,omitempty"`
	// Encap is the encapsulation (geneve, vxlan, stt).
	Encap string `json:"encap,omitempty"`
	// Tunnel is the tunnel's name on the local host.
	Tunnel string `json:"tunnel,omitempty"`
	// State is the tunnel's state (up, down, degraded, unknown).
	State string `json:"state"`
	// TunnelMissing is true when the local host reports tunnels but none towards the remote host
	// (the hop's Detail says so; this is its typed form for the engine).
	TunnelMissing bool `json:"-"`
	// BFDDiagnostic is the BFD diagnostic when BFD says why the tunnel is down.
	BFDDiagnostic string `json:"bfdDiagnostic,omitempty"`
	// InnerMTU is the largest packet the sender may send (the pod's MTU, else the node's).
	InnerMTU int `json:"innerMtu,omitempty"`
	// MTUNeeded is InnerMTU plus the encapsulation overhead: what the underlay must carry.
	MTUNeeded int `json:"mtuNeeded,omitempty"`
	// UnderlayMTU is the smallest MTU the underlay and host switch carry; 0 when unknown.
	UnderlayMTU int `json:"underlayMtu,omitempty"`
	// Placeholder is true when a host on this hop stands in for one the source does not give.
	Placeholder bool `json:"placeholder,omitempty"`
}

// FirewallDetail is the firewall hop's own facts (Hop.Firewall).
type FirewallDetail struct {
	// Direction is egress (at the source port) or ingress (at the destination port).
	Direction string `json:"direction"`
	// Action is allow, drop, reject or unknown: what the firewall does with this flow.
	Action string `json:"action"`
	// RuleID and RuleName name the deciding rule; both "" when no rule matched (DefaultAction).
	RuleID   string `json:"ruleId,omitempty"`
	RuleName string `json:"ruleName,omitempty"`
	// Section and SectionName name what holds the rule (section, security policy, switch, port group).
	Section     string `json:"section,omitempty"`
	SectionName string `json:"sectionName,omitempty"`
	// Priority is the deciding rule's priority / sequence number.
	Priority int `json:"priority,omitempty"`
	// Default is true when the firewall's default rule or default action decided.
	Default bool `json:"default,omitempty"`
	// NetworkPolicy is NS/NAME of the NetworkPolicy that created the rule, when one did.
	NetworkPolicy string `json:"networkPolicy,omitempty"`
	// Origin is what created the rule, with its raw tags.
	Origin *RuleOrigin `json:"origin,omitempty"`
	// Connection is true on the return path: the reply is allowed by the connection the forward
	// flow opened (a stateful rule), not evaluated as a new flow.
	Connection bool `json:"connection,omitempty"`
}
