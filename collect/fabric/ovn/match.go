package ovn

import (
	"regexp"
	"strings"
)

// term is one conjunct of an OVN ACL match: FIELD OP VALUES, or a bare FIELD ("ip4", "tcp").
type term struct {
	field, op string
	values    []string
}

var termRE = regexp.MustCompile(`^([A-Za-z0-9_.\[\]]+)\s*(==|!=|<=|>=|<|>)\s*(.+)$`)

// parseMatch splits an ACL match into the conjuncts the tool understands and the ones it does not
// (a disjunction, a negated group, a field it has no model for): the match holds when all terms
// and all unknown parts hold.
func parseMatch(m string) (terms []term, unknown []string) {
	for _, part := range splitTop(strip(m), "&&") {
		part = strip(part)
		if part == "" {
			continue
		}
		if len(splitTop(part, "||")) > 1 || strings.HasPrefix(part, "!") {
			unknown = append(unknown, part)
			continue
		}
		if t, ok := parseTerm(part); ok {
			terms = append(terms, t)
		} else {
			unknown = append(unknown, part)
		}
	}
	return terms, unknown
}

func parseTerm(s string) (term, bool) {
	if termRE.MatchString(s) {
		g := termRE.FindStringSubmatch(s)
		v := strings.TrimSpace(g[3])
		var vals []string
		if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
			for _, x := range strings.FieldsFunc(v[1:len(v)-1], func(r rune) bool { return r == ',' || r == ' ' }) {
				vals = append(vals, x)
			}
		} else {
			if strings.ContainsAny(v, " ()") && !strings.HasPrefix(v, `"`) {
				return term{}, false
			}
			vals = []string{v}
		}
		for i := range vals {
			vals[i] = strings.Trim(vals[i], `"`)
		}
		return term{field: g[1], op: g[2], values: vals}, true
	}
	if !strings.ContainsAny(s, " =!<>(){}") {
		return term{field: s}, true
	}
	return term{}, false
}

// strip removes parentheses that wrap the whole expression, and spaces.
func strip(s string) string {
	s = strings.TrimSpace(s)
	for len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' && closes(s) == len(s)-1 {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// closes is the index of the parenthesis closing the one at s[0].
func closes(s string) int {
	depth := 0
	inq := false
	for i, r := range s {
		switch {
		case r == '"':
			inq = !inq
		case inq:
		case r == '(':
			depth++
		case r == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTop splits s on op outside parentheses, braces and quotes.
func splitTop(s, op string) []string {
	var out []string
	depth, start := 0, 0
	inq := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inq = !inq
		case inq:
		case c == '(' || c == '{':
			depth++
		case c == ')' || c == '}':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], op):
			out = append(out, s[start:i])
			start = i + len(op)
			i += len(op) - 1
		}
	}
	return append(out, s[start:])
}
