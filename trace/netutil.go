package trace

import (
	"net"
	"net/netip"
	"strings"
)

// NormalizeMAC returns the MAC in lower-case colon form, or "" when s is not a MAC.
func NormalizeMAC(s string) string {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 {
		return ""
	}
	return hw.String()
}

// ParseAddr parses an address, bare or in CIDR form, unmapping IPv4-in-IPv6; an address with an
// IPv6 zone is refused.
func ParseAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" { // a zone is free text (fe80::1%x;cmd): never an address we walk to
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parsePrefix parses a CIDR, keeping the host bits (172.16.1.1/24); "default" is 0.0.0.0/0 or ::/0
// depending on fam (an address of the family wanted, or zero for IPv4).
func parsePrefix(s string, fam netip.Addr) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if s == "default" || s == "" {
		if fam.Is6() {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0), true
		}
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	if !strings.Contains(s, "/") {
		a, ok := ParseAddr(s)
		if !ok {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, true
}

// isHostOf reports whether a is a usable host address of the network p: inside it, and for IPv4
// networks shorter than /31 neither the network nor the broadcast address. /31 follows RFC 3021
// (both addresses are hosts); /32 is the single host.
func isHostOf(p netip.Prefix, a netip.Addr) bool {
	m := p.Masked()
	if !m.Contains(a) {
		return false
	}
	if !a.Is4() || p.Bits() >= 31 {
		return true
	}
	return a != m.Addr() && a != broadcast(m)
}

// broadcast returns the IPv4 broadcast address of a masked prefix.
func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	bits := p.Bits()
	for i := 0; i < 4; i++ {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	return netip.AddrFrom4(b)
}

// sameFamily reports whether a and b are both IPv4 or both IPv6.
func sameFamily(a, b netip.Addr) bool { return a.Is4() == b.Is4() }
