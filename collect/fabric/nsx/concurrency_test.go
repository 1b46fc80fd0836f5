package nsx

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// timeline serves a test manager's handler in process, each answer after latency, and records
// when each request went out and when its answer came back. It runs inside a synctest bubble
// (timed): the clock is the bubble's, which moves only once every goroutine of the Collect is
// blocked, so a request that starts after another was answered waited for that answer (or for a
// free slot of maxConcurrent), never merely for a busy CPU. The chains it measures are then the
// walk's dependency structure, the same on a loaded CI machine as on an idle laptop.
type timeline struct {
	h       http.Handler
	latency time.Duration

	mu    sync.Mutex
	spans []span
}

// span is one request: "METHOD /path?query", when it went out and when its answer came back.
type span struct {
	request    string
	start, end time.Time
}

func (l *timeline) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	start := time.Now()
	select {
	case <-time.After(l.latency):
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	rec := httptest.NewRecorder()
	l.h.ServeHTTP(rec, r)
	l.mu.Lock()
	l.spans = append(l.spans, span{r.Method + " " + r.URL.RequestURI(), start, time.Now()})
	l.mu.Unlock()
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// levels are the requests in the order they went out, each with its round trip: the longest
// chain of requests each sent after the previous one was answered that ends with it (1 for a
// request that waited for no answer).
func (l *timeline) levels() ([]span, []int) {
	l.mu.Lock()
	spans := append([]span(nil), l.spans...)
	l.mu.Unlock()
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].start.Before(spans[j].start) })
	level := make([]int, len(spans))
	for i, s := range spans {
		level[i] = 1
		for j := 0; j < i; j++ {
			if !spans[j].end.After(s.start) && level[j]+1 > level[i] {
				level[i] = level[j] + 1
			}
		}
	}
	return spans, level
}

// sequential is the longest chain of requests each sent after the previous one was answered:
// the round trips a Collect waited for one after the other.
func (l *timeline) sequential() int {
	_, level := l.levels()
	return slices.Max(append(level, 0))
}

// roundTrips are the first and last round trips of the requests containing every part (0 for none).
func (l *timeline) roundTrips(parts ...string) (first, last int) {
	spans, level := l.levels()
	for i, s := range spans {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(s.request, p) }) {
			if first == 0 || level[i] < first {
				first = level[i]
			}
			last = max(last, level[i])
		}
	}
	return first, last
}

// String lists the requests by round trip, for a failure's message.
func (l *timeline) String() string {
	spans, level := l.levels()
	var b strings.Builder
	for i, s := range spans {
		fmt.Fprintf(&b, "\n%3d %s", level[i], s.request)
	}
	return b.String()
}

// timed runs f in a synctest bubble with a provider reading s's topology through a timeline with
// latency. s must be started outside the bubble (its listener waits on real I/O, which would hold
// the bubble's clock still) and without latency of its own (its wait also selects on a channel
// made outside the bubble); the timeline adds the latency instead.
func timed(t *testing.T, s *nsxtest.Server, latency time.Duration, mod func(*Config), f func(t *testing.T, p fabric.Provider, tl *timeline)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		tl := &timeline{h: s.Config.Handler, latency: latency}
		p, _ := newTestProvider(t, s, func(c *Config) {
			c.HTTPClient = &http.Client{Transport: tl}
			if mod != nil {
				mod(c)
			}
		})
		f(t, p, tl)
	})
}

