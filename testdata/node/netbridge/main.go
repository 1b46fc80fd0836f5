// Command netbridge joins the lab's API server (loopback of the root network namespace) and a lab
// node's network namespace, both ways, the way a real node and control plane reach each other:
//
//   - -listen ADDR -to ADDR: a TCP listener inside the node's netns that forwards to ADDR in the
//     root netns, so the kubelet reaches https://127.0.0.1:PORT as it would reach its API server;
//
//   - -connect PATH: an HTTP CONNECT proxy on a unix socket, used by kube-apiserver's egress selector
//     (cluster egress) to reach the kubelet's port 10250 at the node's IP inside the node's netns.
//
//     netbridge -netns /run/netns/pw-n6 -listen 127.0.0.1:6443 -to 127.0.0.1:6443 -connect /tmp/egress.sock
//
// It runs in the root netns; only its listener and the sockets it dials for CONNECT are made in
// the node's netns (on an OS thread that switched there and is never reused).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

func main() {
	netns := flag.String("netns", "", "the node's network namespace (a path such as /run/netns/NAME)")
	listen := flag.String("listen", "", "TCP address to listen on inside -netns")
	to := flag.String("to", "", "TCP address in this netns that -listen forwards to")
	connect := flag.String("connect", "", "unix socket for an HTTP CONNECT proxy that dials inside -netns")
	flag.Parse()
	if *netns == "" || (*listen == "") != (*to == "") || (*listen == "" && *connect == "") {
		fmt.Fprintln(os.Stderr, "usage: netbridge -netns PATH [-listen ADDR -to ADDR] [-connect SOCKET]")
		os.Exit(2)
	}
	var wg sync.WaitGroup
	if *listen != "" {
		ln, err := inNetns(*netns, func() (net.Listener, error) { return net.Listen("tcp", *listen) })
		if err != nil {
			log.Fatalf("netbridge: listen on %s in %s: %v", *listen, *netns, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(ln, func(c net.Conn) {
				up, err := net.Dial("tcp", *to)
				if err != nil {
					log.Printf("netbridge: dial %s: %v", *to, err)
					c.Close()
					return
				}
				pipe(c, up)
			})
		}()
	}
	if *connect != "" {
		_ = os.Remove(*connect)
		ln, err := net.Listen("unix", *connect)
		if err != nil {
			log.Fatalf("netbridge: listen on %s: %v", *connect, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(ln, func(c net.Conn) { proxy(c, *netns) })
		}()
	}
	wg.Wait()
}

func serve(ln net.Listener, handle func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatalf("netbridge: accept on %s: %v", ln.Addr(), err)
		}
		go handle(c)
	}
}

// proxy answers one HTTP CONNECT request by dialing its target inside netns.
func proxy(c net.Conn, netns string) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		c.Close()
		return
	}
	if req.Method != http.MethodConnect {
		fmt.Fprintf(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		c.Close()
		return
	}
	up, err := inNetns(netns, func() (net.Conn, error) { return net.Dial("tcp", req.Host) })
	if err != nil {
		fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		log.Printf("netbridge: CONNECT %s in %s: %v", req.Host, netns, err)
		c.Close()
		return
	}
	fmt.Fprintf(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	// Bytes the client sent after its request are already in br: copy from br, not c.
	pipe(&readConn{Conn: c, r: br}, up)
}

type readConn struct {
	net.Conn
	r io.Reader
}

func (r *readConn) Read(p []byte) (int, error) { return r.r.Read(p) }

func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if t, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = t.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	a.Close()
	b.Close()
}

// inNetns runs f on an OS thread switched into the network namespace at path. The thread is never
// switched back: it ends with its goroutine (LockOSThread without Unlock), so no other goroutine
// runs in the node's namespace by accident. A socket keeps the namespace it was made in.
func inNetns[T any](path string, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var zero T
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{zero, fmt.Errorf("open %s: %w", path, err)}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- result{zero, fmt.Errorf("setns %s: %w", path, err)}
			return
		}
		v, err := f()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}
