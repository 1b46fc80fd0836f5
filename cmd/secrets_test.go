package cmd

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric/nsx/nsxtest"
	"github.com/packetwalk/kubectl-packetwalk/collect/kube/kubetest"
)

// TestSecretsNeverLeak runs the commands with a known NSX password and Kubernetes bearer tokens,
// on success and failure paths, and looks for them (and their base64 forms) in stdout, stderr,
// every snapshot written (directory and .tar.gz) and every JUnit file.
func TestSecretsNeverLeak(t *testing.T) {
	srv := kubetest.Get(t)
	publishedCluster(t, srv)
	const wrongPassword = "wrong-NSX-pw-91d2"
	secrets := []string{nsxPassword, wrongPassword, kubetest.AdminToken, kubetest.NobodyToken}
	for _, s := range []string{nsxPassword, wrongPassword} {
		secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte("admin:"+s)), base64.StdEncoding.EncodeToString([]byte(s)))
	}
	for _, s := range []string{kubetest.AdminToken, kubetest.NobodyToken} {
		secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(s)))
	}
	dir := t.TempDir()
	down := writeKubeconfig(t, closedPort(t), kubetest.AdminToken)
	var seen []string // every output and file, for the leak check

	for _, tc := range []struct {
		name       string
		kubeconfig string
		env        string
		fault      bool
		args       []string
	}{
		{name: "trace json", args: append(append([]string{}, kubeDNSToNode4...), "-o", "json")},
		{name: "trace yaml", args: append(append([]string{}, kubeDNSToNode4...), "-o", "yaml")},
		{name: "trace wide", args: append(append([]string{}, kubeDNSToNode4...), "-o", "wide")},
		{name: "collect dir", args: []string{"collect", "cluster", "--pod", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--output", filepath.Join(dir, "bundle")}},
		{name: "collect tgz", args: []string{"collect", "cluster", "--pod", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--output", filepath.Join(dir, "b.tar.gz")}},
		{name: "check junit", args: []string{"check", "--from", "kube-system/kube-dns", "--to", "node/172.15.0.4", "-o", "json", "--junit", filepath.Join(dir, "ok.xml")}},
		{name: "macs", args: []string{"macs", "--node", "172.15.0.3"}},
		{name: "wrong NSX password", env: wrongPassword, args: append(append([]string{}, kubeDNSToNode4...), "-o", "json")},
		{name: "wrong NSX password, check", env: wrongPassword, args: []string{"check", "--from", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--junit", filepath.Join(dir, "badpw.xml")}},
		{name: "NSX failing", fault: true, args: []string{"check", "--from", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--junit", filepath.Join(dir, "nsx500.xml")}},
		{name: "RBAC forbidden", args: append(append([]string{}, kubeDNSToNode4...), "--context", "nobody")},
		{name: "RBAC forbidden, check", args: []string{"check", "--context", "nobody", "--from", "kube-system/kube-dns", "--to", "node/172.15.0.4", "--junit", filepath.Join(dir, "rbac.xml")}},
		{name: "API server down", kubeconfig: down, args: kubeDNSToNode4},
		{name: "API server down, collect", kubeconfig: down, args: []string{"collect", "cluster", "--node", "172.15.0.3", "--output", filepath.Join(dir, "down")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, flags := nsxServer(t)
			if tc.env != "" {
				t.Setenv("NSX_PASSWORD", tc.env)
			}
			if tc.fault {
				s.Inject("/api/v1/", 1000, nsxtest.Fault{Status: http.StatusInternalServerError})
			}
			kc := tc.kubeconfig
			if kc == "" {
				kc = srv.Kubeconfig
			}
			r := runCtx(t, context.Background(), kc, append(tc.args, flags...)...)
			seen = append(seen, tc.name+" stdout\x00"+r.out, tc.name+" stderr\x00"+r.err)
		})
	}
	// Every file the commands wrote, archives opened.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, p+"\x00"+string(b))
		if strings.HasSuffix(p, ".tar.gz") {
			zr, err := gzip.NewReader(strings.NewReader(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(zr)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				c, _ := io.ReadAll(tr)
				seen = append(seen, p+":"+h.Name+"\x00"+string(c))
			}
		}
		return nil
	})
	var files int
	for _, x := range seen {
		name, text, _ := strings.Cut(x, "\x00")
		if strings.HasPrefix(name, dir) {
			files++
		}
		for _, sec := range secrets {
			if strings.Contains(text, sec) {
				t.Errorf("%s holds the secret %q:\n%s", name, sec, text)
			}
		}
	}
	// The runs did write what is checked: snapshots (dir and tar.gz) and three JUnit files.
	if files < 6 {
		t.Errorf("only %d files written under %s", files, dir)
	}
}
