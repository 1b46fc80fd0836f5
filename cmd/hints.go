package cmd

import (
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// hintWords is what the user runs to collect the facts a trace.Hint says were missing.
func hintWords(h trace.Hint) string {
	switch h {
	case trace.HintFabricFacts:
		return "collect them with --fabric nsx|ovn"
	case trace.HintNodeFacts:
		return "collect them with collect node, --node-exec or a snapshot"
	}
	return ""
}

// choiceWords is how the command says a Service hop's endpoint choice: the flag that names the
// endpoint for a choice the request made, the engine's own word otherwise.
func choiceWords(c trace.Choice) trace.Choice {
	if c == trace.ChosenByRequest {
		return trace.Choice(traceWords.Endpoint)
	}
	return c
}

// wordHints adds to each hinted hop, and to the reason that quotes it, the flags that collect
// the missing facts, and words each service hop's endpoint choice; it returns the reasons it
// rewrote (old to new).
func wordHints(w *trace.Walk) map[string]string {
	changed := map[string]string{}
	if w.Service != nil {
		// A Service walk's endpoint walks carry their own hops; its reason may quote one of them.
		for i := range w.Service.Walks {
			for was, now := range wordHints(&w.Service.Walks[i].Walk) {
				changed[was] = now
				if !strings.Contains(w.Reason, now) {
					w.Reason = strings.Replace(w.Reason, was, now, 1)
				}
			}
		}
	}
	for i := range w.Hops {
		h := &w.Hops[i]
		if h.Service != nil {
			h.Service.ChosenBy = choiceWords(h.Service.ChosenBy)
		}
		words := hintWords(h.Hint)
		if words == "" || h.Detail == "" {
			continue
		}
		was := h.Detail
		h.Detail += " (" + words + ")"
		changed[was] = h.Detail
		if w.Reason == was {
			w.Reason = h.Detail
		}
	}
	return changed
}

// wordReportHints is wordHints over every walk of a check report, its reasons and messages included.
func wordReportHints(rep *trace.CheckReport) {
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Walk == nil {
			continue
		}
		for was, now := range wordHints(r.Walk) {
			if r.Reason == was {
				r.Reason = now
			}
			r.Message = strings.Replace(r.Message, was, now, 1)
		}
	}
}
