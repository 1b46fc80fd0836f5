package nsx

import (
	"context"
	"fmt"
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

// globalConfig is the Policy GlobalConfig (GET /policy/api/v1/infra/global-config): vdr_mac is
// "the global default MAC address for all VDRs in all transport nodes" (the SDK's doc), the MAC
// every segment gateway answers with (the article's 02:50:56:56:44:52).
type globalConfig struct {
	VdrMAC string `json:"vdr_mac"`
}

// vdrMAC is the distributed router's MAC through the Policy API, where a segment's gateway has no
// port object to carry one: read once per command.
func (st *state) vdrMAC(ctx context.Context) (string, error) {
	gc, err := fetch[globalConfig](ctx, st.f, "/policy/api/v1/infra/global-config", nil)
	if err != nil && !pending(err) {
		return "", fmt.Errorf("the segment gateways' MAC is unknown (global-config vdr_mac): %w", err)
	}
	return gc.VdrMAC, nil
}
