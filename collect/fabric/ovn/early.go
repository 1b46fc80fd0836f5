package ovn

import (
	"context"
	"sync"

	"github.com/packetwalk/kubectl-packetwalk/collect/ovsdbrpc"
)

// pending is a connection started ahead of the read that takes it (Prepare): while the caller
// reads the API and the nodes, the dial, TLS and the schema exchange are already done.
type pending struct {
	done chan struct{}
	cli  *ovsdbrpc.Client
	err  error
}

// dial starts connect in the background.
func dial(connect func() (*ovsdbrpc.Client, error)) *pending {
	pc := &pending{done: make(chan struct{})}
	go func() {
		pc.cli, pc.err = connect()
		close(pc.done)
	}()
	return pc
}

// early holds the connections Prepare started, each taken at most once.
type early struct {
	mu     sync.Mutex
	nb, sb *pending
}

// take returns *slot's connection once it is made and clears the slot; ok is false when no
// connection was started there (or it was taken): the caller connects itself.
func (e *early) take(ctx context.Context, slot **pending) (cli *ovsdbrpc.Client, ok bool, err error) {
	e.mu.Lock()
	pc := *slot
	*slot = nil
	e.mu.Unlock()
	if pc == nil {
		return nil, false, nil
	}
	select {
	case <-pc.done:
		if pc.cli != nil && gone(pc.cli) {
			// Dropped while it waited (a leader change, a restart): the caller connects anew.
			pc.cli.Close()
			return nil, false, nil
		}
		return pc.cli, true, pc.err
	case <-ctx.Done():
		go closeWhenMade(pc)
		return nil, true, ctx.Err()
	}
}

// release closes the connections nobody took.
func (e *early) release() {
	e.mu.Lock()
	nb, sb := e.nb, e.sb
	e.nb, e.sb = nil, nil
	e.mu.Unlock()
	for _, pc := range []*pending{nb, sb} {
		if pc != nil {
			go closeWhenMade(pc) // a dial still under way ends with its cancelled context
		}
	}
}

func closeWhenMade(pc *pending) {
	<-pc.done
	if pc.cli != nil {
		pc.cli.Close()
	}
}

// Prepare connects to the Northbound database (and the Southbound one when set) in the
// background, for the next Collect to use: a walk reads its nodes before the fabric (BindsByNode),
// and the connection need not wait for them. The returned func closes what Collect did not take.
func (p *provider) Prepare(ctx context.Context) (release func()) {
	// release cancels a dial still under way (an NB that does not answer must not hold up the end
	// of a walk that failed before its fabric read); a connection made outlives this context.
	ctx, cancel := context.WithCancel(ctx)
	// Each connection is bounded as Collect bounds its own.
	bounded := func(connect func(context.Context) (*ovsdbrpc.Client, error)) func() (*ovsdbrpc.Client, error) {
		return func() (*ovsdbrpc.Client, error) {
			cctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
			defer cancel()
			return connect(cctx)
		}
	}
	e := &early{nb: dial(bounded(p.connectNB))}
	if p.cfg.SB != "" && p.sbReady() == nil {
		e.sb = dial(bounded(p.connectSB))
	}
	p.mu.Lock()
	p.early = e
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		if p.early == e {
			p.early = nil
		}
		p.mu.Unlock()
		cancel()
		e.release()
	}
}

// takeEarly is the connection Prepare started in the slot sel picks, if any.
func (p *provider) takeEarly(ctx context.Context, sel func(*early) **pending) (*ovsdbrpc.Client, bool, error) {
	p.mu.Lock()
	e := p.early
	p.mu.Unlock()
	if e == nil {
		return nil, false, nil
	}
	return e.take(ctx, sel(e))
}

// gone says whether the client's connection ended.
func gone(c *ovsdbrpc.Client) bool {
	select {
	case <-c.Gone():
		return true
	default:
		return false
	}
}
