package ovn

import (
	"context"
	"encoding/json"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovsdbrpc"
)

// readAhead is a read of the Northbound database made while the nodes are read (ReadAhead): the
// rows each select it made returned, decoded, for the Collect that follows over the same connection.
type readAhead struct {
	done chan struct{}
	cli  *ovsdbrpc.Client // the connection it read over: its answers hold for that one
	// answers are the decoded rows by select (its JSON: table, where, columns). One goroutine at a
	// time has them: the read-ahead's until done, then Collect's.
	answers map[string][]any
}

// ReadAhead reads, over the connection Prepare made, what q names without the node facts: the
// same reads Collect makes (the paths, NAT rules, load balancers, the ACLs at the ports), keeping
// every select's answer. The Collect that follows (q with the iface-ids and MACs the nodes
// report) answers each select the read-ahead made from it and asks the database only for the
// others, so a walk's NB round trips overlap the nodes instead of following them. Without a
// prepared connection it does nothing: there is no connection of Collect's to share.
func (p *provider) ReadAhead(ctx context.Context, q fabric.Query) (stop func()) {
	a := &readAhead{done: make(chan struct{}), answers: map[string][]any{}}
	p.mu.Lock()
	pc := p.earlyNB
	if pc != nil {
		p.ahead = a
	}
	p.mu.Unlock()
	if pc == nil {
		return func() {}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	go func() {
		defer close(a.done)
		select {
		case <-pc.done:
		case <-ctx.Done():
			return
		}
		if pc.cli == nil || pc.cli.Ended() {
			return // Collect connects anew and says why if it cannot
		}
		a.cli = pc.cli
		// Its errors are Collect's to report, from its own read: what was answered still holds.
		cli := &recall{db: pc.cli, answers: a.answers, keep: true}
		nb, err := (&reader{cli: cli, schema: pc.cli.Schema()}).read(ctx, q)
		if err != nil {
			return
		}
		f, _ := nb.fabric(q)
		_, _ = readFirewall(ctx, cli, nb, f, firewallPorts(f, q))
	}()
	return func() {
		cancel()
		<-a.done
	}
}

// takeAhead is the read-ahead for this Collect, once it ended (nil when there is none, or when
// ctx ended first); it is taken once.
func (p *provider) takeAhead(ctx context.Context) *readAhead {
	p.mu.Lock()
	a := p.ahead
	p.ahead = nil
	p.mu.Unlock()
	if a == nil {
		return nil
	}
	select {
	case <-a.done:
		return a
	case <-ctx.Done():
		return nil
	}
}

// over is the database Collect reads through: cli, answering what the read-ahead over that same
// connection already asked.
func (a *readAhead) over(cli *ovsdbrpc.Client) db {
	if a == nil || a.cli != cli {
		return cli
	}
	return &recall{db: cli, answers: a.answers}
}

// recall is a database whose selects made before (recorded in answers) are answered, decoded,
// without asking again (selectDecoded); with keep it records the answers to the others.
type recall struct {
	db
	answers map[string][]any
	keep    bool
}

// selectDecoded runs the selects of ops in one read-only transaction on cli, checks every result
// and decodes each row with decode (i: the select's index). Through a recall, a select answered
// before is not sent again: its decoded rows are reused (the same objects: readers only read them).
func selectDecoded(ctx context.Context, cli db, ops []ovsdb.Operation, decode func(i int, row ovsdb.Row) (any, error)) ([][]any, error) {
	out := make([][]any, len(ops))
	rc, _ := cli.(*recall)
	keys := make([]string, len(ops))
	var ask []ovsdb.Operation
	var at []int
	for i, op := range ops {
		if rc != nil {
			if b, err := json.Marshal(op); err == nil {
				keys[i] = string(b)
				if objs, ok := rc.answers[keys[i]]; ok {
					out[i] = objs
					continue
				}
			}
		}
		ask, at = append(ask, op), append(at, i)
	}
	if len(ask) == 0 {
		return out, nil
	}
	res, err := ovsdbrpc.Checked(ctx, cli, ask...)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		objs := make([]any, 0, len(res[j].Rows))
		for _, row := range res[j].Rows {
			o, err := decode(i, row)
			if err != nil {
				return nil, err
			}
			objs = append(objs, o)
		}
		out[i] = objs
		if rc != nil && rc.keep && keys[i] != "" {
			rc.answers[keys[i]] = objs
		}
	}
	return out, nil
}
