package scale

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

func TestCriticalPath(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, int64(ms)*int64(time.Millisecond)) }
	call := func(s, e int) Call { return Call{Start: at(s), End: at(e)} }
	for _, c := range []struct {
		name  string
		calls []Call
		want  int
	}{
		{"none", nil, 0},
		{"parallel", []Call{call(0, 20), call(1, 21), call(2, 22)}, 1},
		{"sequential", []Call{call(0, 20), call(20, 40), call(41, 60)}, 3},
		{"overlap is not a chain", []Call{call(0, 20), call(19, 40)}, 1},
		{"longest of two branches", []Call{call(0, 20), call(0, 5), call(6, 10), call(11, 15), call(21, 30)}, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := CriticalPath(c.calls); got != c.want {
				t.Errorf("%s: %d, want %d", c.name, got, c.want)
			}
			chain := CriticalChain(c.calls)
			if len(chain) != c.want {
				t.Errorf("%s: chain of %d calls, want %d", c.name, len(chain), c.want)
			}
			for i := 1; i < len(chain); i++ {
				if chain[i].Start.Before(chain[i-1].End) {
					t.Errorf("%s: chain call %d starts before call %d ends", c.name, i, i-1)
				}
			}
		})
	}
}

// The report gives the median run's wall time and the median critical path.
func TestMedian(t *testing.T) {
	runs := []Measure{{Wall: 150 * time.Millisecond, Critical: 4, RSS: 1}, {Wall: 120 * time.Millisecond, Critical: 5, RSS: 2},
		{Wall: 400 * time.Millisecond, Critical: 4, RSS: 3}, {Wall: 130 * time.Millisecond, Critical: 5, RSS: 4}, {Wall: 140 * time.Millisecond, Critical: 4, RSS: 5}}
	m := Median(runs)
	if m.Wall != 140*time.Millisecond || m.RSS != 5 || m.Critical != 4 {
		t.Fatalf("median: wall %v rss %d critical %d, want 140ms, 5 (that run's) and 4", m.Wall, m.RSS, m.Critical)
	}
	if one := Median(runs[:1]); one.Wall != runs[0].Wall || one.Critical != 4 {
		t.Fatalf("median of one run: %+v", one)
	}
}

// The emulated node prints what scenario.Synthetic generates for it.
func TestNodeStateMatchesSynthetic(t *testing.T) {
	z := Size{Nodes: 7, PodsPerNode: 5, Namespaces: 3}
	s := scenario.Synthetic(z.options())
	// z.NodeState is scenario.SyntheticNode, built alone: each pod's netns must hold the IP the
	// cluster gives the pod, and its MAC and VLAN must be its fabric port's.
	port := map[string]trace.SwitchPort{}
	for _, sp := range s.Fabric.SwitchPorts {
		if sp.Pod != nil {
			port[sp.Pod.String()] = sp
		}
	}
	pods := map[string]trace.Pod{}
	for _, p := range s.Cluster.Pods {
		pods[p.Namespace+"/"+p.Name] = p
	}
	for i := range s.Cluster.Nodes {
		st := z.NodeState(i)
		tags := map[string]int{}
		for _, p := range st.OVS.Ports {
			if p.Tag != nil {
				tags[p.Name] = *p.Tag
			}
		}
		for _, ns := range st.Netns[1:] {
			key := ns.Pod.String()
			eth := ns.Links[0]
			if got, want := ns.Addresses[0].CIDR, pods[key].IPs[0]+"/20"; got != want || pods[key].Node != st.Name {
				t.Errorf("node %d %s: netns holds %s on %s, the cluster says %s on %s", i, key, got, st.Name, want, pods[key].Node)
			}
			if sp := port[key]; len(sp.MACs) == 0 || sp.MACs[0] != eth.MAC || sp.TrafficTag == nil {
				t.Errorf("node %d %s: eth0 MAC %s, fabric port %+v", i, key, eth.MAC, sp)
			} else {
				for _, host := range st.Netns[0].Links {
					if host.Index == eth.PeerIndex && tags[host.Name] != *sp.TrafficTag {
						t.Errorf("node %d %s: OVS tag %d, traffic_tag %d", i, key, tags[host.Name], *sp.TrafficTag)
					}
				}
			}
		}
		ns, name, ip := z.PodOf(i, 2)
		p := s.Cluster.Pods[i*z.PodsPerNode+2]
		if p.Namespace != ns || p.Name != name || p.IPs[0] != ip {
			t.Errorf("PodOf(%d, 2) = %s/%s %s, want %s/%s %v", i, ns, name, ip, p.Namespace, p.Name, p.IPs)
		}
	}
}

