package nsx

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// hostByID finds a collected host.
func hostByID(f *trace.Fabric, id string) *trace.Host {
	for i := range f.Hosts {
		if f.Hosts[i].ID == id {
			return &f.Hosts[i]
		}
	}
	return nil
}

// The overlay a pod-to-node walk crosses, read through either API as a user would check it in the
// manager: the two hosts of the endpoints (not the third), their TEPs and uplink MTU, the tunnel
// each reports to the other with its BFD session; the firewall rules at the endpoints in the
// firewall's order, with the NetworkPolicy that created them. Each broken scenario shows as the
// fact the walk needs: the tunnel down with its BFD diagnostic, the 1500-byte uplink, the
// NetworkPolicy's drop.
func TestOverlayOfAWalk(t *testing.T) {
	src, dst := scenario.HostOf("172.15.0.3"), scenario.HostOf("172.15.0.4")
	cases := []struct {
		name  string
		check func(t *testing.T, f *trace.Fabric)
	}{
		{"published", func(t *testing.T, f *trace.Fabric) {
			a := hostByID(f, src)
			if a == nil || len(a.Tunnels) != 1 || a.Tunnels[0].State != trace.TunnelUp || a.Tunnels[0].BFD == nil || a.Tunnels[0].BFD.State != "up" {
				t.Fatalf("source host %s: %+v", src, a)
			}
			if len(f.Firewall.Rules) != 1 || !f.Firewall.Rules[0].Default || f.Firewall.DefaultAction != trace.FirewallAllow || !f.Firewall.Complete {
				t.Fatalf("firewall at kube-dns and the node: want only the default allow rule (the redis NetworkPolicy applies elsewhere): %+v", f.Firewall)
			}
		}},
		{"tunnel-down", func(t *testing.T, f *trace.Fabric) {
			x := hostByID(f, src).Tunnels[0]
			if x.State != trace.TunnelDown || x.BFD == nil || x.BFD.Diagnostic != "Control Detection Time Expired" || x.RemoteHost != dst {
				t.Fatalf("tunnel %s -> %s: %+v %+v", src, dst, x, x.BFD)
			}
		}},
		{"underlay-mtu-1500", func(t *testing.T, f *trace.Fabric) {
			if h := hostByID(f, dst); h.HostSwitchMTU != 1500 {
				t.Fatalf("host %s uplink MTU %d, want 1500", dst, h.HostSwitchMTU)
			}
			if h := hostByID(f, src); h.HostSwitchMTU != scenario.HostSwitchMTU {
				t.Fatalf("host %s uplink MTU %d, want %d", src, h.HostSwitchMTU, scenario.HostSwitchMTU)
			}
		}},
		{"policy-drop", func(t *testing.T, f *trace.Fabric) {
			var names []string
			for _, r := range f.Firewall.Rules {
				names = append(names, r.Name+"/"+r.Action+"/"+r.Direction)
			}
			want := "kube-system-kube-dns-egress-allow/allow/egress kube-system-kube-dns-egress-isolation/drop/egress Default Layer3 Rule/allow/both"
			if strings.Join(names, " ") != want {
				t.Fatalf("rules in order: %q, want %q", strings.Join(names, " "), want)
			}
			r := f.Firewall.Rules[1]
			if r.Origin == nil || r.Origin.String() != "NetworkPolicy: kube-system/kube-dns-egress" || !contains(r.AppliedTo.Ports, "lp-kube-system-kube-dns") || !r.Destinations.Any {
				t.Fatalf("isolation rule: %+v origin %v", r, r.Origin)
			}
			if allow := f.Firewall.Rules[0]; !contains(allow.Destinations.CIDRs, "172.16.0.0/16") || !contains(allow.Sources.Ports, "lp-kube-system-kube-dns") {
				t.Fatalf("allow rule: %+v", allow)
			}
		}},
	}
	for _, api := range []string{APIManagement, APIPolicy} {
		for _, tc := range cases {
			t.Run(api+"/"+tc.name, func(t *testing.T) {
				snap := scenario.Published()
				for _, v := range scenario.OverlayVariants {
					if v.Name == tc.name {
						v.Break(snap)
					}
				}
				s := nsxtest.New(nsxtest.FromFabric(snap.Fabric), nsxtest.Options{Password: testPassword})
				defer s.Close()
				p, _ := newTestProvider(t, s, func(c *Config) { c.API = api })
				f, warns, err := p.Collect(context.Background(), kubeDNSToNode())
				if err != nil || len(warns) != 0 {
					t.Fatalf("err %v, warnings %q", err, warns)
				}
				if len(f.Hosts) != 2 || hostByID(f, src) == nil || hostByID(f, dst) == nil {
					t.Fatalf("hosts %+v, want the endpoints' two: %s and %s", f.Hosts, src, dst)
				}
				for _, id := range []string{src, dst} {
					h := hostByID(f, id)
					if len(h.TEPs) != 1 || h.TEPs[0].Encap != trace.EncapGeneve || h.HostSwitch != "nsxvswitch" || h.Name == "" {
						t.Fatalf("host %s: %+v", id, h)
					}
				}
				bound := map[string]string{}
				for _, sp := range f.SwitchPorts {
					bound[sp.ID] = sp.Host
				}
				if bound["lp-kube-system-kube-dns"] != src || bound["lp-node-172.15.0.4-mgmt"] != dst {
					t.Fatalf("ports' hosts: kube-dns on %q, node 172.15.0.4 on %q; want %s, %s", bound["lp-kube-system-kube-dns"], bound["lp-node-172.15.0.4-mgmt"], src, dst)
				}
				if f.Firewall == nil {
					t.Fatal("no firewall read")
				}
				tc.check(t, f)
			})
		}
	}
}

