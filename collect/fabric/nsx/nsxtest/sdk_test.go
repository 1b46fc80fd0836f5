package nsxtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	vb "github.com/vmware/vsphere-automation-sdk-go/runtime/bindings"
	"github.com/vmware/vsphere-automation-sdk-go/runtime/data/serializers/cleanjson"
	mp "github.com/vmware/vsphere-automation-sdk-go/services/nsxt-mp/nsx/model"
	pm "github.com/vmware/vsphere-automation-sdk-go/services/nsxt/model"

	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// The SDK is the schema: every body nsxtest serves is checked against VMware's generated bindings
// (services/nsxt-mp v0.6.0 for /api/v1, services/nsxt v0.12.0 for /policy/api/v1), field by field:
// a field the binding does not define, a value of another type, or a string outside the enum the
// SDK declares for that field fails. The bindings' own converter is run too, but it alone accepts
// unknown fields and any string, hence the walk.

// sdkModules are the SDK modules the bindings come from, with their source directories found at
// test time (for the enum constants, which exist only as Go consts).
var sdkModules = []string{
	"github.com/vmware/vsphere-automation-sdk-go/services/nsxt-mp",
	"github.com/vmware/vsphere-automation-sdk-go/services/nsxt",
}

// byResourceType resolves a polymorphic entry (search results, router ports) by its resource_type.
func byResourceType(policy bool) map[string]vb.BindingType {
	m := overlayResourceTypes(policy)
	if policy {
		m["SegmentPort"], m["Segment"] = pm.SegmentPortBindingType(), pm.SegmentBindingType()
		return withServiceTypes(policy, m)
	}
	for k, v := range map[string]vb.BindingType{
		"LogicalPort":                         mp.LogicalPortBindingType(),
		"LogicalRouterDownLinkPort":           mp.LogicalRouterDownLinkPortBindingType(),
		"LogicalRouterUpLinkPort":             mp.LogicalRouterUpLinkPortBindingType(),
		"LogicalRouterLinkPortOnTIER0":        mp.LogicalRouterLinkPortOnTIER0BindingType(),
		"LogicalRouterLinkPortOnTIER1":        mp.LogicalRouterLinkPortOnTIER1BindingType(),
		"LogicalRouterCentralizedServicePort": mp.LogicalRouterCentralizedServicePortBindingType(),
		"VifAttachmentContext":                mp.VifAttachmentContextBindingType(),
	} {
		m[k] = v
	}
	return withServiceTypes(policy, m)
}

