package cmd

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// TestNodeSnapshotBytes: `collect node` writes a node snapshot byte for byte as
// trace.WriteSnapshot would (the walk and users read it as a trace.Snapshot), and falls back to
// it for anything a node snapshot does not hold.
func TestNodeSnapshotBytes(t *testing.T) {
	// A field added to Snapshot must be added to nodeSnapshot (or be checked in writeNodeSnapshot).
	var names []string
	st := reflect.TypeFor[trace.Snapshot]()
	for i := range st.NumField() {
		names = append(names, st.Field(i).Name+" "+string(st.Field(i).Tag))
	}
	want := []string{`APIVersion json:"apiVersion"`, `Sources json:"sources,omitempty"`, `Cluster json:"cluster"`,
		`Nodes json:"nodes,omitempty"`, `Fabric json:"fabric,omitempty"`}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("trace.Snapshot's fields are %q, nodeSnapshot mirrors %q: update it", names, want)
	}

	at := time.Date(2026, 12, 3, 18, 0, 0, 123, time.UTC)
	pub := scenario.Published()
	for _, tc := range []struct {
		name string
		snap *trace.Snapshot
	}{
		{"node", &trace.Snapshot{APIVersion: trace.APIVersion, Nodes: pub.Nodes[:1], Sources: []trace.SourceInfo{
			{Name: "netlink@n", CollectedAt: at, Warnings: []string{"netns x: not read: <gone> & \"quoted\""}},
			{Name: "ovsdb@n", CollectedAt: at}}}},
		{"all nodes, no sources", &trace.Snapshot{APIVersion: trace.APIVersion, Nodes: pub.Nodes}},
		{"nothing", &trace.Snapshot{APIVersion: trace.APIVersion}},
		{"no apiVersion", &trace.Snapshot{Nodes: pub.Nodes[:1]}},
		{"with cluster", &trace.Snapshot{APIVersion: trace.APIVersion, Nodes: pub.Nodes[:1], Cluster: pub.Cluster}},
		{"with fabric", &trace.Snapshot{APIVersion: trace.APIVersion, Nodes: pub.Nodes[:1], Fabric: pub.Fabric}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got, want bytes.Buffer
			if err := writeNodeSnapshot(&got, tc.snap); err != nil {
				t.Fatal(err)
			}
			if err := trace.WriteSnapshot(&want, tc.snap); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("writeNodeSnapshot wrote\n%s\nwant (trace.WriteSnapshot)\n%s", got.Bytes(), want.Bytes())
			}
		})
	}
}
