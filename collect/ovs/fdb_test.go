package ovs

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// fdbText is what ovs-appctl fdb/show br-int prints on OVS 3.1.
const fdbText = ` port  VLAN  MAC                Age
    1   101  02:50:56:56:44:52    1
    3   101  02:50:56:00:03:01    1
LOCAL     0  7A:3D:10:00:00:03    ?
   11   109  02:50:56:00:03:09  296
`

func TestParseFDB(t *testing.T) {
	got, err := ParseFDB("br-int", fdbText)
	if err != nil {
		t.Fatal(err)
	}
	want := []trace.MACEntry{
		{Bridge: "br-int", Port: "1", VLAN: 101, MAC: "02:50:56:56:44:52", Age: 1},
		{Bridge: "br-int", Port: "3", VLAN: 101, MAC: "02:50:56:00:03:01", Age: 1},
		{Bridge: "br-int", Port: "LOCAL", VLAN: 0, MAC: "7a:3d:10:00:00:03", Age: 0},
		{Bridge: "br-int", Port: "11", VLAN: 109, MAC: "02:50:56:00:03:09", Age: 296},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseFDB:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseFDBEmptyTable(t *testing.T) {
	for _, text := range []string{"", " port  VLAN  MAC                Age\n", "\n\n"} {
		got, err := ParseFDB("br-int", text)
		if err != nil || len(got) != 0 {
			t.Errorf("ParseFDB(%q) = %v, %v; want no entries, no error", text, got, err)
		}
	}
}

func TestParseFDBBadLines(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"    1   101  02:50:56:56:44:52", `line 2: expected "PORT VLAN MAC AGE"`},
		{"    1   abc  02:50:56:56:44:52  1", `line 2: VLAN "abc" is not a number`},
		{"    1   101  02:50:56:56:44  1", `line 2: "02:50:56:56:44" is not a MAC address`},
		{"    1   101  02-50-56-56-44-52  1", `is not a MAC address`},
		{"    1   101  02:50:56:56:44:5g  1", `is not a MAC address`},
		{"    1   101  02:50:56:56:44:52  x", `line 2: age "x" is not a number`},
		{"ovs-appctl: cannot connect to \"/x\"", `expected "PORT VLAN MAC AGE"`},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, err := ParseFDB("br-int", " port  VLAN  MAC                Age\n"+tc.line+"\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseFDB(%q) error = %v, want it to contain %q", tc.line, err, tc.want)
			}
		})
	}
}

// bigFDB is n lines of fdb/show over 250 ports and 250 VLANs.
func bigFDB(n int) string {
	var b strings.Builder
	b.Grow(n * 40)
	b.WriteString(" port  VLAN  MAC                Age\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%5d  %4d  02:50:%02x:%02x:%02x:%02x  %3d\n", i%250+1, i%250+1, byte(i>>24), byte(i>>16), byte(i>>8), byte(i), i%300)
	}
	return b.String()
}

func TestParseFDBMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	got, err := ParseFDB("br-int", bigFDB(1_000_000))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1_000_000 {
		t.Fatalf("got %d entries, want 1000000", len(got))
	}
	if e := got[999_999]; e.Port != "250" || e.VLAN != 250 || e.MAC != "02:50:00:0f:42:3f" || e.Age != 999_999%300 {
		t.Errorf("last entry %+v", e)
	}
}

// BenchmarkParseFDBMillion parses 1,000,000 fdb/show lines per op (the target is under 1 s).
func BenchmarkParseFDBMillion(b *testing.B) {
	text := bigFDB(1_000_000)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ParseFDB("br-int", text); err != nil {
			b.Fatal(err)
		}
	}
}
