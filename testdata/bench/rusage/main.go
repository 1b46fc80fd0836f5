// Command rusage runs a command and prints its wall time and peak RSS on the last line of stderr:
// "rusage: wall-ns=N maxrss-kb=N". A Go program starts its children with vfork, so a child's
// ru_maxrss counts its parent's resident set at exec: a benchmark measures through this small
// parent, not through the test binary.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rusage COMMAND [ARG...]")
		os.Exit(2)
	}
	c := exec.Command(os.Args[1], os.Args[2:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := c.Run()
	wall := time.Since(start)
	if c.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "rusage: %v\n", err)
		os.Exit(127)
	}
	ru := c.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Fprintf(os.Stderr, "rusage: wall-ns=%d maxrss-kb=%d\n", wall.Nanoseconds(), ru.Maxrss)
	os.Exit(c.ProcessState.ExitCode())
}
