package nsx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// maxRouterHops bounds the routers one path is followed through while fetching (as the engine does).
const maxRouterHops = 32

type provider struct {
	cfg Config
	c   *client
	// deadline is --nsx-timeout from the first Collect: a command that collects twice (the early
	// read by names, then by addresses) has one deadline for all its NSX reads, not one each.
	deadline     time.Time
	deadlineOnce sync.Once
	spent        *collected
}

// collected is one Collect's answer.
type collected struct {
	fab   *trace.Fabric
	warns []string
	err   error
}

func (p *provider) Name() string { return "nsx" }

// ResolvesNames: through the Management API, Collect finds a pod's port by its NCP tags (ncp/pod,
// ncp/project) when the Endpoint has no IP; a node is always found by ncp/node_name (nodes.go).
func (p *provider) ResolvesNames() bool { return p.cfg.API == APIManagement }

var _ fabric.NameResolver = (*provider)(nil)

// Collect reads what q needs. Problems reading one object become warnings (the walk then says
// what is missing); refused credentials, an unreachable manager or nothing read at all are errors.
func (p *provider) Collect(ctx context.Context, q fabric.Query) (fab *trace.Fabric, warns []string, err error) {
	p.deadlineOnce.Do(func() { p.deadline = time.Now().Add(p.cfg.Deadline) })
	if p.spent != nil && !time.Now().Before(p.deadline) {
		// An earlier Collect of this command spent the deadline: what it read, and the request
		// that was waiting, are the answer; nothing more is sent.
		return p.spent.fab, p.spent.warns, p.spent.err
	}
	ctx, cancel := context.WithDeadline(ctx, p.deadline)
	defer cancel()
	defer func() {
		if ctx.Err() != nil && p.spent == nil {
			p.spent = &collected{fab, warns, err}
		}
	}()
	p.c.beginCollect()
	f := newFetcher(p.c)
	collect := func() (*state, error) {
		st := newState(f)
		if p.cfg.API == APIPolicy {
			return st, st.runPolicy(ctx, q)
		}
		return st, st.run(ctx, q)
	}
	// Dry rounds: each notes the reads the next level needs, then they are fetched at once (fetch.go).
	f.dry = true
	for round := 0; round < maxRounds; round++ {
		st, err := collect()
		if fatal(err) || ctx.Err() != nil {
			break
		}
		st.groupAttachments(ctx)
		if f.noted() == 0 {
			break
		}
		f.fetchNoted(ctx)
	}
	// The live round: the same walk over the cache; whatever is still missing is read now.
	f.dry = false
	st, err := collect()
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
	f *fetcher
	c *client
	// ver counts the changes to what has been read (every write to the maps below bumps it): the
	// caches below hold while it does.
	ver int
	// routes is the routing index of the fabric read so far, rpSorted and portsSorted its sorted
	// router ports and ports, each valid while ver equals the one it was built at.
	routes         *trace.FabricRoutes
	routesVer      int
	rpSorted       []*trace.RouterPort
	rpSortedVer    int
	portsSorted    []*trace.SwitchPort
	portsSortedVer int

	switches map[string]*trace.Switch
	ports    map[string]*trace.SwitchPort
	routers  map[string]*trace.Router
	rports   map[string]*trace.RouterPort
	static   map[string][]staticRoute
	adv      map[string]*advertisement
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
	// tier0s are the tier-0 routers listed up front (tier0Hint), when tier0Known.
	tier0s     map[string]lrouter
	tier0Known bool
	// linkHint are the tier-0 link ports tier0Link found, by id.
	linkHint map[string]lrport
	// nameGroup is the group of names searched together (batchNames), by scope and name.
	nameGroup map[string][]string
	// learned are the ports whose state or inventory VIF has been read into their addresses
	// (nodes.go); vifOf is a VM NIC's inventory VIF by attachment id (nil: none).
	learned map[string]bool
	vifOf   map[string]*vif
	// rpOn indexes router ports by the switch they are linked to, valid at ver rpOnVer.
	rpOn    map[string][]*trace.RouterPort
	rpOnVer int
	// followed are the (router, destination) pairs follow has gone through.
	followed map[string]bool
	// wantAttach are the attachments whose ports a dry round asked for (portOfAttachment).
	wantAttach []string
	// wholeInventory: so many nodes are looked up that the fabric inventory is listed once
	// (inventoryVIFs) instead of two VIF lookups per node; inv is that list, indexed.
	wholeInventory bool
	inv            *inventoryIndex
}

