package cmd

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// completionNames lists pods as NS/NAME (in ns, or every namespace when ns is "") and node names
// for shell completion: from --snapshot when given, else from the cluster (one list of each,
// bounded, with a short timeout).
func completionNames(c *cobra.Command, g *GlobalOptions, ns string) (pods []string, nodes []string) {
	if f := c.Flags().Lookup("snapshot"); f != nil && f.Value.String() != "" {
		s, err := LoadSnapshotFile(f.Value.String())
		if err != nil {
			return nil, nil
		}
		for _, p := range s.Cluster.Pods {
			if (ns == "" || p.Namespace == ns) && !p.HostNetwork {
				pods = append(pods, p.Namespace+"/"+p.Name)
			}
		}
		for _, n := range s.Cluster.Nodes {
			nodes = append(nodes, n.Name)
		}
		sort.Strings(pods)
		sort.Strings(nodes)
		return pods, nodes
	}
	cfg, err := g.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, nil
	}
	cfg.Timeout = 3 * time.Second
	cs, err := kubeclient.NewForConfig(cfg)
	if err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if pl, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{Limit: 500}); err == nil {
		for _, p := range pl.Items {
			if !p.Spec.HostNetwork {
				pods = append(pods, p.Namespace+"/"+p.Name)
			}
		}
	}
	if nl, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 500}); err == nil {
		for _, n := range nl.Items {
			nodes = append(nodes, n.Name)
		}
	}
	sort.Strings(pods)
	sort.Strings(nodes)
	return pods, nodes
}

// completePod completes POD (and check --from): the pods of -n by name, and NS/NAME of every
// namespace once a slash is typed (or when -n holds no match).
func completePod(g *GlobalOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		typed := strings.TrimPrefix(toComplete, "pod/")
		prefix := strings.TrimSuffix(toComplete, typed)
		if !strings.Contains(typed, "/") {
			ns := g.namespace()
			pods, _ := completionNames(c, g, ns)
			var names []string
			for _, p := range pods {
				names = append(names, prefix+strings.TrimPrefix(p, ns+"/"))
			}
			if out := filterPrefix(names, toComplete); len(out) > 0 {
				return out, cobra.ShellCompDirectiveNoFileComp
			}
		}
		pods, _ := completionNames(c, g, namespaceOf(typed))
		for i := range pods {
			pods[i] = prefix + pods[i]
		}
		return filterPrefix(pods, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// namespaceOf is the namespace typed so far in NS/NAME ("" until the slash: every namespace).
func namespaceOf(typed string) string {
	if ns, _, ok := strings.Cut(typed, "/"); ok {
		return ns
	}
	return ""
}

// targets lists --to values: node/NAME for every node, pod/NS/NAME for the pods of the namespace
// typed after pod/ (every namespace until its slash).
func targets(c *cobra.Command, g *GlobalOptions, toComplete string) []string {
	ns := ""
	if rest, ok := strings.CutPrefix(toComplete, "pod/"); ok {
		ns = namespaceOf(rest)
	}
	pods, nodes := completionNames(c, g, ns)
	var out []string
	for _, n := range nodes {
		out = append(out, "node/"+n)
	}
	for _, p := range pods {
		out = append(out, "pod/"+p)
	}
	return out
}

func completeTarget(g *GlobalOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return filterPrefix(targets(c, g, toComplete), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeCheckTargets completes check --to: a comma-separated list of nodes, pods and targets.
func completeCheckTargets(g *GlobalOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		done, last := "", toComplete
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			done, last = toComplete[:i+1], toComplete[i+1:]
		}
		var out []string
		for _, t := range filterPrefix(append([]string{"nodes", "pods"}, targets(c, g, last)...), last) {
			out = append(out, done+t)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func completeNode(g *GlobalOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		_, nodes := completionNames(c, g, g.namespace())
		return filterPrefix(nodes, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// fixedCompletion offers a fixed list of values and no file names.
func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return filterPrefix(values, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func filterPrefix(xs []string, p string) []string {
	var out []string
	for _, x := range xs {
		if strings.HasPrefix(x, p) {
			out = append(out, x)
		}
	}
	return out
}
