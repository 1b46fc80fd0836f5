package nsx

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// Load balancer shapes of both APIs (MP LbVirtualServer, LbPool, LbService, LbPoolStatus; Policy
// LBVirtualServer, LBPool, LBService, AggregateLBPoolStatus), the fields a walk uses.

type lbVirtualServer struct {
	ID                     string   `json:"id"`
	DisplayName            string   `json:"display_name"`
	Enabled                *bool    `json:"enabled"`
	IPAddress              string   `json:"ip_address"`
	IPProtocol             string   `json:"ip_protocol"`
	Ports                  []string `json:"ports"`
	DefaultPoolMemberPorts []string `json:"default_pool_member_ports"`
	PoolID                 string   `json:"pool_id"`
	Tags                   []tag    `json:"tags"`
	// Policy
	Path                   string `json:"path"`
	PoolPath               string `json:"pool_path"`
	LBServicePath          string `json:"lb_service_path"`
	ApplicationProfilePath string `json:"application_profile_path"`
}

type lbPoolMember struct {
	DisplayName string `json:"display_name"`
	IPAddress   string `json:"ip_address"`
	Port        string `json:"port"`
	AdminState  string `json:"admin_state"`
}

type lbPool struct {
	ID          string         `json:"id"`
	DisplayName string         `json:"display_name"`
	Members     []lbPoolMember `json:"members"`
}

type lbService struct {
	ID               string   `json:"id"`
	DisplayName      string   `json:"display_name"`
	Enabled          *bool    `json:"enabled"`
	Attachment       *ref     `json:"attachment"`
	VirtualServerIDs []string `json:"virtual_server_ids"`
	// Policy
	Path             string `json:"path"`
	ConnectivityPath string `json:"connectivity_path"`
}

type lbMemberStatus struct {
	IPAddress    string `json:"ip_address"`
	Port         string `json:"port"`
	Status       string `json:"status"`
	FailureCause string `json:"failure_cause"`
}

type lbPoolStatus struct {
	PoolID   string           `json:"pool_id"`
	PoolPath string           `json:"pool_path"`
	Status   string           `json:"status"`
	Members  []lbMemberStatus `json:"members"`
}

// aggregatePoolStatus is a Policy pool's status per enforcement point (one on a local manager).
type aggregatePoolStatus struct {
	Results []lbPoolStatus `json:"results"`
}

// aggregateServiceStatus is a Policy LB service's status per enforcement point, its pools' included.
type aggregateServiceStatus struct {
	Results []struct {
		Pools []lbPoolStatus `json:"pools"`
	} `json:"results"`
}

// virtualServer is what a walk knows of a load balancer in front of an address: the virtual
// server, its pool with its members' monitored states, and the LB service (its router).
type virtualServer struct {
	vs      lbVirtualServer
	pool    *lbPool
	service *lbService
	status  *lbPoolStatus
	// router is the logical router (MP id) or gateway (Policy id) the LB service runs on.
	router string
	// protocol is TCP or UDP: MP ip_protocol, Policy NCP's ncp/service_port_protocol tag or the
	// application profile's name.
	protocol string
}

func enabled(b *bool) bool { return b == nil || *b }

// protocolOf is a virtual server's protocol: ip_protocol (MP), else what NCP tagged it with,
// else its application profile's name (default-udp-lb-app-profile).
func (v lbVirtualServer) protocolOf() string {
	switch {
	case v.IPProtocol != "":
		return v.IPProtocol
	case tagValue(v.Tags, "ncp/service_port_protocol") != "":
		return strings.ToUpper(tagValue(v.Tags, "ncp/service_port_protocol"))
	case strings.Contains(strings.ToLower(path.Base(v.ApplicationProfilePath)), "udp"):
		return "UDP"
	}
	return "TCP"
}

