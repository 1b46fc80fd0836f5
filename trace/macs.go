package trace

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// MAC row roles.
const (
	RolePod     = "pod"
	RoleRouter  = "router"
	RoleNode    = "node"
	RoleRemote  = "remote"
	RoleUnknown = "unknown"
)

// MACRow is one MAC table entry joined to its OVS port, VLAN, pod and fabric port.
type MACRow struct {
	Bridge     string `json:"bridge"`
	Port       string `json:"port"`
	OFPort     string `json:"ofport"`
	Interface  string `json:"interface,omitempty"`
	VLAN       int    `json:"vlan"`
	MAC        string `json:"mac"`
	Age        int    `json:"age"`
	Role       string `json:"role"`
	Owner      string `json:"owner,omitempty"`
	Pod        string `json:"pod,omitempty"`
	FabricPort string `json:"fabricPort,omitempty"`
	// FabricTag is the pod's CHILD port's traffic_tag (NSX) or tag (OVN): the VLAN the join is on.
	FabricTag *int `json:"fabricTag,omitempty"`
	// Uplink is set on rows learned on a trunk port (a MAC beyond the node).
	Uplink bool     `json:"uplink,omitempty"`
	Notes  []string `json:"notes,omitempty"`
}

// MACTable is the result of `macs`: one node's MAC table, joined.
type MACTable struct {
	Node string   `json:"node"`
	Rows []MACRow `json:"rows"`
	// AgingTimes is each bridge's mac-aging-time in seconds: how long an idle MAC stays.
	AgingTimes map[string]int `json:"agingTimes,omitempty"`
	// Idle are the node's pods whose MAC has no entry: idle longer than the aging time, or never sent.
	Idle     []IdleMAC `json:"idle,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
}

// IdleMAC is a pod of the node with no MAC table entry, with where its entry would be.
type IdleMAC struct {
	Pod        string `json:"pod"`
	MAC        string `json:"mac"`
	Bridge     string `json:"bridge,omitempty"`
	Port       string `json:"port,omitempty"`
	VLAN       *int   `json:"vlan,omitempty"`
	FabricPort string `json:"fabricPort,omitempty"`
}

// MACs joins a node's MAC table to OVS ports, VLANs, pods and fabric ports.
func (ix *Index) MACs(node string) (*MACTable, error) {
	node, ni, err := ix.macNode(node)
	if err != nil {
		return nil, err
	}
	out := &MACTable{Node: node}
	o := ni.st.OVS
	if o == nil {
		out.Warnings = append(out.Warnings, fmt.Sprintf("no OVS facts from node %s", node))
		return out, nil
	}
	if len(ni.fdbBridges) == 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("MAC table of node %s not collected", node))
	}
	j := &macJoin{ix: ix, ni: ni, node: node}
	j.podMACs()
	j.nodeMACs()
	j.fabricMACs()
	j.gatewayMACs()
	for _, e := range o.MACTable {
		out.Rows = append(out.Rows, j.row(e))
	}
	out.Idle = j.idle(out.Rows)
	for _, b := range o.Bridges {
		if out.AgingTimes == nil {
			out.AgingTimes = map[string]int{}
		}
		out.AgingTimes[b.Name] = b.AgingTime()
	}
	sortMACRows(out.Rows)
	return out, nil
}

// macNode finds the node facts of a node named by name or address, or says which nodes have facts.
func (ix *Index) macNode(node string) (string, *nodeIdx, error) {
	ni := ix.states[node]
	if ni == nil {
		if n := ix.nodes[node]; n == nil {
			if a, ok := ParseAddr(node); ok && ix.nodesByIP[a] != nil {
				node = ix.nodesByIP[a].Name
				ni = ix.states[node]
			}
		}
	}
	if ni != nil {
		return node, ni, nil
	}
	var names []string
	for n := range ix.states {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return node, nil, &RequestError{fmt.Sprintf("no node facts in the snapshot for node %s (it holds none: collect them with `collect node`)", node)}
	}
	return node, nil, &RequestError{fmt.Sprintf("no node facts in the snapshot for node %s; it has: %s", node, joinMax(names, 10))}
}

// macJoin is what a node's MAC table entries are joined to: its pods, its own links, the fabric's
// ports and the pods' gateways, each by MAC.
type macJoin struct {
	ix   *Index
	ni   *nodeIdx
	node string
	// podByMAC and podIface name the pod (NS/NAME) of a MAC and of a host interface.
	podByMAC, podIface map[string]string
	// nodeMAC is the root-netns link of a MAC.
	nodeMAC map[string]string
	// childByTag is this node's CHILD ports by traffic_tag; routerByMAC the router ports by MAC.
	childByTag  map[int]*SwitchPort
	routerByMAC map[string][]*RouterPort
	// gwByVLANMAC is a pod gateway's address by "VLAN/MAC"; netnsByMAC labels a pod netns by MAC.
	gwByVLANMAC, netnsByMAC map[string]string
}

// podMACs finds the pod of each MAC on the node: pod netns links, OVS external_ids attached-mac.
func (j *macJoin) podMACs() {
	ix, ni := j.ix, j.ni
	j.podByMAC, j.podIface = map[string]string{}, map[string]string{}
	for _, ns := range ni.st.Netns {
		if ns.Root {
			continue
		}
		ref := ""
		if ns.Pod != nil {
			ref = ns.Pod.String()
		} else {
			for _, a := range ns.Addresses {
				if x, ok := ParseAddr(a.CIDR); ok {
					if p := ix.podsByIP[x]; p != nil {
						ref = p.Namespace + "/" + p.Name
					}
				}
			}
		}
		if ref == "" {
			continue
		}
		for _, l := range ns.Links {
			if m := NormalizeMAC(l.MAC); m != "" && l.Kind != KindLoopback {
				j.podByMAC[m] = ref
				if host, _ := peerOf(ni, &l); host != nil {
					j.podIface[host.Name] = ref
				}
			}
		}
	}
	var pods []*Pod
	for i := range ix.snap.Cluster.Pods {
		if p := &ix.snap.Cluster.Pods[i]; p.Node == j.node && !p.HostNetwork {
			pods = append(pods, p)
		}
	}
	for name, itf := range ni.ifaces {
		for _, p := range pods {
			ip, _ := pickIP(p.IPs, netip.Addr{})
			if ifaceNamesPod(itf, p, ip, "") {
				j.podIface[name] = p.Namespace + "/" + p.Name
			}
		}
		if m := NormalizeMAC(itf.ExternalIDs["attached-mac"]); m != "" && j.podIface[name] != "" {
			j.podByMAC[m] = j.podIface[name]
		}
	}
}

// nodeMACs names the node's own links by MAC (the first link of a MAC).
func (j *macJoin) nodeMACs() {
	j.nodeMAC = map[string]string{}
	if j.ni.root == nil {
		return
	}
	for _, l := range j.ni.root.Links {
		if m := NormalizeMAC(l.MAC); m != "" {
			if _, dup := j.nodeMAC[m]; !dup {
				j.nodeMAC[m] = l.Name
			}
		}
	}
}

// fabricMACs indexes the fabric for the node: its CHILD ports by tag, router ports by MAC.
func (j *macJoin) fabricMACs() {
	j.childByTag = map[int]*SwitchPort{}
	j.routerByMAC = map[string][]*RouterPort{}
	fab := j.ix.fab
	if fab == nil {
		return
	}
	// This node's CHILD ports: under a parent VIF the fabric ties to the node, or bound to
	// the MAC of one of the node's pods (a fabric that names no node on its VIFs, as OVN).
	for i := range fab.f.SwitchPorts {
		sp := &fab.f.SwitchPorts[i]
		if sp.TrafficTag == nil {
			continue
		}
		par := fab.parentOf(sp)
		mine := par != nil && j.ix.portNode(par) == j.node
		for _, m := range sp.MACs {
			mine = mine || j.podByMAC[NormalizeMAC(m)] != ""
		}
		if mine {
			j.childByTag[*sp.TrafficTag] = sp
		}
	}
	for i := range fab.f.RouterPorts {
		rp := &fab.f.RouterPorts[i]
		if m := NormalizeMAC(rp.MAC); m != "" {
			j.routerByMAC[m] = append(j.routerByMAC[m], rp)
		}
	}
}

// gatewayMACs finds gateways by (VLAN, MAC): each pod netns's default gateway and its neighbour
// entry, on the VLAN of the pod's OVS port (a shared router MAC serves different gateways per
// VLAN); and labels each pod netns's MACs.
func (j *macJoin) gatewayMACs() {
	ni := j.ni
	j.gwByVLANMAC, j.netnsByMAC = map[string]string{}, map[string]string{}
	for _, ns := range ni.st.Netns {
		if ns.Root {
			continue
		}
		vlans := map[int]bool{}
		for i := range ns.Links {
			l := &ns.Links[i]
			if m := NormalizeMAC(l.MAC); m != "" && l.Kind != KindLoopback {
				j.netnsByMAC[m] = netnsLabel(&ns, l)
			}
			if host, _ := peerOf(ni, l); host != nil {
				if p := ni.portByIface[host.Name]; p != nil {
					t := 0
					if p.Tag != nil {
						t = *p.Tag
					}
					vlans[t] = true
				}
			}
		}
		for _, r := range ns.Routes {
			if r.Gateway == "" {
				continue
			}
			for _, n := range ns.Neighbors {
				if n.IP == r.Gateway && NormalizeMAC(n.MAC) != "" {
					for v := range vlans {
						j.gwByVLANMAC[fmt.Sprintf("%d/%s", v, NormalizeMAC(n.MAC))] = r.Gateway
					}
				}
			}
		}
	}
}

// netnsLabel names a netns by its name and the first address of link l that is not link-local.
func netnsLabel(ns *Netns, l *Link) string {
	label := "netns " + ns.Name
	for _, a := range ns.Addresses {
		if a.Link == l.Name {
			if x, ok := ParseAddr(a.CIDR); ok && !x.IsLinkLocalUnicast() {
				return label + " " + x.String()
			}
		}
	}
	return label
}

// row joins one MAC table entry: its OVS port, then who owns the MAC.
func (j *macJoin) row(e MACEntry) MACRow {
	row := MACRow{Bridge: e.Bridge, OFPort: e.Port, VLAN: e.VLAN, MAC: NormalizeMAC(e.MAC), Age: e.Age, Role: RoleUnknown}
	if row.MAC == "" {
		row.MAC = e.MAC
	}
	var port *Port
	if itf := j.ni.ifaceByOF[e.Bridge+"/"+e.Port]; itf != nil {
		row.Interface = itf.Name
		port = j.ni.portByIface[itf.Name]
	}
	switch {
	case port != nil:
		row.Port = port.Name
	case e.Port == "LOCAL":
		row.Port = e.Bridge
	default:
		row.Port = "?"
		row.Notes = append(row.Notes, "ofport "+e.Port+" is on no OVS port")
	}
	row.Uplink = port != nil && port.Tag == nil && port.Name != e.Bridge
	j.owner(&row, e.VLAN)
	return row
}

// owner sets the row's role and owner: a pod of the node, a router port, a pod's gateway, a pod
// netns, the node itself, or a fabric port elsewhere.
func (j *macJoin) owner(row *MACRow, vlan int) {
	ix := j.ix
	child := j.childByTag[vlan]
	gwKey := fmt.Sprintf("%d/%s", vlan, row.MAC)
	switch {
	case j.podByMAC[row.MAC] != "":
		j.podOwner(row, vlan, child)
	case len(j.routerByMAC[row.MAC]) > 0:
		row.Role = RoleRouter
		rp := j.routerByMAC[row.MAC][0]
		if child != nil {
			for _, c := range j.routerByMAC[row.MAC] {
				if sp := ix.fab.swPortByRP[c.ID]; sp != nil && sp.Switch == child.Switch {
					rp = c
				}
			}
		}
		row.Owner = "router " + ix.fab.routerName(rp.Router)
		if ip := firstAddr(rp.Networks); ip != "" {
			row.Owner += " " + ip
		}
		row.FabricPort = rpName(rp)
	case j.gwByVLANMAC[gwKey] != "":
		row.Role, row.Owner = RoleRouter, "gateway "+j.gwByVLANMAC[gwKey]
	case j.netnsByMAC[row.MAC] != "":
		// A pod's MAC with no cluster facts to name the pod (macs --local): name its netns.
		row.Role, row.Owner = RolePod, j.netnsByMAC[row.MAC]
	case j.nodeMAC[row.MAC] != "":
		row.Role, row.Owner = RoleNode, "node "+j.node+" "+j.nodeMAC[row.MAC]
	case ix.fab != nil && len(ix.fab.portsByMAC[row.MAC]) > 0:
		sp := ix.fab.portsByMAC[row.MAC][0]
		row.Role, row.FabricPort = RoleRemote, portName(sp)
		if sp.Pod != nil {
			row.Pod, row.Owner = sp.Pod.String(), sp.Pod.String()
		} else if sp.NodeName != "" {
			row.Owner = "node " + sp.NodeName
		}
	}
}

// podOwner sets a pod MAC's row: the pod, its CHILD port on the row's VLAN (else any fabric port
// bound to the MAC, noting a tag that differs), and a note when it was learned on another pod's port.
func (j *macJoin) podOwner(row *MACRow, vlan int, child *SwitchPort) {
	row.Role, row.Pod, row.Owner = RolePod, j.podByMAC[row.MAC], j.podByMAC[row.MAC]
	if child != nil && containsMAC(child.MACs, row.MAC) {
		row.FabricPort, row.FabricTag = portName(child), child.TrafficTag
	} else if j.ix.fab != nil {
		for _, sp := range j.ix.fab.portsByMAC[row.MAC] {
			row.FabricPort, row.FabricTag = portName(sp), sp.TrafficTag
			if sp.TrafficTag != nil && *sp.TrafficTag != vlan {
				row.Notes = append(row.Notes, fmt.Sprintf("fabric port traffic_tag %d, MAC seen on VLAN %d", *sp.TrafficTag, vlan))
			}
		}
	}
	if iface := j.podIface[row.Interface]; iface != "" && iface != row.Pod {
		row.Notes = append(row.Notes, fmt.Sprintf("learned on the port of %s", iface))
	}
}

// sortMACRows orders rows by bridge, VLAN, local before uplink, ofport, MAC.
func sortMACRows(rows []MACRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Bridge != b.Bridge {
			return a.Bridge < b.Bridge
		}
		if a.VLAN != b.VLAN {
			return a.VLAN < b.VLAN
		}
		if a.Uplink != b.Uplink {
			return !a.Uplink
		}
		if a.OFPort != b.OFPort {
			return ofLess(a.OFPort, b.OFPort)
		}
		return a.MAC < b.MAC
	})
}

func ofLess(a, b string) bool {
	x, e1 := strconv.Atoi(a)
	y, e2 := strconv.Atoi(b)
	if e1 == nil && e2 == nil {
		return x < y
	}
	return a < b
}

func firstAddr(nets []string) string {
	for _, n := range nets {
		if a, ok := ParseAddr(n); ok {
			return a.String()
		}
	}
	return ""
}

func joinMax(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(xs[:n], ", "), len(xs)-n)
}

// idle lists the pods of the node whose MAC no row holds, each with its OVS port, VLAN and
// fabric port: the MAC table forgets a pod that sent nothing for the bridge's aging time.
func (j *macJoin) idle(rows []MACRow) []IdleMAC {
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.MAC] = true
	}
	ifaceOf := map[string]string{}
	for itf, ref := range j.podIface {
		if cur, ok := ifaceOf[ref]; !ok || itf < cur {
			ifaceOf[ref] = itf
		}
	}
	var out []IdleMAC
	for mac, ref := range j.podByMAC {
		if seen[mac] {
			continue
		}
		im := IdleMAC{Pod: ref, MAC: mac}
		if p := j.ni.portByIface[ifaceOf[ref]]; p != nil {
			im.Bridge, im.Port, im.VLAN = p.Bridge, p.Name, p.Tag
			if p.Tag != nil && j.childByTag[*p.Tag] != nil && containsMAC(j.childByTag[*p.Tag].MACs, mac) {
				im.FabricPort = portName(j.childByTag[*p.Tag])
			}
		}
		if im.FabricPort == "" && j.ix.fab != nil {
			for _, sp := range j.ix.fab.portsByMAC[mac] {
				im.FabricPort = portName(sp)
			}
		}
		out = append(out, im)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pod != out[j].Pod {
			return out[i].Pod < out[j].Pod
		}
		return out[i].MAC < out[j].MAC
	})
	return out
}
