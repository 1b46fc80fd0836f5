package cmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
)

// fabricOption is one fabric provider's part of the command line: its flags, their checks and the
// provider they build. Each lives in its own file (fabric_nsx.go, fabric_ovn.go) and is listed
// once in newFabricOptions; --fabric's help and checks come from that list.
type fabricOption interface {
	// Name is the --fabric value.
	Name() string
	// Where is the flag that says where the fabric is read ("--ovn-nb").
	Where() string
	// AddFlags registers the provider's flags.
	AddFlags(fs *pflag.FlagSet)
	// Given says whether Where was given (it then needs --fabric Name).
	Given() bool
	// Validate checks the provider's flags without side effects, once --fabric chose it.
	Validate() error
	// Provider builds the provider from the flags.
	Provider(g *GlobalOptions) (fabric.Provider, error)
	// Timeout is the one deadline of the provider's reads in a command.
	Timeout() time.Duration
}

// newFabricOptions lists the fabric providers, in the order --fabric's help names them.
func newFabricOptions() []fabricOption {
	return []fabricOption{&nsxOptions{}, &ovnOptions{}}
}

// fabricHelp is --fabric's help: each provider with the flag that says where it is.
func fabricHelp(opts []fabricOption) string {
	var each []string
	for _, o := range opts {
		each = append(each, fmt.Sprintf("%s (with %s)", o.Name(), o.Where()))
	}
	return "read the SDN fabric live: " + strings.Join(each, " or ")
}

// fabricOptions are f's providers' flags, made on first use.
func (f *FactOptions) fabricOptions() []fabricOption {
	if f.fabrics == nil {
		f.fabrics = newFabricOptions()
	}
	return f.fabrics
}

// fabricOptionNamed is the provider --fabric names, or nil.
func (f *FactOptions) fabricOptionNamed(name string) fabricOption {
	for _, o := range f.fabricOptions() {
		if o.Name() == name {
			return o
		}
	}
	return nil
}

// validateFabric checks --fabric and the chosen provider's flags.
func (f *FactOptions) validateFabric() error {
	var names, wheres, given []string
	for _, o := range f.fabricOptions() {
		names = append(names, o.Name())
		wheres = append(wheres, o.Where())
		if o.Given() {
			given = append(given, o.Where())
		}
	}
	if f.Fabric == "" {
		if len(given) > 0 {
			return usageErr("%s need --fabric %s", strings.Join(wheres, " and "), strings.Join(names, " or --fabric "))
		}
		return nil
	}
	o := f.fabricOptionNamed(f.Fabric)
	if o == nil {
		return usageErr("--fabric must be %s, got %q", strings.Join(names, " or "), f.Fabric)
	}
	return o.Validate()
}

// fabricProvider builds the --fabric provider, or nil.
func (f *FactOptions) fabricProvider(g *GlobalOptions) (fabric.Provider, error) {
	if o := f.fabricOptionNamed(f.Fabric); o != nil {
		return o.Provider(g)
	}
	return nil, nil
}

// fabricTimeout is the one deadline of the --fabric reads of a command (0 without --fabric).
func (f *FactOptions) fabricTimeout() time.Duration {
	if o := f.fabricOptionNamed(f.Fabric); o != nil {
		return o.Timeout()
	}
	return 0
}
