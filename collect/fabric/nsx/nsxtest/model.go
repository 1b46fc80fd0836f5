// Package nsxtest is an NSX-T Manager API test server: it serves a topology in the documented JSON
// shapes of the Management API (/api/v1) and the Policy API (/policy/api/v1), with cursor
// pagination, the documented list filters, basic and session auth (JSESSIONID + X-XSRF-TOKEN),
// injectable faults and latency, and request/byte counters, so tests and benchmarks can measure
// what a fabric provider asks for.
//
// Shapes follow VMware's generated API bindings, github.com/vmware/vsphere-automation-sdk-go
// services/nsxt-mp v0.6.0 (Management API, nsx/model) and services/nsxt v0.12.0 (Policy API, model),
// which sdk_test.go checks every served body against, field by field: LogicalPort, LogicalPortState,
// VirtualNetworkInterface, LogicalSwitch, LogicalRouter, LogicalRouterPort and its subtypes,
// EdgeCluster, StaticRoute, AdvertisementConfig, LogicalRouterRouteTable, ListResult,
// SearchResponse and ApiError; Policy Segment, SegmentPort, SegmentPortState, Tier0, Tier1,
// LocaleServices, Tier0Interface, StaticRoutes and GenericPolicyRealizedResource; the load
// balancer and NAT shapes of lb.go and nat.go (MP LbService, LbVirtualServer, LbPool, LbPoolStatus,
// LbServiceStatus, NatRule; Policy LBService, LBVirtualServer, LBPool, AggregateLBServiceStatus,
// AggregateLBPoolStatus, PolicyNatRule). Where the
// bindings say nothing (which port carries what), the shapes follow the NSX-T API reference
// (developer.broadcom.com/xapis/nsx-t-data-center-rest-api) and NCP's documented tagging.
package nsxtest

// ListResult is the envelope of every list API (ListResult: results, result_count, cursor).
type ListResult[T any] struct {
	Results     []T    `json:"results"`
	ResultCount int    `json:"result_count"`
	Cursor      string `json:"cursor,omitempty"`
}

// Tag is an NSX tag; NCP uses scopes ncp/cluster, ncp/node_name, ncp/project, ncp/pod.
type Tag struct {
	Scope string `json:"scope"`
	Tag   string `json:"tag"`
}

// ResourceReference points at another object (target_id, target_type, target_display_name).
type ResourceReference struct {
	TargetID          string `json:"target_id"`
	TargetType        string `json:"target_type,omitempty"`
	TargetDisplayName string `json:"target_display_name,omitempty"`
	IsValid           bool   `json:"is_valid,omitempty"`
}

// LogicalSwitch is GET /api/v1/logical-switches/<id>.
type LogicalSwitch struct {
	ResourceType    string `json:"resource_type"`
	ID              string `json:"id"`
	DisplayName     string `json:"display_name,omitempty"`
	AdminState      string `json:"admin_state,omitempty"`
	TransportZoneID string `json:"transport_zone_id,omitempty"`
	Tags            []Tag  `json:"tags,omitempty"`
}

// VifAttachmentContext is a VIF attachment's context: vif_type CHILD carries parent_vif_id and traffic_tag.
type VifAttachmentContext struct {
	ResourceType string `json:"resource_type"`
	VifType      string `json:"vif_type"`
	ParentVifID  string `json:"parent_vif_id,omitempty"`
	TrafficTag   *int   `json:"traffic_tag,omitempty"`
	AppID        string `json:"app_id,omitempty"`
}

// LogicalPortAttachment is a logical port's attachment: VIF or LOGICALROUTER and the attached id.
type LogicalPortAttachment struct {
	AttachmentType string                `json:"attachment_type"`
	ID             string                `json:"id"`
	Context        *VifAttachmentContext `json:"context,omitempty"`
}

// PacketAddressClassifier is one address binding of a logical port.
type PacketAddressClassifier struct {
	IPAddress  string `json:"ip_address,omitempty"`
	MACAddress string `json:"mac_address,omitempty"`
	VLAN       *int   `json:"vlan,omitempty"`
}

// LogicalPort is GET /api/v1/logical-ports/<id>.
type LogicalPort struct {
	ResourceType    string                    `json:"resource_type"`
	ID              string                    `json:"id"`
	DisplayName     string                    `json:"display_name,omitempty"`
	LogicalSwitchID string                    `json:"logical_switch_id"`
	AdminState      string                    `json:"admin_state"`
	Attachment      *LogicalPortAttachment    `json:"attachment,omitempty"`
	AddressBindings []PacketAddressClassifier `json:"address_bindings,omitempty"`
	Tags            []Tag                     `json:"tags,omitempty"`
}

