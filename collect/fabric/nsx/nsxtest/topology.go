package nsxtest

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Topology is what the test server serves: Management API objects and their Policy API intent.
type Topology struct {
	LogicalSwitches    []LogicalSwitch
	LogicalPorts       []LogicalPort
	LogicalRouters     []LogicalRouter
	LogicalRouterPorts []LogicalRouterPort
	// StaticRoutes and Advertisement are keyed by logical router id.
	StaticRoutes  map[string][]StaticRoute
	Advertisement map[string]AdvertisementConfig
	// RouteTables are the runtime tables of routers with an edge cluster, served only when asked
	// with transport_node_id (a member of that cluster), as the API reference requires.
	RouteTables  map[string][]RouteEntry
	EdgeClusters []EdgeCluster
	// PortStates are GET /api/v1/logical-ports/<id>/state by port id (and the Policy segment port
	// state of the same port); a port without one has its address bindings as its state.
	PortStates map[string]LogicalPortState
	// VIFs is the fabric inventory, GET /api/v1/fabric/vifs.
	VIFs []VirtualNetworkInterface

	Segments       []Segment
	SegmentPorts   []SegmentPort
	Tier0s         []Tier0
	Tier1s         []Tier1
	PolicyRoutes   []StaticRoutes
	Tier0Uplinks   []Tier0Interface
	LocaleServices []LocaleServices
	RealizedRouter map[string]string // Policy tier-1/tier-0 path -> logical router id
	// Services are the load balancer and NAT objects (lb.go, nat.go).
	Services

	// Transport and Firewall are the overlay and the distributed firewall (transport.go, firewall.go).
	Transport *Transport
	Firewall  *Firewall
	// GlobalConfig is the Policy global config (its vdr_mac: the routers' MAC).
	GlobalConfig *GlobalConfig
}

// EdgeClusterID is the edge cluster of generated tier-0s; its members are EdgeNodes.
const EdgeClusterID = "edge-cluster-1"

// EdgeNodes are the transport node ids of EdgeClusterID's members.
var EdgeNodes = []string{"tn-edge-1", "tn-edge-2"}

// HostID is the hypervisor transport node every generated VM NIC is realized on.
const HostID = "tn-esx-1"

// LocaleServicesID is the locale-services id of generated tier-0s: chosen at creation, and not
// "default" here, so a client that assumes the UI's default is caught.
func LocaleServicesID(t0 string) string { return t0 + "-locale" }

// VMOf is the VM id that owns a node's NICs (one VM per Kubernetes node), or a port's own VM.
func VMOf(p trace.SwitchPort) string {
	if p.NodeName != "" {
		return "vm-" + p.NodeName
	}
	return "vm-" + p.ID
}

// NCP tag scopes (NCP tags the node's container-traffic VIF and every pod port with these).
const (
	ScopeCluster  = "ncp/cluster"
	ScopeNodeName = "ncp/node_name"
	ScopeProject  = "ncp/project"
	ScopePod      = "ncp/pod"
)

// ClusterName is the ncp/cluster tag of generated topologies.
const ClusterName = "k8s-cluster"

// FromFabric renders a trace.Fabric as the objects an NSX Manager would serve for it: what a
// provider collects from this server must walk like the fabric it came from. Routes with origin
// tier1-default and advertised become the link and advertisement config they come from; static
// routes become static routes; runtime routes become route tables.
func FromFabric(f *trace.Fabric) *Topology {
	t := &Topology{StaticRoutes: map[string][]StaticRoute{}, Advertisement: map[string]AdvertisementConfig{},
		RouteTables: map[string][]RouteEntry{}, RealizedRouter: map[string]string{}, PortStates: map[string]LogicalPortState{}}
	f = withAttachments(f)
	tier := map[string]string{}
	for _, r := range f.Routers {
		tier[r.ID] = r.Tier
	}
	parents := map[string]bool{}
	for _, p := range f.SwitchPorts {
		if p.ParentVIF != "" {
			parents[p.ParentVIF] = true
		}
	}
	for _, s := range f.Switches {
		t.LogicalSwitches = append(t.LogicalSwitches, LogicalSwitch{ResourceType: "LogicalSwitch", ID: s.ID, DisplayName: s.Name,
			AdminState: "UP", TransportZoneID: "tz-overlay", Tags: []Tag{{ScopeCluster, ClusterName}}})
	}
	tagged := nodeTagged(f, parents)
	for _, p := range f.SwitchPorts {
		t.LogicalPorts = append(t.LogicalPorts, logicalPort(p, parents, tagged))
		t.addVMNIC(p)
	}
	t.addRouters(f)
	rpByAddr := t.addRouterPorts(f, tier)
	t.addRoutes(f, rpByAddr)
	t.addPolicy(f, parents, tier, tagged)
	t.addServices(f)
	t.addOverlay(f)
	return t
}

