package render_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"

	"github.com/packetwalk/kubectl-packetwalk/render"
	"github.com/packetwalk/kubectl-packetwalk/trace"
	"github.com/packetwalk/kubectl-packetwalk/trace/scenario"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/golden/NAME, printing WANT and GOT on a mismatch.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `make update-golden`)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run `make update-golden` if the change is intended)\n--- WANT\n%s\n--- GOT\n%s", name, want, got)
	}
}

func walkOf(t *testing.T, variant string) *trace.Walk {
	t.Helper()
	s := scenario.Published()
	for _, v := range scenario.Variants {
		if v.Name == variant {
			v.Break(s)
		}
	}
	w, err := trace.WalkSnapshot(s, trace.Request{Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWalkGoldens(t *testing.T) {
	for _, sc := range []string{"published", "vlan-mismatch", "return-route-missing"} {
		w := walkOf(t, sc)
		for _, f := range render.WalkFormats {
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

func TestColorOnlyWhenAsked(t *testing.T) {
	w := walkOf(t, "vlan-mismatch")
	var plain, colored bytes.Buffer
	_ = render.WriteWalk(&plain, w, render.Table, render.Options{})
	_ = render.WriteWalk(&colored, w, render.Table, render.Options{Color: true})
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("colour escape codes without Color")
	}
	if !strings.Contains(colored.String(), "\x1b[31;1mbroken") {
		t.Error("no red 'broken' with Color")
	}
	golden(t, filepath.Join("walk", "vlan-mismatch.table-color"), colored.Bytes())
}

// JSON and YAML come from the same structs: the YAML converts back to the same JSON.
func TestJSONAndYAMLAgree(t *testing.T) {
	w := walkOf(t, "published")
	var j, y bytes.Buffer
	_ = render.WriteWalk(&j, w, render.JSON, render.Options{})
	_ = render.WriteWalk(&y, w, render.YAML, render.Options{})
	fromYAML, err := yaml.YAMLToJSON(y.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal(j.Bytes(), &a)
	_ = json.Unmarshal(fromYAML, &b)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("YAML and JSON differ:\n%s\n%s", ja, jb)
	}
}

func TestBrokenHopMarkedInPictures(t *testing.T) {
	w := walkOf(t, "vlan-mismatch")
	var dot, mm bytes.Buffer
	_ = render.WriteWalk(&dot, w, render.Dot, render.Options{})
	_ = render.WriteWalk(&mm, w, render.Mermaid, render.Options{})
	if !strings.Contains(dot.String(), "h6 [label=\"fabric-port: kube-system_kube-dns") || !strings.Contains(dot.String(), "color=red") {
		t.Errorf("dot does not mark hop 6 red:\n%s", dot.String())
	}
	if !strings.Contains(mm.String(), "class h6 broken;") || !strings.Contains(mm.String(), "h5 -->|broken| h6") {
		t.Errorf("mermaid does not mark hop 6 broken:\n%s", mm.String())
	}
}

func TestMACsGoldens(t *testing.T) {
	mt, err := trace.NewIndex(scenario.Published()).MACs("172.15.0.3")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range render.ListFormats {
		t.Run(string(f), func(t *testing.T) {
			var b bytes.Buffer
			if err := render.WriteMACs(&b, mt, f, render.Options{}); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("macs", "published-172.15.0.3."+string(f)), b.Bytes())
		})
	}
	if err := render.WriteMACs(&bytes.Buffer{}, mt, render.Dot, render.Options{}); err == nil {
		t.Error("macs -o dot should be refused")
	}
}

func TestFormatValue(t *testing.T) {
	f := render.Table
	v := render.FormatValue{F: &f, Allowed: render.ListFormats}
	if err := v.Set("dot"); err == nil || err.Error() != "must be one of table|wide|json|yaml" {
		t.Errorf("Set(dot) = %v", err)
	}
	if err := v.Set("json"); err != nil || f != render.JSON {
		t.Errorf("Set(json) = %v, f = %s", err, f)
	}
}

// JUnit reports validate against the JUnit XML schema (testdata/junit/junit.xsd) with xmllint,
// and a schema violation is caught (the validation is not a no-op).
func TestJUnitValidatesAgainstSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		labtest.Unavailable(t, "xmllint", "install the Debian package libxml2-utils")
	}
	s := scenario.Published()
	scenario.Variants[0].Break(s)
	for i := range s.Fabric.Switches {
		s.Fabric.Switches[i].Name += " ]]>" // in each walk's table, the test case's system-out
	}
	ix := trace.NewIndex(s)
	specs := []trace.CheckSpec{
		{Name: "fails", Source: trace.PodRef{Namespace: "kube-system", Name: "kube-dns"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.4"}},
		{Name: "passes <&> ]]>", Source: trace.PodRef{Namespace: "default", Name: "nginx-3"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.5"}},
		{Name: "errors", Source: trace.PodRef{Namespace: "default", Name: "gone"}, To: trace.Target{Kind: trace.TargetNode, Name: "172.15.0.5"}},
	}
	rep := trace.RunChecks(context.Background(), ix, specs, trace.CheckOptions{})
	var b bytes.Buffer
	if err := render.WriteJUnit(&b, rep, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "report.xml")
	_ = os.WriteFile(good, b.Bytes(), 0o644)
	xsd := filepath.Join("..", "testdata", "junit", "junit.xsd")
	if out, err := exec.Command(xmllint, "--noout", "--schema", xsd, good).CombinedOutput(); err != nil {
		t.Fatalf("JUnit report does not validate: %v\n%s\n%s", err, out, b.String())
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Out string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Suites[0].Cases
	if len(c) != 3 || c[0].Failure == nil || !strings.Contains(c[0].Failure.Message, "VLAN mismatch") || !strings.Contains(c[0].Out, "verdict: broken at hop 6") || c[1].Name != "passes <&> ]]>" {
		t.Errorf("JUnit content: %+v", c)
	}
	if len(c) > 1 && (!strings.Contains(c[1].Out, " ]]>") || strings.Contains(c[1].Out, "]]]]>")) {
		t.Errorf("a walk's table with ]]> does not read back as written:\n%s", c[1].Out)
	}
	bad := filepath.Join(dir, "bad.xml")
	_ = os.WriteFile(bad, []byte(strings.Replace(b.String(), ` tests="3"`, ` tests="three"`, 1)), 0o644)
	if err := exec.Command(xmllint, "--noout", "--schema", xsd, bad).Run(); err == nil {
		t.Error("xmllint accepted a report with tests=\"three\": the schema check is not working")
	}
}
