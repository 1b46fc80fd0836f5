package scenario

import (
	"bytes"
	"os"
	"path/filepath"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// Files returns the scenario snapshot files by path relative to testdata/scenarios: the published
// walk and each broken variant.
func Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	enc := func(s *trace.Snapshot) ([]byte, error) {
		var b bytes.Buffer
		err := trace.WriteSnapshot(&b, s)
		return b.Bytes(), err
	}
	b, err := enc(Published())
	if err != nil {
		return nil, err
	}
	out[filepath.Join("nsx-published", "snapshot.json")] = b
	for _, v := range append(append([]Variant{}, Variants...), OverlayVariants...) {
		s := Published()
		v.Break(s)
		b, err := enc(s)
		if err != nil {
			return nil, err
		}
		out[filepath.Join("nsx-published", "broken", v.Name+".json")] = b
	}
	// The Service scenario (service.go) and its broken variants.
	if out[filepath.Join("nsx-service", "snapshot.json")], err = enc(Service()); err != nil {
		return nil, err
	}
	for _, v := range ServiceVariants {
		s := Service()
		v.Break(s)
		if out[filepath.Join("nsx-service", "broken", v.Name+".json")], err = enc(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WriteFiles writes Files under dir.
func WriteFiles(dir string) error {
	files, err := Files()
	if err != nil {
		return err
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
