package cmd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/live"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// liveHooks let tests count API requests and pin the clock.
var liveHooks struct {
	wrapTransport func(rt http.RoundTripper) http.RoundTripper
	now           func() time.Time
	// afterKube runs between the API reads and the node and fabric reads (a pod deleted mid-walk).
	afterKube func()
}

// restConfig builds the client config from the kubectl flags (--kubeconfig, --context, ...;
// in a pod, the in-cluster config) with one clear error when there is none.
func restConfig(g *GlobalOptions) (*rest.Config, error) {
	if noKubeconfig(g) {
		return nil, factsErr(errors.New(noKubeconfigMsg))
	}
	cfg, err := g.ConfigFlags.ToRESTConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) || errors.Is(err, clientcmd.ErrEmptyConfig) {
			return nil, factsErr(errors.New(noKubeconfigMsg))
		}
		return nil, factsErr(fmt.Errorf("kubeconfig: %w", err))
	}
	cfg.UserAgent = "kubectl-packetwalk"
	if liveHooks.wrapTransport != nil {
		cfg.Wrap(liveHooks.wrapTransport)
	}
	return cfg, nil
}

// defaultRequestTimeout bounds one API read when --request-timeout is not given (a var for tests).
var defaultRequestTimeout = 30 * time.Second

const noKubeconfigMsg = "no kubeconfig: set KUBECONFIG or pass --kubeconfig (or run in a pod with a service account), or read a snapshot with --snapshot FILE"

// noKubeconfig: no cluster in any kubeconfig, no --server, not in a pod. client-go would quietly
// fall back to http://localhost:8080 and fail with a confusing "connection refused".
func noKubeconfig(g *GlobalOptions) bool {
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return false
	}
	if g.ConfigFlags.Overrides.ClusterInfo.Server != "" {
		return false
	}
	raw, err := g.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
	return err == nil && len(raw.Clusters) == 0
}

func liveNow() time.Time {
	if liveHooks.now != nil {
		return liveHooks.now()
	}
	return time.Now().UTC()
}

// gatherLive turns the flags into a live.Config and collects from the live cluster.
func gatherLive(ctx context.Context, g *GlobalOptions, f *FactOptions, need Need) (*trace.Snapshot, []string, error) {
	prov, err := f.fabricProvider(g)
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	nodes, err := f.nodes(g)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := g.kubeConfig()
	if err != nil {
		return nil, nil, err
	}
	snap, err := live.Collect(ctx, live.Config{
		REST:           cfg,
		RequestTimeout: defaultRequestTimeout,
		Fabric:         prov,
		FabricTimeout:  f.fabricTimeout(),
		Nodes:          nodes,
		Hosts:          hostRunner(f.HostExec),
		Hints:          liveHints,
		Now:            liveNow,
		AfterKube:      liveHooks.afterKube,
	}, need)
	if err != nil {
		if kube.IsNotFound(err) {
			// A pod, namespace or node the user named wrong: a usage error, as from a snapshot.
			return nil, nil, &ExitError{Code: ExitUsage, Err: err}
		}
		return nil, nil, factsErr(err)
	}
	return snap, joinWarnings(snap), nil
}

// hostRunner is --host-exec's runner, nil without it (Validate checked the template).
func hostRunner(tmpl string) runner.Runner {
	if tmpl == "" {
		return nil
	}
	t, err := runner.NewHostTemplate(tmpl)
	if err != nil {
		return nil
	}
	t.Label = "--host-exec"
	return t
}

// liveHints name the flags that change what a collection's messages report.
var liveHints = live.Hints{
	Unreachable: "reach the node with --node-exec, --node-agent or --node-debug-image",
	NodeTimeout: "--node-timeout",
	Kube: kube.Hints{
		Credentials: "check --kubeconfig/--context/--user",
		Timeout:     "raise --request-timeout",
		Reach:       "check --kubeconfig/--context and the network, or use --snapshot FILE",
	},
}
