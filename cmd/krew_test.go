package cmd_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The krew manifest (.krew.yaml, a krew-release-bot template) must render to a valid krew Plugin
// whose platforms are exactly what `make dist` builds.
func TestKrewManifest(t *testing.T) {
	tmpl, err := os.ReadFile("../.krew.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("ab", 32)
	addURI := regexp.MustCompile(`\{\{addURIAndSha "([^"]+)" \.TagName \}\}`)
	rendered := addURI.ReplaceAllStringFunc(string(tmpl), func(m string) string {
		uri := addURI.FindStringSubmatch(m)[1]
		return "uri: " + uri + "\n    sha256: " + sha
	})
	rendered = strings.ReplaceAll(rendered, "{{ .TagName }}", "v1.2.3")
	var p struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Version          string `json:"version"`
			Homepage         string `json:"homepage"`
			ShortDescription string `json:"shortDescription"`
			Description      string `json:"description"`
			Caveats          string `json:"caveats"`
			Platforms        []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				URI    string `json:"uri"`
				Sha256 string `json:"sha256"`
				Bin    string `json:"bin"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict([]byte(rendered), &p); err != nil {
		t.Fatalf("rendered manifest: %v\n%s", err, rendered)
	}
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" {
		t.Errorf("apiVersion/kind %s/%s", p.APIVersion, p.Kind)
	}
	if p.Metadata.Name != "packetwalk" {
		t.Errorf("name %q: kubectl finds the plugin as kubectl-packetwalk", p.Metadata.Name)
	}
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(p.Spec.Version) || p.Spec.Homepage == "" || p.Spec.Description == "" {
		t.Errorf("version %q homepage %q", p.Spec.Version, p.Spec.Homepage)
	}
	if n := len(p.Spec.ShortDescription); n == 0 || n > 50 {
		t.Errorf("shortDescription is %d characters; krew wants a short one", n)
	}
	mk, _ := os.ReadFile("../Makefile")
	m := regexp.MustCompile(`(?m)^PLATFORMS := (.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile has no PLATFORMS")
	}
	want := strings.Fields(string(m[1]))
	var got []string
	for _, pl := range p.Spec.Platforms {
		os, arch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		got = append(got, os+"/"+arch)
		if !strings.HasSuffix(pl.URI, "/kubectl-packetwalk_"+os+"_"+arch+".tar.gz") || !strings.Contains(pl.URI, "/v1.2.3/") {
			t.Errorf("%s/%s uri %s does not name the dist archive", os, arch, pl.URI)
		}
		wantBin := "kubectl-packetwalk"
		if os == "windows" {
			wantBin += ".exe"
		}
		if pl.Bin != wantBin || len(pl.Sha256) != 64 {
			t.Errorf("%s/%s bin %q sha256 %q", os, arch, pl.Bin, pl.Sha256)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("krew platforms %v, make dist builds %v", got, want)
	}
}
