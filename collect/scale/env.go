package scale

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// nsxPassword is the test NSX Manager's admin password (passed to the tool as $NSX_PASSWORD).
const nsxPassword = "scale-password"

// Binaries are the programs a run executes: the tool and the emulated node.
type Binaries struct {
	Tool, Node string
}

// Build builds kubectl-packetwalk and pwscale-node into dir from the module at root.
func Build(ctx context.Context, root, dir string) (Binaries, error) {
	b := Binaries{Tool: filepath.Join(dir, "kubectl-packetwalk"), Node: filepath.Join(dir, "pwscale-node")}
	for _, x := range [][2]string{{b.Tool, "./cmd/kubectl-packetwalk"}, {b.Node, "./collect/scale/cmd/pwscale-node"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", x[0], x[1])
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", x[1], err, out)
		}
	}
	return b, nil
}

// Env is a generated cluster and fabric served by test servers, ready for runs.
type Env struct {
	Size    Size
	Latency time.Duration
	Bin     Binaries
	Dir     string

	Timeline *Timeline
	// Kube is the Kubernetes API the tool reads: the API test server, or a proxy to a real
	// kube-apiserver (KubeAPI says which).
	Kube interface {
		Kubeconfig() []byte
		Close()
	}
	KubeAPI string
	NSX     *nsxtest.Server
	Front   *NSXFront

	kubeconfig, caFile, nodeLog string
}

// RealAPI is a real kube-apiserver to serve a size from instead of the API test server.
type RealAPI struct {
	Config *rest.Config
	// Name says what it is, for the report.
	Name string
	// Stop stops it (the harness's own server).
	Stop func()
}

// Start generates the cluster and fabric of size z and starts the servers, each answering after
// latency; with real, the cluster is loaded into that kube-apiserver, which the tool reaches
// through a proxy that adds the latency. Close it.
func Start(z Size, latency time.Duration, bin Binaries, real *RealAPI) (*Env, error) {
	dir, err := os.MkdirTemp("", "packetwalk-scale-")
	if err != nil {
		return nil, err
	}
	e := &Env{Size: z, Latency: latency, Bin: bin, Dir: dir, Timeline: &Timeline{}}
	o := z.options()
	o.NodeState = func(int) bool { return false } // the emulated nodes print their own
	snap := scenario.Synthetic(o)
	if real != nil {
		cs, err := kubernetes.NewForConfig(real.Config)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		err = LoadCluster(ctx, cs, snap.Cluster, 16)
		cancel()
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("load the %s cluster into kube-apiserver: %w", z.Name, err)
		}
		proxy, err := NewKubeProxy(real.Config, latency, e.Timeline)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		e.Kube, e.KubeAPI = proxy, real.Name
	} else {
		e.Kube, e.KubeAPI = NewKubeServer(snap.Cluster, KubeOptions{Latency: latency, Timeline: e.Timeline}), "the API test server"
	}
	top := nsxtest.FromFabric(snap.Fabric)
	e.NSX = nsxtest.New(top, nsxtest.Options{Password: nsxPassword})
	e.Front = NewNSXFront(e.NSX, top, latency, e.Timeline)
	e.kubeconfig = filepath.Join(dir, "kubeconfig")
	e.caFile = filepath.Join(dir, "nsx-ca.pem")
	e.nodeLog = filepath.Join(dir, "node.log")
	if err := os.WriteFile(e.kubeconfig, e.Kube.Kubeconfig(), 0o600); err != nil {
		e.Close()
		return nil, err
	}
	if err := os.WriteFile(e.caFile, e.NSX.CertPEM(), 0o600); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close stops the servers and removes the directory.
func (e *Env) Close() {
	if e.Front != nil {
		e.Front.Close()
	}
	if e.NSX != nil {
		e.NSX.Close()
	}
	if e.Kube != nil {
		e.Kube.Close()
	}
	os.RemoveAll(e.Dir)
}

