package nsxtest

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
)

// The distributed firewall as NCP writes a NetworkPolicy into it, in both APIs. Shapes are the
// SDK's (nsxt-mp v0.6.0: FirewallSection, FirewallRule, ResourceReference, NSGroup,
// NSGroupTagExpression, NSGroupSimpleExpression, IPSet, EffectiveMemberResourceListResult,
// EffectiveIPAddressMemberListResult; nsxt v0.12.0: SecurityPolicy, Rule, Group, Condition,
// IPAddressExpression, PolicyGroupMembersListResult, PolicyGroupIPMembersListResult,
// PolicyResourceReferenceForEPListResult), at the SDK clients' paths:
//   GET /api/v1/firewall/sections (filters applied_tos + deep_search, type), .../sections/<id>,
//   .../sections/<id>/rules; GET /api/v1/ns-groups[/<id>[/effective-logical-port-members|
//   /effective-ip-address-members]]; GET /api/v1/ip-sets[/<id>];
//   GET /policy/api/v1/infra/domains/default/security-policies[/<id>[/rules]],
//   .../groups[/<id>[/members/segment-ports|/members/ip-addresses]],
//   GET /policy/api/v1/infra/group-associations?intent_path=<segment port path>.
// Membership is computed from the groups' criteria against the served ports, never listed by hand.
// NCP tags what it creates for a NetworkPolicy with ncp/cluster, ncp/project (the namespace) and
// ncp/network_policy (NCP's nsx_ujo/ncp/constants.py TAG_NP); the value of ncp/network_policy is the
// policy's name here (no captured value was at hand). deep_search: "Toggle to search with direct or
// indirect references ... Currently param support is only for LogicalPort" (API reference,
// FirewallListRequestParameters).

// FirewallSection is GET /api/v1/firewall/sections/<id>: the list's order is the firewall's.
type FirewallSection struct {
	ResourceType string              `json:"resource_type"`
	ID           string              `json:"id"`
	DisplayName  string              `json:"display_name,omitempty"`
	SectionType  string              `json:"section_type"`
	Stateful     bool                `json:"stateful"`
	AppliedTos   []ResourceReference `json:"applied_tos,omitempty"`
	IsDefault    bool                `json:"is_default"`
	RuleCount    int                 `json:"rule_count"`
	Tags         []Tag               `json:"tags,omitempty"`
}

// FirewallRule is one rule of GET /api/v1/firewall/sections/<id>/rules: empty sources or
// destinations mean any.
type FirewallRule struct {
	ResourceType         string              `json:"resource_type"`
	ID                   string              `json:"id"`
	DisplayName          string              `json:"display_name,omitempty"`
	Action               string              `json:"action"`
	Direction            string              `json:"direction"`
	IPProtocol           string              `json:"ip_protocol,omitempty"`
	Disabled             bool                `json:"disabled"`
	Logged               bool                `json:"logged"`
	IsDefault            bool                `json:"is_default"`
	Sources              []ResourceReference `json:"sources,omitempty"`
	Destinations         []ResourceReference `json:"destinations,omitempty"`
	SourcesExcluded      bool                `json:"sources_excluded,omitempty"`
	DestinationsExcluded bool                `json:"destinations_excluded,omitempty"`
	AppliedTos           []ResourceReference `json:"applied_tos,omitempty"`
	RuleTag              string              `json:"rule_tag,omitempty"`
	SectionID            string              `json:"section_id,omitempty"`
	// Services are FirewallService entries with an inline service (L4PortSetNSService).
	Services []FirewallServiceRef `json:"services,omitempty"`
}

// FirewallServiceRef is one FirewallService of a rule: an inline service here.
type FirewallServiceRef struct {
	Service *L4Service `json:"service,omitempty"`
}

// L4Service is an L4PortSetNSService (MP, inline in a rule) or an L4PortSetServiceEntry (Policy).
type L4Service struct {
	ResourceType     string   `json:"resource_type"`
	ID               string   `json:"id,omitempty"`
	L4Protocol       string   `json:"l4_protocol"`
	DestinationPorts []string `json:"destination_ports,omitempty"`
}

