package cmd

import (
	"strings"
	"testing"
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
