package nsxtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what the server does instead of (or before) answering a request.
type Fault struct {
	// Status answers with this HTTP status and an NSX error body.
	Status int
	// RetryAfter is sent as the Retry-After header (seconds or an HTTP date).
	RetryAfter string
	// Truncate cuts the JSON body in half.
	Truncate bool
	// ContentType replaces application/json (a proxy's HTML page, for instance).
	ContentType string
	// Delay holds the answer back (the request's context ends it early).
	Delay time.Duration
	// ErrorCode is the error body's error_code with Status (default 100); the search API's
	// transient refusals are 400 with 60508 (indexing in progress), 60514 (search timeout) or
	// 60515 (index out of sync): openstack/vmware-nsxlib v3/client.py retries the first two.
	ErrorCode int
	// Related are the error body's related_errors.
	Related []RelatedAPIError
}

// Search API error codes a manager answers while its index is not ready.
const (
	ErrIndexingInProgress = 60508
	ErrSearchTimeout      = 60514
	ErrIndexOutOfSync     = 60515
)

type faultRule struct {
	prefix string
	left   int
	f      Fault
}

// Options configures a Server.
type Options struct {
	User, Password string
	// PageSize is the largest page the server returns (NSX's default and maximum is 1000).
	PageSize int
	// Latency is added to every request.
	Latency time.Duration
	// NoSearch makes /api/v1/search/query and /policy/api/v1/search/query answer 404, as old managers do.
	NoSearch bool
}

// Server is a running NSX Manager API test server (TLS, loopback only).
type Server struct {
	*httptest.Server
	top  *Topology
	opts Options

	mu       sync.Mutex
	faults   []*faultRule
	sessions map[string]string // JSESSIONID -> XSRF token
	byPath   map[string]int
	latency  time.Duration

	requests, bytes, writes, logins, rejected atomic.Int64

	portDocs []doc
	segDocs  []doc
	done     chan struct{}
	// indexes of the topology, so a GET by id costs what it costs a manager, not a scan
	portByID    map[string]int
	segByPath   map[string]int
	vifByAttach map[string][]int
	vifByOwner  map[string][]int
}

// Close stops the server, cutting short answers held back by latency or Delay faults.
func (s *Server) Close() {
	close(s.done)
	s.Server.Close()
}

type doc struct {
	raw  json.RawMessage
	tree any
}

// New starts a server for the topology.
func New(top *Topology, o Options) *Server {
	if o.PageSize <= 0 || o.PageSize > 1000 {
		o.PageSize = 1000
	}
	if o.User == "" {
		o.User = "admin"
	}
	s := &Server{top: top, opts: o, sessions: map[string]string{}, byPath: map[string]int{}, latency: o.Latency, done: make(chan struct{})}
	s.portDocs = append(docs(top.LogicalPorts), serviceDocs(top, false)...)
	s.segDocs = append(docs(top.SegmentPorts), serviceDocs(top, true)...)
	s.portByID, s.segByPath = map[string]int{}, map[string]int{}
	s.vifByAttach, s.vifByOwner = map[string][]int{}, map[string][]int{}
	for i, p := range top.LogicalPorts {
		s.portByID[p.ID] = i
	}
	for i, p := range top.SegmentPorts {
		s.segByPath[p.Path] = i
	}
	for i, v := range top.VIFs {
		s.vifByAttach[v.LportAttachmentID] = append(s.vifByAttach[v.LportAttachmentID], i)
		s.vifByOwner[v.OwnerVMID] = append(s.vifByOwner[v.OwnerVMID], i)
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

func docs[T any](xs []T) []doc {
	out := make([]doc, len(xs))
	for i, x := range xs {
		b, _ := json.Marshal(x)
		var tree any
		_ = json.Unmarshal(b, &tree)
		out[i] = doc{raw: b, tree: tree}
	}
	return out
}

// CertPEM returns the server's certificate in PEM, for a --nsx-ca-file.
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// Inject makes the next times requests whose path starts with prefix fail with f. A prefix
// "PATH?QUERY" also needs the request's query to contain QUERY (say, one filter of a list).
func (s *Server) Inject(prefix string, times int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRule{prefix: prefix, left: times, f: f})
}

// SetLatency changes the latency added to every request.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ExpireSessions forgets every session, as a manager does when its session timeout passes.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]string{}
}