// addRouters serves the edge cluster and a logical router per router (a tier-1 with an empty
// advertisement config).
func (t *Topology) addRouters(f *trace.Fabric) {
	edges := EdgeCluster{ResourceType: "EdgeCluster", ID: EdgeClusterID, DisplayName: "edge-cluster", MemberNodeType: "EDGE_NODE"}
	for i, tn := range EdgeNodes {
		edges.Members = append(edges.Members, EdgeClusterMember{MemberIndex: i, TransportNodeID: tn, DisplayName: tn})
	}
	t.EdgeClusters = []EdgeCluster{edges}
	for _, r := range f.Routers {
		lr := LogicalRouter{ResourceType: "LogicalRouter", ID: r.ID, DisplayName: r.Name, RouterType: strings.ToUpper(r.Tier)}
		if r.Tier == trace.Tier0 {
			lr.HighAvailabilityMode, lr.EdgeClusterID = "ACTIVE_STANDBY", EdgeClusterID
		}
		t.LogicalRouters = append(t.LogicalRouters, lr)
		if r.Tier == trace.Tier1 {
			t.Advertisement[r.ID] = AdvertisementConfig{ResourceType: "AdvertisementConfig", LogicalRouterID: r.ID}
		}
	}
}

// addRouterPorts serves the router ports, linked to their switch ports and tier-0 peers; it
// returns the router port owning each address.
func (t *Topology) addRouterPorts(f *trace.Fabric, tier map[string]string) map[string]trace.RouterPort {
	swPortOfRP := map[string]string{}
	for _, p := range f.SwitchPorts {
		if p.RouterPort != "" {
			swPortOfRP[p.RouterPort] = p.ID
		}
	}
	rpByAddr := map[string]trace.RouterPort{}
	for _, rp := range f.RouterPorts {
		lrp := LogicalRouterPort{ID: rp.ID, DisplayName: rp.Name, LogicalRouterID: rp.Router, MACAddress: rp.MAC}
		for _, n := range rp.Networks {
			if p, err := netip.ParsePrefix(n); err == nil {
				lrp.Subnets = append(lrp.Subnets, IPSubnet{IPAddresses: []string{p.Addr().String()}, PrefixLength: p.Bits()})
				rpByAddr[p.Addr().String()] = rp
			}
		}
		sp := rp.LinkedSwitchPort
		if sp == "" {
			sp = swPortOfRP[rp.ID]
		}
		if sp != "" {
			lrp.LinkedLogicalSwitchPortID = &ResourceReference{TargetID: sp, TargetType: "LogicalPort", IsValid: true}
		}
		switch {
		case rp.Kind == trace.RouterPortDownlink:
			lrp.ResourceType = "LogicalRouterDownLinkPort"
		case rp.Kind == trace.RouterPortUplink:
			lrp.ResourceType, lrp.EdgeClusterMemberIndex = "LogicalRouterUpLinkPort", []int{0}
		case tier[rp.Router] == trace.Tier0:
			lrp.ResourceType = "LogicalRouterLinkPortOnTIER0"
		default:
			// Only the TIER1 side of a link names its peer (LogicalRouterLinkPortOnTIER1).
			lrp.ResourceType = "LogicalRouterLinkPortOnTIER1"
			if rp.PeerRouterPort != "" {
				lrp.LinkedLogicalRouterPortID = &ResourceReference{TargetID: rp.PeerRouterPort, TargetType: "LogicalRouterLinkPortOnTIER0", IsValid: true}
			}
		}
		t.LogicalRouterPorts = append(t.LogicalRouterPorts, lrp)
	}
	return rpByAddr
}

