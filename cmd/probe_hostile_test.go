package cmd

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// TestPodExecRefusesHostileValues: --pod-exec values come from the API server and may reach a
// remote shell (ssh {node} ...): a value that is not a Kubernetes name or an IP is refused.
func TestPodExecRefusesHostileValues(t *testing.T) {
	tmpl := "ssh {node} ip netns exec pod-{namespace}-{pod} --ip {podIP}"
	ok := map[string]string{"namespace": "kube-system", "pod": "kube-dns", "node": "w1.example", "podIP": "10.0.0.2"}
	if got, err := expandTemplate(tmpl, ok); err != nil || strings.Join(got, " ") != "ssh w1.example ip netns exec pod-kube-system-kube-dns --ip 10.0.0.2" {
		t.Fatalf("expandTemplate = %q, %v", got, err)
	}
	for key, bad := range map[string]string{"pod": "x;touch pwned", "node": "$(id)", "namespace": "-oProxyCommand=x", "podIP": "fe80::1%x;id"} {
		vars := map[string]string{}
		for k, v := range ok {
			vars[k] = v
		}
		vars[key] = bad
		if _, err := expandTemplate(tmpl, vars); err == nil || !strings.HasPrefix(err.Error(), "--pod-exec") {
			t.Errorf("%s=%q: %v, want it refused", key, bad, err)
		}
	}
}

// TestProbeRefusesHostileDestination: the walk's destination also goes on the --pod-exec command
// line (traceroute DST, nc DST PORT, ping DST): one that is not an address, or carries an IPv6
// zone (free text), is never run.
func TestProbeRefusesHostileDestination(t *testing.T) {
	for _, dst := range []string{"10.0.0.2;touch pwned", "fe80::1%x;touch pwned"} {
		want := "destination " + strconv.Quote(dst) + " is not an address"
		// The prefix would run the probe if it got that far: "true" exits 0 whatever follows.
		w := &trace.Walk{Destination: trace.Endpoint{IP: dst}}
		for _, kind := range []string{"icmp", "tcp:80"} {
			if res := runProbe(context.Background(), kind, []string{"true"}, w); res.Error != want || res.Reached || res.Output != "" {
				t.Errorf("%s to %s: %+v, want it refused before running", kind, dst, res)
			}
		}
		if res := runPMTUProbe(context.Background(), []string{"true"}, w, 1500); res.Error != want || res.Reached || res.Output != "" {
			t.Errorf("PMTU probe to %s: %+v, want it refused before running", dst, res)
		}
	}
}
