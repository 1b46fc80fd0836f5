package nsx

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// How a node's port is found.
//
// A VM NIC's logical port has no address_bindings unless someone configured them: NCP does for
// the pods' CHILD ports, nobody does for the node VMs. A node's address is learned, and shows in
// the port's state (realized and discovered bindings) and in the fabric inventory
// (GET /api/v1/fabric/vifs: the NIC's VM, its port's attachment id, the addresses VM tools report).
// NCP's setup tags the node's port ncp/node_name + ncp/cluster, on the container-traffic NIC when
// the node has two. So a node is found the way a manager allows, with targeted requests only:
//  1. the ports tagged ncp/node_name=NAME (one search, grouped with other names by batchNames);
//  2. their inventory VIFs (which name the VM and the addresses VM tools report);
//  3. when none of them has the node's address: the VM's other VIFs (owner_vm_id);
//  4. the port of the VIF that has it, by its attachment id;
//  5. when no VIF reports it (no VM tools): the state of those ports (realized and discovered
//     bindings, from the manager's ARP/ND snooping).
// Every port's state is never read: a fabric has hundreds of thousands of ports.

// nodePort finds the logical port that carries a node's address (ep.IP; without one, the first
// address its NICs have), as the ports of ep.Node. nil with no error: not found (warned), or
// waiting for a read a dry round noted.
func (st *state) nodePort(ctx context.Context, ep fabric.Endpoint) (*trace.SwitchPort, error) {
	tagged, waiting, err := st.taggedNodePorts(ctx, ep.Node)
	if err != nil || waiting {
		return nil, err
	}
	if len(tagged) == 0 {
		st.warn("no NSX logical port is tagged ncp/node_name=%s: tag the node VM's port with ncp/node_name and ncp/cluster as NCP's setup says", ep.Node)
		return nil, nil
	}
	// Their inventory VIFs, in one level; beside them, the tagged NIC's switch and its gateway,
	// where a node's other NIC usually is too (then the port found last needs nothing more read).
	for _, sp := range tagged {
		if _, w := st.vifOfPort(ctx, sp.AttachmentID); w {
			waiting = true
		}
		if err := st.ensureSwitch(ctx, sp.Switch, true); err != nil {
			return nil, err
		}
	}
	if waiting {
		return nil, nil
	}
	for _, sp := range tagged {
		if v, _ := st.vifOfPort(ctx, sp.AttachmentID); v != nil && vifHolds(*v, ep.IP) {
			return st.withVIF(sp, *v, ep.Node), nil
		}
	}
	// The address is on another NIC of the same VM (the node's management NIC, untagged).
	others, waiting, err := st.otherVIFs(ctx, tagged)
	if err != nil || waiting {
		return nil, err
	}
	for _, v := range others {
		if !vifHolds(v, ep.IP) {
			continue
		}
		sp, err := st.portOfAttachment(ctx, v.LportAttachmentID)
		if pending(err) || err != nil || sp == nil {
			return nil, ignorePending(err)
		}
		return st.withVIF(sp, v, ep.Node), nil
	}
	// No VIF reports it (a VM without VM tools): the ports' state, where the manager's ARP/ND
	// snooping put what the NIC uses.
	ports := append([]*trace.SwitchPort(nil), tagged...)
	for _, v := range others {
		sp, err := st.portOfAttachment(ctx, v.LportAttachmentID)
		if pending(err) {
			waiting = true
		} else if err != nil {
			return nil, err
		} else if sp != nil {
			ports = append(ports, sp)
		}
	}
	for _, sp := range ports {
		waiting = st.learnState(ctx, sp) || waiting
	}
	if waiting {
		return nil, nil
	}
	for _, sp := range ports {
		if sp = st.ports[sp.ID]; sp != nil && holding([]*trace.SwitchPort{sp}, ep.IP) != nil {
			if sp.NodeName == "" {
				cp := *sp
				cp.NodeName = ep.Node
				st.ports[cp.ID], sp = &cp, &cp
				st.ver++
			}
			return sp, nil
		}
	}
	if ep.IP.IsValid() {
		st.warn("no NIC of the VM of the NSX ports tagged ncp/node_name=%s has the address %s (fabric VIFs, port state)", ep.Node, ep.IP)
	} else {
		st.warn("no NIC of the VM of the NSX ports tagged ncp/node_name=%s has an address (fabric VIFs, port state)", ep.Node)
	}
	return nil, nil
}

func ignorePending(err error) error {
	if pending(err) {
		return nil
	}
	return err
}

