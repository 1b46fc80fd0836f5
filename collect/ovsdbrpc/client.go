// Package ovsdbrpc is a read-only OVSDB client: RFC 7047 JSON-RPC over unix, tcp or ssl, with
// list_dbs, get_schema and transact, and the answer to the server's echo; nothing else (no
// monitors, no cache, no reconnection). The tool only ever runs select-only transactions.
//
// libovsdb's client did this for us, but it links Prometheus (and through it protobuf), whose
// package initialisation every run of the tool paid before doing anything: the plugin and every
// `collect node` it starts on a node. libovsdb's ovsdb, mapper and model packages are still used
// for the wire types and for decoding rows.
package ovsdbrpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ovn-org/libovsdb/mapper"
	"github.com/ovn-org/libovsdb/ovsdb"
)

// ErrClosed is returned by calls on a client whose connection is closed (by Close or by the
// server); the error that closed it is wrapped beside it.
var ErrClosed = errors.New("the OVSDB connection is closed")

// Client is one connection to one database of an ovsdb-server.
type Client struct {
	conn   net.Conn
	db     string
	schema ovsdb.DatabaseSchema

	wmu  sync.Mutex // one write at a time
	wbuf bytes.Buffer
	enc  *json.Encoder // onto wbuf: the requests sent together leave in one write

	mu     sync.Mutex
	nextID uint64
	calls  map[uint64]chan reply
	cause  error // why the connection ended, once it has

	gone      chan struct{}
	closeOnce sync.Once
}

type reply struct {
	result json.RawMessage
	err    error
}

// message is anything the server sends: an answer (id, result, error) or a request or
// notification of its own (method, params, id).
type message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
}

// Connect connects to db at the first of endpoints that answers ("unix:PATH", "tcp:HOST:PORT",
// "ssl:HOST:PORT"; ssl uses t) and reads its schema. Errors name each endpoint tried and keep the
// dial or read error underneath (errors.Is finds io.EOF, os.ErrNotExist, a timeout...).
func Connect(ctx context.Context, db string, endpoints []string, t *tls.Config) (*Client, error) {
	c, _, err := ConnectTransact(ctx, db, endpoints, t)
	return c, err
}