// addRoutes serves routes as what they come from: static routes, advertisement config (an
// advertised route's owner router) and route tables (runtime routes).
func (t *Topology) addRoutes(f *trace.Fabric, rpByAddr map[string]trace.RouterPort) {
	for i, r := range f.Routes {
		switch r.Origin {
		case trace.OriginStatic, "":
			sr := StaticRoute{ResourceType: "StaticRoute", ID: fmt.Sprintf("sr-%d", i), LogicalRouterID: r.Router, Network: r.Prefix}
			if r.NextHop != "" {
				sr.NextHops = []NextHop{{IPAddress: r.NextHop, AdministrativeDistance: 1}}
			} else {
				sr.NextHops = []NextHop{{BlackholeAction: "DISCARD", AdministrativeDistance: 1}}
			}
			t.StaticRoutes[r.Router] = append(t.StaticRoutes[r.Router], sr)
		case trace.OriginAdvertised:
			if owner, ok := rpByAddr[r.NextHop]; ok {
				a := t.Advertisement[owner.Router]
				a.Enabled, a.AdvertiseNSXConnectedRoutes = true, true
				t.Advertisement[owner.Router] = a
			}
		case trace.OriginRuntime:
			t.RouteTables[r.Router] = append(t.RouteTables[r.Router], RouteEntry{Network: r.Prefix, NextHop: r.NextHop, RouteType: "t0s", AdminDistance: 1})
		}
	}
}

// withAttachments gives every VIF an attachment id (a VM NIC always has one): the inventory
// names a NIC's port by it.
func withAttachments(f *trace.Fabric) *trace.Fabric {
	c := *f
	c.SwitchPorts = append([]trace.SwitchPort(nil), f.SwitchPorts...)
	for i, p := range c.SwitchPorts {
		if p.Type != trace.PortRouter && p.AttachmentID == "" {
			c.SwitchPorts[i].AttachmentID = "att-" + p.ID
		}
	}
	return &c
}

// vmNIC says whether a port is a VM's own NIC (not a container's CHILD port, not a router's):
// its addresses are learned, never configured.
func vmNIC(p trace.SwitchPort) bool {
	return p.Type != trace.PortRouter && p.Type != trace.PortChild && p.ParentVIF == ""
}

// nodeTagged are the ports NCP's setup tags ncp/node_name + ncp/cluster: a node's container NIC
// (the parent of its pods' CHILD ports) when it has one, else each of its NICs.
func nodeTagged(f *trace.Fabric, parents map[string]bool) map[string]bool {
	hasParent := map[string]bool{}
	for _, p := range f.SwitchPorts {
		if p.NodeName != "" && parents[p.AttachmentID] {
			hasParent[p.NodeName] = true
		}
	}
	out := map[string]bool{}
	for _, p := range f.SwitchPorts {
		if p.NodeName != "" && vmNIC(p) && (parents[p.AttachmentID] || !hasParent[p.NodeName]) {
			out[p.ID] = true
		}
	}
	return out
}