// The front's indexed answers are the bytes nsxtest gives, and it keeps nsxtest's authentication.
func TestNSXFrontAnswersLikeNSXTest(t *testing.T) {
	s := scenario.Synthetic(scenario.SyntheticOptions{Nodes: 12, PodsPerNode: 4, Namespaces: 5})
	plain := nsxtest.New(nsxtest.FromFabric(s.Fabric), nsxtest.Options{Password: "pw"})
	defer plain.Close()
	top := nsxtest.FromFabric(s.Fabric)
	fronted := nsxtest.New(top, nsxtest.Options{Password: "pw"})
	defer fronted.Close()
	tl := &Timeline{}
	front := NewNSXFront(fronted, top, 0, tl)
	defer front.Close()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(base, path, pw string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.SetBasicAuth("admin", pw)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	_, _, ip := Size{Nodes: 12, PodsPerNode: 4, Namespaces: 5}.PodOf(3, 1)
	search := func(q string) string {
		return "/api/v1/search/query?" + url.Values{"query": {q}, "page_size": {"1000"}}.Encode()
	}
	paths := []string{
		search(`resource_type:LogicalPort AND address_bindings.ip_address:"` + ip + `"`),
		search(`resource_type:LogicalPort AND address_bindings.ip_address:"` + scenario.NodeIP(5) + `"`),
		search(`resource_type:LogicalPort AND address_bindings.ip_address:"10.99.99.99"`),
		search(`resource_type:LogicalPort AND address_bindings.mac_address:"0A:58:00:00:00:07"`),
		search(`resource_type:LogicalPort AND tags.scope:"ncp/node_name" AND tags.tag:"` + scenario.NodeName(4) + `"`),
		search(`resource_type:LogicalPort AND tags.scope:"ncp/node_name" AND (tags.tag:"` + scenario.NodeName(4) + `" OR tags.tag:"` + scenario.NodeName(7) + `")`),
		search(`resource_type:LogicalPort AND attachment.id:"att-vif-` + scenario.NodeName(4) + `"`),
		search(`resource_type:LogicalPort AND (attachment.id:"att-vif-` + scenario.NodeName(4) + `" OR attachment.id:"trunk-` + scenario.NodeName(7) + `")`),
		"/api/v1/logical-ports?page_size=1000&attachment_id=trunk-" + scenario.NodeName(4),
		"/api/v1/logical-ports?page_size=1000&parent_vif_id=trunk-" + scenario.NodeName(4),
		"/api/v1/logical-ports?page_size=1000&parent_vif_id=nothing",
		"/api/v1/logical-router-ports?page_size=1000&logical_switch_id=ls-ns-001",
	}
	for _, p := range paths {
		c1, b1 := get(plain.URL, p, "pw")
		c2, b2 := get(fronted.URL, p, "pw")
		if c1 != c2 || !bytes.Equal(b1, b2) {
			t.Errorf("GET %s: front answered %d %s\nnsxtest answered %d %s", p, c2, b2, c1, b1)
		}
		if c, _ := get(fronted.URL, p, "wrong"); c != http.StatusForbidden {
			t.Errorf("GET %s with a wrong password: %d, want 403", p, c)
		}
	}
	reqs, bytes := Totals(tl.Calls())
	if reqs["nsx"] != 2*len(paths) || bytes["nsx"] == 0 {
		t.Errorf("front recorded %d requests, %d bytes", reqs["nsx"], bytes["nsx"])
	}
	// The lookups it indexes never reach nsxtest (only its authentication probe does).
	for path, n := range fronted.RequestsByPath() {
		if path == "/api/v1/search/query" || path == "/api/v1/logical-ports" {
			t.Errorf("%d requests for %s passed on to nsxtest", n, path)
		}
	}
}

// The growth target compares the small and the large size on the same kind of server, not the
// real kube-apiserver's small run.
func TestGrowthComparesOneKindOfServer(t *testing.T) {
	m := func(wall time.Duration) Measure {
		return Measure{Wall: wall, Critical: 4, Requests: map[string]int{"kube": 3, "nsx": 25, "node": 2}}
	}
	big := Large
	rep := &Report{Latency: 20 * time.Millisecond, Sizes: []Size{SmallAPIServer, Small, big},
		Measures: map[string]map[string]Measure{
			SmallAPIServer.Name: {OpTraceNode: m(400 * time.Millisecond)},
			Small.Name:          {OpTraceNode: m(100 * time.Millisecond)},
			big.Name:            {OpTraceNode: m(150 * time.Millisecond)},
		}, Errors: map[string]map[string]string{}, KubeAPI: map[string]string{}}
	var b strings.Builder
	rep.Write(&b)
	if !strings.Contains(b.String(), "trace time grows by < 10% | 100 ms -> 150 ms (+50.0%) | **missed** |") {
		t.Fatalf("the growth row does not compare small (API test server) with large:\n%s", b.String())
	}
}
