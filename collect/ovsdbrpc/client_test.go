package ovsdbrpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/collect/ovsdbrpc"
)

// startServer runs a real ovsdb-server with an Open_vSwitch database holding one bridge (no root).
func startServer(t *testing.T) string {
	t.Helper()
	labtest.RequireBinaries(t, "ovsdb-client")
	sock := labtest.OVSDBServer(t, "/usr/share/openvswitch/vswitch.ovsschema")
	// Bridge is not a root table: a bridge no Open_vSwitch row names is collected at once.
	ins := `["Open_vSwitch",{"op":"insert","table":"Bridge","uuid-name":"b","row":{"name":"br-int","datapath_type":"netdev"}},` +
		`{"op":"insert","table":"Open_vSwitch","row":{"bridges":["named-uuid","b"]}}]`
	if out, err := exec.Command("ovsdb-client", "transact", "unix:"+sock, ins).CombinedOutput(); err != nil {
		t.Fatalf("ovsdb-client transact: %v\n%s", err, out)
	}
	return "unix:" + sock
}

func TestSelectFromARealServer(t *testing.T) {
	ep := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The first endpoint does not exist: the second is used.
	c, err := ovsdbrpc.Connect(ctx, "Open_vSwitch", []string{"unix:" + filepath.Join(t.TempDir(), "none.sock"), ep}, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer c.Close()
	if s := c.Schema(); s.Name != "Open_vSwitch" || s.Table("Bridge") == nil {
		t.Fatalf("schema %q without Bridge", s.Name)
	}
	ops := []ovsdb.Operation{{Op: ovsdb.OperationSelect, Table: "Bridge", Columns: []string{"_uuid", "name", "datapath_type"}}}
	res, err := c.Transact(ctx, ops...)
	if err != nil {
		t.Fatalf("Transact: %v", err)
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 || res[0].Rows[0]["name"] != "br-int" || res[0].Rows[0]["datapath_type"] != "netdev" {
		t.Fatalf("select Bridge = %+v, want br-int (netdev)", res)
	}
	if _, ok := res[0].Rows[0]["_uuid"].(ovsdb.UUID); !ok {
		t.Errorf("_uuid = %#v, want an ovsdb.UUID", res[0].Rows[0]["_uuid"])
	}
	// An operation the server refuses is its result's error, not the call's.
	bad := []ovsdb.Operation{{Op: ovsdb.OperationSelect, Table: "NoSuchTable"}}
	res, err = c.Transact(ctx, bad...)
	if err != nil {
		t.Fatalf("Transact of a refused select: %v, want its result to say", err)
	}
	if _, err := ovsdb.CheckOperationResults(res, bad); err == nil || len(res) != 1 || !strings.Contains(res[0].Details, "NoSuchTable") {
		t.Errorf("select of a missing table: %v %+v, want the server's error naming it", err, res)
	}
	c.Close()
	select {
	case <-c.Gone():
	default:
		t.Error("Gone is open after Close")
	}
	if _, err := c.Transact(ctx, ops...); !errors.Is(err, ovsdbrpc.ErrClosed) {
		t.Errorf("Transact after Close: %v, want ErrClosed", err)
	}
}

func TestConnectErrors(t *testing.T) {
	ep := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ovsdbrpc.Connect(ctx, "OVN_Northbound", []string{ep}, nil); err == nil || !strings.Contains(err.Error(), "target database OVN_Northbound not found (the server has Open_vSwitch") {
		t.Errorf("wrong database: %v", err)
	}
	none := "unix:" + filepath.Join(t.TempDir(), "none.sock")
	_, err := ovsdbrpc.Connect(ctx, "Open_vSwitch", []string{none}, nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "failed to connect to "+none) {
		t.Errorf("missing socket: %v, want ErrNotExist naming the endpoint", err)
	}
	_, err = ovsdbrpc.Connect(ctx, "Open_vSwitch", []string{none, "unix:" + filepath.Join(t.TempDir(), "b.sock")}, nil)
	if err == nil || strings.Count(err.Error(), "failed to connect to") != 2 {
		t.Errorf("two missing sockets: %v, want both named", err)
	}
}

// fakeServer runs script on each connection to a new unix socket (the client makes one).
func fakeServer(t *testing.T, script func(r *bufio.Reader, w io.Writer)) string {
	t.Helper()
	sock, _ := labtest.ServeUnix(t, func(c net.Conn) {
		defer c.Close()
		script(bufio.NewReader(c), c)
	})
	return "unix:" + sock
}

type request struct {
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	ID     json.RawMessage   `json:"id"`
	Result json.RawMessage   `json:"result"`
	Error  json.RawMessage   `json:"error"`
}

// TestEchoIsAnswered: the server's echo (its inactivity probe, RFC 7047 4.1.11) gets its params
// back under its id, even while a call of ours waits.
func TestEchoIsAnswered(t *testing.T) {
	echoed := make(chan request, 1)
	ep := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		dec := json.NewDecoder(r)
		var req request
		if dec.Decode(&req) != nil || req.Method != "list_dbs" {
			return
		}
		io.WriteString(w, `{"method":"echo","params":["probe",1],"id":"echo-7"}`)
		// get_schema came with list_dbs (one write), before the echo's reply.
		var schema request
		if dec.Decode(&schema) != nil || schema.Method != "get_schema" {
			return
		}
		var rep request
		if dec.Decode(&rep) != nil {
			return
		}
		echoed <- rep
		answerHandshake(w, req, schema)
		_ = dec.Decode(&req) // until the client closes
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	connect(ctx, t, ep)
	rep := <-echoed
	if string(rep.ID) != `"echo-7"` || string(rep.Result) != `["probe",1]` || string(rep.Error) != "null" {
		t.Errorf("echo reply id %s result %s error %s, want \"echo-7\", [\"probe\",1], null", rep.ID, rep.Result, rep.Error)
	}
}

// TestServerClosingEndsTheCall: a server that closes mid-call ends the call at once with the
// closing named (io.EOF underneath), and Gone closes.
func TestServerClosingEndsTheCall(t *testing.T) {
	ep := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		var req request
		_ = json.NewDecoder(r).Decode(&req)
		io.WriteString(w, `{"id":`+string(req.ID)+`,"result":["Open_`) // half an answer
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := ovsdbrpc.Connect(ctx, "Open_vSwitch", []string{ep}, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ovsdbrpc.ErrClosed) {
		t.Errorf("Connect to a server closing mid-answer: %v, want ErrClosed and io.ErrUnexpectedEOF", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: the close was not noticed", d)
	}
}

// TestHungServerEndsWithTheContext: a server that never answers ends the call at the context's
// deadline, with that error.
func TestHungServerEndsWithTheContext(t *testing.T) {
	ep := fakeServer(t, func(r *bufio.Reader, w io.Writer) { _, _ = io.Copy(io.Discard, r) })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := ovsdbrpc.Connect(ctx, "Open_vSwitch", []string{ep}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect to a hung server: %v, want the deadline", err)
	}
}

// TestHandshakeIsOneRoundTrip: list_dbs, get_schema and the transaction ConnectTransact carries
// all reach the server before it answers anything (they leave in one write), and the answers,
// given in order, are each matched to their call.
func TestHandshakeIsOneRoundTrip(t *testing.T) {
	got := make(chan []string, 1)
	ep := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		dec := json.NewDecoder(r)
		var reqs []request
		var methods []string
		for range 3 {
			var req request
			if dec.Decode(&req) != nil {
				got <- methods
				return
			}
			reqs = append(reqs, req)
			methods = append(methods, req.Method)
		}
		got <- methods
		io.WriteString(w, `{"id":`+string(reqs[0].ID)+`,"result":["Open_vSwitch"],"error":null}`)
		io.WriteString(w, `{"id":`+string(reqs[1].ID)+`,"result":{"name":"Open_vSwitch","version":"1.0.0","tables":{"Bridge":`+
			`{"columns":{"name":{"type":"string"},"ports":{"type":{"key":"uuid","min":0,"max":"unlimited"}}}},"Port":{"columns":{"name":{"type":"string"}}}}},"error":null}`)
		io.WriteString(w, `{"id":`+string(reqs[2].ID)+`,"result":[{"rows":[{"_uuid":["uuid","2f3c3a7e-5b36-4c5e-9d4c-2b1f0e0c7a11"],"name":"br-int"}]}],"error":null}`)
		_ = dec.Decode(new(request)) // until the client closes
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ops := []ovsdb.Operation{{Op: ovsdb.OperationSelect, Table: "Bridge", Columns: []string{"_uuid", "name"}}}
	c, tx, err := ovsdbrpc.ConnectTransact(ctx, "Open_vSwitch", []string{ep}, nil, ops...)
	if err != nil {
		t.Fatalf("ConnectTransact: %v", err)
	}
	defer c.Close()
	if m := <-got; strings.Join(m, ",") != "list_dbs,get_schema,transact" {
		t.Fatalf("the server read %q before answering, want list_dbs,get_schema,transact", m)
	}
	res, err := tx.Results(ctx)
	if err != nil || len(res) != 1 || len(res[0].Rows) != 1 || res[0].Rows[0]["name"] != "br-int" {
		t.Fatalf("Results = %+v, %v; want the one bridge", res, err)
	}
	// Only what the transaction selects is in the schema: Bridge's name, not its ports, not Port.
	s := c.Schema()
	if s.Name != "Open_vSwitch" || s.Table("Bridge") == nil || s.Table("Bridge").Column("name") == nil {
		t.Fatalf("schema %+v lacks Bridge.name", s)
	}
	if s.Table("Bridge").Column("ports") != nil || s.Table("Port") != nil {
		t.Errorf("schema %+v holds what the transaction does not select", s)
	}
}

// TestConnectTransactReadsARealServer: against ovsdb-server, the transaction sent with the
// handshake gives the rows, its schema decodes them as the whole schema would, and a missing
// database is still the handshake's error.
func TestConnectTransactReadsARealServer(t *testing.T) {
	ep := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ops := []ovsdb.Operation{{Op: ovsdb.OperationSelect, Table: "Bridge", Columns: []string{"_uuid", "name", "datapath_type", "ports"}}}
	c, tx, err := ovsdbrpc.ConnectTransact(ctx, "Open_vSwitch", []string{ep}, nil, ops...)
	if err != nil {
		t.Fatalf("ConnectTransact: %v", err)
	}
	defer c.Close()
	res, err := tx.Results(ctx)
	if err != nil || len(res) != 1 || len(res[0].Rows) != 1 || res[0].Rows[0]["name"] != "br-int" {
		t.Fatalf("Results = %+v, %v; want br-int", res, err)
	}
	full := connect(ctx, t, ep)
	for _, col := range []string{"name", "datapath_type", "ports"} {
		got, want := c.Schema().Table("Bridge").Column(col), full.Schema().Table("Bridge").Column(col)
		if got == nil || got.String() != want.String() || got.Mutable() != want.Mutable() {
			t.Errorf("Bridge.%s = %v, want the server's %v", col, got, want)
		}
	}
	// An operation the server refuses is Results' error, as Checked says it.
	bad := ovsdb.Operation{Op: ovsdb.OperationSelect, Table: "NoSuchTable"}
	c2, tx2, err := ovsdbrpc.ConnectTransact(ctx, "Open_vSwitch", []string{ep}, nil, bad)
	if err != nil {
		t.Fatalf("ConnectTransact of a refused select: %v, want the connection made", err)
	}
	defer c2.Close()
	_, want := ovsdbrpc.Checked(ctx, c2, bad)
	if _, err := tx2.Results(ctx); err == nil || want == nil || err.Error() != want.Error() || !strings.HasPrefix(err.Error(), "select NoSuchTable: ") {
		t.Errorf("Results of a missing table: %v, want Checked's %v, naming the select and its table", err, want)
	}
	_, _, err = ovsdbrpc.ConnectTransact(ctx, "OVN_Northbound", []string{ep}, nil, ops...)
	if err == nil || !strings.Contains(err.Error(), "target database OVN_Northbound not found (the server has Open_vSwitch") {
		t.Errorf("wrong database: %v, want the handshake's error (not the transaction's)", err)
	}
}

// TestTimedOutWriteEndsTheConnection: a request the server does not read in time ends the call
// with the deadline and the connection with it (part of it may have left: the stream is broken),
// so the next call says the connection is closed instead of sending after half a request.
func TestTimedOutWriteEndsTheConnection(t *testing.T) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	ep := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		dec := json.NewDecoder(r)
		var dbs, schema request
		if dec.Decode(&dbs) != nil || dec.Decode(&schema) != nil {
			return
		}
		answerHandshake(w, dbs, schema)
		<-stop // and read nothing more
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := connect(ctx, t, ep)
	// More than a unix socket's buffers hold.
	big := ovsdb.Operation{Op: ovsdb.OperationSelect, Table: "Bridge", Where: []ovsdb.Condition{{Column: "name", Function: ovsdb.ConditionEqual, Value: strings.Repeat("x", 16<<20)}}}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := c.Transact(short, big); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Transact the server does not read: %v, want the deadline", err)
	}
	if !c.Ended() {
		t.Error("the connection is open after a write that timed out")
	}
	if _, err := c.Transact(ctx, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: "Bridge"}); !errors.Is(err, ovsdbrpc.ErrClosed) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the next Transact: %v, want ErrClosed naming the write's timeout", err)
	}
}

