package nsx

import (
	"context"
	"net/http"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// timeline records when each request went out and when its answer came back.
type timeline struct {
	rt    http.RoundTripper
	mu    sync.Mutex
	spans [][2]time.Time
}

func (l *timeline) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := l.rt.RoundTrip(r)
	l.mu.Lock()
	l.spans = append(l.spans, [2]time.Time{start, time.Now()})
	l.mu.Unlock()
	return resp, err
}

// sequential is the longest chain of requests each sent after the previous one was answered:
// the round trips a Collect waited for one after the other.
func (l *timeline) sequential() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	spans := append([][2]time.Time(nil), l.spans...)
	sort.Slice(spans, func(i, j int) bool { return spans[i][0].Before(spans[j][0]) })
	chain := make([]int, len(spans))
	best := 0
	for i, s := range spans {
		chain[i] = 1
		for j := 0; j < i; j++ {
			if !spans[j][1].After(s[0]) && chain[j]+1 > chain[i] {
				chain[i] = chain[j] + 1
			}
		}
		best = max(best, chain[i])
	}
	return best
}

// timedProvider is a provider whose requests are recorded on a timeline, against a manager that
// answers every request after latency.
func timedProvider(t *testing.T, top *nsxtest.Topology, latency time.Duration, mod func(*Config)) (fabric.Provider, *nsxtest.Server, *timeline) {
	t.Helper()
	s := nsxtest.New(top, nsxtest.Options{Password: testPassword, Latency: latency})
	t.Cleanup(s.Close)
	hc := s.Client()
	tl := &timeline{rt: hc.Transport}
	hc.Transport = tl
	p, _ := newTestProvider(t, s, func(c *Config) {
		c.HTTPClient = hc
		if mod != nil {
			mod(c)
		}
	})
	return p, s, tl
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
		p, s, tl := timedProvider(t, published(t), 20*time.Millisecond, func(c *Config) { c.AuthMode = tc.auth })
		start := time.Now()
		f, warns, err := p.Collect(context.Background(), kubeDNSToNode())
		took := time.Since(start)
		if err != nil || len(warns) != 0 {
			t.Fatalf("%s: err %v, warnings %q", tc.auth, err, warns)
		}
		assertPublishedWalk(t, walkWith(t, f))
		if n := tl.sequential(); n > tc.levels {
			t.Fatalf("%s auth: %d round trips one after another, want at most %d", tc.auth, n, tc.levels)
		}
		if want := map[string]int{AuthBasic: 0, AuthSession: 1}[tc.auth]; s.Logins() != want {
			t.Fatalf("%d logins for one Collect with %s auth, want %d", s.Logins(), tc.auth, want)
		}
		t.Logf("pod-to-node walk, %s auth: %d requests, %d sequential, %s", tc.auth, s.Requests(), tl.sequential(), took.Round(time.Millisecond))
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
			s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword, Latency: 5 * time.Millisecond, PageSize: tc.pageSize})
			defer s.Close()
			if tc.fault {
				s.Inject("/api/v1/logical-router-ports?resource_type=LogicalRouterLinkPortOnTIER0", 10, nsxtest.Fault{Status: 400})
			}
			hc := s.Client()
			tl := &timeline{rt: hc.Transport}
			hc.Transport = tl
			p, _ := newTestProvider(t, s, func(c *Config) {
				c.HTTPClient = hc
				if tc.pageSize > 0 {
					c.PageSize = tc.pageSize
				}
			})
			f, warns, err := p.Collect(context.Background(), kubeDNSToNode())
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != 0 {
				t.Fatalf("warnings %q (the link-port page is a hint: its failure is no problem of the walk)", warns)
			}
			assertPublishedWalk(t, walkWith(t, f))
			if got := peerGETs(s); (got > 0) != tc.wantGETs {
				t.Fatalf("%d link peers read by id, want some: %v (requests %v)", got, tc.wantGETs, s.RequestsByPath())
			}
			if n := tl.sequential(); n > tc.maxLevel {
				t.Fatalf("%d round trips one after another, want at most %d", n, tc.maxLevel)
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
	p, s, tl := timedProvider(t, published(t), 20*time.Millisecond, nil)
	q := fabric.Query{Nodes: []string{"172.15.0.3", "172.15.0.4"}}
	f, warns, err := p.Collect(context.Background(), q)
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	if n := tl.sequential(); n > 5 {
		t.Fatalf("%d round trips one after another for two nodes' ports, want at most 5", n)
	}
	if seq := sequentialCollect(t, q); !reflect.DeepEqual(f, seq) {
		t.Fatalf("concurrent and sequential reads differ:\n%+v\n%+v", f, seq)
	}
	t.Logf("two nodes' ports: %d requests, %d sequential", s.Requests(), tl.sequential())
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
	p, s, tl := timedProvider(t, top, 20*time.Millisecond, nil)
	if nr, ok := p.(fabric.NameResolver); !ok || !nr.ResolvesNames() {
		t.Fatal("the management API provider does not resolve names")
	}
	q := fabric.Query{
		Sources:      []fabric.Endpoint{{Node: "172.15.0.3", Pod: &trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}}},
		Destinations: []fabric.Endpoint{{Node: "worker-4"}},
	}
	f, warns, err := p.Collect(context.Background(), q)
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	assertPublishedWalk(t, walkWith(t, f))
	if n := tl.sequential(); n > 6 {
		t.Fatalf("%d round trips one after another, want at most 6 (login, ports and tier-0s, switches, link ports and the node port's state and VIF, tier-1s and the node VM's VIFs, the node's address port, the sections applied to it)", n)
	}
	t.Logf("by name: %d requests, %d sequential", s.Requests(), tl.sequential())

	// A node is found by the name NCP tagged it with, never by an address nobody bound: node/IP
	// is not found by name (the caller then reads with the name the API gives it).
	q.Destinations = []fabric.Endpoint{{Node: "172.15.0.4"}}
	q.Sources[0].Node = ""
	if _, warns, err = p.Collect(context.Background(), q); err != nil || len(warns) != 1 || !strings.Contains(warns[0], "no NSX logical port is tagged ncp/node_name=172.15.0.4") {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	q.Destinations = []fabric.Endpoint{{Node: "worker-4", IP: netip.MustParseAddr("172.15.0.4")}}
	if f, _, err = p.Collect(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	assertPublishedWalk(t, walkWith(t, f))

	// A pod of another namespace with the same name is not taken; unknown names are warnings.
	q = fabric.Query{
		Sources:      []fabric.Endpoint{{Pod: &trace.PodRef{Namespace: "default", Name: "kube-dns"}}},
		Destinations: []fabric.Endpoint{{Node: "no-such-node"}},
	}
	f, warns, err = p.Collect(context.Background(), q)
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
