package trace

import (
	"net/netip"
	"sort"
	"strconv"
)

// Index is a Snapshot with its lookups built once, so that many walks over one snapshot
// (a `check` of 1,000 pairs) share the work. It is read-only after NewIndex and safe for
// concurrent walks.
type Index struct {
	snap      *Snapshot
	pods      map[string]*Pod
	podsByIP  map[netip.Addr]*Pod
	nodes     map[string]*Node
	nodesByIP map[netip.Addr]*Node
	states    map[string]*nodeIdx
	fab       *fabIdx
	// nodeNames are the cluster's nodes, sorted; firstPod the first walkable pod of each (check).
	nodeNames []string
	firstPod  map[string]*Pod
}

type nodeIdx struct {
	st          *NodeState
	root        *Netns
	netnsByName map[string]*Netns
	netnsByPod  map[string]*Netns
	netnsByIP   map[netip.Addr]*Netns
	ifaces      map[string]*Interface
	portByIface map[string]*Port
	ifaceByOF   map[string]*Interface // "bridge/ofport"
	bridgeOf    map[string]string     // interface name -> bridge
	fdb         map[string][]MACEntry // mac -> entries (all bridges)
	fdbBridges  map[string]bool       // bridges whose MAC table was read
	agingTime   map[string]int        // bridge -> seconds an idle MAC stays in its table
	refreshed   map[string]bool       // "ns/pod" of the pods that sent a packet just before the read
}

type fabIdx struct {
	f             *Fabric
	switches      map[string]*Switch
	ports         map[string]*SwitchPort
	portsByIP     map[netip.Addr][]*SwitchPort
	portsByMAC    map[string][]*SwitchPort
	portsByAttach map[string]*SwitchPort
	children      map[string][]*SwitchPort
	routers       map[string]*Router
	rports        map[string]*RouterPort
	rportsBy      map[string][]*RouterPort
	rportByAddr   map[netip.Addr][]*RouterPort
	routes        map[string][]FabricRoute
	swPortByRP    map[string]*SwitchPort
	rpBySwitch    map[string][]*RouterPort
	notFound      map[netip.Addr]bool    // endpoint IPs the provider looked for in vain
	natByRouter   map[string][]*NATRule  // each router's NAT rules in the order they are tried (nat.go)
	vips          map[netip.Addr][]lbVIP // load balancer VIPs by address (service_walk.go)
}

// NewIndex builds the lookups for a snapshot.
func NewIndex(s *Snapshot) *Index {
	ix := &Index{
		snap:      s,
		pods:      map[string]*Pod{},
		podsByIP:  map[netip.Addr]*Pod{},
		nodes:     map[string]*Node{},
		nodesByIP: map[netip.Addr]*Node{},
		states:    map[string]*nodeIdx{},
	}
	for i := range s.Cluster.Pods {
		p := &s.Cluster.Pods[i]
		ix.pods[p.Namespace+"/"+p.Name] = p
		if p.HostNetwork {
			continue
		}
		for _, ip := range p.IPs {
			if a, ok := ParseAddr(ip); ok {
				ix.podsByIP[a] = p
			}
		}
	}
	for i := range s.Cluster.Nodes {
		n := &s.Cluster.Nodes[i]
		ix.nodes[n.Name] = n
		for _, ad := range n.Addresses {
			if a, ok := ParseAddr(ad.Address); ok {
				if _, dup := ix.nodesByIP[a]; !dup {
					ix.nodesByIP[a] = n
				}
			}
		}
	}
	for i := range s.Nodes {
		ix.states[s.Nodes[i].Name] = newNodeIdx(&s.Nodes[i])
	}
	for name := range ix.nodes {
		ix.nodeNames = append(ix.nodeNames, name)
	}
	sort.Strings(ix.nodeNames)
	ix.firstPod = map[string]*Pod{}
	for i := range s.Cluster.Pods {
		p := &s.Cluster.Pods[i]
		if p.HostNetwork || len(p.IPs) == 0 || (p.Phase != "" && p.Phase != "Running") {
			continue
		}
		if best := ix.firstPod[p.Node]; best == nil || p.Namespace+"/"+p.Name < best.Namespace+"/"+best.Name {
			ix.firstPod[p.Node] = p
		}
	}
	if s.Fabric != nil {
		ix.fab = newFabIdx(s.Fabric)
	}
	return ix
}

