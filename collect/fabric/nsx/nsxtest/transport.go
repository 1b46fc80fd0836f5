package nsxtest

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The overlay between hypervisors: host transport nodes, their TEPs, the tunnels between them and
// the uplink profile MTU their host switch carries. Shapes are the SDK's (nsxt-mp v0.6.0:
// TransportNode, StandardHostSwitchSpec, HostNode, TransportNodeState, HostSwitchState, Endpoint,
// TunnelList, TunnelProperties, BFDProperties, UplinkHostSwitchProfile; nsxt v0.12.0: HostTransportNode,
// FabricHostNode, PolicyUplinkHostSwitchProfile and the same TransportNodeState and TunnelList), served
// at the paths the SDK's clients name:
//   GET /api/v1/transport-nodes[/<id>[/state|/tunnels]], GET /api/v1/host-switch-profiles/<id>,
//   GET /policy/api/v1/infra/sites/default/enforcement-points/default/host-transport-nodes[/<id>[/state|/tunnels]],
//   GET /policy/api/v1/infra/host-switch-profiles/<id>.
// BFD diagnostics are the strings the NSX-T installation guide lists ("View Bidirectional Forwarding
// Detection Status": 0 "No Diagnostic", 1 "Control Detection Time Expired", ...); tunnel status is
// UP or DOWN as the same page shows. A tunnel's name is ours (no captured name was at hand).

// KeyValue is a HostSwitchProfileTypeIdEntry: key UplinkHostSwitchProfile (MP: the profile id,
// Policy: its path).
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// TransportZoneEndpoint is a host switch's transport zone.
type TransportZoneEndpoint struct {
	TransportZoneID string `json:"transport_zone_id"`
}

// Pnic is a physical NIC bound to an uplink of a host switch.
type Pnic struct {
	DeviceName string `json:"device_name"`
	UplinkName string `json:"uplink_name"`
}

// HostSwitch is a StandardHostSwitch of a transport node's host_switch_spec.
type HostSwitch struct {
	HostSwitchName         string                  `json:"host_switch_name,omitempty"`
	HostSwitchID           string                  `json:"host_switch_id,omitempty"`
	HostSwitchType         string                  `json:"host_switch_type,omitempty"`
	HostSwitchMode         string                  `json:"host_switch_mode,omitempty"`
	HostSwitchProfileIDs   []KeyValue              `json:"host_switch_profile_ids,omitempty"`
	TransportZoneEndpoints []TransportZoneEndpoint `json:"transport_zone_endpoints,omitempty"`
	Pnics                  []Pnic                  `json:"pnics,omitempty"`
}

// HostSwitchSpec is a StandardHostSwitchSpec (resource_type StandardHostSwitchSpec).
type HostSwitchSpec struct {
	ResourceType string       `json:"resource_type"`
	HostSwitches []HostSwitch `json:"host_switches"`
}

// HostNode is the MP node_deployment_info of a host transport node (resource_type HostNode).
type HostNode struct {
	ResourceType string   `json:"resource_type"`
	ID           string   `json:"id,omitempty"`
	DisplayName  string   `json:"display_name,omitempty"`
	ExternalID   string   `json:"external_id,omitempty"`
	Fqdn         string   `json:"fqdn,omitempty"`
	IPAddresses  []string `json:"ip_addresses,omitempty"`
	OsType       string   `json:"os_type,omitempty"`
	OsVersion    string   `json:"os_version,omitempty"`
}

// FabricHostNode is the Policy node_deployment_info (no id, no resource_type).
type FabricHostNode struct {
	Fqdn        string   `json:"fqdn,omitempty"`
	IPAddresses []string `json:"ip_addresses,omitempty"`
	OsType      string   `json:"os_type,omitempty"`
	OsVersion   string   `json:"os_version,omitempty"`
}

// TransportNode is GET /api/v1/transport-nodes/<id>: a hypervisor in the overlay.
type TransportNode struct {
	ResourceType       string          `json:"resource_type"`
	ID                 string          `json:"id"`
	DisplayName        string          `json:"display_name,omitempty"`
	NodeID             string          `json:"node_id,omitempty"`
	MaintenanceMode    string          `json:"maintenance_mode,omitempty"`
	HostSwitchSpec     *HostSwitchSpec `json:"host_switch_spec,omitempty"`
	NodeDeploymentInfo *HostNode       `json:"node_deployment_info,omitempty"`
	Tags               []Tag           `json:"tags,omitempty"`
}