// NSGroupExpression is a membership criterion: NSGroupTagExpression (scope/tag on a target type)
// or NSGroupSimpleExpression (target_property of a target equals value).
type NSGroupExpression struct {
	ResourceType   string `json:"resource_type"`
	TargetType     string `json:"target_type"`
	Scope          string `json:"scope,omitempty"`
	ScopeOp        string `json:"scope_op,omitempty"`
	Tag            string `json:"tag,omitempty"`
	TagOp          string `json:"tag_op,omitempty"`
	TargetProperty string `json:"target_property,omitempty"`
	Op             string `json:"op,omitempty"`
	Value          string `json:"value,omitempty"`
}

// NSGroup is GET /api/v1/ns-groups/<id>.
type NSGroup struct {
	ResourceType       string              `json:"resource_type"`
	ID                 string              `json:"id"`
	DisplayName        string              `json:"display_name,omitempty"`
	MembershipCriteria []NSGroupExpression `json:"membership_criteria,omitempty"`
	Members            []NSGroupExpression `json:"members,omitempty"`
	Tags               []Tag               `json:"tags,omitempty"`
}

// IPSet is GET /api/v1/ip-sets/<id>.
type IPSet struct {
	ResourceType string   `json:"resource_type"`
	ID           string   `json:"id"`
	DisplayName  string   `json:"display_name,omitempty"`
	IPAddresses  []string `json:"ip_addresses"`
	Tags         []Tag    `json:"tags,omitempty"`
}

// SecurityPolicy is GET /policy/api/v1/infra/domains/default/security-policies/<id>: evaluated by
// category, then sequence_number; scope (group paths) is where its rules apply, empty: everywhere.
type SecurityPolicy struct {
	ResourceType    string   `json:"resource_type"`
	ID              string   `json:"id"`
	Path            string   `json:"path"`
	ParentPath      string   `json:"parent_path"`
	DisplayName     string   `json:"display_name,omitempty"`
	Category        string   `json:"category"`
	SequenceNumber  int      `json:"sequence_number"`
	Scope           []string `json:"scope,omitempty"`
	Stateful        bool     `json:"stateful"`
	IsDefault       bool     `json:"is_default"`
	RuleCount       int      `json:"rule_count"`
	Tags            []Tag    `json:"tags,omitempty"`
	MarkedForDelete bool     `json:"marked_for_delete"`
}

// PolicyRule is a Policy Rule: source_groups / destination_groups are group paths or "ANY".
type PolicyRule struct {
	ResourceType         string   `json:"resource_type"`
	ID                   string   `json:"id"`
	Path                 string   `json:"path"`
	ParentPath           string   `json:"parent_path"`
	DisplayName          string   `json:"display_name,omitempty"`
	Action               string   `json:"action"`
	Direction            string   `json:"direction"`
	IPProtocol           string   `json:"ip_protocol,omitempty"`
	SourceGroups         []string `json:"source_groups"`
	DestinationGroups    []string `json:"destination_groups"`
	SourcesExcluded      bool     `json:"sources_excluded,omitempty"`
	DestinationsExcluded bool     `json:"destinations_excluded,omitempty"`
	Services             []string `json:"services,omitempty"`
	// ServiceEntries are inline L4PortSetServiceEntry services.
	ServiceEntries  []L4Service `json:"service_entries,omitempty"`
	Scope           []string    `json:"scope"`
	SequenceNumber  int         `json:"sequence_number"`
	RuleID          int         `json:"rule_id"`
	Disabled        bool        `json:"disabled"`
	Logged          bool        `json:"logged"`
	IsDefault       bool        `json:"is_default"`
	Tags            []Tag       `json:"tags,omitempty"`
	MarkedForDelete bool        `json:"marked_for_delete"`
}

// GroupExpression is a Group's expression: Condition (member_type, key, operator, value; a tag
// value is "scope|tag"), IPAddressExpression (ip_addresses) or PathExpression (paths).
type GroupExpression struct {
	ResourceType string   `json:"resource_type"`
	MemberType   string   `json:"member_type,omitempty"`
	Key          string   `json:"key,omitempty"`
	Operator     string   `json:"operator,omitempty"`
	Value        string   `json:"value,omitempty"`
	IPAddresses  []string `json:"ip_addresses,omitempty"`
	Paths        []string `json:"paths,omitempty"`
}

