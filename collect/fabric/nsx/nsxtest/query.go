package nsxtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func portMatches(x LogicalPort, q url.Values) bool {
	a := x.Attachment
	if v := q.Get("logical_switch_id"); v != "" && x.LogicalSwitchID != v {
		return false
	}
	if v := q.Get("attachment_id"); v != "" && (a == nil || a.ID != v) {
		return false
	}
	if v := q.Get("attachment_type"); v != "" && (a == nil || a.AttachmentType != v) {
		return false
	}
	if v := q.Get("parent_vif_id"); v != "" && (a == nil || a.Context == nil || a.Context.VifType != "CHILD" || a.Context.ParentVifID != v) {
		return false
	}
	return true
}

func (s *Server) rportMatches(x LogicalRouterPort, q url.Values) bool {
	if v := q.Get("logical_router_id"); v != "" && x.LogicalRouterID != v {
		return false
	}
	if v := q.Get("resource_type"); v != "" && x.ResourceType != v {
		return false
	}
	if v := q.Get("logical_switch_id"); v != "" {
		if x.LinkedLogicalSwitchPortID == nil {
			return false
		}
		i, ok := s.portByID[x.LinkedLogicalSwitchPortID.TargetID]
		if !ok || s.top.LogicalPorts[i].LogicalSwitchID != v {
			return false
		}
	}
	return true
}

func find[T any](xs []T, ok func(T) bool) (T, bool) {
	for _, x := range xs {
		if ok(x) {
			return x, true
		}
	}
	var z T
	return z, false
}

func one[T any](xs []T, ok func(T) bool, nf func(string) (any, int, string), id string) (any, int, string) {
	if x, found := find(xs, ok); found {
		return x, 0, ""
	}
	return nf(id)
}

// page applies the filter and returns one page: the cursor is an opaque offset.
func page[T any](s *Server, q url.Values, xs []T, ok func(T) bool) (any, int, string) {
	var all []T
	for _, x := range xs {
		if ok(x) {
			all = append(all, x)
		}
	}
	return pageOf(s, q, all)
}

func pageOf[T any](s *Server, q url.Values, all []T) (any, int, string) {
	size := s.opts.PageSize
	if v, err := strconv.Atoi(q.Get("page_size")); err == nil && v > 0 && v < size {
		size = v
	}
	off := 0
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(c, "00"))
		if err != nil || n < 0 || n > len(all) {
			return nil, http.StatusBadRequest, "Invalid cursor " + c
		}
		off = n
	}
	end := min(off+size, len(all))
	res := ListResult[T]{Results: all[off:end], ResultCount: len(all)}
	if res.Results == nil {
		res.Results = []T{}
	}
	if end < len(all) {
		res.Cursor = fmt.Sprintf("00%d", end)
	}
	return res, 0, ""
}

// search implements the subset of the full-text search syntax providers use: field:value terms
// joined by AND, values optionally quoted, "\" escaping.
func (s *Server) search(src []doc, q url.Values) (any, int, string) {
	query := q.Get("query")
	if query == "" {
		return nil, http.StatusBadRequest, "query is required"
	}
	clauses, err := ParseQuery(query)
	if err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	var hits []json.RawMessage
	for _, d := range src {
		all := true
		for _, alts := range clauses {
			hit := false
			for _, t := range alts {
				if matchPath(d.tree, strings.Split(t.Field, "."), t.Value) {
					hit = true
					break
				}
			}
			if !hit {
				all = false
				break
			}
		}
		if all {
			hits = append(hits, d.raw)
		}
	}
	res, code, msg := pageOf(s, q, hits)
	if code != 0 {
		return nil, code, msg
	}
	// A search page always carries a cursor, the offset of the next result: on the last page it
	// equals result_count (nsxlib's search_all_* and terraform-provider-nsxt's searchLM stop on
	// result_count, not on a missing cursor).
	sr := res.(ListResult[json.RawMessage])
	sr.Cursor = strconv.Itoa(min(s.searchOffset(q)+len(sr.Results), sr.ResultCount))
	return sr, 0, ""
}

// searchOffset is where a search page starts: its cursor, a plain offset.
func (s *Server) searchOffset(q url.Values) int {
	n, _ := strconv.Atoi(q.Get("cursor"))
	return n
}

// Term is one field:value of a search query, the value unquoted.
type Term struct{ Field, Value string }

// ParseQuery reads the part of the search API's query syntax the tool sends: clauses joined by
// " AND ", each a field:value term or a parenthesized group of terms joined by " OR ". It returns
// the clauses, each as its alternatives.
func ParseQuery(query string) ([][]Term, error) {
	var clauses [][]Term
	for _, part := range strings.Split(query, " AND ") {
		part = strings.TrimSpace(part)
		var alts []string
		if strings.HasPrefix(part, "(") && strings.HasSuffix(part, ")") {
			alts = strings.Split(part[1:len(part)-1], " OR ")
		} else {
			alts = []string{part}
		}
		var terms []Term
		for _, a := range alts {
			f, v, ok := strings.Cut(strings.TrimSpace(a), ":")
			if !ok || f == "" || strings.ContainsAny(f, "() ") {
				return nil, fmt.Errorf("unsupported query term %s", a)
			}
			terms = append(terms, Term{f, strings.ReplaceAll(strings.Trim(v, `"`), `\`, "")})
		}
		clauses = append(clauses, terms)
	}
	return clauses, nil
}

func matchPath(v any, path []string, want string) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if matchPath(e, path, want) {
				return true
			}
		}
		return false
	case map[string]any:
		if len(path) == 0 {
			return false
		}
		return matchPath(x[path[0]], path[1:], want)
	case nil:
		return false
	default:
		return len(path) == 0 && strings.EqualFold(fmt.Sprint(x), want)
	}
}
