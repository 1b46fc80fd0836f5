package trace

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// hostOf is the host a logical port is bound to: its own binding, else its parent VIF's (a CHILD
// port lives where its parent does).
func (x *fabIdx) hostOf(sp *SwitchPort) *Host {
	id := sp.Host
	if id == "" {
		if par := x.parentOf(sp); par != nil {
			id = par.Host
		}
	}
	if id == "" {
		return nil
	}
	for i := range x.f.Hosts {
		if x.f.Hosts[i].ID == id {
			return &x.f.Hosts[i]
		}
	}
	return &Host{ID: id} // bound to a host the provider did not describe
}

func hostName(h *Host) string { return cmp.Or(h.Name, h.ID) }

// crossHosts adds what carries the packet from the logical port it left by (from) to the one it
// is delivered to (to): one host line when both sit on the same host, else the transport hop with
// the tunnel's state and the MTU it needs. senderMTU is the MTU of the interface the packet was
// sent from (0 when unknown). It goes before the last hop (the delivering port's), where the
// packet crosses; nothing is added when the fabric gives no hosts.
func (wk *walker) crossHosts(from, to *SwitchPort, senderMTU int) {
	fab := wk.ix.fab
	if fab == nil || len(fab.f.Hosts) == 0 || from == nil || to == nil {
		return
	}
	a, b := fab.hostOf(from), fab.hostOf(to)
	switch {
	case a == nil || b == nil:
		unbound := portName(from)
		if a != nil {
			unbound = portName(to)
		}
		wk.insertBeforeLast(Hop{Kind: HopTransport, Name: "host", Status: StatusUnknown,
			Detail: fmt.Sprintf("logical port %s is bound to no known host: the tunnel is not checked", unbound)})
		return
	case a.ID == b.ID:
		h := Hop{Kind: HopHost, Name: hostName(a), Detail: fmt.Sprintf("both ports on host %s: no tunnel", hostName(a))}
		h.Evidence = append(h.Evidence, ev(cmp.Or(a.Source, fab.f.Provider), "%s and %s bound to %s", portName(from), portName(to), a.ID))
		wk.insertBeforeLast(h)
		return
	}
	wk.insertBeforeLast(wk.transportHop(a, b, senderMTU))
}

// transportHop checks the tunnel from host a to host b: a tunnel a reports towards b, its state
// and BFD, and whether the underlays of both carry a full-size packet once encapsulated.
func (wk *walker) transportHop(a, b *Host, senderMTU int) Hop {
	src := cmp.Or(a.Source, wk.ix.fab.f.Provider)
	d := &TransportDetail{LocalHost: hostName(a), RemoteHost: hostName(b), State: TunnelUnknown, Placeholder: a.Placeholder || b.Placeholder}
	h := Hop{Kind: HopTransport, Name: d.LocalHost + " → " + d.RemoteHost, Transport: d}
	t := tunnelTo(a, b)
	if tep := firstTEP(a, ""); tep != nil {
		d.LocalTEP, d.Encap = tep.IP, tep.Encap
		h.Evidence = append(h.Evidence, ev(cmp.Or(tep.Source, src), "host %s TEP %s (%s)", a.ID, tep.IP, cmp.Or(tep.Encap, "encap unknown")))
	}
	if t != nil {
		h.Interface = t.Name
		d.Tunnel, d.RemoteTEP = t.Name, t.RemoteIP
		d.LocalTEP = cmp.Or(t.LocalIP, d.LocalTEP)
		d.Encap = cmp.Or(t.Encap, d.Encap)
		d.State = cmp.Or(t.State, TunnelUnknown)
		h.Evidence = append(h.Evidence, ev(cmp.Or(t.Source, src), "%s", describeTunnel(t)))
		if t.BFD != nil && (d.State == TunnelDown || t.BFD.State != "up") {
			d.BFDDiagnostic = t.BFD.Diagnostic
		}
	}
	if tep := firstTEP(b, d.Encap); tep != nil {
		d.RemoteTEP = cmp.Or(d.RemoteTEP, tep.IP)
		d.Encap = cmp.Or(d.Encap, tep.Encap)
		h.Evidence = append(h.Evidence, ev(cmp.Or(tep.Source, cmp.Or(b.Source, src)), "host %s TEP %s (%s)", b.ID, tep.IP, cmp.Or(tep.Encap, "encap unknown")))
	}
	h.IP = d.RemoteTEP
	if d.Placeholder {
		h.Evidence = append(h.Evidence, ev(SourceEngine, "placeholder host: the source names no hypervisor here"))
	}
	var problems, notes []string
	switch {
	case t == nil && len(a.Tunnels) > 0:
		d.TunnelMissing = true
		problems = append(problems, fmt.Sprintf("host %s has no tunnel to %s (%s)", d.LocalHost, d.RemoteHost, cmp.Or(d.RemoteTEP, "no TEP known")))
	case t == nil:
		notes = append(notes, fmt.Sprintf("tunnel state not read from host %s", d.LocalHost))
	case d.State == TunnelDown:
		p := fmt.Sprintf("tunnel %s from %s (%s) to %s (%s) is down", cmp.Or(t.Name, d.Encap), d.LocalHost, d.LocalTEP, d.RemoteHost, d.RemoteTEP)
		if d.BFDDiagnostic != "" {
			p += ": BFD " + d.BFDDiagnostic
		}
		problems = append(problems, p)
	case d.State == TunnelUnknown:
		notes = append(notes, "tunnel without BFD: its state is not known")
	}
	problems, notes = mtuCheck(d, a, b, senderMTU, problems, notes, &h)
	switch {
	case len(problems) > 0:
		h.Status, h.Detail = StatusBroken, problems[0]
	default:
		h.Detail = fmt.Sprintf("%s tunnel %s → %s", cmp.Or(d.Encap, "overlay"), cmp.Or(d.LocalTEP, "?"), cmp.Or(d.RemoteTEP, "?"))
		if d.State == TunnelUp {
			h.Detail += ", up"
		}
		if d.MTUNeeded > 0 && d.UnderlayMTU > 0 {
			h.Detail += fmt.Sprintf(", needs MTU %d of %d", d.MTUNeeded, d.UnderlayMTU)
		}
		if len(notes) > 0 {
			h.Detail += " (" + strings.Join(notes, "; ") + ")"
		}
	}
	return h
}