// Group is GET /policy/api/v1/infra/domains/default/groups/<id>.
type Group struct {
	ResourceType    string            `json:"resource_type"`
	ID              string            `json:"id"`
	Path            string            `json:"path"`
	ParentPath      string            `json:"parent_path"`
	DisplayName     string            `json:"display_name,omitempty"`
	Expression      []GroupExpression `json:"expression,omitempty"`
	Tags            []Tag             `json:"tags,omitempty"`
	MarkedForDelete bool              `json:"marked_for_delete"`
}

// GroupMember is a PolicyGroupMemberDetails (members/segment-ports).
type GroupMember struct {
	ID          string `json:"id"`
	Path        string `json:"path"`
	DisplayName string `json:"display_name,omitempty"`
}

// GroupAssociation is a PolicyResourceReferenceForEP of group-associations.
type GroupAssociation struct {
	TargetID          string `json:"target_id"`
	TargetType        string `json:"target_type"`
	TargetDisplayName string `json:"target_display_name,omitempty"`
	Path              string `json:"path"`
	IsValid           bool   `json:"is_valid"`
}

// Firewall is what the server serves about the distributed firewall, in both APIs.
type Firewall struct {
	Sections []FirewallSection         `json:"sections"`
	Rules    map[string][]FirewallRule `json:"rules"`
	NSGroups []NSGroup                 `json:"nsGroups"`
	IPSets   []IPSet                   `json:"ipSets"`

	Policies    []SecurityPolicy `json:"policies"`
	PolicyRules []PolicyRule     `json:"policyRules"`
	Groups      []Group          `json:"groups"`
}

// Domain is the Policy domain NCP writes into.
const Domain = "/infra/domains/default"

func (t *Topology) firewall() *Firewall {
	if t.Firewall == nil {
		t.Firewall = &Firewall{Rules: map[string][]FirewallRule{}}
	}
	return t.Firewall
}

