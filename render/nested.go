package render

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// The pictures draw where each hop is, as the published walk's figure does: the pod's netns inside
// its node VM, the node VM (with its OVS bridge) on its hypervisor with its TEP, the fabric's
// switches and routers in their own box, the tunnel as an edge from one hypervisor's TEP to the
// other's, and the forward and return paths side by side. The layout is computed once (nest) and
// written as Graphviz dot or Mermaid.

// Box kinds, outermost first.
const (
	boxPath       = "path"
	boxHypervisor = "hypervisor"
	boxNode       = "node"
	boxNetns      = "netns"
	boxOVS        = "ovs"
	boxFabric     = "fabric"
)

// box is a nested group of hops.
type box struct {
	id, kind, label string
	boxes           []*box
	hops            []trace.Hop
	teps            []tep
}

// tep is a tunnel endpoint drawn inside its hypervisor's box: where tunnel edges start and end.
type tep struct{ id, label string }

// edge links two drawn things (hop or TEP ids).
type edge struct {
	from, to, label string
	status          trace.Status
	// kind: "hop" (the packet's next step), "tunnel", "return" (forward to return), "cause" (from a
	// consequence to the hop that explains it).
	kind string
	// dashed marks the return path.
	dashed bool
}

// layout is a walk as nested boxes and edges.
type layout struct {
	paths []*box
	edges []edge
	// prefix is the ids' prefix (nest's).
	prefix string
}

// hopID is the identifier of hop h in this layout.
func (lay *layout) hopID(h trace.Hop) string { return hopID(lay.prefix, h.Index) }

// hostsOfNodes maps each node (VM) to its hypervisor from the walk's transport and host hops: hops
// before a tunnel are on its local host, hops after it on its remote host; a host hop puts the
// whole direction on one host. TEPs come from the transport hops.
func hostsOfNodes(w *trace.Walk) (map[string]string, map[string]string) {
	nodeHost, hostTEP := map[string]string{}, map[string]string{}
	for _, dir := range []trace.Direction{trace.Forward, trace.Return} {
		hops := hopsOf(w, dir)
		var sides []int // index in hops of each transport hop with both hosts
		for i, h := range hops {
			switch {
			case isTunnelEdge(h):
				sides = append(sides, i)
				if h.Transport.LocalTEP != "" {
					hostTEP[h.Transport.LocalHost] = cmp.Or(hostTEP[h.Transport.LocalHost], h.Transport.LocalTEP)
				}
				if h.Transport.RemoteTEP != "" {
					hostTEP[h.Transport.RemoteHost] = cmp.Or(hostTEP[h.Transport.RemoteHost], h.Transport.RemoteTEP)
				}
			case h.Kind == trace.HopHost && h.Name != "":
				for _, x := range hops {
					if x.Node != "" && nodeHost[x.Node] == "" {
						nodeHost[x.Node] = h.Name
					}
				}
			}
		}
		if len(sides) == 0 {
			continue
		}
		for i, h := range hops {
			if h.Node == "" || nodeHost[h.Node] != "" {
				continue
			}
			host := hops[sides[0]].Transport.LocalHost
			for _, s := range sides {
				if i > s {
					host = hops[s].Transport.RemoteHost
				}
			}
			nodeHost[h.Node] = host
		}
	}
	return nodeHost, hostTEP
}

func hopsOf(w *trace.Walk, dir trace.Direction) []trace.Hop {
	var out []trace.Hop
	for _, h := range w.Hops {
		if cmp.Or(h.Direction, trace.Forward) == dir {
			out = append(out, h)
		}
	}
	return out
}

// isTunnelEdge reports whether a transport hop is drawn as an edge between two hypervisors.
func isTunnelEdge(h trace.Hop) bool {
	return h.Kind == trace.HopTransport && h.Transport != nil && h.Transport.LocalHost != "" && h.Transport.RemoteHost != ""
}

