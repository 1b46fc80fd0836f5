package runner

import (
	"fmt"
	"strings"
)

// NewHostTemplate parses a hypervisor command template: a Template that reaches a hypervisor as
// a node template reaches a node, with {host} (its name, e.g. an OVN chassis hostname, held to a
// DNS name) and {hostIP} (its TEP address) replaced and the command appended. Its error follows
// the setting's name as NewTemplate's does.
func NewHostTemplate(tmpl string) (*Template, error) {
	if strings.Contains(tmpl, "{node}") || strings.Contains(tmpl, "{nodeIP}") {
		return nil, fmt.Errorf("%q names {node}: a hypervisor is {host} or {hostIP}", tmpl)
	}
	return newTemplate(tmpl, true)
}
