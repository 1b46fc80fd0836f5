package render

import (
	"bytes"
	"testing"
)

// TestTableAligns: columns as wide as their widest cell on screen, two spaces apart, no trailing
// spaces; colour codes take no room; a wide rune takes two; a cell of several lines takes as many.
func TestTableAligns(t *testing.T) {
	red := "\x1b[31mbad\x1b[0m"
	var b bytes.Buffer
	err := table(&b, []string{"A", "B", "C"}, [][]string{
		{"x", red, "end"},
		{"界界", "ok", ""},
		{"long cell", "one\ntwo lines", "z"},
		{"short"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "A          B          C\n" +
		"x          " + red + "        \x1b[0mend\n" +
		"界界       ok\n" +
		"long cell  one        z\n" +
		"           two lines\n" +
		"short\n"
	if got := b.String(); got != want {
		t.Errorf("table:\n%q\nwant\n%q", got, want)
	}
}
