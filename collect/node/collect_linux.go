package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// nsRef is one namespace to read (its name, an open handle and its inode) and, once read, its
// netlink handle and what was read or why not.
type nsRef struct {
	name  string
	root  bool
	inode uint64
	fd    netns.NsHandle

	h   *netlink.Handle
	ns  *trace.Netns
	err error // ns and err both nil: it holds none of Options.Holding's addresses
	// sought: its read is counted in seek.reads (the root and named namespaces, with OnlyHolding).
	sought bool
}

// Collect reads the root namespace (required: its failure is the error) and every other namespace
// it finds (each failure, such as a namespace that vanished mid-way, is a warning). Equivalent to
// `ip -d link; ip addr; ip route; ip neigh` in each namespace.
func Collect(ctx context.Context, opts Options) (*trace.NodeState, []string, error) {
	opts.defaults()
	src := trace.SourceNetlink + "@" + opts.Node
	rootRef, err := openRoot(opts)
	if err != nil {
		return nil, nil, err
	}
	// The namespaces are read as they are found: the /proc scan takes as long as reading several.
	found := make(chan *nsRef, 64)
	if opts.OnlyHolding && len(opts.Holding) > 0 {
		opts.seek = newSeek(opts.Holding)
		opts.seek.reads.Add(1)
		rootRef.sought = true
	}
	found <- rootRef
	var others []*nsRef
	var warnings []string
	go func() {
		defer close(found)
		if opts.OnlyHolding && len(opts.Holding) == 0 {
			return // the root namespace alone: no other is looked for
		}
		others, warnings = findNamespaces(opts, rootRef.inode, func(r *nsRef) { found <- r })
	}()
	readAll(ctx, opts, found, src)
	refs := append([]*nsRef{rootRef}, others...)
	defer func() {
		for _, r := range refs {
			if r.h != nil {
				r.h.Close()
			}
			r.fd.Close()
		}
	}()
	if rootRef.err != nil {
		return nil, warnings, fmt.Errorf("netlink in the root network namespace: %w", rootRef.err)
	}
	// Name the namespace holding each veth peer: ask each namespace which nsid it gives the others.
	resolvePeers(refs)

	st := &trace.NodeState{Name: opts.Node}
	for _, r := range refs {
		if r.ns == nil && r.err == nil {
			continue // holds none of opts.Holding's addresses
		}
		if r.err != nil {
			warnings = append(warnings, fmt.Sprintf("netns %s: not read: %v", r.name, vanished(r.err)))
			continue
		}
		st.Netns = append(st.Netns, *r.ns)
	}
	trace.SortNodeNetns(st.Netns)
	return st, warnings, nil
}

// openRoot opens the root namespace: --root-netns's path, else this process's own.
func openRoot(opts Options) (*nsRef, error) {
	var rootFd netns.NsHandle
	var err error
	if opts.RootNetns != "" {
		rootFd, err = netns.GetFromPath(opts.RootNetns)
	} else {
		rootFd, err = netns.Get()
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open the root network namespace: %w", err)
	}
	rootIno, err := inodeOf(rootFd)
	if err != nil {
		rootFd.Close()
		return nil, fmt.Errorf("cannot stat this process's network namespace: %w", err)
	}
	return &nsRef{name: "root", root: true, inode: rootIno, fd: rootFd}, nil
}

// readAll reads every namespace sent on in until it closes, with opts.Workers goroutines each
// taking the next one in turn: netlink's receive buffer (64 KiB on the stack) grows a goroutine's
// stack once, not once per namespace. The caller closes the handles.
func readAll(ctx context.Context, opts Options, in <-chan *nsRef, src string) {
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() {
			for r := range in {
				if r.err = ctx.Err(); r.err == nil {
					r.h, r.ns, r.err = readOne(opts, r, src)
				}
				if r.sought {
					opts.seek.read(r.ns)
				}
			}
		})
	}
	wg.Wait()
}

// readOne opens a netlink handle in r and reads it.
func readOne(opts Options, r *nsRef, src string) (*netlink.Handle, *trace.Netns, error) {
	var h *netlink.Handle
	var err error
	// Route sockets only: every read here is rtnetlink, and each other family (xfrm, netfilter)
	// would cost a socket and two setns per namespace.
	if r.root && opts.RootNetns == "" {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE) // our own namespace: no setns, so no privilege needed
	} else {
		h, err = netlink.NewHandleAt(r.fd, unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, nil, err
	}
	ns, err := readNetns(h, r, src, opts)
	return h, ns, err
}

// holds says whether addrs (a namespace's, as netlink gives them) hold one of Holding's addresses.
func (o *Options) holds(addrs []netlink.Addr) bool {
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		for _, h := range o.Holding {
			if ip.Unmap() == h.Unmap() {
				return true
			}
		}
	}
	return false
}

// vanished says so when a namespace disappeared while being read.
func vanished(err error) string {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EBADF) {
		return "it vanished during collection (" + err.Error() + ")"
	}
	return err.Error()
}

