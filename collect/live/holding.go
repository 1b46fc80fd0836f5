package live

import (
	"context"
	"sort"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// nodeRun is one node's read under way: the addresses whose pod namespaces it reads (nil: every
// namespace). A read started again with more of them replaces it in nodeReads.runs; only the
// run found there when the reads' results are taken is kept.
type nodeRun struct {
	cancel context.CancelFunc
	ips    map[string]bool
}

// holding says which of a node's network namespaces a collection needs: the root one and those
// of the walk's pods on it (WalkPod), plus any holding an IP target's address (a walk to an IP
// looks for it on every node). A node holds a hundred pods; a walk crosses one or two, and
// reading each other namespace costs `collect node` a netlink dump of links, addresses, routes and
// neighbours, and the walk their bytes. Only a single walk's reads are limited so (filter): a read
// begun as the API names one pod is started again when a second walk pod on that node is named,
// which a walk does at most once (its source and destination on one node), but a check's many
// pods would do over and over. Reads that serve many walks or every walk among the nodes (check,
// collect cluster, macs --node, bundles) read every namespace.
type holding struct {
	filter bool
	// want is, by node, the addresses of the walk pods the API named there; anywhere the IP
	// targets' addresses. Both under nodeReads.mu.
	want     map[string]map[string]bool
	anywhere []string
}

func newHolding(need Need) holding {
	single := len(need.Pods) <= 1 && len(need.Targets) <= 1
	h := holding{filter: single && !need.All && len(need.Nodes) == 0 && !need.Paths, want: map[string]map[string]bool{}}
	for _, t := range need.Targets {
		if t.Kind != trace.TargetIP {
			continue
		}
		if a, ok := trace.ParseAddr(t.IP); ok {
			h.anywhere = append(h.anywhere, a.String())
		}
	}
	return h
}

// walkPod records that the walk needs the namespace holding ips on node; a read of node under way
// without them starts again with them (Query.WalkPod).
func (r *nodeReads) walkPod(node string, ips []string) {
	r.mu.Lock()
	w := r.want[node]
	if w == nil {
		w = map[string]bool{}
		r.want[node] = w
	}
	for _, ip := range ips {
		if a, ok := trace.ParseAddr(ip); ok {
			w[a.String()] = true
		}
	}
	run := r.runs[node]
	again := run != nil && !covers(run.ips, r.wanted(node))
	r.mu.Unlock()
	if again {
		r.read(trace.Node{Name: node})
	}
}

// wanted is the set of addresses whose namespaces node's read needs (empty: the root one
// alone), or nil when every namespace is read. Called under nodeReads.mu.
func (h *holding) wanted(node string) map[string]bool {
	if !h.filter {
		return nil
	}
	out := map[string]bool{}
	for ip := range h.want[node] {
		out[ip] = true
	}
	for _, ip := range h.anywhere {
		out[ip] = true
	}
	return out
}

// covers says whether a read of the namespaces holding have (nil: all) holds those of want.
func covers(have, want map[string]bool) bool {
	if have == nil {
		return true
	}
	if want == nil {
		return false
	}
	for ip := range want {
		if !have[ip] {
			return false
		}
	}
	return true
}

// holdingArg is ips as `collect node --netns-holding` takes them, sorted; nil reads every namespace.
func holdingArg(ips map[string]bool) []string {
	if ips == nil {
		return nil
	}
	out := make([]string, 0, len(ips))
	for ip := range ips {
		out = append(out, ip)
	}
	sort.Strings(out)
	return out
}
