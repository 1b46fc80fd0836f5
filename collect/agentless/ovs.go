package agentless

import (
	"encoding/json"
	"fmt"

	"github.com/packetwalk/kubectl-packetwalk/collect/ovs"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovs/vswitchd"
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
			return nil, fmt.Errorf("ovs-vsctl list %s: %w", x.name, err)
		}
	}
	var ifaces []vswitchd.Interface
	for _, r := range ti.rows() {
		x := vswitchd.Interface{UUID: str(r["_uuid"]), Name: str(r["name"]), Type: str(r["type"]), ExternalIDs: strMap(r["external_ids"]),
			MACInUse: optStr(r["mac_in_use"]), AdminState: optStr(r["admin_state"]), LinkState: optStr(r["link_state"])}
		if p := ints(r["ofport"]); len(p) == 1 {
			x.Ofport = &p[0]
		}
		ifaces = append(ifaces, x)
	}
	var ports []vswitchd.Port
	for _, r := range tp.rows() {
		x := vswitchd.Port{UUID: str(r["_uuid"]), Name: str(r["name"]), Trunks: ints(r["trunks"]), VLANMode: optStr(r["vlan_mode"]), Interfaces: strs(r["interfaces"])}
		if t := ints(r["tag"]); len(t) == 1 {
			x.Tag = &t[0]
		}
		ports = append(ports, x)
	}
	var bridges []vswitchd.Bridge
	for _, r := range tb.rows() {
		bridges = append(bridges, vswitchd.Bridge{UUID: str(r["_uuid"]), Name: str(r["name"]), DatapathType: str(r["datapath_type"]), Ports: strs(r["ports"]), OtherConfig: strMap(r["other_config"])})
	}
	return ovs.Convert(bridges, ports, ifaces), nil
}