// addVMNIC records what the manager learned about a VM NIC: its port's state (realized and
// discovered bindings, the hypervisor it runs on) and its fabric VIF (owner VM, addresses VM tools
// report). Its port carries no address_bindings.
func (t *Topology) addVMNIC(p trace.SwitchPort) {
	if !vmNIC(p) {
		return
	}
	st := LogicalPortState{ID: p.ID, TransportNodeIDs: []string{HostID}}
	for _, b := range bindings(p) {
		src := "ARP_SNOOPING"
		if strings.Contains(b.IPAddress, ":") {
			src = "ND_SNOOPING"
		}
		b.VLAN = nil
		st.RealizedBindings = append(st.RealizedBindings, AddressBindingEntry{Binding: b, Source: src, BindingTimestamp: 1700000000000})
		st.DiscoveredBindings = append(st.DiscoveredBindings, AddressBindingEntry{Binding: b, Source: src, BindingTimestamp: 1700000000000})
		if b.IPAddress != "" {
			st.DiscoveredBindings = append(st.DiscoveredBindings, AddressBindingEntry{Binding: b, Source: "VM_TOOLS", BindingTimestamp: 1700000000000})
		}
	}
	t.PortStates[p.ID] = st
	vm := VMOf(p)
	n := 0
	for i := len(t.VIFs) - 1; i >= 0 && t.VIFs[i].OwnerVMID == vm; i-- {
		n++ // a VM's NICs are listed together: count its NICs so far
	}
	vif := VirtualNetworkInterface{ResourceType: "VirtualNetworkInterface", DisplayName: p.Name, ExternalID: fmt.Sprintf("%s-%d", vm, 4000+n),
		OwnerVMID: vm, OwnerVMType: "REGULAR", HostID: HostID, LportAttachmentID: p.AttachmentID, DeviceKey: fmt.Sprint(4000 + n),
		DeviceName: fmt.Sprintf("Network adapter %d", n+1), VMLocalIDOnHost: fmt.Sprint(n + 1)}
	if len(p.MACs) > 0 {
		vif.MACAddress = p.MACs[0]
	}
	if len(p.IPs) > 0 {
		vif.IPAddressInfo = []IPAddressInfo{{Source: "VM_TOOLS", IPAddresses: p.IPs}}
	}
	t.VIFs = append(t.VIFs, vif)
}

func logicalPort(p trace.SwitchPort, parents, tagged map[string]bool) LogicalPort {
	lp := LogicalPort{ResourceType: "LogicalPort", ID: p.ID, DisplayName: p.Name, LogicalSwitchID: p.Switch, AdminState: "UP"}
	if p.Up != nil && !*p.Up {
		lp.AdminState = "DOWN"
	}
	switch p.Type {
	case trace.PortRouter:
		lp.Attachment = &LogicalPortAttachment{AttachmentType: "LOGICALROUTER", ID: p.RouterPort}
	default:
		ctx := &VifAttachmentContext{ResourceType: "VifAttachmentContext", VifType: "INDEPENDENT"}
		if parents[p.AttachmentID] {
			ctx.VifType = "PARENT"
		}
		if p.Type == trace.PortChild || p.ParentVIF != "" {
			ctx.VifType, ctx.ParentVifID, ctx.TrafficTag, ctx.AppID = "CHILD", p.ParentVIF, p.TrafficTag, p.ID
		}
		lp.Attachment = &LogicalPortAttachment{AttachmentType: "VIF", ID: p.AttachmentID, Context: ctx}
		if !vmNIC(p) {
			// NCP configures a CHILD port's bindings; a VM NIC's are learned (its state).
			lp.AddressBindings = bindings(p)
		}
		lp.Tags = portTags(p, tagged)
	}
	return lp
}

func bindings(p trace.SwitchPort) []PacketAddressClassifier {
	var out []PacketAddressClassifier
	for i := 0; i < max(len(p.MACs), len(p.IPs)); i++ {
		b := PacketAddressClassifier{VLAN: p.TrafficTag}
		if i < len(p.MACs) {
			b.MACAddress = p.MACs[i]
		}
		if i < len(p.IPs) {
			b.IPAddress = p.IPs[i]
		}
		out = append(out, b)
	}
	return out
}

// portTags are the tags NCP gives a port: ncp/cluster and ncp/node_name on a node's tagged NIC
// (nodeTagged), ncp/cluster, ncp/project and ncp/pod on a pod's; a node's other NICs are untagged.
func portTags(p trace.SwitchPort, tagged map[string]bool) []Tag {
	if vmNIC(p) && !tagged[p.ID] {
		return nil
	}
	tags := []Tag{{ScopeCluster, ClusterName}}
	if p.NodeName != "" {
		tags = append(tags, Tag{ScopeNodeName, p.NodeName})
	}
	if p.Pod != nil {
		tags = append(tags, Tag{ScopeProject, p.Pod.Namespace}, Tag{ScopePod, p.Pod.Name})
	}
	return tags
}

