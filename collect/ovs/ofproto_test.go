package ovs

import (
	"slices"
	"testing"
)

// A trace through nsx-kube-proxy style flows: a select group, conntrack DNAT, recirculation.
const groupTrace = `Flow: tcp,in_port=3,vlan_tci=0x0000,dl_src=02:50:56:00:03:01,dl_dst=02:50:56:56:44:52,nw_src=172.16.1.2,nw_dst=10.96.0.80,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=0,tp_dst=80,tcp_flags=0

bridge("br-int")
----------------
 0. tcp,nw_dst=10.96.0.80,tp_dst=80, priority 100
    group:12
     -> using bucket 0
    bucket 0
            ct(commit,table=1,zone=5,nat(dst=172.16.0.6:8080))
            nat(dst=172.16.0.6:8080)
             -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table 1.

Final flow: unchanged
Megaflow: recirc_id=0,eth,tcp,in_port=3,nw_dst=10.96.0.80,nw_frag=no,tp_dst=80
Datapath actions: ct(commit,zone=5,nat(dst=172.16.0.6:8080)),recirc(0x1)
`

func TestParseOFProtoTrace(t *testing.T) {
	tr := ParseOFProtoTrace(groupTrace)
	if tr.DatapathActions != "ct(commit,zone=5,nat(dst=172.16.0.6:8080)),recirc(0x1)" || tr.NAT != "172.16.0.6:8080" || !slices.Equal(tr.Groups, []string{"group:12"}) {
		t.Errorf("%+v", tr)
	}
	if len(tr.Output) == 0 || tr.Output[0][:5] != "Flow:" || slices.Contains(tr.Output, "----------------") {
		t.Errorf("output %q", tr.Output)
	}
	plain := ParseOFProtoTrace("Flow: icmp,in_port=3\n\nbridge(\"br-int\")\n----------------\n 0. priority 0\n    NORMAL\n\nDatapath actions: push_vlan(vid=101,pcp=0),1\n")
	if plain.DatapathActions != "push_vlan(vid=101,pcp=0),1" || plain.NAT != "" || len(plain.Groups) != 0 {
		t.Errorf("%+v", plain)
	}
	if a := OFProtoTraceArgv("br-int", "in_port=3,tcp"); !slices.Equal(a, []string{"ovs-appctl", "ofproto/trace", "br-int", "in_port=3,tcp"}) {
		t.Errorf("argv %q", a)
	}
}

func FuzzParseOFProtoTrace(f *testing.F) {
	f.Add(groupTrace)
	f.Add("Datapath actions: drop\n")
	f.Fuzz(func(t *testing.T, s string) {
		tr := ParseOFProtoTrace(s)
		if len(tr.Output) > maxTraceLines {
			t.Fatalf("%d lines kept", len(tr.Output))
		}
	})
}