// otherVIFs are the inventory VIFs of the tagged ports' VMs that are not the tagged ports'.
func (st *state) otherVIFs(ctx context.Context, tagged []*trace.SwitchPort) ([]vif, bool, error) {
	var vms []string
	for _, sp := range tagged {
		if v, _ := st.vifOfPort(ctx, sp.AttachmentID); v != nil && v.OwnerVMID != "" && !slices.Contains(vms, v.OwnerVMID) {
			vms = append(vms, v.OwnerVMID)
		}
	}
	var out []vif
	waiting := false
	for _, vm := range vms {
		var vifs []vif
		if st.wholeInventory {
			if inv, _ := st.inventoryVIFs(ctx); inv != nil { // read already: the VM came from it
				vifs = inv.byOwner[vm]
			}
		} else {
			var err error
			vifs, err = list[vif](ctx, st.f, "/api/v1/fabric/vifs", url.Values{"owner_vm_id": {vm}})
			if pending(err) {
				waiting = true
				continue
			}
			if err := st.soft(err); err != nil {
				return nil, false, err
			}
		}
		for _, v := range vifs {
			if v.LportAttachmentID != "" && !slices.ContainsFunc(tagged, func(sp *trace.SwitchPort) bool { return sp.AttachmentID == v.LportAttachmentID }) {
				out = append(out, v)
			}
		}
	}
	return out, waiting, nil
}

// withVIF is a port with the addresses its inventory VIF reports, the NIC of node.
func (st *state) withVIF(sp *trace.SwitchPort, v vif, node string) *trace.SwitchPort {
	if st.vifOf[v.LportAttachmentID] == nil {
		st.vifOf[v.LportAttachmentID] = &v // the NIC's VIF names its host (overlay.go)
	}
	cp := *sp
	cp.IPs, cp.MACs = slices.Clone(sp.IPs), slices.Clone(sp.MACs)
	var ips []string
	for _, info := range v.IPAddressInfo {
		ips = append(ips, info.IPAddresses...)
	}
	changed := addAddrs(&cp, ips, []string{v.MACAddress})
	if cp.NodeName == "" {
		cp.NodeName, changed = node, true
	}
	if !changed {
		return sp
	}
	st.ports[cp.ID] = &cp
	st.learned[cp.ID] = true // keep these addresses when the port is read again
	st.ver++
	return &cp
}

// holding is the port among ports that holds ip (without ip: the first with an address).
func holding(ports []*trace.SwitchPort, ip netip.Addr) *trace.SwitchPort {
	for _, sp := range ports {
		if ip.IsValid() && contains(sp.IPs, ip.Unmap().String()) || !ip.IsValid() && portIP(sp).IsValid() {
			return sp
		}
	}
	return nil
}

// vifHolds says whether an inventory VIF reports ip (without ip: any address).
func vifHolds(v vif, ip netip.Addr) bool {
	for _, info := range v.IPAddressInfo {
		for _, s := range info.IPAddresses {
			if a, ok := hostAddr(s); ok && (!ip.IsValid() || a == ip.Unmap()) {
				return true
			}
		}
	}
	return false
}

// taggedNodePorts are the VM NICs (not CHILD ports) tagged ncp/node_name=name, sorted by id.
func (st *state) taggedNodePorts(ctx context.Context, name string) ([]*trace.SwitchPort, bool, error) {
	terms, grouped := st.tagTerms("ncp/node_name", name)
	found, ok, err := st.searchTagged(ctx, grouped, "ncp/node_name", name, terms)
	if pending(err) {
		return nil, true, nil
	}
	if err := st.soft(err); err != nil {
		return nil, false, err
	}
	if err := st.addFoundPorts(ctx, found, ok); err != nil {
		return nil, false, err
	}
	// What the search found (every port read so far only without a search API: a check's
	// thousand nodes would sort and scan them a thousand times).
	cands := st.known(found)
	if !ok {
		cands = st.sortedPorts()
	}
	var out []*trace.SwitchPort
	for _, sp := range cands {
		if sp.NodeName == name && sp.Type == trace.PortVIF {
			out = append(out, sp)
		}
	}
	return out, false, nil
}

// learnState reads a port's state into its addresses (realized and discovered bindings); true
// while the read waits for the next level.
func (st *state) learnState(ctx context.Context, sp *trace.SwitchPort) bool {
	if st.learned[sp.ID] {
		return false
	}
	ps, err := fetch[portState](ctx, st.f, st.portStatePath(sp), nil)
	if pending(err) {
		return true
	}
	st.learned[sp.ID] = true
	if err != nil {
		_ = st.soft(fmt.Errorf("the addresses of NSX port %s are unknown: %w", sp.ID, err))
		return false
	}
	var ips, macs []string
	for _, b := range append(ps.RealizedBindings, ps.DiscoveredBindings...) {
		ips, macs = append(ips, b.Binding.IPAddress), append(macs, b.Binding.MACAddress)
	}
	// The state's addresses are facts about this port: it is replaced, not changed in place (a
	// port is shared with the fabric already built for routing steps).
	cp := *sp
	cp.IPs, cp.MACs = slices.Clone(sp.IPs), slices.Clone(sp.MACs)
	if addAddrs(&cp, ips, macs) {
		*sp = cp
		st.ver++
	}
	return false
}

