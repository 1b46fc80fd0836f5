package nsx

import (
	"context"
	"errors"

	"github.com/packetwalk/kubectl-packetwalk/collect/fabric"
)

type policyState struct{}

func (st *state) runPolicy(ctx context.Context, q fabric.Query) error {
	return errors.New("--nsx-api policy is not implemented yet")
}
