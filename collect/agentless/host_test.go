package agentless

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// hostOutputs are what ovs-vsctl and ip print on the lab's first hypervisor with the tunnel down:
// br-phy holds the TEP, its port ul0 is the underlay (MTU 1500), ovn-p17o-h-0 the Geneve tunnel.
var hostOutputs = map[string]string{
	"ovs-vsctl --timeout=10 --format=json --data=json list Bridge": `{"data":[[["uuid","b1"],"netdev","br-int",["map",[]],["set",[["uuid","p1"],["uuid","p2"]]]],` +
		`[["uuid","b2"],"netdev","br-phy",["map",[]],["set",[["uuid","p3"],["uuid","p4"]]]]],"headings":["_uuid","datapath_type","name","other_config","ports"]}`,
	"ovs-vsctl --timeout=10 --format=json --data=json list Port": `{"data":[[["uuid","p1"],["uuid","i1"],"br-int",["set",[]],["set",[]],["set",[]]],` +
		`[["uuid","p2"],["uuid","i2"],"ovn-p17o-h-0",["set",[]],["set",[]],["set",[]]],[["uuid","p3"],["uuid","i3"],"br-phy",["set",[]],["set",[]],["set",[]]],` +
		`[["uuid","p4"],["uuid","i4"],"ul0",["set",[]],["set",[]],["set",[]]]],"headings":["_uuid","interfaces","name","tag","trunks","vlan_mode"]}`,
	"ovs-vsctl --timeout=10 --format=json --data=json list Interface": `{"data":[` +
		`[["uuid","i1"],["map",[]],["map",[]],"up",1500,"br-int",["map",[]],"internal"],` +
		`[["uuid","i2"],["map",[["diagnostic","Control Detection Time Expired"],["flap_count","2"],["forwarding","false"],["remote_diagnostic","No Diagnostic"],["remote_state","down"],["state","down"]]],["map",[]],"up",["set",[]],"ovn-p17o-h-0",["map",[["csum","true"],["key","flow"],["remote_ip","192.168.100.2"]]],"geneve"],` +
		`[["uuid","i3"],["map",[]],["map",[]],"up",1500,"br-phy",["map",[]],"internal"],` +
		`[["uuid","i4"],["map",[]],["map",[]],"up",1500,"ul0",["map",[]],""]],` +
		`"headings":["_uuid","bfd_status","external_ids","link_state","mtu","name","options","type"]}`,
	"ip -j route get 192.168.100.2": `[{"dst":"192.168.100.2","dev":"br-phy","prefsrc":"192.168.100.1","flags":[],"uid":0,"cache":[]}]`,
}

func TestCollectHost(t *testing.T) {
	run := func(_ context.Context, argv []string) ([]byte, error) {
		if out, ok := hostOutputs[strings.Join(argv, " ")]; ok {
			return []byte(out), nil
		}
		return nil, fmt.Errorf("unexpected command %q", argv)
	}
	h := &trace.Host{ID: "p17o-hv", Name: "p17o-hv", TEPs: []trace.TEP{{IP: "192.168.100.1", Encap: "geneve"}}}
	warns, err := CollectHost(context.Background(), run, h, []string{"192.168.100.2"})
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v warnings %q", err, warns)
	}
	if len(h.Tunnels) != 1 {
		t.Fatalf("tunnels %+v", h.Tunnels)
	}
	tn := h.Tunnels[0]
	if tn.Name != "ovn-p17o-h-0" || tn.Encap != "geneve" || tn.LocalIP != "192.168.100.1" || tn.RemoteIP != "192.168.100.2" || tn.State != trace.TunnelDown ||
		tn.BFD == nil || tn.BFD.Diagnostic != "Control Detection Time Expired" || tn.BFD.Forwarding == nil || *tn.BFD.Forwarding {
		t.Errorf("tunnel %+v bfd %+v", tn, tn.BFD)
	}
	u := h.Underlay
	if u == nil || u.Interface != "ul0" || u.MTU != 1500 || u.Up == nil || !*u.Up || len(u.Routes) != 1 || u.Routes[0].Dev != "br-phy" {
		t.Errorf("underlay %+v", u)
	}
	// A host whose OVS cannot be read is an error naming it.
	fail := func(context.Context, []string) ([]byte, error) { return nil, fmt.Errorf("connection refused") }
	if _, err := CollectHost(context.Background(), fail, &trace.Host{Name: "hv9"}, nil); err == nil || !strings.Contains(err.Error(), "host hv9") {
		t.Errorf("unreachable host: %v", err)
	}
}
