package nsxtest

import (
	"net/url"
	"strings"

	vb "github.com/vmware/vsphere-automation-sdk-go/runtime/bindings"
	mp "github.com/vmware/vsphere-automation-sdk-go/services/nsxt-mp/nsx/model"
	pm "github.com/vmware/vsphere-automation-sdk-go/services/nsxt/model"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// overlayBinding names the SDK binding of an overlay or firewall answer (transport.go, firewall.go).
func overlayBinding(path string) (vb.BindingType, bool) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	last := seg[len(seg)-1]
	tn := "/policy/api/v1" + hostTNs
	dom := "/policy/api/v1" + Domain
	switch {
	case path == "/policy/api/v1/infra/global-config":
		return pm.GlobalConfigBindingType(), true
	case path == "/api/v1/transport-nodes":
		return mp.TransportNodeListResultBindingType(), true
	case len(seg) == 4 && seg[2] == "transport-nodes":
		return mp.TransportNodeBindingType(), true
	case len(seg) == 5 && seg[2] == "transport-nodes" && last == "state":
		return mp.TransportNodeStateBindingType(), true
	case len(seg) == 5 && seg[2] == "transport-nodes" && last == "tunnels":
		return mp.TunnelListBindingType(), true
	case path == "/api/v1/host-switch-profiles":
		return mp.HostSwitchProfilesListResultBindingType(), true
	case path == "/policy/api/v1/infra/host-switch-profiles":
		return pm.PolicyHostSwitchProfilesListResultBindingType(), true
	case len(seg) == 4 && seg[2] == "host-switch-profiles":
		return vb.NewDynamicStructType(nil), true // resolved by resource_type
	case path == tn:
		return pm.HostTransportNodeListResultBindingType(), true
	case strings.HasPrefix(path, tn+"/") && len(seg) == 10:
		return pm.HostTransportNodeBindingType(), true
	case strings.HasPrefix(path, tn+"/") && last == "state":
		return pm.TransportNodeStateBindingType(), true
	case strings.HasPrefix(path, tn+"/") && last == "tunnels":
		return pm.TunnelListBindingType(), true
	case strings.HasPrefix(path, "/policy/api/v1/infra/host-switch-profiles/"):
		return vb.NewDynamicStructType(nil), true
	case path == "/api/v1/firewall/sections":
		return mp.FirewallSectionListResultBindingType(), true
	case len(seg) == 5 && seg[2] == "firewall":
		return mp.FirewallSectionBindingType(), true
	case len(seg) == 6 && seg[2] == "firewall" && last == "rules":
		return mp.FirewallRuleListResultBindingType(), true
	case path == "/api/v1/ns-groups":
		return mp.NSGroupListResultBindingType(), true
	case len(seg) == 4 && seg[2] == "ns-groups":
		return mp.NSGroupBindingType(), true
	case len(seg) == 5 && last == "effective-logical-port-members":
		return mp.EffectiveMemberResourceListResultBindingType(), true
	case len(seg) == 5 && last == "effective-ip-address-members":
		return mp.EffectiveIPAddressMemberListResultBindingType(), true
	case path == "/api/v1/ip-sets":
		return mp.IPSetListResultBindingType(), true
	case len(seg) == 4 && seg[2] == "ip-sets":
		return mp.IPSetBindingType(), true
	case path == dom+"/security-policies":
		return pm.SecurityPolicyListResultBindingType(), true
	case strings.HasPrefix(path, dom+"/security-policies/") && last == "rules":
		return pm.RuleListResultBindingType(), true
	case strings.HasPrefix(path, dom+"/security-policies/") && len(seg) == 8:
		return pm.SecurityPolicyBindingType(), true
	case strings.HasPrefix(path, dom+"/security-policies/") && len(seg) == 10 && seg[8] == "rules":
		return pm.RuleBindingType(), true
	case path == dom+"/groups":
		return pm.GroupListResultBindingType(), true
	case strings.HasPrefix(path, dom+"/groups/") && len(seg) == 8:
		return pm.GroupBindingType(), true
	case strings.HasPrefix(path, dom+"/groups/") && last == "segment-ports":
		return pm.PolicyGroupMembersListResultBindingType(), true
	case strings.HasPrefix(path, dom+"/groups/") && last == "ip-addresses":
		return pm.PolicyGroupIPMembersListResultBindingType(), true
	case path == "/policy/api/v1/infra/group-associations":
		return pm.PolicyResourceReferenceForEPListResultBindingType(), true
	}
	return nil, false
}

