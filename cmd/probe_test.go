package cmd

import (
	"reflect"
	"testing"
)

func TestParseTraceroute(t *testing.T) {
	out := "traceroute to 172.15.0.4 (172.15.0.4), 16 hops max, 60 byte packets\n 1  172.16.1.1  0.512 ms\n 2  100.64.96.10  0.8 ms\n 3  *\n 4  172.15.0.4  1.2 ms\n"
	want := []string{"172.16.1.1", "100.64.96.10", "*", "172.15.0.4"}
	if got := parseTraceroute(out); !reflect.DeepEqual(got, want) {
		t.Errorf("parseTraceroute = %q, want %q", got, want)
	}
}
