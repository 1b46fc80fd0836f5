package cmd

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// useColor decides colour once: --color always|never wins; auto means stdout is a terminal,
// NO_COLOR is unset and TERM is not dumb.
func useColor(mode string, out io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
	default:
		return false, usageErr("--color must be auto, always or never, got %q", mode)
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false, nil
	}
	if os.Getenv("TERM") == "dumb" {
		return false, nil
	}
	f, ok := out.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())), nil
}
