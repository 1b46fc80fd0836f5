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

// roundTrip: want survives WriteSnapshot + ReadSnapshot, and the streamed decoder reads what
// encoding/json reads. It checks only the fields want sets, so every field of the given types
// must be set in one of their values in want (a field added later is added to the test too).
func roundTrip(t *testing.T, want *Snapshot, types ...any) {
	t.Helper()
	everyFieldSet(t, want, types...)
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, want); err != nil {
		t.Fatal(err)
	}
	sameAsUnmarshal(t, buf.Bytes())
	got, err := ReadSnapshot(&buf, "x")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		a, _ := json.Marshal(got)
		t.Fatalf("round trip differs:\n%s", a)
	}
}

// everyFieldSet fails for each field of one of types that no value of its type reached from v sets
// (a type not reached at all has none set).
func everyFieldSet(t *testing.T, v any, types ...any) {
	t.Helper()
	set := map[reflect.Type]map[string]bool{}
	for _, x := range types {
		set[reflect.TypeOf(x)] = map[string]bool{}
	}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value())
			}
		case reflect.Struct:
			fields := set[v.Type()]
			for i := 0; i < v.NumField(); i++ {
				if fields != nil && !v.Field(i).IsZero() {
					fields[v.Type().Field(i).Name] = true
				}
				walk(v.Field(i))
			}
		}
	}
	walk(reflect.ValueOf(v))
	for _, x := range types {
		ty := reflect.TypeOf(x)
		for i := 0; i < ty.NumField(); i++ {
			if !set[ty][ty.Field(i).Name] {
				t.Errorf("%s.%s is set nowhere: the round trip does not check it", ty.Name(), ty.Field(i).Name)
			}
		}
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