// HostTransportNode is the Policy view of the same node (HostTransportNode).
type HostTransportNode struct {
	ResourceType       string          `json:"resource_type"`
	ID                 string          `json:"id"`
	Path               string          `json:"path"`
	ParentPath         string          `json:"parent_path"`
	DisplayName        string          `json:"display_name,omitempty"`
	HostSwitchSpec     *HostSwitchSpec `json:"host_switch_spec,omitempty"`
	NodeDeploymentInfo *FabricHostNode `json:"node_deployment_info,omitempty"`
	MarkedForDelete    bool            `json:"marked_for_delete"`
}

// TEP is an Endpoint of a host switch's state: a tunnel endpoint (vmk10 on ESXi).
type TEP struct {
	DeviceName     string `json:"device_name,omitempty"`
	IP             string `json:"ip,omitempty"`
	SubnetMask     string `json:"subnet_mask,omitempty"`
	DefaultGateway string `json:"default_gateway,omitempty"`
	MAC            string `json:"mac,omitempty"`
	Label          int    `json:"label,omitempty"`
}

// HostSwitchState is one host switch of a transport node's state, with its TEPs.
type HostSwitchState struct {
	HostSwitchID     string   `json:"host_switch_id,omitempty"`
	HostSwitchName   string   `json:"host_switch_name,omitempty"`
	HostSwitchType   string   `json:"host_switch_type,omitempty"`
	TransportZoneIDs []string `json:"transport_zone_ids,omitempty"`
	Endpoints        []TEP    `json:"endpoints,omitempty"`
}

// TransportNodeState is GET /api/v1/transport-nodes/<id>/state.
type TransportNodeState struct {
	TransportNodeID  string            `json:"transport_node_id"`
	State            string            `json:"state"`
	HostSwitchStates []HostSwitchState `json:"host_switch_states,omitempty"`
}

// BFD is a tunnel's BFD session (BFDProperties).
type BFD struct {
	State            string `json:"state"`
	Diagnostic       string `json:"diagnostic,omitempty"`
	RemoteState      string `json:"remote_state,omitempty"`
	RemoteDiagnostic string `json:"remote_diagnostic,omitempty"`
	Active           bool   `json:"active"`
	Forwarding       bool   `json:"forwarding"`
	BfdEncap         string `json:"bfd_encap,omitempty"`
}

// Tunnel is one TunnelProperties of GET /api/v1/transport-nodes/<id>/tunnels.
type Tunnel struct {
	Name                  string `json:"name"`
	LocalIP               string `json:"local_ip"`
	RemoteIP              string `json:"remote_ip"`
	RemoteNodeID          string `json:"remote_node_id,omitempty"`
	RemoteNodeDisplayName string `json:"remote_node_display_name,omitempty"`
	Status                string `json:"status"`
	Encap                 string `json:"encap,omitempty"`
	EgressInterface       string `json:"egress_interface,omitempty"`
	LastUpdatedTime       int64  `json:"last_updated_time,omitempty"`
	BFD                   *BFD   `json:"bfd,omitempty"`
}

// TunnelList is the tunnels answer: a list result whose entries are "tunnels", not "results".
type TunnelList struct {
	Tunnels     []Tunnel `json:"tunnels"`
	ResultCount int      `json:"result_count"`
	Cursor      string   `json:"cursor,omitempty"`
}

// Teaming is an uplink profile's TeamingPolicy.
type Teaming struct {
	Policy     string         `json:"policy"`
	ActiveList []UplinkTarget `json:"active_list"`
}

// UplinkTarget is one Uplink of a teaming policy.
type UplinkTarget struct {
	UplinkName string `json:"uplink_name"`
	UplinkType string `json:"uplink_type"`
}

// UplinkProfile is GET /api/v1/host-switch-profiles/<id> (UplinkHostSwitchProfile) and, with its
// path, the Policy PolicyUplinkHostSwitchProfile: mtu is what the host switch's uplinks carry.
type UplinkProfile struct {
	ResourceType    string  `json:"resource_type"`
	ID              string  `json:"id"`
	Path            string  `json:"path,omitempty"`
	ParentPath      string  `json:"parent_path,omitempty"`
	DisplayName     string  `json:"display_name,omitempty"`
	MTU             int     `json:"mtu,omitempty"`
	TransportVLAN   *int    `json:"transport_vlan,omitempty"`
	OverlayEncap    string  `json:"overlay_encap,omitempty"`
	Teaming         Teaming `json:"teaming"`
	MarkedForDelete *bool   `json:"marked_for_delete,omitempty"`
}

