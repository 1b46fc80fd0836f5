// Command pwscale-node is an emulated node for the scale harness: run by kubectl-packetwalk's real
// --node-exec runner in place of `ssh NODE`, it waits the injected round-trip latency and prints
// what `kubectl-packetwalk collect node` prints on that generated node (scenario.SyntheticNodeSnapshot),
// and appends "START_NS END_NS BYTES NODE" to the -log file so the harness can place it on the
// run's timeline.
//
//	pwscale-node -nodes 5000 -pods-per-node 30 -namespaces 500 -latency 20ms -log FILE {node} [ARGV...]
//
// It is also the harness's launcher, so that a measured process's peak RSS is its own:
//
//	pwscale-node exec RESULT-FILE ARGV...
//
// runs ARGV with this process's streams and writes "WALL_NS MAXRSS_KIB EXIT_CODE" to RESULT-FILE.
// (Linux charges a child started by a large process with that process's RSS at exec, as the
// child shares its memory until then: the harness holds a whole generated cluster, the launcher
// a few MB.)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

func main() {
	if len(os.Args) > 3 && os.Args[1] == "exec" {
		os.Exit(launch(os.Args[2], os.Args[3:]))
	}
	start := time.Now()
	// Not scale.Size: that package links client-go, whose init alone costs an emulated node ~12 ms
	// of CPU, paid 1,050 times by a 1,000-pair check on the same cores as the tool.
	var z scenario.SyntheticOptions
	flag.IntVar(&z.Nodes, "nodes", 50, "nodes in the generated cluster")
	flag.IntVar(&z.PodsPerNode, "pods-per-node", 30, "pods per node")
	flag.IntVar(&z.Namespaces, "namespaces", 500, "namespaces")
	latency := flag.Duration("latency", 0, "round-trip latency to inject")
	logFile := flag.String("log", "", "append the call's timing to this file")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "pwscale-node: the node name is required")
		os.Exit(2)
	}
	name := flag.Arg(0)
	i, err := strconv.Atoi(strings.TrimPrefix(name, "node-"))
	if err != nil || !strings.HasPrefix(name, "node-") || i < 0 || i >= z.Nodes {
		fmt.Fprintf(os.Stderr, "pwscale-node: no generated node %q\n", name)
		os.Exit(1)
	}
	time.Sleep(*latency)
	var buf bytes.Buffer
	if err := trace.WriteSnapshot(&buf, scenario.SyntheticNodeSnapshot(z, i)); err != nil {
		fmt.Fprintln(os.Stderr, "pwscale-node:", err)
		os.Exit(1)
	}
	n, _ := os.Stdout.Write(buf.Bytes())
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			// One short write with O_APPEND: lines of concurrent nodes do not interleave.
			fmt.Fprintf(f, "%d %d %d %s\n", start.UnixNano(), time.Now().UnixNano(), n, name)
			f.Close()
		}
	}
}
