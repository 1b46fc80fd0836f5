package trace

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sameAsUnmarshal: decodeStream gives what json.Unmarshal gives, or fails where it fails.
func sameAsUnmarshal(t *testing.T, data []byte) {
	t.Helper()
	var want, got Snapshot
	werr := json.NewDecoder(bytes.NewReader(data)).Decode(&want)
	gerr := decodeStream(json.NewDecoder(bytes.NewReader(data)), &got)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("json: %v, streamed: %v", werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		t.Fatalf("streamed decode differs:\n%s\nwant:\n%s", b, a)
	}
}

func TestStreamedDecodeMatchesJSON(t *testing.T) {
	files, _ := filepath.Glob("../testdata/scenarios/*/*.json")
	more, _ := filepath.Glob("../testdata/scenarios/*/*/*.json")
	if len(files) == 0 {
		t.Fatal("no snapshots under testdata/scenarios")
	}
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) { sameAsUnmarshal(t, data) })
	}
}

// FuzzStreamedDecode: on any input the streamed decoder agrees with encoding/json.
func FuzzStreamedDecode(f *testing.F) {
	data, err := os.ReadFile("../testdata/scenarios/nsx-published/snapshot.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	for _, s := range []string{`{"apiVersion":"x","nodes":null,"fabric":null}`, `{"NODES":[{"name":"a","netns":[{"name":"r","links":[{"index":1}]}],"ovs":{"bridges":[]}}]}`,
		`{"nodes":[1]}`, `{"cluster":{"pods":[{"name":1}]}}`, `[]`, `{"nodes":{}}`, `{"apiVersion":"v","x":[1,{"y":2}],"nodes":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsUnmarshal(t, b) })
}
