package nsx

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

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
		ID string `json:"id"`
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
	if slices.ContainsFunc(sections, func(x fwSection) bool { return len(x.AppliedTos) > 0 }) && !all {
		waiting := false
		if at, waiting, err = st.mpSectionsAt(ctx, fw, ports); err != nil || waiting {
			return err // waiting: the rules to read depend on them
		}
	}
	for _, sec := range sections {
		if len(sec.AppliedTos) > 0 && len(at[sec.ID]) == 0 && !all {
			continue // applies to none of the walk's ports
		}
		if err := st.readMPSection(ctx, fw, sec, at[sec.ID], all); err != nil {
			return err
		}
	}
	st.ov.fw = fw
	return nil
}

// mpSectionsAt is, for each scoped section, the ports it applies to; waiting says an answer is
// still pending.
func (st *state) mpSectionsAt(ctx context.Context, fw *trace.Firewall, ports []*trace.SwitchPort) (map[string][]string, bool, error) {
	at := map[string][]string{}
	waiting := false
	for _, sp := range ports {
		hits, err := list[fwSection](ctx, st.f, "/api/v1/firewall/sections", url.Values{"applied_tos": {sp.ID}, "deep_search": {"true"}})
		waiting = waiting || pending(err)
		if err := st.incomplete(fw, err); err != nil {
			return nil, false, err
		}
		for _, h := range hits {
			at[h.ID] = append(at[h.ID], sp.ID)
		}
	}
	return at, waiting, nil
}

// readMPSection appends section sec's rules to fw; at is the walk's ports it applies to, all
// (a bundle) reads where its NSGroups' members are instead.
func (st *state) readMPSection(ctx context.Context, fw *trace.Firewall, sec fwSection, at []string, all bool) error {
	rules, err := list[fwRule](ctx, st.f, "/api/v1/firewall/sections/"+url.PathEscape(sec.ID)+"/rules", nil)
	if err := st.incomplete(fw, err); err != nil {
		return err
	}
	scope := trace.FirewallScope{Any: len(sec.AppliedTos) == 0, Ports: at}
	for _, r := range sec.AppliedTos {
		scope.Groups = append(scope.Groups, cmp.Or(r.TargetDisplayName, r.TargetID))
	}
	if all && len(sec.AppliedTos) > 0 {
		scope, err = st.mpPeerScope(ctx, sec.AppliedTos)
		if err := st.incomplete(fw, err); err != nil {
			return err
		}
	}
	org := origin(sec.Tags)
	for i, r := range rules {
		fr := trace.FirewallRule{ID: r.ID, Name: r.DisplayName, Section: sec.ID, SectionName: sec.DisplayName, Priority: i + 1,
			Direction: fwDirection[r.Direction], Action: cmp.Or(fwAction[r.Action], trace.FirewallUnknownAction), RawAction: r.Action,
			Stateful: sec.Stateful, AppliedTo: scope, Disabled: r.Disabled, Default: r.IsDefault || sec.IsDefault && i == len(rules)-1, Origin: org, Source: trace.SourceNSX}
		if err := st.mpRuleDetail(ctx, fw, r, &fr); err != nil {
			return err
		}
		if fr.Default {
			fw.DefaultAction = fr.Action
		}
		fw.Rules = append(fw.Rules, fr)
	}
	return nil
}

// mpRuleDetail fills fr from MP rule r's own applied_tos, sources, destinations and services.
func (st *state) mpRuleDetail(ctx context.Context, fw *trace.Firewall, r fwRule, fr *trace.FirewallRule) error {
	var err error
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
	return nil
}

