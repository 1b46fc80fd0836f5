package trace

import "fmt"

// Hint names facts a walk lacked, so that the command can say which of its flags collect them:
// nothing in trace/ names a flag.
type Hint string

// Hints a hop can carry (Hop.Hint).
const (
	// HintFabricFacts: the snapshot has no fabric facts, so no logical switch or router is walked.
	HintFabricFacts Hint = "fabric-facts"
	// HintNodeFacts: the snapshot has no facts from the hop's node.
	HintNodeFacts Hint = "node-facts"
)

// TargetSyntaxError is a destination that is not node/NAME, pod/NS/NAME, svc/NS/NAME[:PORT], an
// IP address or IP:PORT; the command prefixes the flag or field it came from.
type TargetSyntaxError struct{ Input string }

// Error says which forms a destination takes.
func (e *TargetSyntaxError) Error() string {
	return fmt.Sprintf("must be node/NAME, pod/NS/NAME, svc/NS/NAME[:PORT], an IP address or IP:PORT, got %q", e.Input)
}
