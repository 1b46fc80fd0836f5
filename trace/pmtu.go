package trace

import (
	"fmt"
	"net/netip"
)

// The path-MTU probe (trace --probe): one full-size don't-fragment packet from the source pod, as
// large as its interface's MTU allows, held against what the walk says about the MTUs on the path.
// An underlay too small for an encapsulated full-size packet drops it without a counter or an
// ICMP "fragmentation needed" anywhere: small packets (traceroute) pass, full-size ones do not.

// PMTUResult is what the full-size don't-fragment probe saw.
type PMTUResult struct {
	// Size is the IP packet's size in bytes: the MTU of the pod's interface.
	Size int `json:"size"`
	// Reached says whether the packet (and its full-size answer) got through.
	Reached bool `json:"reached"`
	// Expected is what the walk says: true when nothing on the path is smaller than Size.
	Expected bool `json:"expected"`
	// ConsequenceOf is the hop whose MTU explains a lost packet (the walk's MTU-limited hop).
	ConsequenceOf int    `json:"consequenceOf,omitempty"`
	Error         string `json:"error,omitempty"`
	Output        string `json:"output,omitempty"`
}

// SenderMTU is the MTU of the interface that holds the walk's source address in the source pod's
// node facts; 0 when the facts do not say.
func SenderMTU(s *Snapshot, w *Walk) int {
	ip, err := netip.ParseAddr(w.Source.IP)
	if err != nil {
		return 0
	}
	for i := range s.Nodes {
		if s.Nodes[i].Name != w.Source.Node {
			continue
		}
		for j := range s.Nodes[i].Netns {
			if l, _ := linkHolding(&s.Nodes[i].Netns[j], ip.Unmap()); l != nil && l.MTU > 0 {
				return l.MTU
			}
		}
	}
	return 0
}

// MTUHop is the first hop whose MTU cannot carry a full-size packet from the sender (a transport
// hop whose underlay is smaller than the encapsulated packet); nil when none is.
func (w *Walk) MTUHop() *Hop {
	for i := range w.Hops {
		if t := w.Hops[i].Transport; t != nil && t.UnderlayMTU > 0 && t.MTUNeeded > t.UnderlayMTU {
			return &w.Hops[i]
		}
	}
	return nil
}

// BrokenOnlyByMTU reports whether the walk's root cause is an MTU too small for full-size packets
// and nothing else about that hop: small packets still get through.
func (w *Walk) BrokenOnlyByMTU() bool {
	if w.Verdict != VerdictBroken || w.BrokenAt < 1 || w.BrokenAt > len(w.Hops) {
		return false
	}
	h := w.Hops[w.BrokenAt-1]
	m := w.MTUHop()
	return m != nil && m.Index == h.Index && h.Transport.State != TunnelDown && !h.Transport.TunnelMissing
}

// ExpectFullSize says whether the walk expects a full-size don't-fragment packet to get through,
// and which hop's MTU stops it (0 when none does).
func (w *Walk) ExpectFullSize() (bool, int) {
	if m := w.MTUHop(); m != nil {
		return false, m.Index
	}
	return w.Verdict == VerdictReachable, 0
}

// PMTUDisagreement says how the full-size probe's outcome contradicts the walk, or "" when it does
// not. A walk that cannot say (unknown) is contradicted only by an MTU hop the packet crossed.
func PMTUDisagreement(w *Walk, p PMTUResult) string {
	expect, at := w.ExpectFullSize()
	switch {
	case p.Reached && at != 0:
		h := w.Hops[at-1]
		return fmt.Sprintf("a full-size %d-byte don't-fragment packet reached %s, the walk says hop %d (%s) cannot carry it (underlay MTU %d, needs %d)",
			p.Size, w.Destination.IP, at, h.Name, h.Transport.UnderlayMTU, h.Transport.MTUNeeded)
	case !p.Reached && expect:
		return fmt.Sprintf("a full-size %d-byte don't-fragment packet did not reach %s, the walk says the path carries it", p.Size, w.Destination.IP)
	}
	return ""
}
