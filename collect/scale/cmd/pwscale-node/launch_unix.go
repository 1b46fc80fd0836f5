//go:build linux || darwin

package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// launch runs argv and records its wall time, peak RSS and exit code.
func launch(result string, argv []string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "pwscale-node exec:", err)
		return 125
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = int64(ru.Maxrss)
		if runtime.GOOS == "darwin" {
			rss /= 1024 // bytes there
		}
	}
	code := cmd.ProcessState.ExitCode()
	if err := os.WriteFile(result, []byte(fmt.Sprintf("%d %d %d\n", wall.Nanoseconds(), rss, code)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "pwscale-node exec:", err)
		return 125
	}
	return code
}
