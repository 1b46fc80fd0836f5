package scale

import (
	"bytes"
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// NaiveConfig says where the baseline reads from (the same servers and runner as the tool).
type NaiveConfig struct {
	Kubeconfig, NSXManager, NSXCAFile, NodeExec string
	Request                                     trace.Request
}

// Naive is the baseline the tool is measured against: the naive way to walk, with the same
// clients. It lists every node and every pod (client-go, pages of 500), reads the whole fabric
// (every logical switch, logical port, router and router port, pages of 1,000, and each router's
// routes), collects the walk's two nodes through the same --node-exec runner, then joins it all
// with the same engine.
func Naive(ctx context.Context, c NaiveConfig) (*trace.Walk, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	snap := &trace.Snapshot{APIVersion: trace.APIVersion}
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := cs.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			snap.Cluster.Nodes = append(snap.Cluster.Nodes, kube.ConvertNode(&l.Items[i]))
		}
		if opts.Continue = l.Continue; opts.Continue == "" {
			break
		}
	}
	opts = metav1.ListOptions{Limit: 500}
	for {
		l, err := cs.CoreV1().Pods("").List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			snap.Cluster.Pods = append(snap.Cluster.Pods, kube.ConvertPod(&l.Items[i]))
		}
		if opts.Continue = l.Continue; opts.Continue == "" {
			break
		}
	}
	prov, err := nsx.New(nsx.Config{Manager: c.NSXManager, CAFile: c.NSXCAFile})
	if err != nil {
		return nil, err
	}
	if snap.Fabric, _, err = prov.Collect(ctx, fabric.Query{All: true}); err != nil {
		return nil, err
	}
	run, err := runner.NewTemplate(c.NodeExec)
	if err != nil {
		return nil, fmt.Errorf("node exec %w", err)
	}
	nodes := map[string]bool{}
	for _, p := range snap.Cluster.Pods {
		if (p.Namespace == c.Request.Source.Namespace && p.Name == c.Request.Source.Name) ||
			(c.Request.To.Kind == trace.TargetPod && p.Namespace == c.Request.To.Namespace && p.Name == c.Request.To.Name) {
			nodes[p.Node] = true
		}
	}
	if c.Request.To.Kind == trace.TargetNode {
		nodes[c.Request.To.Name] = true
	}
	for _, n := range snap.Cluster.Nodes {
		if !nodes[n.Name] {
			continue
		}
		out, err := run.Run(ctx, runner.Node{Name: n.Name, IP: kube.NodeIP(n)}, []string{"kubectl-packetwalk", "collect", "node", "--node-name", n.Name})
		if err != nil {
			return nil, err
		}
		ns, err := trace.ReadSnapshot(bytes.NewReader(out), n.Name)
		if err != nil {
			return nil, err
		}
		if len(ns.Nodes) != 1 {
			return nil, fmt.Errorf("node %s printed %d node states", n.Name, len(ns.Nodes))
		}
		snap.Nodes = append(snap.Nodes, ns.Nodes[0])
	}
	return trace.WalkSnapshot(snap, c.Request)
}
