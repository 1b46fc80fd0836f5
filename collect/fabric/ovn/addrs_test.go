package ovn

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn/nbdb"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// A port declares its MAC and IP in addresses, in dynamic_addresses (addresses "dynamic"), or only
// in port_security (kuryr: addresses "unknown"): each is found by either.
func TestLSPAddrs(t *testing.T) {
	dyn := "0a:00:00:00:00:02 10.1.0.3"
	for _, tc := range []struct {
		name string
		p    nbdb.LogicalSwitchPort
	}{
		{"addresses", nbdb.LogicalSwitchPort{Addresses: []string{"0A:00:00:00:00:02 10.1.0.3"}}},
		{"dynamic", nbdb.LogicalSwitchPort{Addresses: []string{"dynamic"}, DynamicAddresses: &dyn}},
		{"port_security", nbdb.LogicalSwitchPort{Addresses: []string{"unknown"}, PortSecurity: []string{"0a:00:00:00:00:02 10.1.0.3/24"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			macs, ips := lspAddrs(&tc.p)
			if !slices.Equal(macs, []string{"0a:00:00:00:00:02"}) || !slices.Equal(ips, []netip.Addr{netip.MustParseAddr("10.1.0.3")}) {
				t.Errorf("%s: %v %v", tc.name, macs, ips)
			}
			if !lspHolds(&tc.p, netip.MustParseAddr("10.1.0.3"), "") || !lspHolds(&tc.p, netip.Addr{}, "0a:00:00:00:00:02") || lspHolds(&tc.p, netip.MustParseAddr("10.1.0.4"), "") {
				t.Errorf("%s: lspHolds", tc.name)
			}
		})
	}
}

// A pod no port declares: one warning naming what was tried, its IP in NotFound.
func TestUnfoundWarning(t *testing.T) {
	d := newNBData()
	d.lsps["u1"] = &nbdb.LogicalSwitchPort{UUID: "u1", Name: "other", Addresses: []string{"0a:00:00:00:00:09 10.1.0.9"}}
	ghost := trace.PodRef{Namespace: "ns1", Name: "web"}
	found := trace.PodRef{Namespace: "ns1", Name: "db"}
	d.searched[netip.MustParseAddr("10.1.0.2")] = []string{"ls-ns1"}
	q := fabric.Query{Sources: []fabric.Endpoint{
		{IP: netip.MustParseAddr("10.1.0.2"), Pod: &ghost, IfaceID: "abc"},
		{IP: netip.MustParseAddr("10.1.0.9"), Pod: &found},
	}}
	f := &trace.Fabric{}
	w := d.unfound(q, f)
	if len(w) != 1 || !strings.Contains(w[0], "pod ns1/web (10.1.0.2)") || !strings.Contains(w[0], `iface-id "abc"`) ||
		!strings.Contains(w[0], "switch ls-ns1") || !strings.Contains(w[0], "ns1_web, web.ns1") || !slices.Equal(f.NotFound, []string{"10.1.0.2"}) {
		t.Errorf("warnings %q not found %v", w, f.NotFound)
	}
}
