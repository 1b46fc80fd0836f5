package nsx

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// queryFor names a walk's endpoints as the command does once the Kubernetes API has answered
// (cmd/live.go fabricQuery): a pod by its IPs, node and name; a node by its address and name.
func queryFor(s *trace.Snapshot, req trace.Request) fabric.Query {
	pod := func(ns, name string) []fabric.Endpoint {
		var out []fabric.Endpoint
		for _, p := range s.Cluster.Pods {
			if p.Namespace == ns && p.Name == name {
				for _, ip := range p.IPs {
					ref := trace.PodRef{Namespace: ns, Name: name}
					out = append(out, fabric.Endpoint{IP: netip.MustParseAddr(ip), Node: p.Node, Pod: &ref})
				}
			}
		}
		return out
	}
	q := fabric.Query{Sources: pod(req.Source.Namespace, req.Source.Name)}
	switch req.To.Kind {
	case trace.TargetPod:
		q.Destinations = pod(req.To.Namespace, req.To.Name)
	case trace.TargetNode:
		for _, n := range s.Cluster.Nodes {
			if a, ok := n.IP(); ok && n.Name == req.To.Name {
				q.Destinations = append(q.Destinations, fabric.Endpoint{IP: a, Node: n.Name})
			}
		}
	}
	return q
}

// hopSummary is what a user reads of a walk: every hop but its evidence, which names the source.
type hopSummary struct {
	Kind, Name, Node, Interface, IP, MAC, Router, Status, Direction, Detail string
	VLAN                                                                    int
}

// summary is a walk as hopSummary lines. With gatewayByAddress (the Policy API: a segment's
// gateway is its gateway_address, not a router port object with a name and a MAC) a router hop's
// entry interface, MAC and detail are left out.
func summary(w *trace.Walk, gatewayByAddress bool) string {
	out := []any{w.Verdict, w.Reason, w.BrokenAt}
	for _, h := range w.Hops {
		hs := hopSummary{Kind: string(h.Kind), Name: h.Name, Node: h.Node, Interface: h.Interface, IP: h.IP, MAC: h.MAC, Router: h.Router,
			Status: string(h.Status), Direction: string(h.Direction), Detail: h.Detail}
		if gatewayByAddress && h.Kind == trace.HopRouter {
			hs.Interface, hs.MAC, hs.Detail = "", "", ""
		}
		if h.VLAN != nil {
			hs.VLAN = *h.VLAN
		}
		out = append(out, hs)
	}
	b, _ := json.MarshalIndent(out, "", " ")
	return string(b)
}

// The published scenario, each broken variant, a synthetic cluster and the IPv6 one walk the same
// over the fabric an NSX Manager serves in real shapes (node NICs without bindings, CHILD context
// paths, locale services not "default"...) as over the fabric itself, through either API.
func TestScenariosWalkTheSameOverNSX(t *testing.T) {
	type walkCase struct {
		name string
		snap *trace.Snapshot
		reqs []trace.Request
	}
	kubeDNS := trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}
	published := []trace.Request{
		{Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}},
		{Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.5"}},
		{Source: kubeDNS, To: trace.Target{Kind: trace.TargetPod, Namespace: "default", Name: "nginx-3"}},
	}
	cases := []walkCase{{"published", scenario.Published(), published}}
	for _, v := range append(append([]scenario.Variant{}, scenario.Variants...), scenario.OverlayVariants...) {
		s := scenario.Published()
		v.Break(s)
		cases = append(cases, walkCase{"variant " + v.Name, s, published[:1]})
	}
	syn := scenario.Synthetic(scenario.SyntheticOptions{Nodes: 6, PodsPerNode: 2, Namespaces: 2, Hosts: 3})
	p0, p1 := syn.Cluster.Pods[0], syn.Cluster.Pods[len(syn.Cluster.Pods)-1]
	cases = append(cases, walkCase{"synthetic", syn, []trace.Request{
		{Source: trace.PodRef{Namespace: p0.Namespace, Name: p0.Name}, To: trace.Target{Kind: trace.TargetNode, Name: scenario.NodeName(4)}},
		{Source: trace.PodRef{Namespace: p0.Namespace, Name: p0.Name}, To: trace.Target{Kind: trace.TargetPod, Namespace: p1.Namespace, Name: p1.Name}},
	}})
	cases = append(cases, walkCase{"ipv6", scenario.IPv6(), []trace.Request{{Source: kubeDNS, To: trace.Target{Kind: trace.TargetNode, Name: "node-b"}}}})

	for _, tc := range cases {
		if tc.snap.Fabric != nil {
			for i := range tc.snap.Fabric.Hosts {
				// The scenario's marker that a host stands in for one the article does not name: no
				// manager says so, so the walk over the fabric itself is compared without it.
				tc.snap.Fabric.Hosts[i].Placeholder = false
			}
		}
	}
	for _, api := range []string{APIManagement, APIPolicy} {
		for _, tc := range cases {
			t.Run(api+"/"+tc.name, func(t *testing.T) {
				s := nsxtest.New(nsxtest.FromFabric(tc.snap.Fabric), nsxtest.Options{Password: testPassword})
				defer s.Close()
				p, _ := newTestProvider(t, s, func(c *Config) { c.API = api })
				for _, req := range tc.reqs {
					want, err := trace.WalkSnapshot(tc.snap, req)
					if err != nil {
						t.Fatal(err)
					}
					f, warns, err := p.Collect(context.Background(), queryFor(tc.snap, req))
					if err != nil {
						t.Fatal(err)
					}
					got := *tc.snap
					got.Fabric = f
					w, err := trace.WalkSnapshot(&got, req)
					if err != nil {
						t.Fatal(err)
					}
					if a, b := summary(w, api == APIPolicy), summary(want, api == APIPolicy); a != b {
						t.Fatalf("%s -> %s: the walk over NSX differs (warnings %q):\n%s\nover the fabric itself:\n%s", req.Source, fmt.Sprint(req.To), warns, a, b)
					}
					if want.Verdict == trace.VerdictReachable && len(warns) > 0 {
						t.Errorf("%s: warnings %q", req.Source, warns)
					}
				}
			})
		}
	}
}

