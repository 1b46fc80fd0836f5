package nsx

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Management API shapes, as the NSX-T Data Center REST API reference documents them
// (LogicalPort, LogicalSwitch, LogicalRouter, LogicalRouterPort, StaticRoute,
// AdvertisementConfig, LogicalRouterRouteEntry). Only the fields a walk uses are decoded.

type tag struct {
	Scope string `json:"scope"`
	Tag   string `json:"tag"`
}

// ref decodes a ResourceReference ({target_id, ...}) or, as some versions send, a bare id.
type ref string

func (r *ref) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*r = ref(s)
		return nil
	}
	var rr struct {
		TargetID string `json:"target_id"`
	}
	if err := json.Unmarshal(b, &rr); err != nil {
		return err
	}
	*r = ref(rr.TargetID)
	return nil
}

type lswitch struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
}

type lport struct {
	ID              string `json:"id"`
	DisplayName     string `json:"display_name"`
	LogicalSwitchID string `json:"logical_switch_id"`
	AdminState      string `json:"admin_state"`
	Attachment      *struct {
		AttachmentType string `json:"attachment_type"`
		ID             string `json:"id"`
		Context        *struct {
			VifType     string `json:"vif_type"`
			ParentVifID string `json:"parent_vif_id"`
			TrafficTag  *int   `json:"traffic_tag"`
		} `json:"context"`
	} `json:"attachment"`
	AddressBindings []binding `json:"address_bindings"`
	Tags            []tag     `json:"tags"`
}

type lrouter struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	RouterType  string `json:"router_type"`
}

type lrport struct {
	ID              string `json:"id"`
	DisplayName     string `json:"display_name"`
	ResourceType    string `json:"resource_type"`
	LogicalRouterID string `json:"logical_router_id"`
	Subnets         []struct {
		IPAddresses  []string `json:"ip_addresses"`
		PrefixLength int      `json:"prefix_length"`
	} `json:"subnets"`
	MACAddress                string `json:"mac_address"`
	LinkedLogicalSwitchPortID ref    `json:"linked_logical_switch_port_id"`
	LinkedLogicalRouterPortID ref    `json:"linked_logical_router_port_id"`
}

type staticRoute struct {
	Network  string `json:"network"`
	NextHops []struct {
		IPAddress string `json:"ip_address"`
	} `json:"next_hops"`
}

type advertisement struct {
	Enabled                     bool `json:"enabled"`
	AdvertiseNSXConnectedRoutes bool `json:"advertise_nsx_connected_routes"`
	AdvertiseStaticRoutes       bool `json:"advertise_static_routes"`
}

// binding is a PacketAddressClassifier: ip_address is an IPElement, an address or a CIDR.
type binding struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address"`
}

// portState is GET /api/v1/logical-ports/<id>/state (LogicalPortState) or a Policy segment
// port's state (SegmentPortState): the bindings the manager realized or learned for the port, where
// a VM NIC's addresses are.
type portState struct {
	RealizedBindings []struct {
		Binding binding `json:"binding"`
		Source  string  `json:"source"`
	} `json:"realized_bindings"`
	DiscoveredBindings []struct {
		Binding binding `json:"binding"`
		Source  string  `json:"source"`
	} `json:"discovered_bindings"`
	// TransportNodeIDs are the hosts the port is realized on (overlay.go).
	TransportNodeIDs []string `json:"transport_node_ids"`
}

// vif is one entry of GET /api/v1/fabric/vifs (VirtualNetworkInterface): a VM NIC in the
// inventory, its VM, its port's attachment id and the addresses VM tools report.
type vif struct {
	OwnerVMID         string `json:"owner_vm_id"`
	HostID            string `json:"host_id"`
	LportAttachmentID string `json:"lport_attachment_id"`
	MACAddress        string `json:"mac_address"`
	IPAddressInfo     []struct {
		IPAddresses []string `json:"ip_addresses"`
	} `json:"ip_address_info"`
}

// hostAddr reads a binding's ip_address, an address or a CIDR (IPElement): a host prefix (/32,
// /128) or an address inside a prefix is that address; a whole subnet ("10.0.0.0/24") is no
// host's address.
func hostAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || (p.Addr() == p.Masked().Addr() && p.Bits() < p.Addr().BitLen()) {
		return netip.Addr{}, false
	}
	return p.Addr().Unmap(), true
}

