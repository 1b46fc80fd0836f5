//go:build !unix

package runner

import "os/exec"

// ownProcessGroup: no process groups here; cancelling kills cmd itself (exec's default).
func ownProcessGroup(*exec.Cmd) {}
