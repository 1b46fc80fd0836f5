package runner

import (
	"cmp"
	"context"
	"fmt"
	"strings"
)

// HostTemplate reaches a hypervisor as Template reaches a node: a user's command template with
// {host} (the hypervisor's name, e.g. an OVN chassis hostname) and {hostIP} (its TEP address)
// replaced, the command appended.
type HostTemplate struct {
	t   *Template
	raw string
	// Label names the template in messages (the caller's setting); "host template" if empty.
	Label string
}

// NewHostTemplate parses a hypervisor command template; its error follows the setting's name as
// NewTemplate's does.
func NewHostTemplate(tmpl string) (*HostTemplate, error) {
	if strings.Contains(tmpl, "{node}") || strings.Contains(tmpl, "{nodeIP}") {
		return nil, fmt.Errorf("%q names {node}: a hypervisor is {host} or {hostIP}", tmpl)
	}
	words, err := Split(tmpl)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", tmpl, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("is empty: give a command such as 'ssh {hostIP}'")
	}
	t, err := NewTemplate(strings.NewReplacer("{hostIP}", "{nodeIP}", "{host}", "{node}").Replace(tmpl))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", tmpl, err)
	}
	return &HostTemplate{t: t, raw: tmpl}, nil
}

// Run runs argv on host (Name: {host}, IP: {hostIP}).
func (h *HostTemplate) Run(ctx context.Context, host Node, argv []string) ([]byte, error) {
	return h.t.Run(ctx, host, argv)
}

// String names the runner in messages: its Label and the template.
func (h *HostTemplate) String() string { return cmp.Or(h.Label, "host template") + " " + quote(h.raw) }
