package cmd_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/cmd"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/ from the command tree")

// TestDocsAreCurrent fails when docs/ is stale: regenerate with `make docs`.
func TestDocsAreCurrent(t *testing.T) {
	dir := filepath.Join("..", "docs")
	if *updateDocs {
		_ = os.RemoveAll(dir)
		if err := cmd.GenerateDocs(dir); err != nil {
			t.Fatal(err)
		}
	}
	files, err := cmd.DocFiles()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/%s is stale or missing: run `make docs`", name)
		}
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if _, ok := files[rel]; !ok && rel != "README.md" && rel != "ARCHITECTURE.md" { // the two written by hand
			t.Errorf("docs/%s documents no command any more: run `make docs`", rel)
		}
		return nil
	})
}
