package cmd

import (
	"strings"
	"testing"
)

// FuzzSplitWords: the template splitter never panics, and what it returns, quoted back, splits the same.
func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{`ip netns exec lab-{node} kubectl-packetwalk collect node`, `ssh {nodeIP} "sudo ip -j link"`, `a\ b 'c d' "e\"f"`, `'unterminated`, `x\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitWords(s)
		if err != nil {
			return
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
		}
		again, err := splitWords(strings.Join(quoted, " "))
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

func FuzzParseTraceroute(f *testing.F) {
	f.Add("traceroute to 172.15.0.4 (172.15.0.4), 16 hops max\n 1  172.16.1.1  0.512 ms\n 2  *\n 3  100.64.96.5  1.1 ms\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, h := range parseTraceroute(s) {
			if h == "" {
				t.Fatal("empty hop")
			}
		}
	})
}