// mtuCheck holds the encapsulated size of a full packet from the sender against the smallest MTU
// of both hosts' underlays and host switches.
func mtuCheck(d *TransportDetail, a, b *Host, senderMTU int, problems, notes []string, h *Hop) ([]string, []string) {
	under, where := 0, ""
	for _, x := range []*Host{a, b} {
		if x.Underlay != nil && x.Underlay.MTU > 0 && (under == 0 || x.Underlay.MTU < under) {
			under, where = x.Underlay.MTU, fmt.Sprintf("underlay %s on %s", cmp.Or(x.Underlay.Interface, "interface"), hostName(x))
			h.Evidence = append(h.Evidence, ev(cmp.Or(x.Underlay.Source, x.Source), "%s mtu %d", where, x.Underlay.MTU))
		}
		if x.HostSwitchMTU > 0 && (under == 0 || x.HostSwitchMTU < under) {
			under, where = x.HostSwitchMTU, fmt.Sprintf("host switch %s on %s", cmp.Or(x.HostSwitch, "?"), hostName(x))
			h.Evidence = append(h.Evidence, ev(x.Source, "%s mtu %d", where, x.HostSwitchMTU))
		}
	}
	d.UnderlayMTU, d.InnerMTU = under, senderMTU
	over := EncapOverhead(d.Encap)
	switch {
	case senderMTU == 0 || over == 0:
		if under > 0 {
			notes = append(notes, fmt.Sprintf("underlay MTU %d; the sender's MTU or the encapsulation is not known", under))
		}
	case under == 0:
		d.MTUNeeded = senderMTU + over
		notes = append(notes, fmt.Sprintf("needs MTU %d; the underlay MTU is not known", d.MTUNeeded))
	default:
		d.MTUNeeded = senderMTU + over
		if d.MTUNeeded > under {
			problems = append(problems, fmt.Sprintf("MTU %d of the %s cannot carry a full %d-byte packet in %s (needs %d)", under, where, senderMTU, d.Encap, d.MTUNeeded))
		}
	}
	return problems, notes
}

// tunnelTo is a's tunnel towards b: named by b's ID, else by one of b's TEP addresses.
func tunnelTo(a, b *Host) *Tunnel {
	for i := range a.Tunnels {
		if t := &a.Tunnels[i]; t.RemoteHost != "" && t.RemoteHost == b.ID {
			return t
		}
	}
	for i := range a.Tunnels {
		t := &a.Tunnels[i]
		if slices.ContainsFunc(b.TEPs, func(p TEP) bool { return sameIP(p.IP, t.RemoteIP) }) {
			return t
		}
	}
	return nil
}

func sameIP(x, y string) bool {
	a, ok1 := ParseAddr(x)
	b, ok2 := ParseAddr(y)
	return ok1 && ok2 && a == b
}

// firstTEP is the host's first TEP of that encapsulation ("" any).
func firstTEP(h *Host, encap string) *TEP {
	for i := range h.TEPs {
		if encap == "" || h.TEPs[i].Encap == "" || h.TEPs[i].Encap == encap {
			return &h.TEPs[i]
		}
	}
	return nil
}

func describeTunnel(t *Tunnel) string {
	s := fmt.Sprintf("tunnel %s %s %s → %s state %s", cmp.Or(t.Name, "?"), cmp.Or(t.Encap, "?"), cmp.Or(t.LocalIP, "?"), t.RemoteIP, cmp.Or(t.State, TunnelUnknown))
	if t.BFD != nil {
		s += fmt.Sprintf(", bfd %s (%s), remote %s", t.BFD.State, cmp.Or(t.BFD.Diagnostic, "no diagnostic"), cmp.Or(t.BFD.RemoteState, "?"))
	}
	return s
}

// insertBeforeLast puts h before the last hop (renumbering it), or appends it to an empty walk.
func (wk *walker) insertBeforeLast(h Hop) {
	n := len(wk.w.Hops)
	if n == 0 {
		wk.add(h)
		return
	}
	last := wk.w.Hops[n-1]
	wk.w.Hops = wk.w.Hops[:n-1]
	wk.add(h)
	last.Index = len(wk.w.Hops) + 1
	wk.w.Hops = append(wk.w.Hops, last)
}

// mtuAt is the MTU of the interface holding ip in a node's facts (a pod's eth0, a node's NIC);
// 0 when the node or the address is not in the facts.
func (ix *Index) mtuAt(node string, ip netip.Addr) int {
	ni := ix.states[node]
	if ni == nil {
		return 0
	}
	ns := ni.netnsByIP[ip] // pods' namespaces; a node's own address is in its root namespace
	if ns == nil {
		ns = ni.root
	}
	if ns == nil {
		return 0
	}
	if l, _ := linkHolding(ns, ip); l != nil {
		return l.MTU
	}
	return 0
}
