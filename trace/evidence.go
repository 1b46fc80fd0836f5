package trace

import (
	"cmp"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

func ev(source, format string, args ...any) Evidence {
	return Evidence{Source: source, Fact: fmt.Sprintf(format, args...)}
}

func vlanPtr(v int) *int { return &v }

func linkState(l *Link) string {
	st := cmp.Or(l.OperState, "unknown")
	if !l.AdminUp {
		st += " (admin down)"
	}
	return st
}

func intsString(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, ",") + "]"
}

func portVLANString(p *Port) string {
	var parts []string
	if p.Tag != nil {
		parts = append(parts, fmt.Sprintf("tag=%d", *p.Tag))
	}
	if len(p.Trunks) > 0 {
		parts = append(parts, "trunks="+intsString(p.Trunks))
	}
	if p.VLANMode != "" {
		parts = append(parts, "vlan_mode="+p.VLANMode)
	}
	if len(parts) == 0 {
		return "untagged (all VLANs)"
	}
	return strings.Join(parts, " ")
}

func fdbLine(e MACEntry) string {
	return fmt.Sprintf("%s: port %s VLAN %d MAC %s age %d", e.Bridge, e.Port, e.VLAN, NormalizeMAC(e.MAC), e.Age)
}

// fdbAged is an entry with the bridge's aging time: how long it stays without another frame.
func fdbAged(e MACEntry, aging int) string {
	return fmt.Sprintf("%s s of %d s aging time", fdbLine(e), aging)
}

func kvString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", k, m[k])
	}
	return b.String()
}

func routeString(r Route) string {
	s := r.Dst
	if r.Gateway != "" {
		s += " via " + r.Gateway
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	if r.Scope != "" && r.Scope != "universe" {
		s += " scope " + r.Scope
	}
	return s
}

func describePort(sp *SwitchPort, fab *fabIdx) string {
	var b strings.Builder
	fmt.Fprintf(&b, "logical port %s", portName(sp))
	if sp.ID != "" && sp.ID != sp.Name {
		fmt.Fprintf(&b, " (%s)", sp.ID)
	}
	fmt.Fprintf(&b, " on switch %s", fab.switchName(sp.Switch))
	if sp.Type != "" {
		fmt.Fprintf(&b, " type %s", sp.Type)
	}
	if sp.TrafficTag != nil {
		fmt.Fprintf(&b, " traffic_tag %d", *sp.TrafficTag)
	}
	if len(sp.MACs) > 0 || len(sp.IPs) > 0 {
		fmt.Fprintf(&b, " bindings %s %s", strings.Join(sp.MACs, ","), strings.Join(sp.IPs, ","))
	}
	if sp.NodeName != "" {
		fmt.Fprintf(&b, " node %s", sp.NodeName)
	}
	return b.String()
}
