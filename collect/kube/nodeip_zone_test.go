package kube_test

import (
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// TestNodeIPRefusesZones: the API server keeps any text as a node address; an IPv6 zone is free
// text (fe80::1%x;touch pwned;) and never the address {nodeIP} is filled with.
func TestNodeIPRefusesZones(t *testing.T) {
	n := trace.Node{Name: "w1", Addresses: []trace.NodeAddress{
		{Type: "InternalIP", Address: "fe80::1%x;touch pwned;"},
		{Type: "ExternalIP", Address: "192.0.2.9"},
	}}
	if got := kube.NodeIP(n); got != "192.0.2.9" {
		t.Errorf("NodeIP = %q, want the zone-less 192.0.2.9", got)
	}
}