// overlayResourceTypes resolve the polymorphic entries of the overlay and firewall shapes.
func overlayResourceTypes(policy bool) map[string]vb.BindingType {
	if policy {
		return map[string]vb.BindingType{
			"StandardHostSwitchSpec":        pm.StandardHostSwitchSpecBindingType(),
			"PolicyUplinkHostSwitchProfile": pm.PolicyUplinkHostSwitchProfileBindingType(),
			"Condition":                     pm.ConditionBindingType(),
			"IPAddressExpression":           pm.IPAddressExpressionBindingType(),
			"PathExpression":                pm.PathExpressionBindingType(),
			"L4PortSetServiceEntry":         pm.L4PortSetServiceEntryBindingType(),
		}
	}
	return map[string]vb.BindingType{
		"StandardHostSwitchSpec":  mp.StandardHostSwitchSpecBindingType(),
		"HostNode":                mp.HostNodeBindingType(),
		"UplinkHostSwitchProfile": mp.UplinkHostSwitchProfileBindingType(),
		"NSGroupTagExpression":    mp.NSGroupTagExpressionBindingType(),
		"NSGroupSimpleExpression": mp.NSGroupSimpleExpressionBindingType(),
		"L4PortSetNSService":      mp.L4PortSetNSServiceBindingType(),
	}
}

// overlayServed are the requests that reach every overlay and firewall answer of top: every
// object, its state and tunnels (filtered too), every section's rules, every group's members, the
// associations of every segment port, and the refusals.
func overlayServed(top *Topology) []string {
	var out []string
	add := func(s string) { out = append(out, s) }
	tn := "/policy/api/v1" + hostTNs
	dom := "/policy/api/v1" + Domain
	for _, l := range []string{"/api/v1/transport-nodes", tn, "/api/v1/firewall/sections", "/api/v1/ns-groups", "/api/v1/ip-sets", dom + "/security-policies", dom + "/groups"} {
		add(l + "?page_size=2")
	}
	if tr := top.Transport; tr != nil {
		for _, n := range tr.Nodes {
			for _, base := range []string{"/api/v1/transport-nodes/" + n.ID, tn + "/" + n.ID} {
				add(base)
				add(base + "/state")
				add(base + "/tunnels?page_size=1")
				add(base + "/tunnels?status=DOWN")
				add(base + "/tunnels?encap=GENEVE")
				add(base + "/tunnels?bfd_diagnostic_code=1")
				for _, x := range tr.Tunnels[n.ID] {
					add(base + "/tunnels?remote_node_id=" + url.QueryEscape(x.RemoteNodeID))
				}
			}
		}
		for _, n := range tr.Nodes {
			add("/api/v1/transport-nodes?node_id=" + url.QueryEscape(n.NodeID))
		}
		add("/api/v1/host-switch-profiles?hostswitch_profile_type=UplinkHostSwitchProfile&page_size=1")
		add("/policy/api/v1/infra/host-switch-profiles?hostswitch_profile_type=PolicyUplinkHostSwitchProfile&page_size=1")
		for _, p := range tr.Profiles {
			add("/api/v1/host-switch-profiles/" + p.ID)
			add("/policy/api/v1/infra/host-switch-profiles/" + p.ID)
		}
	}
	if fw := top.Firewall; fw != nil {
		for _, s := range fw.Sections {
			add("/api/v1/firewall/sections/" + s.ID)
			add("/api/v1/firewall/sections/" + s.ID + "/rules")
		}
		add("/api/v1/firewall/sections?type=LAYER3&page_size=2")
		for _, p := range top.LogicalPorts {
			add("/api/v1/firewall/sections?deep_search=true&applied_tos=" + url.QueryEscape(p.ID))
		}
		for _, g := range fw.NSGroups {
			for _, m := range []string{"", "/effective-logical-port-members", "/effective-ip-address-members"} {
				add("/api/v1/ns-groups/" + g.ID + m)
			}
		}
		for _, s := range fw.IPSets {
			add("/api/v1/ip-sets/" + s.ID)
		}
		for _, p := range fw.Policies {
			add("/policy/api/v1" + p.Path)
			add("/policy/api/v1" + p.Path + "/rules")
		}
		for _, r := range fw.PolicyRules {
			add("/policy/api/v1" + r.Path)
		}
		for _, g := range fw.Groups {
			for _, m := range []string{"", "/members/segment-ports", "/members/ip-addresses"} {
				add("/policy/api/v1" + g.Path + m)
			}
		}
		for _, p := range top.SegmentPorts {
			add("/policy/api/v1/infra/group-associations?intent_path=" + url.QueryEscape(p.Path))
		}
	}
	add("/policy/api/v1/infra/global-config")
	add("/api/v1/transport-nodes/no-such-node/tunnels")
	add("/api/v1/firewall/sections/no-such-section/rules")
	add("/policy/api/v1/infra/group-associations")
	return out
}

