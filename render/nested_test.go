package render_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
	"github.com/packetwalk/kubectl-packetwalk/render"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
)

// scenarioNames are the published walk and every broken variant.
func scenarioNames() []string {
	names := []string{"published"}
	for _, v := range scenario.Variants {
		names = append(names, v.Name)
	}
	return names
}

// Every scenario has dot and mermaid goldens (TestDotGoldensLayOut has Graphviz lay out each dot
// one, so the goldens are checked here even where Graphviz is missing).
func TestPictureGoldens(t *testing.T) {
	walks := map[string]*trace.Walk{}
	for _, sc := range scenarioNames() {
		walks[sc] = walkOf(t, sc)
	}
	// The published cluster on two OVN hypervisors, healthy and broken (tunnel, MTU, firewall).
	for _, v := range append([]string{""}, scenario.OVNOverlayVariants...) {
		name := strings.TrimSuffix("ovn-overlay-"+v, "-")
		w, err := trace.WalkSnapshot(scenario.OVNOverlay(v), trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}})
		if err != nil {
			t.Fatal(err)
		}
		walks[name] = w
	}
	for _, sc := range slices.Sorted(maps.Keys(walks)) {
		w := walks[sc]
		for _, f := range []render.Format{render.Dot, render.Mermaid} {
			t.Run(sc+"/"+string(f), func(t *testing.T) {
				var b bytes.Buffer
				if err := render.WriteWalk(&b, w, f, render.Options{}); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("walk", sc+"."+string(f)), b.Bytes())
			})
		}
	}
}

// gvLayout is what `dot -Tjson` says about a laid-out graph: clusters with their boxes, nodes with
// their positions, edges by node.
type gvLayout struct {
	Objects []struct {
		ID    int    `json:"_gvid"`
		Name  string `json:"name"`
		Label string `json:"label"`
		BB    string `json:"bb"`
		Pos   string `json:"pos"`
	} `json:"objects"`
	Edges []struct {
		Tail  int    `json:"tail"`
		Head  int    `json:"head"`
		Label string `json:"label"`
	} `json:"edges"`
}

// layout runs Graphviz on a dot picture: it must accept it, as SVG and as JSON.
func layout(t *testing.T, dotBin string, src []byte) gvLayout {
	t.Helper()
	for _, format := range []string{"-Tsvg", "-Tjson"} {
		c := exec.Command(dotBin, format)
		c.Stdin = bytes.NewReader(src)
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		if err := c.Run(); err != nil || errb.Len() > 0 {
			t.Fatalf("dot %s: %v %s\n%s", format, err, errb.String(), src)
		}
		if format == "-Tjson" {
			var g gvLayout
			if err := json.Unmarshal(out.Bytes(), &g); err != nil {
				t.Fatal(err)
			}
			return g
		}
	}
	return gvLayout{}
}

func floats(s string) []float64 {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, _ := strconv.ParseFloat(strings.TrimSpace(f), 64)
		out = append(out, v)
	}
	return out
}

// boxesAround lists the labels of the clusters whose drawn box holds the node's position, outermost
// (largest) first: where Graphviz actually drew the node.
func (g gvLayout) boxesAround(node string) []string {
	var pos []float64
	for _, o := range g.Objects {
		if o.Name == node {
			pos = floats(o.Pos)
		}
	}
	type hit struct {
		label string
		area  float64
	}
	var hits []hit
	for _, o := range g.Objects {
		if o.BB == "" || len(pos) != 2 || !strings.HasPrefix(o.Name, "cluster_") {
			continue
		}
		bb := floats(o.BB)
		if pos[0] >= bb[0] && pos[0] <= bb[2] && pos[1] >= bb[1] && pos[1] <= bb[3] {
			hits = append(hits, hit{o.Label, (bb[2] - bb[0]) * (bb[3] - bb[1])})
		}
	}
	for i := range hits {
		for j := i + 1; j < len(hits); j++ {
			if hits[j].area > hits[i].area {
				hits[i], hits[j] = hits[j], hits[i]
			}
		}
	}
	var out []string
	for _, h := range hits {
		out = append(out, strings.SplitN(h.label, "\\n", 2)[0])
	}
	return out
}

func (g gvLayout) bb(cluster string) []float64 {
	for _, o := range g.Objects {
		if o.Name == cluster {
			return floats(o.BB)
		}
	}
	return nil
}