// ConnectTransact is Connect that also sends ops as one transaction, in the same write as the
// handshake (list_dbs and get_schema): the server answers the three in order, so one round trip
// instead of three. With ops, the client's Schema holds only the tables and columns the ops name
// (a select without columns keeps its whole table): the rest of the server's schema, most of it,
// is not decoded. The error is the connection's, as Connect's; the transaction's is Pending's.
func ConnectTransact(ctx context.Context, db string, endpoints []string, t *tls.Config, ops ...ovsdb.Operation) (*Client, *Pending, error) {
	var errs []error
	for _, ep := range endpoints {
		c, p, err := connect(ctx, db, ep, t, ops)
		if err == nil {
			return c, p, nil
		}
		errs = append(errs, fmt.Errorf("failed to connect to %s: %w", ep, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return nil, nil, errs[0]
	}
	return nil, nil, fmt.Errorf("unable to connect to any endpoints: %w", errors.Join(errs...))
}

// Pending is a transaction sent and not yet answered.
type Pending struct{ call *pending }

// Results waits for the transaction's results and returns them once every operation succeeded;
// the call's error or the first failed operation's otherwise (as Checked). It is called once.
func (p *Pending) Results(ctx context.Context) ([]ovsdb.OperationResult, error) {
	if p == nil {
		return nil, errors.New("no transaction was sent")
	}
	var res []ovsdb.OperationResult
	if err := p.call.wait(ctx, &res); err != nil {
		return nil, err
	}
	if err := check(res, p.call.ops); err != nil {
		return nil, err
	}
	return res, nil
}

// check returns the first failed operation's error, naming its operation and table, or the
// transaction's own (too few results, a failed commit); nil when every operation succeeded.
func check(res []ovsdb.OperationResult, ops []ovsdb.Operation) error {
	opErrs, err := ovsdb.CheckOperationResults(res, ops)
	if len(opErrs) == 0 {
		return err
	}
	if op := opErrs[0].Operation(); op != nil {
		return fmt.Errorf("%s %s: %w", op.Op, op.Table, opErrs[0])
	}
	return opErrs[0]
}

func connect(ctx context.Context, db, ep string, t *tls.Config, ops []ovsdb.Operation) (*Client, *Pending, error) {
	conn, err := dial(ctx, ep, t)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to open connection: %w", err)
	}
	c := &Client{conn: conn, db: db, calls: map[uint64]chan reply{}, gone: make(chan struct{})}
	c.enc = json.NewEncoder(&c.wbuf)
	go c.read()
	reqs := []request{{method: "list_dbs", params: []any{}}, {method: "get_schema", params: []any{db}}}
	if len(ops) > 0 {
		reqs = append(reqs, request{method: "transact", params: ovsdb.NewTransactArgs(db, ops...), ops: ops})
	}
	calls, err := c.send(ctx, reqs...)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	var dbs []string
	if err := calls[0].wait(ctx, &dbs); err != nil {
		c.Close()
		return nil, nil, err
	}
	if !slices.Contains(dbs, db) {
		c.Close()
		return nil, nil, fmt.Errorf("target database %s not found (the server has %s)", db, strings.Join(dbs, ", "))
	}
	var raw json.RawMessage
	if err := calls[1].wait(ctx, &raw); err == nil {
		err = decodeSchema(raw, ops, &c.schema)
		if err != nil {
			err = fmt.Errorf("the answer to get_schema: %w", err)
		}
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if len(ops) == 0 {
		return c, nil, nil
	}
	return c, &Pending{call: calls[2]}, nil
}

// decodeSchema decodes a get_schema answer: whole without ops, else only the tables and columns
// the ops name (decoding a column's type is most of the cost: ~6,000 allocations for OVS's).
func decodeSchema(raw json.RawMessage, ops []ovsdb.Operation, s *ovsdb.DatabaseSchema) error {
	if len(ops) == 0 {
		return json.Unmarshal(raw, s)
	}
	var all struct {
		Name    string                     `json:"name"`
		Version string                     `json:"version"`
		Tables  map[string]json.RawMessage `json:"tables"`
	}
	if err := json.Unmarshal(raw, &all); err != nil {
		return err
	}
	*s = ovsdb.DatabaseSchema{Name: all.Name, Version: all.Version, Tables: map[string]ovsdb.TableSchema{}}
	whole := map[string]bool{} // tables a select without columns decoded whole
	for _, op := range ops {
		traw, ok := all.Tables[op.Table]
		if !ok || whole[op.Table] {
			continue // not the server's: the transaction's answer says so
		}
		if len(op.Columns) == 0 {
			var ts ovsdb.TableSchema
			if err := json.Unmarshal(traw, &ts); err != nil {
				return err
			}
			s.Tables[op.Table], whole[op.Table] = ts, true
			continue
		}
		var t struct {
			Columns map[string]json.RawMessage `json:"columns"`
			Indexes [][]string                 `json:"indexes,omitempty"`
			IsRoot  bool                       `json:"isRoot,omitempty"`
		}
		if err := json.Unmarshal(traw, &t); err != nil {
			return err
		}
		// A table two selects name holds the columns of both.
		ts, ok := s.Tables[op.Table]
		if !ok {
			ts = ovsdb.TableSchema{Columns: map[string]*ovsdb.ColumnSchema{}, Indexes: t.Indexes, IsRoot: t.IsRoot}
		}
		for _, col := range op.Columns {
			craw, ok := t.Columns[col]
			if !ok || ts.Columns[col] != nil {
				continue // _uuid, a column the transaction's answer says is unknown, or one decoded
			}
			cs := new(ovsdb.ColumnSchema)
			if err := json.Unmarshal(craw, cs); err != nil {
				return err
			}
			ts.Columns[col] = cs
		}
		s.Tables[op.Table] = ts
	}
	return nil
}

func dial(ctx context.Context, ep string, t *tls.Config) (net.Conn, error) {
	scheme, addr, ok := strings.Cut(ep, ":")
	if !ok {
		return nil, fmt.Errorf("%q is not an OVSDB address (unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT)", ep)
	}
	var d net.Dialer
	switch scheme {
	case "unix", "tcp":
		return d.DialContext(ctx, scheme, addr)
	case "ssl":
		td := tls.Dialer{NetDialer: &d, Config: t}
		return td.DialContext(ctx, "tcp", addr)
	}
	return nil, fmt.Errorf("unknown network protocol %s", scheme)
}

// Schema is the database's schema as the server gave it.
func (c *Client) Schema() ovsdb.DatabaseSchema { return c.schema }

// Transact runs ops in one transaction on the database and returns its results (an operation's
// own error is in its result: see ovsdb.CheckOperationResults).
func (c *Client) Transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	var res []ovsdb.OperationResult
	if err := c.call(ctx, "transact", ovsdb.NewTransactArgs(c.db, ops...), &res); err != nil {
		return nil, err
	}
	return res, nil
}

// Gone is closed when the connection ended (closed by the server, cut, or Close).
func (c *Client) Gone() <-chan struct{} { return c.gone }

// Ended says whether the connection ended (Gone is closed).
func (c *Client) Ended() bool {
	select {
	case <-c.gone:
		return true
	default:
		return false
	}
}

// Close closes the connection; calls waiting on it fail at once.
func (c *Client) Close() { c.end(ErrClosed) }

func (c *Client) end(cause error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.cause = cause
		calls := c.calls
		c.calls = nil
		c.mu.Unlock()
		c.conn.Close()
		for _, ch := range calls {
			ch <- reply{err: cause}
		}
		close(c.gone)
	})
}

