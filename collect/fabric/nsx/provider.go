package nsx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
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
	// deadline is Config.Deadline from the first Collect: a command that collects twice (the early
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
		run := st.run
		if p.cfg.API == APIPolicy {
			run = st.runPolicy
		}
		if err := run(ctx, q); err != nil {
			return st, err
		}
		return st, st.readServices(ctx, q, p.cfg.API == APIPolicy)
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
	// services are the load balancers and NAT rules read (services.go).
	services serviceFacts
	// ov is what readOverlay read: the endpoints' hosts and firewall rules (overlay.go).
	ov *overlayState
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
		st.overlayHint(ctx)
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
	if err := st.readOverlay(ctx, eps); err != nil {
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