// portStatePath is the path of a port's state (MP logical port, Policy segment port): learnState
// and readHosts read the same object, once.
func (st *state) portStatePath(sp *trace.SwitchPort) string {
	if st.policy != nil {
		return "/policy/api/v1/infra/segments/" + url.PathEscape(sp.Switch) + "/ports/" + url.PathEscape(sp.ID) + "/state"
	}
	return "/api/v1/logical-ports/" + url.PathEscape(sp.ID) + "/state"
}

// vifOfPort is the inventory VIF of the NIC whose port has attachment att (nil: none); true while
// the read waits for the next level.
func (st *state) vifOfPort(ctx context.Context, att string) (*vif, bool) {
	if att == "" {
		return nil, false
	}
	if v, ok := st.vifOf[att]; ok {
		return v, false
	}
	var vifs []vif
	if st.wholeInventory {
		inv, waiting := st.inventoryVIFs(ctx)
		if waiting {
			return nil, true
		}
		vifs = inv.byAttach[att]
	} else {
		var err error
		vifs, err = list[vif](ctx, st.f, "/api/v1/fabric/vifs", url.Values{"lport_attachment_id": {att}})
		if pending(err) {
			return nil, true
		}
		if err != nil {
			_ = st.soft(err)
		}
	}
	var found *vif
	for _, v := range vifs {
		if v.LportAttachmentID == att {
			found = &v
		}
	}
	st.vifOf[att] = found
	return found, false
}

// inventoryNodes is how many nodes one Collect looks up before it lists the fabric inventory
// once (10 pages for 5,000 two-NIC nodes) rather than asking two VIF lookups per node.
const inventoryNodes = 100

// inventoryIndex is the fabric inventory's VIFs by attachment id and by VM.
type inventoryIndex struct {
	byAttach, byOwner map[string][]vif
}

// inventoryVIFs lists every VIF of the fabric inventory once; true while the list waits for the
// next level. A failed list leaves the index empty (a warning): nodes are then not found.
func (st *state) inventoryVIFs(ctx context.Context) (*inventoryIndex, bool) {
	if st.inv != nil {
		return st.inv, false
	}
	vifs, err := list[vif](ctx, st.f, "/api/v1/fabric/vifs", nil)
	if pending(err) {
		return nil, true
	}
	if err != nil {
		_ = st.soft(err)
	}
	inv := &inventoryIndex{byAttach: map[string][]vif{}, byOwner: map[string][]vif{}}
	for _, v := range vifs {
		inv.byAttach[v.LportAttachmentID] = append(inv.byAttach[v.LportAttachmentID], v)
		inv.byOwner[v.OwnerVMID] = append(inv.byOwner[v.OwnerVMID], v)
	}
	st.inv = inv
	return inv, false
}

// portOfAttachment reads the port of a VIF attachment through the search index (attachment.id),
// as the node's tagged port was found. The attachments a level asks for are searched together,
// maxNamesPerSearch a search (groupAttachments): a check's thousand nodes are ~20 searches.
func (st *state) portOfAttachment(ctx context.Context, att string) (*trace.SwitchPort, error) {
	group := st.f.attachGroup(att)
	if group == nil && st.f.dry {
		st.wantAttach = append(st.wantAttach, att) // searched with this level's others
		return nil, errPending
	}
	if group == nil {
		group = []string{att} // the live round reads what no dry round grouped
	}
	found, err := st.searchAttachments(ctx, group)
	if err != nil && !pending(err) && !fatal(err) && len(group) > 1 {
		found, err = st.searchAttachments(ctx, []string{att}) // the group was refused: alone
	}
	if pending(err) {
		return nil, err
	}
	if err := st.soft(err); err != nil {
		return nil, err
	}
	for _, sp := range found {
		if sp.AttachmentID == att && sp.Type != trace.PortChild {
			if old := st.ports[sp.ID]; old != nil && !st.synthetic[sp.ID] {
				return old, nil
			}
			return st.putPort(*sp), nil
		}
	}
	return nil, nil
}