// mpPeer resolves a rule's sources or destinations: empty is any; an NSGroup its effective IPs
// and logical ports, an IPSet its addresses, a logical port itself. What it cannot resolve is
// named in unknown (never guessed). A read still pending does not stop the others: a dry round
// notes them all at once (errPending is returned at the end).
func (st *state) mpPeer(ctx context.Context, refs []resRef, negate bool, unknown []string) (trace.FirewallPeer, []string, error) {
	p := trace.FirewallPeer{Any: len(refs) == 0, Negate: negate && len(refs) > 0}
	var w waitAll
	for _, r := range refs {
		p.Groups = append(p.Groups, cmp.Or(r.TargetDisplayName, r.TargetID))
		switch r.TargetType {
		case "NSGroup":
			base := "/api/v1/ns-groups/" + url.PathEscape(r.TargetID)
			ips, err := list[string](ctx, st.f, base+"/effective-ip-address-members", nil)
			lps, err2 := list[resRef](ctx, st.f, base+"/effective-logical-port-members", nil)
			if err := w.add(err, err2); err != nil {
				return p, unknown, err
			}
			p.CIDRs = append(p.CIDRs, ips...)
			for _, lp := range lps {
				p.Ports = append(p.Ports, lp.TargetID)
			}
		case "IPSet":
			set, err := fetch[ipSet](ctx, st.f, "/api/v1/ip-sets/"+url.PathEscape(r.TargetID), nil)
			if err := w.add(err); err != nil {
				return p, unknown, err
			}
			p.CIDRs = append(p.CIDRs, set.IPAddresses...)
		case "LogicalPort":
			p.Ports = append(p.Ports, r.TargetID)
		default:
			unknown = append(unknown, fmt.Sprintf("members of %s %s", r.TargetType, cmp.Or(r.TargetDisplayName, r.TargetID)))
		}
	}
	return p, unknown, w.err()
}

// waitAll gathers reads that may be pending, so the reads after a pending one are still noted.
type waitAll struct{ waiting bool }

// add is the first of errs that is an error other than errPending (nil: none); a pending one is
// remembered for err.
func (w *waitAll) add(errs ...error) error {
	for _, err := range errs {
		if pending(err) {
			w.waiting = true
		} else if err != nil {
			return err
		}
	}
	return nil
}

// err is errPending if a read added was pending.
func (w *waitAll) err() error {
	if w.waiting {
		return errPending
	}
	return nil
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
	slices.SortStableFunc(policies, func(a, b secPolicy) int {
		return cmp.Or(cmp.Compare(catRank(a.Category), catRank(b.Category)), cmp.Compare(a.SequenceNumber, b.SequenceNumber))
	})
	ps := policyScopes{st: st, fw: fw, all: all, inGroup: map[string][]string{}}
	if scoped && !all {
		waiting := false
		if ps.inGroup, waiting, err = st.policyGroupsOf(ctx, fw, ports); err != nil || waiting {
			return err // waiting: the rules to read depend on both
		}
	}
	for _, sp := range policies {
		scope, applies, err := ps.of(ctx, sp.Scope)
		if err != nil {
			return err
		}
		if !applies {
			continue
		}
		if err := st.readPolicyRules(ctx, fw, sp, scope, ps); err != nil {
			return err
		}
	}
	st.ov.fw = fw
	return nil
}

// policyGroupsOf is, for each group path, the ports among ports in it; waiting says an answer is
// still pending.
func (st *state) policyGroupsOf(ctx context.Context, fw *trace.Firewall, ports []*trace.SwitchPort) (map[string][]string, bool, error) {
	inGroup := map[string][]string{}
	waiting := false
	for _, sp := range ports {
		path := "/infra/segments/" + sp.Switch + "/ports/" + sp.ID
		gs, err := list[groupAssoc](ctx, st.f, "/policy/api/v1/infra/group-associations", url.Values{"intent_path": {path}})
		waiting = waiting || pending(err)
		if err := st.incomplete(fw, err); err != nil {
			return nil, false, err
		}
		for _, g := range gs {
			inGroup[cmp.Or(g.Path, g.TargetID)] = append(inGroup[cmp.Or(g.Path, g.TargetID)], sp.ID)
		}
	}
	return inGroup, waiting, nil
}

// policyScopes resolves Policy scopes (group paths) to ports: with all (a bundle) each group's
// members, read; otherwise the walk's ports in it (inGroup, from their group associations).
type policyScopes struct {
	st      *state
	fw      *trace.Firewall
	all     bool
	inGroup map[string][]string // group path -> endpoint ports in it
}