// LogicalRouter is GET /api/v1/logical-routers/<id>; router_type is TIER0 or TIER1 (or VRF, ...).
type LogicalRouter struct {
	ResourceType         string `json:"resource_type"`
	ID                   string `json:"id"`
	DisplayName          string `json:"display_name,omitempty"`
	RouterType           string `json:"router_type"`
	HighAvailabilityMode string `json:"high_availability_mode,omitempty"`
	EdgeClusterID        string `json:"edge_cluster_id,omitempty"`
}

// IPSubnet is one subnet of a router port: ip_addresses and prefix_length.
type IPSubnet struct {
	IPAddresses  []string `json:"ip_addresses"`
	PrefixLength int      `json:"prefix_length"`
}

// LogicalRouterPort is GET /api/v1/logical-router-ports/<id>; resource_type is
// LogicalRouterDownLinkPort, LogicalRouterUpLinkPort, LogicalRouterLinkPortOnTIER0 or
// LogicalRouterLinkPortOnTIER1 (only the TIER1 side names its peer).
type LogicalRouterPort struct {
	ResourceType              string             `json:"resource_type"`
	ID                        string             `json:"id"`
	DisplayName               string             `json:"display_name,omitempty"`
	LogicalRouterID           string             `json:"logical_router_id"`
	Subnets                   []IPSubnet         `json:"subnets,omitempty"`
	MACAddress                string             `json:"mac_address,omitempty"`
	LinkedLogicalSwitchPortID *ResourceReference `json:"linked_logical_switch_port_id,omitempty"`
	LinkedLogicalRouterPortID *ResourceReference `json:"linked_logical_router_port_id,omitempty"`
	EdgeClusterMemberIndex    []int              `json:"edge_cluster_member_index,omitempty"`
}

// NextHop is a static route's next hop.
type NextHop struct {
	IPAddress              string `json:"ip_address,omitempty"`
	AdministrativeDistance int    `json:"administrative_distance,omitempty"`
	BlackholeAction        string `json:"blackhole_action,omitempty"`
}

// StaticRoute is one entry of GET /api/v1/logical-routers/<id>/routing/static-routes.
type StaticRoute struct {
	ResourceType    string    `json:"resource_type"`
	ID              string    `json:"id"`
	DisplayName     string    `json:"display_name,omitempty"`
	LogicalRouterID string    `json:"logical_router_id"`
	Network         string    `json:"network"`
	NextHops        []NextHop `json:"next_hops"`
}

// AdvertisementConfig is GET /api/v1/logical-routers/<id>/routing/advertisement.
type AdvertisementConfig struct {
	ResourceType                string `json:"resource_type"`
	LogicalRouterID             string `json:"logical_router_id,omitempty"`
	Enabled                     bool   `json:"enabled"`
	AdvertiseNSXConnectedRoutes bool   `json:"advertise_nsx_connected_routes"`
	AdvertiseStaticRoutes       bool   `json:"advertise_static_routes"`
	AdvertiseNATRoutes          bool   `json:"advertise_nat_routes"`
	AdvertiseLBVIP              bool   `json:"advertise_lb_vip"`
}

// RouteEntry is one entry of GET /api/v1/logical-routers/<id>/routing/route-table
// (LogicalRouterRouteEntry: network, next_hop, route_type, logical_router_port_id, admin_distance).
type RouteEntry struct {
	Network             string `json:"network"`
	NextHop             string `json:"next_hop,omitempty"`
	RouteType           string `json:"route_type"`
	LogicalRouterPortID string `json:"logical_router_port_id,omitempty"`
	AdminDistance       int    `json:"admin_distance,omitempty"`
	LRComponentType     string `json:"lr_component_type,omitempty"`
}

// ErrorBody is the body of every NSX error response (ApiError). httpStatus is not in the binding
// but every manager sends it (openstack/vmware-nsxlib tests/unit/v3/test_client.py mocks the same
// body); related_errors carry the cause behind a generic message.
type ErrorBody struct {
	HTTPStatus    string            `json:"httpStatus"`
	ErrorCode     int               `json:"error_code"`
	ErrorMessage  string            `json:"error_message"`
	ModuleName    string            `json:"module_name"`
	RelatedErrors []RelatedAPIError `json:"related_errors,omitempty"`
}

// RelatedAPIError is one entry of an error body's related_errors.
type RelatedAPIError struct {
	ErrorCode    int    `json:"error_code"`
	ErrorMessage string `json:"error_message"`
	ModuleName   string `json:"module_name"`
}

// AddressBindingEntry is one learned or configured binding of a port's state: source is
// ARP_SNOOPING, DHCP_SNOOPING, VM_TOOLS, ND_SNOOPING, USER_DEFINED, ...
type AddressBindingEntry struct {
	Binding          PacketAddressClassifier `json:"binding"`
	Source           string                  `json:"source"`
	BindingTimestamp int64                   `json:"binding_timestamp,omitempty"`
}