func inodeOf(h netns.NsHandle) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(h), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// findNamespaces opens the named namespaces, then those of processes, skipping the root one and
// any inode already seen, and hands each to found as soon as it is open. A named namespace wins
// over a process's; among processes the lowest PID names it.
func findNamespaces(opts Options, rootIno uint64, found func(*nsRef)) ([]*nsRef, []string) {
	var refs []*nsRef
	var warnings []string
	seen := map[uint64]bool{rootIno: true}
	if ents, err := os.ReadDir(opts.NetnsDir); err == nil {
		for _, e := range ents {
			name := e.Name()
			if !opts.keep(name) {
				continue
			}
			if opts.beforeOpen != nil {
				opts.beforeOpen(name)
			}
			h, err := netns.GetFromPath(filepath.Join(opts.NetnsDir, name))
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("netns %s: not read: %v", name, vanished(err)))
				continue
			}
			ino, err := inodeOf(h)
			if err != nil || seen[ino] || !isNetns(h) {
				h.Close()
				continue
			}
			seen[ino] = true
			refs = append(refs, &nsRef{name: name, inode: ino, fd: h, sought: opts.seek != nil})
			if opts.seek != nil {
				opts.seek.reads.Add(1)
			}
			found(refs[len(refs)-1])
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		warnings = append(warnings, fmt.Sprintf("cannot list named network namespaces in %s: %v", opts.NetnsDir, err))
	}
	if opts.NoProcs || (opts.seek != nil && opts.seek.allFound()) {
		return refs, warnings
	}
	ents, err := os.ReadDir(opts.ProcDir)
	if err != nil {
		return refs, append(warnings, fmt.Sprintf("cannot scan %s for process network namespaces: %v", opts.ProcDir, err))
	}
	pids := make([]int, 0, len(ents))
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	for _, pid := range pids {
		p := filepath.Join(opts.ProcDir, strconv.Itoa(pid), "ns", "net")
		link, err := os.Readlink(p)
		if err != nil {
			continue // gone, or a kernel thread we may not read
		}
		ino, ok := parseNsLink(link)
		if !ok || seen[ino] {
			continue
		}
		name := "pid:" + strconv.Itoa(pid)
		if !opts.keep(name) {
			seen[ino] = true
			continue
		}
		h, err := netns.GetFromPath(p)
		if err != nil {
			continue // the process exited
		}
		if got, err := inodeOf(h); err != nil || got != ino {
			h.Close()
			continue
		}
		seen[ino] = true
		refs = append(refs, &nsRef{name: name, inode: ino, fd: h})
		found(refs[len(refs)-1])
	}
	return refs, warnings
}

// isNetns rejects a stale file under /var/run/netns whose namespace is gone (no nsfs mount).
func isNetns(h netns.NsHandle) bool {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(h), &fs); err != nil {
		return false
	}
	return fs.Type == unix.NSFS_MAGIC
}

// parseNsLink reads "net:[4026531840]".
func parseNsLink(s string) (uint64, bool) {
	if !strings.HasPrefix(s, "net:[") || !strings.HasSuffix(s, "]") {
		return 0, false
	}
	v, err := strconv.ParseUint(s[5:len(s)-1], 10, 64)
	return v, err == nil
}

