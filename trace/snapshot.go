// Package trace holds the snapshot model (the facts collected from a cluster, its nodes and its fabric)
// and the walk engine, a pure function from a Snapshot and a Request to a Walk.
//
// It imports none of client-go, netlink or libovsdb: collectors fill a Snapshot, the engine correlates.
package trace

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// APIVersion is the version written into, and required of, every snapshot.
const APIVersion = "packetwalk/v1"

// Source names used in evidence; collectors append "@NODE" to the node-local ones.
const (
	SourceKube    = "kube"
	SourceNetlink = "netlink"
	SourceOVSDB   = "ovsdb"
	SourceFDB     = "fdb"
	SourceNSX     = "nsx"
	SourceOVN     = "ovn"
	SourceEngine  = "engine"
)

// Snapshot is every fact one walk (or many) needs, as plain JSON-serialisable data.
type Snapshot struct {
	APIVersion string `json:"apiVersion"`
	// Sources lists who collected what and when; facts refer to these names in their Source field.
	Sources []SourceInfo `json:"sources,omitempty"`
	Cluster Cluster      `json:"cluster"`
	Nodes   []NodeState  `json:"nodes,omitempty"`
	Fabric  *Fabric      `json:"fabric,omitempty"`
}

// SourceInfo records one source of facts, when it was read and what went wrong reading it.
type SourceInfo struct {
	Name        string    `json:"name"`
	CollectedAt time.Time `json:"collectedAt,omitempty"`
	Warnings    []string  `json:"warnings,omitempty"`
}

// Cluster holds the Kubernetes API facts.
type Cluster struct {
	Nodes []Node `json:"nodes,omitempty"`
	Pods  []Pod  `json:"pods,omitempty"`
	// Services and EndpointSlices are the walk's Service and its slices (svcmodel.go).
	Services       []Service       `json:"services,omitempty"`
	EndpointSlices []EndpointSlice `json:"endpointSlices,omitempty"`
}

// Node is a Kubernetes node.
type Node struct {
	Name      string        `json:"name"`
	Addresses []NodeAddress `json:"addresses,omitempty"`
	PodCIDRs  []string      `json:"podCIDRs,omitempty"`
	// Ready is nil when the Ready condition is unknown.
	Ready  *bool  `json:"ready,omitempty"`
	Source string `json:"source,omitempty"`
}

// NodeAddress is one entry of a node's status.addresses.
type NodeAddress struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

// Pod is a Kubernetes pod.
type Pod struct {
	Namespace   string   `json:"namespace"`
	Name        string   `json:"name"`
	Node        string   `json:"node,omitempty"`
	IPs         []string `json:"ips,omitempty"`
	HostNetwork bool     `json:"hostNetwork,omitempty"`
	Phase       string   `json:"phase,omitempty"`
	// Labels are the pod's labels, for `check --from SELECTOR`.
	Labels map[string]string `json:"labels,omitempty"`
	Source string            `json:"source,omitempty"`
}

