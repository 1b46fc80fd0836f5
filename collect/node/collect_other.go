//go:build !linux

package node

import (
	"context"
	"fmt"
	"runtime"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Collect needs netlink: on other systems it says so.
func Collect(ctx context.Context, opts Options) (*trace.NodeState, []string, error) {
	return nil, nil, fmt.Errorf("%w; not supported on %s", ErrNotSupported, runtime.GOOS)
}
