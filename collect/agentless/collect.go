package agentless

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/packetwalk/kubectl-packetwalk/collect/ovs"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Run runs argv on the node and returns its standard output (a runner bound to one node).
type Run func(ctx context.Context, argv []string) ([]byte, error)

// Options say what to read; they mirror collect/node's.
type Options struct {
	// Node is the Kubernetes node name, used in source names (netlink@NODE).
	Node string
	// NoProcs skips the namespaces of processes (lsns), reading named ones only.
	NoProcs bool
	// Match keeps only the non-root namespaces whose name ("NAME" or "pid:PID") matches a glob.
	Match []string
	// NoOVS skips ovs-vsctl and ovs-appctl.
	NoOVS bool
	// Workers bounds the commands in flight; default 4.
	Workers int
}

// netnsDir is where `ip netns` keeps named namespaces (the commands name them; only stat needs
// the path).
const netnsDir = "/var/run/netns"

// Collect reads the node's namespaces and OVS with ip, lsns, nsenter, stat, ovs-vsctl and
// ovs-appctl run through run. A missing OVS is a warning, not an error.
func Collect(ctx context.Context, run Run, o Options) (*trace.NodeState, error) {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	st := &trace.NodeState{Name: o.Node}
	targets, warns, err := netnsTargets(ctx, run, o)
	if err != nil {
		return nil, err
	}
	st.Warnings = append(st.Warnings, warns...)
	netns, warns, err := readTargets(ctx, run, o.Workers, targets)
	if err != nil {
		return nil, err
	}
	st.Netns = netns
	st.Warnings = append(st.Warnings, warns...)
	trace.SortNodeNetns(st.Netns)
	resolvePeers(st.Netns)

	if !o.NoOVS {
		o, warns := readOVS(ctx, run, o.Node)
		st.OVS = o
		st.Warnings = append(st.Warnings, warns...)
	}
	sort.Strings(st.Warnings)
	return st, nil
}

// nsTarget is a network namespace to read and the command prefix that enters it.
type nsTarget struct {
	ns     trace.Netns
	prefix []string
}

// netnsTargets are the namespaces to read: the root one, the named ones (`ip netns`) and, unless
// o.NoProcs, those of processes (nsenter), each once by inode and as o.Match filters them.
func netnsTargets(ctx context.Context, run Run, o Options) ([]nsTarget, []string, error) {
	src := trace.SourceNetlink + "@" + o.Node
	named, warns, err := namedNetns(ctx, run)
	if err != nil {
		return nil, nil, err
	}
	// One stat for the root namespace and the named ones (where `ip netns` keeps them).
	paths := []string{"/proc/self/ns/net"}
	for _, n := range named {
		paths = append(paths, path.Join(netnsDir, n))
	}
	ino, err := statInodes(ctx, run, paths...)
	if err != nil {
		return nil, nil, err
	}
	rootInode := ino["/proc/self/ns/net"]
	targets := []nsTarget{{ns: trace.Netns{Name: "root", Root: true, Inode: rootInode, Source: src}}}
	seen := map[uint64]bool{rootInode: true}
	for _, n := range named {
		i := ino[path.Join(netnsDir, n)]
		if i != 0 && seen[i] {
			continue
		}
		seen[i] = true
		if keep(o.Match, n) {
			targets = append(targets, nsTarget{ns: trace.Netns{Name: n, Inode: i, Source: src}, prefix: []string{"-n", n}})
		}
	}
	if o.NoProcs {
		return targets, warns, nil
	}
	procs, err := procNetns(ctx, run)
	if err != nil {
		warns = append(warns, err.Error())
	}
	for _, p := range procs {
		if seen[p.inode] {
			continue
		}
		seen[p.inode] = true
		name := "pid:" + strconv.Itoa(p.pid)
		if keep(o.Match, name) {
			targets = append(targets, nsTarget{ns: trace.Netns{Name: name, Inode: p.inode, Source: src}, prefix: []string{"nsenter", "-t", strconv.Itoa(p.pid), "-n"}})
		}
	}
	return targets, warns, nil
}