// NodeState is what was collected on one node: its network namespaces and its OVS.
//
// Conventions every node collector (native netlink, agentless `ip -j`, ...) follows, so that two
// collectors of one node agree field by field:
//   - Netns: the node's own namespace is Name "root", Root true; a named netns (/var/run/netns) has
//     its file name; a namespace known only through a process is "pid:PID" (lowest PID).
//     Sorted: root first, then by Name.
//   - Links sorted by Index. Kind: netlink's link type ("veth", "vlan", "bridge", "openvswitch",
//     "tun", "tap" for tun in tap mode, "dummy", ...), "device" for a plain NIC, "loopback" for lo.
//     MAC lower-case colon form, "" when none. OperState lower-case ("up", "down", "unknown",
//     "lowerlayerdown"). AdminUp = IFF_UP. PeerIndex = IFLA_LINK of a veth (0 when none);
//     PeerNetnsID = link_netnsid when the kernel reports it; PeerNetns = the Name of the netns
//     holding the peer ("root" included) when resolved; Master/Parent = names, not indexes.
//   - Addresses: every non-tentative address of every link, "IP/LEN", sorted by link index then
//     address text.
//   - Routes: the main table only (Table 0 means main), Dst "default" or a masked CIDR, Gateway
//     bare IP, Dev name, Scope "link"/"host" ("" for universe), Src bare IP; sorted by Dst then Dev.
//   - Neighbors: IP, MAC lower-case, Dev, State upper-case as `ip neigh` prints it
//     ("REACHABLE", "STALE", "PERMANENT", ...); entries without a MAC (FAILED/INCOMPLETE) kept.
//   - OVS: bridges, ports, interfaces sorted by name; Tag nil when unset; Trunks sorted;
//     VLANMode "" when unset; OFPort -1 when OVS failed to attach; MACTable in the order
//     fdb/show prints it, Port as printed ("1", "LOCAL").
type NodeState struct {
	// Name is the Kubernetes node name.
	Name  string  `json:"name"`
	Netns []Netns `json:"netns,omitempty"`
	OVS   *OVS    `json:"ovs,omitempty"`
	// Refreshed are the pods that sent a packet just before this node's MAC table was read
	// (trace --refresh or --probe): a MAC of theirs missing from the table is then a fault, not
	// an idle pod.
	Refreshed []PodRef `json:"refreshed,omitempty"`
	// OFProtoTraces are ofproto/trace runs for the walk's packets on this node (svcmodel.go).
	OFProtoTraces []OFProtoTrace `json:"ofprotoTraces,omitempty"`
	Warnings      []string       `json:"warnings,omitempty"`
}

// Netns is one network namespace on a node with its links, addresses, routes and neighbours.
type Netns struct {
	// Name is "root" for the node's own namespace, else the named netns or "pid:N".
	Name string `json:"name"`
	Root bool   `json:"root,omitempty"`
	// Inode identifies the namespace (de-duplication across /proc and /var/run/netns).
	Inode uint64 `json:"inode,omitempty"`
	// Pod is set when the collector knows which pod owns the namespace.
	Pod       *PodRef    `json:"pod,omitempty"`
	Links     []Link     `json:"links,omitempty"`
	Addresses []Address  `json:"addresses,omitempty"`
	Routes    []Route    `json:"routes,omitempty"`
	Neighbors []Neighbor `json:"neighbors,omitempty"`
	Source    string     `json:"source,omitempty"`
}

// SortNodeNetns orders a node's namespaces as the NodeState conventions say (root first, then by
// name) and the facts of each (SortNetns).
func SortNodeNetns(nss []Netns) {
	sort.SliceStable(nss, func(i, j int) bool {
		if nss[i].Root != nss[j].Root {
			return nss[i].Root
		}
		return nss[i].Name < nss[j].Name
	})
	for i := range nss {
		SortNetns(&nss[i])
	}
}

// SortNetns orders one namespace's facts as the NodeState conventions say, so that collectors of
// one node agree field by field.
func SortNetns(ns *Netns) {
	idx := map[string]int{}
	for _, l := range ns.Links {
		idx[l.Name] = l.Index
	}
	sort.Slice(ns.Links, func(i, j int) bool { return ns.Links[i].Index < ns.Links[j].Index })
	sort.Slice(ns.Addresses, func(i, j int) bool {
		a, b := ns.Addresses[i], ns.Addresses[j]
		if idx[a.Link] != idx[b.Link] {
			return idx[a.Link] < idx[b.Link]
		}
		return a.CIDR < b.CIDR
	})
	sort.Slice(ns.Routes, func(i, j int) bool {
		a, b := ns.Routes[i], ns.Routes[j]
		if a.Dst != b.Dst {
			return a.Dst < b.Dst
		}
		if a.Dev != b.Dev {
			return a.Dev < b.Dev
		}
		return a.Gateway < b.Gateway
	})
	sort.Slice(ns.Neighbors, func(i, j int) bool {
		a, b := ns.Neighbors[i], ns.Neighbors[j]
		if a.Dev != b.Dev {
			return a.Dev < b.Dev
		}
		return a.IP < b.IP
	})
}

