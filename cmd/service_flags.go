package cmd

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// addServiceFlags registers the flags of a walk to a Service or a port.
func (o *TraceOptions) addServiceFlags(f *pflag.FlagSet) {
	f.StringVar(&o.Endpoint, "endpoint", o.Endpoint, "walk to a Service: only the endpoint with this IP, IP:PORT or NS/POD (default: every ready endpoint)")
	f.BoolVar(&o.OFProtoTrace, "ofproto-trace", o.OFProtoTrace, "run ovs-appctl ofproto/trace on the nodes for the walk's packets and show the OpenFlow path each OVS port takes (needs --node-exec or --node-agent)")
	f.StringVar(&o.Protocol, "protocol", o.Protocol, "tcp, udp or sctp: the Service port's protocol when a number is both, or the protocol of an IP:PORT walk")
}

// serviceTarget checks --endpoint and --protocol against the destination and adds the protocol.
func (o *TraceOptions) serviceTarget(to trace.Target) (trace.Target, error) {
	if o.Protocol != "" {
		p := strings.ToUpper(o.Protocol)
		if p != trace.ProtocolTCP && p != trace.ProtocolUDP && p != trace.ProtocolSCTP {
			return to, usageErr("--protocol must be tcp, udp or sctp, got %q", o.Protocol)
		}
		if to.Kind != trace.TargetService && (to.Kind != trace.TargetIP || to.Port == "") {
			return to, usageErr("--protocol needs a port to go with: --to svc/NS/NAME[:PORT] or IP:PORT")
		}
		to.Protocol = p
	}
	// An IP, with a port or without, may be a ClusterIP; the walk says when it is not a Service.
	if o.Endpoint != "" && to.Kind != trace.TargetService && to.Kind != trace.TargetIP {
		return to, usageErr("--endpoint needs a Service: --to svc/NS/NAME[:PORT], its ClusterIP, or a load balancer IP")
	}
	return to, nil
}