// of is the scope paths name and whether it holds any port of the walk (always, for a bundle);
// the error is a fatal one reading a group's members (another failure marks the firewall incomplete).
func (ps policyScopes) of(ctx context.Context, paths []string) (trace.FirewallScope, bool, error) {
	var s trace.FirewallScope
	if len(paths) == 0 || slices.Contains(paths, "ANY") {
		return trace.FirewallScope{Any: true}, true, nil
	}
	for _, p := range paths {
		s.Groups = append(s.Groups, p)
		if ps.all {
			sps, err := list[groupMember](ctx, ps.st.f, "/policy/api/v1"+p+"/members/segment-ports", nil)
			if err := ps.st.incomplete(ps.fw, err); err != nil {
				return s, false, err
			}
			for _, m := range sps {
				s.Ports = append(s.Ports, m.ID)
			}
			continue
		}
		s.Ports = append(s.Ports, ps.inGroup[p]...)
	}
	return s, ps.all || len(s.Ports) > 0, nil
}

// readPolicyRules appends security policy sp's rules, in sequence order, to fw; scope is where
// sp applies.
func (st *state) readPolicyRules(ctx context.Context, fw *trace.Firewall, sp secPolicy, scope trace.FirewallScope, ps policyScopes) error {
	rules, err := list[polRule](ctx, st.f, "/policy/api/v1"+sp.Path+"/rules", nil)
	if err := st.incomplete(fw, err); err != nil {
		return err
	}
	slices.SortStableFunc(rules, func(a, b polRule) int { return cmp.Compare(a.SequenceNumber, b.SequenceNumber) })
	for i, r := range rules {
		fr := trace.FirewallRule{ID: r.ID, Name: r.DisplayName, Section: sp.Path, SectionName: sp.DisplayName, Category: sp.Category, Priority: r.SequenceNumber,
			Direction: fwDirection[r.Direction], Action: cmp.Or(fwAction[r.Action], trace.FirewallUnknownAction), RawAction: r.Action, Stateful: sp.Stateful,
			AppliedTo: scope, Disabled: r.Disabled, Default: r.IsDefault || sp.IsDefault && i == len(rules)-1, Origin: cmp.Or(origin(r.Tags), origin(sp.Tags)), Source: trace.SourceNSX}
		rs, _, err := ps.of(ctx, r.Scope)
		if err != nil {
			return err
		}
		if !rs.Any {
			fr.AppliedTo = rs
		}
		fr.Sources, err = st.policyPeer(ctx, r.SourceGroups, r.SourcesExcluded)
		if err := st.incomplete(fw, err); err != nil {
			return err
		}
		fr.Destinations, err = st.policyPeer(ctx, r.DestinationGroups, r.DestinationsExcluded)
		if err := st.incomplete(fw, err); err != nil {
			return err
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
// IPs and segment ports (a pending read does not stop the others, as in mpPeer).
func (st *state) policyPeer(ctx context.Context, groups []string, negate bool) (trace.FirewallPeer, error) {
	if len(groups) == 0 || slices.Contains(groups, "ANY") {
		return trace.FirewallPeer{Any: true}, nil
	}
	p := trace.FirewallPeer{Negate: negate}
	var w waitAll
	for _, g := range groups {
		p.Groups = append(p.Groups, g)
		if !strings.HasPrefix(g, "/") {
			p.CIDRs = append(p.CIDRs, g) // a rule may name addresses directly
			continue
		}
		ips, err := list[string](ctx, st.f, "/policy/api/v1"+g+"/members/ip-addresses", nil)
		sps, err2 := list[groupMember](ctx, st.f, "/policy/api/v1"+g+"/members/segment-ports", nil)
		if err := w.add(err, err2); err != nil {
			return p, err
		}
		p.CIDRs = append(p.CIDRs, ips...)
		for _, m := range sps {
			p.Ports = append(p.Ports, m.ID)
		}
	}
	return p, w.err()
}
