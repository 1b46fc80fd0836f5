// Command nodeexec runs a command "on" a lab node VM, the way lab.sh's node-exec used to with
// `ip netns exec NS sh -c 'mount ...; exec CMD'`, in one process instead of a shell and a mount(8)
// per bind: in the node's network namespace, in a private mount namespace where the node's OVS run
// directory is /run/openvswitch and /run/netns holds only the node's own pods.
//
//	nodeexec NETNS NODEDIR CMD [ARG...]
//
// NETNS is a name under /run/netns; NODEDIR is the node's directory in the lab (its OVS run files,
// and netns/ with one empty file per pod of the node). Argv is passed on as is (no shell parses
// it); a missing program exits 127, as a shell's exec does. Linux only, as root.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

func init() {
	// Namespaces are per thread until the exec: every step runs on this one.
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: nodeexec NETNS NODEDIR CMD [ARG...]")
		os.Exit(2)
	}
	ns, dir, argv := os.Args[1], os.Args[2], os.Args[3:]
	if err := enter(ns, dir); err != nil {
		fmt.Fprintf(os.Stderr, "nodeexec %s: %v\n", ns, err)
		os.Exit(1)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "nodeexec: %s: not found\n", argv[0])
		os.Exit(127)
	}
	err = syscall.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "nodeexec: %s: %v\n", argv[0], err)
	os.Exit(126)
}

// enter does what ip netns exec and the old shell did: the netns, a mount namespace of our own
// (slave to the host's, so nothing leaks back), /sys of the netns, then the node's binds.
func enter(ns, dir string) error {
	fd, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns: %w", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	// As ip netns exec: /sys shows the netns's own devices.
	if err := unix.Unmount("/sys", unix.MNT_DETACH); err == nil {
		if err := unix.Mount(ns, "/sys", "sysfs", 0, ""); err != nil {
			return fmt.Errorf("mount sysfs: %w", err)
		}
	}
	bind := func(src, dst string, flags uintptr) error {
		if err := unix.Mount(src, dst, "", unix.MS_BIND|flags, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", src, dst, err)
		}
		return nil
	}
	if err := bind(dir, "/run/openvswitch", 0); err != nil {
		return err
	}
	pods, err := os.ReadDir(filepath.Join(dir, "netns"))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, p := range pods {
		// A pod whose netns is gone (or was never made: the hostile-name test's) is left out, as
		// the shell's `[ -e ] && mount` left it.
		_ = bind(filepath.Join("/run/netns", p.Name()), filepath.Join(dir, "netns", p.Name()), 0)
	}
	return bind(filepath.Join(dir, "netns"), "/run/netns", unix.MS_REC)
}
