package nsxtest

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Load balancer shapes. Management API (nsx/model, services/nsxt-mp v0.6.0): LbService,
// LbVirtualServer, LbPool with PoolMember, LbPoolStatus with LbPoolMemberStatus,
// LbVirtualServerStatus, LbServiceStatus. Policy API (model, services/nsxt v0.12.0): LBService,
// LBVirtualServer, LBPool with LBPoolMember, AggregateLBServiceStatus / AggregateLBPoolStatus
// holding LBServiceStatus / LBPoolStatus per enforcement point. The values NCP writes (ids
// "<service>_<port>_<PROTO>_<suffix>", display names "<service>_<port>_<PROTO>", the ncp/service,
// ncp/service_port, ncp/service_port_protocol and ncp/created_for tags, the TCP application
// profile path) follow a Policy response NCP 1.2 logged (github.com/zhengxiexie/scripts,
// warp/template/real_nsx_policy_api_report.md, GET /policy/api/v1/infra/lb-virtual-servers/
// tea-svc_80_TCP_39r0c and lb-pools/tea-svc_80_TCP_39r0c).

// NCP tag scopes on load balancer and NAT objects (the logged response above).
const (
	ScopeService         = "ncp/service"
	ScopeServicePort     = "ncp/service_port"
	ScopeServiceProtocol = "ncp/service_port_protocol"
	ScopeCreatedFor      = "ncp/created_for"
	ScopeLBVSType        = "ncp/lb_vs_type"
	// ScopeSnatPool names the IP pool a Service's ncp/snat_pool annotation chose; NCP's
	// documentation says the rule exists, not how it is tagged: this scope is the tool's guess
	// and the provider reads the rule by its match, never by this tag alone.
	ScopeSnatPool = "ncp/snat_pool"
)

// LbService is GET /api/v1/loadbalancer/services/<id>: attachment names the tier-1 logical
// router it runs on.
type LbService struct {
	ResourceType     string             `json:"resource_type"`
	ID               string             `json:"id"`
	DisplayName      string             `json:"display_name,omitempty"`
	Enabled          bool               `json:"enabled"`
	Size             string             `json:"size,omitempty"`
	Attachment       *ResourceReference `json:"attachment,omitempty"`
	VirtualServerIDs []string           `json:"virtual_server_ids,omitempty"`
	Tags             []Tag              `json:"tags,omitempty"`
}

// LbVirtualServer is GET /api/v1/loadbalancer/virtual-servers/<id>: the VIP, its ports and
// protocol, and the pool it sends to (default_pool_member_ports: the members' port when they
// carry none).
type LbVirtualServer struct {
	ResourceType           string   `json:"resource_type"`
	ID                     string   `json:"id"`
	DisplayName            string   `json:"display_name,omitempty"`
	Enabled                bool     `json:"enabled"`
	IPAddress              string   `json:"ip_address"`
	IPProtocol             string   `json:"ip_protocol,omitempty"`
	Ports                  []string `json:"ports,omitempty"`
	DefaultPoolMemberPorts []string `json:"default_pool_member_ports,omitempty"`
	PoolID                 string   `json:"pool_id,omitempty"`
	ApplicationProfileID   string   `json:"application_profile_id,omitempty"`
	Tags                   []Tag    `json:"tags,omitempty"`
}

// PoolMember is one member of an MP pool (admin_state ENABLED, DISABLED, GRACEFUL_DISABLED).
type PoolMember struct {
	DisplayName string `json:"display_name,omitempty"`
	IPAddress   string `json:"ip_address"`
	Port        string `json:"port,omitempty"`
	AdminState  string `json:"admin_state,omitempty"`
	Weight      int    `json:"weight,omitempty"`
}

