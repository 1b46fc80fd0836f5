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

// addFirewall serves the fabric's firewall rules, section by section, as MP sections and rules and
// as Policy security policies and rules.
func (t *Topology) addFirewall(f *trace.Fabric) {
	b := &fwBuilder{fw: t.firewall(), segPath: map[string]string{}, nsgroups: map[string]string{}, ipsets: map[string]string{}, groups: map[string]string{}}
	for _, p := range t.SegmentPorts {
		b.segPath[p.ID] = p.Path
	}
	for i, sc := range fwSections(f.Firewall.Rules) {
		b.addSection(i, sc)
	}
}

// fwSect is one firewall section's rules, in order.
type fwSect struct {
	id    string
	rules []trace.FirewallRule
}

// fwSections groups consecutive rules of the same section.
func fwSections(rules []trace.FirewallRule) []*fwSect {
	var sects []*fwSect
	for _, r := range rules {
		if n := len(sects); n > 0 && sects[n-1].id == r.Section {
			sects[n-1].rules = append(sects[n-1].rules, r)
			continue
		}
		sects = append(sects, &fwSect{id: r.Section, rules: []trace.FirewallRule{r}})
	}
	return sects
}

// fwBuilder renders firewall sections into fw, with an MP NSGroup / IPSet and a Policy group per
// distinct set of ports or addresses.
type fwBuilder struct {
	fw                       *Firewall
	segPath                  map[string]string // segment port ID -> its Policy path
	nsgroups, ipsets, groups map[string]string // members key -> ID
}

var (
	fwDirection = map[string]string{trace.FirewallEgress: "OUT", trace.FirewallIngress: "IN", trace.FirewallBoth: "IN_OUT"}
	fwAction    = map[string]string{trace.FirewallAllow: "ALLOW", trace.FirewallDrop: "DROP", trace.FirewallReject: "REJECT", trace.FirewallPass: "JUMP_TO_APPLICATION"}
)

// mpRefs references the NSGroup of ports and the IPSet of cidrs, creating them on first use.
func (b *fwBuilder) mpRefs(ports, cidrs []string, label string) []ResourceReference {
	var out []ResourceReference
	if len(ports) > 0 {
		key := strings.Join(ports, ",")
		id, ok := b.nsgroups[key]
		if !ok {
			id = fmt.Sprintf("nsg-%d", len(b.nsgroups)+1)
			b.nsgroups[key] = id
			g := NSGroup{ResourceType: "NSGroup", ID: id, DisplayName: label}
			for _, p := range ports {
				g.Members = append(g.Members, NSGroupExpression{ResourceType: "NSGroupSimpleExpression", TargetType: "LogicalPort", TargetProperty: "id", Op: "EQUALS", Value: p})
			}
			b.fw.NSGroups = append(b.fw.NSGroups, g)
		}
		out = append(out, ResourceReference{TargetID: id, TargetType: "NSGroup", TargetDisplayName: label, IsValid: true})
	}
	if len(cidrs) > 0 {
		key := strings.Join(cidrs, ",")
		id, ok := b.ipsets[key]
		if !ok {
			id = fmt.Sprintf("ipset-%d", len(b.ipsets)+1)
			b.ipsets[key] = id
			b.fw.IPSets = append(b.fw.IPSets, IPSet{ResourceType: "IPSet", ID: id, DisplayName: label, IPAddresses: slices.Clone(cidrs)})
		}
		out = append(out, ResourceReference{TargetID: id, TargetType: "IPSet", TargetDisplayName: label, IsValid: true})
	}
	return out
}