// dump retries a netlink dump the kernel interrupted (the table changed while it was read).
func dump[T any](f func() ([]T, error)) ([]T, error) {
	var out []T
	var err error
	for range 5 {
		out, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}

// readNetns reads r through h; with opts.OnlyHolding, a namespace other than the root one that
// holds none of opts.Holding's addresses is left after its address dump (nil, nil).
func readNetns(h *netlink.Handle, r *nsRef, src string, opts Options) (*trace.Netns, error) {
	addrs, err := dump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	if opts.OnlyHolding && !r.root && !opts.holds(addrs) {
		return nil, nil
	}
	ns := &trace.Netns{Name: r.name, Root: r.root, Inode: r.inode, Source: src}
	links, err := dump(h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	for _, l := range links {
		ns.Links = append(ns.Links, convertLink(l, names))
	}
	for _, a := range addrs {
		if a.Flags&unix.IFA_F_TENTATIVE != 0 || a.IPNet == nil {
			continue
		}
		ns.Addresses = append(ns.Addresses, trace.Address{Link: names[a.LinkIndex], CIDR: a.IPNet.String()})
	}
	routes, err := dump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("listing routes: %w", err)
	}
	for _, rt := range routes {
		ns.Routes = append(ns.Routes, convertRoute(rt, names)...)
	}
	neighs, err := dump(func() ([]netlink.Neigh, error) { return h.NeighList(0, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("listing neighbours: %w", err)
	}
	for _, n := range neighs {
		// As `ip neigh`: NOARP entries (multicast, loopback) are not shown.
		if n.State&netlink.NUD_NOARP != 0 || n.IP == nil {
			continue
		}
		x := trace.Neighbor{IP: n.IP.String(), Dev: names[n.LinkIndex], State: neighState(n.State)}
		if len(n.HardwareAddr) > 0 {
			x.MAC = n.HardwareAddr.String()
		}
		ns.Neighbors = append(ns.Neighbors, x)
	}
	return ns, nil
}

func convertLink(l netlink.Link, names map[int]string) trace.Link {
	a := l.Attrs()
	x := trace.Link{
		Index:     a.Index,
		Name:      a.Name,
		Kind:      linkKind(l),
		MTU:       a.MTU,
		OperState: strings.ReplaceAll(a.OperState.String(), "-", ""), // lower-layer-down -> lowerlayerdown, as ip prints it
		AdminUp:   a.Flags&net.FlagUp != 0,
	}
	if len(a.HardwareAddr) > 0 && !(x.Kind == trace.KindLoopback && isZero(a.HardwareAddr)) {
		x.MAC = a.HardwareAddr.String()
	}
	if a.MasterIndex > 0 {
		x.Master = names[a.MasterIndex]
	}
	switch v := l.(type) {
	case *netlink.Veth:
		x.PeerIndex = a.ParentIndex
		if a.NetNsID >= 0 {
			id := a.NetNsID
			x.PeerNetnsID = &id
		}
	case *netlink.Vlan:
		x.VLANID = v.VlanId
		if a.NetNsID < 0 {
			x.Parent = names[a.ParentIndex]
		}
	}
	return x
}

func isZero(m net.HardwareAddr) bool {
	for _, b := range m {
		if b != 0 {
			return false
		}
	}
	return true
}

// linkKind follows the conventions: netlink's type, "tun"/"tap", "device", "loopback".
func linkKind(l netlink.Link) string {
	a := l.Attrs()
	if a.Flags&net.FlagLoopback != 0 {
		return trace.KindLoopback
	}
	switch v := l.(type) {
	case *netlink.Tuntap:
		if v.Mode == netlink.TUNTAP_MODE_TAP {
			return "tap"
		}
		return trace.KindTun
	case *netlink.Device:
		return trace.KindDevice
	case *netlink.GenericLink:
		if v.LinkType != "" {
			return v.LinkType
		}
		return trace.KindDevice
	}
	return l.Type()
}

func convertRoute(rt netlink.Route, names map[int]string) []trace.Route {
	if rt.Type != unix.RTN_UNICAST {
		return nil
	}
	x := trace.Route{Dst: "default", Dev: names[rt.LinkIndex]}
	if rt.Dst != nil {
		if ones, _ := rt.Dst.Mask.Size(); ones > 0 || !rt.Dst.IP.IsUnspecified() {
			x.Dst = rt.Dst.String()
		}
	}
	switch rt.Scope {
	case netlink.SCOPE_LINK:
		x.Scope = "link"
	case netlink.SCOPE_HOST:
		x.Scope = "host"
	}
	if rt.Src != nil {
		x.Src = rt.Src.String()
	}
	if len(rt.MultiPath) == 0 {
		if rt.Gw != nil {
			x.Gateway = rt.Gw.String()
		}
		return []trace.Route{x}
	}
	out := make([]trace.Route, 0, len(rt.MultiPath))
	for _, nh := range rt.MultiPath {
		y := x
		y.Dev = names[nh.LinkIndex]
		if nh.Gw != nil {
			y.Gateway = nh.Gw.String()
		}
		out = append(out, y)
	}
	return out
}

// resolvePeers fills PeerNetns of every veth whose link_netnsid is known: namespace i gives
// namespace j the nsid GetNetNsIdByFd(j) (RTM_GETNSID, which reads and never assigns one). Only
// the namespaces holding a veth that points back (its index and peer index swapped) are asked:
// a veth's peer is one, so a peer in no namespace read costs no question to each of the others.
func resolvePeers(refs []*nsRef) {
	back := make([]map[[2]int]bool, len(refs))
	for j, r := range refs {
		if r.ns == nil {
			continue
		}
		for _, l := range r.ns.Links {
			if l.PeerIndex > 0 {
				if back[j] == nil {
					back[j] = map[[2]int]bool{}
				}
				back[j][[2]int{l.Index, l.PeerIndex}] = true
			}
		}
	}
	for i, r := range refs {
		ns := r.ns
		if ns == nil || r.h == nil {
			continue
		}
		want := map[int]bool{}
		for _, l := range ns.Links {
			if l.PeerNetnsID != nil {
				want[*l.PeerNetnsID] = true
			}
		}
		if len(want) == 0 {
			continue
		}
		byID := map[int]string{}
		// The root namespace first: it is where pods' peers live.
		for j := 0; j < len(refs) && len(byID) < len(want); j++ {
			if j == i || refs[j].ns == nil || !pointsBack(back[j], ns.Links) {
				continue
			}
			id, err := r.h.GetNetNsIdByFd(int(refs[j].fd))
			if err == nil && id >= 0 && want[id] {
				byID[id] = refs[j].name
			}
		}
		for k := range ns.Links {
			if l := &ns.Links[k]; l.PeerNetnsID != nil {
				l.PeerNetns = byID[*l.PeerNetnsID]
			}
		}
	}
}

// pointsBack says whether back (a namespace's veths) holds the peer of one of links' veths in
// another namespace.
func pointsBack(back map[[2]int]bool, links []trace.Link) bool {
	for _, l := range links {
		if l.PeerNetnsID != nil && back[[2]int{l.PeerIndex, l.Index}] {
			return true
		}
	}
	return false
}
