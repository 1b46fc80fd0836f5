package scenario

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/scenarios from the scenario code")

// TestFilesUpToDate keeps the committed snapshot files equal to what the code builds.
func TestFilesUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "scenarios")
	if *update {
		if err := WriteFiles(dir); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		t.Run(name, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatalf("%v (run `make update-golden`)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("testdata/scenarios/%s is stale: run `make update-golden`", name)
			}
		})
	}
}