// PodRef names a pod.
type PodRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// String returns NAMESPACE/NAME.
func (p PodRef) String() string { return p.Namespace + "/" + p.Name }

// Link kinds.
const (
	KindVeth     = "veth"
	KindVLAN     = "vlan"
	KindBridge   = "bridge"
	KindInternal = "openvswitch"
	KindTun      = "tun"
	KindDevice   = "device"
	KindLoopback = "loopback"
)

// Link is a network interface as netlink reports it (`ip -d link`).
type Link struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Kind  string `json:"kind,omitempty"`
	MAC   string `json:"mac,omitempty"`
	MTU   int    `json:"mtu,omitempty"`
	// OperState is "up", "down", "unknown", ... as the kernel reports it.
	OperState string `json:"operState,omitempty"`
	// AdminUp is the IFF_UP flag; a link set down has AdminUp false.
	AdminUp bool `json:"adminUp"`
	// PeerIndex is the veth peer's ifindex (IFLA_LINK); with PeerNetns it names the peer.
	PeerIndex int `json:"peerIndex,omitempty"`
	// PeerNetnsID is the raw link_netnsid; PeerNetns the name of that namespace when resolved.
	PeerNetnsID *int   `json:"peerNetnsId,omitempty"`
	PeerNetns   string `json:"peerNetns,omitempty"`
	VLANID      int    `json:"vlanId,omitempty"`
	Parent      string `json:"parent,omitempty"`
	Master      string `json:"master,omitempty"`
}

// Up reports whether the link is administratively up and not operationally down.
func (l Link) Up() bool {
	return l.AdminUp && l.OperState != "down" && l.OperState != "lowerlayerdown"
}

// Address is an address on a link, in CIDR form.
type Address struct {
	Link string `json:"link"`
	CIDR string `json:"cidr"`
}

// Route is a routing table entry. Dst is a CIDR or "default".
type Route struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway,omitempty"`
	Dev     string `json:"dev,omitempty"`
	Table   int    `json:"table,omitempty"`
	Scope   string `json:"scope,omitempty"`
	Src     string `json:"src,omitempty"`
}

// Neighbor is an ARP / NDP entry.
type Neighbor struct {
	IP    string `json:"ip"`
	MAC   string `json:"mac,omitempty"`
	Dev   string `json:"dev,omitempty"`
	State string `json:"state,omitempty"`
}

// OVS is one node's Open vSwitch: its database and the MAC tables of its bridges.
type OVS struct {
	Bridges    []Bridge    `json:"bridges,omitempty"`
	Ports      []Port      `json:"ports,omitempty"`
	Interfaces []Interface `json:"interfaces,omitempty"`
	MACTable   []MACEntry  `json:"macTable,omitempty"`
	Source     string      `json:"source,omitempty"`
	FDBSource  string      `json:"fdbSource,omitempty"`
}

// DefaultMACAgingTime is how long OVS keeps a MAC table entry without a frame from that MAC,
// in seconds, when the bridge's other_config:mac-aging-time is not set.
const DefaultMACAgingTime = 300

// Bridge is an OVS bridge.
type Bridge struct {
	Name         string   `json:"name"`
	DatapathType string   `json:"datapathType,omitempty"`
	Ports        []string `json:"ports,omitempty"`
	// MACAgingTime is other_config:mac-aging-time in seconds; 0 when unset (OVS then uses
	// DefaultMACAgingTime), so snapshots written before it existed read the same.
	MACAgingTime int `json:"macAgingTime,omitempty"`
}

// AgingTime is how long the bridge keeps an idle MAC, in seconds.
func (b Bridge) AgingTime() int {
	if b.MACAgingTime > 0 {
		return b.MACAgingTime
	}
	return DefaultMACAgingTime
}

// Port is an OVS port; Tag is its access VLAN, Trunks the VLANs it carries tagged.
type Port struct {
	Name       string   `json:"name"`
	Bridge     string   `json:"bridge"`
	Tag        *int     `json:"tag,omitempty"`
	Trunks     []int    `json:"trunks,omitempty"`
	VLANMode   string   `json:"vlanMode,omitempty"`
	Interfaces []string `json:"interfaces,omitempty"`
}

