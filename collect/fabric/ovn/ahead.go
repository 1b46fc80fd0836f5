package ovn

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovsdbrpc"
)

// readAhead is a read of the Northbound database made while the nodes are read (ReadAhead): the
// answer to each select it made, for the Collect that follows over the same connection.
type readAhead struct {
	done    chan struct{}
	cli     *ovsdbrpc.Client // the connection it read over: its answers hold for that one
	answers answers
}

// answers are select results by the select (its JSON: table, where, columns).
type answers struct {
	mu   sync.Mutex
	rows map[string][]ovsdb.Row
}

// ReadAhead reads, over the connection Prepare made, what q names without the node facts: the
// same reads Collect makes (the paths, NAT rules, load balancers, the ACLs at the ports), keeping
// every select's answer. The Collect that follows (q with the iface-ids and MACs the nodes
// report) answers each select the read-ahead made from it and asks the database only for the
// others, so a walk's NB round trips overlap the nodes instead of following them. Without a
// prepared connection it does nothing: there is no connection of Collect's to share.
func (p *provider) ReadAhead(ctx context.Context, q fabric.Query) (stop func()) {
	p.mu.Lock()
	pc := p.earlyNB
	p.mu.Unlock()
	if pc == nil {
		return func() {}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	a := &readAhead{done: make(chan struct{}), answers: answers{rows: map[string][]ovsdb.Row{}}}
	p.mu.Lock()
	p.ahead = a
	p.mu.Unlock()
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
		cli := &recall{db: pc.cli, answers: &a.answers, keep: true}
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
	return &recall{db: cli, answers: &a.answers}
}

// recall is a database that answers each select asked before (recorded in answers) without
// asking again, and sends the others in one transaction; with keep it records their answers.
type recall struct {
	db
	answers *answers
	keep    bool
}

func (c *recall) Transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	res := make([]ovsdb.OperationResult, len(ops))
	keys := make([]string, len(ops))
	var ask []ovsdb.Operation
	var at []int
	c.answers.mu.Lock()
	for i, op := range ops {
		if op.Op == ovsdb.OperationSelect {
			if b, err := json.Marshal(op); err == nil {
				keys[i] = string(b)
				if rows, ok := c.answers.rows[keys[i]]; ok {
					res[i] = ovsdb.OperationResult{Rows: rows}
					continue
				}
			}
		}
		ask, at = append(ask, op), append(at, i)
	}
	c.answers.mu.Unlock()
	if len(ask) == 0 {
		return res, nil
	}
	got, err := c.db.Transact(ctx, ask...)
	if err != nil {
		return nil, err
	}
	c.answers.mu.Lock()
	defer c.answers.mu.Unlock()
	for j, i := range at {
		if j >= len(got) {
			break
		}
		res[i] = got[j]
		if c.keep && keys[i] != "" && got[j].Error == "" {
			c.answers.rows[keys[i]] = got[j].Rows
		}
	}
	// An error of the transaction as a whole follows the operations' results: keep it.
	return append(res, got[min(len(ask), len(got)):]...), nil
}
