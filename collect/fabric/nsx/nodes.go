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
//  2. beside each other, their state and their inventory VIF (which names the VM);
//  3. when none of them holds the node's address: the VM's other VIFs (owner_vm_id), whose
//     ip_address_info says which NIC has it;
//  4. that NIC's port, by its attachment id.
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
	// Their state and inventory VIFs, all in one level; beside them, the tagged NIC's switch and
	// its gateway, where a node's other NIC usually is too (then the port found last needs
	// nothing more read).
	for _, sp := range tagged {
		waiting = st.learnState(ctx, sp) || waiting
		if _, w := st.vmOfPort(ctx, sp.AttachmentID); w {
			waiting = true
		}
		if err := st.ensureSwitch(ctx, sp.Switch, true); err != nil {
			return nil, err
		}
	}
	if waiting {
		return nil, nil
	}
	if sp := holding(tagged, ep.IP); sp != nil {
		return sp, nil
	}
	// The address is on another NIC of the same VM (the node's management NIC, untagged).
	var vms []string
	for _, sp := range tagged {
		if vm, _ := st.vmOfPort(ctx, sp.AttachmentID); vm != "" && !slices.Contains(vms, vm) {
			vms = append(vms, vm)
		}
	}
	for _, vm := range vms {
		vifs, err := list[vif](ctx, st.f, "/api/v1/fabric/vifs", url.Values{"owner_vm_id": {vm}})
		if pending(err) {
			waiting = true
			continue
		}
		if err := st.soft(err); err != nil {
			return nil, err
		}
		for _, v := range vifs {
			if v.LportAttachmentID == "" || !vifHolds(v, ep.IP) || slices.ContainsFunc(tagged, func(sp *trace.SwitchPort) bool { return sp.AttachmentID == v.LportAttachmentID }) {
				continue
			}
			sp, err := st.portOfAttachment(ctx, v.LportAttachmentID)
			if pending(err) {
				waiting = true
				continue
			}
			if err != nil || sp == nil {
				return nil, err
			}
			// The inventory is the evidence of its addresses; the NIC belongs to the tagged node.
			var ips []string
			for _, info := range v.IPAddressInfo {
				ips = append(ips, info.IPAddresses...)
			}
			if addAddrs(sp, ips, []string{v.MACAddress}) || sp.NodeName == "" {
				sp.NodeName = ep.Node
				st.ver++
			}
			return sp, nil
		}
	}
	if waiting {
		return nil, nil
	}
	if ep.IP.IsValid() {
		st.warn("no NIC of the VM of the NSX ports tagged ncp/node_name=%s has the address %s (port state, fabric VIFs)", ep.Node, ep.IP)
	} else {
		st.warn("no NIC of the VM of the NSX ports tagged ncp/node_name=%s has an address (port state, fabric VIFs)", ep.Node)
	}
	return nil, nil
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
	var out []*trace.SwitchPort
	for _, sp := range st.sortedPorts() {
		if sp.NodeName == name && sp.Type == trace.PortVIF && (!ok || slices.ContainsFunc(found, func(f *trace.SwitchPort) bool { return f.ID == sp.ID })) {
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
	p := "/api/v1/logical-ports/" + url.PathEscape(sp.ID) + "/state"
	if st.policy != nil {
		p = "/policy/api/v1/infra/segments/" + url.PathEscape(sp.Switch) + "/ports/" + url.PathEscape(sp.ID) + "/state"
	}
	ps, err := fetch[portState](ctx, st.f, p, nil)
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

// vmOfPort is the VM of the NIC whose port has attachment att, from the fabric inventory; true
// while the read waits for the next level.
func (st *state) vmOfPort(ctx context.Context, att string) (string, bool) {
	if att == "" {
		return "", false
	}
	if vm, ok := st.vmOf[att]; ok {
		return vm, false
	}
	vifs, err := list[vif](ctx, st.f, "/api/v1/fabric/vifs", url.Values{"lport_attachment_id": {att}})
	if pending(err) {
		return "", true
	}
	if err != nil {
		_ = st.soft(err)
	}
	vm := ""
	for _, v := range vifs {
		if v.LportAttachmentID == att && v.OwnerVMID != "" {
			vm = v.OwnerVMID
		}
	}
	st.vmOf[att] = vm
	return vm, false
}

// portOfAttachment reads the port of a VIF attachment: by the list filter (Management API) or a
// search on attachment.id (Policy API).
func (st *state) portOfAttachment(ctx context.Context, att string) (*trace.SwitchPort, error) {
	if st.policy != nil {
		found, err := st.searchSegmentPorts(ctx, "attachment.id:"+quote(att))
		if err != nil {
			return nil, err
		}
		for _, sp := range found {
			if sp.AttachmentID == att {
				return sp, nil
			}
		}
		return nil, nil
	}
	res, err := list[lport](ctx, st.f, "/api/v1/logical-ports", url.Values{"attachment_id": {att}})
	if pending(err) {
		return nil, err
	}
	if err := st.soft(err); err != nil {
		return nil, err
	}
	for _, lp := range res {
		if lp.Attachment != nil && lp.Attachment.ID == att {
			if old := st.ports[lp.ID]; old != nil && !st.synthetic[lp.ID] {
				return old, nil
			}
			return st.addPort(lp), nil
		}
	}
	return nil, nil
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
