package scale

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
)

// NSXFront sits in front of an nsxtest.Server's handler: it injects the round-trip latency,
// counts requests and bytes, records each request on the timeline, and answers the lookups a
// real NSX Manager serves from its search index (search by address binding, by tag or by
// attachment id, logical ports by attachment_id or parent_vif_id) from an index instead of nsxtest's linear scans, which
// cost 10-120 ms a request over 160,000 ports and would be charged to the tool. The answers are
// the bytes nsxtest gives (TestNSXFrontAnswersLikeNSXTest); everything else, and authentication,
// is nsxtest's.
type NSXFront struct {
	inner   http.Handler
	handler http.Handler // answer, metered
	done    chan struct{}

	ports    []nsxtest.LogicalPort
	raw      [][]byte
	byIP     map[string][]int
	byMAC    map[string][]int
	byTag    map[string][]int
	byAttach map[string][]int
	byParent map[string][]int
	// byAttachLower is byAttach for the search index, which matches case-insensitively.
	byAttachLower map[string][]int
}

// NewNSXFront indexes top and wraps srv: it replaces srv's handler (call it before any request)
// and sets srv's own latency to zero, the front injecting it instead.
func NewNSXFront(srv *nsxtest.Server, top *nsxtest.Topology, latency time.Duration, tl *Timeline) *NSXFront {
	f := &NSXFront{inner: srv.Config.Handler, done: make(chan struct{}), ports: top.LogicalPorts,
		byIP: map[string][]int{}, byMAC: map[string][]int{}, byTag: map[string][]int{}, byAttach: map[string][]int{}, byParent: map[string][]int{}, byAttachLower: map[string][]int{}}
	f.raw = make([][]byte, len(top.LogicalPorts))
	for i, p := range top.LogicalPorts {
		f.raw[i], _ = json.Marshal(p)
		for _, b := range p.AddressBindings {
			f.byIP[strings.ToLower(b.IPAddress)] = appendOnce(f.byIP[strings.ToLower(b.IPAddress)], i)
			f.byMAC[strings.ToLower(b.MACAddress)] = appendOnce(f.byMAC[strings.ToLower(b.MACAddress)], i)
		}
		for _, t := range p.Tags {
			f.byTag[strings.ToLower(t.Tag)] = appendOnce(f.byTag[strings.ToLower(t.Tag)], i)
		}
		if a := p.Attachment; a != nil {
			f.byAttach[a.ID] = append(f.byAttach[a.ID], i)
			f.byAttachLower[strings.ToLower(a.ID)] = append(f.byAttachLower[strings.ToLower(a.ID)], i)
			if a.Context != nil && a.Context.VifType == "CHILD" {
				f.byParent[a.Context.ParentVifID] = append(f.byParent[a.Context.ParentVifID], i)
			}
		}
	}
	f.handler = metered("nsx", latency, f.done, tl, http.HandlerFunc(f.answer))
	srv.SetLatency(0)
	srv.Config.Handler = f
	return f
}

func appendOnce(xs []int, i int) []int {
	if len(xs) > 0 && xs[len(xs)-1] == i {
		return xs
	}
	return append(xs, i)
}

// Close cuts short the answers held back by latency.
func (f *NSXFront) Close() { close(f.done) }

// ServeHTTP injects the latency, then answers from the index or passes the request on.
func (f *NSXFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.handler.ServeHTTP(w, r)
}

// answer answers from the index, or passes the request on.
func (f *NSXFront) answer(w http.ResponseWriter, r *http.Request) {
	if body, ok := f.indexed(r); ok && f.authorized(r, w) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	} else if !ok {
		f.inner.ServeHTTP(w, r)
	}
}