// nest lays the walk out in boxes; prefix keeps box and TEP ids apart when several walks share a
// graph (a Service's endpoints).
func nest(w *trace.Walk, prefix string) *layout {
	nodeHost, hostTEP := hostsOfNodes(w)
	bridges := map[string]string{} // node -> OVS bridge, from its MAC-table hop
	for _, h := range w.Hops {
		if h.Kind == trace.HopMACTable && h.Node != "" && h.Name != "" {
			bridges[h.Node] = cmp.Or(bridges[h.Node], h.Name)
		}
	}
	lay := &layout{prefix: prefix}
	prev := "" // the last hop or TEP placed: the return path starts from the forward path's
	for _, dir := range []trace.Direction{trace.Forward, trace.Return} {
		hops := hopsOf(w, dir)
		if len(hops) == 0 {
			continue
		}
		p := prefix + string(dir[:1]) // f or r: box and TEP ids are unique across both paths
		pb := &pathBoxes{
			root:     &box{id: p, kind: boxPath, label: string(dir) + " path"},
			hops:     hops,
			nodeHost: nodeHost, hostTEP: hostTEP, bridges: bridges,
			byID: map[string]*box{}, hvIdx: map[string]int{}, nodeIdx: map[string]int{},
		}
		lay.paths = append(lay.paths, pb.root)
		prev = pb.place(lay, dir, prev)
	}
	for _, h := range w.Hops {
		if h.ConsequenceOf != 0 {
			// From the consequence to its cause: nothing leaves the root cause, where the packet stops.
			lay.edges = append(lay.edges, edge{from: lay.hopID(h), to: hopID(prefix, h.ConsequenceOf), kind: "cause", label: "caused by", status: trace.StatusBroken})
		}
	}
	return lay
}

// pathBoxes builds one direction's box tree, creating each box the first time a hop needs it.
type pathBoxes struct {
	root                       *box
	hops                       []trace.Hop
	nodeHost, hostTEP, bridges map[string]string
	byID                       map[string]*box
	hvIdx, nodeIdx             map[string]int
}

// place puts each hop in its box and appends the edges between them, starting from prev (the
// forward path's last hop for the return path); it returns the last hop or TEP id.
func (pb *pathBoxes) place(lay *layout, dir trace.Direction, prev string) string {
	for i, h := range pb.hops {
		if isTunnelEdge(h) {
			a, b := pb.tepOf(h.Transport.LocalHost), pb.tepOf(h.Transport.RemoteHost)
			if prev != "" {
				lay.edges = append(lay.edges, edge{from: prev, to: a, kind: "hop", status: trace.StatusOK, dashed: dir == trace.Return})
			}
			lay.edges = append(lay.edges, edge{from: a, to: b, kind: "tunnel", status: h.Status, label: tunnelLabel(h), dashed: dir == trace.Return})
			prev = b
			continue
		}
		b := pb.where(i)
		b.hops = append(b.hops, h)
		id := lay.hopID(h)
		if prev != "" {
			// The packet does reach a consequence: only its answer is missing.
			st := h.Status
			if h.ConsequenceOf != 0 {
				st = trace.StatusOK
			}
			e := edge{from: prev, to: id, kind: "hop", status: st, dashed: dir == trace.Return}
			if i == 0 {
				e.kind, e.label = "return", "return"
			}
			lay.edges = append(lay.edges, e)
		}
		prev = id
	}
	return prev
}

func (pb *pathBoxes) child(parent *box, id, kind, label string) *box {
	id = parent.id + "_" + id
	if b := pb.byID[id]; b != nil {
		return b
	}
	b := &box{id: id, kind: kind, label: label}
	pb.byID[id] = b
	parent.boxes = append(parent.boxes, b)
	return b
}

func (pb *pathBoxes) hypervisor(host string) *box {
	if _, ok := pb.hvIdx[host]; !ok {
		pb.hvIdx[host] = len(pb.hvIdx) + 1
	}
	label := "hypervisor " + host
	if t := pb.hostTEP[host]; t != "" {
		label += "\nTEP " + t
	}
	return pb.child(pb.root, fmt.Sprintf("hv%d", pb.hvIdx[host]), boxHypervisor, label)
}

