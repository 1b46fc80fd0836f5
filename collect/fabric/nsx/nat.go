package nsx

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// natRule is an MP NatRule or a Policy PolicyNatRule, the fields a walk uses.
type natRule struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Action      string `json:"action"`
	Enabled     *bool  `json:"enabled"`
	Tags        []tag  `json:"tags"`
	// MP
	MatchSourceNetwork      string `json:"match_source_network"`
	MatchDestinationNetwork string `json:"match_destination_network"`
	RulePriority            *int   `json:"rule_priority"`
	AppliedTos              []ref  `json:"applied_tos"`
	// Policy
	Path               string   `json:"path"`
	SourceNetwork      string   `json:"source_network"`
	DestinationNetwork string   `json:"destination_network"`
	SequenceNumber     *int     `json:"sequence_number"`
	Scope              []string `json:"scope"`
	// both
	TranslatedNetwork string `json:"translated_network"`
	TranslatedPorts   string `json:"translated_ports"`
}

// natSection is the Policy NAT section NCP and users write rules in.
const natSection = "USER"

// defaultNATPriority is rule_priority when a rule has none (the API reference's default).
const defaultNATPriority = 1024

func (r natRule) priority() int {
	switch {
	case r.RulePriority != nil:
		return *r.RulePriority
	case r.SequenceNumber != nil:
		return *r.SequenceNumber
	}
	return defaultNATPriority
}

func (r natRule) sources() []string {
	return splitNetworks(cmp.Or(r.MatchSourceNetwork, r.SourceNetwork))
}

func (r natRule) destinations() []string {
	return splitNetworks(cmp.Or(r.MatchDestinationNetwork, r.DestinationNetwork))
}

// splitNetworks reads a rule's network field: one address, range or CIDR (MP), or a comma
// separated list of them (Policy); empty is any.
func splitNetworks(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// natRules reads a router's NAT rules, in the order the router applies them (priority
// ascending, then id, for rules of equal priority whose order the API leaves undefined).
func (st *state) natRules(ctx context.Context, r *trace.Router, policy bool) ([]natRule, error) {
	p := "/api/v1/logical-routers/" + url.PathEscape(r.ID) + "/nat/rules"
	if policy {
		kind := "tier-1s"
		if r.Tier == trace.Tier0 {
			kind = "tier-0s"
		}
		p = "/policy/api/v1/infra/" + kind + "/" + url.PathEscape(r.ID) + "/nat/" + natSection + "/nat-rules"
	}
	rules, err := list[natRule](ctx, st.f, p, nil)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(rules)
	slices.SortStableFunc(out, func(a, b natRule) int {
		return cmp.Or(cmp.Compare(a.priority(), b.priority()), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}
