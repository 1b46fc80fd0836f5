package cmd

import (
	"os"
	"path/filepath"
	"testing"
)

// TestKubeconfigReadOnce: a command reads the kubeconfig once, for -n's default, the
// no-kubeconfig check and the client config alike (the file gone after the first read changes
// nothing).
func TestKubeconfigReadOnce(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kubeconfig := `apiVersion: v1
kind: Config
clusters:
- cluster: {server: "https://10.0.0.1:6443"}
  name: lab
contexts:
- context: {cluster: lab, user: admin, namespace: from-file}
  name: lab
current-context: lab
users:
- name: admin
  user: {token: t}
`
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	f := NewKubeFlags()
	f.KubeConfig = path
	g := &GlobalOptions{ConfigFlags: f}
	if ns := g.namespace(); ns != "from-file" {
		t.Fatalf("namespace %q, want the kubeconfig's from-file", ns)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	cfg, err := restConfig(g)
	if err != nil || cfg.Host != "https://10.0.0.1:6443" {
		t.Fatalf("client config %+v, %v: want the kubeconfig read for -n's default", cfg, err)
	}
}
