package nsxtest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// addOverlay renders a fabric's hosts and firewall as a manager serves them: each Host a transport
// node with its own uplink profile (its host switch MTU), its TEPs in its state and its tunnels;
// each port's Host the transport node its state names; the firewall's rules as MP sections and
// rules over NSGroups and IPSets, and as Policy security policies and rules over groups, in the
// same order. What the model holds that NSX does not say (a host's underlay device) is not served.
func (t *Topology) addOverlay(f *trace.Fabric) {
	gc := GlobalConfig{ResourceType: "GlobalConfig", ID: "global-config", Path: "/infra/global-config", ParentPath: "/infra", DisplayName: "global-config"}
	for _, rp := range f.RouterPorts {
		if rp.Kind == trace.RouterPortDownlink && rp.MAC != "" {
			gc.VdrMAC = rp.MAC // one MAC for every distributed router port
			break
		}
	}
	t.GlobalConfig = &gc
	if len(f.Hosts) > 0 {
		t.addHosts(f)
	} else {
		// No hosts to serve: no port state names one (a manager never names a node it lacks).
		for id, st := range t.PortStates {
			st.TransportNodeIDs = nil
			t.PortStates[id] = st
		}
		for i := range t.VIFs {
			t.VIFs[i].HostID = ""
		}
	}
	if f.Firewall != nil {
		t.addFirewall(f)
	}
}

func (t *Topology) addHosts(f *trace.Fabric) {
	tr := t.transport()
	tr.PortHosts = map[string]string{}
	name := map[string]string{}
	for _, h := range f.Hosts {
		name[h.ID] = h.Name
	}
	for _, h := range f.Hosts {
		prof := UplinkProfile{ResourceType: "UplinkHostSwitchProfile", ID: "uplink-profile-" + h.ID, DisplayName: "uplink-profile-" + h.ID, MTU: h.HostSwitchMTU,
			OverlayEncap: "GENEVE", Teaming: Teaming{Policy: "FAILOVER_ORDER", ActiveList: []UplinkTarget{{UplinkName: "uplink-1", UplinkType: "PNIC"}}}}
		tr.Profiles = append(tr.Profiles, prof)
		hsName := h.HostSwitch
		if hsName == "" {
			hsName = "nsxvswitch"
		}
		hs := HostSwitch{HostSwitchName: hsName, HostSwitchID: "hs-" + h.ID, HostSwitchType: "NVDS", HostSwitchMode: "STANDARD",
			HostSwitchProfileIDs:   []KeyValue{{Key: "UplinkHostSwitchProfile", Value: prof.ID}},
			TransportZoneEndpoints: []TransportZoneEndpoint{{TransportZoneID: "tz-overlay"}}, Pnics: []Pnic{{DeviceName: "vmnic1", UplinkName: "uplink-1"}}}
		tr.Nodes = append(tr.Nodes, TransportNode{ResourceType: "TransportNode", ID: h.ID, DisplayName: h.Name, NodeID: h.ID, MaintenanceMode: "DISABLED",
			HostSwitchSpec:     &HostSwitchSpec{ResourceType: "StandardHostSwitchSpec", HostSwitches: []HostSwitch{hs}},
			NodeDeploymentInfo: &HostNode{ResourceType: "HostNode", ID: h.ID, DisplayName: h.Name, Fqdn: h.Name, OsType: "ESXI", OsVersion: "7.0.3"}})
		st := HostSwitchState{HostSwitchID: hs.HostSwitchID, HostSwitchName: hsName, HostSwitchType: "NVDS", TransportZoneIDs: []string{"tz-overlay"}}
		for i, tep := range h.TEPs {
			st.Endpoints = append(st.Endpoints, TEP{DeviceName: tep.Interface, IP: tep.IP, Label: 0x1001 + i})
		}
		tr.States[h.ID] = TransportNodeState{TransportNodeID: h.ID, State: "success", HostSwitchStates: []HostSwitchState{st}}
		for _, x := range h.Tunnels {
			tun := Tunnel{Name: x.Name, LocalIP: x.LocalIP, RemoteIP: x.RemoteIP, RemoteNodeID: x.RemoteHost, RemoteNodeDisplayName: name[x.RemoteHost],
				Status: strings.ToUpper(x.State), Encap: strings.ToUpper(x.Encap), EgressInterface: "vmnic1", LastUpdatedTime: 1700000000000}
			if b := x.BFD; b != nil {
				fwd := b.Forwarding == nil || *b.Forwarding
				tun.BFD = &BFD{State: strings.ToUpper(b.State), Diagnostic: b.Diagnostic, RemoteState: strings.ToUpper(b.RemoteState),
					RemoteDiagnostic: b.RemoteDiagnostic, Active: true, Forwarding: fwd, BfdEncap: strings.ToUpper(x.Encap)}
			}
			tr.Tunnels[h.ID] = append(tr.Tunnels[h.ID], tun)
		}
	}
	for _, p := range f.SwitchPorts {
		if p.Host != "" {
			tr.PortHosts[p.ID] = p.Host
		}
	}
	for i, v := range t.VIFs {
		for _, p := range f.SwitchPorts {
			if p.Host != "" && p.AttachmentID != "" && p.AttachmentID == v.LportAttachmentID {
				t.VIFs[i].HostID = p.Host
			}
		}
	}
	for id, st := range t.PortStates {
		if h := tr.PortHosts[id]; h != "" {
			st.TransportNodeIDs = []string{h}
			t.PortStates[id] = st
		}
	}
}

