// Package node collects a node's kernel network facts through netlink: the root network namespace
// and every other one it can find (named ones under /var/run/netns, and those of running processes
// under /proc, de-duplicated by inode), each with its links, addresses, routes and neighbours,
// following the conventions documented on trace.NodeState.
package node

import (
	"errors"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// Defaults for Options.
const (
	DefaultNetnsDir = "/var/run/netns"
	DefaultProcDir  = "/proc"
)

// ErrNotSupported is returned on systems without netlink.
var ErrNotSupported = errors.New("collecting node facts needs Linux (netlink)")

// Options say which namespaces to read.
type Options struct {
	// Node is the node name, used in source names (netlink@NODE).
	Node string
	// NetnsDir holds named network namespaces; default DefaultNetnsDir.
	NetnsDir string
	// ProcDir is procfs, scanned for the namespaces of running processes; default DefaultProcDir.
	ProcDir string
	// NoProcs skips the /proc scan (named namespaces only).
	NoProcs bool
	// Match keeps only the non-root namespaces whose name ("NAME" or "pid:PID") matches one of
	// these path.Match globs; empty keeps all.
	Match []string
	// OnlyHolding keeps only the non-root namespaces holding one of Holding's addresses (the pods
	// a walk crosses), after Match: with none, the root namespace alone. Each other namespace costs
	// one address dump instead of a full read, and once the root and named namespaces hold every
	// address, those of processes are not looked for.
	OnlyHolding bool
	Holding     []netip.Addr
	// RootNetns, when set, is the path of the namespace to read as the node's root (a node VM's
	// netns seen from its hypervisor, /proc/PID/ns/net); default: this process's namespace.
	RootNetns string
	// Workers bounds how many namespaces are read at once; default 4.
	Workers int

	// beforeOpen is a test hook run before each named namespace is opened.
	beforeOpen func(name string)
	// seek is set by Collect with OnlyHolding (seek.go).
	seek *seek
}

func (o *Options) defaults() {
	if o.NetnsDir == "" {
		o.NetnsDir = DefaultNetnsDir
	}
	if o.ProcDir == "" {
		o.ProcDir = DefaultProcDir
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
}

// ValidateMatch reports a bad glob in Match.
func ValidateMatch(globs []string) error {
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return errors.New("bad netns pattern " + strconv.Quote(g) + ": " + err.Error())
		}
	}
	return nil
}

func (o *Options) keep(name string) bool {
	if len(o.Match) == 0 {
		return true
	}
	for _, g := range o.Match {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// neighState renders NUD_* bits as `ip neigh` prints them.
func neighState(s int) string {
	names := []struct {
		bit  int
		name string
	}{{0x01, "INCOMPLETE"}, {0x02, "REACHABLE"}, {0x04, "STALE"}, {0x08, "DELAY"}, {0x10, "PROBE"},
		{0x20, "FAILED"}, {0x40, "NOARP"}, {0x80, "PERMANENT"}}
	var out []string
	for _, n := range names {
		if s&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "NONE"
	}
	return strings.Join(out, " ")
}