// TestServerClosingMidTransactionEndsResults: the handshake answered, a server that closes in the
// middle of the pipelined transaction's answer ends Results at once with the closing named, and
// Gone closes.
func TestServerClosingMidTransactionEndsResults(t *testing.T) {
	ep := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		dec := json.NewDecoder(r)
		var dbs, schema, tx request
		if dec.Decode(&dbs) != nil || dec.Decode(&schema) != nil || dec.Decode(&tx) != nil {
			return
		}
		answerHandshake(w, dbs, schema)
		io.WriteString(w, `{"id":`+string(tx.ID)+`,"result":[{"rows":[{"name":"br-`) // half an answer
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, tx, err := ovsdbrpc.ConnectTransact(ctx, "Open_vSwitch", []string{ep}, nil, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: "Bridge"})
	if err != nil {
		t.Fatalf("ConnectTransact: %v", err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := tx.Results(ctx); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ovsdbrpc.ErrClosed) {
		t.Errorf("Results from a server closing mid-answer: %v, want ErrClosed and io.ErrUnexpectedEOF", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: the close was not noticed", d)
	}
	select {
	case <-c.Gone():
	case <-time.After(5 * time.Second):
		t.Error("Gone is open after the server closed")
	}
}

// TestFailedEchoAnswerEndsTheConnection: an echo whose answer cannot be written (the server shut
// its reading side) ends the connection, as a failed request does: part of it may have left.
func TestFailedEchoAnswerEndsTheConnection(t *testing.T) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	sock, _ := labtest.ServeUnix(t, func(c net.Conn) {
		dec := json.NewDecoder(c)
		var dbs, schema request
		if dec.Decode(&dbs) != nil || dec.Decode(&schema) != nil {
			return
		}
		answerHandshake(c, dbs, schema)
		_ = c.(*net.UnixConn).CloseRead()
		io.WriteString(c, `{"method":"echo","params":[],"id":"echo-1"}`)
		<-stop
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ovsdbrpc.Connect(ctx, "Open_vSwitch", []string{"unix:" + sock}, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer c.Close()
	select {
	case <-c.Gone():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection is open after its echo answer failed")
	}
	if _, err := c.Transact(ctx, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: "Bridge"}); !errors.Is(err, ovsdbrpc.ErrClosed) || !strings.Contains(err.Error(), "answering the server's echo") {
		t.Errorf("Transact after the failed echo answer: %v, want ErrClosed naming the echo", err)
	}
}

// answerHandshake answers a client's list_dbs (dbs) and get_schema (schema) as a server of an empty
// connect connects to the Open_vSwitch database at ep, failing the test if it cannot; the
// connection closes when the test ends.
func connect(ctx context.Context, t *testing.T, ep string) *ovsdbrpc.Client {
	t.Helper()
	c, err := ovsdbrpc.Connect(ctx, "Open_vSwitch", []string{ep}, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Open_vSwitch database would.
func answerHandshake(w io.Writer, dbs, schema request) {
	io.WriteString(w, `{"id":`+string(dbs.ID)+`,"result":["Open_vSwitch"],"error":null}`)
	io.WriteString(w, `{"id":`+string(schema.ID)+`,"result":{"name":"Open_vSwitch","version":"1.0.0","tables":{}},"error":null}`)
}