// request is one call to send: its method and params (ops: a transaction's, to check its results).
type request struct {
	method string
	params []any
	ops    []ovsdb.Operation
}

// pending is a request sent, waiting for its answer.
type pending struct {
	c      *Client
	id     uint64
	method string
	ops    []ovsdb.Operation
	ch     chan reply
}

// call sends one request and waits for its answer, the context, or the end of the connection.
func (c *Client) call(ctx context.Context, method string, params []any, result any) error {
	calls, err := c.send(ctx, request{method: method, params: params})
	if err != nil {
		return err
	}
	return calls[0].wait(ctx, result)
}

// send writes reqs in one write, each with its own id; their answers are awaited with wait.
func (c *Client) send(ctx context.Context, reqs ...request) ([]*pending, error) {
	calls := make([]*pending, len(reqs))
	c.mu.Lock()
	if c.calls == nil {
		cause := c.cause
		c.mu.Unlock()
		return nil, cause
	}
	for i, r := range reqs {
		c.nextID++
		calls[i] = &pending{c: c, id: c.nextID, method: r.method, ops: r.ops, ch: make(chan reply, 1)}
		c.calls[c.nextID] = calls[i].ch
	}
	c.mu.Unlock()

	c.wmu.Lock()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.conn.SetWriteDeadline(dl)
	} else {
		_ = c.conn.SetWriteDeadline(time.Time{})
	}
	var err error
	for i, r := range reqs {
		if err = c.enc.Encode(struct {
			Method string `json:"method"`
			Params []any  `json:"params"`
			ID     uint64 `json:"id"`
		}{r.method, r.params, calls[i].id}); err != nil {
			break
		}
	}
	if err == nil {
		_, err = c.conn.Write(c.wbuf.Bytes())
	}
	c.wbuf.Reset()
	c.wmu.Unlock()
	if err != nil {
		c.mu.Lock()
		cause := c.cause
		c.mu.Unlock()
		// Even a write that timed out may have sent part of a request: the stream is no longer
		// one the server can parse, so the connection ends (and with it the calls just made).
		c.end(fmt.Errorf("%w: %w", ErrClosed, err))
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if cause != nil {
			return nil, cause // the reader saw the end first (EOF): that says more than the write's error
		}
		return nil, fmt.Errorf("sending %s: %w", reqs[0].method, err)
	}
	return calls, nil
}

// forget stops waiting for p's answer.
func (p *pending) forget() {
	p.c.mu.Lock()
	if p.c.calls != nil {
		delete(p.c.calls, p.id)
	}
	p.c.mu.Unlock()
}