// nsgroupPorts are an NSGroup's effective logical port members: its criteria evaluated against
// the served ports' tags and ids.
func (s *Server) nsgroupPorts(g NSGroup) []LogicalPort {
	var out []LogicalPort
	if len(g.MembershipCriteria) == 0 {
		// Members by id only: looked up, not scanned (a harness fabric has 160,000 ports).
		for _, e := range g.Members {
			if i, ok := s.portByID[e.Value]; ok && e.TargetType == "LogicalPort" && e.TargetProperty == "id" && e.Op == "EQUALS" {
				out = append(out, s.top.LogicalPorts[i])
			}
		}
		return out
	}
	for _, p := range s.top.LogicalPorts {
		for _, e := range append(slices.Clone(g.MembershipCriteria), g.Members...) {
			if e.TargetType != "LogicalPort" {
				continue
			}
			hit := false
			switch e.ResourceType {
			case "NSGroupTagExpression":
				hit = slices.ContainsFunc(p.Tags, func(t Tag) bool { return t.Scope == e.Scope && t.Tag == e.Tag })
			case "NSGroupSimpleExpression":
				hit = e.TargetProperty == "id" && e.Op == "EQUALS" && e.Value == p.ID
			}
			if hit {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// realizedIPs are the addresses a port's state holds (a VM NIC's learned bindings), after out.
func (s *Server) realizedIPs(id string, out []string) []string {
	for _, b := range s.top.PortStates[id].RealizedBindings {
		if b.Binding.IPAddress != "" {
			out = append(out, b.Binding.IPAddress)
		}
	}
	return out
}

// portIPs are the addresses the manager knows for a port: its bindings and its state's.
func (s *Server) portIPs(p LogicalPort) []string {
	var out []string
	for _, b := range p.AddressBindings {
		if b.IPAddress != "" {
			out = append(out, b.IPAddress)
		}
	}
	return s.realizedIPs(p.ID, out)
}

// nsgroupIPs are an NSGroup's effective IP members: its ports' addresses and its IPSets'.
func (s *Server) nsgroupIPs(g NSGroup) []string {
	var out []string
	for _, p := range s.nsgroupPorts(g) {
		out = append(out, s.portIPs(p)...)
	}
	for _, e := range g.Members {
		if e.TargetType == "IPSet" {
			if set, ok := find(s.top.Firewall.IPSets, func(x IPSet) bool { return x.ID == e.Value }); ok {
				out = append(out, set.IPAddresses...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// groupPorts are a Policy group's effective segment port members.
func (s *Server) groupPorts(g Group) []SegmentPort {
	var out []SegmentPort
	if !slices.ContainsFunc(g.Expression, func(e GroupExpression) bool { return e.ResourceType == "Condition" }) {
		// Paths only: looked up, not scanned.
		for _, e := range g.Expression {
			for _, p := range e.Paths {
				if i, ok := s.segByPath[p]; ok {
					out = append(out, s.top.SegmentPorts[i])
				}
			}
		}
		return out
	}
	for _, p := range s.top.SegmentPorts {
		for _, e := range g.Expression {
			scope, tag, _ := strings.Cut(e.Value, "|")
			if e.ResourceType == "Condition" && e.MemberType == "SegmentPort" && e.Key == "Tag" && e.Operator == "EQUALS" &&
				slices.ContainsFunc(p.Tags, func(t Tag) bool { return t.Scope == scope && t.Tag == tag }) ||
				e.ResourceType == "PathExpression" && slices.Contains(e.Paths, p.Path) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// groupIPs are a Policy group's effective IP members: its ports' addresses and its IP expressions'.
func (s *Server) groupIPs(g Group) []string {
	var out []string
	for _, p := range s.groupPorts(g) {
		for _, b := range p.AddressBindings {
			if b.IPAddress != "" {
				out = append(out, b.IPAddress)
			}
		}
		out = s.realizedIPs(p.ID, out)
	}
	for _, e := range g.Expression {
		if e.ResourceType == "IPAddressExpression" {
			out = append(out, e.IPAddresses...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sectionApplies says whether a section applies to the object id (applied_tos filter): named
// in its or its rules' applied_tos, or, with deep_search, through an NSGroup holding that port.
func (s *Server) sectionApplies(sec FirewallSection, id string, deep bool) bool {
	refs := slices.Clone(sec.AppliedTos)
	for _, r := range s.top.Firewall.Rules[sec.ID] {
		refs = append(refs, r.AppliedTos...)
	}
	for _, r := range refs {
		if r.TargetID == id {
			return true
		}
		if deep && r.TargetType == "NSGroup" {
			if g, ok := find(s.top.Firewall.NSGroups, func(x NSGroup) bool { return x.ID == r.TargetID }); ok &&
				slices.ContainsFunc(s.nsgroupPorts(g), func(p LogicalPort) bool { return p.ID == id }) {
				return true
			}
		}
	}
	return false
}

// routeFirewall answers the firewall's GETs; ok false: not one of them.
func (s *Server) routeFirewall(p string, seg []string, q url.Values) (body any, code int, msg string, ok bool) {
	fw := s.top.Firewall
	if fw == nil {
		fw = &Firewall{}
	}
	if body, code, msg, ok = s.routeMPFirewall(fw, p, seg, q); ok {
		return body, code, msg, ok
	}
	return s.routePolicyFirewall(fw, p, q)
}

// routeMPFirewall answers the MP API's firewall sections, NSGroups and IPSets; ok false: not one of them.
func (s *Server) routeMPFirewall(fw *Firewall, p string, seg []string, q url.Values) (body any, code int, msg string, ok bool) {
	switch {
	case p == "/api/v1/firewall/sections":
		at, deep := q.Get("applied_tos"), q.Get("deep_search") == "true"
		return handled(page(s, q, fw.Sections, func(x FirewallSection) bool {
			return (q.Get("type") == "" || x.SectionType == q.Get("type")) && (at == "" || s.sectionApplies(x, at, deep))
		}))
	case len(seg) == 5 && seg[2] == "firewall" && seg[3] == "sections":
		return handled(one(fw.Sections, func(x FirewallSection) bool { return x.ID == seg[4] }, s.notFound, seg[4]))
	case len(seg) == 6 && seg[2] == "firewall" && seg[3] == "sections" && seg[5] == "rules":
		if _, found := find(fw.Sections, func(x FirewallSection) bool { return x.ID == seg[4] }); !found {
			return handled(s.notFound(seg[4]))
		}
		return handled(pageOf(s, q, fw.Rules[seg[4]]))
	case p == "/api/v1/ns-groups":
		return handled(pageOf(s, q, fw.NSGroups))
	case len(seg) >= 4 && len(seg) <= 5 && seg[2] == "ns-groups":
		g, found := find(fw.NSGroups, func(x NSGroup) bool { return x.ID == seg[3] })
		if !found {
			return handled(s.notFound(seg[3]))
		}
		if len(seg) == 4 {
			return handled(g, 0, "")
		}
		switch seg[4] {
		case "effective-logical-port-members":
			var refs []ResourceReference
			for _, lp := range s.nsgroupPorts(g) {
				refs = append(refs, ResourceReference{TargetID: lp.ID, TargetType: "LogicalPort", TargetDisplayName: cmp.Or(lp.DisplayName, lp.ID), IsValid: true})
			}
			return handled(pageOf(s, q, refs))
		case "effective-ip-address-members":
			return handled(pageOf(s, q, s.nsgroupIPs(g)))
		}
		return handled(s.notFound(p))
	case p == "/api/v1/ip-sets":
		return handled(pageOf(s, q, fw.IPSets))
	case len(seg) == 4 && seg[2] == "ip-sets":
		return handled(one(fw.IPSets, func(x IPSet) bool { return x.ID == seg[3] }, s.notFound, seg[3]))
	}
	return nil, 0, "", false
}

// routePolicyFirewall answers the Policy API's security policies, groups and group associations;
// ok false: not one of them.
func (s *Server) routePolicyFirewall(fw *Firewall, p string, q url.Values) (body any, code int, msg string, ok bool) {
	dom := "/policy/api/v1" + Domain
	switch {
	case p == dom+"/security-policies":
		return handled(pageOf(s, q, fw.Policies))
	case strings.HasPrefix(p, dom+"/security-policies/"):
		rest := strings.Split(strings.TrimPrefix(p, dom+"/security-policies/"), "/")
		sp, found := find(fw.Policies, func(x SecurityPolicy) bool { return x.ID == rest[0] })
		if !found {
			return handled(s.notFound(Domain + "/security-policies/" + rest[0]))
		}
		switch {
		case len(rest) == 1:
			return handled(sp, 0, "")
		case len(rest) == 2 && rest[1] == "rules":
			return handled(page(s, q, fw.PolicyRules, func(r PolicyRule) bool { return r.ParentPath == sp.Path }))
		case len(rest) == 3 && rest[1] == "rules":
			return handled(one(fw.PolicyRules, func(r PolicyRule) bool { return r.Path == sp.Path+"/rules/"+rest[2] },
				s.notFound, sp.Path+"/rules/"+rest[2]))
		}
		return handled(s.notFound(p))
	case p == dom+"/groups":
		return handled(pageOf(s, q, fw.Groups))
	case strings.HasPrefix(p, dom+"/groups/"):
		rest := strings.Split(strings.TrimPrefix(p, dom+"/groups/"), "/")
		g, found := find(fw.Groups, func(x Group) bool { return x.ID == rest[0] })
		if !found {
			return handled(s.notFound(Domain + "/groups/" + rest[0]))
		}
		switch {
		case len(rest) == 1:
			return handled(g, 0, "")
		case len(rest) == 3 && rest[1] == "members" && rest[2] == "segment-ports":
			var out []GroupMember
			for _, sp := range s.groupPorts(g) {
				out = append(out, GroupMember{ID: sp.ID, Path: sp.Path, DisplayName: cmp.Or(sp.DisplayName, sp.ID)})
			}
			return handled(pageOf(s, q, out))
		case len(rest) == 3 && rest[1] == "members" && rest[2] == "ip-addresses":
			return handled(pageOf(s, q, s.groupIPs(g)))
		}
		return handled(s.notFound(p))
	case p == "/policy/api/v1/infra/group-associations":
		ip := q.Get("intent_path")
		if ip == "" {
			// The wording is ours: no captured refusal was at hand.
			return handled(nil, 400, "Query parameter intent_path is required.")
		}
		var out []GroupAssociation
		for _, g := range fw.Groups {
			if slices.ContainsFunc(s.groupPorts(g), func(sp SegmentPort) bool { return sp.Path == ip }) {
				out = append(out, GroupAssociation{TargetID: g.Path, TargetType: "Group", TargetDisplayName: g.DisplayName, Path: g.Path, IsValid: true})
			}
		}
		return handled(pageOf(s, q, out))
	}
	return nil, 0, "", false
}