// LbPool is GET /api/v1/loadbalancer/pools/<id>.
type LbPool struct {
	ResourceType     string       `json:"resource_type"`
	ID               string       `json:"id"`
	DisplayName      string       `json:"display_name,omitempty"`
	Algorithm        string       `json:"algorithm,omitempty"`
	MinActiveMembers int          `json:"min_active_members,omitempty"`
	Members          []PoolMember `json:"members,omitempty"`
	ActiveMonitorIDs []string     `json:"active_monitor_ids,omitempty"`
	Tags             []Tag        `json:"tags,omitempty"`
}

// LbPoolMemberStatus is a member's health as the edge's monitors last saw it: status UP, DOWN,
// DISABLED, GRACEFUL_DISABLED, UNUSED or UNKNOWN, and why it failed.
type LbPoolMemberStatus struct {
	IPAddress           string `json:"ip_address"`
	Port                string `json:"port,omitempty"`
	Status              string `json:"status"`
	FailureCause        string `json:"failure_cause,omitempty"`
	LastCheckTime       int64  `json:"last_check_time,omitempty"`
	LastStateChangeTime int64  `json:"last_state_change_time,omitempty"`
}

// LbPoolStatus is GET /api/v1/loadbalancer/services/<svc>/pools/<pool>/status (and an entry of
// .../pools/status): UP, PARTIALLY_UP, PRIMARY_DOWN, DOWN, DETACHED or UNKNOWN.
type LbPoolStatus struct {
	PoolID              string               `json:"pool_id"`
	Status              string               `json:"status"`
	Members             []LbPoolMemberStatus `json:"members,omitempty"`
	LastUpdateTimestamp int64                `json:"last_update_timestamp,omitempty"`
}

// LbVirtualServerStatus is GET .../virtual-servers/<vs>/status.
type LbVirtualServerStatus struct {
	VirtualServerID     string `json:"virtual_server_id"`
	Status              string `json:"status"`
	LastUpdateTimestamp int64  `json:"last_update_timestamp,omitempty"`
}

// LbServiceStatus is GET /api/v1/loadbalancer/services/<svc>/status: the service, every pool
// and every virtual server in one answer.
type LbServiceStatus struct {
	ServiceID           string                  `json:"service_id"`
	ServiceStatus       string                  `json:"service_status"`
	Pools               []LbPoolStatus          `json:"pools,omitempty"`
	VirtualServers      []LbVirtualServerStatus `json:"virtual_servers,omitempty"`
	LastUpdateTimestamp int64                   `json:"last_update_timestamp,omitempty"`
}

// Policy API load balancer shapes.

// LBService is GET /policy/api/v1/infra/lb-services/<id>; connectivity_path is its tier-1.
type LBService struct {
	ResourceType     string `json:"resource_type"`
	ID               string `json:"id"`
	Path             string `json:"path"`
	ParentPath       string `json:"parent_path"`
	DisplayName      string `json:"display_name,omitempty"`
	ConnectivityPath string `json:"connectivity_path,omitempty"`
	Enabled          bool   `json:"enabled"`
	Size             string `json:"size,omitempty"`
	Tags             []Tag  `json:"tags,omitempty"`
	MarkedForDelete  bool   `json:"marked_for_delete"`
}

// LBVirtualServer is GET /policy/api/v1/infra/lb-virtual-servers/<id>: it has no protocol field;
// its application profile (default-tcp-lb-app-profile, default-udp-lb-app-profile) and NCP's
// ncp/service_port_protocol tag say which.
type LBVirtualServer struct {
	ResourceType           string   `json:"resource_type"`
	ID                     string   `json:"id"`
	Path                   string   `json:"path"`
	ParentPath             string   `json:"parent_path"`
	DisplayName            string   `json:"display_name,omitempty"`
	Enabled                bool     `json:"enabled"`
	IPAddress              string   `json:"ip_address"`
	Ports                  []string `json:"ports,omitempty"`
	DefaultPoolMemberPorts []string `json:"default_pool_member_ports,omitempty"`
	PoolPath               string   `json:"pool_path,omitempty"`
	LBServicePath          string   `json:"lb_service_path,omitempty"`
	ApplicationProfilePath string   `json:"application_profile_path"`
	Tags                   []Tag    `json:"tags,omitempty"`
	MarkedForDelete        bool     `json:"marked_for_delete"`
}

