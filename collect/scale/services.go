package scale

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// The Service walk at scale: what NCP writes for Services and egress grows with the cluster — a
// LoadBalancer Service (virtual server, pool, members) per node and a SNAT rule per namespace on
// the tier-0 — and a walk to one Service and out must read the same at every size.

// ExternalIP is the address beyond the tier-0 uplink the Service measurement walks out to.
const ExternalIP = "198.51.100.7"

// serviceMembers is how many pods each generated Service balances over.
const serviceMembers = 3

// ServiceVIP is the LoadBalancer address of node i's Service.
func ServiceVIP(i int) string { return fmt.Sprintf("198.18.%d.%d", i/256, i%256) }

// serviceOf is node i's Service: in the namespace of the node's first pod, balancing over that
// pod and the next pods of its namespace (on later nodes), with the nodes they run on.
func (z Size) serviceOf(i int) (ns string, members []trace.LBBackend, nodes []string) {
	ns, _, _ = z.PodOf(i, 0)
	g := i * z.PodsPerNode
	for m := 0; m < serviceMembers; m++ {
		gm := g + m*z.Namespaces
		if gm >= z.Pods() {
			gm = g - m*z.Namespaces // the last nodes' Services balance over earlier nodes' pods
		}
		if gm < 0 {
			break
		}
		_, name, ip := z.PodOf(gm/z.PodsPerNode, gm%z.PodsPerNode)
		members = append(members, trace.LBBackend{IP: ip, Port: 8080, Name: name, Status: trace.BackendUp})
		nodes = append(nodes, scenario.NodeName(gm/z.PodsPerNode))
	}
	return ns, members, nodes
}

// WithServices gives a synthetic fabric of size z a tier-0 uplink with a default route out, a
// LoadBalancer Service per node on its namespace's tier-1, and a SNAT rule per namespace.
func WithServices(z Size, f *trace.Fabric) {
	f.RouterPorts = append(f.RouterPorts, trace.RouterPort{ID: "t0-uplink", Name: "t0_uplink_1", Router: "t0", Kind: trace.RouterPortUplink,
		Networks: []string{"203.0.113.2/24"}, MAC: "02:50:56:56:00:01"})
	f.Routes = append(f.Routes, trace.FabricRoute{Router: "t0", Prefix: "0.0.0.0/0", NextHop: "203.0.113.1", Origin: trace.OriginStatic})
	for i := 0; i < z.Nodes; i++ {
		ns, members, _ := z.serviceOf(i)
		id := fmt.Sprintf("svc-%04d_80_TCP", i)
		f.LoadBalancers = append(f.LoadBalancers, trace.LoadBalancer{ID: id, Name: id, Kind: trace.LBKindNSXVirtualServer, Protocol: trace.ProtocolTCP,
			Routers: []string{"t1-" + ns}, Service: &trace.PodRef{Namespace: ns, Name: fmt.Sprintf("svc-%04d", i)},
			VIPs: []trace.LBVIP{{IP: ServiceVIP(i), Port: 80, Pool: id, Backends: members}}})
	}
	for k := 0; k < z.Namespaces; k++ {
		ns := scenario.NamespaceName(k)
		f.NATRules = append(f.NATRules, trace.NATRule{ID: "snat-" + ns, Name: "snat-" + ns, Type: trace.NATSnat, Router: "t0",
			Match: trace.NATMatch{Source: namespaceCIDR(z, k)}, TranslatedIP: fmt.Sprintf("203.0.113.%d", 10+k%200), Priority: 1024,
			Origin: &trace.NATOrigin{Kind: trace.NATOriginNamespace, Namespace: ns}})
	}
}

// namespaceCIDR is namespace k's subnet: its switch's, as Synthetic gives it.
func namespaceCIDR(z Size, k int) string {
	_, _, ip := z.PodOf(k/z.PodsPerNode, k%z.PodsPerNode) // the first pod of namespace k
	a := netip.MustParseAddr(ip)
	p, _ := a.Prefix(20)
	return p.String()
}

// ServiceQuery is the fabric query of `trace POD --to svc/NS/svc-LAST` (pod 0 of node 1 to the
// last node's Service: its VIP and its endpoints) and of `trace POD --to ExternalIP`.
func (z Size) ServiceQuery() fabric.Query {
	ns, name, ip := z.PodOf(1, 0)
	q := fabric.Query{Sources: []fabric.Endpoint{{IP: netip.MustParseAddr(ip), Node: scenario.NodeName(1), Pod: &trace.PodRef{Namespace: ns, Name: name}}}}
	last := z.Nodes - 1
	sns, members, nodes := z.serviceOf(last)
	for i, m := range members {
		q.Destinations = append(q.Destinations, fabric.Endpoint{IP: netip.MustParseAddr(m.IP), Node: nodes[i], Pod: &trace.PodRef{Namespace: sns, Name: m.Name}})
	}
	q.Destinations = append(q.Destinations, fabric.Endpoint{IP: netip.MustParseAddr(ExternalIP)})
	q.VIPs = []netip.Addr{netip.MustParseAddr(ServiceVIP(last))}
	return q
}

// ServiceReads is what the NSX provider asked for one Service-and-out walk of size z, through api.
type ServiceReads struct {
	Requests      int
	Bytes         int64
	LoadBalancers int
	NATRules      int
	Backends      int
}

// MeasureServiceWalk generates size z with its Services, serves it from nsxtest and collects the
// Service walk's fabric through the NSX provider, counting the manager's requests.
func MeasureServiceWalk(ctx context.Context, z Size, api string) (ServiceReads, error) {
	o := z.options()
	o.NodeState = func(int) bool { return false } // the fabric alone: no node's state is read
	snap := scenario.Synthetic(o)
	WithServices(z, snap.Fabric)
	srv := nsxtest.New(nsxtest.FromFabric(snap.Fabric), nsxtest.Options{Password: nsxPassword})
	defer srv.Close()
	if tr, ok := srv.Client().Transport.(*http.Transport); ok {
		tr.MaxIdleConnsPerHost = 32
	}
	os.Setenv("PW_SCALE_NSX_PASSWORD", nsxPassword)
	p, err := nsx.New(nsx.Config{Manager: srv.URL, HTTPClient: srv.Client(), API: api, PasswordEnv: "PW_SCALE_NSX_PASSWORD"})
	if err != nil {
		return ServiceReads{}, err
	}
	srv.ResetCounters()
	f, warns, err := p.Collect(ctx, z.ServiceQuery())
	if err != nil {
		return ServiceReads{}, err
	}
	if len(warns) > 0 {
		return ServiceReads{}, fmt.Errorf("%s: %s", z.Name, strings.Join(warns, "; "))
	}
	r := ServiceReads{Requests: srv.Requests(), Bytes: srv.Bytes(), LoadBalancers: len(f.LoadBalancers), NATRules: len(f.NATRules)}
	for _, lb := range f.LoadBalancers {
		for _, v := range lb.VIPs {
			r.Backends += len(v.Backends)
		}
	}
	return r, nil
}
