package nsxtest

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// NAT shapes: the Management API's NatRule (nsx/model, GET /api/v1/logical-routers/<id>/nat/rules,
// NatRuleListResult) and the Policy API's PolicyNatRule (model, GET /policy/api/v1/infra/
// tier-1s|tier-0s/<id>/nat/<section>/nat-rules, PolicyNatRuleListResult). What NCP writes follows
// its documentation (docs.vmware.com, NSX Container Plugin for Kubernetes, "Configuring SNAT"): a
// SNAT rule per namespace whose source is the namespace's subnet, and for a Service annotated
// ncp/snat_pool a rule whose source is the Service's backend pods and whose translated address
// comes from that pool, at a higher priority (a lower rule_priority / sequence_number) than the
// namespace's.

// NatRule is one MP NAT rule: action SNAT, DNAT, REFLEXIVE, NO_SNAT, NO_DNAT or NAT64;
// rule_priority ascending (the lowest number wins).
type NatRule struct {
	ResourceType            string              `json:"resource_type"`
	ID                      string              `json:"id"`
	DisplayName             string              `json:"display_name,omitempty"`
	LogicalRouterID         string              `json:"logical_router_id"`
	Action                  string              `json:"action"`
	MatchSourceNetwork      string              `json:"match_source_network,omitempty"`
	MatchDestinationNetwork string              `json:"match_destination_network,omitempty"`
	TranslatedNetwork       string              `json:"translated_network,omitempty"`
	TranslatedPorts         string              `json:"translated_ports,omitempty"`
	AppliedTos              []ResourceReference `json:"applied_tos,omitempty"`
	RulePriority            int                 `json:"rule_priority"`
	Enabled                 bool                `json:"enabled"`
	Logging                 bool                `json:"logging"`
	FirewallMatch           string              `json:"firewall_match,omitempty"`
	Tags                    []Tag               `json:"tags,omitempty"`
}

// PolicyNatRule is one Policy NAT rule; its parent_path is the router's NAT section
// (/infra/tier-1s/<id>/nat/USER).
type PolicyNatRule struct {
	ResourceType       string   `json:"resource_type"`
	ID                 string   `json:"id"`
	Path               string   `json:"path"`
	ParentPath         string   `json:"parent_path"`
	DisplayName        string   `json:"display_name,omitempty"`
	Action             string   `json:"action"`
	SourceNetwork      string   `json:"source_network,omitempty"`
	DestinationNetwork string   `json:"destination_network,omitempty"`
	TranslatedNetwork  string   `json:"translated_network,omitempty"`
	TranslatedPorts    string   `json:"translated_ports,omitempty"`
	Scope              []string `json:"scope,omitempty"`
	SequenceNumber     int      `json:"sequence_number"`
	Enabled            bool     `json:"enabled"`
	Logging            bool     `json:"logging"`
	FirewallMatch      string   `json:"firewall_match,omitempty"`
	Tags               []Tag    `json:"tags,omitempty"`
	MarkedForDelete    bool     `json:"marked_for_delete"`
}

// NATSections are the NAT sections a Policy gateway has: USER holds what users and NCP write,
// INTERNAL what the system writes. Any other section id is a 404.
var NATSections = []string{"USER", "INTERNAL"}

// natActions are the model's NAT types as NSX spells them.
var natActions = map[string]string{trace.NATSnat: "SNAT", trace.NATDnat: "DNAT", trace.NATDnatAndSnat: "REFLEXIVE",
	trace.NATNoSnat: "NO_SNAT", trace.NATNoDnat: "NO_DNAT"}