// searchAttachments searches the ports of these attachments (one term, or an OR group).
func (st *state) searchAttachments(ctx context.Context, atts []string) ([]*trace.SwitchPort, error) {
	terms := make([]string, len(atts))
	for i, a := range atts {
		terms[i] = "attachment.id:" + quote(a)
	}
	term := terms[0]
	if len(terms) > 1 {
		term = "(" + strings.Join(terms, " OR ") + ")"
	}
	if st.policy != nil {
		return st.searchSegmentPorts(ctx, term)
	}
	lps, ok, err := st.search(ctx, len(atts) > 1, term)
	if err != nil {
		return nil, err
	}
	if !ok {
		// No search API: every port, once.
		if err := st.listAllPorts(ctx); err != nil {
			return nil, err
		}
		return st.sortedPorts(), nil
	}
	out := make([]*trace.SwitchPort, 0, len(lps))
	for _, lp := range lps {
		sp := lp.switchPort()
		out = append(out, &sp)
	}
	return out, nil
}

// groupAttachments groups the attachments this dry round asked for into searches and notes them.
func (st *state) groupAttachments(ctx context.Context) {
	atts := slices.Compact(slices.Sorted(slices.Values(st.wantAttach)))
	var group []string
	size := 0
	flush := func() {
		if len(group) == 0 {
			return
		}
		st.f.setAttachGroup(group)
		_, _ = st.searchAttachments(ctx, group)
		group, size = nil, 0
	}
	for _, a := range atts {
		if st.f.attachGroup(a) != nil {
			continue
		}
		term := len("attachment.id:"+quote(a)) + len(" OR ")
		if len(group) > 0 && (len(group) == maxNamesPerSearch || size+term > maxSearchTerms) {
			flush()
		}
		group = append(group, a)
		size += term
	}
	flush()
}

// searchTagged searches the ports tagged scope=name (with its group's names when grouped; a
// refused group is searched alone), keeping the ports of this name.
func (st *state) searchTagged(ctx context.Context, grouped bool, scope, name string, terms []string) ([]*trace.SwitchPort, bool, error) {
	if st.policy != nil {
		found, err := st.searchSegmentPorts(ctx, terms...)
		if err != nil && !pending(err) && !fatal(err) && grouped {
			found, err = st.searchSegmentPorts(ctx, "tags.scope:"+quote(scope), "tags.tag:"+quote(name))
		}
		return keepTagged(found, name), true, err
	}
	lps, ok, err := st.search(ctx, grouped, terms...)
	if err != nil && !pending(err) && !fatal(err) && grouped {
		// The grouped query was refused (a manager that does not take OR groups, a URL too long
		// for a proxy): this name's own search instead.
		lps, ok, err = st.searchPorts(ctx, "tags.scope:"+quote(scope), "tags.tag:"+quote(name))
	}
	if err != nil {
		return nil, ok, err
	}
	out := make([]*trace.SwitchPort, 0, len(lps))
	for _, lp := range lps {
		sp := lp.switchPort()
		out = append(out, &sp)
	}
	return keepTagged(out, name), ok, nil
}

// keepTagged keeps the ports with a tag of this value: a grouped search found other names' too.
func keepTagged(found []*trace.SwitchPort, name string) []*trace.SwitchPort {
	return slices.DeleteFunc(slices.Clone(found), func(sp *trace.SwitchPort) bool {
		return !strings.EqualFold(sp.NodeName, name) && (sp.Pod == nil || !strings.EqualFold(sp.Pod.Name, name))
	})
}

// inventory gives every VM NIC read its learned addresses from the fabric inventory (one paged
// list, instead of every port's state), and an untagged NIC the node of its VM's tagged one.
func (st *state) inventory(ctx context.Context) error {
	vifs, err := list[vif](ctx, st.f, "/api/v1/fabric/vifs", nil)
	if pending(err) {
		return nil
	}
	if err := st.soft(err); err != nil {
		return err
	}
	byAttach := map[string]*trace.SwitchPort{}
	for _, sp := range st.sortedPorts() {
		if sp.AttachmentID != "" && sp.Type == trace.PortVIF {
			byAttach[sp.AttachmentID] = sp
		}
	}
	nodeOfVM := map[string]string{}
	for _, v := range vifs {
		if sp := byAttach[v.LportAttachmentID]; sp != nil && sp.NodeName != "" {
			nodeOfVM[v.OwnerVMID] = sp.NodeName
		}
	}
	for _, v := range vifs {
		sp := byAttach[v.LportAttachmentID]
		if sp == nil {
			continue
		}
		cp := *sp
		cp.IPs, cp.MACs = slices.Clone(sp.IPs), slices.Clone(sp.MACs)
		var ips []string
		for _, info := range v.IPAddressInfo {
			ips = append(ips, info.IPAddresses...)
		}
		changed := addAddrs(&cp, ips, []string{v.MACAddress})
		if cp.NodeName == "" && nodeOfVM[v.OwnerVMID] != "" {
			cp.NodeName, changed = nodeOfVM[v.OwnerVMID], true
		}
		if changed {
			st.ports[cp.ID] = &cp
			st.ver++
		}
	}
	return nil
}
