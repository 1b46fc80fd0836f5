package render

import (
	"fmt"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// consequenceLine names the hops the root cause explains, for the verdict: "" when none.
func consequenceLine(w *trace.Walk) string {
	var hs []string
	for _, h := range w.Consequences() {
		hs = append(hs, fmt.Sprintf("hop %d (%s %s)", h.Index, h.Kind, h.Name))
	}
	if len(hs) == 0 {
		return ""
	}
	return fmt.Sprintf("root cause: hop %d; broken as its consequence: %s", w.BrokenAt, strings.Join(hs, ", "))
}