// authorized asks nsxtest whether the request's credentials hold (through a GET of an object that
// does not exist: 404 means authorized); when they do not, nsxtest's refusal is the answer.
func (f *NSXFront) authorized(r *http.Request, w http.ResponseWriter) bool {
	probe := r.Clone(r.Context())
	probe.URL.Path, probe.URL.RawQuery, probe.RequestURI = "/api/v1/logical-routers/scale-auth-probe", "", ""
	rec := httptest.NewRecorder()
	f.inner.ServeHTTP(rec, probe)
	if rec.Code == http.StatusNotFound {
		return true
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	return false
}

// indexed answers the lookups a manager indexes; false passes the request to nsxtest.
func (f *NSXFront) indexed(r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodGet {
		return nil, false
	}
	q := r.URL.Query()
	for k := range q {
		if k != "page_size" && k != "query" && k != "attachment_id" && k != "parent_vif_id" {
			return nil, false // cursors and other filters: nsxtest's
		}
	}
	var hits []int
	switch {
	case r.URL.Path == "/api/v1/search/query" && q.Has("query") && len(q) <= 2:
		var ok bool
		if hits, ok = f.search(q.Get("query")); !ok {
			return nil, false
		}
	case r.URL.Path == "/api/v1/logical-ports" && q.Has("attachment_id") && !q.Has("parent_vif_id") && !q.Has("query"):
		hits = f.byAttach[q.Get("attachment_id")]
	case r.URL.Path == "/api/v1/logical-ports" && q.Has("parent_vif_id") && !q.Has("attachment_id") && !q.Has("query"):
		hits = f.byParent[q.Get("parent_vif_id")]
	default:
		return nil, false
	}
	size := 1000
	if v, err := strconv.Atoi(q.Get("page_size")); err == nil && v > 0 && v < size {
		size = v
	}
	if len(hits) > size {
		return nil, false
	}
	results := make([]json.RawMessage, len(hits))
	for i, h := range hits {
		results[i] = f.raw[h]
	}
	lr := nsxtest.ListResult[json.RawMessage]{Results: results, ResultCount: len(hits)}
	if r.URL.Path == "/api/v1/search/query" {
		lr.Cursor = strconv.Itoa(len(hits)) // a search's last page carries a cursor: its result_count
	}
	b, _ := json.Marshal(lr)
	return b, true
}

// search answers "resource_type:LogicalPort AND" one address binding, or a tag scope and a tag
// (or a group of tags, any of which).
func (f *NSXFront) search(query string) ([]int, bool) {
	clauses, err := nsxtest.ParseQuery(query)
	if err != nil {
		return nil, false
	}
	terms := map[string][]string{}
	for _, alts := range clauses {
		if len(alts) > 1 && alts[0].Field != "tags.tag" && alts[0].Field != "attachment.id" {
			return nil, false
		}
		for _, t := range alts {
			if t.Field != alts[0].Field {
				return nil, false
			}
			terms[t.Field] = append(terms[t.Field], strings.ToLower(t.Value))
		}
	}
	if len(terms["resource_type"]) != 1 || !strings.EqualFold(terms["resource_type"][0], "LogicalPort") {
		return nil, false
	}
	delete(terms, "resource_type")
	one := func(k string) string {
		if len(terms[k]) != 1 {
			return ""
		}
		return terms[k][0]
	}
	switch {
	case len(terms) == 1 && len(terms["attachment.id"]) > 0:
		var out []int
		for _, a := range terms["attachment.id"] {
			for _, i := range f.byAttachLower[a] {
				if !slices.Contains(out, i) {
					out = append(out, i)
				}
			}
		}
		sort.Ints(out)
		return out, true
	case len(terms) == 1 && one("address_bindings.ip_address") != "":
		return f.byIP[one("address_bindings.ip_address")], true
	case len(terms) == 1 && one("address_bindings.mac_address") != "":
		return f.byMAC[one("address_bindings.mac_address")], true
	case len(terms) == 2 && one("tags.scope") != "" && len(terms["tags.tag"]) > 0:
		var out []int
		seen := map[int]bool{}
		for _, tag := range terms["tags.tag"] {
			for _, i := range f.byTag[tag] {
				if seen[i] {
					continue
				}
				for _, t := range f.ports[i].Tags {
					if strings.EqualFold(t.Scope, one("tags.scope")) {
						out = append(out, i)
						seen[i] = true
						break
					}
				}
			}
		}
		sort.Ints(out)
		return out, true
	}
	return nil, false
}