func (g gvLayout) edge(from, to string) (string, bool) {
	ids := map[string]int{}
	for _, o := range g.Objects {
		ids[o.Name] = o.ID
	}
	for _, e := range g.Edges {
		if e.Tail == ids[from] && e.Head == ids[to] {
			return e.Label, true
		}
	}
	return "", false
}

// twoHypervisors is the published walk with its node VMs on two hypervisors: a Geneve tunnel
// crosses from esx-1 to esx-2 before the destination's logical port, and back on the return path,
// where it is down (the transport hops as the engine writes them).
func twoHypervisors(t *testing.T) *trace.Walk {
	w := walkOf(t, "published")
	var hops []trace.Hop
	for i, h := range w.Hops {
		if h.Kind == trace.HopTransport {
			continue // the engine's own, between the published scenario's placeholder hosts: replaced below
		}
		if h.Kind == trace.HopFabricPort && i > 0 && h.Node == "172.15.0.4" && h.Direction == trace.Forward {
			hops = append(hops, trace.Hop{Kind: trace.HopTransport, Name: "esx-1 → esx-2", Direction: trace.Forward, Status: trace.StatusOK, IP: "192.168.10.12",
				Detail:    "geneve tunnel 192.168.10.11 → 192.168.10.12, up",
				Transport: &trace.TransportDetail{LocalHost: "esx-1", RemoteHost: "esx-2", LocalTEP: "192.168.10.11", RemoteTEP: "192.168.10.12", Encap: "geneve", State: "up", InnerMTU: 1500, MTUNeeded: 1558, UnderlayMTU: 1600}})
		}
		if h.Kind == trace.HopFabricPort && h.Node == "172.15.0.3" && h.Direction == trace.Return {
			hops = append(hops, trace.Hop{Kind: trace.HopTransport, Name: "esx-2 → esx-1", Direction: trace.Return, Status: trace.StatusBroken, IP: "192.168.10.11",
				Detail:    "tunnel ovn-esx1-0 from esx-2 (192.168.10.12) to esx-1 (192.168.10.11) is down: BFD Control Detection Time Expired",
				Transport: &trace.TransportDetail{LocalHost: "esx-2", RemoteHost: "esx-1", LocalTEP: "192.168.10.12", RemoteTEP: "192.168.10.11", Encap: "geneve", State: "down", BFDDiagnostic: "Control Detection Time Expired"}})
		}
		hops = append(hops, h)
	}
	for i := range hops {
		hops[i].Index = i + 1
	}
	w.Hops = hops
	return w
}