func newNodeIdx(st *NodeState) *nodeIdx {
	n := &nodeIdx{
		st:          st,
		netnsByName: map[string]*Netns{},
		netnsByPod:  map[string]*Netns{},
		netnsByIP:   map[netip.Addr]*Netns{},
		ifaces:      map[string]*Interface{},
		portByIface: map[string]*Port{},
		ifaceByOF:   map[string]*Interface{},
		bridgeOf:    map[string]string{},
		fdb:         map[string][]MACEntry{},
		fdbBridges:  map[string]bool{},
		agingTime:   map[string]int{},
		refreshed:   map[string]bool{},
	}
	for _, p := range st.Refreshed {
		n.refreshed[p.String()] = true
	}
	for i := range st.Netns {
		ns := &st.Netns[i]
		n.netnsByName[ns.Name] = ns
		if ns.Root && n.root == nil {
			n.root = ns
		}
		if ns.Pod != nil {
			n.netnsByPod[ns.Pod.String()] = ns
		}
		if ns.Root {
			continue
		}
		for _, ad := range ns.Addresses {
			if a, ok := ParseAddr(ad.CIDR); ok && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
				n.netnsByIP[a] = ns
			}
		}
	}
	if n.root == nil {
		n.root = n.netnsByName["root"]
	}
	if o := st.OVS; o != nil {
		for _, b := range o.Bridges {
			n.agingTime[b.Name] = b.AgingTime()
		}
		for i := range o.Interfaces {
			n.ifaces[o.Interfaces[i].Name] = &o.Interfaces[i]
		}
		for i := range o.Ports {
			p := &o.Ports[i]
			for _, in := range p.Interfaces {
				n.portByIface[in] = p
				n.bridgeOf[in] = p.Bridge
				if itf := n.ifaces[in]; itf != nil {
					n.ifaceByOF[p.Bridge+"/"+strconv.Itoa(itf.OFPort)] = itf
				}
			}
		}
		for _, e := range o.MACTable {
			n.fdbBridges[e.Bridge] = true
			m := NormalizeMAC(e.MAC)
			n.fdb[m] = append(n.fdb[m], e)
		}
		if o.FDBSource != "" {
			for _, b := range o.Bridges {
				n.fdbBridges[b.Name] = true
			}
		}
	}
	return n
}

func newFabIdx(f *Fabric) *fabIdx {
	x := &fabIdx{
		f:             f,
		switches:      map[string]*Switch{},
		ports:         map[string]*SwitchPort{},
		portsByIP:     map[netip.Addr][]*SwitchPort{},
		portsByMAC:    map[string][]*SwitchPort{},
		portsByAttach: map[string]*SwitchPort{},
		children:      map[string][]*SwitchPort{},
		routers:       map[string]*Router{},
		rports:        map[string]*RouterPort{},
		rportsBy:      map[string][]*RouterPort{},
		rportByAddr:   map[netip.Addr][]*RouterPort{},
		routes:        map[string][]FabricRoute{},
		swPortByRP:    map[string]*SwitchPort{},
		rpBySwitch:    map[string][]*RouterPort{},
		notFound:      map[netip.Addr]bool{},
	}
	for _, ip := range f.NotFound {
		if a, ok := ParseAddr(ip); ok {
			x.notFound[a] = true
		}
	}
	for i := range f.Switches {
		x.switches[f.Switches[i].ID] = &f.Switches[i]
	}
	x.indexSwitchPorts()
	x.indexRouters()
	x.indexNATRules()
	x.indexVIPs()
	return x
}

// indexSwitchPorts indexes logical switch ports by id, attachment, IP, MAC, router port and parent.
func (x *fabIdx) indexSwitchPorts() {
	f := x.f
	for i := range f.SwitchPorts {
		p := &f.SwitchPorts[i]
		x.ports[p.ID] = p
		if p.AttachmentID != "" {
			x.portsByAttach[p.AttachmentID] = p
		}
		for _, ip := range p.IPs {
			if a, ok := ParseAddr(ip); ok {
				x.portsByIP[a] = append(x.portsByIP[a], p)
			}
		}
		for _, m := range p.MACs {
			if mm := NormalizeMAC(m); mm != "" {
				x.portsByMAC[mm] = append(x.portsByMAC[mm], p)
			}
		}
		if p.RouterPort != "" {
			x.swPortByRP[p.RouterPort] = p
		}
	}
	for i := range f.SwitchPorts {
		p := &f.SwitchPorts[i]
		if par := x.parentOf(p); par != nil {
			x.children[par.ID] = append(x.children[par.ID], p)
		}
	}
}

