// Package kubetest runs a real etcd and kube-apiserver on loopback for tests: no kubelet, no
// controller-manager, so pods are created with spec.nodeName and their IPs set through the status
// subresource. One server is shared by all tests of a package: start it lazily with Get from the
// tests and stop it with Main from TestMain.
//
// The binaries come from testdata/kube/build.sh (kube-apiserver v1.34.4 and etcd v3.6.5 built from
// the Go module proxy into ${PW_CACHE:-/var/cache/packetwalk}/bin); PATH is searched as well.
package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
)

// Tokens the server accepts (--token-auth-file).
const (
	// AdminToken authenticates as "admin" in system:masters.
	AdminToken = "packetwalk-admin-token"
	// NobodyToken authenticates as "nobody", who has no RBAC rights at all.
	NobodyToken = "packetwalk-nobody-token"
)

// howTo says how to get the binaries.
const howTo = "build kube-apiserver and etcd once with testdata/kube/build.sh (about 5 min; cached in ${PW_CACHE:-/var/cache/packetwalk}/bin)"

// Server is a running etcd + kube-apiserver.
type Server struct {
	// Dir holds the data, certificates, tokens and kubeconfig; removed by Stop.
	Dir string
	// URL is the API server's https URL on 127.0.0.1.
	URL string
	// Kubeconfig is a kubeconfig file for AdminToken (context "admin") and NobodyToken (context "nobody").
	Kubeconfig string

	procs []*exec.Cmd
}

// Binaries returns the paths of kube-apiserver and etcd, or an error saying how to build them.
func Binaries() (apiserver, etcd string, err error) {
	dirs := []string{}
	if d := os.Getenv("PW_KUBE_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	cache := os.Getenv("PW_CACHE")
	if cache == "" {
		cache = "/var/cache/packetwalk"
	}
	dirs = append(dirs, filepath.Join(cache, "bin"))
	find := func(name string) string {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
				return p
			}
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		return ""
	}
	apiserver, etcd = find("kube-apiserver"), find("etcd")
	if apiserver == "" || etcd == "" {
		return "", "", fmt.Errorf("kube-apiserver or etcd not found in %v or PATH", dirs)
	}
	return apiserver, etcd, nil
}

// Start starts etcd and kube-apiserver in a new directory under os.TempDir and waits until the API
// server is ready. Stop it with Stop.
func Start(ctx context.Context) (*Server, error) {
	apiserverBin, etcdBin, err := Binaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "packetwalk-kube-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	if err := s.spawn(etcdBin, "etcd.log",
		"--name=packetwalk", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=packetwalk="+peerURL,
		"--listen-metrics-urls=", "--log-level=warn",
		// Test data only: skipping fsync makes bulk loads (thousands of objects) several times faster.
		"--unsafe-no-fsync",
	); err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "sa.key")
	if err := writeRSAKey(keyFile); err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	tokenCSV := AdminToken + ",admin,admin-uid,system:masters\n" + NobodyToken + ",nobody,nobody-uid\n"
	if err := os.WriteFile(tokens, []byte(tokenCSV), 0o600); err != nil {
		return nil, err
	}
	port := ports[2]
	s.URL = "https://127.0.0.1:" + strconv.Itoa(port)
	if err := s.spawn(apiserverBin, "kube-apiserver.log",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+tokens, "--authorization-mode=RBAC", "--anonymous-auth=false",
		// No controller-manager mints service-account tokens and no kubelet reports endpoints.
		"--disable-admission-plugins=ServiceAccount", "--endpoint-reconciler-type=none",
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file="+keyFile,
		"--service-account-signing-key-file="+keyFile, "--service-cluster-ip-range=10.96.0.0/16",
		// The debug-pod runner creates privileged host-network pods.
		"--allow-privileged=true", "--profiling=false", "--enable-logs-handler=false",
		// Bulk loads send thousands of concurrent writes; the test server should not shed them.
		"--max-requests-inflight=2000", "--max-mutating-requests-inflight=1000",
	); err != nil {
		return nil, err
	}
	if err := s.writeKubeconfig(); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx, 90*time.Second); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// spawn starts a process in its own process group with output to a log file in s.Dir.
func (s *Server) spawn(bin, log string, args ...string) error {
	f, err := os.Create(filepath.Join(s.Dir, log))
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = s.Dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	s.procs = append(s.procs, cmd)
	return os.WriteFile(filepath.Join(s.Dir, filepath.Base(bin)+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

// Stop kills the processes this server started (by pid, in reverse order) and removes its directory.
func (s *Server) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		_ = p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	s.procs = nil
	if s.Dir != "" && os.Getenv("PW_KEEP_KUBE") == "" {
		_ = os.RemoveAll(s.Dir)
	}
}

// Logs returns the tail of the API server's log, for failure messages.
func (s *Server) Logs() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "kube-apiserver.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	e, _ := os.ReadFile(filepath.Join(s.Dir, "etcd.log"))
	if len(e) > 2000 {
		e = e[len(e)-2000:]
	}
	return "kube-apiserver.log:\n" + string(b) + "\netcd.log:\n" + string(e)
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var last string
	for {
		for _, p := range s.procs {
			if p.ProcessState != nil || (p.Process != nil && p.Process.Signal(syscall.Signal(0)) != nil) {
				return fmt.Errorf("%s exited before the API server was ready\n%s", p.Path, s.Logs())
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		resp, err := hc.Do(req)
		if err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("readyz %d: %s", resp.StatusCode, b.String())
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %s (%s)\n%s", timeout, last, s.Logs())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) writeKubeconfig() error {
	c := clientcmdapi.NewConfig()
	c.Clusters["packetwalk"] = &clientcmdapi.Cluster{Server: s.URL, InsecureSkipTLSVerify: true}
	c.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: AdminToken}
	c.AuthInfos["nobody"] = &clientcmdapi.AuthInfo{Token: NobodyToken}
	c.Contexts["admin"] = &clientcmdapi.Context{Cluster: "packetwalk", AuthInfo: "admin", Namespace: "default"}
	c.Contexts["nobody"] = &clientcmdapi.Context{Cluster: "packetwalk", AuthInfo: "nobody", Namespace: "default"}
	c.CurrentContext = "admin"
	s.Kubeconfig = filepath.Join(s.Dir, "kubeconfig")
	return clientcmd.WriteToFile(*c, s.Kubeconfig)
}

// Config returns a rest.Config for the admin user without client-side rate limits.
func (s *Server) Config() *rest.Config {
	return &rest.Config{
		Host:            s.URL,
		BearerToken:     AdminToken,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             -1,
		Timeout:         60 * time.Second,
	}
}

// Client returns an admin clientset.
func (s *Server) Client() kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(s.Config())
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func writeRSAKey(path string) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	return os.WriteFile(path, b, 0o600)
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	sharedMu   sync.Mutex
)

// Get returns the package's shared server, starting it on first use. Without the binaries it fails
// the test in CI and skips it elsewhere, saying how to build them; under -short it skips.
func Get(t testing.TB) *Server {
	t.Helper()
	labtest.SkipShort(t, "kube-apiserver")
	if _, _, err := Binaries(); err != nil {
		labtest.Unavailable(t, "kube-apiserver", howTo)
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	sharedOnce.Do(func() {
		shared, sharedErr = Start(context.Background())
	})
	if sharedErr != nil {
		t.Fatalf("start kube-apiserver: %v", sharedErr)
	}
	return shared
}

// Main runs the tests and stops the shared server if a test started it. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
	return code
}
