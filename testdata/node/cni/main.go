// Command pw-ovs-cni is the lab's CNI plugin. It wires a pod the way NCP's node agent does on an
// NSX-T node: the pod's eth0 is a veth whose host side is an access port of the node's OVS br-int
// with a VLAN tag of its own and external_ids naming the pod (iface-id, attached-mac, ip_address,
// pod-name, pod-namespace), and the fabric gets the matching CHILD port: an OVN logical switch port
// of the namespace's switch with the node's trunk VIF as parent, the same tag, MAC and IP (what NCP
// asks NSX for). IPs come from the namespace's subnet, VLANs from the node's free tags.
//
// It speaks CNI 1.0.0 (ADD, DEL, CHECK, VERSION; the network config is read from stdin) and runs
// only `ip`, `nsenter`, `sysctl`, `ovs-vsctl` and `ovn-nbctl`, with argument vectors (no shell).
// Allocations are kept as one JSON file per container in stateDir, under a lock.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Config is the plugin's network configuration (one entry of the conflist).
type Config struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	// OVSDB is the node's Open_vSwitch database (unix:PATH) and Bridge its integration bridge.
	OVSDB  string `json:"ovsdb"`
	Bridge string `json:"bridge"`
	// NB is the OVN Northbound database; Parent the node trunk's logical port (the CHILD ports' parent).
	NB     string `json:"nb"`
	Parent string `json:"parent"`
	// NodeOctet is the node's last address byte, part of every pod MAC (02:50:56:00:NODE:VLAN-100).
	NodeOctet int    `json:"nodeOctet"`
	StateDir  string `json:"stateDir"`
	// FirstVLAN is the lowest tag handed out; FirstHost the lowest host number in a subnet.
	FirstVLAN  int                  `json:"firstVLAN"`
	FirstHost  int                  `json:"firstHost"`
	Namespaces map[string]Namespace `json:"namespaces"`
}

// Namespace is one Kubernetes namespace's logical switch, subnet and gateway (NCP: one per namespace).
type Namespace struct {
	Switch  string `json:"switch"`
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
}

// alloc is what ADD handed one container; DEL undoes it.
type alloc struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	IP        string `json:"ip"` // with prefix length
	Gateway   string `json:"gateway"`
	VLAN      int    `json:"vlan"`
	MAC       string `json:"mac"`
	HostIf    string `json:"hostIf"`
	LSP       string `json:"lsp"`
	Netns     string `json:"netns"`
}

var supported = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0"}

func main() {
	cmd := os.Getenv("CNI_COMMAND")
	if cmd == "VERSION" {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"cniVersion": "1.0.0", "supportedVersions": supported})
		return
	}
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("1.0.0", 100, "read the network config", err)
	}
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		fail("1.0.0", 6, "decode the network config", err)
	}
	if !slices.Contains(supported, c.CNIVersion) {
		fail("1.0.0", 1, "cniVersion "+c.CNIVersion, errors.New("not supported"))
	}
	if c.Bridge == "" {
		c.Bridge = "br-int"
	}
	id := os.Getenv("CNI_CONTAINERID")
	if id == "" || strings.ContainsAny(id, "/.") {
		fail(c.CNIVersion, 4, "CNI_CONTAINERID", fmt.Errorf("missing or not a plain id: %q", id))
	}
	if err := os.MkdirAll(c.StateDir, 0o755); err != nil {
		fail(c.CNIVersion, 100, "state dir", err)
	}
	unlock, err := lock(filepath.Join(c.StateDir, "lock"))
	if err != nil {
		fail(c.CNIVersion, 100, "lock the state dir", err)
	}
	defer unlock()
	switch cmd {
	case "ADD":
		res, err := add(&c, id)
		if err != nil {
			_ = del(&c, id)
			unlock()
			fail(c.CNIVersion, 100, "ADD "+id, err)
		}
		_ = json.NewEncoder(os.Stdout).Encode(res)
	case "DEL":
		if err := del(&c, id); err != nil {
			unlock()
			fail(c.CNIVersion, 100, "DEL "+id, err)
		}
	case "CHECK":
		if err := check(&c, id); err != nil {
			unlock()
			fail(c.CNIVersion, 100, "CHECK "+id, err)
		}
	default:
		unlock()
		fail(c.CNIVersion, 4, "CNI_COMMAND", fmt.Errorf("unknown command %q", cmd))
	}
}

