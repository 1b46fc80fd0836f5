package cmd

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// completionNames lists pod names (in ns) and node names for shell completion: from --snapshot
// when given, else from the cluster (one list of each, bounded, with a short timeout).
func completionNames(c *cobra.Command, g *GlobalOptions, ns string) (pods []string, nodes []string) {
	if f := c.Flags().Lookup("snapshot"); f != nil && f.Value.String() != "" {
		s, err := LoadSnapshotFile(f.Value.String())
		if err != nil {
			return nil, nil
		}
		for _, p := range s.Cluster.Pods {
			if p.Namespace == ns && !p.HostNetwork {
				pods = append(pods, p.Name)
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
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if pl, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{Limit: 500}); err == nil {
		for _, p := range pl.Items {
			if !p.Spec.HostNetwork {
				pods = append(pods, p.Name)
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

func completePod(g *GlobalOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		pods, _ := completionNames(c, g, g.namespace())
		return filterPrefix(pods, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func completeTarget(g *GlobalOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		ns := g.namespace()
		pods, nodes := completionNames(c, g, ns)
		var out []string
		for _, n := range nodes {
			out = append(out, "node/"+n)
		}
		for _, p := range pods {
			out = append(out, "pod/"+ns+"/"+p)
		}
		return filterPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func completeNode(g *GlobalOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		_, nodes := completionNames(c, g, g.namespace())
		return filterPrefix(nodes, toComplete), cobra.ShellCompDirectiveNoFileComp
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
