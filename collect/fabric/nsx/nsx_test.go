package nsx

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

const (
	testPassword = "s3cret-Pa55"
	fixtures     = "../../../testdata/nsx/published"
)

func published(t *testing.T) *nsxtest.Topology {
	t.Helper()
	top, err := nsxtest.LoadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// fakeSleep records the waits asked for and returns at once, so retry tests run fast. Requests
// retry concurrently: it is called from several goroutines.
type fakeSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeSleep) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	return ctx.Err()
}

// cliHints are the flag names cmd gives, so the messages read as on the command line.
var cliHints = Hints{Manager: "--nsx-manager", User: "--nsx-user", PasswordFile: "--nsx-password-file",
	CAFile: "--nsx-ca-file", Insecure: "--nsx-insecure-skip-tls-verify", API: "--nsx-api", Auth: "--nsx-auth",
	RequestTimeout: "--nsx-request-timeout", Deadline: "--nsx-timeout", Chosen: "with --fabric nsx"}

func newTestProvider(t *testing.T, s *nsxtest.Server, mod func(*Config)) (fabric.Provider, *[]string) {
	t.Helper()
	t.Setenv("NSX_PASSWORD", testPassword)
	var logs []string
	if tr, ok := s.Client().Transport.(*http.Transport); ok {
		tr.MaxIdleConnsPerHost = maxConcurrent // as New's own transport
	}
	cfg := Config{Manager: s.URL, HTTPClient: s.Client(), Sleep: (&fakeSleep{}).sleep, Hints: cliHints,
		Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, &logs
}

// kubeDNSToNode is the query of `trace -n kube-system kube-dns --to node/172.15.0.4`.
func kubeDNSToNode() fabric.Query {
	return fabric.Query{
		Sources: []fabric.Endpoint{{IP: netip.MustParseAddr("172.16.1.2"), MAC: scenario.PodMAC("172.15.0.3", 101), Node: "172.15.0.3",
			Pod: &trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}}},
		Destinations: []fabric.Endpoint{{IP: netip.MustParseAddr("172.15.0.4"), Node: "172.15.0.4"}},
	}
}

// walkWith walks kube-dns -> node 172.15.0.4 over the published snapshot with f as its fabric.
func walkWith(t *testing.T, f *trace.Fabric) *trace.Walk {
	t.Helper()
	snap := scenario.Published()
	snap.Fabric = f
	w, err := trace.WalkSnapshot(snap, trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"},
		To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// traceroute is what `traceroute` from the pod shows: the forward router hops and the destination.
func traceroute(w *trace.Walk) []string {
	var out []string
	for _, h := range w.Hops {
		if h.Direction == trace.Forward && (h.Kind == trace.HopRouter || h.Kind == trace.HopNode) {
			out = append(out, h.IP)
		}
	}
	return out
}

// origins lists the route origins the router hops cite, in walk order.
func origins(w *trace.Walk) []string {
	var out []string
	for _, h := range w.Hops {
		if h.Kind != trace.HopRouter {
			continue
		}
		for _, e := range h.Evidence {
			if strings.HasPrefix(e.Fact, "route ") {
				out = append(out, e.Fact[strings.LastIndex(e.Fact, "(")+1:len(e.Fact)-1])
			}
		}
	}
	return out
}

func assertPublishedWalk(t *testing.T, w *trace.Walk) {
	t.Helper()
	if w.Verdict != trace.VerdictReachable {
		b, _ := json.MarshalIndent(w, "", " ")
		t.Fatalf("verdict %s (%s), want reachable\n%s", w.Verdict, w.Reason, b)
	}
	if got, want := traceroute(w), []string{"172.16.1.1", "100.64.96.10", "100.64.96.5", "172.15.0.4"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("hops %v, want %v", got, want)
	}
	want := []string{"tier1-default", "advertised", "connected", "tier1-default", "advertised", "connected"}
	if got := origins(w); !reflect.DeepEqual(got, want) {
		t.Fatalf("route origins %v, want %v", got, want)
	}
}

func TestPublishedWalkFromManagementAPI(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	p, _ := newTestProvider(t, s, nil)
	f, warns, err := p.Collect(context.Background(), kubeDNSToNode())
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %q", warns)
	}
	assertPublishedWalk(t, walkWith(t, f))
	if s.Writes() != 0 {
		t.Fatalf("provider sent %d non-GET requests", s.Writes())
	}
	t.Logf("pod-to-node walk: %d requests (%d logins), %d bytes", s.Requests(), s.Logins(), s.Bytes())
}

// A walk reads the objects on its path only: 20,000 more ports and 500 more tier-1s cost nothing.
func TestRequestsIndependentOfFabricSize(t *testing.T) {
	count := func(top *nsxtest.Topology) (int, map[string]int) {
		s := nsxtest.New(top, nsxtest.Options{Password: testPassword})
		defer s.Close()
		p, _ := newTestProvider(t, s, nil)
		f, _, err := p.Collect(context.Background(), kubeDNSToNode())
		if err != nil {
			t.Fatal(err)
		}
		assertPublishedWalk(t, walkWith(t, f))
		return s.Requests(), s.RequestsByPath()
	}
	small, _ := count(published(t))
	big := published(t)
	big.AddScale(20000, 500)
	if len(big.LogicalPorts) < 20000 || len(big.LogicalRouters) < 500 {
		t.Fatalf("scaled topology too small: %d ports, %d routers", len(big.LogicalPorts), len(big.LogicalRouters))
	}
	large, paths := count(big)
	if large != small {
		t.Fatalf("pod-to-node walk: %d requests on the published fabric, %d with 20,000 more ports and 500 more T1s: %v", small, large, paths)
	}
	// 30 for the path, 12 for the overlay: the sections and uplink profiles lists, the sections
	// applied to each endpoint port, the default section's rules, the pod port's state, and each
	// of the two hosts' node, state and tunnels to the other.
	if small > 42 {
		t.Fatalf("pod-to-node walk needs %d requests, want at most 42", small)
	}
	t.Logf("pod-to-node walk: %d requests on both fabrics", small)
}

// Query.All over every page returns the published fabric itself.
func TestAllRoundTripsThePublishedFabric(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword, PageSize: 3})
	defer s.Close()
	p, _ := newTestProvider(t, s, func(c *Config) { c.PageSize = 3 })
	f, warns, err := p.Collect(context.Background(), fabric.Query{All: true})
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	want := scenario.Published().Fabric
	for i := range want.Hosts {
		want.Hosts[i].Placeholder = false // the scenario's marker, not a fact a manager gives
	}
	normalize(want)
	normalize(f)
	portIPs(f)
	for i := range f.SwitchPorts {
		if f.SwitchPorts[i].Type == trace.PortRouter {
			f.SwitchPorts[i].Up = nil
		}
	}
	if !reflect.DeepEqual(f, want) {
		a, _ := json.MarshalIndent(f, "", " ")
		b, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("collected fabric differs from the published one:\n%s\nwant\n%s", a, b)
	}
	assertPublishedWalk(t, walkWith(t, f))
}

