package ovsdbrpc

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/ovn-org/libovsdb/ovsdb"
)

// readDBOps are collect/ovs ReadDB's selects (the columns its vswitchd models hold).
var readDBOps = []ovsdb.Operation{
	{Op: ovsdb.OperationSelect, Table: "Bridge", Columns: []string{"_uuid", "datapath_type", "name", "other_config", "ports"}},
	{Op: ovsdb.OperationSelect, Table: "Port", Columns: []string{"_uuid", "interfaces", "name", "tag", "trunks", "vlan_mode"}},
	{Op: ovsdb.OperationSelect, Table: "Interface", Columns: []string{"_uuid", "admin_state", "external_ids", "link_state", "mac_in_use", "name", "ofport", "type"}},
}

// BenchmarkDecodeSchema decodes OVS 3.1's Open_vSwitch schema (27 KB) as get_schema answers it:
// whole (Connect) and only what ReadDB's transaction selects (ConnectTransact). The partial
// decode gives each selected column the schema the whole decode gives it.
func BenchmarkDecodeSchema(b *testing.B) {
	raw, err := os.ReadFile("../ovs/vswitchd/vswitch.ovsschema")
	if err != nil {
		b.Fatal(err)
	}
	var full, part ovsdb.DatabaseSchema
	if err := decodeSchema(raw, nil, &full); err != nil {
		b.Fatal(err)
	}
	if err := decodeSchema(raw, readDBOps, &part); err != nil {
		b.Fatal(err)
	}
	for _, op := range readDBOps {
		for _, col := range op.Columns[1:] {
			got, want := part.Table(op.Table).Column(col), full.Table(op.Table).Column(col)
			if got == nil || want == nil || got.String() != want.String() || got.Mutable() != want.Mutable() {
				b.Fatalf("%s.%s: partial %v, whole %v", op.Table, col, got, want)
			}
		}
	}
	for _, bc := range []struct {
		name string
		ops  []ovsdb.Operation
	}{{"whole", nil}, {"readdb-columns", readDBOps}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var s ovsdb.DatabaseSchema
				if err := decodeSchema(json.RawMessage(raw), bc.ops, &s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeSchemaMergesATableSelectedTwice: two selects of one table give it the columns of
// both; a select without columns gives it whole, whatever another select names.
func TestDecodeSchemaMergesATableSelectedTwice(t *testing.T) {
	raw, err := os.ReadFile("../ovs/vswitchd/vswitch.ovsschema")
	if err != nil {
		t.Fatal(err)
	}
	var full ovsdb.DatabaseSchema
	if err := decodeSchema(raw, nil, &full); err != nil {
		t.Fatal(err)
	}
	sel := func(table string, cols ...string) ovsdb.Operation {
		return ovsdb.Operation{Op: ovsdb.OperationSelect, Table: table, Columns: cols}
	}
	var s ovsdb.DatabaseSchema
	if err := decodeSchema(raw, []ovsdb.Operation{sel("Bridge", "_uuid", "name"), sel("Bridge", "ports"), sel("Port")}, &s); err != nil {
		t.Fatal(err)
	}
	if b := s.Table("Bridge"); b == nil || len(b.Columns) != 2 || b.Column("name") == nil || b.Column("ports") == nil {
		t.Errorf("Bridge selected for name, then ports: %+v, want both columns and only those", b)
	}
	for _, ops := range [][]ovsdb.Operation{{sel("Port", "name"), sel("Port")}, {sel("Port"), sel("Port", "name")}} {
		var s ovsdb.DatabaseSchema
		if err := decodeSchema(raw, ops, &s); err != nil {
			t.Fatal(err)
		}
		if p := s.Table("Port"); p == nil || len(p.Columns) != len(full.Table("Port").Columns) {
			t.Errorf("Port selected whole beside a select of its name: %+v, want all %d columns", p, len(full.Table("Port").Columns))
		}
	}
}
