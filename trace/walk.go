package trace

import (
	"cmp"
	"net/netip"
	"strconv"
	"strings"
)

// TargetKind says what a walk's destination (or an endpoint) is.
type TargetKind string

// Target kinds for a walk's destination.
const (
	TargetNode TargetKind = "node"
	TargetPod  TargetKind = "pod"
	TargetIP   TargetKind = "ip"
	// TargetRouter is an endpoint kind only: an IP that is a router port's own address.
	TargetRouter TargetKind = "router"
)

// Target is the destination as the user named it: node/NAME, pod/NS/NAME or an IP.
type Target struct {
	Kind      TargetKind `json:"kind"`
	Namespace string     `json:"namespace,omitempty"`
	Name      string     `json:"name,omitempty"`
	IP        string     `json:"ip,omitempty"`
	// Port is the Service port (name or number) of svc/NS/NAME:PORT, or the port of IP:PORT.
	Port string `json:"port,omitempty"`
	// Protocol is TCP, UDP or SCTP for a walk to a port; "" walks an ICMP-like packet.
	Protocol string `json:"protocol,omitempty"`
}

// String renders the target the way the user writes it.
func (t Target) String() string {
	switch t.Kind {
	case TargetNode:
		return "node/" + t.Name
	case TargetPod:
		return "pod/" + t.Namespace + "/" + t.Name
	case TargetService:
		if t.Port != "" {
			return "svc/" + t.Namespace + "/" + t.Name + ":" + t.Port
		}
		return "svc/" + t.Namespace + "/" + t.Name
	default:
		if n := targetPort(t); n != 0 {
			return hostPort(t.IP, n)
		}
		return t.IP
	}
}