// withOverlay places a fabric's node ports on two hosts, one tunnel of the pair down, the second
// host's uplink at MTU 1500, and a firewall: a NetworkPolicy's allow and isolation rules for the
// first CHILD port, then the default rule.
func withOverlay(f *trace.Fabric) *trace.Fabric {
	fwd := false
	f.Hosts = []trace.Host{
		{ID: "tn-a", Name: "esx-a", HostSwitch: "nsxvswitch", HostSwitchMTU: 1600, TEPs: []trace.TEP{{IP: "192.168.50.11", Encap: trace.EncapGeneve, Interface: "vmk10"}},
			Tunnels: []trace.Tunnel{{Name: "geneve-b", Encap: trace.EncapGeneve, LocalIP: "192.168.50.11", RemoteIP: "192.168.50.12", RemoteHost: "tn-b", State: trace.TunnelDown,
				BFD: &trace.BFD{State: "down", RemoteState: "down", Diagnostic: "Control Detection Time Expired", RemoteDiagnostic: "Control Detection Time Expired", Forwarding: &fwd}}}},
		{ID: "tn-b", Name: "esx-b", HostSwitch: "nsxvswitch", HostSwitchMTU: 1500, TEPs: []trace.TEP{{IP: "192.168.50.12", Encap: trace.EncapGeneve, Interface: "vmk10"}},
			Tunnels: []trace.Tunnel{{Name: "geneve-a", Encap: trace.EncapGeneve, LocalIP: "192.168.50.12", RemoteIP: "192.168.50.11", RemoteHost: "tn-a", State: trace.TunnelUp,
				BFD: &trace.BFD{State: "up", RemoteState: "up", Diagnostic: "No Diagnostic", RemoteDiagnostic: "No Diagnostic"}}}},
	}
	child := ""
	for i, p := range f.SwitchPorts {
		if p.NodeName != "" || p.Type == trace.PortChild {
			f.SwitchPorts[i].Host = []string{"tn-a", "tn-b"}[i%2]
		}
		if child == "" && p.Type == trace.PortChild {
			child = p.ID
		}
	}
	np := &trace.RuleOrigin{Kind: trace.OriginNetworkPolicy, Namespace: "ns-000", Name: "deny-egress"}
	f.Firewall = &trace.Firewall{Kind: "nsx-mp", DefaultAction: trace.FirewallAllow, Complete: true, Rules: []trace.FirewallRule{
		{ID: "1001", Name: "allow-dns", Section: "np-allow", SectionName: "ns-000-deny-egress-allow", Direction: trace.FirewallEgress, Action: trace.FirewallAllow, Stateful: true,
			AppliedTo: trace.FirewallScope{Ports: []string{child}}, Sources: trace.FirewallPeer{Ports: []string{child}}, Destinations: trace.FirewallPeer{CIDRs: []string{"10.96.0.10"}}, Services: []trace.FirewallService{{Protocol: "udp", Ports: []string{"53"}}}, Origin: np},
		{ID: "1002", Name: "isolation", Section: "np-isolation", SectionName: "ns-000-deny-egress-isolation", Direction: trace.FirewallEgress, Action: trace.FirewallDrop, Stateful: true,
			AppliedTo: trace.FirewallScope{Ports: []string{child}}, Sources: trace.FirewallPeer{Ports: []string{child}}, Destinations: trace.FirewallPeer{Any: true}, Origin: np},
		{ID: "2", Name: "Default Layer3 Rule", Section: "default-l3", SectionName: "Default Layer3 Section", Direction: trace.FirewallBoth, Action: trace.FirewallAllow,
			Stateful: true, Default: true, AppliedTo: trace.FirewallScope{Any: true}, Sources: trace.FirewallPeer{Any: true}, Destinations: trace.FirewallPeer{Any: true}},
	}}
	return f
}

