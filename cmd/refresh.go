package cmd

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/runner"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// maxRefreshAtOnce bounds the pods sending their refresh packet at once (exec sessions).
const maxRefreshAtOnce = 8

// withRefresh makes need send one packet from each source pod before the nodes are read, when
// --refresh or --probe asks for it: the MAC tables then hold the pods' entries, so a missing
// one is a fault rather than an idle pod.
func (p *ProbeOptions) withRefresh(need Need) Need {
	if (!p.Refresh && p.Probe == "") || p.PodExec == "" || (len(need.Pods) == 0 && !need.All) {
		return need
	}
	pods, targets := need.Pods, need.Targets
	need.Refresh = func(ctx context.Context, c *trace.Cluster) (map[string][]trace.PodRef, []string) {
		if len(pods) == 0 {
			// check's default matrix: its sources are known only now, one pod per node, to the nodes.
			pods, targets = defaultSources(c)
		}
		return p.refresh(ctx, c, pods, targets)
	}
	return need
}

// defaultSources are the sources of check's default matrix (the first running pod of each node,
// by namespace and name, as trace.Index picks them) and the nodes as targets.
func defaultSources(c *trace.Cluster) ([]trace.PodRef, []trace.Target) {
	ix := trace.NewIndex(&trace.Snapshot{Cluster: *c})
	var pods []trace.PodRef
	var targets []trace.Target
	for _, n := range c.Nodes {
		targets = append(targets, trace.Target{Kind: trace.TargetNode, Name: n.Name})
	}
	seen := map[string]bool{}
	for _, spec := range ix.DefaultChecks() {
		if !seen[spec.Source.String()] {
			seen[spec.Source.String()] = true
			pods = append(pods, spec.Source)
		}
	}
	return pods, targets
}

// refresh sends one ICMP echo with TTL 1 from each pod towards the first target it can address
// (`traceroute -I -m 1`, the tool --probe already needs): the first router, or an on-link
// destination, answers, so the pod's MAC and the router's are learned on the node. It returns
// the pods that sent, by node, and a warning for each that could not.
func (p *ProbeOptions) refresh(ctx context.Context, c *trace.Cluster, pods []trace.PodRef, targets []trace.Target) (map[string][]trace.PodRef, []string) {
	byRef := map[string]trace.Pod{}
	for _, pod := range c.Pods {
		byRef[pod.Namespace+"/"+pod.Name] = pod
	}
	dst := ""
	for _, t := range targets {
		if dst = targetIP(c, t); dst != "" {
			break
		}
	}
	out := map[string][]trace.PodRef{}
	var warns []string
	if dst == "" {
		return out, []string{"--refresh: no destination address known: the pods sent nothing, their MAC-table entries may have aged out"}
	}
	if _, err := probeAddr(dst); err != nil {
		return out, []string{fmt.Sprintf("--refresh: %v: the pods sent nothing, their MAC-table entries may have aged out", err)}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxRefreshAtOnce)
	for _, ref := range pods {
		pod, ok := byRef[ref.String()]
		if !ok || pod.HostNetwork || len(pod.IPs) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			err := p.sendOne(ctx, pod, dst)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				warns = append(warns, fmt.Sprintf("--refresh: pod %s sent no packet (%v): a missing MAC-table entry of it is not judged", ref, err))
				return
			}
			out[pod.Node] = append(out[pod.Node], ref)
		}()
	}
	wg.Wait()
	for _, refs := range out {
		sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	}
	sort.Strings(warns)
	return out, warns
}

// sendOne runs `traceroute -I -n -q 1 -w 1 -m 1 DST` in the pod through --pod-exec.
func (p *ProbeOptions) sendOne(ctx context.Context, pod trace.Pod, dst string) error {
	prefix, err := expandTemplate(p.PodExec, map[string]string{"namespace": pod.Namespace, "pod": pod.Name, "node": pod.Node, "podIP": pod.IPs[0]})
	if err != nil {
		return err
	}
	args := append(append([]string{}, prefix...), "traceroute", "-I", "-n", "-q", "1", "-w", "1", "-m", "1", dst)
	out, err := runner.Local{}.Run(ctx, runner.Node{}, args)
	if err != nil {
		return fmt.Errorf("%w: %s", err, oneLine(string(out)))
	}
	return nil
}

// targetIP is the address of a walk's destination from the API facts ("" when unknown).
func targetIP(c *trace.Cluster, t trace.Target) string {
	switch t.Kind {
	case trace.TargetIP:
		return t.IP
	case trace.TargetPod:
		for _, p := range c.Pods {
			if p.Namespace == t.Namespace && p.Name == t.Name && len(p.IPs) > 0 {
				return p.IPs[0]
			}
		}
	case trace.TargetNode:
		for _, n := range c.Nodes {
			if n.Name == t.Name || kube.NodeIP(n) == t.Name {
				return kube.NodeIP(n)
			}
		}
	}
	return ""
}