// portIPs drops from each firewall peer the addresses of the ports it names: an NSGroup of ports
// is read as its member ports and their addresses (effective members), the same set twice.
func portIPs(f *trace.Fabric) {
	if f.Firewall == nil {
		return
	}
	ips := map[string][]string{}
	for _, sp := range f.SwitchPorts {
		ips[sp.ID] = sp.IPs
	}
	for i := range f.Firewall.Rules {
		for _, p := range []*trace.FirewallPeer{&f.Firewall.Rules[i].Sources, &f.Firewall.Rules[i].Destinations} {
			var keep []string
			for _, c := range p.CIDRs {
				if !slices.ContainsFunc(p.Ports, func(id string) bool { return slices.Contains(ips[id], c) }) {
					keep = append(keep, c)
				}
			}
			p.CIDRs = keep
		}
	}
}

func normalize(f *trace.Fabric) {
	sortBy(f.Switches, func(x trace.Switch) string { return x.ID })
	sortBy(f.SwitchPorts, func(x trace.SwitchPort) string { return x.ID })
	sortBy(f.Routers, func(x trace.Router) string { return x.ID })
	sortBy(f.RouterPorts, func(x trace.RouterPort) string { return x.ID })
	sortBy(f.Routes, func(x trace.FabricRoute) string { return x.Router + " " + x.Prefix })
}

func sortBy[T any](xs []T, key func(T) string) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && key(xs[j]) < key(xs[j-1]); j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}

func TestPasswordNeverLeaks(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: "other"})
	defer s.Close()
	for _, mode := range []string{AuthSession, AuthBasic} {
		p, logs := newTestProvider(t, s, func(c *Config) { c.AuthMode = mode })
		_, warns, err := p.Collect(context.Background(), kubeDNSToNode())
		if err == nil {
			t.Fatalf("%s: wrong password accepted", mode)
		}
		all := err.Error() + strings.Join(warns, "") + strings.Join(*logs, "")
		if strings.Contains(all, testPassword) {
			t.Fatalf("%s: password in output: %s", mode, all)
		}
		if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "check --nsx-user") || !strings.Contains(err.Error(), "$NSX_PASSWORD") {
			t.Fatalf("%s: want one line saying what to check, got %q", mode, err)
		}
	}
	dir := t.TempDir()
	pf := filepath.Join(dir, "pw")
	if err := os.WriteFile(pf, []byte("other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, _ := newTestProvider(t, s, func(c *Config) { c.PasswordFile = pf })
	f, _, err := p.Collect(context.Background(), kubeDNSToNode())
	if err != nil {
		t.Fatalf("password file: %v", err)
	}
	b, _ := json.Marshal(f)
	if strings.Contains(string(b), "other") {
		t.Fatal("password in the fabric")
	}
}

func TestPublishedWalkFromPolicyAPI(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	p, _ := newTestProvider(t, s, func(c *Config) { c.API = APIPolicy })
	f, warns, err := p.Collect(context.Background(), kubeDNSToNode())
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	assertPublishedWalk(t, walkWith(t, f))
	if s.Writes() != 0 {
		t.Fatalf("%d writes", s.Writes())
	}
	t.Logf("pod-to-node walk over the Policy API: %d requests", s.Requests())
}
