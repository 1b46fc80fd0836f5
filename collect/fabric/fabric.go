// Package fabric defines what an SDN provider (NSX-T, OVN) gives a walk: the logical switches, ports,
// routers, router ports and routes on the path, as the fabric part of a trace.Snapshot.
package fabric

import (
	"context"
	"net/netip"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Endpoint is one end of a walk as the fabric sees it: an IP, maybe a MAC, the node it lives on,
// and the pod it belongs to.
type Endpoint struct {
	IP   netip.Addr
	MAC  string
	Node string
	Pod  *trace.PodRef
	// IfaceID is the external_ids:iface-id of the pod's interface on its node's OVS, when the node
	// was read first: the binding key the CNI wrote, the name of the pod's OVN logical port.
	IfaceID string
}

// Query says which fabric objects a walk (or a set of walks) needs. A provider returns at least
// everything on the forward and return paths between every pair of Sources x Destinations: the
// logical ports bound to each endpoint (and a CHILD port's parent VIF), their switches, the router
// ports on those switches, every router the routes lead through with all its ports and routes,
// and the ports of the switches where the paths end.
type Query struct {
	Sources      []Endpoint
	Destinations []Endpoint
	// Nodes whose VIFs (and the CHILD ports under them) are wanted, for `macs`.
	Nodes []string
	// Ports are endpoints whose logical ports are wanted without the paths between them: the
	// nodes of Nodes and their pods (`macs`), with what the nodes' OVS says of them.
	Ports []Endpoint
	// All asks for the whole fabric (a support bundle); providers may refuse it on huge fabrics.
	All bool
	// VIPs are Service addresses (load balancer ingress, external and cluster IPs) whose fabric
	// load balancers the walk needs: NSX virtual servers and their pools, OVN Load_Balancer rows.
	// A Destination that is an address alone (no pod, no node) is looked up the same way.
	VIPs []netip.Addr
}

// Provider reads a fabric. Collect never changes the fabric.
type Provider interface {
	// Name is "nsx" or "ovn".
	Name() string
	// Collect returns the objects the query needs, warnings for what it could not read, and an
	// error only when nothing useful could be read (unreachable, unauthorised).
	Collect(ctx context.Context, q Query) (*trace.Fabric, []string, error)
}

// NameResolver is implemented by providers whose Collect can find an endpoint from its names
// alone: an Endpoint with Pod set and no IP (the pod's port), or with only Node (that node's VIF),
// the IP then coming from the port found. A caller may so start the fabric read before the
// Kubernetes API has answered with the IPs.
type NameResolver interface {
	// ResolvesNames says whether this provider, as configured, resolves such endpoints.
	ResolvesNames() bool
}

// Preparer is implemented by providers that can start connecting before Collect is called (OVN:
// the database connections, made while the API and the nodes are read). Prepare returns at once;
// release closes whatever the next Collect did not take.
type Preparer interface {
	Prepare(ctx context.Context) (release func())
}

// NodeBinder is implemented by providers that find an endpoint's port best from what its node
// says (the OVS interface's iface-id, the pod's MAC): the caller then reads the nodes first and
// fills Endpoint.IfaceID and MAC before Collect.
type NodeBinder interface {
	// BindsByNode says whether Collect wants the node facts first.
	BindsByNode() bool
}

// ReadAheader is implemented by NodeBinders that can read, while the nodes are read, what the
// query without the node facts names (no IfaceID, no MAC): the next Collect then asks its source
// only for what that read did not already answer (OVN: the selects it did not make, such as the
// port named by an iface-id no known naming gives). Collect's result is the same as without it.
// stop ends the read and waits for it; the caller calls it once Collect returned (or never ran).
type ReadAheader interface {
	ReadAhead(ctx context.Context, q Query) (stop func())
}