// wait decodes p's answer into result, or returns the context's or the connection's end.
func (p *pending) wait(ctx context.Context, result any) error {
	select {
	case r := <-p.ch:
		if r.err != nil {
			return r.err
		}
		if err := json.Unmarshal(r.result, result); err != nil {
			return fmt.Errorf("the answer to %s: %w", p.method, err)
		}
		return nil
	case <-ctx.Done():
		p.forget()
		return ctx.Err()
	}
}

// read dispatches what the server sends until the connection ends.
func (c *Client) read() {
	dec := json.NewDecoder(c.conn)
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			c.end(fmt.Errorf("%w: %w", ErrClosed, err))
			return
		}
		if m.Method != "" {
			c.serve(m)
			continue
		}
		var id uint64
		if json.Unmarshal(m.ID, &id) != nil {
			continue // not an answer to us
		}
		c.mu.Lock()
		ch := c.calls[id]
		delete(c.calls, id)
		c.mu.Unlock()
		if ch == nil {
			continue // its caller gave up
		}
		if len(m.Error) > 0 && string(m.Error) != "null" {
			ch <- reply{err: rpcError(m.Error)}
			continue
		}
		ch <- reply{result: m.Result}
	}
}

// serve answers the server's echo (its inactivity probe); notifications (updates) are ignored:
// this client sets no monitor.
func (c *Client) serve(m message) {
	if m.Method != "echo" || len(m.ID) == 0 || string(m.ID) == "null" {
		return
	}
	params := m.Params
	if len(params) == 0 {
		params = json.RawMessage("[]")
	}
	c.wmu.Lock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	var err error
	if c.enc.Encode(struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  any             `json:"error"`
	}{m.ID, params, nil}) == nil {
		_, err = c.conn.Write(c.wbuf.Bytes())
	}
	c.wbuf.Reset()
	c.wmu.Unlock()
	if err != nil {
		// As in send: part of the answer may have left, and what follows it could not be parsed.
		c.end(fmt.Errorf("%w: answering the server's echo: %w", ErrClosed, err))
	}
}

// rpcError is the server's error for a request: a string, or an object with error and details.
func rpcError(raw json.RawMessage) error {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return errors.New(s)
	}
	var e struct {
		Error   string `json:"error"`
		Details string `json:"details"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		if e.Details != "" {
			return fmt.Errorf("%s: %s", e.Error, e.Details)
		}
		return errors.New(e.Error)
	}
	return errors.New(string(raw))
}

// DecodeRow decodes a row of table (as a select returns it) into a new T through libovsdb's
// mapper and sets its _uuid through uuid: the mapper leaves that column unset, it is not in the
// table's schema.
func DecodeRow[T any](m mapper.Mapper, ts *ovsdb.TableSchema, table string, row ovsdb.Row, uuid func(*T) *string) (*T, error) {
	obj := new(T)
	info, err := mapper.NewInfo(table, ts, obj)
	if err != nil {
		return nil, err
	}
	if err := m.GetRowData(&row, info); err != nil {
		return nil, err
	}
	u, ok := row["_uuid"].(ovsdb.UUID)
	if !ok {
		return nil, fmt.Errorf("table %s: a row without _uuid", table)
	}
	*uuid(obj) = u.GoUUID
	return obj, nil
}

// Columns are the columns model (a struct, or a pointer to one, whose fields carry libovsdb's
// `ovsdb` tags) holds, in its fields' order: what a select names for DecodeRow to fill it. With
// ConnectTransact the schema holds only the columns selected, and DecodeRow refuses a model with
// a column the schema lacks.
func Columns(model any) []string {
	t := reflect.TypeOf(model)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var cols []string
	for i := range t.NumField() {
		if c := t.Field(i).Tag.Get("ovsdb"); c != "" {
			cols = append(cols, c)
		}
	}
	return cols
}

// Transactor runs transactions: a Client, or a test's stand-in for one.
type Transactor interface {
	Transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error)
}

// Checked runs ops in one transaction on t and returns the results once every operation
// succeeded; the first failed operation's error otherwise.
func Checked(ctx context.Context, t Transactor, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	res, err := t.Transact(ctx, ops...)
	if err != nil {
		return nil, err
	}
	if err := check(res, ops); err != nil {
		return nil, err
	}
	return res, nil
}
