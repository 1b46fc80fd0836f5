package nsxtest

import (
	"fmt"
	"strings"
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
	ResourceType            string `json:"resource_type"`
	ID                      string `json:"id"`
	DisplayName             string `json:"display_name,omitempty"`
	LogicalRouterID         string `json:"logical_router_id"`
	Action                  string `json:"action"`
	MatchSourceNetwork      string `json:"match_source_network,omitempty"`
	MatchDestinationNetwork string `json:"match_destination_network,omitempty"`
	TranslatedNetwork       string `json:"translated_network,omitempty"`
	RulePriority            int    `json:"rule_priority"`
	Enabled                 bool   `json:"enabled"`
	Logging                 bool   `json:"logging"`
	FirewallMatch           string `json:"firewall_match,omitempty"`
	Tags                    []Tag  `json:"tags,omitempty"`
}

// PolicyNatRule is one Policy NAT rule; its parent_path is the router's NAT section
// (/infra/tier-1s/<id>/nat/USER).
type PolicyNatRule struct {
	ResourceType       string `json:"resource_type"`
	ID                 string `json:"id"`
	Path               string `json:"path"`
	ParentPath         string `json:"parent_path"`
	DisplayName        string `json:"display_name,omitempty"`
	Action             string `json:"action"`
	SourceNetwork      string `json:"source_network,omitempty"`
	DestinationNetwork string `json:"destination_network,omitempty"`
	TranslatedNetwork  string `json:"translated_network,omitempty"`
	SequenceNumber     int    `json:"sequence_number"`
	Enabled            bool   `json:"enabled"`
	Logging            bool   `json:"logging"`
	FirewallMatch      string `json:"firewall_match,omitempty"`
	Tags               []Tag  `json:"tags,omitempty"`
	MarkedForDelete    bool   `json:"marked_for_delete"`
}

// NATSections are the NAT sections a Policy gateway has: USER holds what users and NCP write,
// INTERNAL what the system writes. Any other section id is a 404.
var NATSections = []string{"USER", "INTERNAL"}

// SNATSpec is a NAT rule NCP writes on a router.
type SNATSpec struct {
	// Router is the logical router id (a tier-0 or a tier-1).
	Router string
	// Action is SNAT (default) or NO_SNAT.
	Action string
	// Namespace is the namespace the rule is for (its ncp/project tag).
	Namespace string
	// Service and Pool are set for a Service's ncp/snat_pool rule.
	Service, Pool string
	// Sources are the matched source networks (a namespace's CIDR, a Service's pod IPs);
	// Destination the matched destination network (empty: any).
	Sources     []string
	Destination string
	// Translated is the address the source becomes.
	Translated string
	// Priority is rule_priority / sequence_number (0: 1024 for a namespace, 1000 for a Service).
	Priority int
}

// AddSNAT adds a NAT rule in both APIs: one MP rule per source network (match_source_network
// holds one), one Policy rule holding them all.
func (t *Topology) AddSNAT(r SNATSpec) {
	if r.Action == "" {
		r.Action = "SNAT"
	}
	if r.Priority == 0 {
		r.Priority = 1024
		if r.Service != "" {
			r.Priority = 1000
		}
	}
	if t.NatRules == nil {
		t.NatRules = map[string][]NatRule{}
	}
	tags := []Tag{{ScopeCluster, ClusterName}}
	if r.Namespace != "" {
		tags = append(tags, Tag{ScopeProject, r.Namespace})
	}
	name := "snat-" + r.Namespace
	if r.Service != "" {
		tags = append(tags, Tag{ScopeService, r.Service}, Tag{ScopeSnatPool, r.Pool})
		name = "snat-" + r.Namespace + "-" + r.Service
	}
	if r.Action == "NO_SNAT" {
		name = "no-snat-" + strings.ReplaceAll(strings.ReplaceAll(r.Destination, "/", "-"), ".", "-")
	}
	for i, src := range r.Sources {
		t.NatRules[r.Router] = append(t.NatRules[r.Router], NatRule{ResourceType: "NatRule", ID: fmt.Sprintf("nat-%s-%d", name, i), DisplayName: name,
			LogicalRouterID: r.Router, Action: r.Action, MatchSourceNetwork: src, MatchDestinationNetwork: r.Destination,
			TranslatedNetwork: r.Translated, RulePriority: r.Priority, Enabled: true, FirewallMatch: "MATCH_INTERNAL_ADDRESS", Tags: tags})
	}
	parent := t.routerPolicyPath(r.Router) + "/nat/USER"
	t.PolicyNatRules = append(t.PolicyNatRules, PolicyNatRule{ResourceType: "PolicyNatRule", ID: name, Path: parent + "/nat-rules/" + name, ParentPath: parent,
		DisplayName: name, Action: r.Action, SourceNetwork: strings.Join(r.Sources, ","), DestinationNetwork: r.Destination,
		TranslatedNetwork: r.Translated, SequenceNumber: r.Priority, Enabled: true, FirewallMatch: "MATCH_INTERNAL_ADDRESS", Tags: tags})
}

// RemoveSNAT drops the rules written for a namespace (and Service, when given), in both APIs:
// what a user sees when NCP failed to write them or someone deleted them.
func (t *Topology) RemoveSNAT(router, namespace, service string) int {
	n := 0
	keep := func(tags []Tag) bool {
		drop := tagOf(tags, ScopeProject) == namespace && tagOf(tags, ScopeService) == service
		if drop {
			n++
		}
		return !drop
	}
	var mp []NatRule
	for _, r := range t.NatRules[router] {
		if keep(r.Tags) {
			mp = append(mp, r)
		}
	}
	t.NatRules[router] = mp
	var pol []PolicyNatRule
	prefix := t.routerPolicyPath(router) + "/nat/"
	for _, r := range t.PolicyNatRules {
		if !strings.HasPrefix(r.ParentPath, prefix) || keep(r.Tags) {
			pol = append(pol, r)
		}
	}
	t.PolicyNatRules = pol
	return n
}

func tagOf(tags []Tag, scope string) string {
	for _, t := range tags {
		if t.Scope == scope {
			return t.Tag
		}
	}
	return ""
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
