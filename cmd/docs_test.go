package cmd_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/ from the command tree")

// TestDocsAreCurrent fails when docs/ is stale: regenerate with `make docs`.
func TestDocsAreCurrent(t *testing.T) {
	dir := filepath.Join("..", "docs")
	if *updateDocs {
		removeGeneratedDocs(t, dir)
		if err := generateDocs(dir); err != nil {
			t.Fatal(err)
		}
	}
	files, err := docFiles()
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
		if _, ok := files[rel]; !ok && !handWritten[rel] {
			t.Errorf("docs/%s documents no command any more: run `make docs`", rel)
		}
		return nil
	})
}

// handWritten are the files in docs/ that no command generates; `make docs` keeps them.
var handWritten = map[string]bool{"README.md": true, "ARCHITECTURE.md": true}

// removeGeneratedDocs deletes every file under dir but the hand-written ones, so a regeneration
// drops the pages of commands that are gone without losing docs/ARCHITECTURE.md.
func removeGeneratedDocs(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if handWritten[rel] {
			return nil
		}
		return os.Remove(p)
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}
