package agentless

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// vsctlTable is `ovs-vsctl --format=json --data=json list TABLE`.
type vsctlTable struct {
	Headings []string            `json:"headings"`
	Data     [][]json.RawMessage `json:"data"`
}

// rows returns each row as column -> raw OVSDB JSON value.
func (t vsctlTable) rows() []map[string]json.RawMessage {
	var out []map[string]json.RawMessage
	for _, d := range t.Data {
		r := map[string]json.RawMessage{}
		for i, h := range t.Headings {
			if i < len(d) {
				r[h] = d[i]
			}
		}
		out = append(out, r)
	}
	return out
}

// atom decodes an OVSDB atom or a set of atoms: "s", 1, ["uuid","u"], ["set",[...]].
func atoms(raw json.RawMessage) []any {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		return []any{v}
	}
	if len(arr) == 2 {
		switch arr[0] {
		case "set":
			var out []any
			for _, e := range asSlice(arr[1]) {
				out = append(out, unwrapAtom(e))
			}
			return out
		case "uuid", "named-uuid":
			return []any{arr[1]}
		}
	}
	return nil
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func unwrapAtom(v any) any {
	if a, ok := v.([]any); ok && len(a) == 2 && (a[0] == "uuid" || a[0] == "named-uuid") {
		return a[1]
	}
	return v
}

func str(raw json.RawMessage) string {
	if a := atoms(raw); len(a) == 1 {
		s, _ := a[0].(string)
		return s
	}
	return ""
}

func optStr(raw json.RawMessage) *string {
	if a := atoms(raw); len(a) == 1 {
		if s, ok := a[0].(string); ok {
			return &s
		}
	}
	return nil
}

func ints(raw json.RawMessage) []int {
	var out []int
	for _, a := range atoms(raw) {
		if f, ok := a.(float64); ok {
			out = append(out, int(f))
		}
	}
	return out
}

func strs(raw json.RawMessage) []string {
	var out []string
	for _, a := range atoms(raw) {
		if s, ok := a.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func strMap(raw json.RawMessage) map[string]string {
	var v []any
	if json.Unmarshal(raw, &v) != nil || len(v) != 2 || v[0] != "map" {
		return nil
	}
	out := map[string]string{}
	for _, kv := range asSlice(v[1]) {
		p := asSlice(kv)
		if len(p) == 2 {
			k, _ := p[0].(string)
			val, _ := p[1].(string)
			out[k] = val
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ParseOVS turns the JSON of `ovs-vsctl --format=json --data=json list Bridge`, `... list Port` and
// `... list Interface` into the OVS facts, as collect/ovs reads them from OVSDB.
func ParseOVS(bridgesJSON, portsJSON, ifacesJSON []byte) (*trace.OVS, error) {
	var tb, tp, ti vsctlTable
	for _, x := range []struct {
		b    []byte
		t    *vsctlTable
		name string
	}{{bridgesJSON, &tb, "Bridge"}, {portsJSON, &tp, "Port"}, {ifacesJSON, &ti, "Interface"}} {
		if err := json.Unmarshal(x.b, x.t); err != nil {
			return nil, fmt.Errorf("ovs-vsctl list %s: %v", x.name, err)
		}
	}
	o := &trace.OVS{}
	ifName := map[string]string{}
	for _, r := range ti.rows() {
		ifName[str(r["_uuid"])] = str(r["name"])
		x := trace.Interface{Name: str(r["name"]), Type: str(r["type"]), ExternalIDs: strMap(r["external_ids"])}
		if p := ints(r["ofport"]); len(p) == 1 {
			x.OFPort = p[0]
		}
		if m := optStr(r["mac_in_use"]); m != nil {
			x.MACInUse = trace.NormalizeMAC(*m)
		}
		if s := optStr(r["admin_state"]); s != nil {
			x.AdminState = *s
		}
		if s := optStr(r["link_state"]); s != nil {
			x.LinkState = *s
		}
		o.Interfaces = append(o.Interfaces, x)
	}
	ports := tp.rows()
	portName := map[string]string{}
	for _, r := range ports {
		portName[str(r["_uuid"])] = str(r["name"])
	}
	bridgeOf := map[string]string{}
	for _, r := range tb.rows() {
		x := trace.Bridge{Name: str(r["name"]), DatapathType: str(r["datapath_type"])}
		for _, u := range strs(r["ports"]) {
			if n, ok := portName[u]; ok {
				x.Ports = append(x.Ports, n)
				bridgeOf[u] = x.Name
			}
		}
		sort.Strings(x.Ports)
		o.Bridges = append(o.Bridges, x)
	}
	for _, r := range ports {
		x := trace.Port{Name: str(r["name"]), Bridge: bridgeOf[str(r["_uuid"])]}
		if t := ints(r["tag"]); len(t) == 1 {
			x.Tag = &t[0]
		}
		if tr := ints(r["trunks"]); len(tr) > 0 {
			sort.Ints(tr)
			x.Trunks = tr
		}
		if m := optStr(r["vlan_mode"]); m != nil {
			x.VLANMode = *m
		}
		for _, u := range strs(r["interfaces"]) {
			if n, ok := ifName[u]; ok {
				x.Interfaces = append(x.Interfaces, n)
			}
		}
		sort.Strings(x.Interfaces)
		o.Ports = append(o.Ports, x)
	}
	sort.Slice(o.Bridges, func(i, j int) bool { return o.Bridges[i].Name < o.Bridges[j].Name })
	sort.Slice(o.Ports, func(i, j int) bool { return o.Ports[i].Name < o.Ports[j].Name })
	sort.Slice(o.Interfaces, func(i, j int) bool { return o.Interfaces[i].Name < o.Interfaces[j].Name })
	return o, nil
}