func newState(f *fetcher) *state {
	return &state{f: f, c: f.c, switches: map[string]*trace.Switch{}, ports: map[string]*trace.SwitchPort{}, routers: map[string]*trace.Router{},
		rports: map[string]*trace.RouterPort{}, static: map[string][]staticRoute{}, adv: map[string]*advertisement{},
		learned: map[string]bool{}, vifOf: map[string]*vif{}, synthetic: map[string]bool{}, switchDone: map[string]bool{}, routerDone: map[string]bool{}, childrenDone: map[string]bool{},
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
	var nj *notJSONError
	return errors.As(err, &ae) || errors.As(err, &te) || errors.As(err, &nj) || errors.Is(err, context.DeadlineExceeded)
}

// soft turns an error into a warning unless it must stop the collection. A read a dry round
// left for the next level is no error: the walk goes on with what does not depend on it.
func (st *state) soft(err error) error {
	if err == nil || pending(err) {
		return nil
	}
	if fatal(err) {
		return err
	}
	st.warn("%v", err)
	return nil
}

func (st *state) addPort(lp lport) *trace.SwitchPort {
	return st.putPort(lp.switchPort())
}

// putPort adds or replaces a port; what was learned about it (its state's addresses, its node
// from its VM) is kept: a port read again by another search carries only its configuration.
func (st *state) putPort(sp trace.SwitchPort) *trace.SwitchPort {
	if old := st.ports[sp.ID]; old != nil && !st.synthetic[sp.ID] {
		addAddrs(&sp, old.IPs, old.MACs)
		sp.NodeName = cmp.Or(sp.NodeName, old.NodeName)
		if sp.ParentVIF == "" {
			sp.ParentVIF = old.ParentVIF
		}
	}
	st.ver++
	st.ports[sp.ID] = &sp
	delete(st.synthetic, sp.ID)
	return &sp
}

func (st *state) addRouterPort(p lrport) *trace.RouterPort {
	rp := p.routerPort()
	st.ver++ // also updates its peer's PeerRouterPort in place
	if old := st.rports[rp.ID]; old != nil && rp.PeerRouterPort == "" {
		rp.PeerRouterPort = old.PeerRouterPort
	}
	st.rports[rp.ID] = &rp
	// Only the TIER1 side of a link names its peer: record the link on the TIER0 side too.
	if peer := st.rports[rp.PeerRouterPort]; peer != nil && peer.PeerRouterPort == "" {
		peer.PeerRouterPort = rp.ID
	}
	if rp.PeerRouterPort == "" {
		for _, other := range st.rports {
			if other.PeerRouterPort == rp.ID {
				rp.PeerRouterPort = other.ID
				break
			}
		}
	}
	return &rp
}

// run is the Management API collection.
func (st *state) run(ctx context.Context, q fabric.Query) error {
	if q.All {
		return st.all(ctx)
	}
	all := append(append([]fabric.Endpoint{}, q.Sources...), q.Destinations...)
	if len(all) > 0 {
		st.tier0Hint(ctx)
	}
	st.batchNames(all)
	if st.wholeInventory {
		st.inventoryVIFs(ctx) // beside the first searches: its pages are sequential
	}
	// Every endpoint's port, its switch and the switch's routers; an endpoint known by name only
	// takes its IP from its port.
	eps := make([]*trace.SwitchPort, len(all))
	ips := make([]netip.Addr, len(all))
	for i, ep := range all {
		sp, ip, err := st.endpoint(ctx, ep)
		if err != nil {
			return err
		}
		eps[i], ips[i] = sp, ip
	}
	if err := st.followPairs(ctx, q, eps, ips); err != nil {
		return err
	}
	for _, n := range q.Nodes {
		if err := st.node(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// followPairs follows every source-destination pair of q both ways; eps and ips are the ports
// and addresses of q.Sources then q.Destinations (nil, invalid: not found). A path depends only on
// where it starts (the switch) and where it goes: many pairs (a check) share both, so each
// (switch, destination) is followed once.
func (st *state) followPairs(ctx context.Context, q fabric.Query, eps []*trace.SwitchPort, ips []netip.Addr) error {
	followed := map[string]bool{}
	for i := range q.Sources {
		for j := range q.Destinations {
			s, d := i, len(q.Sources)+j
			for _, pair := range [][2]int{{s, d}, {d, s}} {
				from := eps[pair[0]]
				if from == nil || !ips[pair[1]].IsValid() {
					continue
				}
				// Toward a destination whose port is known, the path depends on its switch, not
				// on which of the switch's addresses: follow once per (switch, switch). A host route
				// inside a switch's subnet would then go unread, and the walk say so (unknown).
				key := from.Switch + "|" + ips[pair[1]].String()
				if to := eps[pair[1]]; to != nil && to.Switch != "" {
					key = from.Switch + "|switch:" + to.Switch
				}
				if followed[key] {
					continue
				}
				followed[key] = true
				if err := st.follow(ctx, from.Switch, ips[pair[1]], strings.TrimPrefix(key, from.Switch+"|")); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// searchPorts asks the search API for logical ports; false when the manager has no search API.
func (st *state) searchPorts(ctx context.Context, terms ...string) ([]lport, bool, error) {
	return st.search(ctx, false, terms...)
}

// search is searchPorts; a grouped query (batchNames) that is refused returns its error, for the
// caller to search each name alone, rather than concluding there is no search API.
func (st *state) search(ctx context.Context, grouped bool, terms ...string) ([]lport, bool, error) {
	if st.noSearch {
		return nil, false, nil
	}
	q := url.Values{"query": {strings.Join(append([]string{"resource_type:LogicalPort"}, terms...), " AND ")}}
	res, err := list[lport](ctx, st.f, "/api/v1/search/query", q)
	if isRefused(err) && grouped {
		return nil, true, err
	}
	if isNotFound(err) {
		st.noSearch = true
		st.warn("NSX Manager %s has no search API (/api/v1/search/query): listed every logical port instead", st.c.base.Host)
		return nil, false, nil
	}
	return res, true, err
}

// addFound adds the ports a search found; without a search API (ok false) it lists every port instead.
func (st *state) addFound(ctx context.Context, found []lport, ok bool) error {
	for _, lp := range found {
		st.addPort(lp)
	}
	if !ok {
		return st.soft(st.listAllPorts(ctx))
	}
	return nil
}

func quote(v string) string { return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"` }

// listAllPorts is the fallback without a search API: every logical port, once.
func (st *state) listAllPorts(ctx context.Context) error {
	if st.allPorts {
		return nil
	}
	st.allPorts = true
	all, err := list[lport](ctx, st.f, "/api/v1/logical-ports", nil)
	for _, lp := range all {
		if st.ports[lp.ID] == nil || st.synthetic[lp.ID] {
			st.addPort(lp)
		}
	}
	return err
}

// endpoint finds an endpoint's logical port: a node's by its NCP tag and its learned addresses
// (nodePort), a pod's by the address NCP bound to its CHILD port (else its MAC), or, known by name
// only, by its NCP tags (byName); then it reads what surrounds the port. An endpoint known by name
// only takes its IP from its port.
func (st *state) endpoint(ctx context.Context, ep fabric.Endpoint) (*trace.SwitchPort, netip.Addr, error) {
	if a, err := netip.ParseAddr(ep.Node); !ep.IP.IsValid() && ep.Pod == nil && err == nil {
		// A node named by its address (node/10.0.0.5): its address is its name.
		ep.IP = a
	}
	if ep.Pod == nil && ep.Node != "" {
		sp, err := st.nodePort(ctx, ep)
		if sp == nil || err != nil {
			return nil, ep.IP, err
		}
		ip := ep.IP
		if !ip.IsValid() {
			ip = portIP(sp)
		}
		return sp, ip, st.around(ctx, sp)
	}
	if !ep.IP.IsValid() {
		sp, err := st.byName(ctx, ep)
		if sp == nil || err != nil {
			return nil, netip.Addr{}, err
		}
		ip := portIP(sp)
		return sp, ip, st.around(ctx, sp)
	}
	ip := ep.IP.Unmap().String()
	found, ok, err := st.searchPorts(ctx, "address_bindings.ip_address:"+quote(ip))
	if pending(err) {
		return nil, ep.IP, nil
	}
	if err != nil {
		// The search failed: say why, not that no port is bound to the address.
		return nil, ep.IP, st.soft(err)
	}
	if ok && len(found) == 0 && ep.MAC != "" {
		found, _, err = st.searchPorts(ctx, "address_bindings.mac_address:"+quote(ep.MAC))
		if pending(err) {
			return nil, ep.IP, nil
		}
		if err != nil {
			return nil, ep.IP, st.soft(err)
		}
	}
	if err := st.addFound(ctx, found, ok); err != nil {
		return nil, ep.IP, err
	}
	sp := st.bestPort(ep, st.candidates(found, ok))
	if sp == nil && ok {
		// Not among what the search found: among every port read (as before searches chose).
		sp = st.bestPort(ep, st.sortedPorts())
	}
	if sp == nil {
		st.warn("no NSX logical port is bound to %s", ip)
		return nil, ep.IP, nil
	}
	return sp, ep.IP, st.around(ctx, sp)
}

// around reads what surrounds an endpoint's port: a CHILD port's parent VIF and the parent's other
// children (for duplicate traffic tags), the port's switch and the switch's routers.
func (st *state) around(ctx context.Context, sp *trace.SwitchPort) error {
	if sp.ParentVIF != "" || sp.ParentPort != "" {
		// The siblings by what the child names its parent with, beside the parent; a Policy
		// parent's other name (its path, its attachment id) once the parent is read.
		if err := st.children(ctx, cmp.Or(st.contextOf(sp), sp.ParentVIF)); err != nil {
			return err
		}
		par, err := st.parentOf(ctx, sp)
		if err != nil {
			return err
		}
		if par != nil && st.policy != nil {
			for _, key := range []string{par.AttachmentID, st.pathOf(par)} {
				if err := st.children(ctx, key); err != nil {
					return err
				}
			}
		}
	}
	return st.ensureSwitch(ctx, sp.Switch, true)
}

// portIP is the address a port is bound to (the first IPv4 one, else the first), for an endpoint
// known by name only.
func portIP(sp *trace.SwitchPort) netip.Addr {
	var first netip.Addr
	for _, s := range sp.IPs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if a.Is4() || a.Is4In6() {
			return a.Unmap()
		}
		if !first.IsValid() {
			first = a
		}
	}
	return first
}

// byName finds the port of a pod that has no IP yet (the caller started the fabric read before the
// Kubernetes API answered) by the tags NCP gives it: ncp/pod = name, ncp/project = namespace.
func (st *state) byName(ctx context.Context, ep fabric.Endpoint) (*trace.SwitchPort, error) {
	if ep.Pod == nil {
		return nil, nil
	}
	terms, grouped := st.tagTerms("ncp/pod", ep.Pod.Name)
	found, ok, err := st.searchTagged(ctx, grouped, "ncp/pod", ep.Pod.Name, terms)
	if pending(err) {
		return nil, nil
	}
	if err != nil {
		return nil, st.soft(err)
	}
	if err := st.addFoundPorts(ctx, found, ok); err != nil {
		return nil, err
	}
	cands := st.sortedPorts()
	if ok {
		cands = st.known(found)
	}
	best := st.namedPort(ep, cands)
	if best == nil && ok {
		// Not among what the search found (an index that lags, say): among every port read.
		best = st.namedPort(ep, st.sortedPorts())
	}
	if best == nil {
		st.warn("no NSX logical port is tagged ncp/project=%s, ncp/pod=%s", ep.Pod.Namespace, ep.Pod.Name)
	}
	return best, nil
}

// known are the ports read for found, in ID order.
func (st *state) known(found []*trace.SwitchPort) []*trace.SwitchPort {
	out := make([]*trace.SwitchPort, 0, len(found))
	seen := map[string]bool{}
	for _, f := range found {
		if sp := st.ports[f.ID]; sp != nil && !seen[f.ID] {
			seen[f.ID] = true
			out = append(out, sp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// addFoundPorts adds the ports a search found; without a search API (ok false) it lists every
// port instead.
func (st *state) addFoundPorts(ctx context.Context, found []*trace.SwitchPort, ok bool) error {
	for _, sp := range found {
		st.putPort(*sp)
	}
	if !ok {
		return st.soft(st.listAllPorts(ctx))
	}
	return nil
}

// namedPort picks a pod's port by its name among candidates, its CHILD port first.
func (st *state) namedPort(ep fabric.Endpoint, candidates []*trace.SwitchPort) *trace.SwitchPort {
	var best *trace.SwitchPort
	for _, sp := range candidates {
		// A pod's port; its CHILD port first (a pod in a VM has one per interface).
		if sp.Type == trace.PortRouter || sp.Pod == nil || ep.Pod == nil || *sp.Pod != *ep.Pod {
			continue
		}
		if best == nil || (sp.Type == trace.PortChild && best.Type != trace.PortChild) {
			best = sp
		}
	}
	return best
}

// candidates are the ports an endpoint is chosen from, in ID order: those its search found (the
// search covers every port, so no other can match; not every port read so far, which a check of
// 1,000 endpoints would scan and sort 1,000 times), or every port when there is no search API.
func (st *state) candidates(found []lport, searched bool) []*trace.SwitchPort {
	if !searched {
		return st.sortedPorts()
	}
	out := make([]*trace.SwitchPort, 0, len(found))
	seen := map[string]bool{}
	for _, lp := range found {
		if sp := st.ports[lp.ID]; sp != nil && !seen[lp.ID] {
			seen[lp.ID] = true
			out = append(out, sp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// A search for many names at once: at most maxNamesPerSearch names, and at most maxSearchTerms
// characters of them (the query travels in the URL). A variable for tests.
var maxNamesPerSearch = 50

const maxSearchTerms = 2000

// batchNames groups the names endpoints are searched by (pods by ncp/pod, nodes by
// ncp/node_name) into searches of many names each: a check's thousand nodes are ~20 searches, not
// a thousand (NSX Manager rate-limits a client to 100 requests/s by default). byName then asks
// its name's group's search: the same query, read once, in the same level.
func (st *state) batchNames(eps []fabric.Endpoint) {
	names := map[string]map[string]bool{}
	for _, ep := range eps {
		scope, name := "", ""
		switch {
		case ep.Pod != nil && !ep.IP.IsValid():
			scope, name = "ncp/pod", ep.Pod.Name
		case ep.Pod == nil && ep.Node != "":
			// A node is found by its tag, whatever its address: nobody binds a VM NIC's address.
			scope, name = "ncp/node_name", ep.Node
		default:
			continue
		}
		if names[scope] == nil {
			names[scope] = map[string]bool{}
		}
		names[scope][name] = true
	}
	st.wholeInventory = len(names["ncp/node_name"]) >= inventoryNodes
	st.nameGroup = map[string][]string{}
	for scope, set := range names {
		var group []string
		size := 0
		flush := func() {
			for _, n := range group {
				st.nameGroup[scope+"\x00"+n] = group
			}
			group, size = nil, 0
		}
		for _, n := range sortedKeys(set) {
			term := len("tags.tag:"+quote(n)) + len(" OR ")
			if len(group) > 0 && (len(group) == maxNamesPerSearch || size+term > maxSearchTerms) {
				flush()
			}
			group = append(group, n)
			size += term
		}
		flush()
	}
}

// tagTerms are the search terms that find the ports tagged scope=name: its group's (batchNames,
// grouped), or its own.
func (st *state) tagTerms(scope, name string) (terms []string, grouped bool) {
	group := st.nameGroup[scope+"\x00"+name]
	if len(group) < 2 {
		return []string{"tags.scope:" + quote(scope), "tags.tag:" + quote(name)}, false
	}
	alts := make([]string, len(group))
	for i, n := range group {
		alts[i] = "tags.tag:" + quote(n)
	}
	return []string{"tags.scope:" + quote(scope), "(" + strings.Join(alts, " OR ") + ")"}, true
}

// bestPort picks the endpoint's port among the candidates: pod tag, then CHILD, then IP, then MAC.
func (st *state) bestPort(ep fabric.Endpoint, candidates []*trace.SwitchPort) *trace.SwitchPort {
	var best *trace.SwitchPort
	score := 0
	for _, sp := range candidates {
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
	// The sorted list holds while nothing was added or replaced (it is asked per endpoint, per round).
	if st.portsSorted != nil && st.portsSortedVer == st.ver {
		return st.portsSorted
	}
	out := make([]*trace.SwitchPort, 0, len(st.ports))
	for _, p := range st.ports {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	st.portsSorted, st.portsSortedVer = out, st.ver
	return out
}

// byAttachment reads the port of a VIF attachment (a CHILD port's parent).
func (st *state) byAttachment(ctx context.Context, att string) error {
	if st.attachDone[att] || st.allPorts {
		return nil
	}
	st.attachDone[att] = true
	res, err := list[lport](ctx, st.f, "/api/v1/logical-ports", url.Values{"attachment_id": {att}})
	for _, lp := range res {
		st.addPort(lp)
	}
	if err == nil && len(res) == 0 {
		st.warn("no NSX logical port has the attachment %s (a CHILD port's parent VIF)", att)
	}
	return st.soft(err)
}

// parentOf reads a CHILD port's parent: by its attachment id (parent_vif_id, or a Policy
// context_id that is one), or by the policy path a Policy context_id gives.
func (st *state) parentOf(ctx context.Context, sp *trace.SwitchPort) (*trace.SwitchPort, error) {
	if p := st.contextOf(sp); strings.HasPrefix(p, "/") {
		return st.policyPortByPath(ctx, sp, p)
	}
	if st.policy != nil {
		return st.portOfAttachment(ctx, sp.ParentVIF)
	}
	if err := st.byAttachment(ctx, sp.ParentVIF); err != nil {
		return nil, err
	}
	for _, p := range st.sortedPorts() {
		if p.AttachmentID == sp.ParentVIF && p.Type != trace.PortChild {
			return p, nil
		}
	}
	return nil, nil
}

// children reads the CHILD ports of a parent VIF: by parent_vif_id (Management API), or by the
// CHILD attachment's context_id, the parent's policy path or its attachment id (Policy API).
func (st *state) children(ctx context.Context, parentVIF string) error {
	if parentVIF == "" || st.childrenDone[parentVIF] || st.allPorts {
		return nil
	}
	st.childrenDone[parentVIF] = true
	if st.policy != nil {
		_, err := st.searchSegmentPorts(ctx, "attachment.context_id:"+quote(parentVIF))
		return err
	}
	res, err := list[lport](ctx, st.f, "/api/v1/logical-ports", url.Values{"parent_vif_id": {parentVIF}})
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
		ls, err := fetch[lswitch](ctx, st.f, "/api/v1/logical-switches/"+url.PathEscape(id), nil)
		if err == nil {
			st.switches[id] = &trace.Switch{ID: ls.ID, Name: ls.DisplayName, Source: trace.SourceNSX}
			st.ver++
		} else if err := st.soft(err); err != nil {
			return err
		}
		rps, err := list[lrport](ctx, st.f, "/api/v1/logical-router-ports", url.Values{"logical_switch_id": {id}})
		if err := st.soft(err); err != nil {
			return err
		}
		for _, p := range rps {
			rp := st.addRouterPort(p)
			if sp := rp.LinkedSwitchPort; sp != "" && st.ports[sp] == nil {
				// The router port names its switch-side port; the filter says which switch it is on.
				st.ports[sp] = &trace.SwitchPort{ID: sp, Switch: id, Type: trace.PortRouter, RouterPort: rp.ID, Source: trace.SourceNSX}
				st.synthetic[sp] = true
				st.ver++
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

// sortedRouterPorts holds while nothing was added or replaced (follow asks it per pair, fabric
// per router). A new list is a new slice: callers may range over an older one while adding.
func (st *state) sortedRouterPorts() []*trace.RouterPort {
	if st.rpSorted != nil && st.rpSortedVer == st.ver {
		return st.rpSorted
	}
	out := make([]*trace.RouterPort, 0, len(st.rports))
	for _, p := range st.rports {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	st.rpSorted, st.rpSortedVer = out, st.ver
	return out
}

// routerPortsOn are the router ports linked to a switch, in ID order; the index holds while
// nothing was added (follow asks it per pair: a bundle has 90,000 pairs).
func (st *state) routerPortsOn(sw string) []*trace.RouterPort {
	if st.rpOn == nil || st.rpOnVer != st.ver {
		st.rpOn, st.rpOnVer = map[string][]*trace.RouterPort{}, st.ver
		for _, rp := range st.sortedRouterPorts() {
			if sp := st.ports[rp.LinkedSwitchPort]; sp != nil {
				st.rpOn[sp.Switch] = append(st.rpOn[sp.Switch], rp)
			}
		}
	}
	return st.rpOn[sw]
}

// getRouterPort reads one router port by id (a link's peer).
func (st *state) getRouterPort(ctx context.Context, id string) (*trace.RouterPort, error) {
	if rp := st.rports[id]; rp != nil {
		return rp, nil
	}
	if st.missing[id] {
		return nil, nil
	}
	if p, ok := st.tier0Link(id); ok {
		return st.addRouterPort(p), nil
	}
	p, err := fetch[lrport](ctx, st.f, "/api/v1/logical-router-ports/"+url.PathEscape(id), nil)
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
	lp, err := fetch[lport](ctx, st.f, "/api/v1/logical-ports/"+url.PathEscape(id), nil)
	if err != nil {
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
// grow with the number of tier-1s and are taken as the links on the path name them, from the
// first page tier0Hint read or one by one), the peers of its link ports, its static routes and a
// tier-1's advertisement.
func (st *state) ensureRouter(ctx context.Context, id string) error {
	if id == "" || st.routerDone[id] {
		return nil
	}
	if st.policy != nil {
		// Policy routers are read as their segments and links name them; a peer's router is a tier-0.
		return st.ensurePolicyRouter(ctx, "/infra/tier-0s/"+id)
	}
	st.routerDone[id] = true
	lr, known := st.tier0s[id]
	if !known {
		var err error
		lr, err = fetch[lrouter](ctx, st.f, "/api/v1/logical-routers/"+url.PathEscape(id), nil)
		if err != nil {
			if pending(err) {
				// Its other reads need only its tier: read them with the GET.
				st.prefetchRouter(ctx, id)
			}
			if isNotFound(err) {
				st.warn("logical router %s is named by a router port but does not exist in NSX", id)
				return nil
			}
			return st.soft(err)
		}
	}
	r := lr.router()
	st.routers[id] = &r
	st.ver++
	for _, f := range portFilters(id, r.Tier) {
		rps, err := list[lrport](ctx, st.f, "/api/v1/logical-router-ports", f)
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
	return st.routing(ctx, id, r.Tier)
}

// routing reads a router's static routes and a tier-1's advertisement. The runtime route table is
// not read: GET .../routing/route-table needs an edge node of the router's edge cluster
// (transport_node_id, else 400), exists only for routers with services on an edge, and is removed
// in NSX 9; the configuration is what every router has.
func (st *state) routing(ctx context.Context, id, tier string) error {
	base := "/api/v1/logical-routers/" + url.PathEscape(id) + "/routing/"
	srs, err := list[staticRoute](ctx, st.f, base+"static-routes", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	st.static[id] = srs
	st.ver++
	if tier == trace.Tier1 {
		a, err := fetch[advertisement](ctx, st.f, base+"advertisement", nil)
		if err == nil {
			st.adv[id] = &a
			st.ver++
		} else if err := st.soft(err); err != nil {
			return err
		}
	}
	return nil
}

// portFilters are the router-port lists ensureRouter reads for a router of this tier.
func portFilters(id, tier string) []url.Values {
	if tier == trace.Tier0 {
		return []url.Values{
			{"logical_router_id": {id}, "resource_type": {"LogicalRouterUpLinkPort"}},
			{"logical_router_id": {id}, "resource_type": {"LogicalRouterDownLinkPort"}},
		}
	}
	return []url.Values{{"logical_router_id": {id}}}
}

// maxTier0Prefetch bounds the tier-0s whose reads are fetched before a link names them.
const maxTier0Prefetch = 4

// tier0Hint lists the tier-0 routers (a fabric has a few, however many tier-1s and ports it
// has). ensureRouter takes a tier-0 from this list instead of reading it, and dry rounds use it to
// know a router's tier before its GET answers. It is a hint: an error leaves it empty and the
// routers are read one by one.
func (st *state) tier0Hint(ctx context.Context) {
	st.tier0s = map[string]lrouter{}
	lrs, err := list[lrouter](ctx, st.f, "/api/v1/logical-routers", url.Values{"router_type": {"TIER0"}})
	if err != nil {
		return
	}
	st.tier0Known = true
	for _, lr := range lrs {
		if lr.ID != "" && tierOf(lr.RouterType) == trace.Tier0 {
			st.tier0s[lr.ID] = lr
		}
	}
	if st.f.dry && len(st.tier0s) <= maxTier0Prefetch {
		// A walk that leaves its tier-1 reaches a tier-0 two levels later (the tier-1's link port
		// names the tier-0's): read the tier-0s now, beside the endpoints' switches, and the first
		// page of their link ports, where the tier-1 link's peer is found (tier0Link) instead of
		// with a GET one level after the tier-1's ports.
		for _, id := range sortedKeys(st.tier0s) {
			st.prefetchRouter(ctx, id)
			_, _ = fetch[listPage](ctx, st.f, "/api/v1/logical-router-ports", st.tier0LinkQuery(id))
		}
	}
}

// tier0LinkQuery is the first page of a tier-0's link ports (one per tier-1 linked to it).
func (st *state) tier0LinkQuery(id string) url.Values {
	return url.Values{"logical_router_id": {id}, "resource_type": {"LogicalRouterLinkPortOnTIER0"}, "page_size": {strconv.Itoa(st.c.cfg.PageSize)}}
}

// tier0Link finds a tier-0 link port in the pages tier0Hint read: a hint, taken only when already
// read (never fetched for it), so a tier-0 with more tier-1s than a page holds, a page that failed
// or a manager without the filter leave the peer to getRouterPort's GET. The port is the same
// object the GET returns.
func (st *state) tier0Link(id string) (lrport, bool) {
	hint := st.linkHint
	if hint == nil {
		var complete bool
		hint, complete = st.readTier0Links()
		if complete {
			st.linkHint = hint // else a dry round has not read every page yet: look again next time
		}
	}
	p, ok := hint[id]
	return p, ok
}

// readTier0Links decodes the link-port pages tier0Hint read, and says whether every one was read.
func (st *state) readTier0Links() (map[string]lrport, bool) {
	hint := map[string]lrport{}
	if !st.tier0Known || len(st.tier0s) > maxTier0Prefetch {
		return hint, true
	}
	complete := true
	for _, t0 := range sortedKeys(st.tier0s) {
		key := cacheKey("/api/v1/logical-router-ports", st.tier0LinkQuery(t0))
		e, ok := st.f.lookup(key)
		if !ok {
			complete = false
			continue
		}
		lp, _ := e.val.(listPage)
		ps, err := decodePage[lrport](st.f, key, lp)
		if e.err != nil || err != nil {
			continue // a hint: the peers are read by id
		}
		for _, p := range ps {
			if p.ID != "" && p.LogicalRouterID == t0 {
				hint[p.ID] = p
			}
		}
	}
	return hint, complete
}

// prefetchRouter notes (dry rounds only) the reads ensureRouter makes for a router once its tier is
// known: its ports, static routes, a tier-1's advertisement. They are fetched with
// the router's GET instead of after it. Without the tier-0 list the tier is unknown, and nothing
// is noted: a guess could list every link port of a tier-0.
func (st *state) prefetchRouter(ctx context.Context, id string) {
	if !st.f.dry || !st.tier0Known {
		return
	}
	tier := trace.Tier1
	if _, ok := st.tier0s[id]; ok {
		tier = trace.Tier0
	}
	base := "/api/v1/logical-routers/" + url.PathEscape(id) + "/routing/"
	for _, f := range portFilters(id, tier) {
		_, _ = list[lrport](ctx, st.f, "/api/v1/logical-router-ports", f)
	}
	_, _ = list[staticRoute](ctx, st.f, base+"static-routes", nil)
	if tier == trace.Tier1 {
		_, _ = fetch[advertisement](ctx, st.f, base+"advertisement", nil)
	}
}

// routeStep is trace.RouteStep on what has been read so far. The fabric and its index are rebuilt
// only when something was added since the last step: a check of 1,000 pairs steps through the
// same routers thousands of times, and rebuilding per step cost minutes of CPU.
func (st *state) routeStep(rid string, dst netip.Addr) trace.Step {
	if st.routes == nil || st.routesVer != st.ver {
		st.routes, st.routesVer = trace.NewFabricRoutes(st.fabric()), st.ver
	}
	return st.routes.Step(rid, dst)
}

// follow reads the routers a packet from switch `from` to dst passes, asking the engine's own
// longest-prefix match (trace.RouteStep) on what has been read so far which peer comes next.
//
// dstKey names where dst is (its switch, else itself): a router already followed toward the same
// place in this round has had everything beyond it read, so the walk stops there. A bundle's
// paths among 300 pods on 300 switches would otherwise step the tier-0 toward each destination
// once per source.
func (st *state) follow(ctx context.Context, from string, dst netip.Addr, dstKey string) error {
	if st.followed == nil {
		st.followed = map[string]bool{}
	}
	for _, rp := range st.routerPortsOn(from) {
		rid := rp.Router
		seen := map[string]bool{}
		for hop := 0; hop < maxRouterHops && rid != "" && !seen[rid] && !st.followed[rid+"|"+dstKey]; hop++ {
			seen[rid] = true
			st.followed[rid+"|"+dstKey] = true
			if err := st.ensureRouter(ctx, rid); err != nil {
				return err
			}
			step := st.routeStep(rid, dst)
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
	vifs, waiting, err := st.taggedNodePorts(ctx, name)
	if err != nil || waiting {
		return err
	}
	if len(vifs) == 0 {
		st.warn("no NSX logical port is tagged ncp/node_name=%s", name)
	}
	switches := map[string]bool{}
	for _, v := range vifs {
		switches[v.Switch] = true
		keys := []string{v.AttachmentID}
		if st.policy != nil {
			keys = append(keys, st.pathOf(v))
		}
		for _, k := range keys {
			if err := st.children(ctx, k); err != nil {
				return err
			}
		}
	}
	for _, sp := range st.sortedPorts() {
		if sp.Type != trace.PortChild {
			continue
		}
		for _, v := range vifs {
			if isChildOf(sp, v) {
				switches[sp.Switch] = true
			}
		}
	}
	for _, id := range sortedKeys(switches) {
		if err := st.ensureSwitch(ctx, id, false); err != nil {
			return err
		}
	}
	return nil
}

// isChildOf says whether a CHILD port names parent as its parent (by attachment id, or by port).
func isChildOf(sp, parent *trace.SwitchPort) bool {
	return sp.ParentVIF != "" && sp.ParentVIF == parent.AttachmentID || sp.ParentPort != "" && sp.ParentPort == parent.ID
}

// all reads the whole fabric (a support bundle), every list paginated.
func (st *state) all(ctx context.Context) error {
	st.allPorts = true
	lss, err := list[lswitch](ctx, st.f, "/api/v1/logical-switches", nil)
	if err != nil && !pending(err) {
		return err
	}
	for _, ls := range lss {
		st.switches[ls.ID] = &trace.Switch{ID: ls.ID, Name: ls.DisplayName, Source: trace.SourceNSX}
		st.ver++
		st.switchDone[ls.ID] = true
	}
	lps, err := list[lport](ctx, st.f, "/api/v1/logical-ports", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, lp := range lps {
		st.addPort(lp)
	}
	rps, err := list[lrport](ctx, st.f, "/api/v1/logical-router-ports", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, p := range rps {
		st.addRouterPort(p)
	}
	lrs, err := list[lrouter](ctx, st.f, "/api/v1/logical-routers", nil)
	if err := st.soft(err); err != nil {
		return err
	}
	for _, lr := range lrs {
		r := lr.router()
		st.routers[r.ID] = &r
		st.ver++
	}
	for _, lr := range lrs {
		if err := st.routing(ctx, lr.ID, tierOf(lr.RouterType)); err != nil {
			return err
		}
	}
	return st.inventory(ctx)
}