// addPolicy renders the same fabric as Policy intent: segments with their gateway subnets,
// segment ports with CHILD attachments, tier-0s and tier-1s, static routes and T0 uplinks. Router
// links are not Policy objects: their realized logical routers are mapped in RealizedRouter.
func (t *Topology) addPolicy(f *trace.Fabric, parents map[string]bool, tier map[string]string, tagged map[string]bool) {
	t.addSegments(f, tier)
	t.addSegmentPorts(f, parents, tagged)
	t.addPolicyRouters(f, tier)
	t.addPolicyRoutes(tier)
	t.addTier0Uplinks(f, tier)
}

// addSegments serves a segment per switch, connected to the router its downlink is on, with the
// downlink's networks as gateway subnets.
func (t *Topology) addSegments(f *trace.Fabric, tier map[string]string) {
	downOf := map[string]trace.RouterPort{}
	for _, p := range f.SwitchPorts {
		if p.RouterPort == "" {
			continue
		}
		for _, rp := range f.RouterPorts {
			if rp.ID == p.RouterPort {
				downOf[p.Switch] = rp
			}
		}
	}
	for _, s := range f.Switches {
		seg := Segment{ResourceType: "Segment", ID: s.ID, Path: "/infra/segments/" + s.ID, DisplayName: s.Name, Tags: []Tag{{ScopeCluster, ClusterName}}}
		if rp, ok := downOf[s.ID]; ok {
			seg.ConnectivityPath = routerPath(rp.Router, tier)
			for _, n := range rp.Networks {
				if p, err := netip.ParsePrefix(n); err == nil {
					seg.Subnets = append(seg.Subnets, PolicySubnet{GatewayAddress: n, Network: p.Masked().String()})
				}
			}
		}
		t.Segments = append(t.Segments, seg)
	}
}

// addSegmentPorts serves a segment port per switch port but router ports, with its attachment
// (INDEPENDENT, PARENT or CHILD) and, unless a VM NIC's, its address bindings.
func (t *Topology) addSegmentPorts(f *trace.Fabric, parents map[string]bool, tagged map[string]bool) {
	byAttach := map[string]trace.SwitchPort{}
	for _, p := range f.SwitchPorts {
		if p.AttachmentID != "" {
			byAttach[p.AttachmentID] = p
		}
	}
	for _, p := range f.SwitchPorts {
		if p.Type == trace.PortRouter {
			continue
		}
		sp := SegmentPort{ResourceType: "SegmentPort", ID: p.ID, Path: segmentPortPath(p),
			ParentPath: "/infra/segments/" + p.Switch, DisplayName: p.Name, AdminState: "UP", Tags: portTags(p, tagged)}
		if p.Up != nil && !*p.Up {
			sp.AdminState = "DOWN"
		}
		att := &PortAttachment{ID: p.AttachmentID, Type: "INDEPENDENT"}
		if parents[p.AttachmentID] {
			att.Type = "PARENT"
		}
		if p.Type == trace.PortChild || p.ParentVIF != "" {
			att.Type, att.ContextID, att.ContextType, att.TrafficTag, att.AppID = "CHILD", p.ParentVIF, "PARENT", p.TrafficTag, p.ID
			if par, ok := byAttach[p.ParentVIF]; ok && par.Switch != p.Switch {
				att.ContextID = segmentPortPath(par) // the parent on another segment: its policy path
			}
		}
		sp.Attachment = att
		if !vmNIC(p) {
			for _, b := range bindings(p) {
				sp.AddressBindings = append(sp.AddressBindings, PortAddressBindingEntry{IPAddress: b.IPAddress, MACAddress: b.MACAddress, VLANID: b.VLAN})
			}
		}
		t.SegmentPorts = append(t.SegmentPorts, sp)
	}
}