// GlobalConfig is GET /policy/api/v1/infra/global-config: vdr_mac is the MAC every distributed
// router port (segment gateway) answers with.
type GlobalConfig struct {
	ResourceType    string `json:"resource_type"`
	ID              string `json:"id"`
	Path            string `json:"path"`
	ParentPath      string `json:"parent_path"`
	DisplayName     string `json:"display_name,omitempty"`
	VdrMAC          string `json:"vdr_mac,omitempty"`
	MarkedForDelete bool   `json:"marked_for_delete"`
}

// Transport is what the server serves about the overlay.
type Transport struct {
	Nodes    []TransportNode               `json:"nodes"`
	States   map[string]TransportNodeState `json:"states"`
	Tunnels  map[string][]Tunnel           `json:"tunnels"`
	Profiles []UplinkProfile               `json:"profiles"`
	// PortHosts are the transport node each logical port is realized on (its state's
	// transport_node_ids; a CHILD port's is its parent VIF's).
	PortHosts map[string]string `json:"portHosts"`
}

// hostTNs is the Policy path of the host transport nodes (under lb.go's EnforcementPoint).
const hostTNs = EnforcementPoint + "/host-transport-nodes"

func (t *Topology) transport() *Transport {
	if t.Transport == nil {
		t.Transport = &Transport{States: map[string]TransportNodeState{}, Tunnels: map[string][]Tunnel{}}
	}
	return t.Transport
}

// hostOfPort is the transport node a port is realized on: PortHosts', else its state's, else HostID.
func (s *Server) hostOfPort(id string) []string {
	if tr := s.top.Transport; tr != nil && tr.PortHosts[id] != "" {
		return []string{tr.PortHosts[id]}
	}
	if st, ok := s.top.PortStates[id]; ok && len(st.TransportNodeIDs) > 0 {
		return st.TransportNodeIDs
	}
	if i, ok := s.portByID[id]; ok {
		if a := s.top.LogicalPorts[i].Attachment; a != nil && a.Context != nil && a.Context.ParentVifID != "" {
			for _, p := range s.top.LogicalPorts {
				if p.Attachment != nil && p.Attachment.ID == a.Context.ParentVifID {
					if st, ok := s.top.PortStates[p.ID]; ok && len(st.TransportNodeIDs) > 0 {
						return st.TransportNodeIDs
					}
				}
			}
		}
	}
	return []string{HostID}
}

// policyTN is a transport node as the Policy API shows it: profile ids become profile paths.
func policyTN(n TransportNode) HostTransportNode {
	out := HostTransportNode{ResourceType: "HostTransportNode", ID: n.ID, Path: hostTNs + "/" + n.ID, ParentPath: EnforcementPoint, DisplayName: n.DisplayName}
	if n.HostSwitchSpec != nil {
		spec := *n.HostSwitchSpec
		spec.HostSwitches = slices.Clone(spec.HostSwitches)
		for i, hs := range spec.HostSwitches {
			ids := slices.Clone(hs.HostSwitchProfileIDs)
			for j := range ids {
				ids[j].Value = "/infra/host-switch-profiles/" + ids[j].Value
			}
			spec.HostSwitches[i].HostSwitchProfileIDs = ids
		}
		out.HostSwitchSpec = &spec
	}
	if d := n.NodeDeploymentInfo; d != nil {
		out.NodeDeploymentInfo = &FabricHostNode{Fqdn: d.Fqdn, IPAddresses: d.IPAddresses, OsType: d.OsType, OsVersion: d.OsVersion}
	}
	return out
}

func policyProfile(p UplinkProfile) UplinkProfile {
	f := false
	p.ResourceType, p.Path, p.ParentPath, p.MarkedForDelete = "PolicyUplinkHostSwitchProfile", "/infra/host-switch-profiles/"+p.ID, "/infra", &f
	return p
}