// AddNATRule renders a NAT rule of the model in both APIs, with the same id: an MP rule on its
// logical router and a Policy rule in its gateway's USER section. Its origin becomes NCP's tags
// (ncp/project for a namespace's rule, ncp/snat_pool and ncp/service for a Service's pool, the
// origin's own tags besides). AppliedTo names tier-0 uplinks (MP applied_tos; Policy scope, the
// uplink interface's path).
func (t *Topology) AddNATRule(r trace.NATRule) {
	if t.NatRules == nil {
		t.NatRules = map[string][]NatRule{}
	}
	tags := []Tag{{ScopeCluster, ClusterName}}
	if o := r.Origin; o != nil {
		if o.Namespace != "" {
			tags = append(tags, Tag{ScopeProject, o.Namespace})
		}
		if o.Kind == trace.NATOriginSNATPool {
			tags = append(tags, Tag{ScopeSnatPool, o.Name})
		}
		for _, k := range slices.Sorted(maps.Keys(o.Tags)) {
			if !slices.ContainsFunc(tags, func(x Tag) bool { return x.Scope == k }) {
				tags = append(tags, Tag{k, o.Tags[k]})
			}
		}
	}
	action := cmp.Or(natActions[r.Type], strings.ToUpper(r.Type))
	mp := NatRule{ResourceType: "NatRule", ID: r.ID, DisplayName: r.Name, LogicalRouterID: r.Router, Action: action,
		MatchSourceNetwork: r.Match.Source, MatchDestinationNetwork: r.Match.Destination, TranslatedNetwork: r.TranslatedIP,
		TranslatedPorts: r.TranslatedPorts, RulePriority: r.Priority, Enabled: !r.Disabled, FirewallMatch: "MATCH_INTERNAL_ADDRESS", Tags: tags}
	gw := t.routerPolicyPath(r.Router)
	parent := gw + "/nat/USER"
	pol := PolicyNatRule{ResourceType: "PolicyNatRule", ID: r.ID, Path: parent + "/nat-rules/" + r.ID, ParentPath: parent, DisplayName: r.Name,
		Action: action, SourceNetwork: r.Match.Source, DestinationNetwork: r.Match.Destination, TranslatedNetwork: r.TranslatedIP,
		TranslatedPorts: r.TranslatedPorts, SequenceNumber: r.Priority, Enabled: !r.Disabled, FirewallMatch: "MATCH_INTERNAL_ADDRESS", Tags: tags}
	for _, p := range r.AppliedTo {
		mp.AppliedTos = append(mp.AppliedTos, ResourceReference{TargetID: p, TargetType: t.routerPortType(p), IsValid: true})
		pol.Scope = append(pol.Scope, gw+"/locale-services/"+LocaleServicesID(r.Router)+"/interfaces/"+p)
	}
	t.NatRules[r.Router] = append(t.NatRules[r.Router], mp)
	t.PolicyNatRules = append(t.PolicyNatRules, pol)
}

// routerPortType is a router port's resource_type, for a reference to it.
func (t *Topology) routerPortType(id string) string {
	for _, p := range t.LogicalRouterPorts {
		if p.ID == id {
			return p.ResourceType
		}
	}
	return "LogicalRouterUpLinkPort"
}

// RemoveNATRule drops a rule from both APIs, as when NCP failed to write it or someone deleted
// it; false when the router has no such rule.
func (t *Topology) RemoveNATRule(router, id string) bool {
	n := len(t.NatRules[router])
	t.NatRules[router] = slices.DeleteFunc(t.NatRules[router], func(r NatRule) bool { return r.ID == id })
	prefix := t.routerPolicyPath(router) + "/nat/"
	t.PolicyNatRules = slices.DeleteFunc(t.PolicyNatRules, func(r PolicyNatRule) bool { return strings.HasPrefix(r.ParentPath, prefix) && r.ID == id })
	return len(t.NatRules[router]) < n
}

// routerPolicyPath is a logical router's Policy path, by its router_type.
func (t *Topology) routerPolicyPath(id string) string {
	for _, r := range t.LogicalRouters {
		if r.ID == id && r.RouterType == "TIER0" {
			return "/infra/tier-0s/" + id
		}
	}
	return "/infra/tier-1s/" + id
}
