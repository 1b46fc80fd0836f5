package ovn

import "github.com/packetwalk/kubectl-packetwalk/collect/fabric"

// PreparedConnected says whether the Northbound connection Prepare started is made and still up
// (false while it is being made).
func PreparedConnected(f fabric.Provider) bool {
	p := f.(*provider)
	p.mu.Lock()
	e := p.early
	p.mu.Unlock()
	if e == nil {
		return false
	}
	e.mu.Lock()
	pc := e.nb
	e.mu.Unlock()
	if pc == nil {
		return false
	}
	select {
	case <-pc.done:
		return pc.cli != nil && !gone(pc.cli)
	default:
		return false
	}
}
