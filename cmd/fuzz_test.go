package cmd

import "testing"

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
