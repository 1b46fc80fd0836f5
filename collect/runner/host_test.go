package runner

import (
	"slices"
	"testing"
)

func TestHostTemplate(t *testing.T) {
	h, err := NewHostTemplate("ssh -l root {hostIP} sudo")
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.t.Argv(Node{Name: "hv-1", IP: "192.168.100.1"}, []string{"ovs-vsctl", "list", "Interface"})
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
	if _, err := h.t.Argv(Node{Name: "hv;reboot"}, []string{"ip"}); err == nil {
		t.Error("a hostile host name was substituted")
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
