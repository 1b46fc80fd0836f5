package cmd

import (
	"github.com/spf13/pflag"

	"github.com/packetwalk/kubectl-packetwalk/render"
)

// addOutputFlag registers -o for a command's formats (render's lists): the help names them and
// parsing rejects any other.
func addOutputFlag(fs *pflag.FlagSet, out *render.Format, allowed []render.Format) {
	v := render.FormatValue{F: out, Allowed: allowed}
	fs.VarP(v, "output", "o", "output format: "+v.Names())
}
