package cmd

import (
	"errors"
	"testing"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// --endpoint goes with a Service or an address that may be one (with a port or without);
// --protocol with a port to go with.
func TestServiceTargetFlags(t *testing.T) {
	for _, tc := range []struct {
		name, endpoint, protocol, to string
		usage                        bool
		proto                        string
	}{
		{"endpoint, service", "10.0.0.1", "", "svc/default/web", false, ""},
		{"endpoint, address", "10.0.0.1", "", "10.96.0.80", false, ""},
		{"endpoint, address and port", "10.0.0.1", "", "10.96.0.80:80", false, ""},
		{"endpoint, node", "10.0.0.1", "", "node/n1", true, ""},
		{"endpoint, pod", "10.0.0.1", "", "pod/default/web-1", true, ""},
		{"protocol, address and port", "", "udp", "10.96.0.80:53", false, trace.ProtocolUDP},
		{"protocol, address", "", "udp", "10.96.0.80", true, ""},
		{"protocol unknown", "", "icmp", "svc/default/web", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to, err := trace.ParseTarget(tc.to, "default")
			if err != nil {
				t.Fatal(err)
			}
			o := &TraceOptions{Endpoint: tc.endpoint, Protocol: tc.protocol}
			got, err := o.serviceTarget(to)
			var ee *ExitError
			if isUsage := errors.As(err, &ee) && ee.Code == ExitUsage; isUsage != tc.usage || (err != nil && !tc.usage) {
				t.Fatalf("error %v, want a usage error: %v", err, tc.usage)
			}
			if err == nil && got.Protocol != tc.proto {
				t.Errorf("protocol %q, want %q", got.Protocol, tc.proto)
			}
		})
	}
}
