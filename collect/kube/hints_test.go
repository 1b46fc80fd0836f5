package kube_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/packetwalk/kubectl-packetwalk/collect/kube"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubeclient"
	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// An API server that cannot be reached is one line that says what to check, in the caller's words
// when it gives them (the CLI names its flags) and in plain words otherwise.
func TestUnreachableWordedByHints(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := "http://" + l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	api, err := kubeclient.NewForConfig(&rest.Config{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	q := kube.Query{Pods: []trace.PodRef{{Namespace: "a", Name: "p"}}}
	for _, tc := range []struct {
		name  string
		hints kube.Hints
		want  string
	}{
		{"plain", kube.Hints{}, "(check the kubeconfig's context and the network)"},
		{"cli", kube.Hints{Reach: "check --kubeconfig"}, "(check --kubeconfig)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kube.New(api, host).WithHints(tc.hints).Collect(context.Background(), q)
			if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the Kubernetes API server at "+host) || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("got %v, want one line ending %q", err, tc.want)
			}
		})
	}
}