// readTargets reads the namespaces, workers at once; one that fails is a warning, except the root.
func readTargets(ctx context.Context, run Run, workers int, targets []nsTarget) ([]trace.Netns, []string, error) {
	var warnings []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	var mu sync.Mutex
	for i := range targets {
		t := &targets[i]
		g.Go(func() error {
			ns, warns, err := readNetns(gctx, run, t.prefix, t.ns)
			if len(warns) > 0 {
				mu.Lock()
				warnings = append(warnings, warns...)
				mu.Unlock()
			}
			if err != nil {
				if !t.ns.Root {
					mu.Lock()
					warnings = append(warnings, fmt.Sprintf("netns %s not read: %v", t.ns.Name, err))
					mu.Unlock()
					t.ns = trace.Netns{}
					return nil
				}
				return err
			}
			t.ns = ns
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var out []trace.Netns
	for _, t := range targets {
		if t.ns.Name != "" {
			out = append(out, t.ns)
		}
	}
	return out, warnings, nil
}

func keep(globs []string, name string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// readNetns runs the four ip commands in one namespace. prefix is "-n NAME" (an ip option) for a
// named namespace, "nsenter -t PID -n" (a command prefix) for a process's, nothing for root.
func readNetns(ctx context.Context, run Run, prefix []string, ns trace.Netns) (trace.Netns, []string, error) {
	ns, err := readNetnsTables(ctx, run, prefix, ns)
	if err != nil {
		return ns, nil, err
	}
	// A link whose name the kernel would refuse is not a real link: reported, not walked.
	var warns []string
	links := ns.Links[:0]
	for _, l := range ns.Links {
		if err := runner.CheckName(runner.KindIface, l.Name); err != nil {
			warns = append(warns, fmt.Sprintf("netns %s: %v", ns.Name, err))
			continue
		}
		links = append(links, l)
	}
	ns.Links = links
	return ns, warns, nil
}

func readNetnsTables(ctx context.Context, run Run, prefix []string, ns trace.Netns) (trace.Netns, error) {
	ipArgv := func(args ...string) []string {
		if len(prefix) > 0 && prefix[0] == "nsenter" {
			return append(append(append([]string{}, prefix...), "ip", "-j"), args...)
		}
		return append(append(append([]string{"ip"}, prefix...), "-j"), args...)
	}
	b, err := run(ctx, ipArgv("-d", "link", "show"))
	if err != nil {
		return ns, err
	}
	if ns.Links, err = ParseLinks(b); err != nil {
		return ns, err
	}
	if b, err = run(ctx, ipArgv("addr", "show")); err != nil {
		return ns, err
	}
	if ns.Addresses, err = ParseAddrs(b); err != nil {
		return ns, err
	}
	if b, err = run(ctx, ipArgv("route", "show")); err != nil {
		return ns, err
	}
	if ns.Routes, err = ParseRoutes(b); err != nil {
		return ns, err
	}
	// `ip route` shows IPv4 only; netlink's FAMILY_ALL has both.
	if b, err = run(ctx, ipArgv("-6", "route", "show")); err != nil {
		return ns, err
	}
	r6, err := ParseRoutes(b)
	if err != nil {
		return ns, err
	}
	ns.Routes = append(ns.Routes, r6...)
	if b, err = run(ctx, ipArgv("neigh", "show")); err != nil {
		return ns, err
	}
	if ns.Neighbors, err = ParseNeighbors(b); err != nil {
		return ns, err
	}
	return ns, nil // Collect sorts every namespace once (trace.SortNodeNetns)
}

// namedNetns lists `ip -j netns list`; empty output means none. A name no tool would make is
// left out, with a warning: it goes into commands (ip -n NAME, stat).
func namedNetns(ctx context.Context, run Run) (names, warnings []string, err error) {
	b, err := run(ctx, []string{"ip", "-j", "netns", "list"})
	if err != nil {
		return nil, nil, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, nil, nil
	}
	var in []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, nil, fmt.Errorf("ip -j netns list: %w", err)
	}
	for _, n := range in {
		if err := runner.CheckName(runner.KindNetns, n.Name); err != nil {
			warnings = append(warnings, err.Error())
			continue
		}
		names = append(names, n.Name)
	}
	sort.Strings(names)
	return names, warnings, nil
}

type procNS struct {
	inode uint64
	pid   int
}

// procNetns lists the network namespaces of processes with their lowest PID (`lsns -J -t net`).
func procNetns(ctx context.Context, run Run) ([]procNS, error) {
	b, err := run(ctx, []string{"lsns", "-J", "-t", "net", "-o", "NS,PID"})
	if err != nil {
		return nil, fmt.Errorf("namespaces of processes not read: %w", err)
	}
	var in struct {
		Namespaces []struct {
			NS  json.Number `json:"ns"`
			PID json.Number `json:"pid"`
		} `json:"namespaces"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("lsns -J: %w", err)
	}
	var out []procNS
	for _, n := range in.Namespaces {
		ino, _ := strconv.ParseUint(n.NS.String(), 10, 64)
		pid, _ := strconv.Atoi(n.PID.String())
		if ino != 0 && pid != 0 {
			out = append(out, procNS{ino, pid})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out, nil
}

// statInodes returns the inode of each path (`stat -L -c '%i %n'`).
func statInodes(ctx context.Context, run Run, paths ...string) (map[string]uint64, error) {
	b, err := run(ctx, append([]string{"stat", "-L", "-c", "%i %n"}, paths...))
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		ino, name, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(ino, 10, 64); err == nil {
			out[name] = n
		}
	}
	return out, nil
}

// readOVS reads the OVS database and MAC tables; a node without OVS gives a warning.
func readOVS(ctx context.Context, run Run, node string) (*trace.OVS, []string) {
	o, _, err := listOVS(ctx, run)
	if err != nil {
		return nil, []string{fmt.Sprintf("no OVS facts from node %s: %v", node, err)}
	}
	o.Source = trace.SourceOVSDB + "@" + node
	var warns []string
	for _, br := range o.Bridges {
		// The name goes into ovs-appctl's command line.
		if err := runner.CheckName(runner.KindBridge, br.Name); err != nil {
			warns = append(warns, fmt.Sprintf("MAC table not read: %v", err))
			continue
		}
		b, err := run(ctx, []string{"ovs-appctl", "--timeout=10", "fdb/show", br.Name})
		if err != nil {
			return o, append(warns, fmt.Sprintf("MAC table not read: %v", err))
		}
		es, err := ovs.ParseFDB(br.Name, string(b))
		if err != nil {
			return o, append(warns, fmt.Sprintf("MAC table not read: %v", err))
		}
		o.MACTable = append(o.MACTable, es...)
	}
	o.FDBSource = trace.SourceFDB + "@" + node
	return o, warns
}

// listOVS reads OVS's Bridge, Port and Interface tables (`ovs-vsctl list`) and parses them; it
// also returns the Interface table as printed, for the columns ParseOVS does not keep.
func listOVS(ctx context.Context, run Run) (*trace.OVS, []byte, error) {
	var tables [3][]byte
	for i, t := range []string{"Bridge", "Port", "Interface"} {
		b, err := run(ctx, []string{"ovs-vsctl", "--timeout=10", "--format=json", "--data=json", "list", t})
		if err != nil {
			return nil, nil, err
		}
		tables[i] = b
	}
	o, err := ParseOVS(tables[0], tables[1], tables[2])
	return o, tables[2], err
}

// PrintsJSON says argv is one of the commands Collect runs whose output is JSON (ip -j, lsns -J,
// ovs-vsctl --format=json), so a runner can fail it on its first byte that is not.
func PrintsJSON(argv []string) bool {
	for _, a := range argv {
		if a == "-j" || a == "-J" || a == "--format=json" {
			return true
		}
	}
	return false
}