// The overlay reads stay on the walk's two hosts and the firewall sections that apply to its
// ports: 200 more hosts, 20,000 more ports and 500 more tier-1s change no request.
func TestOverlayRequestsIndependentOfFabricSize(t *testing.T) {
	for _, api := range []string{APIManagement, APIPolicy} {
		count := func(top *nsxtest.Topology) int {
			s := nsxtest.New(top, nsxtest.Options{Password: testPassword})
			defer s.Close()
			p, _ := newTestProvider(t, s, func(c *Config) { c.API = api })
			f, _, err := p.Collect(context.Background(), kubeDNSToNode())
			if err != nil || len(f.Hosts) != 2 || f.Firewall == nil {
				t.Fatalf("%s: err %v, hosts %d, firewall %v", api, err, len(f.Hosts), f.Firewall)
			}
			return s.Requests()
		}
		small := count(published(t))
		big := scenario.Published()
		for i := 0; i < 200; i++ {
			big.Fabric.Hosts = append(big.Fabric.Hosts, trace.Host{ID: "tn-extra-" + strconv.Itoa(i), Name: "esx-extra", TEPs: []trace.TEP{{IP: "192.168.131.1", Encap: trace.EncapGeneve}}})
		}
		top := nsxtest.FromFabric(big.Fabric)
		top.AddScale(20000, 500)
		if large := count(top); large != small {
			t.Fatalf("%s: %d requests on the published fabric, %d with 200 more hosts, 20,000 more ports and 500 more tier-1s", api, small, large)
		}
	}
}

// Live `macs` in NSX mode names a router MAC's owner by its router's name and joins it to the
// router port (#15): through the Management API the node's switches' router ports name their
// routers by id, and the routers are read for their names, one GET each; through the Policy API a
// segment's gateway has no port object, and its MAC is the global config's vdr_mac, read once.
// The owner is the one over the fabric itself, and the requests do not grow with the fabric.
func TestMACsNameTheRouter(t *testing.T) {
	want, err := trace.NewIndex(scenario.Published()).MACs("172.15.0.3")
	if err != nil {
		t.Fatal(err)
	}
	for _, api := range []string{APIManagement, APIPolicy} {
		count := func(top *nsxtest.Topology) (*trace.MACTable, int) {
			s := nsxtest.New(top, nsxtest.Options{Password: testPassword})
			defer s.Close()
			p, _ := newTestProvider(t, s, func(c *Config) { c.API = api })
			f, warns, err := p.Collect(context.Background(), fabric.Query{Nodes: []string{"172.15.0.3"}})
			if err != nil || len(warns) != 0 {
				t.Fatalf("%s: err %v, warnings %q", api, err, warns)
			}
			snap := scenario.Published()
			snap.Fabric = f
			tbl, err := trace.NewIndex(snap).MACs("172.15.0.3")
			if err != nil {
				t.Fatal(err)
			}
			return tbl, s.Requests()
		}
		tbl, small := count(published(t))
		routers := 0
		for i, row := range tbl.Rows {
			if row.Role != trace.RoleRouter {
				continue
			}
			routers++
			w := want.Rows[i]
			if !strings.HasPrefix(row.Owner, "router t1-") || row.Owner != w.Owner {
				t.Errorf("%s: router row %s VLAN %d: owner %q, want %q (the router's name, not its id)", api, row.MAC, row.VLAN, row.Owner, w.Owner)
			}
			if row.FabricPort == "" || api == APIManagement && row.FabricPort != w.FabricPort {
				t.Errorf("%s: router row %s VLAN %d: fabric port %q, over the fabric itself %q", api, row.MAC, row.VLAN, row.FabricPort, w.FabricPort)
			}
		}
		if routers == 0 {
			t.Fatalf("%s: no router rows: the published node 172.15.0.3 learned the router MAC on every pod VLAN", api)
		}
		big := published(t)
		big.AddScale(20000, 500)
		if _, large := count(big); large != small {
			t.Fatalf("%s macs: %d requests on the published fabric, %d with 20,000 more ports and 500 more tier-1s", api, small, large)
		}
	}
}