// LBPoolMember is one member of a Policy pool.
type LBPoolMember struct {
	DisplayName string `json:"display_name,omitempty"`
	IPAddress   string `json:"ip_address"`
	Port        string `json:"port,omitempty"`
	AdminState  string `json:"admin_state,omitempty"`
	Weight      int    `json:"weight,omitempty"`
}

// LBPool is GET /policy/api/v1/infra/lb-pools/<id>.
type LBPool struct {
	ResourceType       string         `json:"resource_type"`
	ID                 string         `json:"id"`
	Path               string         `json:"path"`
	ParentPath         string         `json:"parent_path"`
	DisplayName        string         `json:"display_name,omitempty"`
	Algorithm          string         `json:"algorithm,omitempty"`
	MinActiveMembers   int            `json:"min_active_members,omitempty"`
	Members            []LBPoolMember `json:"members,omitempty"`
	ActiveMonitorPaths []string       `json:"active_monitor_paths,omitempty"`
	Tags               []Tag          `json:"tags,omitempty"`
	MarkedForDelete    bool           `json:"marked_for_delete"`
}

// LBPoolStatus is a Policy pool's status at one enforcement point (resource_type LBPoolStatus).
type LBPoolStatus struct {
	ResourceType         string               `json:"resource_type"`
	EnforcementPointPath string               `json:"enforcement_point_path,omitempty"`
	PoolPath             string               `json:"pool_path"`
	Status               string               `json:"status"`
	Members              []LbPoolMemberStatus `json:"members,omitempty"`
	LastUpdateTimestamp  int64                `json:"last_update_timestamp,omitempty"`
}

// LBVirtualServerStatus is a Policy virtual server's status at one enforcement point.
type LBVirtualServerStatus struct {
	ResourceType         string `json:"resource_type"`
	EnforcementPointPath string `json:"enforcement_point_path,omitempty"`
	VirtualServerPath    string `json:"virtual_server_path"`
	Status               string `json:"status"`
	LastUpdateTimestamp  int64  `json:"last_update_timestamp,omitempty"`
}

// LBServiceStatus is a Policy LB service's status at one enforcement point, its pools and
// virtual servers included.
type LBServiceStatus struct {
	ResourceType         string                  `json:"resource_type"`
	EnforcementPointPath string                  `json:"enforcement_point_path,omitempty"`
	ServicePath          string                  `json:"service_path"`
	ServiceStatus        string                  `json:"service_status"`
	Pools                []LBPoolStatus          `json:"pools,omitempty"`
	VirtualServers       []LBVirtualServerStatus `json:"virtual_servers,omitempty"`
	LastUpdateTimestamp  int64                   `json:"last_update_timestamp,omitempty"`
}

// AggregateLBPoolStatus is GET /policy/api/v1/infra/lb-services/<svc>/lb-pools/<pool>/detailed-status.
type AggregateLBPoolStatus struct {
	IntentPath string         `json:"intent_path"`
	Results    []LBPoolStatus `json:"results"`
}

// AggregateLBServiceStatus is GET /policy/api/v1/infra/lb-services/<svc>/detailed-status.
type AggregateLBServiceStatus struct {
	IntentPath string            `json:"intent_path"`
	Results    []LBServiceStatus `json:"results"`
}

// EnforcementPoint is the path of the only enforcement point of a local manager.
const EnforcementPoint = "/infra/sites/default/enforcement-points/default"

// statusTime is the timestamp every generated status and member check carries.
const statusTime = 1700000000000

