package ovn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/ovn"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// transactCounter forwards a unix socket to target and counts the transact requests clients send
// through it (each request is one JSON object on the stream; the method's name is never split).
type transactCounter struct {
	path  string
	n     atomic.Int64
	conns chan net.Conn
}

func newTransactCounter(t *testing.T, target string) *transactCounter {
	t.Helper()
	tc := &transactCounter{conns: make(chan net.Conn, 8)}
	tc.path, _ = proxy(t, target, func(c, s net.Conn) {
		tc.conns <- c
		go func() {
			buf := make([]byte, 64<<10)
			var tail []byte
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := s.Write(buf[:n]); werr != nil {
						break
					}
					// Count across reads: keep the end of the last chunk in case a name straddles it.
					chunk := append(tail, buf[:n]...)
					tc.n.Add(int64(bytes.Count(chunk, []byte(`"method":"transact"`))))
					tail = append([]byte(nil), chunk[max(0, len(chunk)-len(`"method":"transact"`)+1):]...)
				}
				if err != nil {
					break
				}
			}
			s.Close()
		}()
		go func() { _, _ = io.Copy(c, s); c.Close() }()
	})
	return tc
}

// testReadAhead: a read-ahead made from what the API names (no iface-id, no MAC) answers the
// Collect that follows with the node facts: its fabric and warnings are exactly those of a Collect
// without it, and it sends the database only the selects the read-ahead did not make — none for a
// pod whose port a known naming finds (kube-dns: NS_POD), some for one found only by the iface-id
// its node reports (nginx-1: a Neutron id). A read-ahead whose connection dropped answers nothing,
// and Collect reads all of it anew.
func testReadAhead(t *testing.T, l *lab) {
	node4 := fabric.Endpoint{IP: netip.MustParseAddr("172.15.0.4"), Node: "172.15.0.4"}
	for _, tc := range []struct {
		ns, name  string
		noAskWant bool // every select answered by the read-ahead
	}{
		{"kube-system", "kube-dns", true},
		{"default", "nginx-1", false},
	} {
		t.Run(tc.ns+"/"+tc.name, func(t *testing.T) {
			var api, nodes fabric.Endpoint // what the API names, and that with what the node reports
			for _, p := range l.facts.Pods {
				if p.Namespace == tc.ns && p.Name == tc.name {
					ref := trace.PodRef{Namespace: p.Namespace, Name: p.Name}
					api = fabric.Endpoint{IP: netip.MustParseAddr(p.IP), Node: p.Node, Pod: &ref}
					nodes = api
					nodes.IfaceID, nodes.MAC = p.Lsp, p.MAC
				}
			}
			if api.Pod == nil {
				t.Fatalf("lab.json has no pod %s/%s", tc.ns, tc.name)
			}
			q0 := fabric.Query{Sources: []fabric.Endpoint{api}, Destinations: []fabric.Endpoint{node4}}
			q1 := fabric.Query{Sources: []fabric.Endpoint{nodes}, Destinations: []fabric.Endpoint{node4}}

			plainTx := newTransactCounter(t, strings.TrimPrefix(l.facts.Hypervisor.NB, "unix:"))
			want, wantWarns := collectVia(t, plainTx.path, q1, nil)
			plain := plainTx.n.Load()

			aheadTx := newTransactCounter(t, strings.TrimPrefix(l.facts.Hypervisor.NB, "unix:"))
			var ahead int64
			got, gotWarns := collectVia(t, aheadTx.path, q1, func(prov fabric.Provider) func() {
				stop := prov.(fabric.ReadAheader).ReadAhead(context.Background(), q0)
				waitFor(t, "the read-ahead ends", ovn.ReadAheadDone(prov))
				ahead = aheadTx.n.Load()
				return stop
			})
			asked := aheadTx.n.Load() - ahead
			sameFabric(t, got, want, gotWarns, wantWarns)
			t.Logf("plain Collect: %d transactions; read-ahead %d, then Collect %d", plain, ahead, asked)
			if ahead == 0 {
				t.Errorf("the read-ahead sent no transaction")
			}
			if tc.noAskWant && asked != 0 {
				t.Errorf("Collect after the read-ahead sent %d transactions, want 0: every select was answered ahead", asked)
			}
			if !tc.noAskWant && (asked == 0 || asked >= plain) {
				t.Errorf("Collect after the read-ahead sent %d transactions, want some (the port by iface-id) and fewer than the %d of a plain Collect", asked, plain)
			}
		})
	}

	t.Run("connection dropped before the read-ahead", func(t *testing.T) {
		var src fabric.Endpoint
		for _, p := range l.facts.Pods {
			if p.Name == "kube-dns" {
				ref := trace.PodRef{Namespace: p.Namespace, Name: p.Name}
				src = fabric.Endpoint{IP: netip.MustParseAddr(p.IP), Node: p.Node, Pod: &ref}
			}
		}
		q := fabric.Query{Sources: []fabric.Endpoint{src}, Destinations: []fabric.Endpoint{node4}}
		want, wantWarns := collectVia(t, strings.TrimPrefix(l.facts.Hypervisor.NB, "unix:"), q, nil)
		tx := newTransactCounter(t, strings.TrimPrefix(l.facts.Hypervisor.NB, "unix:"))
		got, gotWarns := collectVia(t, tx.path, q, func(prov fabric.Provider) func() {
			var c net.Conn
			select {
			case c = <-tx.conns:
			case <-time.After(10 * time.Second):
				t.Fatal("Prepare did not connect within 10 s")
			}
			waitPrepared(t, prov, true, "Prepare's connection was not made")
			c.Close() // Prepare's connection, made, then cut under it
			waitPrepared(t, prov, false, "the client did not see its connection cut")
			stop := prov.(fabric.ReadAheader).ReadAhead(context.Background(), q)
			waitFor(t, "the read-ahead ends", ovn.ReadAheadDone(prov))
			return stop
		})
		sameFabric(t, got, want, gotWarns, wantWarns)
	})
}

// collectVia runs Prepare, then before (its returned stop is called after Collect), then
// Collect(q) on a provider reading the NB socket at path.
func collectVia(t *testing.T, path string, q fabric.Query, before func(fabric.Provider) (stop func())) (*trace.Fabric, []string) {
	t.Helper()
	prov, err := ovn.New(ovn.Config{NB: "unix:" + path, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	release := prov.(fabric.Preparer).Prepare(context.Background())
	defer release()
	if before != nil {
		defer before(prov)()
	}
	f, warns, err := prov.Collect(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return f, warns
}

func sameFabric(t *testing.T, got, want *trace.Fabric, gotWarns, wantWarns []string) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if !bytes.Equal(g, w) {
		t.Errorf("the fabric read after a read-ahead differs from a plain read:\n got %s\nwant %s", g, w)
	}
	if strings.Join(gotWarns, "\n") != strings.Join(wantWarns, "\n") {
		t.Errorf("warnings after a read-ahead %q, plain %q", gotWarns, wantWarns)
	}
}