// addAddrs adds addresses (and MACs) to a port, once each, in a canonical form.
func addAddrs(sp *trace.SwitchPort, ips []string, macs []string) bool {
	changed := false
	for _, s := range ips {
		if a, ok := hostAddr(s); ok && !contains(sp.IPs, a.String()) {
			sp.IPs = append(sp.IPs, a.String())
			changed = true
		}
	}
	for _, m := range macs {
		if m != "" && !containsFold(sp.MACs, m) {
			sp.MACs = append(sp.MACs, m)
			changed = true
		}
	}
	return changed
}

func tagValue(tags []tag, scope string) string {
	for _, t := range tags {
		if t.Scope == scope {
			return t.Tag
		}
	}
	return ""
}

// switchPort maps a LogicalPort: CHILD VIFs carry parent_vif_id and traffic_tag; a LOGICALROUTER
// attachment names the router port; NCP's tags name the node (ncp/node_name) and the pod
// (ncp/project = namespace, ncp/pod = pod name).
func (p lport) switchPort() trace.SwitchPort {
	sp := trace.SwitchPort{ID: p.ID, Name: p.DisplayName, Switch: p.LogicalSwitchID, Source: trace.SourceNSX}
	if a := p.Attachment; a != nil {
		switch a.AttachmentType {
		case "LOGICALROUTER":
			sp.Type, sp.RouterPort = trace.PortRouter, a.ID
		default:
			sp.Type, sp.AttachmentID = trace.PortVIF, a.ID
			if ctx := a.Context; ctx != nil && ctx.VifType == "CHILD" {
				sp.Type, sp.ParentVIF, sp.TrafficTag = trace.PortChild, ctx.ParentVifID, ctx.TrafficTag
			}
		}
	}
	if sp.Type != trace.PortRouter {
		up := !strings.EqualFold(p.AdminState, "DOWN")
		sp.Up = &up
	}
	for _, b := range p.AddressBindings {
		addAddrs(&sp, []string{b.IPAddress}, []string{b.MACAddress})
	}
	sp.NodeName = tagValue(p.Tags, "ncp/node_name")
	if ns, pod := tagValue(p.Tags, "ncp/project"), tagValue(p.Tags, "ncp/pod"); ns != "" && pod != "" {
		sp.Pod = &trace.PodRef{Namespace: ns, Name: pod}
	}
	return sp
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// tierOf maps router_type: TIER0/TIER1 to the model's tiers; anything else (VRF, a type this
// version does not know) is passed through so the walk reports it as an unknown tier.
func tierOf(routerType string) string {
	switch routerType {
	case "TIER0":
		return trace.Tier0
	case "TIER1":
		return trace.Tier1
	}
	return routerType
}

func (r lrouter) router() trace.Router {
	return trace.Router{ID: r.ID, Name: r.DisplayName, Tier: tierOf(r.RouterType), Source: trace.SourceNSX}
}

// kindOf maps a LogicalRouterPort resource_type to the model's port kinds.
func kindOf(resourceType string) string {
	switch resourceType {
	case "LogicalRouterDownLinkPort", "LogicalRouterCentralizedServicePort":
		return trace.RouterPortDownlink
	case "LogicalRouterLinkPortOnTIER0", "LogicalRouterLinkPortOnTIER1":
		return trace.RouterPortLink
	case "LogicalRouterUpLinkPort":
		return trace.RouterPortUplink
	}
	return strings.ToLower(strings.TrimPrefix(resourceType, "LogicalRouter"))
}

func (p lrport) routerPort() trace.RouterPort {
	rp := trace.RouterPort{ID: p.ID, Name: p.DisplayName, Router: p.LogicalRouterID, Kind: kindOf(p.ResourceType),
		MAC: p.MACAddress, LinkedSwitchPort: string(p.LinkedLogicalSwitchPortID), PeerRouterPort: string(p.LinkedLogicalRouterPortID), Source: trace.SourceNSX}
	for _, s := range p.Subnets {
		for _, ip := range s.IPAddresses {
			rp.Networks = append(rp.Networks, fmt.Sprintf("%s/%d", ip, s.PrefixLength))
		}
	}
	return rp
}

// firstAddr is the first address of a router port, the next hop its neighbours use.
func firstAddr(rp *trace.RouterPort) string {
	for _, n := range rp.Networks {
		if p, err := netip.ParsePrefix(n); err == nil {
			return p.Addr().String()
		}
	}
	return ""
}