// policyGroups gives the Policy group paths of ports and of cidrs, creating them on first use;
// ANY when both are empty.
func (b *fwBuilder) policyGroups(ports, cidrs []string, label string) []string {
	var out []string
	add := func(key string, e GroupExpression) {
		id, ok := b.groups[key]
		if !ok {
			id = fmt.Sprintf("group-%d", len(b.groups)+1)
			b.groups[key] = id
			b.fw.Groups = append(b.fw.Groups, Group{ResourceType: "Group", ID: id, Path: Domain + "/groups/" + id, ParentPath: Domain, DisplayName: label, Expression: []GroupExpression{e}})
		}
		out = append(out, Domain+"/groups/"+id)
	}
	if len(ports) > 0 {
		var paths []string
		for _, p := range ports {
			paths = append(paths, b.segPath[p])
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

// fwLabel names a group by the model's first group name, else by fallback.
func fwLabel(groups []string, fallback string) string {
	if len(groups) > 0 {
		return groups[0]
	}
	return fallback
}

// addSection renders section sc, the i-th, as an MP section and a Policy security policy with
// their rules.
func (b *fwBuilder) addSection(i int, sc *fwSect) {
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
		sec.AppliedTos = b.mpRefs(r0.AppliedTo.Ports, nil, fwLabel(r0.AppliedTo.Groups, sc.id+"-applied"))
		sp.Scope = b.policyGroups(r0.AppliedTo.Ports, nil, fwLabel(r0.AppliedTo.Groups, sc.id+"-applied"))
	}
	b.fw.Sections = append(b.fw.Sections, sec)
	b.fw.Policies = append(b.fw.Policies, sp)
	for j, r := range sc.rules {
		b.addRule(i, j, sc, &sp, tags, r)
	}
}

// addRule renders rule r, the j-th of the i-th section sc, as an MP rule and a Policy rule of sp.
func (b *fwBuilder) addRule(i, j int, sc *fwSect, sp *SecurityPolicy, tags []Tag, r trace.FirewallRule) {
	r0 := sc.rules[0]
	fr := FirewallRule{ResourceType: "FirewallRule", ID: r.ID, DisplayName: r.Name, Action: fwAction[r.Action], Direction: fwDirection[r.Direction], IPProtocol: "IPV4_IPV6",
		Disabled: r.Disabled, IsDefault: r.Default, SectionID: sc.id, SourcesExcluded: r.Sources.Negate, DestinationsExcluded: r.Destinations.Negate}
	pr := PolicyRule{ResourceType: "Rule", ID: r.ID, Path: sp.Path + "/rules/" + r.ID, ParentPath: sp.Path, DisplayName: r.Name, Action: fwAction[r.Action],
		Direction: fwDirection[r.Direction], IPProtocol: "IPV4_IPV6", Services: []string{"ANY"}, Scope: []string{"ANY"}, SequenceNumber: cmp.Or(r.Priority, j+1),
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
		fr.Sources = b.mpRefs(r.Sources.Ports, r.Sources.CIDRs, fwLabel(r.Sources.Groups, r.ID+"-src"))
		pr.SourceGroups = b.policyGroups(r.Sources.Ports, r.Sources.CIDRs, fwLabel(r.Sources.Groups, r.ID+"-src"))
	} else {
		pr.SourceGroups = []string{"ANY"}
	}
	if !r.Destinations.Any {
		fr.Destinations = b.mpRefs(r.Destinations.Ports, r.Destinations.CIDRs, fwLabel(r.Destinations.Groups, r.ID+"-dst"))
		pr.DestinationGroups = b.policyGroups(r.Destinations.Ports, r.Destinations.CIDRs, fwLabel(r.Destinations.Groups, r.ID+"-dst"))
	} else {
		pr.DestinationGroups = []string{"ANY"}
	}
	if j > 0 && !slices.Equal(r.AppliedTo.Ports, r0.AppliedTo.Ports) && !r.AppliedTo.Any {
		fr.AppliedTos = b.mpRefs(r.AppliedTo.Ports, nil, fwLabel(r.AppliedTo.Groups, r.ID+"-applied"))
		pr.Scope = b.policyGroups(r.AppliedTo.Ports, nil, fwLabel(r.AppliedTo.Groups, r.ID+"-applied"))
	}
	b.fw.Rules[sc.id] = append(b.fw.Rules[sc.id], fr)
	b.fw.PolicyRules = append(b.fw.PolicyRules, pr)
}