// RotateXSRF gives every session a new XSRF token its client does not know: the next request
// with the old token is refused with 403.
func (s *Server) RotateXSRF() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.sessions {
		s.sessions[k] = token()
	}
}

// Requests is the number of requests served (logins included).
func (s *Server) Requests() int { return int(s.requests.Load()) }

// Bytes is the number of response body bytes written.
func (s *Server) Bytes() int64 { return s.bytes.Load() }

// Writes is the number of requests other than GET and the session login: a read-only client sends none.
func (s *Server) Writes() int { return int(s.writes.Load()) }

// Logins is the number of POST /api/session/create requests.
func (s *Server) Logins() int { return int(s.logins.Load()) }

// Rejected is the number of requests refused for authentication or XSRF.
func (s *Server) Rejected() int { return int(s.rejected.Load()) }

// RequestsByPath returns the count of requests per URL path (query excluded).
func (s *Server) RequestsByPath() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.byPath))
	for k, v := range s.byPath {
		out[k] = v
	}
	return out
}

// ResetCounters zeroes the request, byte and per-path counters.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	s.byPath = map[string]int{}
	s.mu.Unlock()
	s.requests.Store(0)
	s.bytes.Store(0)
	s.writes.Store(0)
	s.logins.Store(0)
	s.rejected.Store(0)
}

// serve answers one request the way a manager does: after any latency and injected fault, a
// login, a refusal of writes and of bad credentials, or the routed GET's JSON.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	lat, fault := s.takeFault(r)
	if !s.wait(r, lat) {
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/api/session/create" {
		if fault != nil && fault.Status != 0 {
			if fault.RetryAfter != "" {
				w.Header().Set("Retry-After", fault.RetryAfter)
			}
			s.logins.Add(1)
			s.fail(w, fault.Status, 100, http.StatusText(fault.Status))
			return
		}
		s.login(w, r)
		return
	}
	if r.Method != http.MethodGet {
		s.writes.Add(1)
		s.fail(w, http.StatusMethodNotAllowed, 99, "the test server is read-only")
		return
	}
	if code, msg := s.authorize(r); code != 0 {
		s.rejected.Add(1)
		s.fail(w, code, 98, msg)
		return
	}
	if fault != nil && fault.Status != 0 {
		s.failFault(w, fault)
		return
	}
	body, code, msg := s.route(r)
	if eb, ok := body.(ErrorBody); ok {
		s.failWith(w, code, eb)
		return
	}
	if code != 0 {
		s.fail(w, code, 202, msg)
		return
	}
	s.write(w, body, fault)
}

// takeFault counts the request and takes the first armed fault matching it, if any; it returns
// the latency to add before answering.
func (s *Server) takeFault(r *http.Request) (time.Duration, *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byPath[r.URL.Path]++
	lat := s.latency
	var fault *Fault
	for _, fr := range s.faults {
		path, query, _ := strings.Cut(fr.prefix, "?")
		if fr.left > 0 && strings.HasPrefix(r.URL.Path, path) && strings.Contains(r.URL.RawQuery, query) {
			fr.left--
			f := fr.f
			fault = &f
			break
		}
	}
	if fault != nil && fault.Delay > 0 {
		lat += fault.Delay
	}
	return lat, fault
}