// bindingFor names the binding of the body served for a request (path and status).
func bindingFor(path string, status int) (vb.BindingType, error) {
	if status >= 400 {
		return mp.ApiErrorBindingType(), nil
	}
	if bt, ok := serviceBindingFor(path); ok {
		return bt, nil
	}
	if bt, ok := overlayBinding(path); ok {
		return bt, nil
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	last := seg[len(seg)-1]
	switch {
	case path == "/api/v1/search/query":
		return mp.SearchResponseBindingType(), nil
	case path == "/policy/api/v1/search/query":
		return pm.SearchResponseBindingType(), nil
	case path == "/api/v1/logical-switches":
		return mp.LogicalSwitchListResultBindingType(), nil
	case len(seg) == 4 && seg[2] == "logical-switches":
		return mp.LogicalSwitchBindingType(), nil
	case path == "/api/v1/logical-ports":
		return mp.LogicalPortListResultBindingType(), nil
	case len(seg) == 4 && seg[2] == "logical-ports":
		return mp.LogicalPortBindingType(), nil
	case len(seg) == 5 && seg[2] == "logical-ports" && last == "state":
		return mp.LogicalPortStateBindingType(), nil
	case path == "/api/v1/logical-routers":
		return mp.LogicalRouterListResultBindingType(), nil
	case len(seg) == 4 && seg[2] == "logical-routers":
		return mp.LogicalRouterBindingType(), nil
	case len(seg) == 6 && last == "static-routes" && seg[2] == "logical-routers":
		return mp.StaticRouteListResultBindingType(), nil
	case len(seg) == 6 && last == "advertisement":
		return mp.AdvertisementConfigBindingType(), nil
	case len(seg) == 6 && last == "route-table":
		return mp.LogicalRouterRouteTableBindingType(), nil
	case path == "/api/v1/logical-router-ports":
		return mp.LogicalRouterPortListResultBindingType(), nil
	case len(seg) == 4 && seg[2] == "logical-router-ports":
		return vb.NewDynamicStructType(nil), nil // resolved by resource_type
	case path == "/api/v1/fabric/vifs":
		return mp.VirtualNetworkInterfaceListResultBindingType(), nil
	case path == "/api/v1/edge-clusters":
		return mp.EdgeClusterListResultBindingType(), nil
	case len(seg) == 4 && seg[2] == "edge-clusters":
		return mp.EdgeClusterBindingType(), nil
	case path == "/policy/api/v1/infra/segments":
		return pm.SegmentListResultBindingType(), nil
	case len(seg) == 6 && seg[4] == "segments":
		return pm.SegmentBindingType(), nil
	case len(seg) == 7 && seg[4] == "segments" && last == "ports":
		return pm.SegmentPortListResultBindingType(), nil
	case len(seg) == 8 && seg[4] == "segments":
		return pm.SegmentPortBindingType(), nil
	case len(seg) == 9 && seg[4] == "segments" && last == "state":
		return pm.SegmentPortStateBindingType(), nil
	case path == "/policy/api/v1/infra/tier-0s":
		return pm.Tier0ListResultBindingType(), nil
	case path == "/policy/api/v1/infra/tier-1s":
		return pm.Tier1ListResultBindingType(), nil
	case len(seg) == 6 && seg[4] == "tier-0s":
		return pm.Tier0BindingType(), nil
	case len(seg) == 6 && seg[4] == "tier-1s":
		return pm.Tier1BindingType(), nil
	case len(seg) == 7 && last == "static-routes":
		return pm.StaticRoutesListResultBindingType(), nil
	case len(seg) == 7 && last == "locale-services":
		return pm.LocaleServicesListResultBindingType(), nil
	case len(seg) == 8 && seg[6] == "locale-services":
		return pm.LocaleServicesBindingType(), nil
	case len(seg) == 9 && last == "interfaces":
		return pm.Tier0InterfaceListResultBindingType(), nil
	case path == "/policy/api/v1/infra/realized-state/realized-entities":
		return pm.GenericPolicyRealizedResourceListResultBindingType(), nil
	}
	return nil, fmt.Errorf("no SDK binding is known for GET %s: add it to bindingFor", path)
}

// sdkEnums are the SDK's string constants, "<GoStruct>_<FIELD>_<VALUE>" = "value", sorted by name.
type sdkEnums struct {
	names, values []string
	cache         map[string][]string
}

// of is the values the SDK declares for a field: the constants named "<GoStruct>_<FIELD>_...",
// but those of a longer field of the struct that begins the same (NSGroupTagExpression's
// SCOPE_OP_EQUALS is scope_op's, not a value of scope).
func (e *sdkEnums) of(goStruct, field string, fields []string) []string {
	prefix := enumPrefix(goStruct, field)
	if v, ok := e.cache[prefix]; ok {
		return v
	}
	var longer []string
	for _, f := range fields {
		if p := enumPrefix(goStruct, f); len(p) > len(prefix) && strings.HasPrefix(p, prefix) {
			longer = append(longer, p)
		}
	}
	var out []string
	for i := sort.SearchStrings(e.names, prefix); i < len(e.names) && strings.HasPrefix(e.names[i], prefix); i++ {
		if !slices.ContainsFunc(longer, func(p string) bool { return strings.HasPrefix(e.names[i], p) }) {
			out = append(out, e.values[i])
		}
	}
	e.cache[prefix] = out
	return out
}

// digitUnderscore is an underscore after a digit, which the SDK's constant names drop.
var digitUnderscore = regexp.MustCompile(`([0-9])_`)

// enumPrefix is how the SDK names a field's constants: "<GoStruct>_<FIELD>_", the field upper-cased
// but with no underscore after a digit (l4_protocol: L4PortSetServiceEntry_L4PROTOCOL_TCP).
func enumPrefix(goStruct, field string) string {
	return goStruct + "_" + digitUnderscore.ReplaceAllString(strings.ToUpper(field), "$1") + "_"
}

// enums reads the SDK's string constants from its sources (the bindings keep enums as plain strings).
func enums(t *testing.T) *sdkEnums {
	t.Helper()
	out := map[string]string{}
	re := regexp.MustCompile(`^const ([A-Za-z0-9]+_[A-Z0-9_]+) = "(.*)"$`)
	for _, mod := range sdkModules {
		b, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
		if err != nil {
			t.Fatalf("go list -m %s: %v (run go mod download)", mod, err)
		}
		files, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(b)), "*", "model", "ModelPackageTypes.go"))
		more, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(b)), "model", "ModelPackageTypes.go"))
		for _, name := range append(files, more...) {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if m := re.FindStringSubmatch(sc.Text()); m != nil {
					out[m[1]] = m[2]
				}
			}
			f.Close()
		}
	}
	if len(out) < 1000 {
		t.Fatalf("read %d constants from the SDK sources: the layout changed", len(out))
	}
	e := &sdkEnums{cache: map[string][]string{}}
	for n := range out {
		e.names = append(e.names, n)
	}
	sort.Strings(e.names)
	for _, n := range e.names {
		e.values = append(e.values, out[n])
	}
	return e
}