// routeTransport answers the overlay's GETs; ok false: not one of them.
func (s *Server) routeTransport(p string, seg []string, q url.Values) (body any, code int, msg string, ok bool) {
	tr := s.top.Transport
	if tr == nil {
		tr = &Transport{}
	}
	policyBase := "/policy/api/v1" + hostTNs
	var id, rest string
	switch {
	case p == "/policy/api/v1/infra/global-config":
		if s.top.GlobalConfig == nil {
			return handled(s.notFound("/infra/global-config"))
		}
		return handled(*s.top.GlobalConfig, 0, "")
	case p == "/api/v1/transport-nodes":
		return handled(page(s, q, tr.Nodes, func(x TransportNode) bool { return q.Get("node_id") == "" || x.NodeID == q.Get("node_id") }))
	case p == policyBase:
		var out []HostTransportNode
		for _, n := range tr.Nodes {
			out = append(out, policyTN(n))
		}
		return handled(pageOf(s, q, out))
	case strings.HasPrefix(p, "/api/v1/transport-nodes/") && len(seg) <= 5:
		id = seg[3]
		if len(seg) == 5 {
			rest = seg[4]
		}
	case strings.HasPrefix(p, policyBase+"/") && len(seg) <= 11:
		id = seg[9]
		if len(seg) == 11 {
			rest = seg[10]
		}
	case p == "/api/v1/host-switch-profiles" || p == "/policy/api/v1/infra/host-switch-profiles":
		return handled(s.uplinkProfiles(tr, p, q))
	case len(seg) == 4 && seg[2] == "host-switch-profiles":
		if x, found := find(tr.Profiles, func(x UplinkProfile) bool { return x.ID == seg[3] }); found {
			return handled(x, 0, "")
		}
		return handled(s.notFound(seg[3]))
	case len(seg) == 6 && seg[3] == "infra" && seg[4] == "host-switch-profiles":
		if x, found := find(tr.Profiles, func(x UplinkProfile) bool { return x.ID == seg[5] }); found {
			return handled(policyProfile(x), 0, "")
		}
		return handled(s.notFound("/infra/host-switch-profiles/" + seg[5]))
	default:
		return nil, 0, "", false
	}
	return s.transportNode(tr, p, id, rest, q)
}

// uplinkProfiles lists the uplink profiles in p's API, filtered by hostswitch_profile_type.
func (s *Server) uplinkProfiles(tr *Transport, p string, q url.Values) (any, int, string) {
	// hostswitch_profile_type: UplinkHostSwitchProfile (MP), PolicyUplinkHostSwitchProfile (Policy).
	policy := strings.HasPrefix(p, "/policy/")
	var out []UplinkProfile
	for _, x := range tr.Profiles {
		if policy {
			x = policyProfile(x)
		}
		if t := q.Get("hostswitch_profile_type"); t == "" || t == x.ResourceType {
			out = append(out, x)
		}
	}
	return pageOf(s, q, out)
}

// transportNode answers transport node id in p's API, or its "state" or "tunnels" (rest).
func (s *Server) transportNode(tr *Transport, p, id, rest string, q url.Values) (body any, code int, msg string, ok bool) {
	n, found := find(tr.Nodes, func(x TransportNode) bool { return x.ID == id })
	if !found {
		return handled(s.notFound(id))
	}
	policy := strings.HasPrefix(p, "/policy/")
	switch rest {
	case "":
		if policy {
			return handled(policyTN(n), 0, "")
		}
		return handled(n, 0, "")
	case "state":
		st, ok := tr.States[id]
		if !ok {
			return handled(s.notFound("state of " + id))
		}
		return handled(st, 0, "")
	case "tunnels":
		return handled(s.tunnels(tr.Tunnels[id], q))
	}
	return handled(s.notFound(p))
}

// tunnels is a node's tunnel list with the documented filters (remote_node_id, status,
// bfd_diagnostic_code, encap), paged like every list.
func (s *Server) tunnels(all []Tunnel, q url.Values) (any, int, string) {
	var out []Tunnel
	for _, x := range all {
		if v := q.Get("remote_node_id"); v != "" && x.RemoteNodeID != v {
			continue
		}
		if v := q.Get("status"); v != "" && x.Status != v {
			continue
		}
		if v := q.Get("encap"); v != "" && x.Encap != v {
			continue
		}
		if v := q.Get("bfd_diagnostic_code"); v != "" && (x.BFD == nil || bfdCode(x.BFD.Diagnostic) != v) {
			continue
		}
		out = append(out, x)
	}
	res, code, msg := pageOf(s, q, out)
	if code != 0 {
		return nil, code, msg
	}
	lr := res.(ListResult[Tunnel])
	return TunnelList{Tunnels: lr.Results, ResultCount: lr.ResultCount, Cursor: lr.Cursor}, 0, ""
}

// BFDDiagnostics are the BFD diagnostic codes and their names, in code order (RFC 5880 4.1, as
// the NSX-T installation guide lists them).
var BFDDiagnostics = []string{"No Diagnostic", "Control Detection Time Expired", "Echo Function Failed", "Neighbor Signaled Session Down",
	"Forwarding Plane Reset", "Path Down", "Concatenated Path Down", "Administratively Down", "Reverse Concatenated Path Down"}

func bfdCode(diag string) string {
	if i := slices.Index(BFDDiagnostics, diag); i >= 0 {
		return strconv.Itoa(i)
	}
	return ""
}