// indexRouters indexes routers, their ports (by id, router, address, switch) and routes; call it
// after indexSwitchPorts, whose router port links it completes.
func (x *fabIdx) indexRouters() {
	f := x.f
	for i := range f.Routers {
		x.routers[f.Routers[i].ID] = &f.Routers[i]
	}
	for i := range f.RouterPorts {
		rp := &f.RouterPorts[i]
		x.rports[rp.ID] = rp
		x.rportsBy[rp.Router] = append(x.rportsBy[rp.Router], rp)
		for _, n := range rp.Networks {
			if a, ok := ParseAddr(n); ok {
				x.rportByAddr[a] = append(x.rportByAddr[a], rp)
			}
		}
	}
	for i := range f.RouterPorts {
		rp := &f.RouterPorts[i]
		sp := x.ports[rp.LinkedSwitchPort]
		if sp == nil {
			sp = x.swPortByRP[rp.ID]
		}
		if sp != nil {
			x.swPortByRP[rp.ID] = sp
			x.rpBySwitch[sp.Switch] = append(x.rpBySwitch[sp.Switch], rp)
		}
	}
	for _, r := range f.Routes {
		x.routes[r.Router] = append(x.routes[r.Router], r)
	}
	for k := range x.rportsBy {
		sort.Slice(x.rportsBy[k], func(i, j int) bool { return x.rportsBy[k][i].ID < x.rportsBy[k][j].ID })
	}
}

// parentOf resolves a CHILD port's parent switch port.
func (x *fabIdx) parentOf(p *SwitchPort) *SwitchPort {
	if p.ParentPort != "" {
		if par := x.ports[p.ParentPort]; par != nil {
			return par
		}
	}
	if p.ParentVIF != "" {
		if par := x.portsByAttach[p.ParentVIF]; par != nil && par != p {
			return par
		}
	}
	return nil
}

func (x *fabIdx) routerName(id string) string {
	if r := x.routers[id]; r != nil && r.Name != "" {
		return r.Name
	}
	return id
}

// switchOf is logical switch id, or a switch known only by that id when the facts do not
// describe it.
func (x *fabIdx) switchOf(id string) *Switch {
	if s := x.switches[id]; s != nil {
		return s
	}
	return &Switch{ID: id}
}

func (x *fabIdx) switchName(id string) string {
	if s := x.switches[id]; s != nil && s.Name != "" {
		return s.Name
	}
	return id
}

func portName(p *SwitchPort) string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}

func rpName(p *RouterPort) string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}

// aging is how long bridge keeps an idle MAC, in seconds (OVS's default when the bridge is unknown).
func (ni *nodeIdx) aging(bridge string) int {
	if t := ni.agingTime[bridge]; t > 0 {
		return t
	}
	return DefaultMACAgingTime
}

// PodAttachment is what a pod's node says of how it is attached: the MAC of the pod's interface
// holding ip, and the external_ids:iface-id of the OVS interface on the other end of its veth
// (the binding key a CNI writes: OVN's logical port name). Empty when the node's facts lack it.
func (ix *Index) PodAttachment(ref PodRef, ip netip.Addr) (mac, ifaceID string) {
	p := ix.pods[ref.String()]
	if p == nil {
		return "", ""
	}
	ni := ix.states[p.Node]
	if ni == nil {
		return "", ""
	}
	ns := ni.podNetns(p, ip)
	if ns == nil {
		return "", ""
	}
	eth, _ := linkHolding(ns, ip)
	if eth == nil {
		return "", ""
	}
	mac = NormalizeMAC(eth.MAC)
	var itf *Interface
	if host, _ := peerOf(ni, eth); host != nil {
		itf = ni.ifaces[host.Name]
	}
	if itf == nil {
		itf = ovsIfaceForPod(ni, p, ip, mac)
	}
	if itf != nil {
		ifaceID = itf.ExternalIDs["iface-id"]
	}
	return mac, ifaceID
}
