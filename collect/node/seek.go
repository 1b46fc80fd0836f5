package node

import (
	"net/netip"
	"sync"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// seek tracks, for OnlyHolding, which of Holding's addresses the root and named namespaces
// read so far hold: when they hold them all, the /proc scan for the namespaces of processes is
// skipped (a node's hundreds of processes, each a readlink; containerd and CRI-O name every pod's
// namespace under /var/run/netns, so a walk's pod is found there).
type seek struct {
	mu   sync.Mutex
	left map[netip.Addr]bool
	// reads counts the root and named namespaces handed to the readers and not read yet.
	reads sync.WaitGroup
}

func newSeek(holding []netip.Addr) *seek {
	s := &seek{left: map[netip.Addr]bool{}}
	for _, a := range holding {
		s.left[a.Unmap()] = true
	}
	return s
}

// read records that ns (nil: not read, or holding none of the addresses) was read.
func (s *seek) read(ns *trace.Netns) {
	defer s.reads.Done()
	if ns == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range ns.Addresses {
		if ip, ok := trace.ParseAddr(a.CIDR); ok {
			delete(s.left, ip)
		}
	}
}

// allFound waits for the namespaces handed so far to be read and says whether they hold every
// address.
func (s *seek) allFound() bool {
	s.reads.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.left) == 0
}