// A pod-to-node walk reads level by level: the endpoints' ports (the pod's by its bound address,
// the node's by its NCP tag; and the tier-0s), then the pod's switch and parent, the node port's
// state, inventory VIF and switch (and the tier-0s' link ports), then the tier-1s and the node
// VM's other VIFs, then the port of the VIF with the node's address, then the firewall sections
// applied to that port (overlay.go; the hosts are read beside the rest). Five round trips one after
// another with basic auth, six with the session login, however many requests, and the same
// fabric as reading one by one.
func TestWalkReadsLevelByLevel(t *testing.T) {
	for _, tc := range []struct {
		auth   string
		levels int
	}{{AuthBasic, 5}, {AuthSession, 6}} {
		s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
		defer s.Close()
		var f *trace.Fabric
		timed(t, s, 20*time.Millisecond, func(c *Config) { c.AuthMode = tc.auth }, func(t *testing.T, p fabric.Provider, tl *timeline) {
			start := time.Now()
			var warns []string
			var err error
			f, warns, err = p.Collect(context.Background(), kubeDNSToNode())
			took := time.Since(start)
			if err != nil || len(warns) != 0 {
				t.Fatalf("%s: err %v, warnings %q", tc.auth, err, warns)
			}
			assertPublishedWalk(t, walkWith(t, f))
			if n := tl.sequential(); n > tc.levels {
				t.Fatalf("%s auth: %d round trips one after another, want at most %d", tc.auth, n, tc.levels)
			}
			t.Logf("pod-to-node walk, %s auth: %d requests, %d sequential, %s at 20ms a round trip", tc.auth, s.Requests(), tl.sequential(), took)
		})
		if want := map[string]int{AuthBasic: 0, AuthSession: 1}[tc.auth]; s.Logins() != want {
			t.Fatalf("%d logins for one Collect with %s auth, want %d", s.Logins(), tc.auth, want)
		}
		// The fabric is the one the walk reads without concurrency (every read in a live round).
		if seq := sequentialCollect(t, kubeDNSToNode()); !reflect.DeepEqual(f, seq) {
			t.Fatalf("concurrent and sequential reads differ:\n%+v\n%+v", f, seq)
		}
	}
}

// A tier-1 link's peer is taken from the first page of the tier-0's link ports, read beside the
// switches; when it is not there (more tier-1s than a page holds, the page failed) it is read by
// id, a level later, and the walk is the same.
func TestTier0LinkPeersFromTheirFirstPage(t *testing.T) {
	peerGETs := func(s *nsxtest.Server) int {
		n := 0
		for path, c := range s.RequestsByPath() {
			if strings.HasPrefix(path, "/api/v1/logical-router-ports/") {
				n += c
			}
		}
		return n
	}
	for _, tc := range []struct {
		name     string
		pageSize int
		fault    bool
		wantGETs bool
		maxLevel int
	}{
		{name: "peers on the first page", maxLevel: 6},
		{name: "more link ports than a page", pageSize: 1, wantGETs: true, maxLevel: 32},
		{name: "the link-port page fails", fault: true, wantGETs: true, maxLevel: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword, PageSize: tc.pageSize})
			defer s.Close()
			if tc.fault {
				s.Inject("/api/v1/logical-router-ports?resource_type=LogicalRouterLinkPortOnTIER0", 10, nsxtest.Fault{Status: 400})
			}
			var f *trace.Fabric
			pageSize := func(c *Config) {
				if tc.pageSize > 0 {
					c.PageSize = tc.pageSize
				}
			}
			timed(t, s, 5*time.Millisecond, pageSize, func(t *testing.T, p fabric.Provider, tl *timeline) {
				var warns []string
				var err error
				f, warns, err = p.Collect(context.Background(), kubeDNSToNode())
				if err != nil {
					t.Fatal(err)
				}
				if len(warns) != 0 {
					t.Fatalf("warnings %q (the link-port page is a hint: its failure is no problem of the walk)", warns)
				}
				assertPublishedWalk(t, walkWith(t, f))
				if n := tl.sequential(); n > tc.maxLevel {
					t.Fatalf("%d round trips one after another, want at most %d:%s", n, tc.maxLevel, tl)
				}
				// The first page of the tier-0's link ports goes out beside the switches' GETs.
				links, _ := tl.roundTrips("resource_type=LogicalRouterLinkPortOnTIER0")
				switches, _ := tl.roundTrips("GET /api/v1/logical-switches/")
				if links == 0 || links != switches {
					t.Fatalf("the tier-0's link-port page went out at round trip %d (0: never), the switches at %d: want it beside them:%s", links, switches, tl)
				}
				// A peer not on it is read by id the round trip after the tier-1's ports name it.
				if peers, _ := tl.roundTrips("GET /api/v1/logical-router-ports/"); tc.wantGETs {
					_, t1 := tl.roundTrips("GET /api/v1/logical-router-ports?", "logical_router_id=lr-t1-")
					if peers != t1+1 {
						t.Fatalf("a link peer was read by id at round trip %d, the tier-1s' ports at %d: want it the round trip after:%s", peers, t1, tl)
					}
				}
				t.Logf("%d requests, %d sequential", s.Requests(), tl.sequential())
			})
			if got := peerGETs(s); (got > 0) != tc.wantGETs {
				t.Fatalf("%d link peers read by id, want some: %v (requests %v)", got, tc.wantGETs, s.RequestsByPath())
			}
			if seq := sequentialCollect(t, kubeDNSToNode()); !reflect.DeepEqual(f, seq) {
				t.Fatalf("the fabric differs from the one read without the link-port page:\n%+v\n%+v", f, seq)
			}
		})
	}
}

