package ovs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// ParseFDB parses the text of `ovs-appctl fdb/show BRIDGE` (the same text ovs-vswitchd's unixctl
// fdb/show returns) into MAC table entries, in the order printed. Equivalent to reading:
//
//	 port  VLAN  MAC                Age
//	    1   101  02:50:56:56:44:52    1
//	LOCAL     0  7a:3d:10:00:00:03    5
//
// MACs are lower-cased; Port is kept as printed ("1", "LOCAL"); an Age of "?" (static) is 0.
// A line that is not four fields with a numeric VLAN and a MAC is an error naming the line.
func ParseFDB(bridge, text string) ([]trace.MACEntry, error) {
	// One entry per line: count newlines once so the slice is allocated once.
	out := make([]trace.MACEntry, 0, strings.Count(text, "\n"))
	var ports portNames
	lineNo := 0
	for len(text) > 0 {
		var line string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, ""
		}
		lineNo++
		var f [5]string
		n := fields(line, &f)
		if n == 0 {
			continue
		}
		if n >= 3 && f[0] == "port" && f[1] == "VLAN" {
			continue // the header
		}
		if n != 4 {
			return nil, fmt.Errorf("fdb/show %s line %d: expected \"PORT VLAN MAC AGE\", got %q", bridge, lineNo, line)
		}
		vlan, ok := atoi(f[1])
		if !ok {
			return nil, fmt.Errorf("fdb/show %s line %d: VLAN %q is not a number", bridge, lineNo, f[1])
		}
		mac, ok := parseMAC(f[2])
		if !ok {
			return nil, fmt.Errorf("fdb/show %s line %d: %q is not a MAC address", bridge, lineNo, f[2])
		}
		age := 0
		if f[3] != "?" {
			if age, ok = atoi(f[3]); !ok {
				return nil, fmt.Errorf("fdb/show %s line %d: age %q is not a number", bridge, lineNo, f[3])
			}
		}
		out = append(out, trace.MACEntry{Bridge: bridge, Port: ports.get(f[0]), VLAN: vlan, MAC: mac, Age: age})
	}
	return out, nil
}

// fields splits on spaces and tabs into f without allocating; it returns how many it found (at
// most len(f), the rest is ignored but counted so that a long line is rejected).
func fields(s string, f *[5]string) int {
	n := 0
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
			i++
		}
		if i == len(s) {
			break
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\r' {
			j++
		}
		if n < len(f) {
			f[n] = s[i:j]
		}
		n++
		i = j
	}
	return n
}

func atoi(s string) (int, bool) {
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseMAC checks xx:xx:xx:xx:xx:xx and returns it lower-cased in a string of its own, so the
// entries do not keep the whole fdb/show text alive.
func parseMAC(s string) (string, bool) {
	if len(s) != 17 {
		return "", false
	}
	var b [17]byte
	for i := 0; i < 17; i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return "", false
			}
			b[i] = c
			continue
		}
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", false
		}
		b[i] = c
	}
	return string(b[:]), true
}

// portNames interns port names: a bridge has few ports and many MACs.
type portNames map[string]string

func (p *portNames) get(s string) string {
	if *p == nil {
		*p = portNames{}
	}
	if v, ok := (*p)[s]; ok {
		return v
	}
	v := strings.Clone(s)
	if n, err := strconv.Atoi(s); err == nil {
		v = strconv.Itoa(n)
	}
	(*p)[v] = v
	(*p)[s] = v
	return v
}