// On generated clusters with hypervisors (the scale harness's shape), a pod-to-node walk reads the
// same requests at 20 nodes on 5 hosts as at 400 nodes on 50: two hosts, their tunnels to each
// other, the sections that apply to its ports.
func TestOverlayRequestsOnSyntheticClusters(t *testing.T) {
	count := func(o scenario.SyntheticOptions) int {
		snap := scenario.Synthetic(o)
		s := nsxtest.New(nsxtest.FromFabric(snap.Fabric), nsxtest.Options{Password: testPassword})
		defer s.Close()
		p, _ := newTestProvider(t, s, nil)
		req := trace.Request{Source: trace.PodRef{Namespace: snap.Cluster.Pods[1].Namespace, Name: snap.Cluster.Pods[1].Name},
			To: trace.Target{Kind: trace.TargetNode, Name: scenario.NodeName(7)}}
		f, warns, err := p.Collect(context.Background(), queryFor(snap, req))
		if err != nil || len(warns) != 0 {
			t.Fatalf("err %v, warnings %q", err, warns)
		}
		if len(f.Hosts) != 2 || f.Firewall == nil || len(f.Firewall.Rules) != 1 || !f.Firewall.Rules[0].Default {
			t.Fatalf("%d nodes: hosts %+v, firewall %+v: want the two endpoints' hosts and only the default rule (the NetworkPolicy isolates another pod)", o.Nodes, f.Hosts, f.Firewall)
		}
		return s.Requests()
	}
	small := count(scenario.SyntheticOptions{Nodes: 20, PodsPerNode: 3, Namespaces: 4, Hosts: 5})
	if large := count(scenario.SyntheticOptions{Nodes: 400, PodsPerNode: 3, Namespaces: 4, Hosts: 50}); large != small {
		t.Fatalf("pod-to-node walk: %d requests at 20 nodes on 5 hosts, %d at 400 nodes on 50", small, large)
	}
}

// A manager that fails the overlay's reads leaves the walk's path intact: a transport node that
// answers 503 is a warning naming the read, its host is kept with what was read (no tunnel: the
// walk cannot say the tunnel is up); a section's rules that fail make the firewall incomplete
// (a flow no rule read matches is then unknown, not allowed by default), with the warning.
func TestOverlayReadsThatFail(t *testing.T) {
	src := scenario.HostOf("172.15.0.3")
	for _, tc := range []struct {
		name, prefix string
		check        func(t *testing.T, f *trace.Fabric, warns []string)
	}{
		{"tunnels", "/api/v1/transport-nodes/" + src + "/tunnels", func(t *testing.T, f *trace.Fabric, warns []string) {
			h := hostByID(f, src)
			if h == nil || len(h.Tunnels) != 0 || len(h.TEPs) != 1 {
				t.Fatalf("host %s: %+v, want its TEP and no tunnel", src, h)
			}
			if len(warns) != 1 || !strings.Contains(warns[0], "GET /api/v1/transport-nodes/"+src+"/tunnels with 503") {
				t.Fatalf("warnings %q", warns)
			}
		}},
		{"rules", "/api/v1/firewall/sections/default-l3-section/rules", func(t *testing.T, f *trace.Fabric, warns []string) {
			if f.Firewall == nil || f.Firewall.Complete || len(f.Firewall.Warnings) != 1 || len(f.Firewall.Rules) != 0 {
				t.Fatalf("firewall %+v: want incomplete, with the failed read", f.Firewall)
			}
			if len(warns) != 1 || !strings.Contains(warns[0], "default-l3-section/rules with 503") {
				t.Fatalf("warnings %q", warns)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword})
			defer s.Close()
			s.Inject(tc.prefix, 1000, nsxtest.Fault{Status: 503, RetryAfter: "0"})
			p, _ := newTestProvider(t, s, nil)
			f, warns, err := p.Collect(context.Background(), kubeDNSToNode())
			if err != nil {
				t.Fatal(err)
			}
			if w := walkWith(t, f); tc.name == "rules" {
				// An incomplete firewall decides nothing: the walk is unknown there, not allowed.
				if w.Verdict != trace.VerdictUnknown || !strings.Contains(w.Reason, "is not known") {
					t.Fatalf("verdict %s (%s), want unknown at the firewall", w.Verdict, w.Reason)
				}
			} else {
				assertPublishedWalk(t, w)
			}
			tc.check(t, f, warns)
		})
	}
}

