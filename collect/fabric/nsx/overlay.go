package nsx

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// The overlay and the firewall at a walk's endpoints.
//
// Hosts: each endpoint port's state names the transport node it is realized on
// (transport_node_ids); for each such node, the node (its host switch and uplink profile), its
// state (TEPs), its uplink profile (MTU) and its tunnels to the other endpoints' nodes only
// (remote_node_id filter). A pod-to-node walk reads two nodes, whatever the size of the fabric.
//
// Firewall (MP): every layer-3 section in the firewall's order (one page per thousand sections),
// the sections that apply to each endpoint port (applied_tos=<port>&deep_search=true: through
// NSGroups too), the rules of those sections and of the sections applied everywhere, and what
// those rules name: NSGroups (effective IP and logical port members), IPSets. (Policy): every
// security policy of the default domain, the groups each endpoint port is in (group-associations),
// the rules of the policies whose scope holds the port or is everywhere, and the groups those
// rules name (effective IPs and segment ports).

// overlayState is what Collect read about hosts and the firewall.
type overlayState struct {
	hosts    map[string]*trace.Host
	portHost map[string]string
	fw       *trace.Firewall
}

// overlayHint lists, beside the first reads, what every walk's overlay needs whatever its
// endpoints: the firewall's sections (Policy: security policies) in order, and the uplink profiles
// (a few per fabric) whose MTU a transport node names. Dry rounds fetch them at the first level.
func (st *state) overlayHint(ctx context.Context) {
	if st.policy != nil {
		_, _ = list[secPolicy](ctx, st.f, policyDomain+"/security-policies", nil)
		_, _ = list[uplinkProfile](ctx, st.f, "/policy/api/v1/infra/host-switch-profiles", url.Values{"hostswitch_profile_type": {"PolicyUplinkHostSwitchProfile"}})
		return
	}
	_, _ = list[fwSection](ctx, st.f, "/api/v1/firewall/sections", url.Values{"type": {"LAYER3"}})
	_, _ = list[uplinkProfile](ctx, st.f, "/api/v1/host-switch-profiles", url.Values{"hostswitch_profile_type": {"UplinkHostSwitchProfile"}})
}

const policyDomain = "/policy/api/v1/infra/domains/default"

// readOverlay reads the hosts and firewall rules of the walk's endpoint ports (nil: not found).
func (st *state) readOverlay(ctx context.Context, eps []*trace.SwitchPort) error {
	var ports []*trace.SwitchPort
	for _, sp := range eps {
		if sp != nil && !slices.ContainsFunc(ports, func(x *trace.SwitchPort) bool { return x.ID == sp.ID }) {
			ports = append(ports, sp)
		}
	}
	if len(ports) == 0 {
		return nil
	}
	st.ov = &overlayState{hosts: map[string]*trace.Host{}, portHost: map[string]string{}}
	if err := st.readHosts(ctx, ports); err != nil {
		return err
	}
	if st.policy != nil {
		return st.readPolicyFirewall(ctx, ports, false)
	}
	return st.readFirewall(ctx, ports, false)
}

