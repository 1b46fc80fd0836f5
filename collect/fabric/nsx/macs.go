package nsx

import (
	"context"
	"net/url"
)

// nameRouters reads the logical router of each router port on the given switches: `macs` names a
// router MAC's owner by its router's display name, not its id. One GET per router (a node's pods
// span a few namespaces: a few tier-1s), whatever the size of the fabric.
func (st *state) nameRouters(ctx context.Context, switches map[string]bool) error {
	for _, rp := range st.sortedRouterPorts() {
		sp := st.ports[rp.LinkedSwitchPort]
		if sp == nil || !switches[sp.Switch] || rp.Router == "" || st.routers[rp.Router] != nil {
			continue
		}
		lr, err := fetch[lrouter](ctx, st.f, "/api/v1/logical-routers/"+url.PathEscape(rp.Router), nil)
		if err != nil {
			if err := st.soft(err); err != nil {
				return err
			}
			continue
		}
		r := lr.router()
		st.routers[r.ID] = &r
		st.ver++
	}
	return nil
}
