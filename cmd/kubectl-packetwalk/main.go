// Command kubectl-packetwalk shows the path a packet takes from a pod to a node, a pod or an IP,
// hop by hop across every layer. Installed on PATH it runs as `kubectl packetwalk`.
package main

import (
	"os"

	"github.com/packetwalk/kubectl-packetwalk/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args[1:], cmd.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
