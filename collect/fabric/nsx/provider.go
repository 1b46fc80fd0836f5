package nsx

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// maxRouterHops bounds the routers one path is followed through while fetching (as the engine does).
const maxRouterHops = 32

type provider struct {
	cfg Config
	c   *client
}

func (p *provider) Name() string { return "nsx" }

// Collect reads what q needs. Problems reading one object become warnings (the walk then says
// what is missing); refused credentials, an unreachable manager or nothing read at all are errors.
func (p *provider) Collect(ctx context.Context, q fabric.Query) (*trace.Fabric, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Deadline)
	defer cancel()
	st := newState(p.c)
	var err error
	if p.cfg.API == APIPolicy {
		err = st.runPolicy(ctx, q)
	} else {
		err = st.run(ctx, q)
	}
	var ae *authError
	if errors.As(err, &ae) {
		return nil, nil, err
	}
	if err != nil && st.empty() {
		return nil, st.warnings, err
	}
	if st.empty() && len(st.warnings) > 0 {
		return nil, st.warnings[1:], errors.New(st.warnings[0])
	}
	if err != nil {
		st.warn("%v", err)
	}
	return st.fabric(), st.warnings, nil
}

// state is what one Collect has read so far.
type state struct {
	c        *client
	switches map[string]*trace.Switch
	ports    map[string]*trace.SwitchPort
	routers  map[string]*trace.Router
	rports   map[string]*trace.RouterPort
	static   map[string][]staticRoute
	adv      map[string]*advertisement
	runtime  map[string][]routeEntry
	// switch-side ports known only from a router port's linked_logical_switch_port_id
	synthetic map[string]bool

	switchDone   map[string]bool
	routerDone   map[string]bool
	childrenDone map[string]bool
	attachDone   map[string]bool
	missing      map[string]bool
	noSearch     bool
	allPorts     bool
	warnings     []string
	// policy: policy path of each router, and router id by policy path
	policy *policyState
}

func newState(c *client) *state {
	return &state{c: c, switches: map[string]*trace.Switch{}, ports: map[string]*trace.SwitchPort{}, routers: map[string]*trace.Router{},
		rports: map[string]*trace.RouterPort{}, static: map[string][]staticRoute{}, adv: map[string]*advertisement{}, runtime: map[string][]routeEntry{},
		synthetic: map[string]bool{}, switchDone: map[string]bool{}, routerDone: map[string]bool{}, childrenDone: map[string]bool{},
		attachDone: map[string]bool{}, missing: map[string]bool{}}
}

func (st *state) warn(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	for _, x := range st.warnings {
		if x == w {
			return
		}
	}
	st.warnings = append(st.warnings, w)
}

func (st *state) empty() bool {
	return len(st.ports) == 0 && len(st.routers) == 0 && len(st.switches) == 0
}

// fatal says whether an error must stop the whole collection rather than become a warning:
// refused credentials, an unreachable manager, the deadline.
func fatal(err error) bool {
	var ae *authError
	var te *transportError
	return errors.As(err, &ae) || errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded)
}

// soft turns an error into a warning unless it must stop the collection.
func (st *state) soft(err error) error {
	if err == nil || fatal(err) {
		return err
	}
	st.warn("%v", err)
	return nil
}

func (st *state) addPort(lp lport) *trace.SwitchPort {
	sp := lp.switchPort()
	st.ports[sp.ID] = &sp
	delete(st.synthetic, sp.ID)
	return &sp
}

func (st *state) addRouterPort(p lrport) *trace.RouterPort {
	rp := p.routerPort()
	if old := st.rports[rp.ID]; old != nil && rp.PeerRouterPort == "" {
		rp.PeerRouterPort = old.PeerRouterPort
	}
	st.rports[rp.ID] = &rp
	// Only the TIER1 side of a link names its peer: record the link on the TIER0 side too.
	if peer := st.rports[rp.PeerRouterPort]; peer != nil && peer.PeerRouterPort == "" {
		peer.PeerRouterPort = rp.ID
	}
	for _, other := range st.rports {
		if other.PeerRouterPort == rp.ID && rp.PeerRouterPort == "" {
			rp.PeerRouterPort = other.ID
		}
	}
	return &rp
}