// NodeExec is the --node-exec template that reaches an emulated node.
func (e *Env) NodeExec() string {
	return fmt.Sprintf("%s -nodes=%d -pods-per-node=%d -namespaces=%d -latency=%s -log=%s {node}",
		e.Bin.Node, e.Size.Nodes, e.Size.PodsPerNode, e.Size.Namespaces, e.Latency, e.nodeLog)
}

// LiveFlags are the flags that point the tool at the servers.
func (e *Env) LiveFlags() []string {
	return []string{"--kubeconfig", e.kubeconfig, "--fabric", "nsx", "--nsx-manager", e.NSX.URL, "--nsx-ca-file", e.caFile,
		"--node-exec", e.NodeExec(), "--node-backend", "native"}
}

// Measure is what one run cost.
type Measure struct {
	Op       string
	Size     Size
	Wall     time.Duration
	Critical int
	// Requests and Bytes per source: kube, nsx, node.
	Requests map[string]int
	Bytes    map[string]int64
	// RSS is the peak resident set of the process (getrusage of its launcher), in bytes.
	RSS      int64
	ExitCode int
	// Calls are every call the run made, from every source.
	Calls  []Call
	Stdout []byte
	Stderr string
}

// Total is the number of requests of every source.
func (m Measure) Total() int {
	n := 0
	for _, v := range m.Requests {
		n += v
	}
	return n
}

// TotalBytes is the bytes read from every source.
func (m Measure) TotalBytes() int64 {
	var n int64
	for _, v := range m.Bytes {
		n += v
	}
	return n
}

// Run runs argv (the tool's binary when argv[0] is "", else argv[0]) with extra environment,
// and measures it: wall time, its requests on the timeline, peak RSS.
func (e *Env) Run(ctx context.Context, op string, argv []string, env ...string) (Measure, error) {
	e.Timeline.Reset()
	if err := os.WriteFile(e.nodeLog, nil, 0o644); err != nil {
		return Measure{}, err
	}
	bin := argv[0]
	if bin == "" {
		bin = e.Bin.Tool
	}
	// Through the launcher: a child of this (large) process would be charged with its RSS.
	result := filepath.Join(e.Dir, "launch.result")
	_ = os.Remove(result)
	cmd := exec.CommandContext(ctx, e.Bin.Node, append([]string{"exec", result, bin}, argv[1:]...)...)
	cmd.Env = append(append(os.Environ(), "NSX_PASSWORD="+nsxPassword), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	m := Measure{Op: op, Size: e.Size, Stdout: out.Bytes(), Stderr: errb.String()}
	b, rerr := os.ReadFile(result)
	var wall, rss int64
	if rerr != nil {
		return m, fmt.Errorf("%s: %w (launcher: %w)", op, err, rerr)
	}
	if _, err := fmt.Sscan(string(b), &wall, &rss, &m.ExitCode); err != nil {
		return m, fmt.Errorf("%s: launcher result %q: %w", op, b, err)
	}
	m.Wall, m.RSS = time.Duration(wall), rss*1024
	calls := e.Timeline.Calls()
	nodeCalls, err := readNodeLog(e.nodeLog)
	if err != nil {
		return m, err
	}
	calls = append(calls, nodeCalls...)
	m.Calls = calls
	m.Critical = CriticalPath(calls)
	m.Requests, m.Bytes = Totals(calls)
	return m, nil
}

func readNodeLog(path string) ([]Call, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Call
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) != 4 {
			continue
		}
		s, _ := strconv.ParseInt(w[0], 10, 64)
		en, _ := strconv.ParseInt(w[1], 10, 64)
		n, _ := strconv.ParseInt(w[2], 10, 64)
		out = append(out, Call{Source: "node", What: w[3], Start: time.Unix(0, s), End: time.Unix(0, en), Bytes: n})
	}
	return out, sc.Err()
}