// addPolicyRouters serves tier-0s (with their locale services) and tier-1s (with their tier-0
// and advertisement) and maps each one's path to its realized logical router.
func (t *Topology) addPolicyRouters(f *trace.Fabric, tier map[string]string) {
	for _, r := range f.Routers {
		path := routerPath(r.ID, tier)
		t.RealizedRouter[path] = r.ID
		switch r.Tier {
		case trace.Tier0:
			t.Tier0s = append(t.Tier0s, Tier0{ResourceType: "Tier0", ID: r.ID, Path: path, DisplayName: r.Name, HAMode: "ACTIVE_STANDBY"})
			ls := LocaleServicesID(r.ID)
			t.LocaleServices = append(t.LocaleServices, LocaleServices{ResourceType: "LocaleServices", ID: ls, Path: path + "/locale-services/" + ls,
				ParentPath: path, DisplayName: ls, EdgeClusterPath: "/infra/sites/default/enforcement-points/default/edge-clusters/" + EdgeClusterID})
		case trace.Tier1:
			t1 := Tier1{ResourceType: "Tier1", ID: r.ID, Path: path, DisplayName: r.Name}
			if a := t.Advertisement[r.ID]; a.Enabled && a.AdvertiseNSXConnectedRoutes {
				t1.RouteAdvertisementTypes = []string{"TIER1_CONNECTED"}
			}
			for _, rp := range f.RouterPorts {
				if rp.Router == r.ID && rp.Kind == trace.RouterPortLink {
					for _, peer := range f.RouterPorts {
						if peer.ID == rp.PeerRouterPort {
							t1.Tier0Path = routerPath(peer.Router, tier)
						}
					}
				}
			}
			t.Tier1s = append(t.Tier1s, t1)
		}
	}
}

// addPolicyRoutes serves the static routes as Policy static routes, in path order.
func (t *Topology) addPolicyRoutes(tier map[string]string) {
	for rid, srs := range t.StaticRoutes {
		for _, sr := range srs {
			pr := StaticRoutes{ResourceType: "StaticRoutes", ID: sr.ID, Path: routerPath(rid, tier) + "/static-routes/" + sr.ID, ParentPath: routerPath(rid, tier), Network: sr.Network}
			for _, nh := range sr.NextHops {
				if nh.IPAddress != "" {
					pr.NextHops = append(pr.NextHops, PolicyNextHop{IPAddress: nh.IPAddress, AdminDistance: nh.AdministrativeDistance})
				}
			}
			t.PolicyRoutes = append(t.PolicyRoutes, pr)
		}
	}
	sort.Slice(t.PolicyRoutes, func(i, j int) bool { return t.PolicyRoutes[i].Path < t.PolicyRoutes[j].Path })
}

// addTier0Uplinks serves each tier-0 uplink as an EXTERNAL interface of its locale services.
func (t *Topology) addTier0Uplinks(f *trace.Fabric, tier map[string]string) {
	for _, rp := range f.RouterPorts {
		if rp.Kind != trace.RouterPortUplink || tier[rp.Router] != trace.Tier0 {
			continue
		}
		parent := routerPath(rp.Router, tier) + "/locale-services/" + LocaleServicesID(rp.Router)
		in := Tier0Interface{ResourceType: "Tier0Interface", ID: rp.ID, Path: parent + "/interfaces/" + rp.ID, ParentPath: parent, DisplayName: rp.Name, Type: "EXTERNAL"}
		for _, n := range rp.Networks {
			if p, err := netip.ParsePrefix(n); err == nil {
				in.Subnets = append(in.Subnets, InterfaceSubnet{IPAddresses: []string{p.Addr().String()}, PrefixLen: p.Bits()})
			}
		}
		t.Tier0Uplinks = append(t.Tier0Uplinks, in)
	}
}

func segmentPortPath(p trace.SwitchPort) string {
	return "/infra/segments/" + p.Switch + "/ports/" + p.ID
}