// wait sleeps lat; false when the client gave up or the server closed meanwhile.
func (s *Server) wait(r *http.Request, lat time.Duration) bool {
	if lat <= 0 {
		return true
	}
	select {
	case <-time.After(lat):
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

// failFault answers with the injected fault's status and the error body NSX gives for its code.
func (s *Server) failFault(w http.ResponseWriter, fault *Fault) {
	if fault.RetryAfter != "" {
		w.Header().Set("Retry-After", fault.RetryAfter)
	}
	code, msg := fault.ErrorCode, http.StatusText(fault.Status)
	switch code {
	case 0:
		code = 100
	case ErrIndexingInProgress:
		msg = "Indexing is in progress. Please try again later."
	case ErrSearchTimeout:
		msg = "Search request timed out. Please try again."
	case ErrIndexOutOfSync:
		msg = "Search index is out of sync. Please try again later."
	}
	s.failWith(w, fault.Status, ErrorBody{ErrorCode: code, ErrorMessage: msg, ModuleName: "common-services", RelatedErrors: fault.Related})
}

// write answers with body as JSON, or as the fault's wrong content type or truncated body.
func (s *Server) write(w http.ResponseWriter, body any, fault *Fault) {
	b, _ := json.Marshal(body)
	ct := "application/json"
	if fault != nil && fault.ContentType != "" {
		ct = fault.ContentType
		b = []byte("<html><body>Service Unavailable</body></html>")
	}
	if fault != nil && fault.Truncate {
		b = b[:len(b)/2]
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	n, _ := w.Write(b)
	s.bytes.Add(int64(n))
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	s.logins.Add(1)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("j_username") != s.opts.User || r.PostForm.Get("j_password") != s.opts.Password {
		s.rejected.Add(1)
		s.fail(w, http.StatusForbidden, 403, "Not authorized to perform this operation.")
		return
	}
	id, xsrf := token(), token()
	s.mu.Lock()
	s.sessions[id] = xsrf
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: id, Path: "/", Secure: true, HttpOnly: true})
	w.Header().Set("X-XSRF-TOKEN", xsrf)
	w.WriteHeader(http.StatusOK)
}

func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// authorize accepts basic auth or a live session whose X-XSRF-TOKEN matches.
func (s *Server) authorize(r *http.Request) (int, string) {
	if u, p, ok := r.BasicAuth(); ok {
		if u == s.opts.User && p == s.opts.Password {
			return 0, ""
		}
		return http.StatusForbidden, "The username/password combination is incorrect or the account specified has been locked."
	}
	c, err := r.Cookie("JSESSIONID")
	if err != nil {
		return http.StatusUnauthorized, "The credentials were incorrect or the account specified has been locked."
	}
	s.mu.Lock()
	xsrf, ok := s.sessions[c.Value]
	s.mu.Unlock()
	if !ok {
		return http.StatusUnauthorized, "The session has expired."
	}
	if r.Header.Get("X-XSRF-TOKEN") != xsrf {
		return http.StatusForbidden, "Bad XSRF token"
	}
	return 0, ""
}

func (s *Server) fail(w http.ResponseWriter, code, errCode int, msg string) {
	s.failWith(w, code, ErrorBody{ErrorCode: errCode, ErrorMessage: msg, ModuleName: "common-services"})
}

func (s *Server) failWith(w http.ResponseWriter, code int, eb ErrorBody) {
	eb.HTTPStatus = strings.ToUpper(strings.ReplaceAll(http.StatusText(code), " ", "_"))
	b, _ := json.Marshal(eb)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	n, _ := w.Write(b)
	s.bytes.Add(int64(n))
}

// route answers a GET: the body, or an HTTP status and message.
func (s *Server) route(r *http.Request) (any, int, string) {
	q := r.URL.Query()
	p := strings.TrimSuffix(r.URL.Path, "/")
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for _, rt := range []func(string, []string, url.Values) (any, int, string, bool){s.routeServices, s.routeManager, s.routePolicy, s.routeTransport, s.routeFirewall} {
		if body, code, msg, ok := rt(p, seg, q); ok {
			return body, code, msg
		}
	}
	return s.notFound(p)
}

// handled marks a route's answer as given.
func handled(body any, code int, msg string) (any, int, string, bool) { return body, code, msg, true }

// routeManager answers search and the MP API's switching and routing GETs; ok false: not one of them.
func (s *Server) routeManager(p string, seg []string, q url.Values) (body any, code int, msg string, ok bool) {
	t := s.top
	switch {
	case p == "/api/v1/search/query" || p == "/policy/api/v1/search/query":
		if s.opts.NoSearch {
			return handled(s.notFound(p))
		}
		src := s.portDocs
		if strings.HasPrefix(p, "/policy") {
			src = s.segDocs
		}
		return handled(s.search(src, q))
	case p == "/api/v1/logical-switches":
		return handled(pageOf(s, q, t.LogicalSwitches))
	case len(seg) == 4 && seg[2] == "logical-switches":
		return handled(one(t.LogicalSwitches, func(x LogicalSwitch) bool { return x.ID == seg[3] }, s.notFound, seg[3]))
	case p == "/api/v1/logical-ports":
		return handled(page(s, q, t.LogicalPorts, func(x LogicalPort) bool { return portMatches(x, q) }))
	case len(seg) == 4 && seg[2] == "logical-ports":
		if i, ok := s.portByID[seg[3]]; ok {
			return handled(t.LogicalPorts[i], 0, "")
		}
		return handled(s.notFound(seg[3]))
	case len(seg) == 5 && seg[2] == "logical-ports" && seg[4] == "state":
		i, ok := s.portByID[seg[3]]
		if !ok {
			return handled(s.notFound(seg[3]))
		}
		return handled(s.portState(t.LogicalPorts[i].ID, t.LogicalPorts[i].AddressBindings, nil), 0, "")
	case p == "/api/v1/fabric/vifs":
		return handled(s.vifs(q))
	case p == "/api/v1/edge-clusters":
		return handled(pageOf(s, q, t.EdgeClusters))
	case len(seg) == 4 && seg[2] == "edge-clusters":
		return handled(one(t.EdgeClusters, func(x EdgeCluster) bool { return x.ID == seg[3] }, s.notFound, seg[3]))
	case p == "/api/v1/logical-routers":
		return handled(page(s, q, t.LogicalRouters, func(x LogicalRouter) bool { return q.Get("router_type") == "" || x.RouterType == q.Get("router_type") }))
	case len(seg) == 4 && seg[2] == "logical-routers":
		return handled(one(t.LogicalRouters, func(x LogicalRouter) bool { return x.ID == seg[3] }, s.notFound, seg[3]))
	case p == "/api/v1/logical-router-ports":
		return handled(page(s, q, t.LogicalRouterPorts, func(x LogicalRouterPort) bool { return s.rportMatches(x, q) }))
	case len(seg) == 4 && seg[2] == "logical-router-ports":
		return handled(one(t.LogicalRouterPorts, func(x LogicalRouterPort) bool { return x.ID == seg[3] }, s.notFound, seg[3]))
	case len(seg) == 6 && seg[2] == "logical-routers" && seg[4] == "routing":
		if _, ok := find(t.LogicalRouters, func(x LogicalRouter) bool { return x.ID == seg[3] }); !ok {
			return handled(s.notFound(seg[3]))
		}
		switch seg[5] {
		case "static-routes":
			return handled(pageOf(s, q, t.StaticRoutes[seg[3]]))
		case "advertisement":
			a, ok := t.Advertisement[seg[3]]
			if !ok {
				return handled(s.notFound("advertisement of " + seg[3]))
			}
			return handled(a, 0, "")
		case "route-table":
			return handled(s.routeTable(seg[3], q))
		}
	}
	return nil, 0, "", false
}

// routePolicy answers the Policy API's segment and tier-0/tier-1 GETs; ok false: not one of them.
func (s *Server) routePolicy(p string, seg []string, q url.Values) (body any, code int, msg string, ok bool) {
	t := s.top
	switch {
	case p == "/policy/api/v1/infra/segments":
		return handled(pageOf(s, q, t.Segments))
	case len(seg) == 6 && seg[4] == "segments":
		return handled(one(t.Segments, func(x Segment) bool { return x.ID == seg[5] }, s.notFound, seg[5]))
	case len(seg) == 7 && seg[4] == "segments" && seg[6] == "ports":
		parent := "/infra/segments/" + seg[5]
		return handled(page(s, q, t.SegmentPorts, func(x SegmentPort) bool { return x.ParentPath == parent }))
	case len(seg) == 8 && seg[4] == "segments" && seg[6] == "ports":
		path := "/infra/segments/" + seg[5] + "/ports/" + seg[7]
		if i, ok := s.segByPath[path]; ok {
			return handled(t.SegmentPorts[i], 0, "")
		}
		return handled(s.notFound(path))
	case len(seg) == 9 && seg[4] == "segments" && seg[6] == "ports" && seg[8] == "state":
		path := "/infra/segments/" + seg[5] + "/ports/" + seg[7]
		i, ok := s.segByPath[path]
		if !ok {
			return handled(s.notFound(path))
		}
		var bs []PacketAddressClassifier
		for _, b := range t.SegmentPorts[i].AddressBindings {
			bs = append(bs, PacketAddressClassifier{IPAddress: b.IPAddress, MACAddress: b.MACAddress, VLAN: b.VLANID})
		}
		st := s.portState(seg[7], nil, bs)
		st.ID = "" // SegmentPortState has no id
		return handled(st, 0, "")
	case p == "/policy/api/v1/infra/tier-0s":
		return handled(pageOf(s, q, t.Tier0s))
	case p == "/policy/api/v1/infra/tier-1s":
		return handled(pageOf(s, q, t.Tier1s))
	case len(seg) == 6 && seg[4] == "tier-0s":
		return handled(one(t.Tier0s, func(x Tier0) bool { return x.ID == seg[5] }, s.notFound, seg[5]))
	case len(seg) == 6 && seg[4] == "tier-1s":
		return handled(one(t.Tier1s, func(x Tier1) bool { return x.ID == seg[5] }, s.notFound, seg[5]))
	case len(seg) == 7 && (seg[4] == "tier-0s" || seg[4] == "tier-1s") && seg[6] == "static-routes":
		parent := "/infra/" + seg[4] + "/" + seg[5]
		return handled(page(s, q, t.PolicyRoutes, func(x StaticRoutes) bool { return x.ParentPath == parent }))
	case len(seg) == 7 && seg[4] == "tier-0s" && seg[6] == "locale-services":
		parent := "/infra/tier-0s/" + seg[5]
		return handled(page(s, q, t.LocaleServices, func(x LocaleServices) bool { return x.ParentPath == parent }))
	case len(seg) == 8 && seg[4] == "tier-0s" && seg[6] == "locale-services":
		path := "/infra/tier-0s/" + seg[5] + "/locale-services/" + seg[7]
		return handled(one(t.LocaleServices, func(x LocaleServices) bool { return x.Path == path }, s.notFound, path))
	case len(seg) == 9 && seg[4] == "tier-0s" && seg[6] == "locale-services" && seg[8] == "interfaces":
		parent := "/infra/tier-0s/" + seg[5] + "/locale-services/" + seg[7]
		return handled(page(s, q, t.Tier0Uplinks, func(x Tier0Interface) bool { return x.ParentPath == parent }))
	case p == "/policy/api/v1/infra/realized-state/realized-entities":
		ip := q.Get("intent_path")
		id, ok := t.RealizedRouter[ip]
		if !ok {
			return handled(s.notFound(ip))
		}
		return handled(pageOf(s, q, []RealizedEntity{{ResourceType: "GenericPolicyRealizedResource", ID: "realized-" + id, EntityType: "RealizedLogicalRouter",
			IntentPaths: []string{ip}, RealizationSpecificIdentifier: id, State: "REALIZED"}}))
	}
	return nil, 0, "", false
}

// portState is a port's state: the learned bindings of a VM NIC (PortStates), else its configured
// bindings as realized ones (a CHILD port's, which NCP configures).
func (s *Server) portState(id string, mp []PacketAddressClassifier, policy []PacketAddressClassifier) LogicalPortState {
	if st, ok := s.top.PortStates[id]; ok {
		return st
	}
	st := LogicalPortState{ID: id}
	if s.top.Transport != nil {
		// A port is realized on a transport node the manager serves (transport.go).
		st.TransportNodeIDs = s.hostOfPort(id)
	}
	for _, b := range append(mp, policy...) {
		st.RealizedBindings = append(st.RealizedBindings, AddressBindingEntry{Binding: b, Source: "USER_DEFINED"})
	}
	return st
}

// vifs is GET /api/v1/fabric/vifs with its lport_attachment_id and owner_vm_id filters.
func (s *Server) vifs(q url.Values) (any, int, string) {
	idx := make([]int, len(s.top.VIFs))
	for i := range idx {
		idx[i] = i
	}
	if v := q.Get("lport_attachment_id"); v != "" {
		idx = s.vifByAttach[v]
	} else if v := q.Get("owner_vm_id"); v != "" {
		idx = s.vifByOwner[v]
	}
	var out []VirtualNetworkInterface
	for _, i := range idx {
		v := s.top.VIFs[i]
		if o := q.Get("owner_vm_id"); o != "" && v.OwnerVMID != o {
			continue
		}
		if h := q.Get("host_id"); h != "" && v.HostID != h {
			continue
		}
		out = append(out, v)
	}
	return pageOf(s, q, out)
}

// routeTable answers GET .../routing/route-table the way the API reference describes it: the
// query parameter transport_node_id is required (a 400 whose related_errors say so), and it must
// be an edge node of the router's edge cluster; a router without one has no table to read. The
// wording of the refusal is ours: no captured body was at hand.
func (s *Server) routeTable(id string, q url.Values) (any, int, string) {
	lr, ok := find(s.top.LogicalRouters, func(x LogicalRouter) bool { return x.ID == id })
	if !ok {
		return nil, http.StatusNotFound, "The requested object : " + id + " could not be found. Object identifiers are case sensitive."
	}
	tn := q.Get("transport_node_id")
	if tn == "" {
		return ErrorBody{ErrorCode: 255, ModuleName: "routing", ErrorMessage: "Invalid request parameters.",
			RelatedErrors: []RelatedAPIError{{ErrorCode: 8327, ModuleName: "routing", ErrorMessage: "Query parameter transport_node_id is required."}}}, http.StatusBadRequest, ""
	}
	member := false
	if ec, ok := find(s.top.EdgeClusters, func(x EdgeCluster) bool { return x.ID == lr.EdgeClusterID }); ok {
		member = slices.ContainsFunc(ec.Members, func(m EdgeClusterMember) bool { return m.TransportNodeID == tn })
	}
	if !member {
		return ErrorBody{ErrorCode: 255, ModuleName: "routing", ErrorMessage: "Invalid request parameters.",
			RelatedErrors: []RelatedAPIError{{ErrorCode: 8328, ModuleName: "routing", ErrorMessage: "Logical router " + id + " is not realized on transport node " + tn + "."}}}, http.StatusBadRequest, ""
	}
	res, code, msg := pageOf(s, q, s.top.RouteTables[id])
	if code != 0 {
		return nil, code, msg
	}
	lr0 := res.(ListResult[RouteEntry])
	return RouteTable{LogicalRouterID: id, Results: lr0.Results, ResultCount: lr0.ResultCount, Cursor: lr0.Cursor}, 0, ""
}