// sdkPaths matches the URL paths of the SDK's operations (the templates its *Types.go files hold,
// "/api/v1/logical-routers/{logicalRouterId}/nat/rules"): a body served at any other path follows
// no SDK operation, whatever binding it is checked against.
func sdkPaths(t *testing.T) *regexp.Regexp {
	t.Helper()
	tmpl := regexp.MustCompile(`"(/(?:policy/)?api/v1/[^"]*)",`)
	param := regexp.MustCompile(`\\\{[^}]*\\\}`) // a QuoteMeta'd {name}
	seen := map[string]bool{}
	var alts []string
	for _, mod := range sdkModules {
		b, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
		if err != nil {
			t.Fatalf("go list -m %s: %v (run go mod download)", mod, err)
		}
		err = filepath.WalkDir(strings.TrimSpace(string(b)), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, "Types.go") {
				return err
			}
			src, err := os.ReadFile(path)
			for _, m := range tmpl.FindAllSubmatch(src, -1) {
				// nsxt-mp v0.6.0's generator put its module name after every ".../services" path
				// ("/api/v1/loadbalancer/services/nsxt-mp/{serviceId}"); the API reference has none.
				op := strings.Replace(string(m[1]), "/services/nsxt-mp", "/services", 1)
				if re := param.ReplaceAllString(regexp.QuoteMeta(op), "[^/]+"); !seen[re] {
					seen[re] = true
					alts = append(alts, re)
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(alts) < 1000 {
		t.Fatalf("read %d operation paths from the SDK sources: the layout changed", len(alts))
	}
	return regexp.MustCompile("^(?:" + strings.Join(alts, "|") + ")$")
}

// schemaChecker walks a decoded JSON body against a binding.
type schemaChecker struct {
	enums  *sdkEnums
	policy bool
	errs   []string
	// extra are fields a real manager sends that the binding leaves out, by binding name.
	extra map[string]map[string]bool
}

func (c *schemaChecker) fail(at, format string, args ...any) {
	c.errs = append(c.errs, at+": "+fmt.Sprintf(format, args...))
}

func (c *schemaChecker) check(at string, v any, bt vb.BindingType) {
	switch b := bt.(type) {
	case vb.OptionalType:
		if v != nil {
			c.check(at, v, b.ElementType())
		}
	case vb.ReferenceType:
		c.check(at, v, b.Resolve())
	case vb.StructType:
		c.checkStruct(at, v, b)
	case vb.DynamicStructType:
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(at, "want an object, got %T", v)
			return
		}
		rt, _ := m["resource_type"].(string)
		sb, ok := byResourceType(c.policy)[rt]
		if !ok {
			c.fail(at, "no binding known for resource_type %q", rt)
			return
		}
		c.check(at, v, sb)
	case vb.ListType:
		xs, ok := v.([]any)
		if !ok {
			c.fail(at, "want a list, got %T", v)
			return
		}
		for i, x := range xs {
			c.check(fmt.Sprintf("%s[%d]", at, i), x, b.ElementType())
		}
	case vb.StringType, vb.IdType, vb.DateTimeType, vb.UriType, vb.EnumType, vb.SecretType:
		if _, ok := v.(string); !ok {
			c.fail(at, "want a string, got %T %v", v, v)
		}
	case vb.IntegerType:
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			c.fail(at, "want an integer, got %T %v", v, v)
		}
	case vb.DoubleType:
		if _, ok := v.(json.Number); !ok {
			c.fail(at, "want a number, got %T %v", v, v)
		}
	case vb.BooleanType:
		if _, ok := v.(bool); !ok {
			c.fail(at, "want a boolean, got %T %v", v, v)
		}
	case vb.OpaqueType:
	default:
		c.fail(at, "binding %T is not checked: add it to the checker", bt)
	}
}

func (c *schemaChecker) checkStruct(at string, v any, st vb.StructType) {
	m, ok := v.(map[string]any)
	if !ok {
		c.fail(at, "want an object (%s), got %T", st.Name(), v)
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	goName := st.BindingStruct().Name()
	for _, k := range keys {
		ft := st.Field(k)
		if ft == nil {
			if !c.extra[st.Name()][k] {
				c.fail(at+"."+k, "%s (%s) has no field %q", goName, st.Name(), k)
			}
			continue
		}
		c.check(at+"."+k, m[k], ft)
		if k == "resource_type" {
			// A static binding's resource_type names its own type (or, for a base type, one the SDK lists).
			if rt, _ := m[k].(string); rt != goName && !contains(c.enums.of(goName, k, st.FieldNames()), rt) {
				c.fail(at+"."+k, "%q is not %s's resource_type", rt, goName)
			}
			continue
		}
		allowed := c.enums.of(goName, k, st.FieldNames())
		if len(allowed) == 0 {
			continue
		}
		// A list of enum values (Tier1.route_advertisement_types, say) has its constants named
		// like a single value's: each element is checked.
		vals, isList := m[k].([]any)
		if !isList {
			vals = []any{m[k]}
		}
		for i, x := range vals {
			if s, isString := x.(string); isString && !contains(allowed, s) {
				where := at + "." + k
				if isList {
					where = fmt.Sprintf("%s[%d]", where, i)
				}
				c.fail(where, "%q is not one of %s.%s's values %v", s, goName, k, allowed)
			}
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// sdkDecode runs the bindings' own decoder and converter on a body: what the SDK's client would do
// (a polymorphic body, a router port or host switch profile by id, converted to its resource_type's
// binding, as the client's caller does).
func sdkDecode(body []byte, bt vb.BindingType, policy bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if _, ok := bt.(vb.DynamicStructType); ok {
		m, _ := v.(map[string]any)
		rt, _ := m["resource_type"].(string)
		if bt, ok = byResourceType(policy)[rt]; !ok {
			return fmt.Errorf("no binding known for resource_type %q", rt)
		}
	}
	dv, err := cleanjson.NewJsonToDataValueDecoder().Decode(v)
	if err != nil {
		return err
	}
	if _, errs := vb.NewTypeConverter().ConvertToGolang(dv, bt); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// served are the requests that reach every kind of answer a server for top gives: every list (to
// its last page, in pages of 2), every object by id or path, every port's state, every filter the
// provider uses, the route table asked right and wrong, and the error bodies.
func served(top *Topology) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, l := range []string{"/api/v1/logical-switches", "/api/v1/logical-ports", "/api/v1/logical-routers", "/api/v1/logical-router-ports",
		"/api/v1/fabric/vifs", "/api/v1/edge-clusters", "/policy/api/v1/infra/segments", "/policy/api/v1/infra/tier-0s", "/policy/api/v1/infra/tier-1s"} {
		add("%s?page_size=2", l)
	}
	for _, x := range top.LogicalSwitches {
		add("/api/v1/logical-switches/%s", x.ID)
	}
	for _, x := range top.LogicalPorts {
		add("/api/v1/logical-ports/%s", x.ID)
		add("/api/v1/logical-ports/%s/state", x.ID)
		if a := x.Attachment; a != nil {
			add("/api/v1/logical-ports?attachment_id=%s", url.QueryEscape(a.ID))
			add("/api/v1/logical-ports?parent_vif_id=%s", url.QueryEscape(a.ID))
		}
	}
	for _, x := range top.LogicalRouters {
		add("/api/v1/logical-routers/%s", x.ID)
		add("/api/v1/logical-routers/%s/routing/static-routes", x.ID)
		add("/api/v1/logical-routers/%s/routing/advertisement", x.ID)
		add("/api/v1/logical-routers/%s/routing/route-table", x.ID)
		for _, tn := range EdgeNodes {
			add("/api/v1/logical-routers/%s/routing/route-table?transport_node_id=%s", x.ID, tn)
		}
		add("/api/v1/logical-router-ports?logical_router_id=%s&resource_type=LogicalRouterLinkPortOnTIER0", x.ID)
	}
	for _, x := range top.LogicalRouterPorts {
		add("/api/v1/logical-router-ports/%s", x.ID)
	}
	for _, x := range top.VIFs {
		add("/api/v1/fabric/vifs?lport_attachment_id=%s", url.QueryEscape(x.LportAttachmentID))
		add("/api/v1/fabric/vifs?owner_vm_id=%s", url.QueryEscape(x.OwnerVMID))
	}
	for _, x := range top.EdgeClusters {
		add("/api/v1/edge-clusters/%s", x.ID)
	}
	for _, x := range top.Segments {
		add("/policy/api/v1%s", x.Path)
		add("/policy/api/v1%s/ports?page_size=2", x.Path)
	}
	for _, x := range top.SegmentPorts {
		add("/policy/api/v1%s", x.Path)
		add("/policy/api/v1%s/state", x.Path)
	}
	for _, x := range append(append([]string{}, pathsOf(top.Tier0s)...), pathsOf(top.Tier1s)...) {
		add("/policy/api/v1%s", x)
		add("/policy/api/v1%s/static-routes", x)
		add("/policy/api/v1/infra/realized-state/realized-entities?intent_path=%s", url.QueryEscape(x))
		if strings.HasPrefix(x, "/infra/tier-0s/") {
			add("/policy/api/v1%s/locale-services", x)
		}
	}
	for _, x := range top.LocaleServices {
		add("/policy/api/v1%s", x.Path)
		add("/policy/api/v1%s/interfaces", x.Path)
	}
	for _, q := range []string{
		`resource_type:LogicalPort AND tags.scope:"ncp/node_name"`,
		`resource_type:LogicalPort AND tags.scope:"ncp/pod"`,
		`resource_type:LogicalPort AND address_bindings.ip_address:"172.16.1.2"`,
	} {
		add("/api/v1/search/query?page_size=2&query=%s", url.QueryEscape(q))
	}
	for _, q := range []string{
		`resource_type:SegmentPort AND tags.scope:"ncp/node_name" AND marked_for_delete:false`,
		`resource_type:SegmentPort AND attachment.type:CHILD AND marked_for_delete:false`,
	} {
		add("/policy/api/v1/search/query?page_size=2&query=%s", url.QueryEscape(q))
	}
	out = append(out, servedServices(top)...)
	out = append(out, overlayServed(top)...)
	add("/api/v1/logical-ports?cursor=bogus")
	add("/api/v1/no-such-api")
	add("/api/v1/search/query?query=%s", url.QueryEscape("not a query"))
	return out
}

func pathsOf[T Tier0 | Tier1](xs []T) []string {
	var out []string
	for _, x := range xs {
		switch v := any(x).(type) {
		case Tier0:
			out = append(out, v.Path)
		case Tier1:
			out = append(out, v.Path)
		}
	}
	return out
}

// TestEveryResponseMatchesTheSDK serves the published topology and a synthetic one grown by
// AddScale (what the scale harness serves), follows every list to its last page, and checks every
// body, error bodies and injected faults included, against the SDK vb.
func TestEveryResponseMatchesTheSDK(t *testing.T) {
	en := enums(t)
	ops := sdkPaths(t)
	pub, err := LoadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	syn := FromFabric(withOverlay(scenario.Synthetic(scenario.SyntheticOptions{Nodes: 4, PodsPerNode: 3, Namespaces: 2}).Fabric))
	syn.AddScale(30, 3)
	addTestServices(pub)
	addTestServices(syn)
	withCriteria(pub)
	withCriteria(syn)
	// A runtime table as a manager serves it on an edge node (route_type as the reference's example).
	pub.RouteTables["lr-t0"] = []RouteEntry{{Network: "0.0.0.0/0", NextHop: "203.0.113.1", RouteType: "t0s", AdminDistance: 1, LRComponentType: "SERVICE_ROUTER_TIER0"},
		{Network: "172.15.0.0/24", NextHop: "100.64.96.5", RouteType: "t1c", LogicalRouterPortID: "lrp-t0-to-nodes"}}
	checked, faulted := 0, 0
	faults := []Fault{{Status: 503, RetryAfter: "1"}, {Status: 429}, {Status: 400, ErrorCode: ErrIndexingInProgress},
		{Status: 400, ErrorCode: ErrSearchTimeout}, {Status: 400, ErrorCode: ErrIndexOutOfSync, Related: []RelatedAPIError{{ErrorCode: 1, ErrorMessage: "x", ModuleName: "search"}}}}
	for name, top := range map[string]*Topology{"published": pub, "synthetic+scale": syn} {
		s := New(top, Options{Password: "pw"})
		// Every fault the tests inject answers with an error body too: one request each (distinct
		// URLs, or the walk below would ask once).
		queue := served(top)
		for i, f := range faults {
			s.Inject("/api/v1/search/query?fault", 1, f)
			queue = append(queue, fmt.Sprintf("/api/v1/search/query?fault=%d&query=resource_type:LogicalPort", i))
		}
		seen := map[string]bool{}
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			if seen[u] {
				continue
			}
			seen[u] = true
			req, _ := http.NewRequest(http.MethodGet, s.URL+u, nil)
			req.SetBasicAuth("admin", "pw")
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			pu, _ := url.Parse(u)
			if resp.StatusCode < 400 && !ops.MatchString(strings.TrimSuffix(pu.Path, "/")) {
				t.Errorf("%s GET %s: served, but no SDK operation has the path", name, u)
			}
			if resp.StatusCode >= 400 && !mayFail(s, pu) {
				t.Errorf("%s GET %s: %d, want an answer: served() asks it to check a body", name, u, resp.StatusCode)
			}
			if pu.Query().Has("fault") {
				if resp.StatusCode < 400 {
					t.Errorf("%s GET %s: %d, want the injected fault", name, u, resp.StatusCode)
				}
				faulted++
			}
			bt, err := bindingFor(pu.Path, resp.StatusCode)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var v any
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%s GET %s (%d): %v: %s", name, u, resp.StatusCode, err, body)
			}
			c := &schemaChecker{enums: en, policy: strings.HasPrefix(pu.Path, "/policy/"),
				extra: map[string]map[string]bool{"com.vmware.nsx.model.api_error": {"httpStatus": true}}}
			c.check("body", v, bt)
			if err := sdkDecode(body, bt, c.policy); err != nil {
				c.fail("body", "the SDK's converter refuses it: %v", err)
			}
			if len(c.errs) > 0 {
				t.Errorf("%s GET %s (%d) does not match the SDK:\n  %s", name, u, resp.StatusCode, strings.Join(c.errs, "\n  "))
			}
			checked++
			// Follow cursors to the last page.
			if m, ok := v.(map[string]any); ok && resp.StatusCode == 200 {
				if cur, ok := m["cursor"].(string); ok && cur != "" {
					q := pu.Query()
					if q.Get("cursor") != cur {
						q.Set("cursor", cur)
						queue = append(queue, pu.Path+"?"+q.Encode())
					}
				}
			}
		}
		s.Close()
	}
	if faulted != 2*len(faults) {
		t.Errorf("%d injected faults answered, want %d", faulted, 2*len(faults))
	}
	t.Logf("%d responses checked against the SDK bindings", checked)
}

// mayFail says whether served() asks u to check an error body: a missing object ("no-such-..."),
// a bad cursor or query, an injected fault, a route table asked without or on the wrong edge node,
// a NAT section a gateway lacks, group associations without intent_path, the advertisement of a
// router that has none, the Policy NAT of a router with no Policy gateway (AddScale's). Any other
// error means a route stopped answering and the body checked is an ApiError, not the one meant.
func mayFail(s *Server, u *url.URL) bool {
	q, p := u.Query(), u.Path
	seg := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case strings.Contains(p, "no-such-"), q.Get("cursor") == "bogus", q.Get("query") == "not a query", q.Has("fault"):
		return true
	case strings.HasSuffix(p, "/routing/route-table"), strings.Contains(p, "/nat/DEFAULT/"):
		return true
	case p == "/policy/api/v1/infra/group-associations" && !q.Has("intent_path"):
		return true
	case strings.HasSuffix(p, "/routing/advertisement"):
		_, ok := s.top.Advertisement[seg[3]]
		return !ok
	case len(seg) >= 7 && seg[0] == "policy" && seg[6] == "nat":
		return !s.policyGatewayExists(seg[4], seg[5])
	}
	return false
}

// The checker fails on what the converter lets through: an unknown field, a bad enum (a single
// value or a list's element), another type's resource_type, a wrong type.
func TestSchemaCheckerCatchesWhatTheConverterAccepts(t *testing.T) {
	en := enums(t)
	for _, tc := range []struct {
		name, body string
		bt         vb.BindingType
	}{
		{"unknown field", `{"resource_type":"LogicalPort","id":"p","logical_switch_id":"s","admin_state":"UP","address_bindingz":[]}`, mp.LogicalPortBindingType()},
		{"bad enum", `{"resource_type":"LogicalPort","id":"p","logical_switch_id":"s","admin_state":"ENABLED"}`, mp.LogicalPortBindingType()},
		{"nested bad enum", `{"resource_type":"LogicalPort","id":"p","attachment":{"attachment_type":"VIF","id":"a","context":{"resource_type":"VifAttachmentContext","vif_type":"KID"}}}`, mp.LogicalPortBindingType()},
		{"bad enum of a field another field's name begins", `{"resource_type":"NSGroupTagExpression","target_type":"LogicalPort","scope":"ncp/pod","scope_op":"SAME"}`, mp.NSGroupTagExpressionBindingType()},
		{"another type's resource_type", `{"resource_type":"LogicalSwitch","id":"p","logical_switch_id":"s"}`, mp.LogicalPortBindingType()},
		{"bad enum of a field with a digit", `{"resource_type":"L4PortSetServiceEntry","id":"s","l4_protocol":"SCTP","destination_ports":["53"]}`, pm.L4PortSetServiceEntryBindingType()},
		{"bad enum in a list", `{"resource_type":"Tier1","id":"t1","route_advertisement_types":["TIER1_CONNECTED","CONNECTED"]}`, pm.Tier1BindingType()},
		{"wrong type", `{"resource_type":"LogicalPort","id":"p","address_bindings":[{"ip_address":"10.0.0.1","vlan":"101"}]}`, mp.LogicalPortBindingType()},
	} {
		var v any
		dec := json.NewDecoder(strings.NewReader(tc.body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		c := &schemaChecker{enums: en}
		c.check("body", v, tc.bt)
		if len(c.errs) != 1 {
			t.Errorf("%s: want the one error, got %q", tc.name, c.errs)
		}
		if tc.name != "wrong type" {
			if err := sdkDecode([]byte(tc.body), tc.bt, false); err != nil {
				t.Errorf("%s: the converter refused it (%v): this case no longer shows what the walk adds", tc.name, err)
			}
		}
	}
}