// OriginScope is the tag NCP names a firewall object's NetworkPolicy with (nsx_ujo TAG_NP).
const OriginScope = "ncp/network_policy"

func (t *Topology) addFirewall(f *trace.Fabric) {
	fw := t.firewall()
	segPath := map[string]string{}
	for _, p := range t.SegmentPorts {
		segPath[p.ID] = p.Path
	}
	type sect struct {
		id    string
		rules []trace.FirewallRule
	}
	var sects []*sect
	for _, r := range f.Firewall.Rules {
		if n := len(sects); n > 0 && sects[n-1].id == r.Section {
			sects[n-1].rules = append(sects[n-1].rules, r)
			continue
		}
		sects = append(sects, &sect{id: r.Section, rules: []trace.FirewallRule{r}})
	}
	// An MP NSGroup / IPSet and a Policy group per distinct set of ports or addresses.
	nsgroups, ipsets, groups := map[string]string{}, map[string]string{}, map[string]string{}
	mpRefs := func(ports, cidrs []string, label string) []ResourceReference {
		var out []ResourceReference
		if len(ports) > 0 {
			key := strings.Join(ports, ",")
			id, ok := nsgroups[key]
			if !ok {
				id = fmt.Sprintf("nsg-%d", len(nsgroups)+1)
				nsgroups[key] = id
				g := NSGroup{ResourceType: "NSGroup", ID: id, DisplayName: label}
				for _, p := range ports {
					g.Members = append(g.Members, NSGroupExpression{ResourceType: "NSGroupSimpleExpression", TargetType: "LogicalPort", TargetProperty: "id", Op: "EQUALS", Value: p})
				}
				fw.NSGroups = append(fw.NSGroups, g)
			}
			out = append(out, ResourceReference{TargetID: id, TargetType: "NSGroup", TargetDisplayName: label, IsValid: true})
		}
		if len(cidrs) > 0 {
			key := strings.Join(cidrs, ",")
			id, ok := ipsets[key]
			if !ok {
				id = fmt.Sprintf("ipset-%d", len(ipsets)+1)
				ipsets[key] = id
				fw.IPSets = append(fw.IPSets, IPSet{ResourceType: "IPSet", ID: id, DisplayName: label, IPAddresses: slices.Clone(cidrs)})
			}
			out = append(out, ResourceReference{TargetID: id, TargetType: "IPSet", TargetDisplayName: label, IsValid: true})
		}
		return out
	}
	policyGroups := func(ports, cidrs []string, label string) []string {
		var out []string
		add := func(key string, e GroupExpression) {
			id, ok := groups[key]
			if !ok {
				id = fmt.Sprintf("group-%d", len(groups)+1)
				groups[key] = id
				fw.Groups = append(fw.Groups, Group{ResourceType: "Group", ID: id, Path: Domain + "/groups/" + id, ParentPath: Domain, DisplayName: label, Expression: []GroupExpression{e}})
			}
			out = append(out, Domain+"/groups/"+id)
		}
		if len(ports) > 0 {
			var paths []string
			for _, p := range ports {
				paths = append(paths, segPath[p])
			}
			add("ports:"+strings.Join(ports, ","), GroupExpression{ResourceType: "PathExpression", Paths: paths})
		}
		if len(cidrs) > 0 {
			add("cidrs:"+strings.Join(cidrs, ","), GroupExpression{ResourceType: "IPAddressExpression", IPAddresses: slices.Clone(cidrs)})
		}
		if len(out) == 0 {
			out = []string{"ANY"}
		}
		return out
	}
	label := func(groups []string, fallback string) string {
		if len(groups) > 0 {
			return groups[0]
		}
		return fallback
	}
	dir := map[string]string{trace.FirewallEgress: "OUT", trace.FirewallIngress: "IN", trace.FirewallBoth: "IN_OUT"}
	act := map[string]string{trace.FirewallAllow: "ALLOW", trace.FirewallDrop: "DROP", trace.FirewallReject: "REJECT", trace.FirewallPass: "JUMP_TO_APPLICATION"}
	for i, sc := range sects {
		r0 := sc.rules[0]
		var tags []Tag
		if o := r0.Origin; o != nil && o.Kind == trace.OriginNetworkPolicy {
			tags = []Tag{{ScopeCluster, ClusterName}, {ScopeProject, o.Namespace}, {OriginScope, o.Name}}
		}
		sec := FirewallSection{ResourceType: "FirewallSection", ID: sc.id, DisplayName: r0.SectionName, SectionType: "LAYER3", Stateful: r0.Stateful,
			IsDefault: r0.Default, RuleCount: len(sc.rules), Tags: tags}
		sp := SecurityPolicy{ResourceType: "SecurityPolicy", ID: sc.id, Path: Domain + "/security-policies/" + sc.id, ParentPath: Domain, DisplayName: r0.SectionName,
			Category: "Application", SequenceNumber: 10 * (i + 1), Stateful: r0.Stateful, IsDefault: r0.Default, RuleCount: len(sc.rules), Tags: tags}
		// NCP applies a section to the pods it selects: the first rule's scope is the section's.
		if !r0.AppliedTo.Any {
			sec.AppliedTos = mpRefs(r0.AppliedTo.Ports, nil, label(r0.AppliedTo.Groups, sc.id+"-applied"))
			sp.Scope = policyGroups(r0.AppliedTo.Ports, nil, label(r0.AppliedTo.Groups, sc.id+"-applied"))
		}
		fw.Sections = append(fw.Sections, sec)
		fw.Policies = append(fw.Policies, sp)
		for j, r := range sc.rules {
			fr := FirewallRule{ResourceType: "FirewallRule", ID: r.ID, DisplayName: r.Name, Action: act[r.Action], Direction: dir[r.Direction], IPProtocol: "IPV4_IPV6",
				Disabled: r.Disabled, IsDefault: r.Default, SectionID: sc.id, SourcesExcluded: r.Sources.Negate, DestinationsExcluded: r.Destinations.Negate}
			pr := PolicyRule{ResourceType: "Rule", ID: r.ID, Path: sp.Path + "/rules/" + r.ID, ParentPath: sp.Path, DisplayName: r.Name, Action: act[r.Action],
				Direction: dir[r.Direction], IPProtocol: "IPV4_IPV6", Services: []string{"ANY"}, Scope: []string{"ANY"}, SequenceNumber: cmp.Or(r.Priority, j+1),
				RuleID: 1000*(i+1) + j, Disabled: r.Disabled, IsDefault: r.Default, Tags: tags, SourcesExcluded: r.Sources.Negate, DestinationsExcluded: r.Destinations.Negate}
			for k, sv := range r.Services {
				proto := strings.ToUpper(sv.Protocol)
				fr.Services = append(fr.Services, FirewallServiceRef{Service: &L4Service{ResourceType: "L4PortSetNSService", L4Protocol: proto, DestinationPorts: sv.Ports}})
				pr.ServiceEntries = append(pr.ServiceEntries, L4Service{ResourceType: "L4PortSetServiceEntry", ID: fmt.Sprintf("%s-%d", r.ID, k), L4Protocol: proto, DestinationPorts: sv.Ports})
			}
			if len(pr.ServiceEntries) > 0 {
				pr.Services = nil
			}
			if !r.Sources.Any {
				fr.Sources = mpRefs(r.Sources.Ports, r.Sources.CIDRs, label(r.Sources.Groups, r.ID+"-src"))
				pr.SourceGroups = policyGroups(r.Sources.Ports, r.Sources.CIDRs, label(r.Sources.Groups, r.ID+"-src"))
			} else {
				pr.SourceGroups = []string{"ANY"}
			}
			if !r.Destinations.Any {
				fr.Destinations = mpRefs(r.Destinations.Ports, r.Destinations.CIDRs, label(r.Destinations.Groups, r.ID+"-dst"))
				pr.DestinationGroups = policyGroups(r.Destinations.Ports, r.Destinations.CIDRs, label(r.Destinations.Groups, r.ID+"-dst"))
			} else {
				pr.DestinationGroups = []string{"ANY"}
			}
			if j > 0 && !slices.Equal(r.AppliedTo.Ports, r0.AppliedTo.Ports) && !r.AppliedTo.Any {
				fr.AppliedTos = mpRefs(r.AppliedTo.Ports, nil, label(r.AppliedTo.Groups, r.ID+"-applied"))
				pr.Scope = policyGroups(r.AppliedTo.Ports, nil, label(r.AppliedTo.Groups, r.ID+"-applied"))
			}
			fw.Rules[sc.id] = append(fw.Rules[sc.id], fr)
			fw.PolicyRules = append(fw.PolicyRules, pr)
		}
	}
}