// ParseTarget parses node/NAME, pod/NS/NAME (or pod/NAME with defaultNS), svc/NS/NAME[:PORT] (or
// svc/NAME[:PORT]), an IP address or IP:PORT; its error is a *TargetSyntaxError.
func ParseTarget(s, defaultNS string) (Target, error) {
	bad := &TargetSyntaxError{Input: s}
	switch {
	case strings.HasPrefix(s, "node/"):
		name := strings.TrimPrefix(s, "node/")
		if name == "" || strings.Contains(name, "/") {
			return Target{}, bad
		}
		return Target{Kind: TargetNode, Name: name}, nil
	case strings.HasPrefix(s, "pod/"):
		parts := strings.Split(strings.TrimPrefix(s, "pod/"), "/")
		switch {
		case len(parts) == 1 && parts[0] != "" && defaultNS != "":
			return Target{Kind: TargetPod, Namespace: defaultNS, Name: parts[0]}, nil
		case len(parts) == 2 && parts[0] != "" && parts[1] != "":
			return Target{Kind: TargetPod, Namespace: parts[0], Name: parts[1]}, nil
		}
		return Target{}, bad
	case strings.HasPrefix(s, "svc/"), strings.HasPrefix(s, "service/"):
		_, rest, _ := strings.Cut(s, "/")
		if t, ok := parseServiceTarget(rest, defaultNS); ok {
			return t, nil
		}
		return Target{}, bad
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Port() != 0 {
		return Target{Kind: TargetIP, IP: ap.Addr().Unmap().String(), Port: strconv.Itoa(int(ap.Port()))}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Target{}, bad
	}
	return Target{Kind: TargetIP, IP: a.Unmap().String()}, nil
}

// Request asks for the walk from a pod to a target.
type Request struct {
	Source PodRef `json:"source"`
	To     Target `json:"to"`
	// NoReturn skips the return path.
	NoReturn bool `json:"noReturn,omitempty"`
	// Endpoint limits a walk to a Service to the endpoint with this address.
	Endpoint string `json:"endpoint,omitempty"`
	// Words name the caller's settings in the engine's messages; they are not part of the request.
	Words Words `json:"-"`
}

// Words are how the caller (cmd: its flags) names its settings in the engine's messages; an empty
// field keeps the engine's neutral words.
type Words struct {
	// Endpoint names Request.Endpoint ("the requested endpoint").
	Endpoint string
	// To names the destination ("the destination").
	To string
	// Protocol names the protocol setting of a destination ("a protocol").
	Protocol string
	// OFProtoTrace names how to get the source node's ofproto/trace for the walk (when empty the
	// hop says what the trace would show, without an instruction).
	OFProtoTrace string
}

func (w Words) endpoint() string { return cmp.Or(w.Endpoint, "the requested endpoint") }
func (w Words) to() string       { return cmp.Or(w.To, "the destination") }
func (w Words) protocol() string { return cmp.Or(w.Protocol, "a protocol") }

// Verdict is a walk's (or a check's) conclusion.
type Verdict string

// Verdicts.
const (
	VerdictReachable Verdict = "reachable"
	VerdictBroken    Verdict = "broken"
	VerdictUnknown   Verdict = "unknown"
)

// Status is what the walk concluded about one hop.
type Status string

// Hop statuses.
const (
	StatusOK      Status = "ok"
	StatusBroken  Status = "broken"
	StatusUnknown Status = "unknown"
)

// HopKind says what layer a hop is; a destination's TargetKind is a different thing (hopKindOf).
type HopKind string

// Hop kinds, in the order a packet meets them.
const (
	HopPod        HopKind = "pod"
	HopVeth       HopKind = "veth"
	HopOVSPort    HopKind = "ovs-port"
	HopMACTable   HopKind = "mac-table"
	HopUplink     HopKind = "ovs-uplink"
	HopFabricPort HopKind = "fabric-port"
	HopSwitch     HopKind = "switch"
	HopRouter     HopKind = "router"
	HopNode       HopKind = "node"
	HopIP         HopKind = "ip"
	HopRoute      HopKind = "route"
	HopExternal   HopKind = "external"
)

// Direction says which way a hop's packet travels: out to the destination, or the reply back.
type Direction string

// Directions.
const (
	Forward Direction = "forward"
	Return  Direction = "return"
)

// Walk is the path from source to destination (then back), hop by hop, with a verdict.
type Walk struct {
	Source      Endpoint `json:"source"`
	Destination Endpoint `json:"destination"`
	Verdict     Verdict  `json:"verdict"`
	// BrokenAt is the index of the first broken hop (0 when none is broken).
	BrokenAt int      `json:"brokenAt,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Hops     []Hop    `json:"hops"`
	Warnings []string `json:"warnings,omitempty"`
	// Probe is what a real probe from the source pod saw (trace --probe).
	Probe *ProbeResult `json:"probe,omitempty"`
	// Service is set on a walk to a Service: one walk per endpoint and how many hold (svcmodel.go).
	Service *ServiceWalk `json:"service,omitempty"`
}

// Endpoint is one end of a walk.
type Endpoint struct {
	Kind      TargetKind `json:"kind"`
	Namespace string     `json:"namespace,omitempty"`
	Name      string     `json:"name,omitempty"`
	Node      string     `json:"node,omitempty"`
	IP        string     `json:"ip,omitempty"`
	MAC       string     `json:"mac,omitempty"`
}

// String names the endpoint for humans.
func (e Endpoint) String() string {
	switch e.Kind {
	case TargetPod:
		return e.Namespace + "/" + e.Name
	case TargetNode:
		return "node " + e.Name
	case TargetRouter:
		return "router " + e.Name
	case TargetService:
		return "svc/" + e.Namespace + "/" + e.Name
	default:
		return e.IP
	}
}

// Hop is one place the packet passes, and the evidence that links it to the previous one.
type Hop struct {
	Index     int        `json:"index"`
	Kind      HopKind    `json:"kind"`
	Name      string     `json:"name"`
	Direction Direction  `json:"direction"`
	Node      string     `json:"node,omitempty"`
	Netns     string     `json:"netns,omitempty"`
	Interface string     `json:"interface,omitempty"`
	IP        string     `json:"ip,omitempty"`
	MAC       string     `json:"mac,omitempty"`
	VLAN      *int       `json:"vlan,omitempty"`
	Router    string     `json:"router,omitempty"`
	Status    Status     `json:"status"`
	Detail    string     `json:"detail,omitempty"`
	Evidence  []Evidence `json:"evidence,omitempty"`
	// ConsequenceOf is the index of the broken hop that explains this broken one (the root cause,
	// Walk.BrokenAt); 0 when the hop is not broken or broken on its own.
	ConsequenceOf int `json:"consequenceOf,omitempty"`
	// Hint says which facts were missing when Status is unknown for want of them; the command
	// words it (the flags that collect them), so it is not part of the output.
	Hint Hint `json:"-"`
	// Transport is set on a transport hop: the tunnel between two hosts (overlay.go).
	Transport *TransportDetail `json:"transport,omitempty"`
	// Firewall is set on a firewall hop: the rule that decides the flow at a port (overlay.go).
	Firewall *FirewallDetail `json:"firewall,omitempty"`
	// Service is set on a service hop: the load-balancing step (svcmodel.go).
	Service *ServiceDetail `json:"service,omitempty"`
	// NAT is set on a nat hop: the rule and the addresses before and after (svcmodel.go).
	NAT *NATDetail `json:"nat,omitempty"`
	// Packet is the packet's addresses at this hop, set from the first NAT on (translated).
	Packet *Packet `json:"packet,omitempty"`
	// awaits names what this hop's fact is learned from: an answer from further along the path
	// (rootcause.go); "" for facts that are configuration.
	awaits string
}

// Evidence is one fact from one source.
type Evidence struct {
	Source string `json:"source"`
	Fact   string `json:"fact"`
}

// RouterHops returns the addresses a traceroute would print for the forward path: each router's
// ingress address, then the destination.
func (w *Walk) RouterHops() []string {
	var out []string
	for _, h := range w.Hops {
		if h.Direction != Forward || w.isDestinationHop(h) {
			continue
		}
		if h.Kind == HopRouter && h.IP != "" {
			out = append(out, h.IP)
		}
	}
	if w.Destination.IP != "" {
		out = append(out, w.Destination.IP)
	}
	return out
}

// ExpectedTraceroute is what `traceroute -I` from the source should print if the walk is right:
// for a path that holds, every router's ingress address then the destination; for a path broken
// on the way out, the routers before the break (and the broken router itself, which still answers
// TTL-exceeded) and nothing after. exact is false when the walk cannot say (a break on the return
// path hides replies from some routers but not others).
func (w *Walk) ExpectedTraceroute() (hops []string, exact bool) {
	if w.Verdict != VerdictBroken {
		return w.RouterHops(), w.Verdict == VerdictReachable
	}
	if w.BrokenOnlyByMTU() {
		// traceroute's packets are small: they cross the hop that loses full-size ones.
		return w.RouterHops(), true
	}
	b := w.Hops[w.BrokenAt-1]
	if b.Direction != Forward {
		return nil, false
	}
	for _, h := range w.Hops[:w.BrokenAt] {
		if h.Direction == Forward && h.Kind == HopRouter && h.IP != "" && !w.isDestinationHop(h) {
			hops = append(hops, h.IP)
		}
	}
	return hops, true
}

// isDestinationHop reports whether h is the router a walk to a router address ends at: traceroute
// shows that router once, as the destination.
func (w *Walk) isDestinationHop(h Hop) bool {
	return w.Destination.Kind == TargetRouter && h.Kind == HopRouter && h.Direction == Forward && h.IP == w.Destination.IP
}

// BrokenOnReturn reports whether the first broken hop is on the return path.
func (w *Walk) BrokenOnReturn() bool {
	return w.BrokenAt > 0 && w.BrokenAt <= len(w.Hops) && w.Hops[w.BrokenAt-1].Direction == Return
}

// RequestError is a request the snapshot cannot answer because a name in it is wrong
// (unknown pod or node): a usage error, not a broken path.
type RequestError struct{ Msg string }

func (e *RequestError) Error() string { return e.Msg }