// Services is what the load balancer and NAT APIs serve, in both APIs. Member health lives in
// MemberStates, by pool id, the same for the MP pool and its Policy intent.
type Services struct {
	LbServices       []LbService
	LbVirtualServers []LbVirtualServer
	LbPools          []LbPool
	// MemberStates are the monitors' view of each pool's members; a member without one is UP.
	MemberStates map[string][]LbPoolMemberStatus
	// NatRules are GET /api/v1/logical-routers/<id>/nat/rules, by logical router id.
	NatRules map[string][]NatRule

	PolicyLBServices       []LBService
	PolicyLBVirtualServers []LBVirtualServer
	PolicyLBPools          []LBPool
	// PolicyNatRules carry their section in parent_path (/infra/tier-1s/<id>/nat/USER).
	PolicyNatRules []PolicyNatRule
}

// AddLoadBalancer renders an NSX load balancer of the model in both APIs, as NCP writes a
// LoadBalancer Service: the LB service of its router (one per tier-1, Routers[0]), a virtual
// server with the VIP's address and every VIP's port (an NSX virtual server has one address), its
// pool with the backends as members, and the members' monitored states. IDs are the model's: the
// virtual server's and the pool's are the same in both APIs.
func (t *Topology) AddLoadBalancer(lb trace.LoadBalancer) {
	if len(lb.VIPs) == 0 || len(lb.Routers) == 0 {
		return
	}
	if t.MemberStates == nil {
		t.MemberStates = map[string][]LbPoolMemberStatus{}
	}
	v0 := lb.VIPs[0]
	proto := strings.ToUpper(cmp.Or(v0.Protocol, lb.Protocol, "TCP"))
	pool := cmp.Or(v0.Pool, lb.ID+"-pool")
	var ports []string
	for _, v := range lb.VIPs {
		if p := strconv.Itoa(v.Port); v.Port != 0 && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	tags := []Tag{{ScopeCluster, ClusterName}}
	if lb.Service != nil {
		tags = append(tags, Tag{ScopeProject, lb.Service.Namespace}, Tag{ScopeService, lb.Service.Name})
		if len(ports) > 0 {
			tags = append(tags, Tag{ScopeServicePort, ports[0]})
		}
		tags = append(tags, Tag{ScopeServiceProtocol, proto}, Tag{ScopeLBVSType, "layer_4"}, Tag{ScopeCreatedFor, "SLB"})
	}
	on := lb.Enabled == nil || *lb.Enabled
	profile := "default-" + strings.ToLower(proto) + "-lb-app-profile"
	lbs := lbServiceID(lb.Routers[0])
	i := t.lbServiceIndex(lb.Routers[0])
	t.LbServices[i].VirtualServerIDs = append(t.LbServices[i].VirtualServerIDs, lb.ID)
	t.LbVirtualServers = append(t.LbVirtualServers, LbVirtualServer{ResourceType: "LbVirtualServer", ID: lb.ID, DisplayName: lb.Name, Enabled: on,
		IPAddress: v0.IP, IPProtocol: proto, Ports: ports, PoolID: pool, ApplicationProfileID: "app-profile-" + profile, Tags: tags})
	t.PolicyLBVirtualServers = append(t.PolicyLBVirtualServers, LBVirtualServer{ResourceType: "LBVirtualServer", ID: lb.ID, Path: "/infra/lb-virtual-servers/" + lb.ID,
		ParentPath: "/infra", DisplayName: lb.Name, Enabled: on, IPAddress: v0.IP, Ports: ports, PoolPath: "/infra/lb-pools/" + pool,
		LBServicePath: "/infra/lb-services/" + lbs, ApplicationProfilePath: "/infra/lb-app-profiles/" + profile, Tags: tags})

	mp := LbPool{ResourceType: "LbPool", ID: pool, DisplayName: cmp.Or(v0.PoolName, pool), Algorithm: "ROUND_ROBIN", MinActiveMembers: 1, Tags: tags}
	pol := LBPool{ResourceType: "LBPool", ID: pool, Path: "/infra/lb-pools/" + pool, ParentPath: "/infra", DisplayName: mp.DisplayName,
		Algorithm: "ROUND_ROBIN", MinActiveMembers: 1, Tags: tags}
	var states []LbPoolMemberStatus
	for _, b := range v0.Backends {
		port, admin := "", "ENABLED"
		if b.Port != 0 {
			port = strconv.Itoa(b.Port)
		}
		st := LbPoolMemberStatus{IPAddress: b.IP, Port: port, Status: "UNKNOWN", FailureCause: b.StatusDetail, LastCheckTime: statusTime, LastStateChangeTime: statusTime}
		switch b.Status {
		case trace.BackendUp:
			st.Status = "UP"
		case trace.BackendDown:
			st.Status = "DOWN"
		case trace.BackendDisabled:
			st.Status, admin = "DISABLED", "DISABLED"
		}
		mp.Members = append(mp.Members, PoolMember{DisplayName: b.Name, IPAddress: b.IP, Port: port, AdminState: admin, Weight: 1})
		pol.Members = append(pol.Members, LBPoolMember{DisplayName: b.Name, IPAddress: b.IP, Port: port, AdminState: admin, Weight: 1})
		states = append(states, st)
	}
	t.LbPools = append(t.LbPools, mp)
	t.PolicyLBPools = append(t.PolicyLBPools, pol)
	t.MemberStates[pool] = states
}

// lbServiceID is the id of the LB service NCP creates on a tier-1 router.
func lbServiceID(router string) string { return "lbs-" + router }

// lbServiceIndex is the index of the router's LB service, added in both APIs when missing.
func (t *Topology) lbServiceIndex(router string) int {
	id := lbServiceID(router)
	for i, s := range t.LbServices {
		if s.ID == id {
			return i
		}
	}
	tags := []Tag{{ScopeCluster, ClusterName}, {ScopeCreatedFor, "SLB"}}
	t.LbServices = append(t.LbServices, LbService{ResourceType: "LbService", ID: id, DisplayName: id, Enabled: true, Size: "SMALL",
		Attachment: &ResourceReference{TargetID: router, TargetType: "LogicalRouter", IsValid: true}, Tags: tags})
	t.PolicyLBServices = append(t.PolicyLBServices, LBService{ResourceType: "LBService", ID: id, Path: "/infra/lb-services/" + id, ParentPath: "/infra",
		DisplayName: id, ConnectivityPath: "/infra/tier-1s/" + router, Enabled: true, Size: "SMALL", Tags: tags})
	return len(t.LbServices) - 1
}

// SetMemberStatus changes a pool member's monitored state (say, DOWN with a failure cause), as
// the edge's health monitor does when the endpoint stops answering.
func (t *Topology) SetMemberStatus(pool, ip, status, cause string) bool {
	for i, m := range t.MemberStates[pool] {
		if m.IPAddress == ip {
			t.MemberStates[pool][i].Status, t.MemberStates[pool][i].FailureCause = status, cause
			return true
		}
	}
	return false
}

// poolStatus is a pool's aggregate state from its members', as the API reference defines it:
// UP when every member is, PARTIALLY_UP when at least min_active_members are, else DOWN; a
// pool no virtual server uses is DETACHED.
func poolStatus(members []LbPoolMemberStatus, minActive int, attached bool) string {
	if !attached {
		return "DETACHED"
	}
	up := 0
	for _, m := range members {
		if m.Status == "UP" {
			up++
		}
	}
	switch {
	case len(members) > 0 && up == len(members):
		return "UP"
	case up > 0 && up >= max(minActive, 1):
		return "PARTIALLY_UP"
	default:
		return "DOWN"
	}
}

// addServices renders the fabric's NSX load balancers and its NAT rules (FromFabric).
func (t *Topology) addServices(f *trace.Fabric) {
	for _, lb := range f.LoadBalancers {
		if lb.Kind == trace.LBKindNSXVirtualServer {
			t.AddLoadBalancer(lb)
		}
	}
	for _, r := range f.NATRules {
		t.AddNATRule(r)
	}
}
