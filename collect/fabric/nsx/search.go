package nsx

import (
	"cmp"
	"context"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

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
		st.unbound(ep, "no NSX logical port is bound to %s", ip)
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