func (pb *pathBoxes) tepOf(host string) string {
	hv := pb.hypervisor(host)
	id := hv.id + "_tep"
	if len(hv.teps) == 0 {
		hv.teps = append(hv.teps, tep{id: id, label: "TEP " + cmp.Or(pb.hostTEP[host], "?")})
	}
	return id
}

func (pb *pathBoxes) fabric() *box {
	return pb.child(pb.root, "fabric", boxFabric, "fabric: logical switches and routers")
}

func (pb *pathBoxes) nodeBox(node string) *box {
	parent := pb.root
	if host := pb.nodeHost[node]; host != "" {
		parent = pb.hypervisor(host)
	}
	if _, ok := pb.nodeIdx[node]; !ok {
		pb.nodeIdx[node] = len(pb.nodeIdx) + 1
	}
	return pb.child(parent, fmt.Sprintf("n%d", pb.nodeIdx[node]), boxNode, "node VM "+node)
}

func (pb *pathBoxes) ovsBox(node string) *box {
	return pb.child(pb.nodeBox(node), "ovs", boxOVS, "OVS "+cmp.Or(pb.bridges[node], "bridge"))
}

func (pb *pathBoxes) portBox(h trace.Hop) *box {
	if host := pb.nodeHost[h.Node]; h.Node != "" && host != "" {
		return pb.hypervisor(host)
	}
	return pb.fabric()
}

// where gives the box hop i is drawn in.
func (pb *pathBoxes) where(i int) *box {
	hops := pb.hops
	h := hops[i]
	switch h.Kind {
	case trace.HopPod:
		if h.Node == "" {
			return pb.root
		}
		nb := pb.nodeBox(h.Node)
		if h.Netns != "" && h.Netns != "root" {
			return pb.child(nb, "ns", boxNetns, "pod netns "+h.Netns)
		}
		return nb
	case trace.HopVeth, trace.HopNode, trace.HopRoute:
		if h.Node == "" {
			return pb.root
		}
		return pb.nodeBox(h.Node)
	case trace.HopOVSPort, trace.HopMACTable, trace.HopUplink:
		if h.Node == "" {
			return pb.root
		}
		return pb.ovsBox(h.Node)
	case trace.HopFabricPort:
		return pb.portBox(h)
	case trace.HopFirewall:
		// The distributed firewall decides at the logical port next to it.
		if i > 0 && hops[i-1].Kind == trace.HopFabricPort {
			return pb.portBox(hops[i-1])
		}
		if i+1 < len(hops) && hops[i+1].Kind == trace.HopFabricPort {
			return pb.portBox(hops[i+1])
		}
		return pb.fabric()
	case trace.HopHost:
		return pb.hypervisor(h.Name)
	case trace.HopService, trace.HopNAT:
		// Balanced or translated in the node's OVS (NCP), else on a fabric router.
		if h.Router == "" && h.Node != "" {
			return pb.ovsBox(h.Node)
		}
		return pb.fabric()
	case trace.HopSwitch, trace.HopRouter, trace.HopTransport:
		return pb.fabric()
	}
	return pb.root
}

// tunnelLabel says what the tunnel edge carries: the hop, encapsulation, state and MTUs.
func tunnelLabel(h trace.Hop) string {
	t := h.Transport
	parts := []string{fmt.Sprintf("%d transport: %s", h.Index, h.Name)}
	l2 := cmp.Or(t.Encap, "overlay")
	if t.State != "" {
		l2 += ", " + t.State
	}
	if t.BFDDiagnostic != "" {
		l2 += " (BFD " + t.BFDDiagnostic + ")"
	}
	parts = append(parts, l2)
	if t.MTUNeeded > 0 || t.UnderlayMTU > 0 {
		parts = append(parts, fmt.Sprintf("MTU needed %s, underlay %s", mtuString(t.MTUNeeded), mtuString(t.UnderlayMTU)))
	}
	if h.Status != trace.StatusOK {
		parts = append(parts, strings.ToUpper(string(h.Status))+": "+h.Detail)
	}
	return strings.Join(parts, "\n")
}

func mtuString(n int) string {
	if n == 0 {
		return "?"
	}
	return fmt.Sprint(n)
}