// A bundle reads each host's tunnels to the last page: a manager that pages them by two still
// gives every tunnel of the mesh.
func TestTunnelsPaged(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword, PageSize: 1})
	defer s.Close()
	p, _ := newTestProvider(t, s, func(c *Config) { c.PageSize = 1 })
	f, warns, err := p.Collect(context.Background(), fabric.Query{All: true})
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	if len(f.Hosts) != 3 {
		t.Fatalf("%d hosts, want the 3 placeholders", len(f.Hosts))
	}
	for _, h := range f.Hosts {
		if len(h.Tunnels) != 2 {
			t.Errorf("host %s: %d tunnels over pages of one, want 2", h.ID, len(h.Tunnels))
		}
		if h.HostSwitchMTU == 0 {
			t.Errorf("host %s: no uplink MTU", h.ID)
		}
	}
	// The uplink MTU comes from the profiles' list: no profile is read alone beside it.
	for path, n := range s.RequestsByPath() {
		if strings.HasPrefix(path, "/api/v1/host-switch-profiles/") {
			t.Errorf("%d reads of %s beside the profiles' list", n, path)
		}
	}
}

// A bundle through the Policy API holds the same hosts and the same firewall rules, in the same
// order, as the published fabric (a security policy is named by its path there).
func TestAllOverlayFromPolicyAPI(t *testing.T) {
	s := nsxtest.New(published(t), nsxtest.Options{Password: testPassword, PageSize: 3})
	defer s.Close()
	p, _ := newTestProvider(t, s, func(c *Config) { c.API, c.PageSize = APIPolicy, 3 })
	f, warns, err := p.Collect(context.Background(), fabric.Query{All: true})
	if err != nil || len(warns) != 0 {
		t.Fatalf("err %v, warnings %q", err, warns)
	}
	want := scenario.Published().Fabric
	if len(f.Hosts) != len(want.Hosts) {
		t.Fatalf("%d hosts, want %d", len(f.Hosts), len(want.Hosts))
	}
	for i, h := range f.Hosts {
		w := want.Hosts[i]
		if h.ID != w.ID || h.Name != w.Name || h.HostSwitchMTU != w.HostSwitchMTU || len(h.TEPs) != 1 || h.TEPs[0].IP != w.TEPs[0].IP || len(h.Tunnels) != len(w.Tunnels) {
			t.Errorf("host %d: %+v, want %+v", i, h, w)
		}
	}
	line := func(r trace.FirewallRule) string {
		return strings.Join([]string{r.ID, r.Name, r.SectionName, r.Direction, r.Action, strconv.FormatBool(r.Default), strings.Join(r.AppliedTo.Ports, ","), fmt.Sprint(r.Origin)}, " ")
	}
	var got, exp []string
	for _, r := range f.Firewall.Rules {
		got = append(got, line(r))
	}
	for _, r := range want.Firewall.Rules {
		exp = append(exp, line(r))
	}
	if strings.Join(got, "\n") != strings.Join(exp, "\n") || f.Firewall.DefaultAction != trace.FirewallAllow {
		t.Fatalf("rules:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(exp, "\n"))
	}
	for _, sp := range f.SwitchPorts {
		if sp.Pod != nil && sp.Host == "" {
			t.Errorf("pod port %s bound to no host", sp.ID)
		}
	}
}

// A rule's L4 services are read as the model's services (MP inline L4PortSetNSService, Policy
// L4PortSetServiceEntry).
func TestFirewallServices(t *testing.T) {
	for _, api := range []string{APIManagement, APIPolicy} {
		t.Run(api, func(t *testing.T) {
			snap := scenario.Published()
			for _, v := range scenario.OverlayVariants {
				if v.Name == "policy-drop" {
					v.Break(snap)
				}
			}
			snap.Fabric.Firewall.Rules[0].Services = []trace.FirewallService{{Protocol: "udp", Ports: []string{"53"}}}
			top := nsxtest.FromFabric(snap.Fabric)
			s := nsxtest.New(top, nsxtest.Options{Password: testPassword})
			defer s.Close()
			p, _ := newTestProvider(t, s, func(c *Config) { c.API = api })
			f, warns, err := p.Collect(context.Background(), kubeDNSToNode())
			if err != nil || len(warns) != 0 {
				t.Fatalf("err %v, warnings %q", err, warns)
			}
			r := f.Firewall.Rules[0]
			if len(r.Services) != 1 || r.Services[0].Protocol != "udp" || strings.Join(r.Services[0].Ports, ",") != "53" || r.Unknown != "" {
				t.Fatalf("rule %s: services %+v, unknown %q", r.Name, r.Services, r.Unknown)
			}
		})
	}
}
