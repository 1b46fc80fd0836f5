package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// OFProtoProbe is one packet of a walk for `ovs-appctl ofproto/trace BRIDGE FLOW` on a node: the
// source pod's packet entering its node's bridge, and the reply entering the destination's.
type OFProtoProbe struct {
	Node   string
	Bridge string
	// Flow is the ofproto/trace flow: in_port, MACs, protocol, addresses and destination port.
	Flow string
	// Src, Dst and Protocol are the packet's, as OFProtoTrace records them.
	Src, Dst, Protocol string
}

// OFProtoProbes are the packets of req to trace on the nodes' OVS (trace --ofproto-trace), taken
// from a walk over what was collected: each OVS port a walk enters by, with the packet's MACs,
// addresses and port there. Duplicates (the source's packet, once per endpoint of a Service) are
// dropped.
func (ix *Index) OFProtoProbes(req Request) ([]OFProtoProbe, error) {
	w, err := ix.Walk(req)
	if err != nil {
		return nil, err
	}
	walks := []*Walk{w}
	vip, proto := "", req.To.Protocol
	if w.Service != nil {
		vip, proto = w.Service.VIP, w.Service.Protocol
	}
	if w.Service != nil && len(w.Service.Walks) > 0 {
		walks = walks[:0]
		for i := range w.Service.Walks {
			walks = append(walks, &w.Service.Walks[i].Walk)
		}
	}
	var out []OFProtoProbe
	seen := map[string]bool{}
	for _, wk := range walks {
		entered := map[Direction]bool{}
		for i, h := range wk.Hops {
			// The first OVS port each way is where the packet enters from the pod.
			if h.Kind != HopOVSPort || h.Node == "" || h.Interface == "" || entered[h.Direction] ||
				i == 0 || wk.Hops[i-1].Kind != HopVeth || wk.Hops[i-1].Direction != h.Direction {
				continue
			}
			entered[h.Direction] = true
			ni := ix.states[h.Node]
			if ni == nil || ni.ifaces[h.Interface] == nil {
				continue
			}
			src, dst := wk.Source.IP, cmp.Or(vip, hostPort(wk.Destination.IP, targetPort(req.To)))
			if h.Direction == Return {
				src, dst = wk.Destination.IP, wk.Source.IP
			}
			p := OFProtoProbe{Node: h.Node, Bridge: ni.bridgeOf[h.Interface], Src: src, Dst: dst, Protocol: proto}
			s, d := macsAround(wk.Hops, i)
			p.Flow = ofprotoFlow(ni.ifaces[h.Interface].OFPort, s, d, p)
			if p.Bridge == "" || seen[p.Node+" "+p.Flow] {
				continue
			}
			seen[p.Node+" "+p.Flow] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// macsAround finds the packet's source MAC (the pod's, from the hop before) and destination MAC
// (the next hop's, from the uplink hop after) around the OVS port hop at i.
func macsAround(hops []Hop, i int) (src, dst string) {
	for j := i - 1; j >= 0 && hops[j].Direction == hops[i].Direction; j-- {
		if hops[j].Kind == HopPod || hops[j].Kind == HopNode {
			src = hops[j].MAC
			break
		}
	}
	for j := i + 1; j < len(hops) && hops[j].Direction == hops[i].Direction; j++ {
		if hops[j].Kind == HopUplink {
			dst = hops[j].MAC
			break
		}
	}
	return src, dst
}

// ofprotoFlow writes the flow ofproto/trace takes: in_port=N[,dl_src=..][,dl_dst=..],PROTO,
// nw_src=..,nw_dst=..[,tp_dst=..] (icmp echo when the walk has no protocol).
func ofprotoFlow(inPort int, srcMAC, dstMAC string, p OFProtoProbe) string {
	f := "in_port=" + strconv.Itoa(inPort)
	if srcMAC != "" {
		f += ",dl_src=" + srcMAC
	}
	if dstMAC != "" {
		f += ",dl_dst=" + dstMAC
	}
	dst, port := p.Dst, 0
	if ap, err := netip.ParseAddrPort(p.Dst); err == nil {
		dst, port = ap.Addr().String(), int(ap.Port())
	}
	v6 := false
	if a, err := netip.ParseAddr(dst); err == nil && a.Is6() {
		v6 = true
	}
	switch p.Protocol {
	case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
		proto := strings.ToLower(p.Protocol) // tcp, udp, sctp
		if v6 {
			proto += "6"
		}
		f += "," + proto
	default:
		if v6 {
			f += ",icmp6,icmpv6_type=128"
		} else {
			f += ",icmp,icmp_type=8"
		}
	}
	src := "nw_src="
	dstKey := "nw_dst="
	if v6 {
		src, dstKey = "ipv6_src=", "ipv6_dst="
	}
	f += fmt.Sprintf(",%s%s,%s%s", src, hostOf(p.Src), dstKey, dst)
	if port != 0 && p.Protocol != "" {
		f += ",tp_dst=" + strconv.Itoa(port)
	}
	return f
}

// ofprotoEvidence adds, to each OVS port hop, what ofproto/trace on that node says of the walk's
// packet (trace --ofproto-trace): the flow it was given and the datapath actions OVS takes.
func (wk *walker) ofprotoEvidence() {
	vip := ""
	if wk.svc != nil {
		vip = wk.svc.st.vip.String()
	}
	for i := range wk.w.Hops {
		h := &wk.w.Hops[i]
		if h.Kind != HopOVSPort || h.Node == "" {
			continue
		}
		ni := wk.ix.states[h.Node]
		if ni == nil {
			continue
		}
		src, dst := wk.w.Source.IP, wk.w.Destination.IP
		if h.Direction == Return {
			src, dst = dst, src
		}
		for _, t := range ni.st.OFProtoTraces {
			ts, td := hostOf(t.Src), hostOf(t.Dst)
			if ts != src || (td != dst && (td != vip || h.Direction != Forward)) {
				continue
			}
			s := cmp.Or(t.Source, "ofproto@"+h.Node)
			if t.Error != "" {
				h.Evidence = append(h.Evidence, ev(s, "ofproto/trace %s %s: %s", t.Bridge, t.Flow, t.Error))
				continue
			}
			h.Evidence = append(h.Evidence, ev(s, "ofproto/trace %s %s: datapath actions %s", t.Bridge, t.Flow, t.DatapathActions))
		}
	}
}

func hostOf(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	return s
}
