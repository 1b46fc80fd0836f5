package runner

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/collect/labtest"
)

// FuzzSplit: Split never panics, errors are one line, and words quoted back split the same.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{`ip netns exec lab-{node} kubectl-packetwalk collect node`, `ssh {nodeIP} "sudo ip -j link"`,
		`a\ b 'c d' "e\"f" "\$x" '\'`, `'unterminated`, `x\`, `"a\`, "a\tb\nc", `""`, `''x''`, `kubectl exec -n {namespace} {pod} --`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := Split(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, quote(w))
		}
		again, err := Split(strings.Join(quoted, " "))
		if err != nil || len(again) != len(words) {
			t.Fatalf("%q -> %q -> %q (%v)", s, words, again, err)
		}
		for i := range words {
			if again[i] != words[i] {
				t.Fatalf("word %d: %q vs %q", i, words[i], again[i])
			}
		}
	})
}

// FuzzSplitMatchesShell: on templates made of words, quotes and backslashes only (nothing a shell
// would expand or treat as an operator), Split gives the words /bin/sh gives.
func FuzzSplitMatchesShell(f *testing.F) {
	labtest.RequireBinaries(f, "sh")
	for _, s := range []string{`ssh {nodeIP} "sudo ip -j link"`, `a\ b 'c d' "e\"f" "\\x" 'y\'`, `"a'b" 'a"b' \"`, `-o=x   y`, `"\a\b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []byte(s) {
			ok := c == ' ' || c == '\t' || c == '\'' || c == '"' || c == '\\' || c == '{' || c == '}' || c == '-' || c == '=' || c == '.' || c == '/' || c == ':' || c == '@' || c == ',' ||
				c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
			if !ok || len(s) > 200 {
				return
			}
		}
		words, err := Split(s)
		cmd := exec.Command("sh", "-c", "printf '%s\\0' X "+s)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		shErr := cmd.Run()
		if err != nil && err.Error() == "trailing backslash" && shErr == nil {
			return // stricter on purpose: sh keeps a last lone backslash literally, a typo more likely than meant
		}
		if (err != nil) != (shErr != nil) {
			t.Fatalf("%q: Split error %v, sh error %v %s", s, err, shErr, errb.String())
		}
		if err != nil {
			return
		}
		got := strings.Split(strings.TrimSuffix(out.String(), "\x00"), "\x00")[1:]
		if len(got) != len(words) {
			t.Fatalf("%q: Split %q, sh %q", s, words, got)
		}
		for i := range got {
			if got[i] != words[i] {
				t.Fatalf("%q: Split %q, sh %q", s, words, got)
			}
		}
	})
}