// Interface is an OVS interface.
type Interface struct {
	Name        string            `json:"name"`
	OFPort      int               `json:"ofport,omitempty"`
	Type        string            `json:"type,omitempty"`
	MACInUse    string            `json:"macInUse,omitempty"`
	AdminState  string            `json:"adminState,omitempty"`
	LinkState   string            `json:"linkState,omitempty"`
	ExternalIDs map[string]string `json:"externalIds,omitempty"`
}

// MACEntry is one line of `ovs-appctl fdb/show BRIDGE`. Port is the OpenFlow port as printed
// (a number or "LOCAL").
type MACEntry struct {
	Bridge string `json:"bridge"`
	Port   string `json:"port"`
	VLAN   int    `json:"vlan"`
	MAC    string `json:"mac"`
	Age    int    `json:"age,omitempty"`
}

// Fabric is the SDN's logical topology: switches, their ports, routers, router ports and routes.
type Fabric struct {
	// Provider is "nsx" or "ovn".
	Provider    string        `json:"provider"`
	Switches    []Switch      `json:"switches,omitempty"`
	SwitchPorts []SwitchPort  `json:"switchPorts,omitempty"`
	Routers     []Router      `json:"routers,omitempty"`
	RouterPorts []RouterPort  `json:"routerPorts,omitempty"`
	Routes      []FabricRoute `json:"routes,omitempty"`
	// NotFound are endpoint IPs the provider looked for and found no port for (it warned what it
	// tried): the walk says unknown there, not broken.
	NotFound []string `json:"notFound,omitempty"`
	// Hosts are the hypervisors the walk's logical ports are bound to (overlay.go).
	Hosts []Host `json:"hosts,omitempty"`
	// Firewall is the distributed firewall's rules for the walk's ports; nil when not read.
	Firewall *Firewall `json:"firewall,omitempty"`
	// ServiceLoadBalancing is where ClusterIP and NodePort traffic is balanced: node-ovs or fabric
	// (svcmodel.go); "" when the provider does not say.
	ServiceLoadBalancing string `json:"serviceLoadBalancing,omitempty"`
	// LoadBalancers are the fabric load balancers for the walk's Service addresses (svcmodel.go).
	LoadBalancers []LoadBalancer `json:"loadBalancers,omitempty"`
	// NATRules are the NAT rules on the walk's routers (svcmodel.go).
	NATRules []NATRule `json:"natRules,omitempty"`
}

// Switch is a logical switch (NSX logical switch / segment, OVN Logical_Switch).
type Switch struct {
	ID      string   `json:"id"`
	Name    string   `json:"name,omitempty"`
	Subnets []string `json:"subnets,omitempty"`
	Source  string   `json:"source,omitempty"`
}

// Switch port types.
const (
	PortVIF    = "vif"
	PortChild  = "child"
	PortRouter = "router"
)

// SwitchPort is a logical switch port. A CHILD port has ParentPort (or ParentVIF) and TrafficTag.
type SwitchPort struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Switch string `json:"switch"`
	// Type is vif, child or router.
	Type string `json:"type,omitempty"`
	// AttachmentID is the VIF attachment id (NSX) or the port's iface-id (OVN).
	AttachmentID string `json:"attachmentId,omitempty"`
	// ParentPort is the ID of the parent switch port; ParentVIF the parent's attachment id as the fabric gives it.
	ParentPort string   `json:"parentPort,omitempty"`
	ParentVIF  string   `json:"parentVif,omitempty"`
	TrafficTag *int     `json:"trafficTag,omitempty"`
	MACs       []string `json:"macs,omitempty"`
	IPs        []string `json:"ips,omitempty"`
	// RouterPort is the router port this switch port is linked to (Type router).
	RouterPort string `json:"routerPort,omitempty"`
	// NodeName is the Kubernetes node whose VIF this is (NSX tag ncp/node_name).
	NodeName string `json:"nodeName,omitempty"`
	// Pod is the pod the fabric says this port belongs to (NSX ncp/pod tags, OVN external_ids).
	Pod *PodRef `json:"pod,omitempty"`
	// Host is the Host.ID the port is bound to (OVN Port_Binding.chassis, NSX
	// LogicalPortState.transport_node_ids); "" when unbound or not read.
	Host   string `json:"host,omitempty"`
	Up     *bool  `json:"up,omitempty"`
	Source string `json:"source,omitempty"`
}

