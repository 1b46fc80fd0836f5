// Package render turns walks, MAC tables and check reports into text: tables, JSON, YAML and
// path pictures (Graphviz dot, Mermaid). Output is deterministic: no times, no map order.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/fatih/color"
	"github.com/mattn/go-runewidth"
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

// table renders rows kubectl-style: no borders, left-aligned, two spaces between columns, no
// trailing spaces. A column is as wide as its widest cell on screen: runes by their display width
// (go-runewidth, East Asian width from the locale as before), ANSI colour codes as nothing.
// (tablewriter did this before; its package initialisation alone allocated 660 KB on every run.)
func table(w io.Writer, header []string, rows [][]string) error {
	// A cell of several lines (wide output's evidence) takes as many lines, the other cells of its
	// row blank beside them.
	var widths []int
	split := func(r []string) [][]string {
		cells := make([][]string, len(r))
		for i, c := range r {
			cells[i] = strings.Split(c, "\n")
			if i == len(widths) {
				widths = append(widths, 0)
			}
			for _, l := range cells[i] {
				widths[i] = max(widths[i], displayWidth(l))
			}
		}
		return cells
	}
	all := [][][]string{split(header)}
	for _, r := range rows {
		all = append(all, split(r))
	}
	var line strings.Builder
	for _, r := range all {
		height := 0
		for _, c := range r {
			height = max(height, len(c))
		}
		for k := range height {
			line.Reset()
			for i, c := range r {
				l := ""
				if k < len(c) {
					l = c[k]
				}
				line.WriteString(l)
				if i < len(r)-1 {
					line.WriteString(strings.Repeat(" ", widths[i]-displayWidth(l)+2))
					if strings.Contains(l, "\x1b[") {
						line.WriteString("\x1b[0m") // as tablewriter closed a coloured cell: colour output stays byte for byte
					}
				}
			}
			if _, err := fmt.Fprintln(w, strings.TrimRight(line.String(), " ")); err != nil {
				return err
			}
		}
	}
	return nil
}

// displayWidth is how many terminal columns s takes: ANSI escape sequences (CSI, OSC) take none.
func displayWidth(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b && i+1 < len(s) {
			i = skipEscape(s, i)
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n += runewidth.RuneWidth(r)
		i += size
	}
	return n
}

// skipEscape returns the index after the escape sequence at s[i] (ESC): CSI ends at its final
// byte (0x40-0x7e), OSC at BEL or ESC \; any other ESC X is two bytes.
func skipEscape(s string, i int) int {
	switch s[i+1] {
	case '[':
		for j := i + 2; j < len(s); j++ {
			if s[j] >= 0x40 && s[j] <= 0x7e {
				return j + 1
			}
		}
		return len(s)
	case ']':
		for j := i + 2; j < len(s); j++ {
			if s[j] == 0x07 {
				return j + 1
			}
			if s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\' {
				return j + 2
			}
		}
		return len(s)
	}
	return i + 2
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
