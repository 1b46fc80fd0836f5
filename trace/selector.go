package trace

import (
	"fmt"
	"strings"
)

// Selector is an equality-based label selector: key=value, key==value, key!=value, key, !key,
// comma-separated (all must hold). An empty selector matches everything.
type Selector struct {
	reqs []selReq
}

type selReq struct {
	key, value string
	op         string // "=", "!=", "exists", "!exists"
}

// ParseSelector parses an equality-based label selector.
func ParseSelector(s string) (Selector, error) {
	var sel Selector
	s = strings.TrimSpace(s)
	if s == "" {
		return sel, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		var r selReq
		switch {
		case strings.Contains(part, "!="):
			kv := strings.SplitN(part, "!=", 2)
			r = selReq{strings.TrimSpace(kv[0]), strings.TrimSpace(kv[1]), "!="}
		case strings.Contains(part, "=="):
			kv := strings.SplitN(part, "==", 2)
			r = selReq{strings.TrimSpace(kv[0]), strings.TrimSpace(kv[1]), "="}
		case strings.Contains(part, "="):
			kv := strings.SplitN(part, "=", 2)
			r = selReq{strings.TrimSpace(kv[0]), strings.TrimSpace(kv[1]), "="}
		case strings.HasPrefix(part, "!"):
			r = selReq{key: strings.TrimSpace(part[1:]), op: "!exists"}
		default:
			r = selReq{key: part, op: "exists"}
		}
		if r.key == "" || strings.ContainsAny(r.key, " ()!=") || strings.ContainsAny(r.value, " ()!=,") {
			return Selector{}, fmt.Errorf("label selector %q: %q is not key=value, key!=value, key or !key", s, part)
		}
		sel.reqs = append(sel.reqs, r)
	}
	return sel, nil
}

// Matches reports whether labels satisfy every requirement.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s.reqs {
		v, ok := labels[r.key]
		switch r.op {
		case "=":
			if !ok || v != r.value {
				return false
			}
		case "!=":
			if ok && v == r.value {
				return false
			}
		case "exists":
			if !ok {
				return false
			}
		case "!exists":
			if ok {
				return false
			}
		}
	}
	return true
}
