// Package render turns walks, MAC tables and check reports into text: tables, JSON, YAML and
// path pictures (Graphviz dot, Mermaid). Output is deterministic: no times, no map order.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"sigs.k8s.io/yaml"
)

// Format is an output format; it satisfies pflag.Value so a bad -o fails while flags are parsed.
type Format string

// The output formats.
const (
	Table   Format = "table"
	Wide    Format = "wide"
	JSON    Format = "json"
	YAML    Format = "yaml"
	Dot     Format = "dot"
	Mermaid Format = "mermaid"
)

// WalkFormats are the formats of `trace`; ListFormats those of `macs` and `check`.
var (
	WalkFormats = []Format{Table, Wide, JSON, YAML, Dot, Mermaid}
	ListFormats = []Format{Table, Wide, JSON, YAML}
)

// FormatValue is a Format restricted to a set of allowed values, usable as a pflag.Value.
type FormatValue struct {
	F       *Format
	Allowed []Format
}

// String returns the current format.
func (v FormatValue) String() string { return string(*v.F) }

// Set validates and sets the format.
func (v FormatValue) Set(s string) error {
	for _, f := range v.Allowed {
		if string(f) == s {
			*v.F = f
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", v.Names())
}

// Type names the flag's value type in --help.
func (v FormatValue) Type() string { return "format" }

// Names lists the allowed formats as a|b|c.
func (v FormatValue) Names() string {
	s := make([]string, len(v.Allowed))
	for i, f := range v.Allowed {
		s[i] = string(f)
	}
	return strings.Join(s, "|")
}

// Options control rendering.
type Options struct {
	// Color turns on ANSI colour; cmd decides it once from --color and NO_COLOR.
	Color bool
}

// painter colours text when enabled, never touching the global fatih/color switch.
type painter struct{ on bool }

func (p painter) paint(s string, attrs ...color.Attribute) string {
	if !p.on || s == "" {
		return s
	}
	c := color.New(attrs...)
	c.EnableColor()
	return c.Sprint(s)
}

func (p painter) status(s string) string {
	switch s {
	case "ok", "reachable", "pass", "router":
		return p.paint(s, color.FgGreen)
	case "broken", "fail":
		return p.paint(s, color.FgRed, color.Bold)
	case "unknown", "error":
		return p.paint(s, color.FgYellow)
	}
	return s
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeYAML writes v as YAML from the same JSON tags.
func writeYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// table renders rows kubectl-style: no borders, left-aligned, two spaces between columns.
func table(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "  ", Overwrite: true}),
		tablewriter.WithTrimSpace(tw.Off),
	)
	t.Header(header)
	if err := t.Bulk(rows); err != nil {
		return err
	}
	if err := t.Render(); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " ")); err != nil {
			return err
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteAny writes v as JSON or YAML.
func WriteAny(w io.Writer, v any, f Format) error {
	if f == YAML {
		return writeYAML(w, v)
	}
	return writeJSON(w, v)
}