func fail(version string, code int, what string, err error) {
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"cniVersion": version, "code": code, "msg": what, "details": err.Error()})
	os.Exit(1)
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// cniArgs reads K8S_POD_NAMESPACE and K8S_POD_NAME from CNI_ARGS (KEY=VALUE;...).
func cniArgs() map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(os.Getenv("CNI_ARGS"), ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func statePath(c *Config, id string) string { return filepath.Join(c.StateDir, id+".json") }

func allocs(c *Config) ([]alloc, error) {
	files, err := filepath.Glob(filepath.Join(c.StateDir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []alloc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var a alloc
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// add gives container id a port: an address and VLAN of its namespace's subnet (kept in the
// state dir), a veth pair into its netns, the host end on the OVS bridge, and the OVN child port.
func add(c *Config, id string) (map[string]any, error) {
	args := cniArgs()
	ns, pod := args["K8S_POD_NAMESPACE"], args["K8S_POD_NAME"]
	netns, ifname := os.Getenv("CNI_NETNS"), os.Getenv("CNI_IFNAME")
	if ns == "" || pod == "" || netns == "" || ifname == "" {
		return nil, fmt.Errorf("want K8S_POD_NAMESPACE and K8S_POD_NAME in CNI_ARGS, CNI_NETNS and CNI_IFNAME; have %q %q %q %q", ns, pod, netns, ifname)
	}
	nsc, ok := c.Namespaces[ns]
	if !ok {
		return nil, fmt.Errorf("namespace %s has no logical switch in this lab (have %v)", ns, keys(c.Namespaces))
	}
	a, err := allocate(c, id, nsc, ns, pod, netns)
	if err != nil {
		return nil, err
	}
	if err := plumb(a, ifname); err != nil {
		return nil, err
	}
	if err := attach(c, a, nsc); err != nil {
		return nil, err
	}
	ipEntry := map[string]any{"address": a.IP, "gateway": a.Gateway, "interface": 1}
	if c.CNIVersion != "1.0.0" {
		ipEntry["version"] = "4"
	}
	return map[string]any{
		"cniVersion": c.CNIVersion,
		"interfaces": []map[string]any{{"name": a.HostIf, "mac": "fe" + a.MAC[2:]}, {"name": ifname, "mac": a.MAC, "sandbox": netns}},
		"ips":        []map[string]any{ipEntry},
		"routes":     []map[string]any{{"dst": "0.0.0.0/0", "gw": a.Gateway}},
	}, nil
}

// allocate picks the pod's VLAN tag, address, MAC and host interface name (free among the
// allocations in the state dir) and records them there.
func allocate(c *Config, id string, nsc Namespace, ns, pod, netns string) (alloc, error) {
	prefix, err := netip.ParsePrefix(nsc.Subnet)
	if err != nil {
		return alloc{}, fmt.Errorf("namespace %s subnet: %w", ns, err)
	}
	taken, err := allocs(c)
	if err != nil {
		return alloc{}, err
	}
	a := alloc{Namespace: ns, Pod: pod, Gateway: nsc.Gateway, LSP: ns + "_" + pod, Netns: netns}
	a.VLAN = c.FirstVLAN
	for slices.ContainsFunc(taken, func(t alloc) bool { return t.VLAN == a.VLAN }) {
		a.VLAN++
	}
	if a.VLAN > 4094 {
		return alloc{}, errors.New("no free VLAN tag on this node")
	}
	ip := prefix.Addr()
	for range c.FirstHost {
		ip = ip.Next()
	}
	for ; prefix.Contains(ip); ip = ip.Next() {
		s := netip.PrefixFrom(ip, prefix.Bits()).String()
		if ip.String() != nsc.Gateway && !slices.ContainsFunc(taken, func(t alloc) bool { return t.IP == s }) {
			a.IP = s
			break
		}
	}
	if a.IP == "" {
		return alloc{}, fmt.Errorf("no free address in %s", nsc.Subnet)
	}
	a.MAC = fmt.Sprintf("02:50:56:00:%02x:%02x", c.NodeOctet, a.VLAN-100)
	sum := sha256.Sum256([]byte(id))
	a.HostIf = fmt.Sprintf("veth%x", sum[:4])
	b, _ := json.Marshal(a)
	if err := os.WriteFile(statePath(c, id), b, 0o644); err != nil {
		return alloc{}, err
	}
	return a, nil
}

// plumb makes a's veth pair: the pod end, named ifname, configured in a.Netns; the host end up.
func plumb(a alloc, ifname string) error {
	// The pair is made in the node's netns (ours), then its pod end moves into the pod's netns.
	tmp := "pw" + strings.TrimPrefix(a.HostIf, "veth")
	if err := run("ip", "link", "add", a.HostIf, "type", "veth", "peer", "name", tmp); err != nil {
		return err
	}
	if err := run("ip", "link", "set", tmp, "netns", a.Netns); err != nil {
		return err
	}
	in := func(argv ...string) error { return run("nsenter", append([]string{"--net=" + a.Netns}, argv...)...) }
	for _, argv := range [][]string{
		{"sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"},
		{"ip", "link", "set", tmp, "name", ifname, "address", a.MAC},
		{"ip", "addr", "add", a.IP, "dev", ifname},
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "set", ifname, "up"},
		{"ip", "route", "add", "default", "via", a.Gateway, "dev", ifname},
	} {
		if err := in(argv...); err != nil {
			return err
		}
	}
	// The host side gets fe: + the pod MAC's last five bytes, as in the published walk.
	return run("ip", "link", "set", a.HostIf, "address", "fe"+a.MAC[2:], "up")
}

// attach puts a's host end on the OVS bridge with its VLAN tag and adds its OVN child port.
func attach(c *Config, a alloc, nsc Namespace) error {
	if err := run("ovs-vsctl", "--db="+c.OVSDB, "--timeout=20", "--may-exist", "add-port", c.Bridge, a.HostIf, fmt.Sprintf("tag=%d", a.VLAN),
		"--", "set", "interface", a.HostIf,
		"external_ids:attached-mac="+a.MAC, "external_ids:iface-id="+a.LSP, "external_ids:ip_address="+a.IP,
		"external_ids:pod-name="+a.Pod, "external_ids:pod-namespace="+a.Namespace); err != nil {
		return err
	}
	addr, _, _ := strings.Cut(a.IP, "/")
	return run("ovn-nbctl", "--db="+c.NB, "--timeout=20", "--wait=hv",
		"--may-exist", "lsp-add", nsc.Switch, a.LSP, c.Parent, fmt.Sprint(a.VLAN),
		"--", "lsp-set-addresses", a.LSP, a.MAC+" "+addr)
}

// del undoes add as far as it got; a container it never saw is no error (CNI DEL is idempotent).
func del(c *Config, id string) error {
	b, err := os.ReadFile(statePath(c, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var a alloc
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	var errs []error
	if a.HostIf != "" {
		errs = append(errs, run("ovs-vsctl", "--db="+c.OVSDB, "--timeout=20", "--if-exists", "del-port", c.Bridge, a.HostIf))
		if exec.Command("ip", "link", "show", a.HostIf).Run() == nil {
			errs = append(errs, run("ip", "link", "del", a.HostIf))
		}
	}
	if a.LSP != "" {
		errs = append(errs, run("ovn-nbctl", "--db="+c.NB, "--timeout=20", "--if-exists", "lsp-del", a.LSP))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.Remove(statePath(c, id))
}

func check(c *Config, id string) error {
	b, err := os.ReadFile(statePath(c, id))
	if err != nil {
		return err
	}
	var a alloc
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	return run("ovs-vsctl", "--db="+c.OVSDB, "--timeout=20", "port-to-br", a.HostIf)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func keys(m map[string]Namespace) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}
