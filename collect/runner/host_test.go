package runner

import (
	"slices"
	"strings"
	"testing"
)

func TestHostTemplate(t *testing.T) {
	h, err := NewHostTemplate("ssh -l root {hostIP} sudo")
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.Argv(Node{Name: "hv-1", IP: "192.168.100.1"}, []string{"ovs-vsctl", "list", "Interface"})
	if want := []string{"ssh", "-l", "root", "192.168.100.1", "sudo", "ovs-vsctl", "list", "Interface"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("argv %q (%v), want %q", got, err, want)
	}
	if h.String() != "host template 'ssh -l root {hostIP} sudo'" {
		t.Errorf("String %q", h)
	}
	if h.Label = "--host-exec"; h.String() != "--host-exec 'ssh -l root {hostIP} sudo'" {
		t.Errorf("String %q", h)
	}
	// A chassis hostname that is not a DNS name is never put on a command line.
	h, _ = NewHostTemplate("/lab/host-exec {host}")
	if _, err := h.Argv(Node{Name: "hv;reboot"}, []string{"ip"}); err == nil || !strings.HasPrefix(err.Error(), `host name "hv;reboot" has ';'`) {
		t.Errorf("a hostile host name was substituted, or not named a host's: %v", err)
	}
	// Messages name what the user wrote: {hostIP} and the host template, not a node's.
	h, _ = NewHostTemplate("ssh {hostIP}")
	h.Label = "--host-exec"
	if _, err := h.Argv(Node{Name: "hv-1"}, []string{"ip"}); err == nil || err.Error() != "host hv-1 has no address for {hostIP} in --host-exec 'ssh {hostIP}'" {
		t.Errorf("no TEP: %v", err)
	}
	if _, err := h.Argv(Node{Name: "hv-1", IP: "fe80::1%eth0"}, []string{"ip"}); err == nil || err.Error() != `host address "fe80::1%eth0" has an IPv6 zone: not used` {
		t.Errorf("a TEP with a zone: %v, want it refused as a host's address", err)
	}
	// {host} and {hostIP} are a host template's words only: a node template leaves them as written.
	n, _ := NewTemplate("ssh {hostIP} {node}")
	if got, err := n.Argv(Node{Name: "n1"}, []string{"ip"}); err != nil || !slices.Equal(got, []string{"ssh", "{hostIP}", "n1", "ip"}) {
		t.Errorf("node template argv %q (%v)", got, err)
	}
	for tmpl, want := range map[string]string{
		"'ssh":         `"'ssh": unterminated single quote`,
		"  ":           "is empty: give a command such as 'ssh {hostIP}'",
		"ssh {nodeIP}": `"ssh {nodeIP}" names {node}: a hypervisor is {host} or {hostIP}`,
	} {
		t.Run(tmpl, func(t *testing.T) {
			if _, err := NewHostTemplate(tmpl); err == nil || err.Error() != want {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
}