// LogicalPortState is GET /api/v1/logical-ports/<id>/state (and, without id, the Policy
// SegmentPortState of GET .../segments/<s>/ports/<p>/state): a VM NIC's addresses are here, not in
// the port's address_bindings, which nobody configures for a node VM.
type LogicalPortState struct {
	ID                 string                `json:"id,omitempty"`
	RealizedBindings   []AddressBindingEntry `json:"realized_bindings,omitempty"`
	DiscoveredBindings []AddressBindingEntry `json:"discovered_bindings,omitempty"`
	TransportNodeIDs   []string              `json:"transport_node_ids,omitempty"`
}

// IPAddressInfo is the addresses VM tools report for a VIF.
type IPAddressInfo struct {
	Source      string   `json:"source"`
	IPAddresses []string `json:"ip_addresses"`
}

// VirtualNetworkInterface is one entry of GET /api/v1/fabric/vifs (filters lport_attachment_id,
// owner_vm_id): the inventory's view of a VM NIC, naming its VM and its logical port's attachment.
type VirtualNetworkInterface struct {
	ResourceType      string          `json:"resource_type"`
	DisplayName       string          `json:"display_name,omitempty"`
	ExternalID        string          `json:"external_id"`
	OwnerVMID         string          `json:"owner_vm_id"`
	OwnerVMType       string          `json:"owner_vm_type,omitempty"`
	HostID            string          `json:"host_id,omitempty"`
	LportAttachmentID string          `json:"lport_attachment_id,omitempty"`
	MACAddress        string          `json:"mac_address,omitempty"`
	DeviceKey         string          `json:"device_key,omitempty"`
	DeviceName        string          `json:"device_name,omitempty"`
	VMLocalIDOnHost   string          `json:"vm_local_id_on_host,omitempty"`
	IPAddressInfo     []IPAddressInfo `json:"ip_address_info,omitempty"`
}

// EdgeCluster is GET /api/v1/edge-clusters/<id>: its members are the edge transport nodes a
// router's runtime route table is read on.
type EdgeCluster struct {
	ResourceType   string              `json:"resource_type"`
	ID             string              `json:"id"`
	DisplayName    string              `json:"display_name,omitempty"`
	MemberNodeType string              `json:"member_node_type,omitempty"`
	Members        []EdgeClusterMember `json:"members"`
}

// EdgeClusterMember is one edge node of a cluster.
type EdgeClusterMember struct {
	MemberIndex     int    `json:"member_index"`
	TransportNodeID string `json:"transport_node_id"`
	DisplayName     string `json:"display_name,omitempty"`
}

// RouteTable is GET /api/v1/logical-routers/<id>/routing/route-table?transport_node_id=...
// (LogicalRouterRouteTable: a list result with the router's id).
type RouteTable struct {
	LogicalRouterID string       `json:"logical_router_id"`
	Results         []RouteEntry `json:"results"`
	ResultCount     int          `json:"result_count"`
	Cursor          string       `json:"cursor,omitempty"`
}

// LocaleServices is GET /policy/api/v1/infra/tier-0s/<t0>/locale-services/<id>: its id is chosen
// when the tier-0 is created (the UI says "default", automation often does not).
type LocaleServices struct {
	ResourceType    string `json:"resource_type"`
	ID              string `json:"id"`
	Path            string `json:"path"`
	ParentPath      string `json:"parent_path"`
	DisplayName     string `json:"display_name,omitempty"`
	EdgeClusterPath string `json:"edge_cluster_path,omitempty"`
}

// Policy API shapes.

// PolicySubnet is a segment subnet: gateway_address "172.16.1.1/24" and network "172.16.1.0/24".
type PolicySubnet struct {
	GatewayAddress string `json:"gateway_address,omitempty"`
	Network        string `json:"network,omitempty"`
}

// Segment is GET /policy/api/v1/infra/segments/<id>; connectivity_path names its gateway.
type Segment struct {
	ResourceType     string         `json:"resource_type"`
	ID               string         `json:"id"`
	Path             string         `json:"path"`
	DisplayName      string         `json:"display_name,omitempty"`
	ConnectivityPath string         `json:"connectivity_path,omitempty"`
	Subnets          []PolicySubnet `json:"subnets,omitempty"`
	Tags             []Tag          `json:"tags,omitempty"`
	MarkedForDelete  bool           `json:"marked_for_delete"`
}

