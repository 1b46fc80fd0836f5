package ovs

import (
	"regexp"
	"slices"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// OFProtoTraceArgv is the command that traces one packet through a bridge's OpenFlow tables.
// Equivalent to: ovs-appctl ofproto/trace BRIDGE FLOW. Each value is one argument: a runner passes
// it on quoted, never through a shell.
func OFProtoTraceArgv(bridge, flow string) []string {
	return []string{"ovs-appctl", "ofproto/trace", bridge, flow}
}

// maxTraceLines bounds the lines of a trace kept as evidence.
const maxTraceLines = 80

var (
	groupRe = regexp.MustCompile(`\bgroup:([0-9]+)`)
	natRe   = regexp.MustCompile(`nat\((dst|src)=([^),]+)`)
)

// ParseOFProtoTrace reads what ofproto/trace printed: the final datapath actions, the groups the
// packet went through, the address conntrack NAT translated it to (the destination first), and the
// trace's lines (without the underlines), for evidence.
func ParseOFProtoTrace(out string) trace.OFProtoTrace {
	var t trace.OFProtoTrace
	var dnat, snat string
	for _, l := range strings.Split(out, "\n") {
		s := strings.TrimSpace(l)
		if s == "" || strings.Trim(s, "-") == "" {
			continue
		}
		if a, ok := strings.CutPrefix(s, "Datapath actions:"); ok {
			t.DatapathActions = strings.TrimSpace(a)
		}
		for _, m := range groupRe.FindAllString(s, -1) {
			if !slices.Contains(t.Groups, m) {
				t.Groups = append(t.Groups, m)
			}
		}
		for _, m := range natRe.FindAllStringSubmatch(s, -1) {
			if m[1] == "dst" && dnat == "" {
				dnat = m[2]
			}
			if m[1] == "src" && snat == "" {
				snat = m[2]
			}
		}
		if len(t.Output) < maxTraceLines {
			t.Output = append(t.Output, strings.TrimRight(l, " "))
		}
	}
	t.NAT = dnat
	if t.NAT == "" {
		t.NAT = snat
	}
	return t
}
