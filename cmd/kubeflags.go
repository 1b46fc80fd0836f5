package cmd

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/homedir"
)

// KubeFlags are kubectl's client flags (--kubeconfig, --context, -n, -s, ...), with kubectl's names,
// defaults and help: client-go's clientcmd override flags, as cli-runtime's
// genericclioptions.ConfigFlags registers them, without the discovery, REST mapper and kustomize
// it links in (a sixth of the binary and most of its start-up), which the plugin never uses.
type KubeFlags struct {
	KubeConfig string
	CacheDir   string
	// Overrides are the flags' values over the kubeconfig's (-s is Overrides.ClusterInfo.Server,
	// -n Overrides.Context.Namespace).
	Overrides clientcmd.ConfigOverrides

	// loader is made at the first ToRawKubeConfigLoader, after the flags are parsed, and kept (as
	// cli-runtime's ConfigFlags keeps it): it reads the kubeconfig once for -n's default, the
	// no-kubeconfig check and the client config, not once each.
	mu     sync.Mutex
	loader clientcmd.ClientConfig
}

// NewKubeFlags returns the flags with kubectl's defaults.
func NewKubeFlags() *KubeFlags {
	cacheDir := os.Getenv("KUBECACHEDIR")
	if cacheDir == "" {
		cacheDir = filepath.Join(homedir.HomeDir(), ".kube", "cache")
	}
	return &KubeFlags{CacheDir: cacheDir, Overrides: clientcmd.ConfigOverrides{ClusterDefaults: clientcmd.ClusterDefaults}}
}

// AddFlags registers the flags as kubectl does (the same names, shorthands and help).
func (f *KubeFlags) AddFlags(flags *pflag.FlagSet) {
	flags.StringVar(&f.KubeConfig, "kubeconfig", f.KubeConfig, "Path to the kubeconfig file to use for CLI requests.")
	flags.StringVar(&f.CacheDir, "cache-dir", f.CacheDir, "Default cache directory")
	names := clientcmd.RecommendedConfigOverrideFlags("")
	// kubectl has no --username, --password or --proxy-url, its -n keeps a value as given
	// (clientcmd's strips "ns/") and --server is -s; where their help differs, kubectl's words.
	names.AuthOverrideFlags.Username.LongName, names.AuthOverrideFlags.Password.LongName = "", ""
	names.ClusterOverrideFlags.ProxyURL.LongName, names.ContextOverrideFlags.Namespace.LongName = "", ""
	names.ClusterOverrideFlags.APIServer.ShortName = "s"
	names.AuthOverrideFlags.Impersonate.Description = "Username to impersonate for the operation. User could be a regular user or a service account in a namespace."
	names.AuthOverrideFlags.ImpersonateUID.Description = "UID to impersonate for the operation."
	names.ClusterOverrideFlags.TLSServerName.Description = "Server name to use for server certificate validation. If it is not provided, the hostname used to contact the server is used"
	clientcmd.BindOverrideFlags(&f.Overrides, flags, names)
	flags.StringVarP(&f.Overrides.Context.Namespace, "namespace", "n", "", "If present, the namespace scope for this CLI request")
}

// ToRESTConfig is the client config of the kubeconfig with the flags applied.
func (f *KubeFlags) ToRESTConfig() (*rest.Config, error) {
	return f.ToRawKubeConfigLoader().ClientConfig()
}

// ToRawKubeConfigLoader loads the kubeconfig (KUBECONFIG, --kubeconfig, ~/.kube/config, in a pod
// the service account) with the flags as overrides, as kubectl does; the same loader each call.
func (f *KubeFlags) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loader != nil {
		return f.loader
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.DefaultClientConfig = &clientcmd.DefaultClientConfig
	rules.ExplicitPath = f.KubeConfig
	o := f.Overrides
	f.loader = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &o)
	return f.loader
}
