package cmd

import (
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/homedir"
)

// KubeFlags are kubectl's client flags (--kubeconfig, --context, -n, -s, ...), with kubectl's names,
// defaults and help. They are cli-runtime's genericclioptions.ConfigFlags without the discovery,
// REST mapper and kustomize it links in (a sixth of the binary and most of its start-up), which
// the plugin never uses.
type KubeFlags struct {
	CacheDir   *string
	KubeConfig *string

	ClusterName        *string
	AuthInfoName       *string
	Context            *string
	Namespace          *string
	APIServer          *string
	TLSServerName      *string
	Insecure           *bool
	CertFile           *string
	KeyFile            *string
	CAFile             *string
	BearerToken        *string
	Impersonate        *string
	ImpersonateUID     *string
	ImpersonateGroup   *[]string
	Username           *string
	Password           *string
	Timeout            *string
	DisableCompression *bool
}

// NewKubeFlags returns the flags with kubectl's defaults.
func NewKubeFlags() *KubeFlags {
	s := func(v string) *string { return &v }
	group := []string{}
	insecure, noCompression := false, false
	cacheDir := os.Getenv("KUBECACHEDIR")
	if cacheDir == "" {
		cacheDir = filepath.Join(homedir.HomeDir(), ".kube", "cache")
	}
	return &KubeFlags{
		CacheDir: &cacheDir, KubeConfig: s(""),
		ClusterName: s(""), AuthInfoName: s(""), Context: s(""), Namespace: s(""), APIServer: s(""),
		TLSServerName: s(""), Insecure: &insecure, CertFile: s(""), KeyFile: s(""), CAFile: s(""),
		BearerToken: s(""), Impersonate: s(""), ImpersonateUID: s(""), ImpersonateGroup: &group,
		Timeout: s("0"), DisableCompression: &noCompression,
	}
}

// AddFlags registers the flags as kubectl does (the same names, shorthands and help).
func (f *KubeFlags) AddFlags(flags *pflag.FlagSet) {
	flags.StringVar(f.KubeConfig, "kubeconfig", *f.KubeConfig, "Path to the kubeconfig file to use for CLI requests.")
	flags.StringVar(f.CacheDir, "cache-dir", *f.CacheDir, "Default cache directory")
	flags.StringVar(f.CertFile, "client-certificate", *f.CertFile, "Path to a client certificate file for TLS")
	flags.StringVar(f.KeyFile, "client-key", *f.KeyFile, "Path to a client key file for TLS")
	flags.StringVar(f.BearerToken, "token", *f.BearerToken, "Bearer token for authentication to the API server")
	flags.StringVar(f.Impersonate, "as", *f.Impersonate, "Username to impersonate for the operation. User could be a regular user or a service account in a namespace.")
	flags.StringVar(f.ImpersonateUID, "as-uid", *f.ImpersonateUID, "UID to impersonate for the operation.")
	flags.StringArrayVar(f.ImpersonateGroup, "as-group", *f.ImpersonateGroup, "Group to impersonate for the operation, this flag can be repeated to specify multiple groups.")
	if f.Username != nil {
		flags.StringVar(f.Username, "username", *f.Username, "Username for basic authentication to the API server")
	}
	if f.Password != nil {
		flags.StringVar(f.Password, "password", *f.Password, "Password for basic authentication to the API server")
	}
	flags.StringVar(f.ClusterName, "cluster", *f.ClusterName, "The name of the kubeconfig cluster to use")
	flags.StringVar(f.AuthInfoName, "user", *f.AuthInfoName, "The name of the kubeconfig user to use")
	flags.StringVarP(f.Namespace, "namespace", "n", *f.Namespace, "If present, the namespace scope for this CLI request")
	flags.StringVar(f.Context, "context", *f.Context, "The name of the kubeconfig context to use")
	flags.StringVarP(f.APIServer, "server", "s", *f.APIServer, "The address and port of the Kubernetes API server")
	flags.StringVar(f.TLSServerName, "tls-server-name", *f.TLSServerName, "Server name to use for server certificate validation. If it is not provided, the hostname used to contact the server is used")
	flags.BoolVar(f.Insecure, "insecure-skip-tls-verify", *f.Insecure, "If true, the server's certificate will not be checked for validity. This will make your HTTPS connections insecure")
	flags.StringVar(f.CAFile, "certificate-authority", *f.CAFile, "Path to a cert file for the certificate authority")
	flags.StringVar(f.Timeout, "request-timeout", *f.Timeout, "The length of time to wait before giving up on a single server request. Non-zero values should contain a corresponding time unit (e.g. 1s, 2m, 3h). A value of zero means don't timeout requests.")
	flags.BoolVar(f.DisableCompression, "disable-compression", *f.DisableCompression, "If true, opt-out of response compression for all requests to the server")
}

// ToRESTConfig is the client config of the kubeconfig with the flags applied.
func (f *KubeFlags) ToRESTConfig() (*rest.Config, error) {
	return f.ToRawKubeConfigLoader().ClientConfig()
}

// ToRawKubeConfigLoader loads the kubeconfig (KUBECONFIG, --kubeconfig, ~/.kube/config, in a pod
// the service account) with the flags as overrides, as kubectl does.
func (f *KubeFlags) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.DefaultClientConfig = &clientcmd.DefaultClientConfig
	rules.ExplicitPath = *f.KubeConfig
	o := &clientcmd.ConfigOverrides{ClusterDefaults: clientcmd.ClusterDefaults}
	o.AuthInfo.ClientCertificate = *f.CertFile
	o.AuthInfo.ClientKey = *f.KeyFile
	o.AuthInfo.Token = *f.BearerToken
	o.AuthInfo.Impersonate = *f.Impersonate
	o.AuthInfo.ImpersonateUID = *f.ImpersonateUID
	o.AuthInfo.ImpersonateGroups = *f.ImpersonateGroup
	if f.Username != nil {
		o.AuthInfo.Username = *f.Username
	}
	if f.Password != nil {
		o.AuthInfo.Password = *f.Password
	}
	o.ClusterInfo.Server = *f.APIServer
	o.ClusterInfo.TLSServerName = *f.TLSServerName
	o.ClusterInfo.CertificateAuthority = *f.CAFile
	o.ClusterInfo.InsecureSkipTLSVerify = *f.Insecure
	o.ClusterInfo.DisableCompression = *f.DisableCompression
	o.CurrentContext = *f.Context
	o.Context.Cluster = *f.ClusterName
	o.Context.AuthInfo = *f.AuthInfoName
	o.Context.Namespace = *f.Namespace
	o.Timeout = *f.Timeout
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, o)
}