// virtualServers finds the virtual servers listening on an address (the search API, one request)
// and reads each one's pool, LB service and pool status: a constant number of requests however
// large the fabric. Pending reads of a dry round leave the answer partial; reads that failed are
// warnings, and the virtual server is kept with what was read.
func (st *state) virtualServers(ctx context.Context, vip netip.Addr, policy bool) ([]virtualServer, error) {
	rt, p := "LbVirtualServer", "/api/v1/search/query"
	if policy {
		rt, p = "LBVirtualServer", "/policy/api/v1/search/query"
	}
	terms := []string{"resource_type:" + rt, "ip_address:" + quote(vip.String())}
	if policy {
		terms = append(terms, "marked_for_delete:false")
	}
	var found []lbVirtualServer
	var err error
	if !st.noSearch {
		found, err = list[lbVirtualServer](ctx, st.f, p, url.Values{"query": {strings.Join(terms, " AND ")}})
	}
	if st.noSearch || isNotFound(err) {
		// A manager without the search API: every virtual server, the address's kept.
		found, err = st.listVirtualServers(ctx, policy, vip)
	}
	if err != nil {
		return nil, err
	}
	var out []virtualServer
	for _, vs := range found {
		v := virtualServer{vs: vs, protocol: vs.protocolOf()}
		// What could not be read is a warning and a partial load balancer (it says what is missing).
		if err := st.soft(st.readVirtualServer(ctx, &v, policy)); err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// listVirtualServers lists every virtual server and keeps those on vip (no search API).
func (st *state) listVirtualServers(ctx context.Context, policy bool, vip netip.Addr) ([]lbVirtualServer, error) {
	p := "/api/v1/loadbalancer/virtual-servers"
	if policy {
		p = "/policy/api/v1/infra/lb-virtual-servers"
	}
	all, err := list[lbVirtualServer](ctx, st.f, p, nil)
	var out []lbVirtualServer
	for _, vs := range all {
		if a, ok := hostAddr(vs.IPAddress); ok && a == vip {
			out = append(out, vs)
		}
	}
	return out, err
}

// readVirtualServer reads what hangs off a virtual server: its pool, its LB service (MP: the one
// listing it; Policy: lb_service_path) and the pool's status on that service.
func (st *state) readVirtualServer(ctx context.Context, v *virtualServer, policy bool) error {
	var errs []error
	if policy {
		if v.vs.PoolPath != "" {
			pool, err := fetch[lbPool](ctx, st.f, "/policy/api/v1"+v.vs.PoolPath, nil)
			if err == nil {
				v.pool = &pool
			}
			errs = append(errs, err)
		}
		if v.vs.LBServicePath != "" {
			svc, err := fetch[lbService](ctx, st.f, "/policy/api/v1"+v.vs.LBServicePath, nil)
			if err == nil {
				v.service, v.router = &svc, lastElem(svc.ConnectivityPath)
			}
			errs = append(errs, err)
			if v.vs.PoolPath != "" {
				agg, err := fetch[aggregatePoolStatus](ctx, st.f, "/policy/api/v1"+v.vs.LBServicePath+"/lb-pools/"+lastElem(v.vs.PoolPath)+"/detailed-status", nil)
				if err == nil && len(agg.Results) > 0 {
					v.status = &agg.Results[0]
				}
				errs = append(errs, err)
			}
		}
		return firstErr(errs)
	}
	if v.vs.PoolID != "" {
		pool, err := fetch[lbPool](ctx, st.f, "/api/v1/loadbalancer/pools/"+url.PathEscape(v.vs.PoolID), nil)
		if err == nil {
			v.pool = &pool
		}
		errs = append(errs, err)
	}
	var svcs []lbService
	var err error
	if !st.noSearch {
		svcs, err = list[lbService](ctx, st.f, "/api/v1/search/query", url.Values{"query": {"resource_type:LbService AND virtual_server_ids:" + quote(v.vs.ID)}})
	}
	if st.noSearch || isNotFound(err) {
		// Without the search API: the LB services listed, the one listing the virtual server kept.
		var all []lbService
		all, err = list[lbService](ctx, st.f, "/api/v1/loadbalancer/services", nil)
		svcs = nil
		for _, x := range all {
			if contains(x.VirtualServerIDs, v.vs.ID) {
				svcs = append(svcs, x)
			}
		}
	}
	errs = append(errs, err)
	if err == nil && len(svcs) > 0 {
		svc := svcs[0]
		v.service = &svc
		if svc.Attachment != nil {
			v.router = string(*svc.Attachment)
		}
		if v.vs.PoolID != "" {
			ps, err := fetch[lbPoolStatus](ctx, st.f, "/api/v1/loadbalancer/services/"+url.PathEscape(svc.ID)+"/pools/"+url.PathEscape(v.vs.PoolID)+"/status", nil)
			if err == nil {
				v.status = &ps
			}
			errs = append(errs, err)
		}
	}
	return firstErr(errs)
}

// lastElem is a Policy path's last element (the object's id); "" for no path.
func lastElem(p string) string {
	if p == "" {
		return ""
	}
	return path.Base(p)
}

// firstErr is the first error that is not a pending read, else a pending one, else nil.
func firstErr(errs []error) error {
	var p error
	for _, err := range errs {
		switch {
		case err == nil:
		case pending(err):
			p = err
		default:
			return err
		}
	}
	return p
}

// memberState is a member's monitored state and why, from the pool status ("" when unread).
func (v virtualServer) memberState(ip, port string) (string, string) {
	if v.status == nil {
		return "", ""
	}
	for _, m := range v.status.Members {
		if m.IPAddress == ip && (m.Port == "" || port == "" || m.Port == port) {
			return m.Status, m.FailureCause
		}
	}
	return "", ""
}

// describe names a virtual server for a warning.
func (v virtualServer) describe() string {
	return fmt.Sprintf("virtual server %s (%s %s)", v.vs.ID, v.protocol, v.vs.IPAddress)
}
