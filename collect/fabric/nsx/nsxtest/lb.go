package nsxtest

import (
	"fmt"
	"strconv"
	"strings"
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

// statusTime is the timestamp every generated status carries (goldens never see it).
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

// ServiceSpec is a Kubernetes Service of type LoadBalancer as NCP realizes it: an LB service on
// the namespace's tier-1 (one per router), a virtual server per port and a pool of its endpoints.
type ServiceSpec struct {
	Namespace, Name string
	// Router is the tier-1 logical router id the LB service is attached to.
	Router string
	// VIP is the LoadBalancer ingress address.
	VIP string
	// Protocol is TCP or UDP.
	Protocol         string
	Port, TargetPort int
	Members          []MemberSpec
}

// MemberSpec is one endpoint of a Service: a pool member and its monitored state.
type MemberSpec struct {
	// Name is the pod's name (NCP names members after their pod).
	Name string
	IP   string
	// Status is the monitors' verdict (UP when empty); FailureCause says why it is not UP.
	Status, FailureCause string
}

// serviceID is NCP's object id for a Service port: "<name>_<port>_<PROTO>_<suffix>"; the suffix
// is a hash of the namespace here (NCP's is random).
func (sv ServiceSpec) serviceID() string {
	h := 0
	for _, c := range sv.Namespace {
		h = (h*31 + int(c)) % 46656
	}
	return fmt.Sprintf("%s_%d_%s_%s", sv.Name, sv.Port, sv.Protocol, strconv.FormatInt(int64(h), 36))
}

// lbServiceID is the id of the LB service NCP creates on a tier-1 router.
func lbServiceID(router string) string { return "lbs-" + router }

func (sv ServiceSpec) tags() []Tag {
	return []Tag{{ScopeCluster, ClusterName}, {ScopeProject, sv.Namespace}, {ScopeService, sv.Name},
		{ScopeServicePort, strconv.Itoa(sv.Port)}, {ScopeServiceProtocol, sv.Protocol}, {ScopeLBVSType, "layer_4"}, {ScopeCreatedFor, "SLB"}}
}

// AddService adds a LoadBalancer Service in both APIs: its LB service (once per router), its
// virtual server and pool, and its members' states.
func (t *Topology) AddService(sv ServiceSpec) {
	if sv.Protocol == "" {
		sv.Protocol = "TCP"
	}
	if t.MemberStates == nil {
		t.MemberStates = map[string][]LbPoolMemberStatus{}
	}
	id, lbs := sv.serviceID(), lbServiceID(sv.Router)
	display := fmt.Sprintf("%s_%d_%s", sv.Name, sv.Port, sv.Protocol)
	port, target := strconv.Itoa(sv.Port), strconv.Itoa(sv.TargetPort)
	profile := "default-" + strings.ToLower(sv.Protocol) + "-lb-app-profile"

	i := t.lbServiceIndex(sv.Router)
	t.LbServices[i].VirtualServerIDs = append(t.LbServices[i].VirtualServerIDs, id)
	t.LbVirtualServers = append(t.LbVirtualServers, LbVirtualServer{ResourceType: "LbVirtualServer", ID: id, DisplayName: display, Enabled: true,
		IPAddress: sv.VIP, IPProtocol: sv.Protocol, Ports: []string{port}, DefaultPoolMemberPorts: []string{target}, PoolID: id,
		ApplicationProfileID: "app-profile-" + profile, Tags: sv.tags()})
	t.PolicyLBVirtualServers = append(t.PolicyLBVirtualServers, LBVirtualServer{ResourceType: "LBVirtualServer", ID: id, Path: "/infra/lb-virtual-servers/" + id,
		ParentPath: "/infra", DisplayName: display, Enabled: true, IPAddress: sv.VIP, Ports: []string{port}, DefaultPoolMemberPorts: []string{target},
		PoolPath: "/infra/lb-pools/" + id, LBServicePath: "/infra/lb-services/" + lbs, ApplicationProfilePath: "/infra/lb-app-profiles/" + profile, Tags: sv.tags()})

	pool := LbPool{ResourceType: "LbPool", ID: id, DisplayName: display, Algorithm: "ROUND_ROBIN", MinActiveMembers: 1, Tags: sv.tags()}
	ppool := LBPool{ResourceType: "LBPool", ID: id, Path: "/infra/lb-pools/" + id, ParentPath: "/infra", DisplayName: display,
		Algorithm: "ROUND_ROBIN", MinActiveMembers: 1, Tags: sv.tags()}
	var states []LbPoolMemberStatus
	for _, m := range sv.Members {
		pool.Members = append(pool.Members, PoolMember{DisplayName: m.Name, IPAddress: m.IP, Port: target, AdminState: "ENABLED", Weight: 1})
		ppool.Members = append(ppool.Members, LBPoolMember{DisplayName: m.Name, IPAddress: m.IP, Port: target, AdminState: "ENABLED", Weight: 1})
		st := LbPoolMemberStatus{IPAddress: m.IP, Port: target, Status: m.Status, FailureCause: m.FailureCause, LastCheckTime: statusTime, LastStateChangeTime: statusTime}
		if st.Status == "" {
			st.Status = "UP"
		}
		states = append(states, st)
	}
	t.LbPools = append(t.LbPools, pool)
	t.PolicyLBPools = append(t.PolicyLBPools, ppool)
	t.MemberStates[id] = states
}

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
