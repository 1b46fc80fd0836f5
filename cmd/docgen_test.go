package cmd_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/packetwalk/kubectl-packetwalk/cmd"
)

// The generator lives in a test file so that cobra/doc (and blackfriday, its Markdown library) is
// not linked into the plugin: their package initialisation was paid by every run.

// generateDocs writes one Markdown page per command and one man page per command under dir
// (dir/*.md and dir/man/*.1), the way `make docs` keeps docs/ current.
func generateDocs(dir string) error {
	files, err := docFiles()
	if err != nil {
		return err
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// docFiles renders the documentation of the command tree, by path relative to docs/.
func docFiles() (map[string][]byte, error) {
	root := cmd.NewRootCmd(cmd.Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	root.DisableAutoGenTag = true
	root.InitDefaultCompletionCmd()
	out := map[string][]byte{}
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if !c.IsAvailableCommand() && c != root {
			return nil
		}
		c.DisableAutoGenTag = true
		base := strings.ReplaceAll(c.CommandPath(), " ", "_")
		var md bytes.Buffer
		if err := doc.GenMarkdownCustom(c, &md, func(s string) string { return s }); err != nil {
			return err
		}
		out[base+".md"] = md.Bytes()
		var man bytes.Buffer
		hdr := &doc.GenManHeader{Title: strings.ToUpper(strings.ReplaceAll(c.CommandPath(), " ", "-")), Section: "1", Source: "kubectl-packetwalk", Manual: "kubectl-packetwalk manual", Date: &docDate}
		if err := doc.GenMan(c, hdr, &man); err != nil {
			return err
		}
		out[filepath.Join("man", strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")] = man.Bytes()
		subs := c.Commands()
		sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
		for _, s := range subs {
			if err := walk(s); err != nil {
				return fmt.Errorf("%s: %w", s.CommandPath(), err)
			}
		}
		return nil
	}
	return out, walk(root)
}

// docDate is fixed so generated man pages do not change with the day they are made.
var docDate = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