// sequentialCollect reads q with no dry rounds: each read when the walk reaches it.
func sequentialCollect(t *testing.T, q fabric.Query) *trace.Fabric {
	t.Helper()
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	p, _ := newTestProvider(t, s, nil)
	pp := p.(*provider)
	f := newFetcher(pp.c)
	st := newState(f)
	if err := st.run(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	return st.fabric()
}

// `macs` reads a node's VIFs, then their children and the VIF's switch, then the children's
// switches, then the routers their router ports name (for the routers' names): five round trips,
// not one per port.
func TestNodePortsReadConcurrently(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	q := fabric.Query{Nodes: []string{"172.15.0.3", "172.15.0.4"}}
	var f *trace.Fabric
	timed(t, s, 20*time.Millisecond, nil, func(t *testing.T, p fabric.Provider, tl *timeline) {
		var warns []string
		var err error
		f, warns, err = p.Collect(context.Background(), q)
		if err != nil || len(warns) != 0 {
			t.Fatalf("err %v, warnings %q", err, warns)
		}
		if n := tl.sequential(); n > 5 {
			t.Fatalf("%d round trips one after another for two nodes' ports, want at most 5", n)
		}
		t.Logf("two nodes' ports: %d requests, %d sequential", s.Requests(), tl.sequential())
	})
	if seq := sequentialCollect(t, q); !reflect.DeepEqual(f, seq) {
		t.Fatalf("concurrent and sequential reads differ:\n%+v\n%+v", f, seq)
	}
}

// The groups a firewall rule names are read together: every member list of every group of a
// rule's sources and destinations goes out in one round trip, not one list per round trip after
// the list before it answered (the policy-drop variant's rules name an NSGroup and an IPSet, or
// two Policy groups).
func TestFirewallPeersReadTogether(t *testing.T) {
	for api, members := range map[string][]string{APIManagement: {"/api/v1/ns-groups/", "/api/v1/ip-sets/"}, APIPolicy: {"/policy/api/v1/infra/domains/default/groups/"}} {
		t.Run(api, func(t *testing.T) {
			snap := scenario.Published()
			for _, v := range scenario.OverlayVariants {
				if v.Name == "policy-drop" {
					v.Break(snap)
				}
			}
			s := nsxtest.New(nsxtest.FromFabric(snap.Fabric), nsxtest.Options{Password: testPassword})
			defer s.Close()
			timed(t, s, 20*time.Millisecond, func(c *Config) { c.API, c.AuthMode = api, AuthBasic }, func(t *testing.T, p fabric.Provider, tl *timeline) {
				f, warns, err := p.Collect(context.Background(), kubeDNSToNode())
				if err != nil || len(warns) != 0 || f.Firewall == nil || !f.Firewall.Complete {
					t.Fatalf("err %v, warnings %q, firewall %+v", err, warns, f.Firewall)
				}
				at := map[int]bool{}
				for _, m := range members {
					first, last := tl.roundTrips("GET " + m)
					if first == 0 {
						t.Fatalf("no GET of %s:%s", m, tl)
					}
					at[first], at[last] = true, true
				}
				if len(at) != 1 {
					t.Fatalf("the rules' groups were read over round trips %v, want one:%s", slices.Sorted(maps.Keys(at)), tl)
				}
			})
		})
	}
}

// Endpoints known by name only (the fabric read started before the Kubernetes API answered): the
// pod's port by its NCP tags, the node's VIF by ncp/node_name; the walk is the same.
func TestEndpointsByName(t *testing.T) {
	// The published nodes are named by their addresses: name node 172.15.0.4 worker-4 in NSX.
	top := published(t)
	for i := range top.LogicalPorts {
		for j, tg := range top.LogicalPorts[i].Tags {
			if tg.Scope == nsxtest.ScopeNodeName && tg.Tag == "172.15.0.4" {
				top.LogicalPorts[i].Tags[j].Tag = "worker-4"
			}
		}
	}
	s := nsxtest.New(top, nsxtest.Options{Password: testPassword})
	defer s.Close()
	q := fabric.Query{
		Sources:      []fabric.Endpoint{{Node: "172.15.0.3", Pod: &trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}}},
		Destinations: []fabric.Endpoint{{Node: "worker-4"}},
	}
	timed(t, s, 20*time.Millisecond, nil, func(t *testing.T, p fabric.Provider, tl *timeline) {
		f, warns, err := p.Collect(context.Background(), q)
		if err != nil || len(warns) != 0 {
			t.Fatalf("err %v, warnings %q", err, warns)
		}
		assertPublishedWalk(t, walkWith(t, f))
		if n := tl.sequential(); n > 6 {
			t.Fatalf("%d round trips one after another, want at most 6 (login, ports and tier-0s, switches, link ports and the node port's state and VIF, tier-1s and the node VM's VIFs, the node's address port, the sections applied to it)", n)
		}
		t.Logf("by name: %d requests, %d sequential", s.Requests(), tl.sequential())
	})
	p, _ := newTestProvider(t, s, nil)
	if nr, ok := p.(fabric.NameResolver); !ok || !nr.ResolvesNames() {
		t.Fatal("the management API provider does not resolve names")
	}

	// A node is found by the name NCP tagged it with, never by an address nobody bound: node/IP
	// is not found by name (the caller then reads with the name the API gives it).
	q.Destinations = []fabric.Endpoint{{Node: "172.15.0.4"}}
	q.Sources[0].Node = ""
	if _, warns, err := p.Collect(context.Background(), q); err != nil || len(warns) != 1 || !strings.Contains(warns[0], "no NSX logical port is tagged ncp/node_name=172.15.0.4") {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	q.Destinations = []fabric.Endpoint{{Node: "worker-4", IP: netip.MustParseAddr("172.15.0.4")}}
	f, _, err := p.Collect(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	assertPublishedWalk(t, walkWith(t, f))

	// A pod of another namespace with the same name is not taken; unknown names are warnings.
	q = fabric.Query{
		Sources:      []fabric.Endpoint{{Pod: &trace.PodRef{Namespace: "default", Name: "kube-dns"}}},
		Destinations: []fabric.Endpoint{{Node: "no-such-node"}},
	}
	f, warns, err := p.Collect(context.Background(), q)
	want := []string{"no NSX logical port is tagged ncp/project=default, ncp/pod=kube-dns", "no NSX logical port is tagged ncp/node_name=no-such-node: tag the node VM's port with ncp/node_name and ncp/cluster as NCP's setup says"}
	if err != nil || !reflect.DeepEqual(warns, want) {
		t.Fatalf("err %v, warnings %q, want %q", err, warns, want)
	}
	if len(f.Routers) != 0 {
		t.Fatalf("routers read for endpoints not found: %v", f.Routers)
	}
	if pp, _ := New(Config{Manager: s.URL, HTTPClient: s.Client(), API: APIPolicy}); pp.(fabric.NameResolver).ResolvesNames() {
		t.Fatal("the policy API provider claims to resolve names")
	}
}

// Many concurrent requests, one login; a refused login is sent once, not once per request.
func TestOneLoginForConcurrentRequests(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: "other"})
	defer s.Close()
	p, _ := newTestProvider(t, s, nil)
	q := kubeDNSToNode()
	q.Nodes = []string{"172.15.0.3", "172.15.0.4", "172.15.0.5"}
	if _, _, err := p.Collect(context.Background(), q); err == nil {
		t.Fatal("wrong password accepted")
	}
	if s.Logins() != 1 {
		t.Fatalf("%d logins with a wrong password, want 1", s.Logins())
	}
}