// PortAttachment is a segment port's attachment: type PARENT/CHILD/INDEPENDENT, and for CHILD
// context_type PARENT, traffic_tag and context_id: "the VIF ID of the parent port" when the parent
// is on the same segment, else "the policy path of the parent port" (the binding's own doc; NCP's
// pods are on their namespace's segment, the node VM on the node segment).
type PortAttachment struct {
	ID          string `json:"id"`
	Type        string `json:"type,omitempty"`
	ContextID   string `json:"context_id,omitempty"`
	ContextType string `json:"context_type,omitempty"`
	TrafficTag  *int   `json:"traffic_tag,omitempty"`
	AppID       string `json:"app_id,omitempty"`
}

// PortAddressBindingEntry is one address binding of a segment port.
type PortAddressBindingEntry struct {
	IPAddress  string `json:"ip_address,omitempty"`
	MACAddress string `json:"mac_address,omitempty"`
	VLANID     *int   `json:"vlan_id,omitempty"`
}

// SegmentPort is GET /policy/api/v1/infra/segments/<segment>/ports/<id>.
type SegmentPort struct {
	ResourceType    string                    `json:"resource_type"`
	ID              string                    `json:"id"`
	Path            string                    `json:"path"`
	ParentPath      string                    `json:"parent_path"`
	DisplayName     string                    `json:"display_name,omitempty"`
	AdminState      string                    `json:"admin_state,omitempty"`
	Attachment      *PortAttachment           `json:"attachment,omitempty"`
	AddressBindings []PortAddressBindingEntry `json:"address_bindings,omitempty"`
	Tags            []Tag                     `json:"tags,omitempty"`
	MarkedForDelete bool                      `json:"marked_for_delete"`
}

// Tier0 is GET /policy/api/v1/infra/tier-0s/<id>.
type Tier0 struct {
	ResourceType string `json:"resource_type"`
	ID           string `json:"id"`
	Path         string `json:"path"`
	DisplayName  string `json:"display_name,omitempty"`
	HAMode       string `json:"ha_mode,omitempty"`
}

// Tier1 is GET /policy/api/v1/infra/tier-1s/<id>; tier0_path links it to its T0 and
// route_advertisement_types (TIER1_CONNECTED, TIER1_STATIC_ROUTES, ...) says what the T0 learns.
type Tier1 struct {
	ResourceType            string   `json:"resource_type"`
	ID                      string   `json:"id"`
	Path                    string   `json:"path"`
	DisplayName             string   `json:"display_name,omitempty"`
	Tier0Path               string   `json:"tier0_path,omitempty"`
	RouteAdvertisementTypes []string `json:"route_advertisement_types,omitempty"`
}

// PolicyNextHop is a Policy static route's next hop.
type PolicyNextHop struct {
	IPAddress     string `json:"ip_address,omitempty"`
	AdminDistance int    `json:"admin_distance,omitempty"`
}

// StaticRoutes is one entry of GET /policy/api/v1/infra/tier-0s/<id>/static-routes (or tier-1s).
type StaticRoutes struct {
	ResourceType string          `json:"resource_type"`
	ID           string          `json:"id"`
	Path         string          `json:"path"`
	ParentPath   string          `json:"parent_path"`
	DisplayName  string          `json:"display_name,omitempty"`
	Network      string          `json:"network"`
	NextHops     []PolicyNextHop `json:"next_hops"`
}

// Tier0Interface is GET /policy/api/v1/infra/tier-0s/<t0>/locale-services/<ls>/interfaces/<id>:
// type EXTERNAL (uplinks), SERVICE or LOOPBACK; subnets carry ip_addresses and prefix_len.
type Tier0Interface struct {
	ResourceType string            `json:"resource_type"`
	ID           string            `json:"id"`
	Path         string            `json:"path"`
	ParentPath   string            `json:"parent_path"`
	DisplayName  string            `json:"display_name,omitempty"`
	Type         string            `json:"type,omitempty"`
	Subnets      []InterfaceSubnet `json:"subnets,omitempty"`
	SegmentPath  string            `json:"segment_path,omitempty"`
}

// InterfaceSubnet is a Policy interface subnet.
type InterfaceSubnet struct {
	IPAddresses []string `json:"ip_addresses"`
	PrefixLen   int      `json:"prefix_len"`
}

// RealizedEntity is one entry of GET /policy/api/v1/infra/realized-state/realized-entities?intent_path=...
// (GenericPolicyRealizedResource): the management-plane object an intent was realized as
// (realization_specific_identifier).
type RealizedEntity struct {
	ResourceType                  string   `json:"resource_type"`
	ID                            string   `json:"id"`
	EntityType                    string   `json:"entity_type"`
	IntentPaths                   []string `json:"intent_paths"`
	RealizationSpecificIdentifier string   `json:"realization_specific_identifier"`
	State                         string   `json:"state"`
}
