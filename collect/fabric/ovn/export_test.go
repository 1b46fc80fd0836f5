package ovn

import "github.com/packetwalk/kubectl-packetwalk/collect/fabric"

// PreparedConnected says whether the Northbound connection Prepare started is made and still up
// (false while it is being made).
func PreparedConnected(f fabric.Provider) bool {
	p := f.(*provider)
	p.mu.Lock()
	pc := p.earlyNB
	p.mu.Unlock()
	if pc == nil {
		return false
	}
	select {
	case <-pc.done:
		return pc.cli != nil && !pc.cli.Ended()
	default:
		return false
	}
}

// ReadAheadDone is closed when the read ReadAhead started has ended (nil without one).
func ReadAheadDone(f fabric.Provider) <-chan struct{} {
	p := f.(*provider)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ahead == nil {
		return nil
	}
	return p.ahead.done
}