// Query.All returns the published fabric itself through the Policy API too (`collect cluster`).
func TestAllFromPolicyAPI(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword, PageSize: 3})
	defer s.Close()
	p, _ := newTestProvider(t, s, func(c *Config) { c.API, c.PageSize = APIPolicy, 3 })
	f, warns, err := p.Collect(context.Background(), fabric.Query{All: true})
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	assertPublishedWalk(t, walkWith(t, f))
	var nodePorts int
	for _, sp := range f.SwitchPorts {
		if sp.NodeName != "" && sp.Type == trace.PortVIF && len(sp.IPs) > 0 && len(sp.MACs) > 0 {
			nodePorts++
		}
	}
	if nodePorts != 3 {
		t.Fatalf("%d node NICs with their learned addresses, want the 3 nodes' management NICs", nodePorts)
	}
}

// `macs` through the Policy API: a node's tagged NIC and the CHILD ports that name it as their
// parent, by its policy path (pods on another segment) or its VIF id.
func TestNodePortsFromPolicyAPI(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
	defer s.Close()
	p, _ := newTestProvider(t, s, func(c *Config) { c.API = APIPolicy })
	f, warns, err := p.Collect(context.Background(), fabric.Query{Nodes: []string{"172.15.0.3"}})
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	children := 0
	for _, sp := range f.SwitchPorts {
		if sp.Type == trace.PortChild && sp.ParentVIF == "vif-node-172.15.0.3-eth1" && sp.ParentPort == "lp-node-172.15.0.3-trunk" {
			children++
		}
	}
	if children != 9 {
		t.Fatalf("%d CHILD ports under node 172.15.0.3's trunk, want its 9 pods: %+v", children, f.SwitchPorts)
	}
}

// Without VM tools the inventory reports no addresses: the node's address is then taken from its
// ports' state (ARP snooping), and the walk is the same.
func TestNodeAddressFromPortStateWithoutVMTools(t *testing.T) {
	top := published(t)
	for i := range top.VIFs {
		top.VIFs[i].IPAddressInfo = nil
	}
	s := nsxtest.New(top, nsxtest.Options{Password: testPassword})
	defer s.Close()
	p, _ := newTestProvider(t, s, nil)
	f, warns, err := p.Collect(context.Background(), kubeDNSToNode())
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	assertPublishedWalk(t, walkWith(t, f))
	states := 0
	for path, n := range s.RequestsByPath() {
		if strings.HasPrefix(path, "/api/v1/logical-ports/lp-node-") && strings.HasSuffix(path, "/state") {
			states += n
		}
	}
	if states == 0 || states > 2 {
		t.Fatalf("%d port states read, want the node's two NICs' at most", states)
	}
}
