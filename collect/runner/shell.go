package runner

import (
	"fmt"
	"net/netip"
	"os"
	"path"
	"strings"
)

// shellSafe are the bytes a POSIX shell never treats specially inside a word (no quoting, globbing,
// expansion, assignment or tilde), so a word made only of them is passed as is.
func shellSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_@%+:,./-", c) >= 0
}

// Quote quotes s for a POSIX shell: s itself when every byte is safe, else s in single quotes
// (each single quote in s closes them, is escaped and reopens them). `sh -c Quote(s)` sees
// exactly the word s.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	for i := 0; i < len(s); i++ {
		if !shellSafe(s[i]) {
			return quote(s)
		}
	}
	return s
}

// ShellJoin is the command line a POSIX shell splits back into exactly argv.
func ShellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// Name kinds checked by CheckName.
const (
	KindNetns  = "netns"
	KindBridge = "bridge"
	KindNode   = "node"
	KindHost   = "host"
	KindIface  = "interface"
)

// maxNameEcho bounds how much of a rejected name a message repeats.
const maxNameEcho = 64

// CheckName reports a name found on a node, in the API or in a fabric that no kernel, iproute2,
// OVS or Kubernetes tool would make, before it goes into a command: network namespace and bridge
// names (which commands name) are held to the characters those tools' users pick (letters, digits
// and _.:@+=,%-, not starting with -), Kubernetes names (any other kind: node, pod, namespace) to a
// DNS name, and interface names to the kernel's own rule (at most 15 bytes, no /, : or white
// space, printable).
func CheckName(kind, s string) error {
	bad := func(why string) error {
		return fmt.Errorf("%s name %s %s: skipped", kind, Clip(fmt.Sprintf("%q", s), maxNameEcho), why)
	}
	if s == "" || s == "." || s == ".." {
		return bad("is not a name")
	}
	switch kind {
	case KindIface:
		if len(s) > 15 {
			return bad("is longer than the kernel's 15 bytes")
		}
		for _, r := range s {
			if r == '/' || r == ':' || r <= ' ' || r == 0x7f || r == 0xfffd {
				return bad("has a character the kernel refuses in an interface name")
			}
		}
		return nil
	case KindNetns, KindBridge:
		if len(s) > 255 {
			return bad("is longer than 255 bytes")
		}
	default: // Kubernetes names: nodes, pods, namespaces
		if len(s) > 253 {
			return bad("is longer than a DNS name")
		}
	}
	if s[0] == '-' {
		return bad("starts with - (it would read as an option)")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
		if kind == KindNetns || kind == KindBridge {
			ok = ok || strings.IndexByte(":@+=,%", c) >= 0
		}
		if !ok {
			return bad(fmt.Sprintf("has %q, which no %s tool would put in a name", c, kind))
		}
	}
	return nil
}

// ParseNodeIP parses a node address strictly: an IPv4 or IPv6 address with no zone (the API
// server does not check addresses, and a zone is free text).
func ParseNodeIP(s string) (netip.Addr, error) { return parseAddr(KindNode, s) }

// parseAddr is ParseNodeIP for the address of a kind of target (a node, a host).
func parseAddr(kind, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s address %s is not an IP address", kind, Clip(fmt.Sprintf("%q", s), maxNameEcho))
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s address %s has an IPv6 zone: not used", kind, Clip(fmt.Sprintf("%q", s), maxNameEcho))
	}
	return a.Unmap(), nil
}

// Clip cuts s to at most n bytes (on a rune boundary), marking the cut, so a hostile value echoed
// in a message keeps the message one readable line.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

// childEnvKeep are the variables a runner's or --pod-exec's child may need: finding programs,
// locale, ssh's agent and config, kubectl's config and its cloud credential plugins, proxies.
var childEnvKeep = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
	"KUBECONFIG", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "DISPLAY"}

// childEnvPrefixes keep whole families (LC_ALL, SSH_AUTH_SOCK, AWS_PROFILE, ...).
var childEnvPrefixes = []string{"LC_", "SSH_", "XDG_", "KUBE", "AWS_", "GOOGLE_", "CLOUDSDK_", "AZURE_"}

// ChildEnv is the environment of the commands the tool starts: os.Environ() without anything they
// do not need (NSX_PASSWORD, tokens of other tools, ...).
func ChildEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		keep := false
		for _, x := range childEnvKeep {
			keep = keep || k == x
		}
		for _, p := range childEnvPrefixes {
			keep = keep || strings.HasPrefix(k, p)
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// remoteShells counts the remote shells a template's command goes through: one per word that runs
// ssh (ssh joins its arguments into one line that the far side's shell splits again).
func remoteShells(words []string) int {
	n := 0
	for _, w := range words {
		if path.Base(w) == "ssh" {
			n++
		}
	}
	return n
}
