package cmd

import "testing"

// TestNodesMadeOnce: the collection and --ofproto-trace share the runner the flags make (the agent
// runner keeps the agent pod it found per node; a second one would LIST the pods again).
func TestNodesMadeOnce(t *testing.T) {
	f := &FactOptions{NodeExec: "ssh {nodeIP}"}
	a, err := f.nodes(&GlobalOptions{})
	if err != nil || a.Runner == nil {
		t.Fatalf("nodes = %+v, %v", a, err)
	}
	b, err := f.nodes(&GlobalOptions{})
	if err != nil || b.Runner != a.Runner {
		t.Errorf("second nodes made runner %p, want the first one %p (%v)", b.Runner, a.Runner, err)
	}
	// A flag the runner cannot be made of is an error each time, never kept.
	bad := &FactOptions{NodeExec: "'ssh"}
	for i := 0; i < 2; i++ {
		if _, err := bad.nodes(&GlobalOptions{}); err == nil {
			t.Errorf("call %d: an unterminated template was accepted", i)
		}
	}
}
