package live

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// fakeHosts answers nothing: every command fails; it records which hosts were reached, by which address.
type fakeHosts struct {
	mu      sync.Mutex
	reached []string
}

func (f *fakeHosts) Run(_ context.Context, n runner.Node, _ []string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reached = append(f.reached, n.Name+"@"+n.IP)
	return nil, errors.New("ssh: connect to host " + n.IP + " port 22: Connection refused")
}

func (f *fakeHosts) String() string { return "--host-exec 'ssh {hostIP}'" }

// TestReadHosts: the hosts whose tunnels the provider did not give are reached by name and TEP;
// one that does not answer is a warning naming it, and the walk goes on without its tunnels.
func TestReadHosts(t *testing.T) {
	fab := &trace.Fabric{Hosts: []trace.Host{
		{ID: "hv1", Name: "hv1", TEPs: []trace.TEP{{IP: "192.168.100.1"}}},
		{ID: "esx", Name: "esx", Tunnels: []trace.Tunnel{{RemoteIP: "192.168.100.1"}}},
		{ID: "ph", Name: "ph", Placeholder: true},
	}}
	f := &fakeHosts{}
	warns := readHosts(context.Background(), f, fab)
	if len(f.reached) != 1 || f.reached[0] != "hv1@192.168.100.1" {
		t.Errorf("reached %q, want only hv1 by its TEP", f.reached)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "hypervisor hv1 not read through --host-exec 'ssh {hostIP}'") || !strings.Contains(warns[0], "Connection refused") {
		t.Errorf("warnings %q", warns)
	}
	if len(fab.Hosts[1].Tunnels) != 1 {
		t.Error("the provider's tunnels were replaced")
	}
	if readHosts(context.Background(), nil, fab) != nil {
		t.Error("no runner, yet something was read")
	}
}