// Router tiers.
const (
	Tier0 = "tier0"
	Tier1 = "tier1"
)

// Router is a logical router (NSX TIER0 / TIER1, OVN Logical_Router).
type Router struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Tier   string `json:"tier,omitempty"`
	Source string `json:"source,omitempty"`
}

// Router port kinds.
const (
	RouterPortDownlink = "downlink"
	RouterPortLink     = "link"
	RouterPortUplink   = "uplink"
)

// RouterPort is a router interface. Networks are CIDRs with the port's own address (172.16.1.1/24).
type RouterPort struct {
	ID       string   `json:"id"`
	Name     string   `json:"name,omitempty"`
	Router   string   `json:"router"`
	Kind     string   `json:"kind,omitempty"`
	Networks []string `json:"networks,omitempty"`
	MAC      string   `json:"mac,omitempty"`
	// LinkedSwitchPort is the switch port this downlink attaches to.
	LinkedSwitchPort string `json:"linkedSwitchPort,omitempty"`
	// PeerRouterPort is the router port at the other end of a router link.
	PeerRouterPort string `json:"peerRouterPort,omitempty"`
	Up             *bool  `json:"up,omitempty"`
	Source         string `json:"source,omitempty"`
}

// Route origins.
const (
	OriginStatic     = "static"
	OriginConnected  = "connected"
	OriginAdvertised = "advertised"
	OriginRuntime    = "runtime"
	OriginDefault    = "tier1-default"
)

// FabricRoute is a route on a logical router; NextHop empty means a discard / unreachable route.
type FabricRoute struct {
	Router  string `json:"router"`
	Prefix  string `json:"prefix"`
	NextHop string `json:"nextHop,omitempty"`
	// OutPort optionally pins the egress router port.
	OutPort string `json:"outPort,omitempty"`
	// Origin says where the route came from: static, connected, advertised, runtime, tier1-default.
	Origin string `json:"origin,omitempty"`
	Source string `json:"source,omitempty"`
}

// SnapshotError is a problem with a snapshot file: unreadable, not JSON, or the wrong version.
type SnapshotError struct {
	Msg string
	// Err is the error Msg came from, if any.
	Err error
}

func (e *SnapshotError) Error() string { return e.Msg }

// Unwrap returns the error the message came from.
func (e *SnapshotError) Unwrap() error { return e.Err }

// ReadSnapshot decodes and validates a snapshot.
func ReadSnapshot(r io.Reader, name string) (*Snapshot, error) {
	var s Snapshot
	dec := json.NewDecoder(r)
	if err := decodeStream(dec, &s); err != nil {
		return nil, &SnapshotError{Msg: fmt.Sprintf("snapshot %s is not valid JSON: %v", name, err), Err: err}
	}
	if s.APIVersion == "" {
		return nil, &SnapshotError{Msg: fmt.Sprintf("snapshot %s has no apiVersion: expected %q (write it with `kubectl packetwalk collect`)", name, APIVersion)}
	}
	if s.APIVersion != APIVersion {
		return nil, &SnapshotError{Msg: fmt.Sprintf("snapshot %s has apiVersion %q: this version of kubectl-packetwalk reads %q", name, s.APIVersion, APIVersion)}
	}
	return &s, nil
}

// LoadSnapshot reads a snapshot file.
func LoadSnapshot(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &SnapshotError{Msg: fmt.Sprintf("cannot read snapshot: %v", err), Err: err}
	}
	defer f.Close()
	return ReadSnapshot(f, path)
}

// WriteSnapshot encodes a snapshot as indented JSON.
func WriteSnapshot(w io.Writer, s *Snapshot) error {
	if s.APIVersion == "" {
		s.APIVersion = APIVersion
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