func routerPath(id string, tier map[string]string) string {
	if tier[id] == trace.Tier0 {
		return "/infra/tier-0s/" + id
	}
	return "/infra/tier-1s/" + id
}

// fixtureFiles names each fixture file and the part of the topology it holds, as the API body
// that part is served as.
func (t *Topology) fixtureFiles() map[string]any {
	return map[string]any{
		"logical-switches.json":       list(t.LogicalSwitches),
		"logical-ports.json":          list(t.LogicalPorts),
		"logical-routers.json":        list(t.LogicalRouters),
		"logical-router-ports.json":   list(t.LogicalRouterPorts),
		"static-routes.json":          &t.StaticRoutes,
		"advertisement.json":          &t.Advertisement,
		"route-tables.json":           &t.RouteTables,
		"edge-clusters.json":          list(t.EdgeClusters),
		"port-states.json":            &t.PortStates,
		"vifs.json":                   list(t.VIFs),
		"policy/locale-services.json": list(t.LocaleServices),
		"policy/segments.json":        list(t.Segments),
		"policy/segment-ports.json":   list(t.SegmentPorts),
		"policy/tier-0s.json":         list(t.Tier0s),
		"policy/tier-1s.json":         list(t.Tier1s),
		"policy/static-routes.json":   list(t.PolicyRoutes),
		"policy/interfaces.json":      list(t.Tier0Uplinks),
		"policy/realized.json":        &t.RealizedRouter,
		"transport.json":              &t.Transport,
		"policy/global-config.json":   &t.GlobalConfig,
		"firewall.json":               &t.Firewall,
	}
}

func list[T any](xs []T) *ListResult[T] {
	return &ListResult[T]{Results: xs, ResultCount: len(xs)}
}

// WriteDir writes the topology as fixture files: each file is the JSON body the manager returns
// (list results for the list APIs; static routes, advertisement and route tables keyed by router id).
func (t *Topology) WriteDir(dir string) error {
	files := t.fixtureFiles()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := json.MarshalIndent(files[n], "", "  ")
		if err != nil {
			return err
		}
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// LoadDir reads fixture files written by WriteDir (or by hand, in the same documented shapes).
func LoadDir(dir string) (*Topology, error) {
	t := &Topology{}
	lists := map[string]any{}
	for n, v := range t.fixtureFiles() {
		lists[n] = v
	}
	for n := range lists {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("nsx fixture: %w", err)
		}
		if err := json.Unmarshal(b, lists[n]); err != nil {
			return nil, fmt.Errorf("nsx fixture %s: %w", n, err)
		}
	}
	t.LogicalSwitches = lists["logical-switches.json"].(*ListResult[LogicalSwitch]).Results
	t.LogicalPorts = lists["logical-ports.json"].(*ListResult[LogicalPort]).Results
	t.LogicalRouters = lists["logical-routers.json"].(*ListResult[LogicalRouter]).Results
	t.LogicalRouterPorts = lists["logical-router-ports.json"].(*ListResult[LogicalRouterPort]).Results
	t.Segments = lists["policy/segments.json"].(*ListResult[Segment]).Results
	t.SegmentPorts = lists["policy/segment-ports.json"].(*ListResult[SegmentPort]).Results
	t.Tier0s = lists["policy/tier-0s.json"].(*ListResult[Tier0]).Results
	t.Tier1s = lists["policy/tier-1s.json"].(*ListResult[Tier1]).Results
	t.PolicyRoutes = lists["policy/static-routes.json"].(*ListResult[StaticRoutes]).Results
	t.Tier0Uplinks = lists["policy/interfaces.json"].(*ListResult[Tier0Interface]).Results
	t.EdgeClusters = lists["edge-clusters.json"].(*ListResult[EdgeCluster]).Results
	t.VIFs = lists["vifs.json"].(*ListResult[VirtualNetworkInterface]).Results
	t.LocaleServices = lists["policy/locale-services.json"].(*ListResult[LocaleServices]).Results
	return t, nil
}
