package runner

import (
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
}

// NewHostTemplate parses a --host-exec template.
func NewHostTemplate(tmpl string) (*HostTemplate, error) {
	if strings.Contains(tmpl, "{node}") || strings.Contains(tmpl, "{nodeIP}") {
		return nil, fmt.Errorf("--host-exec %q names {node}: a hypervisor is {host} or {hostIP}", tmpl)
	}
	words, err := Split(tmpl)
	if err != nil {
		return nil, fmt.Errorf("--host-exec %q: %w", tmpl, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("--host-exec is empty: give a command such as 'ssh {hostIP}'")
	}
	t, err := NewTemplate(strings.NewReplacer("{hostIP}", "{nodeIP}", "{host}", "{node}").Replace(tmpl))
	if err != nil {
		return nil, fmt.Errorf("--host-exec %q: %w", tmpl, err)
	}
	return &HostTemplate{t: t, raw: tmpl}, nil
}

// Run runs argv on host (Name: {host}, IP: {hostIP}).
func (h *HostTemplate) Run(ctx context.Context, host Node, argv []string) ([]byte, error) {
	return h.t.Run(ctx, host, argv)
}

func (h *HostTemplate) String() string { return "--host-exec " + quote(h.raw) }
