package trace

import "fmt"

// Root cause first: a hop can be broken only because another one is. A MAC-table entry is learned
// from the answers that come back; when a hop between the question and the one who answers is
// broken (a VLAN tag mismatch at the logical port, a port down, a tunnel down), no answer comes
// back and the entry is missing as a consequence. The walk marks such a hop broken with
// ConsequenceOf naming the hop that explains it, and the verdict names that hop.

// What an awaiting hop waits for (Hop.awaits): who must answer for its fact to exist.
const (
	awaitsRouter      = "router"      // the gateway router: the first router hop after it
	awaitsDestination = "destination" // the on-link destination: anything after it
)

// explainConsequences marks every hop whose fact awaits an answer that a broken hop after it
// stops: broken, as a consequence of that hop. It runs on the finished walk, before the verdict.
func (wk *walker) explainConsequences() {
	hops := wk.w.Hops
	for i := range hops {
		h := &hops[i]
		if h.awaits == "" || h.ConsequenceOf != 0 {
			continue
		}
		c := causeAfter(hops, i)
		if c == nil {
			continue
		}
		h.Status, h.ConsequenceOf = StatusBroken, c.Index
		h.Detail = consequenceDetail(*h, *c)
	}
}

// causeAfter is the first hop after hops[i], in the same direction and before the one who answers,
// that is broken on its own; nil when none is.
func causeAfter(hops []Hop, i int) *Hop {
	h := hops[i]
	for j := i + 1; j < len(hops); j++ {
		c := &hops[j]
		if c.Direction != h.Direction {
			return nil
		}
		if c.Status == StatusBroken && c.ConsequenceOf == 0 {
			return c
		}
		if h.awaits == awaitsRouter && c.Kind == HopRouter {
			return nil // the router is reached: it answers, whatever lies beyond it
		}
	}
	return nil
}

// consequenceDetail says what is missing and which hop explains it.
func consequenceDetail(h, c Hop) string {
	what := h.awaits + " MAC " + h.MAC
	where := h.Name
	if h.VLAN != nil {
		where += fmt.Sprintf(" VLAN %d", *h.VLAN)
	}
	return fmt.Sprintf("consequence of hop %d: %s not learned on %s (no answer comes back past %s %s)", c.Index, what, where, c.Kind, c.Name)
}

// Consequences lists the hops the root cause (BrokenAt) explains: broken only because it is.
func (w *Walk) Consequences() []Hop {
	var out []Hop
	for _, h := range w.Hops {
		if w.BrokenAt != 0 && h.ConsequenceOf == w.BrokenAt {
			out = append(out, h)
		}
	}
	return out
}