// allOverlay reads every host and the whole firewall (a bundle): every transport node with its
// TEPs, uplink MTU and tunnels; each VM NIC's host from the fabric inventory (host_id), each CHILD
// port's from its parent's.
func (st *state) allOverlay(ctx context.Context) error {
	st.ov = &overlayState{hosts: map[string]*trace.Host{}, portHost: map[string]string{}}
	lp := "/api/v1/transport-nodes"
	if st.policy != nil {
		lp = "/policy/api/v1/infra/sites/default/enforcement-points/default/host-transport-nodes"
	}
	tns, err := list[transportNode](ctx, st.f, lp, nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, tn := range tns {
		if err := st.readHost(ctx, tn.ID, nil); err != nil {
			return err
		}
	}
	vifs, err := list[vif](ctx, st.f, "/api/v1/fabric/vifs", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	hostOf := map[string]string{}
	for _, v := range vifs {
		if v.HostID != "" && st.ov.hosts[v.HostID] != nil {
			hostOf[v.LportAttachmentID] = v.HostID
		}
	}
	for _, sp := range st.sortedPorts() {
		switch {
		case sp.Type == trace.PortVIF && hostOf[sp.AttachmentID] != "":
			st.ov.portHost[sp.ID] = hostOf[sp.AttachmentID]
		case sp.ParentVIF != "" && hostOf[sp.ParentVIF] != "":
			st.ov.portHost[sp.ID] = hostOf[sp.ParentVIF]
		}
	}
	if st.policy != nil {
		return st.readPolicyFirewall(ctx, nil, true)
	}
	return st.readFirewall(ctx, nil, true)
}

// Transport shapes (nsxt-mp TransportNode, TransportNodeState, TunnelList, UplinkHostSwitchProfile;
// nsxt HostTransportNode).
type (
	transportNode struct {
		ID             string `json:"id"`
		DisplayName    string `json:"display_name"`
		HostSwitchSpec struct {
			HostSwitches []struct {
				HostSwitchName       string `json:"host_switch_name"`
				HostSwitchProfileIDs []struct {
					Key   string `json:"key"`
					Value string `json:"value"`
				} `json:"host_switch_profile_ids"`
			} `json:"host_switches"`
		} `json:"host_switch_spec"`
	}
	nodeState struct {
		HostSwitchStates []struct {
			HostSwitchName string `json:"host_switch_name"`
			Endpoints      []struct {
				DeviceName string `json:"device_name"`
				IP         string `json:"ip"`
			} `json:"endpoints"`
		} `json:"host_switch_states"`
	}
	tunnelList struct {
		ResultCount int    `json:"result_count"`
		Cursor      string `json:"cursor"`
		Tunnels     []struct {
			Name         string `json:"name"`
			LocalIP      string `json:"local_ip"`
			RemoteIP     string `json:"remote_ip"`
			RemoteNodeID string `json:"remote_node_id"`
			Status       string `json:"status"`
			Encap        string `json:"encap"`
			BFD          *struct {
				State            string `json:"state"`
				Diagnostic       string `json:"diagnostic"`
				RemoteState      string `json:"remote_state"`
				RemoteDiagnostic string `json:"remote_diagnostic"`
				Forwarding       *bool  `json:"forwarding"`
			} `json:"bfd"`
		} `json:"tunnels"`
	}
	uplinkProfile struct {
		ID   string `json:"id"`
		Path string `json:"path"`
		MTU  int    `json:"mtu"`
	}
)

// tnBase is the path of a transport node in the API collected through.
func (st *state) tnBase(id string) string {
	if st.policy != nil {
		return "/policy/api/v1/infra/sites/default/enforcement-points/default/host-transport-nodes/" + url.PathEscape(id)
	}
	return "/api/v1/transport-nodes/" + url.PathEscape(id)
}

func (st *state) readHosts(ctx context.Context, ports []*trace.SwitchPort) error {
	var nodes []string
	waiting := false
	for _, sp := range ports {
		if h := st.inventoryHost(sp); h != "" {
			// The inventory that found a node's NIC (or, for a check, listed every NIC) names its
			// host already: a CHILD port runs where its parent VIF does.
			st.ov.portHost[sp.ID] = h
			if !slices.Contains(nodes, h) {
				nodes = append(nodes, h)
			}
			continue
		}
		p := "/api/v1/logical-ports/" + url.PathEscape(sp.ID) + "/state"
		if st.policy != nil {
			p = "/policy/api/v1/infra/segments/" + url.PathEscape(sp.Switch) + "/ports/" + url.PathEscape(sp.ID) + "/state"
		}
		s, err := fetch[portState](ctx, st.f, p, nil) // the same read as learnState's
		if pending(err) {
			waiting = true
			continue
		}
		if err != nil {
			if fatal(err) {
				return err
			}
			if len(st.warnings) == 0 {
				// Said once: when the manager already failed a read, the host is one more casualty
				// of the same cause (the walk says the tunnel is not checked).
				_ = st.soft(fmt.Errorf("the host of NSX port %s is unknown: %w", sp.ID, err))
			}
			continue
		}
		if len(s.TransportNodeIDs) == 0 {
			continue
		}
		st.ov.portHost[sp.ID] = s.TransportNodeIDs[0]
		if !slices.Contains(nodes, s.TransportNodeIDs[0]) {
			nodes = append(nodes, s.TransportNodeIDs[0])
		}
	}
	if st.f.dry {
		// Speculatively, beside the reads above: the hosts the node VMs' NICs found so far run on
		// (the inventory names them before the port with the node's address is known).
		spec := slices.Clone(nodes)
		for _, att := range sortedKeys(st.vifOf) {
			if v := st.vifOf[att]; v != nil && v.HostID != "" && !slices.Contains(spec, v.HostID) {
				spec = append(spec, v.HostID)
			}
		}
		others := spec
		if len(spec) > 2 {
			others = nil
		}
		for _, id := range spec {
			if err := st.readHost(ctx, id, others); err != nil {
				return err
			}
		}
		st.ov.hosts = map[string]*trace.Host{}
	}
	if waiting {
		return nil
	}
	others := nodes
	if len(nodes) > 2 {
		others = nil // a check's many hosts: each one's tunnels in one list, not one read per pair
	}
	for _, id := range nodes {
		if err := st.readHost(ctx, id, others); err != nil {
			return err
		}
	}
	return nil
}

// inventoryHost is the host the fabric inventory names for a port's NIC (a CHILD port: its parent
// VIF's), from what was read already; "" when nothing read says.
func (st *state) inventoryHost(sp *trace.SwitchPort) string {
	att := sp.AttachmentID
	if sp.Type == trace.PortChild || sp.ParentVIF != "" {
		att = sp.ParentVIF
	} else if sp.Type != trace.PortVIF {
		return ""
	}
	if v := st.vifOf[att]; v != nil && v.HostID != "" {
		return v.HostID
	}
	if st.inv != nil {
		for _, v := range st.inv.byAttach[att] {
			if v.HostID != "" {
				return v.HostID
			}
		}
	}
	return ""
}

// readHost reads one transport node, its TEPs, its uplink MTU and its tunnels to the others.
func (st *state) readHost(ctx context.Context, id string, others []string) error {
	h := &trace.Host{ID: id, Source: trace.SourceNSX}
	st.ov.hosts[id] = h
	base := st.tnBase(id)
	tn, err := fetch[transportNode](ctx, st.f, base, nil)
	if err == nil {
		h.Name = tn.DisplayName
		for _, hs := range tn.HostSwitchSpec.HostSwitches {
			h.HostSwitch = cmp.Or(h.HostSwitch, hs.HostSwitchName)
			for _, kv := range hs.HostSwitchProfileIDs {
				if kv.Key != "UplinkHostSwitchProfile" || h.HostSwitchMTU != 0 {
					continue
				}
				mtu, err := st.uplinkMTU(ctx, kv.Value)
				if err := st.soft(err); err != nil {
					return err
				}
				h.HostSwitchMTU = mtu
			}
		}
	} else if err := st.soft(err); err != nil {
		return err
	}
	ns, err := fetch[nodeState](ctx, st.f, base+"/state", nil)
	if err == nil {
		for _, hs := range ns.HostSwitchStates {
			for _, e := range hs.Endpoints {
				h.TEPs = append(h.TEPs, trace.TEP{IP: e.IP, Encap: trace.EncapGeneve, Interface: e.DeviceName, Source: trace.SourceNSX})
			}
		}
	} else if err := st.soft(err); err != nil {
		return err
	}
	var filters []url.Values // one read per other endpoint host; nil others: every tunnel at once
	for _, other := range others {
		if other != id {
			filters = append(filters, url.Values{"remote_node_id": {other}})
		}
	}
	if others == nil {
		filters = []url.Values{nil}
	}
	for _, q := range filters {
		tl, err := st.tunnels(ctx, base+"/tunnels", q)
		if err != nil {
			if err := st.soft(err); err != nil {
				return err
			}
			continue
		}
		for _, x := range tl.Tunnels {
			t := trace.Tunnel{Name: x.Name, Encap: strings.ToLower(x.Encap), LocalIP: x.LocalIP, RemoteIP: x.RemoteIP, RemoteHost: x.RemoteNodeID,
				State: tunnelState(x.Status), Source: trace.SourceNSX}
			if b := x.BFD; b != nil {
				t.BFD = &trace.BFD{State: strings.ToLower(b.State), RemoteState: strings.ToLower(b.RemoteState), Diagnostic: b.Diagnostic,
					RemoteDiagnostic: b.RemoteDiagnostic, Forwarding: b.Forwarding}
			}
			h.Tunnels = append(h.Tunnels, t)
		}
	}
	return nil
}

// uplinkMTU is the MTU of the uplink profile a transport node names (MP: by id; Policy: by path):
// from the profiles overlayHint listed, else read alone.
func (st *state) uplinkMTU(ctx context.Context, id string) (int, error) {
	lp, one := "/api/v1/host-switch-profiles", "/api/v1/host-switch-profiles/"+url.PathEscape(id)
	q := url.Values{"hostswitch_profile_type": {"UplinkHostSwitchProfile"}}
	if st.policy != nil {
		lp, one = "/policy/api/v1/infra/host-switch-profiles", "/policy/api/v1"+id // a Policy node names its profiles by path
		q = url.Values{"hostswitch_profile_type": {"PolicyUplinkHostSwitchProfile"}}
	}
	profs, err := list[uplinkProfile](ctx, st.f, lp, q)
	if err == nil {
		for _, p := range profs {
			if p.ID == id || p.Path == id {
				return p.MTU, nil
			}
		}
	}
	prof, err := fetch[uplinkProfile](ctx, st.f, one, nil)
	return prof.MTU, err
}

// tunnels reads a transport node's tunnel list to its last page: the list's entries are
// "tunnels", not "results", so it is paged here (a host in a large mesh has thousands).
func (st *state) tunnels(ctx context.Context, path string, q url.Values) (tunnelList, error) {
	var all tunnelList
	q = cloneValues(q)
	pg := newPager()
	for {
		tl, err := fetch[tunnelList](ctx, st.f, path, q)
		if err != nil {
			return all, err
		}
		all.Tunnels = append(all.Tunnels, tl.Tunnels...)
		more, err := pg.next(path, listPage{ResultCount: tl.ResultCount, Cursor: tl.Cursor, Results: make([]json.RawMessage, len(tl.Tunnels))})
		if !more || err != nil {
			return all, err
		}
		q.Set("cursor", tl.Cursor)
	}
}

func tunnelState(s string) string {
	switch strings.ToUpper(s) {
	case "UP":
		return trace.TunnelUp
	case "DOWN":
		return trace.TunnelDown
	case "DEGRADED":
		return trace.TunnelDegraded
	}
	return trace.TunnelUnknown
}

// addOverlayTo puts the hosts and firewall into the fabric built from the state.
func (st *state) addOverlayTo(f *trace.Fabric) {
	if st.ov == nil {
		return
	}
	for _, id := range sortedKeys(st.ov.hosts) {
		f.Hosts = append(f.Hosts, *st.ov.hosts[id])
	}
	for i, sp := range f.SwitchPorts {
		if h := st.ov.portHost[sp.ID]; h != "" {
			f.SwitchPorts[i].Host = h
		}
	}
	f.Firewall = st.ov.fw
}

// Firewall shapes (nsxt-mp FirewallSection, FirewallRule, ResourceReference; nsxt SecurityPolicy,
// Rule, PolicyResourceReferenceForEP).
type (
	resRef struct {
		TargetID          string `json:"target_id"`
		TargetType        string `json:"target_type"`
		TargetDisplayName string `json:"target_display_name"`
	}
	fwSection struct {
		ID          string   `json:"id"`
		DisplayName string   `json:"display_name"`
		SectionType string   `json:"section_type"`
		Stateful    bool     `json:"stateful"`
		IsDefault   bool     `json:"is_default"`
		AppliedTos  []resRef `json:"applied_tos"`
		Tags        []tag    `json:"tags"`
	}
	fwRule struct {
		ID                   string   `json:"id"`
		DisplayName          string   `json:"display_name"`
		Action               string   `json:"action"`
		Direction            string   `json:"direction"`
		Disabled             bool     `json:"disabled"`
		IsDefault            bool     `json:"is_default"`
		Sources              []resRef `json:"sources"`
		Destinations         []resRef `json:"destinations"`
		SourcesExcluded      bool     `json:"sources_excluded"`
		DestinationsExcluded bool     `json:"destinations_excluded"`
		AppliedTos           []resRef `json:"applied_tos"`
		Services             []struct {
			resRef
			Service *l4Service `json:"service"`
		} `json:"services"`
	}
	// l4Service is an inline L4PortSetNSService (MP) or L4PortSetServiceEntry (Policy).
	l4Service struct {
		ResourceType     string   `json:"resource_type"`
		L4Protocol       string   `json:"l4_protocol"`
		DestinationPorts []string `json:"destination_ports"`
		SourcePorts      []string `json:"source_ports"`
	}
	ipSet struct {
		IPAddresses []string `json:"ip_addresses"`
	}
	secPolicy struct {
		ID             string   `json:"id"`
		Path           string   `json:"path"`
		DisplayName    string   `json:"display_name"`
		Category       string   `json:"category"`
		SequenceNumber int      `json:"sequence_number"`
		Scope          []string `json:"scope"`
		Stateful       bool     `json:"stateful"`
		IsDefault      bool     `json:"is_default"`
		Tags           []tag    `json:"tags"`
	}
	polRule struct {
		ID                   string      `json:"id"`
		Path                 string      `json:"path"`
		DisplayName          string      `json:"display_name"`
		Action               string      `json:"action"`
		Direction            string      `json:"direction"`
		Disabled             bool        `json:"disabled"`
		IsDefault            bool        `json:"is_default"`
		SourceGroups         []string    `json:"source_groups"`
		DestinationGroups    []string    `json:"destination_groups"`
		SourcesExcluded      bool        `json:"sources_excluded"`
		DestinationsExcluded bool        `json:"destinations_excluded"`
		Scope                []string    `json:"scope"`
		SequenceNumber       int         `json:"sequence_number"`
		Tags                 []tag       `json:"tags"`
		Services             []string    `json:"services"`
		ServiceEntries       []l4Service `json:"service_entries"`
	}
	groupAssoc struct {
		Path     string `json:"path"`
		TargetID string `json:"target_id"`
	}
	groupMember struct {
		ID   string `json:"id"`
		Path string `json:"path"`
	}
)

var (
	fwDirection = map[string]string{"OUT": trace.FirewallEgress, "IN": trace.FirewallIngress, "IN_OUT": trace.FirewallBoth}
	fwAction    = map[string]string{"ALLOW": trace.FirewallAllow, "DROP": trace.FirewallDrop, "REJECT": trace.FirewallReject, "JUMP_TO_APPLICATION": trace.FirewallPass}
)

// origin reads the NetworkPolicy NCP tagged an object with (ncp/network_policy, ncp/project).
func origin(tags []tag) *trace.RuleOrigin {
	m := map[string]string{}
	for _, t := range tags {
		m[t.Scope] = t.Tag
	}
	if m["ncp/network_policy"] == "" {
		return nil
	}
	return &trace.RuleOrigin{Kind: trace.OriginNetworkPolicy, Namespace: m["ncp/project"], Name: m["ncp/network_policy"], Tags: m}
}

// incomplete marks the firewall as partly read (a flow no rule matches is then unknown).
func (st *state) incomplete(fw *trace.Firewall, err error) error {
	if err == nil || pending(err) {
		return nil
	}
	fw.Complete = false
	fw.Warnings = append(fw.Warnings, err.Error())
	return st.soft(err)
}

// readFirewall reads the MP firewall for ports; all (a bundle): every section, each applied where
// its NSGroups' members are.
func (st *state) readFirewall(ctx context.Context, ports []*trace.SwitchPort, all bool) error {
	fw := &trace.Firewall{Kind: "nsx-mp", Complete: true, DefaultAction: trace.FirewallUnknownAction, Source: trace.SourceNSX}
	sections, err := list[fwSection](ctx, st.f, "/api/v1/firewall/sections", url.Values{"type": {"LAYER3"}})
	if pending(err) {
		return nil // listed at the first level (overlayHint)
	}
	if err := st.incomplete(fw, err); err != nil {
		return err
	}
	if err == nil && len(sections) == 0 {
		return nil // no distributed firewall section at all: nothing decides, nothing to show
	}
	// Which scoped sections apply to each port: asked only when some section is scoped (a
	// firewall of applied-everywhere sections needs no more reads, nor another round trip).
	at := map[string][]string{} // section -> endpoint ports it applies to
	scoped := slices.ContainsFunc(sections, func(x fwSection) bool { return len(x.AppliedTos) > 0 })
	waiting := false
	for _, sp := range ports {
		if !scoped || all {
			break
		}
		hits, err := list[fwSection](ctx, st.f, "/api/v1/firewall/sections", url.Values{"applied_tos": {sp.ID}, "deep_search": {"true"}})
		waiting = waiting || pending(err)
		if err := st.incomplete(fw, err); err != nil {
			return err
		}
		for _, h := range hits {
			at[h.ID] = append(at[h.ID], sp.ID)
		}
	}
	if waiting {
		return nil // the rules to read depend on them
	}
	for _, sec := range sections {
		if len(sec.AppliedTos) > 0 && len(at[sec.ID]) == 0 && !all {
			continue // applies to none of the walk's ports
		}
		rules, err := list[fwRule](ctx, st.f, "/api/v1/firewall/sections/"+url.PathEscape(sec.ID)+"/rules", nil)
		if err := st.incomplete(fw, err); err != nil {
			return err
		}
		org := origin(sec.Tags)
		scope := trace.FirewallScope{Any: len(sec.AppliedTos) == 0, Ports: at[sec.ID]}
		for _, r := range sec.AppliedTos {
			scope.Groups = append(scope.Groups, cmp.Or(r.TargetDisplayName, r.TargetID))
		}
		if all && len(sec.AppliedTos) > 0 {
			scope, err = st.mpPeerScope(ctx, sec.AppliedTos)
			if err := st.incomplete(fw, err); err != nil {
				return err
			}
		}
		for i, r := range rules {
			fr := trace.FirewallRule{ID: r.ID, Name: r.DisplayName, Section: sec.ID, SectionName: sec.DisplayName, Priority: i + 1,
				Direction: fwDirection[r.Direction], Action: cmp.Or(fwAction[r.Action], trace.FirewallUnknownAction), RawAction: r.Action,
				Stateful: sec.Stateful, AppliedTo: scope, Disabled: r.Disabled, Default: r.IsDefault || sec.IsDefault && i == len(rules)-1, Origin: org, Source: trace.SourceNSX}
			if len(r.AppliedTos) > 0 {
				fr.AppliedTo, err = st.mpPeerScope(ctx, r.AppliedTos)
				if err := st.incomplete(fw, err); err != nil {
					return err
				}
			}
			var unknown []string
			fr.Sources, unknown, err = st.mpPeer(ctx, r.Sources, r.SourcesExcluded, unknown)
			if err := st.incomplete(fw, err); err != nil {
				return err
			}
			fr.Destinations, unknown, err = st.mpPeer(ctx, r.Destinations, r.DestinationsExcluded, unknown)
			if err := st.incomplete(fw, err); err != nil {
				return err
			}
			var inline []l4Service
			for _, sv := range r.Services {
				if sv.Service != nil {
					inline = append(inline, *sv.Service)
				} else {
					unknown = append(unknown, "service "+cmp.Or(sv.TargetDisplayName, sv.TargetID)+" (a referenced NSService is not read)")
				}
			}
			fr.Services, unknown = services(inline, unknown)
			fr.Unknown = strings.Join(unknown, "; ")
			if fr.Default {
				fw.DefaultAction = fr.Action
			}
			fw.Rules = append(fw.Rules, fr)
		}
	}
	st.ov.fw = fw
	return nil
}

// mpPeer resolves a rule's sources or destinations: empty is any; an NSGroup its effective IPs
// and logical ports, an IPSet its addresses, a logical port itself. What it cannot resolve is
// named in unknown (never guessed).
func (st *state) mpPeer(ctx context.Context, refs []resRef, negate bool, unknown []string) (trace.FirewallPeer, []string, error) {
	p := trace.FirewallPeer{Any: len(refs) == 0, Negate: negate && len(refs) > 0}
	for _, r := range refs {
		p.Groups = append(p.Groups, cmp.Or(r.TargetDisplayName, r.TargetID))
		switch r.TargetType {
		case "NSGroup":
			base := "/api/v1/ns-groups/" + url.PathEscape(r.TargetID)
			ips, err := list[string](ctx, st.f, base+"/effective-ip-address-members", nil)
			if err != nil {
				return p, unknown, err
			}
			lps, err := list[resRef](ctx, st.f, base+"/effective-logical-port-members", nil)
			if err != nil {
				return p, unknown, err
			}
			p.CIDRs = append(p.CIDRs, ips...)
			for _, lp := range lps {
				p.Ports = append(p.Ports, lp.TargetID)
			}
		case "IPSet":
			set, err := fetch[ipSet](ctx, st.f, "/api/v1/ip-sets/"+url.PathEscape(r.TargetID), nil)
			if err != nil {
				return p, unknown, err
			}
			p.CIDRs = append(p.CIDRs, set.IPAddresses...)
		case "LogicalPort":
			p.Ports = append(p.Ports, r.TargetID)
		default:
			unknown = append(unknown, fmt.Sprintf("members of %s %s", r.TargetType, cmp.Or(r.TargetDisplayName, r.TargetID)))
		}
	}
	return p, unknown, nil
}

// mpPeerScope is a rule's own applied_tos as a scope: logical ports, switches, NSGroups' ports.
func (st *state) mpPeerScope(ctx context.Context, refs []resRef) (trace.FirewallScope, error) {
	var s trace.FirewallScope
	for _, r := range refs {
		s.Groups = append(s.Groups, cmp.Or(r.TargetDisplayName, r.TargetID))
		switch r.TargetType {
		case "LogicalSwitch":
			s.Switches = append(s.Switches, r.TargetID)
		case "LogicalPort":
			s.Ports = append(s.Ports, r.TargetID)
		case "NSGroup":
			lps, err := list[resRef](ctx, st.f, "/api/v1/ns-groups/"+url.PathEscape(r.TargetID)+"/effective-logical-port-members", nil)
			if err != nil {
				return s, err
			}
			for _, lp := range lps {
				s.Ports = append(s.Ports, lp.TargetID)
			}
		}
	}
	return s, nil
}

// Policy categories in evaluation order (the NSX-T DFW's category order).
var policyCategories = []string{"Ethernet", "Emergency", "Infrastructure", "Environment", "Application"}

// readPolicyFirewall reads the Policy firewall for ports; all (a bundle): every security policy,
// each applied where its scope groups' members are.
func (st *state) readPolicyFirewall(ctx context.Context, ports []*trace.SwitchPort, all bool) error {
	fw := &trace.Firewall{Kind: "nsx-policy", Complete: true, DefaultAction: trace.FirewallUnknownAction, Source: trace.SourceNSX}
	policies, err := list[secPolicy](ctx, st.f, policyDomain+"/security-policies", nil)
	if pending(err) {
		return nil // listed at the first level (overlayHint)
	}
	if err := st.incomplete(fw, err); err != nil {
		return err
	}
	if err == nil && len(policies) == 0 {
		return nil // no security policy at all: nothing decides, nothing to show
	}
	scoped := slices.ContainsFunc(policies, func(x secPolicy) bool { return len(x.Scope) > 0 && !slices.Contains(x.Scope, "ANY") })
	waiting := false
	slices.SortStableFunc(policies, func(a, b secPolicy) int {
		return cmp.Or(cmp.Compare(catRank(a.Category), catRank(b.Category)), cmp.Compare(a.SequenceNumber, b.SequenceNumber))
	})
	inGroup := map[string][]string{} // group path -> endpoint ports in it
	for _, sp := range ports {
		if !scoped || all {
			break
		}
		path := "/infra/segments/" + sp.Switch + "/ports/" + sp.ID
		gs, err := list[groupAssoc](ctx, st.f, "/policy/api/v1/infra/group-associations", url.Values{"intent_path": {path}})
		waiting = waiting || pending(err)
		if err := st.incomplete(fw, err); err != nil {
			return err
		}
		for _, g := range gs {
			inGroup[cmp.Or(g.Path, g.TargetID)] = append(inGroup[cmp.Or(g.Path, g.TargetID)], sp.ID)
		}
	}
	if waiting {
		return nil // the rules to read depend on both
	}
	scopeOf := func(paths []string) (trace.FirewallScope, bool) {
		var s trace.FirewallScope
		if len(paths) == 0 || slices.Contains(paths, "ANY") {
			return trace.FirewallScope{Any: true}, true
		}
		for _, p := range paths {
			s.Groups = append(s.Groups, p)
			if all {
				sps, err := list[groupMember](ctx, st.f, "/policy/api/v1"+p+"/members/segment-ports", nil)
				if err := st.incomplete(fw, err); err != nil {
					return s, false
				}
				for _, m := range sps {
					s.Ports = append(s.Ports, m.ID)
				}
				continue
			}
			s.Ports = append(s.Ports, inGroup[p]...)
		}
		return s, all || len(s.Ports) > 0
	}
	for _, sp := range policies {
		scope, applies := scopeOf(sp.Scope)
		if !applies {
			continue
		}
		rules, err := list[polRule](ctx, st.f, "/policy/api/v1"+sp.Path+"/rules", nil)
		if err := st.incomplete(fw, err); err != nil {
			return err
		}
		slices.SortStableFunc(rules, func(a, b polRule) int { return cmp.Compare(a.SequenceNumber, b.SequenceNumber) })
		for i, r := range rules {
			fr := trace.FirewallRule{ID: r.ID, Name: r.DisplayName, Section: sp.Path, SectionName: sp.DisplayName, Category: sp.Category, Priority: r.SequenceNumber,
				Direction: fwDirection[r.Direction], Action: cmp.Or(fwAction[r.Action], trace.FirewallUnknownAction), RawAction: r.Action, Stateful: sp.Stateful,
				AppliedTo: scope, Disabled: r.Disabled, Default: r.IsDefault || sp.IsDefault && i == len(rules)-1, Origin: cmp.Or(origin(r.Tags), origin(sp.Tags)), Source: trace.SourceNSX}
			if rs, _ := scopeOf(r.Scope); !rs.Any {
				fr.AppliedTo = rs
			}
			if fr.Sources, err = st.policyPeer(ctx, r.SourceGroups, r.SourcesExcluded); err != nil {
				if err := st.incomplete(fw, err); err != nil {
					return err
				}
			}
			if fr.Destinations, err = st.policyPeer(ctx, r.DestinationGroups, r.DestinationsExcluded); err != nil {
				if err := st.incomplete(fw, err); err != nil {
					return err
				}
			}
			var unknown []string
			for _, sv := range r.Services {
				if sv != "ANY" {
					unknown = append(unknown, "service "+sv+" (a referenced service is not read)")
				}
			}
			fr.Services, unknown = services(r.ServiceEntries, unknown)
			fr.Unknown = strings.Join(unknown, "; ")
			if fr.Default {
				fw.DefaultAction = fr.Action
			}
			fw.Rules = append(fw.Rules, fr)
		}
	}
	st.ov.fw = fw
	return nil
}

// services maps a rule's inline L4 port sets to the model's; what it cannot evaluate (source
// ports, another service type) is named in unknown, never dropped.
func services(l4 []l4Service, unknown []string) ([]trace.FirewallService, []string) {
	var out []trace.FirewallService
	for _, sv := range l4 {
		if sv.ResourceType != "L4PortSetNSService" && sv.ResourceType != "L4PortSetServiceEntry" || len(sv.SourcePorts) > 0 {
			unknown = append(unknown, "service "+sv.ResourceType+" "+sv.L4Protocol+" (not evaluated)")
			continue
		}
		out = append(out, trace.FirewallService{Protocol: strings.ToLower(sv.L4Protocol), Ports: sv.DestinationPorts})
	}
	return out, unknown
}

func catRank(c string) int {
	if i := slices.Index(policyCategories, c); i >= 0 {
		return i
	}
	return len(policyCategories)
}

// policyPeer resolves a rule's source or destination groups: "ANY", else each group's effective
// IPs and segment ports.
func (st *state) policyPeer(ctx context.Context, groups []string, negate bool) (trace.FirewallPeer, error) {
	if len(groups) == 0 || slices.Contains(groups, "ANY") {
		return trace.FirewallPeer{Any: true}, nil
	}
	p := trace.FirewallPeer{Negate: negate}
	for _, g := range groups {
		p.Groups = append(p.Groups, g)
		if !strings.HasPrefix(g, "/") {
			p.CIDRs = append(p.CIDRs, g) // a rule may name addresses directly
			continue
		}
		ips, err := list[string](ctx, st.f, "/policy/api/v1"+g+"/members/ip-addresses", nil)
		if err != nil {
			return p, err
		}
		sps, err := list[groupMember](ctx, st.f, "/policy/api/v1"+g+"/members/segment-ports", nil)
		if err != nil {
			return p, err
		}
		p.CIDRs = append(p.CIDRs, ips...)
		for _, m := range sps {
			p.Ports = append(p.Ports, m.ID)
		}
	}
	return p, nil
}
