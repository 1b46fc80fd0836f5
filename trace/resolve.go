package trace

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

func (ix *Index) resolveTarget(t Target) (destination, error) {
	switch t.Kind {
	case TargetNode:
		n := ix.nodes[t.Name]
		if n == nil {
			if a, ok := ParseAddr(t.Name); ok {
				n = ix.nodesByIP[a]
			}
		}
		if n == nil {
			return destination{}, &RequestError{fmt.Sprintf("node %s not found in the snapshot%s", t.Name, ix.suggestNodes(t.Name))}
		}
		ip, ok := n.IP()
		if !ok {
			return destination{}, &RequestError{fmt.Sprintf("node %s has no address in the snapshot", n.Name)}
		}
		return destination{ep: Endpoint{Kind: TargetNode, Name: n.Name, Node: n.Name, IP: ip.String()}, ip: ip}, nil
	case TargetPod:
		ref := PodRef{Namespace: t.Namespace, Name: t.Name}
		p := ix.pods[ref.String()]
		if p == nil {
			return destination{}, &RequestError{fmt.Sprintf("pod %s not found in the snapshot%s", ref, ix.suggestPods(ref))}
		}
		if len(p.IPs) == 0 {
			return destination{}, &RequestError{fmt.Sprintf("destination pod %s has no IP yet (is it running?)", ref)}
		}
		a, _ := ParseAddr(p.IPs[0])
		return destination{ep: podEndpoint(p, a), ip: a, pod: p}, nil
	case TargetIP:
		a, ok := ParseAddr(t.IP)
		if !ok {
			return destination{}, &RequestError{fmt.Sprintf("%q is not an IP address", t.IP)}
		}
		if p := ix.podsByIP[a]; p != nil {
			return destination{ep: podEndpoint(p, a), ip: a, pod: p}, nil
		}
		if n := ix.nodesByIP[a]; n != nil {
			return destination{ep: Endpoint{Kind: TargetNode, Name: n.Name, Node: n.Name, IP: a.String()}, ip: a}, nil
		}
		if rp := ix.routerPortOf(a); rp != nil {
			return destination{ep: Endpoint{Kind: TargetRouter, Name: ix.fab.routerName(rp.Router), IP: a.String(), MAC: NormalizeMAC(rp.MAC)}, ip: a, rport: rp}, nil
		}
		return destination{ep: Endpoint{Kind: TargetIP, IP: a.String()}, ip: a}, nil
	}
	return destination{}, &RequestError{fmt.Sprintf("unknown destination kind %q", t.Kind)}
}

// routerPortOf is the router port that owns address a (the lowest id when several claim it), or nil.
func (ix *Index) routerPortOf(a netip.Addr) *RouterPort {
	if ix.fab == nil {
		return nil
	}
	var best *RouterPort
	for _, rp := range ix.fab.rportByAddr[a] {
		if best == nil || rp.ID < best.ID {
			best = rp
		}
	}
	return best
}

// IP is the address a walk to the node goes to: its InternalIP (IPv4 first), else an ExternalIP,
// else any address that parses.
func (n *Node) IP() (netip.Addr, bool) {
	var best netip.Addr
	rank := 99
	for _, ad := range n.Addresses {
		a, ok := ParseAddr(ad.Address)
		if !ok {
			continue
		}
		r := 4
		switch ad.Type {
		case "InternalIP":
			r = 0
		case "ExternalIP":
			r = 2
		}
		if a.Is6() {
			r++
		}
		if r < rank {
			best, rank = a, r
		}
	}
	return best, rank < 99
}

// pickIP returns the first of ips in the family of want (any when want is invalid).
func pickIP(ips []string, want netip.Addr) (netip.Addr, bool) {
	for _, s := range ips {
		a, ok := ParseAddr(s)
		if ok && (!want.IsValid() || sameFamily(a, want)) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func (ix *Index) suggestPods(ref PodRef) string {
	var near, sameName, nsNear []string
	for k, p := range ix.pods {
		switch {
		case p.Namespace == ref.Namespace && similar(p.Name, ref.Name):
			near = append(near, k)
		case p.Name == ref.Name:
			// The right pod in another namespace: a wrong -n or NS/.
			sameName = append(sameName, k)
		case p.Namespace != ref.Namespace && similar(p.Namespace, ref.Namespace) && similar(p.Name, ref.Name):
			nsNear = append(nsNear, k)
		}
	}
	return didYouMean(append(append(near, sameName...), nsNear...))
}

// PodError is a *RequestError naming a pod the snapshot does not hold (with suggestions), or nil.
func (ix *Index) PodError(ref PodRef) error {
	if ix.pods[ref.String()] != nil {
		return nil
	}
	return &RequestError{fmt.Sprintf("pod %s not found%s", ref, ix.suggestPods(ref))}
}

func (ix *Index) suggestNodes(name string) string {
	var near []string
	for k := range ix.nodes {
		if similar(k, name) {
			near = append(near, k)
		}
	}
	if len(near) == 0 && len(ix.nodeNames) > 0 && len(ix.nodeNames) <= 5 {
		return " (its nodes are " + strings.Join(ix.nodeNames, ", ") + ")"
	}
	return didYouMean(near)
}

// similar reports whether a user probably meant candidate when typing typed: a small edit
// distance, or one contains the other (a generated pod name suffix left out).
func similar(candidate, typed string) bool {
	if typed == "" {
		return false
	}
	if strings.HasPrefix(candidate, typed) || strings.Contains(typed, candidate) {
		return true
	}
	max := len(typed) / 4
	if max < 2 {
		max = 2
	}
	return EditDistance(candidate, typed) <= max
}

// EditDistance is the Levenshtein distance of two names (names over 64 bytes only compare equal
// or far), for "did you mean" suggestions.
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func didYouMean(near []string) string {
	if len(near) == 0 {
		return ""
	}
	sort.Strings(near)
	if len(near) > 3 {
		near = near[:3]
	}
	return " (did you mean " + strings.Join(near, ", ") + "?)"
}
