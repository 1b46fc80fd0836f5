package ovsdbrpc

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/ovs/vswitchd"
)

// readDBOps are collect/ovs ReadDB's selects (the columns its vswitchd models hold).
var readDBOps = []ovsdb.Operation{
	{Op: ovsdb.OperationSelect, Table: vswitchd.BridgeTable, Columns: Columns(vswitchd.Bridge{})},
	{Op: ovsdb.OperationSelect, Table: vswitchd.PortTable, Columns: Columns(&vswitchd.Port{})},
	{Op: ovsdb.OperationSelect, Table: vswitchd.InterfaceTable, Columns: Columns(vswitchd.Interface{})},
}

// TestColumns: a model's columns are its fields' ovsdb tags, in order, _uuid with them; untagged
// fields are not columns; a pointer to the model gives the same.
func TestColumns(t *testing.T) {
	want := []string{"_uuid", "datapath_type", "name", "other_config", "ports"}
	if got := Columns(vswitchd.Bridge{}); !slices.Equal(got, want) {
		t.Errorf("Columns(Bridge) = %q, want %q", got, want)
	}
	if got := Columns(&vswitchd.Bridge{}); !slices.Equal(got, want) {
		t.Errorf("Columns(*Bridge) = %q, want %q", got, want)
	}
	type row struct {
		UUID  string `ovsdb:"_uuid"`
		Note  string
		Name  string `ovsdb:"name"`
		extra int
	}
	if got := Columns(row{}); !slices.Equal(got, []string{"_uuid", "name"}) {
		t.Errorf("Columns(row) = %q, want the two tagged fields", got)
	}
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
