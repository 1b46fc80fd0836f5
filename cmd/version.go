package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/packetwalk/kubectl-packetwalk/render"
)

// Version is stamped at build time with -ldflags "-X github.com/packetwalk/kubectl-packetwalk/cmd.Version=v1.2.3".
var Version = ""

// VersionInfo is what `version -o json` prints.
type VersionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

func versionInfo() VersionInfo {
	v := Version
	if v == "" {
		v = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return VersionInfo{Version: v, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
}

// NewCmdVersion builds `version`.
func NewCmdVersion(g *GlobalOptions) *cobra.Command {
	out := render.Table
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			vi := versionInfo()
			switch out {
			case render.JSON, render.YAML:
				return render.WriteAny(g.Out, vi, out)
			}
			_, err := fmt.Fprintf(g.Out, "kubectl-packetwalk %s (%s, %s)\n", vi.Version, vi.GoVersion, vi.Platform)
			return err
		},
	}
	addOutputFlag(c.Flags(), &out, []render.Format{render.Table, render.JSON, render.YAML})
	return c
}