// The picture draws where things are: the pod inside its netns inside its node VM on its
// hypervisor, the OVS hops in the node's bridge, the fabric's switches and routers in their own
// box, the tunnel as an edge between the hypervisors' TEPs, forward and return side by side.
func TestPicturesNest(t *testing.T) {
	dotBin, err := exec.LookPath("dot")
	if err != nil {
		labtest.Unavailable(t, "graphviz (dot)", "install the Debian package graphviz")
	}
	w := twoHypervisors(t)
	var b bytes.Buffer
	if err := render.WriteWalk(&b, w, render.Dot, render.Options{}); err != nil {
		t.Fatal(err)
	}
	g := layout(t, dotBin, b.Bytes())
	hop := func(kind trace.HopKind, node string, dir trace.Direction) string {
		for _, h := range w.Hops {
			if h.Kind == kind && h.Node == node && h.Direction == dir {
				return "h" + strconv.Itoa(h.Index)
			}
		}
		t.Fatalf("no %s hop on %s (%s)", kind, node, dir)
		return ""
	}
	for _, tc := range []struct {
		name, id string
		want     []string
	}{
		{"the pod in its netns in its node VM on its hypervisor", hop(trace.HopPod, "172.15.0.3", trace.Forward),
			[]string{"forward path", "hypervisor esx-1", "node VM 172.15.0.3", "pod netns cni-kube-system-kube-dns"}},
		{"the MAC table in the node's OVS bridge", hop(trace.HopMACTable, "172.15.0.3", trace.Forward),
			[]string{"forward path", "hypervisor esx-1", "node VM 172.15.0.3", "OVS br-int"}},
		{"the pod's logical port on its hypervisor, outside the VM", hop(trace.HopFabricPort, "172.15.0.3", trace.Forward),
			[]string{"forward path", "hypervisor esx-1"}},
		{"the destination node VM on the other hypervisor", hop(trace.HopNode, "172.15.0.4", trace.Forward),
			[]string{"forward path", "hypervisor esx-2", "node VM 172.15.0.4"}},
		{"the destination's routing table on the return path, in its VM", hop(trace.HopRoute, "172.15.0.4", trace.Return),
			[]string{"return path", "hypervisor esx-2", "node VM 172.15.0.4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := g.boxesAround(tc.id); strings.Join(got, " > ") != strings.Join(tc.want, " > ") {
				t.Errorf("%s drawn in %q, want %q", tc.id, got, tc.want)
			}
		})
	}
	t.Run("routers and switches in the fabric box", func(t *testing.T) {
		for _, h := range w.Hops {
			if h.Kind == trace.HopRouter || h.Kind == trace.HopSwitch {
				got := g.boxesAround("h" + strconv.Itoa(h.Index))
				if len(got) != 2 || got[1] != "fabric: logical switches and routers" {
					t.Errorf("hop %d %s %s drawn in %q", h.Index, h.Kind, h.Name, got)
				}
			}
		}
	})
	t.Run("the tunnel is an edge from one hypervisor's TEP to the other's", func(t *testing.T) {
		label, ok := g.edge("f_hv1_tep", "f_hv2_tep")
		if !ok || !strings.Contains(label, "geneve, up") || !strings.Contains(label, "MTU needed 1558, underlay 1600") {
			t.Errorf("forward tunnel edge %v %q", ok, label)
		}
		if got := g.boxesAround("f_hv1_tep"); len(got) != 2 || got[1] != "hypervisor esx-1" {
			t.Errorf("TEP of esx-1 drawn in %q", got)
		}
		label, ok = g.edge("r_hv1_tep", "r_hv2_tep")
		if !ok || !strings.Contains(label, "BROKEN: tunnel ovn-esx1-0") || !strings.Contains(label, "BFD Control Detection Time Expired") {
			t.Errorf("return tunnel edge %v %q", ok, label)
		}
	})
	t.Run("forward and return side by side", func(t *testing.T) {
		f, r := g.bb("cluster_f"), g.bb("cluster_r")
		if f == nil || r == nil || !(f[2] < r[0] || r[2] < f[0]) {
			t.Errorf("forward box %v and return box %v overlap left to right", f, r)
		}
	})

	var mm bytes.Buffer
	if err := render.WriteWalk(&mm, w, render.Mermaid, render.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"subgraph f_hv1[\"hypervisor esx-1<br/>TEP 192.168.10.11\"]",
		"subgraph f_hv1_n1[\"node VM 172.15.0.3\"]",
		"subgraph f_hv1_n1_ns[\"pod netns cni-kube-system-kube-dns\"]",
		"f_hv1_tep <==>|",
		"subgraph r[\"return path\"]",
	} {
		if !strings.Contains(mm.String(), want) {
			t.Errorf("mermaid lacks %q:\n%s", want, mm.String())
		}
	}
}

// A consequence points at its cause; nothing leaves the root cause, where the packet stops.
func TestPicturesPointAtTheCause(t *testing.T) {
	w := walkOf(t, "vlan-mismatch")
	var dot, mm bytes.Buffer
	_ = render.WriteWalk(&dot, w, render.Dot, render.Options{})
	_ = render.WriteWalk(&mm, w, render.Mermaid, render.Options{})
	if !strings.Contains(dot.String(), `h5 -> h6 [color=red, style=dotted, label="caused by"`) || strings.Contains(dot.String(), "h6 -") {
		t.Errorf("dot:\n%s", dot.String())
	}
	if !strings.Contains(mm.String(), `h5 -.->|"caused by"| h6`) || strings.Contains(mm.String(), "h6 -") {
		t.Errorf("mermaid:\n%s", mm.String())
	}
}

// Every dot golden, whoever's test writes it, is a picture Graphviz lays out.
func TestDotGoldensLayOut(t *testing.T) {
	dotBin, err := exec.LookPath("dot")
	if err != nil {
		labtest.Unavailable(t, "graphviz (dot)", "install the Debian package graphviz")
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "golden", "*", "*.dot"))
	if len(files) < len(scenarioNames()) {
		t.Fatalf("%d dot goldens, want at least one per scenario (%d)", len(files), len(scenarioNames()))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			layout(t, dotBin, b)
		})
	}
}