// withCriteria adds what the fabric's rendering never makes but the server evaluates: an NSGroup
// by tag criterion holding an IPSet, a Policy group by tag Condition (both on the first tagged
// port's last tag), and a disabled and a detached copy of the first load balancer service in both
// APIs, so every membership branch and every status the server computes is served and checked.
func withCriteria(t *Topology) {
	var tag Tag
	for _, p := range t.LogicalPorts {
		if n := len(p.Tags); n > 0 {
			tag = p.Tags[n-1]
		}
	}
	if fw := t.Firewall; fw != nil && tag.Scope != "" {
		g := NSGroup{ResourceType: "NSGroup", ID: "nsg-by-tag", DisplayName: "by-tag",
			MembershipCriteria: []NSGroupExpression{{ResourceType: "NSGroupTagExpression", TargetType: "LogicalPort", Scope: tag.Scope, Tag: tag.Tag}}}
		if len(fw.IPSets) > 0 {
			g.Members = []NSGroupExpression{{ResourceType: "NSGroupSimpleExpression", TargetType: "IPSet", TargetProperty: "id", Op: "EQUALS", Value: fw.IPSets[0].ID}}
		}
		fw.NSGroups = append(fw.NSGroups, g)
		fw.Groups = append(fw.Groups, Group{ResourceType: "Group", ID: "group-by-tag", Path: Domain + "/groups/group-by-tag", ParentPath: Domain, DisplayName: "by-tag",
			Expression: []GroupExpression{{ResourceType: "Condition", MemberType: "SegmentPort", Key: "Tag", Operator: "EQUALS", Value: tag.Scope + "|" + tag.Tag}}})
	}
	if len(t.LbServices) > 0 && len(t.PolicyLBServices) > 0 {
		disabled, detached := t.LbServices[0], t.LbServices[0]
		disabled.ID, disabled.Enabled = "lbs-disabled", false
		detached.ID, detached.Attachment = "lbs-detached", nil
		pdis, pdet := t.PolicyLBServices[0], t.PolicyLBServices[0]
		pdis.ID, pdis.Path, pdis.Enabled = disabled.ID, "/infra/lb-services/"+disabled.ID, false
		pdet.ID, pdet.Path, pdet.ConnectivityPath = detached.ID, "/infra/lb-services/"+detached.ID, ""
		t.LbServices = append(t.LbServices, disabled, detached)
		t.PolicyLBServices = append(t.PolicyLBServices, pdis, pdet)
	}
}
