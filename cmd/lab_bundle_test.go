package cmd_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// testBundle: a support bundle of two nodes holds every fact a walk among their pods and the two
// nodes needs, so each walk from the bundle is the live walk, hop by hop; --all-nodes bundles the
// whole cluster with a progress line.
func testBundle(t *testing.T, l *e2eLab) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "two.tar.gz")
	r := l.pw(append([]string{"collect", "cluster", "--node", "172.15.0.3", "--node", "172.15.0.4", "--output", bundle}, l.live("native")...)...)
	if r.code != 0 {
		t.Fatalf("collect cluster: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "collect cluster: 2/2 nodes read") {
		t.Errorf("collect cluster printed no progress line:\n%s", r.stderr)
	}
	in := map[string]bool{"172.15.0.3": true, "172.15.0.4": true}
	var pairs [][2]string
	pods := map[string]e2ePod{}
	for _, p := range l.facts.Pods {
		if !in[p.Node] {
			continue
		}
		pods[p.ref()] = p
		for n := range in {
			pairs = append(pairs, [2]string{p.ref(), "node/" + n})
		}
		for _, q := range l.facts.Pods {
			if in[q.Node] && q.Namespace != p.Namespace {
				pairs = append(pairs, [2]string{p.ref(), "pod/" + q.ref()})
			}
		}
	}
	compare := func(bundle string, pairs [][2]string) {
		parallel(len(pairs), 3, func(i int) {
			p := pairs[i]
			live, lr := l.walk(t, "native", pods[p[0]], p[1])
			br := l.pw("trace", p[0], "--to", p[1], "--snapshot", bundle, "-o", "json")
			var fromBundle trace.Walk
			if err := json.Unmarshal([]byte(br.stdout), &fromBundle); err != nil {
				t.Errorf("%s -> %s from %s: exit %d, no walk: %v\n%s", p[0], p[1], filepath.Base(bundle), br.code, err, br.stderr)
				return
			}
			if lr.code != br.code || live.Verdict != fromBundle.Verdict || live.Reason != fromBundle.Reason ||
				hopsWithoutEvidence(live) != hopsWithoutEvidence(&fromBundle) {
				t.Errorf("%s -> %s: the walk from %s differs from the live one (exit %d/%d, %s/%s %q/%q):\nlive:   %s\nbundle: %s",
					p[0], p[1], filepath.Base(bundle), lr.code, br.code, live.Verdict, fromBundle.Verdict, live.Reason, fromBundle.Reason,
					hopsWithoutEvidence(live), hopsWithoutEvidence(&fromBundle))
			}
		})
	}
	compare(bundle, pairs)

	all := filepath.Join(dir, "all.tar.gz")
	r = l.pw(append([]string{"collect", "cluster", "--all-nodes", "--parallel", "2", "--output", all}, l.live("agentless")...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "collect cluster: 3/3 nodes read") || !strings.Contains(r.stderr, "at 2 at once") {
		t.Fatalf("collect cluster --all-nodes: exit %d, want a progress line per node with an estimate\n%s", r.code, r.stderr)
	}
	for _, p := range l.facts.Pods {
		pods[p.ref()] = p
	}
	var allPairs [][2]string
	for _, p := range l.facts.Pods {
		allPairs = append(allPairs, [2]string{p.ref(), "node/172.15.0.5"})
	}
	compare(all, allPairs)
}