// An endpoint found by name takes its port's IPv4 address, else its first one.
func TestEndpointIPOfName(t *testing.T) {
	sp := &trace.SwitchPort{IPs: []string{"fd00::1", "bogus", "10.0.0.1"}}
	if got := portIP(sp); got != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("portIP %v", got)
	}
	if got := portIP(&trace.SwitchPort{IPs: []string{"fd00::1"}}); got != netip.MustParseAddr("fd00::1") {
		t.Fatalf("portIP %v", got)
	}
}

// A check names a thousand nodes: their tagged NICs are searched 50 names a search, and the ports
// of their management NICs 50 attachments a search, not one each; the fabric is the one single
// searches read.
func TestNamesSearchedInGroups(t *testing.T) {
	snap := scenario.Synthetic(scenario.SyntheticOptions{Nodes: 130, PodsPerNode: 2, Namespaces: 3})
	top := nsxtest.FromFabric(snap.Fabric)
	var q fabric.Query
	for i := 0; i < 3; i++ {
		p := snap.Cluster.Pods[i*2]
		q.Sources = append(q.Sources, fabric.Endpoint{Pod: &trace.PodRef{Namespace: p.Namespace, Name: p.Name}})
	}
	for i := 0; i < 120; i++ {
		q.Destinations = append(q.Destinations, fabric.Endpoint{Node: scenario.NodeName(i + 5)})
	}
	collect := func(faults ...string) (*trace.Fabric, *nsxtest.Server) {
		s := nsxtest.New(top, nsxtest.Options{Password: testPassword})
		t.Cleanup(s.Close)
		for _, f := range faults {
			s.Inject(f, 1000, nsxtest.Fault{Status: 400})
		}
		p, _ := newTestProvider(t, s, nil)
		f, warns, err := p.Collect(context.Background(), q)
		if err != nil || len(warns) != 0 {
			t.Fatalf("err %v, warnings %q", err, warns)
		}
		return f, s
	}
	f, s := collect()
	if n := s.RequestsByPath()["/api/v1/search/query"]; n != 7 {
		t.Fatalf("%d searches for 3 pods and 120 nodes, want 7 (the pods, the nodes 50 a search, their management NICs' ports 50 a search)", n)
	}
	if n := s.RequestsByPath()["/api/v1/fabric/vifs"]; n != 1 {
		t.Fatalf("%d fabric/vifs requests for 120 nodes, want the inventory listed once (1 page)", n)
	}
	for _, ep := range q.Destinations {
		found := false
		for _, sp := range f.SwitchPorts {
			found = found || (sp.NodeName == ep.Node && sp.Type == trace.PortVIF)
		}
		if !found {
			t.Fatalf("node %s's VIF was not read", ep.Node)
		}
	}
	defer func(n int) { maxNamesPerSearch = n }(maxNamesPerSearch)
	maxNamesPerSearch = 1
	one, s1 := collect()
	if n := s1.RequestsByPath()["/api/v1/search/query"]; n != 243 {
		t.Fatalf("%d single searches, want 243 (123 names, 120 NICs)", n)
	}
	if !reflect.DeepEqual(f, one) {
		t.Fatalf("the fabric read with grouped searches differs from single-name searches")
	}

	// A manager that refuses the OR groups: each name is searched alone, with no warning.
	maxNamesPerSearch = 50
	refused, s2 := collect("/api/v1/search/query?+OR+")
	if n := s2.RequestsByPath()["/api/v1/search/query"]; n != 7+243 {
		t.Fatalf("%d searches with the groups refused, want 7 refused and 243 single", n)
	}
	if !reflect.DeepEqual(refused, one) {
		t.Fatalf("the fabric read after refused grouped searches differs from single-name searches")
	}
}
