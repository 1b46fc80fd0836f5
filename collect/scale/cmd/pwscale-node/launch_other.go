//go:build !linux && !darwin

package main

import (
	"fmt"
	"os"
)

// launch is not available here: the harness measures RSS through getrusage.
func launch(string, []string) int {
	fmt.Fprintln(os.Stderr, "pwscale-node exec: not supported on this system")
	return 125
}