// run is the Management API collection.
func (st *state) run(ctx context.Context, q fabric.Query) error {
	if q.All {
		return st.all(ctx)
	}
	eps := map[string]*trace.SwitchPort{}
	for _, ep := range append(append([]fabric.Endpoint{}, q.Sources...), q.Destinations...) {
		sp, err := st.endpoint(ctx, ep)
		if err != nil {
			return err
		}
		if sp != nil {
			eps[ep.IP.String()] = sp
		}
	}
	for _, s := range q.Sources {
		for _, d := range q.Destinations {
			for _, pair := range [][2]fabric.Endpoint{{s, d}, {d, s}} {
				from := eps[pair[0].IP.String()]
				if from == nil || !pair[1].IP.IsValid() {
					continue
				}
				if err := st.follow(ctx, from.Switch, pair[1].IP); err != nil {
					return err
				}
			}
		}
	}
	for _, n := range q.Nodes {
		if err := st.node(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// searchPorts asks the search API for logical ports; false when the manager has no search API.
func (st *state) searchPorts(ctx context.Context, terms ...string) ([]lport, bool, error) {
	if st.noSearch {
		return nil, false, nil
	}
	q := url.Values{"query": {strings.Join(append([]string{"resource_type:LogicalPort"}, terms...), " AND ")}}
	res, err := list[lport](ctx, st.c, "/api/v1/search/query", q)
	if isNotFound(err) {
		st.noSearch = true
		st.warn("NSX Manager %s has no search API (/api/v1/search/query): listed every logical port instead", st.c.base.Host)
		return nil, false, nil
	}
	return res, true, err
}

func quote(v string) string { return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"` }

// listAllPorts is the fallback without a search API: every logical port, once.
func (st *state) listAllPorts(ctx context.Context) error {
	if st.allPorts {
		return nil
	}
	st.allPorts = true
	all, err := list[lport](ctx, st.c, "/api/v1/logical-ports", nil)
	for _, lp := range all {
		if st.ports[lp.ID] == nil || st.synthetic[lp.ID] {
			st.addPort(lp)
		}
	}
	return err
}

// endpoint finds the logical port bound to an endpoint's IP (else its MAC), its parent VIF and
// the parent's other children (for duplicate traffic tags), its switch and the switch's routers.
func (st *state) endpoint(ctx context.Context, ep fabric.Endpoint) (*trace.SwitchPort, error) {
	if !ep.IP.IsValid() {
		return nil, nil
	}
	ip := ep.IP.Unmap().String()
	found, ok, err := st.searchPorts(ctx, "address_bindings.ip_address:"+quote(ip))
	if err := st.soft(err); err != nil {
		return nil, err
	}
	if ok && len(found) == 0 && ep.MAC != "" {
		found, _, err = st.searchPorts(ctx, "address_bindings.mac_address:"+quote(ep.MAC))
		if err := st.soft(err); err != nil {
			return nil, err
		}
	}
	for _, lp := range found {
		st.addPort(lp)
	}
	if !ok {
		if err := st.soft(st.listAllPorts(ctx)); err != nil {
			return nil, err
		}
	}
	sp := st.bestPort(ep)
	if sp == nil {
		st.warn("no NSX logical port is bound to %s", ip)
		return nil, nil
	}
	if sp.ParentVIF != "" {
		if err := st.byAttachment(ctx, sp.ParentVIF); err != nil {
			return nil, err
		}
		if err := st.children(ctx, sp.ParentVIF); err != nil {
			return nil, err
		}
	}
	if err := st.ensureSwitch(ctx, sp.Switch, true); err != nil {
		return nil, err
	}
	return sp, nil
}

// bestPort picks the endpoint's port among those read: pod tag, then CHILD, then IP, then MAC.
func (st *state) bestPort(ep fabric.Endpoint) *trace.SwitchPort {
	var best *trace.SwitchPort
	score := 0
	for _, sp := range st.sortedPorts() {
		if sp.Type == trace.PortRouter {
			continue
		}
		s := 0
		if contains(sp.IPs, ep.IP.Unmap().String()) {
			s += 2
		} else if ep.MAC == "" || !containsFold(sp.MACs, ep.MAC) {
			continue
		}
		if ep.Pod != nil && sp.Pod != nil && *ep.Pod == *sp.Pod {
			s += 8
		}
		if sp.Type == trace.PortChild {
			s += 4
		}
		if ep.MAC != "" && containsFold(sp.MACs, ep.MAC) {
			s++
		}
		if s > score {
			best, score = sp, s
		}
	}
	return best
}

func containsFold(xs []string, x string) bool {
	for _, y := range xs {
		if strings.EqualFold(y, x) {
			return true
		}
	}
	return false
}

func (st *state) sortedPorts() []*trace.SwitchPort {
	out := make([]*trace.SwitchPort, 0, len(st.ports))
	for _, p := range st.ports {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// byAttachment reads the port of a VIF attachment (a CHILD port's parent).
func (st *state) byAttachment(ctx context.Context, att string) error {
	if st.attachDone[att] || st.allPorts {
		return nil
	}
	st.attachDone[att] = true
	res, err := list[lport](ctx, st.c, "/api/v1/logical-ports", url.Values{"attachment_id": {att}})
	for _, lp := range res {
		st.addPort(lp)
	}
	if err == nil && len(res) == 0 {
		st.warn("no NSX logical port has the attachment %s (a CHILD port's parent VIF)", att)
	}
	return st.soft(err)
}

// children reads the CHILD ports of a parent VIF.
func (st *state) children(ctx context.Context, parentVIF string) error {
	if st.childrenDone[parentVIF] || st.allPorts {
		return nil
	}
	st.childrenDone[parentVIF] = true
	res, err := list[lport](ctx, st.c, "/api/v1/logical-ports", url.Values{"parent_vif_id": {parentVIF}})
	for _, lp := range res {
		st.addPort(lp)
	}
	return st.soft(err)
}

// ensureSwitch reads a logical switch and the router ports linked to it; withRouters also reads
// those routers (a walk's gateway).
func (st *state) ensureSwitch(ctx context.Context, id string, withRouters bool) error {
	if id == "" {
		return nil
	}
	if st.policy != nil {
		return st.ensureSegment(ctx, id)
	}
	if !st.switchDone[id] {
		st.switchDone[id] = true
		var ls lswitch
		err := st.c.get(ctx, "/api/v1/logical-switches/"+url.PathEscape(id), nil, &ls)
		if err == nil {
			st.switches[id] = &trace.Switch{ID: ls.ID, Name: ls.DisplayName, Source: trace.SourceNSX}
		} else if err := st.soft(err); err != nil {
			return err
		}
		rps, err := list[lrport](ctx, st.c, "/api/v1/logical-router-ports", url.Values{"logical_switch_id": {id}})
		if err := st.soft(err); err != nil {
			return err
		}
		for _, p := range rps {
			rp := st.addRouterPort(p)
			if sp := rp.LinkedSwitchPort; sp != "" && st.ports[sp] == nil {
				// The router port names its switch-side port; the filter says which switch it is on.
				st.ports[sp] = &trace.SwitchPort{ID: sp, Switch: id, Type: trace.PortRouter, RouterPort: rp.ID, Source: trace.SourceNSX}
				st.synthetic[sp] = true
			}
		}
	}
	if !withRouters {
		return nil
	}
	for _, rp := range st.sortedRouterPorts() {
		if sp := st.ports[rp.LinkedSwitchPort]; sp != nil && sp.Switch == id {
			if err := st.ensureRouter(ctx, rp.Router); err != nil {
				return err
			}
		}
	}
	return nil
}

func (st *state) sortedRouterPorts() []*trace.RouterPort {
	out := make([]*trace.RouterPort, 0, len(st.rports))
	for _, p := range st.rports {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// getRouterPort reads one router port by id (a link's peer).
func (st *state) getRouterPort(ctx context.Context, id string) (*trace.RouterPort, error) {
	if rp := st.rports[id]; rp != nil {
		return rp, nil
	}
	if st.missing[id] {
		return nil, nil
	}
	var p lrport
	err := st.c.get(ctx, "/api/v1/logical-router-ports/"+url.PathEscape(id), nil, &p)
	if err != nil {
		st.missing[id] = true
		if isNotFound(err) {
			st.warn("router port %s is named as a link peer but does not exist in NSX", id)
			return nil, nil
		}
		return nil, st.soft(err)
	}
	return st.addRouterPort(p), nil
}

// getPort reads one logical port by id.
func (st *state) getPort(ctx context.Context, id string) (*trace.SwitchPort, error) {
	if sp := st.ports[id]; sp != nil {
		return sp, nil
	}
	if st.missing[id] {
		return nil, nil
	}
	var lp lport
	if err := st.c.get(ctx, "/api/v1/logical-ports/"+url.PathEscape(id), nil, &lp); err != nil {
		st.missing[id] = true
		if isNotFound(err) {
			st.warn("logical port %s is named by a router port but does not exist in NSX", id)
			return nil, nil
		}
		return nil, st.soft(err)
	}
	return st.addPort(lp), nil
}

// ensureRouter reads a router, its ports (a tier-0's uplinks and downlinks only: its link ports
// grow with the number of tier-1s and are read one by one, as the links on the path name them),
// the peers of its link ports, its static routes, a tier-1's advertisement, and the runtime
// route table where the manager offers it.
func (st *state) ensureRouter(ctx context.Context, id string) error {
	if id == "" || st.routerDone[id] {
		return nil
	}
	if st.policy != nil {
		// Policy routers are read as their segments and links name them; a peer's router is a tier-0.
		return st.ensurePolicyRouter(ctx, "/infra/tier-0s/"+id)
	}
	st.routerDone[id] = true
	var lr lrouter
	if err := st.c.get(ctx, "/api/v1/logical-routers/"+url.PathEscape(id), nil, &lr); err != nil {
		if isNotFound(err) {
			st.warn("logical router %s is named by a router port but does not exist in NSX", id)
			return nil
		}
		return st.soft(err)
	}
	r := lr.router()
	st.routers[id] = &r
	base := "/api/v1/logical-routers/" + url.PathEscape(id) + "/routing/"
	var filters []url.Values
	if r.Tier == trace.Tier0 {
		filters = []url.Values{
			{"logical_router_id": {id}, "resource_type": {"LogicalRouterUpLinkPort"}},
			{"logical_router_id": {id}, "resource_type": {"LogicalRouterDownLinkPort"}},
		}
	} else {
		filters = []url.Values{{"logical_router_id": {id}}}
	}
	for _, f := range filters {
		rps, err := list[lrport](ctx, st.c, "/api/v1/logical-router-ports", f)
		if err := st.soft(err); err != nil {
			return err
		}
		for _, p := range rps {
			rp := st.addRouterPort(p)
			if rp.PeerRouterPort != "" {
				if _, err := st.getRouterPort(ctx, rp.PeerRouterPort); err != nil {
					return err
				}
			}
		}
	}
	srs, err := list[staticRoute](ctx, st.c, base+"static-routes", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	st.static[id] = srs
	if r.Tier == trace.Tier1 {
		var a advertisement
		err := st.c.get(ctx, base+"advertisement", nil, &a)
		if err == nil {
			st.adv[id] = &a
		} else if err := st.soft(err); err != nil {
			return err
		}
	}
	return st.routeTable(ctx, id)
}

// routeTable reads a router's runtime route table; a manager that cannot serve it for this router
// (no edge transport node, older version) answers 4xx and the routes come from configuration.
func (st *state) routeTable(ctx context.Context, id string) error {
	rt, err := list[routeEntry](ctx, st.c, "/api/v1/logical-routers/"+url.PathEscape(id)+"/routing/route-table", nil)
	switch {
	case isNotFound(err):
		return nil
	case err != nil:
		return st.soft(err)
	}
	st.runtime[id] = rt
	return nil
}

// follow reads the routers a packet from switch `from` to dst passes, asking the engine's own
// longest-prefix match (trace.RouteStep) on what has been read so far which peer comes next.
func (st *state) follow(ctx context.Context, from string, dst netip.Addr) error {
	for _, rp := range st.sortedRouterPorts() {
		sp := st.ports[rp.LinkedSwitchPort]
		if sp == nil || sp.Switch != from {
			continue
		}
		rid := rp.Router
		seen := map[string]bool{}
		for hop := 0; hop < maxRouterHops && rid != "" && !seen[rid]; hop++ {
			seen[rid] = true
			if err := st.ensureRouter(ctx, rid); err != nil {
				return err
			}
			step := trace.RouteStep(st.fabric(), rid, dst)
			if !step.Found {
				break
			}
			if step.Connected {
				if out := st.rports[step.OutPort]; out != nil && out.LinkedSwitchPort != "" {
					sp, err := st.getPort(ctx, out.LinkedSwitchPort)
					if err != nil {
						return err
					}
					if sp != nil {
						if err := st.ensureSwitch(ctx, sp.Switch, false); err != nil {
							return err
						}
					}
				}
				break
			}
			if step.PeerPort == "" {
				break // out an uplink: beyond the fabric
			}
			peer, err := st.getRouterPort(ctx, step.PeerPort)
			if err != nil {
				return err
			}
			if peer == nil {
				break
			}
			rid = peer.Router
		}
	}
	return nil
}

// node reads a node's VIFs (tagged ncp/node_name by NCP) and the CHILD ports under them.
func (st *state) node(ctx context.Context, name string) error {
	found, ok, err := st.searchPorts(ctx, "tags.scope:"+quote("ncp/node_name"), "tags.tag:"+quote(name))
	if err := st.soft(err); err != nil {
		return err
	}
	for _, lp := range found {
		st.addPort(lp)
	}
	if !ok {
		if err := st.soft(st.listAllPorts(ctx)); err != nil {
			return err
		}
	}
	var vifs []*trace.SwitchPort
	for _, sp := range st.sortedPorts() {
		if sp.NodeName == name && sp.Type == trace.PortVIF {
			vifs = append(vifs, sp)
		}
	}
	if len(vifs) == 0 {
		st.warn("no NSX logical port is tagged ncp/node_name=%s", name)
	}
	switches := map[string]bool{}
	for _, v := range vifs {
		switches[v.Switch] = true
		if err := st.children(ctx, v.AttachmentID); err != nil {
			return err
		}
	}
	for _, sp := range st.sortedPorts() {
		if par := sp.ParentVIF; par != "" && sp.Type == trace.PortChild {
			for _, v := range vifs {
				if v.AttachmentID == par {
					switches[sp.Switch] = true
				}
			}
		}
	}
	ids := make([]string, 0, len(switches))
	for id := range switches {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := st.ensureSwitch(ctx, id, false); err != nil {
			return err
		}
	}
	return nil
}

// all reads the whole fabric (a support bundle), every list paginated.
func (st *state) all(ctx context.Context) error {
	st.allPorts = true
	lss, err := list[lswitch](ctx, st.c, "/api/v1/logical-switches", nil)
	if err != nil {
		return err
	}
	for _, ls := range lss {
		st.switches[ls.ID] = &trace.Switch{ID: ls.ID, Name: ls.DisplayName, Source: trace.SourceNSX}
		st.switchDone[ls.ID] = true
	}
	lps, err := list[lport](ctx, st.c, "/api/v1/logical-ports", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, lp := range lps {
		st.addPort(lp)
	}
	rps, err := list[lrport](ctx, st.c, "/api/v1/logical-router-ports", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, p := range rps {
		st.addRouterPort(p)
	}
	lrs, err := list[lrouter](ctx, st.c, "/api/v1/logical-routers", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, lr := range lrs {
		r := lr.router()
		st.routers[r.ID] = &r
	}
	for _, lr := range lrs {
		base := "/api/v1/logical-routers/" + url.PathEscape(lr.ID) + "/routing/"
		srs, err := list[staticRoute](ctx, st.c, base+"static-routes", nil)
		if err := st.soft(err); err != nil {
			return err
		}
		st.static[lr.ID] = srs
		if tierOf(lr.RouterType) == trace.Tier1 {
			var a advertisement
			if err := st.c.get(ctx, base+"advertisement", nil, &a); err == nil {
				st.adv[lr.ID] = &a
			} else if err := st.soft(err); err != nil {
				return err
			}
		}
		if err := st.routeTable(ctx, lr.ID); err != nil {
			return err
		}
	}
	return nil
}
