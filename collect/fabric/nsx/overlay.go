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
// Hosts: each endpoint port's NIC's inventory VIF names the transport node it is realized on
// (host_id; a CHILD port's NIC is its parent VIF, so a node's pods share one read), else the
// port's state does (transport_node_ids); for each such node, the node (its host switch and uplink profile), its
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
	tns, err := list[transportNode](ctx, st.f, st.tnList(), nil)
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

// tnList is the list of (host) transport nodes in the API collected through; tnBase one of them.
func (st *state) tnList() string {
	if st.policy != nil {
		return "/policy/api/v1/infra/sites/default/enforcement-points/default/host-transport-nodes"
	}
	return "/api/v1/transport-nodes"
}

func (st *state) tnBase(id string) string { return st.tnList() + "/" + url.PathEscape(id) }

func (st *state) readHosts(ctx context.Context, ports []*trace.SwitchPort) error {
	var nodes []string
	waiting := false
	for _, sp := range ports {
		h, wait := st.inventoryHost(ctx, sp)
		if wait {
			waiting = true
			continue
		}
		if h != "" {
			// The NIC's inventory VIF names its host: the read that finds a node's NIC (or, for a
			// check, the inventory listed once); a CHILD port runs where its parent VIF does, so a
			// node's pods share one read, not one port state each.
			st.ov.portHost[sp.ID] = h
			if !slices.Contains(nodes, h) {
				nodes = append(nodes, h)
			}
			continue
		}
		s, err := fetch[portState](ctx, st.f, st.portStatePath(sp), nil) // the same read as learnState's
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
// VIF's), read with vifOfPort (the same read nodePort makes for a node's NIC); "" when the
// inventory names none, true while the read waits for the next level.
func (st *state) inventoryHost(ctx context.Context, sp *trace.SwitchPort) (string, bool) {
	att := sp.AttachmentID
	if sp.Type == trace.PortChild || sp.ParentVIF != "" {
		att = sp.ParentVIF
	} else if sp.Type != trace.PortVIF {
		return "", false
	}
	v, waiting := st.vifOfPort(ctx, att)
	if v == nil || waiting {
		return "", waiting
	}
	return v.HostID, false
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
	if pending(err) {
		return 0, err // the list, which holds every uplink profile, answers next level: no read of its own beside it
	}
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
