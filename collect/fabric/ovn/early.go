package ovn

import (
	"context"

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
	nb := dial(bounded(p.connectNB))
	var sb *pending
	if p.cfg.SB != "" && p.sbReady() == nil {
		sb = dial(bounded(p.connectSB))
	}
	p.mu.Lock()
	p.earlyNB, p.earlySB = nb, sb
	p.mu.Unlock()
	return func() {
		cancel()
		for _, slot := range []**pending{&p.earlyNB, &p.earlySB} {
			if pc := p.take(slot); pc != nil {
				go closeWhenMade(pc) // a dial still under way ends with its cancelled context
			}
		}
	}
}

// take empties a slot of Prepare's and returns what it held.
func (p *provider) take(slot **pending) *pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := *slot
	*slot = nil
	return pc
}

// connection is the connection Prepare made in slot, once made; without one (or when it dropped
// while it waited: a leader change, a restart) it is a new one from connect.
func (p *provider) connection(ctx context.Context, slot **pending, connect func(context.Context) (*ovsdbrpc.Client, error)) (*ovsdbrpc.Client, error) {
	if pc := p.take(slot); pc != nil {
		select {
		case <-pc.done:
			if pc.cli == nil || !pc.cli.Ended() {
				return pc.cli, pc.err
			}
			pc.cli.Close()
		case <-ctx.Done():
			go closeWhenMade(pc)
			return nil, ctx.Err()
		}
	}
	return connect(ctx)
}
