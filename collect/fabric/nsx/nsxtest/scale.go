package nsxtest

import "fmt"

// AddScale grows the topology with objects no walk between the original endpoints needs:
// t1s extra tier-1 routers linked to the first tier-0, each with a downlink to its own switch,
// and ports extra CHILD ports spread over those switches under 100 extra parent VIFs. A
// path-directed provider must not read more for the original walks.
func (t *Topology) AddScale(ports, t1s int) {
	var t0 string
	for _, r := range t.LogicalRouters {
		if r.RouterType == "TIER0" {
			t0 = r.ID
			break
		}
	}
	if t1s < 1 {
		t1s = 1
	}
	for i := 0; i < t1s; i++ {
		rid, sw := fmt.Sprintf("lr-scale-%04d", i), fmt.Sprintf("ls-scale-%04d", i)
		a, b := 10+i/250, (i%250)+1
		t.LogicalRouters = append(t.LogicalRouters, LogicalRouter{ResourceType: "LogicalRouter", ID: rid, DisplayName: "t1-scale-" + fmt.Sprint(i), RouterType: "TIER1"})
		t.LogicalSwitches = append(t.LogicalSwitches, LogicalSwitch{ResourceType: "LogicalSwitch", ID: sw, DisplayName: sw, AdminState: "UP"})
		t.LogicalPorts = append(t.LogicalPorts, LogicalPort{ResourceType: "LogicalPort", ID: "lp-" + sw + "-router", LogicalSwitchID: sw, AdminState: "UP",
			Attachment: &LogicalPortAttachment{AttachmentType: "LOGICALROUTER", ID: "lrp-" + rid + "-dl"}})
		link := fmt.Sprintf("100.65.%d.%d", i/64, (i%64)*4)
		link1 := fmt.Sprintf("100.65.%d.%d", i/64, (i%64)*4+1)
		t.LogicalRouterPorts = append(t.LogicalRouterPorts,
			LogicalRouterPort{ResourceType: "LogicalRouterDownLinkPort", ID: "lrp-" + rid + "-dl", LogicalRouterID: rid, MACAddress: "02:50:56:56:44:52",
				Subnets: []IPSubnet{{IPAddresses: []string{fmt.Sprintf("10.%d.%d.1", a, b)}, PrefixLength: 24}}, LinkedLogicalSwitchPortID: &ResourceReference{TargetID: "lp-" + sw + "-router"}},
			LogicalRouterPort{ResourceType: "LogicalRouterLinkPortOnTIER1", ID: "lrp-" + rid + "-link", LogicalRouterID: rid,
				Subnets: []IPSubnet{{IPAddresses: []string{link1}, PrefixLength: 31}}, LinkedLogicalRouterPortID: &ResourceReference{TargetID: "lrp-t0-to-" + rid}},
			LogicalRouterPort{ResourceType: "LogicalRouterLinkPortOnTIER0", ID: "lrp-t0-to-" + rid, LogicalRouterID: t0,
				Subnets: []IPSubnet{{IPAddresses: []string{link}, PrefixLength: 31}}})
		if t.Advertisement == nil {
			t.Advertisement = map[string]AdvertisementConfig{}
		}
		t.Advertisement[rid] = AdvertisementConfig{ResourceType: "AdvertisementConfig", LogicalRouterID: rid, Enabled: true, AdvertiseNSXConnectedRoutes: true}
	}
	for p := 0; p < 100 && ports > 0; p++ {
		sw := fmt.Sprintf("ls-scale-%04d", p%t1s)
		parent := fmt.Sprintf("vif-scale-parent-%03d", p)
		t.LogicalPorts = append(t.LogicalPorts, LogicalPort{ResourceType: "LogicalPort", ID: "lp-" + parent, LogicalSwitchID: sw, AdminState: "UP",
			Attachment: &LogicalPortAttachment{AttachmentType: "VIF", ID: parent, Context: &VifAttachmentContext{ResourceType: "VifAttachmentContext", VifType: "PARENT"}},
			Tags:       []Tag{{ScopeNodeName, fmt.Sprintf("scale-node-%03d", p)}}})
	}
	for i := 0; i < ports; i++ {
		r := i % t1s
		sw := fmt.Sprintf("ls-scale-%04d", r)
		tag := 100 + i/100
		t.LogicalPorts = append(t.LogicalPorts, LogicalPort{ResourceType: "LogicalPort", ID: fmt.Sprintf("lp-scale-%05d", i), LogicalSwitchID: sw, AdminState: "UP",
			Attachment: &LogicalPortAttachment{AttachmentType: "VIF", ID: fmt.Sprintf("vif-scale-%05d", i),
				Context: &VifAttachmentContext{ResourceType: "VifAttachmentContext", VifType: "CHILD", ParentVifID: fmt.Sprintf("vif-scale-parent-%03d", i%100), TrafficTag: &tag}},
			AddressBindings: []PacketAddressClassifier{{IPAddress: fmt.Sprintf("10.%d.%d.%d", 10+r/250, r%250+1, 2+i/t1s%250), MACAddress: fmt.Sprintf("02:00:00:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff)}},
			Tags:            []Tag{{ScopeProject, fmt.Sprintf("ns-%d", r)}, {ScopePod, fmt.Sprintf("pod-%d", i)}}})
	}
}
