# shellcheck shell=bash
# svc.sh: a Service and the way out of the packetwalk lab, sourced by lab.sh (`lab.sh svc-up`).
#
# As OVN-Kubernetes writes them: Service default/web (ClusterIP 10.96.0.80:80, NodePort 30080,
# target port "http") with an EndpointSlice of two endpoints on two nodes (nginx-3 on 172.15.0.4,
# redis-slave on 172.15.0.5, port 8080), and an OVN Load_Balancer "Service_default/web_TCP_cluster"
# (external_ids k8s.ovn.org/kind=Service, k8s.ovn.org/owner=default/web) on the pods' switches, its
# VIPs the ClusterIP and node 172.15.0.4's NodePort. Each endpoint runs a small HTTP server on 8080
# that answers with its pod name and the client address it saw.
#
# The way out: an uplink port on t0 (t0-uplink 198.51.100.1/24, a distributed gateway port bound to
# the hypervisor's chassis) on switch ls-public, whose localnet port reaches the hypervisor's br-ex
# and through it the external host, netns $N-ext (eth0 198.51.100.254/24; 192.0.2.7/32 on lo, the
# address walks go to). t0 routes 0.0.0.0/0 to 198.51.100.254 and SNATs each namespace's subnet
# (kube-system to 198.51.100.10, default to 198.51.100.11), with external_ids namespace=NS.
#
# Scenarios for `break`: no-ready-endpoint (the slice's endpoints not ready; the load balancer
# loses its backends, as the CNI's controller does), missing-snat (kube-system's SNAT rule deleted),
# lb-member-down (a health check on the ClusterIP VIP with ip_port_mappings for both endpoints, then
# redis-slave's server stopped: ovn-controller's probes get a reset and the Southbound's
# Service_Monitor says offline; ovn-northd leaves the backend out of the VIP).

SVC_VIP=10.96.0.80
SVC_NODEPORT=30080
SVC_NODE=172.15.0.4
SVC_LB="Service_default/web_TCP_cluster"
SVC_BACKENDS="172.16.0.6:8080,172.16.0.7:8080"
# SVC_MON_SRC: the address ovn-controller's health probes come from (free in default's subnet).
SVC_MON_SRC=172.16.0.254
EXT_HOST=192.0.2.7
EXT_GW=198.51.100.254
SVC_DIR=$PW_LAB_DIR/svc

# svc_endpoints NAMESPACE POD IP NODE: the endpoint pods (nginx-3, redis-slave).
SVC_ENDPOINTS=("default nginx-3 172.16.0.6 172.15.0.4" "default redis-slave 172.16.0.7 172.15.0.5")

svc_pid_files() { ls "$SVC_DIR"/*.pid 2>/dev/null || true; }

svc_status() { [ -f "$SVC_DIR/up" ]; }

# svc_nb: the load balancer, the uplink, the default route and the SNAT rules (one transaction).
svc_nb() {
	local c=() l ns subnet
	c+=(-- lb-add "$SVC_LB" "$SVC_VIP:80" "$SVC_BACKENDS" tcp
		-- lb-add "$SVC_LB" "$SVC_NODE:$SVC_NODEPORT" "$SVC_BACKENDS" tcp
		-- set load_balancer "$SVC_LB" external_ids:k8s.ovn.org/kind=Service external_ids:k8s.ovn.org/owner=default/web)
	for l in "${NAMESPACES[@]}"; do
		read -r ns _ <<<"$l"
		c+=(-- ls-lb-add "ls-$ns" "$SVC_LB")
	done
	c+=(-- ls-add ls-public
		-- lsp-add ls-public ln-public -- lsp-set-type ln-public localnet -- lsp-set-addresses ln-public unknown
		-- lsp-set-options ln-public network_name=public
		-- lrp-add t0 t0-uplink 02:50:56:56:00:fe 198.51.100.1/24
		-- lrp-set-gateway-chassis t0-uplink "$N-hv" 30
		-- lsp-add ls-public ls-public-to-t0 -- lsp-set-type ls-public-to-t0 router
		-- lsp-set-addresses ls-public-to-t0 router -- lsp-set-options ls-public-to-t0 router-port=t0-uplink
		-- lr-route-add t0 0.0.0.0/0 "$EXT_GW")
	nbctl "${c[@]}" >/dev/null
	for l in "${NAMESPACES[@]}"; do
		read -r ns subnet _ <<<"$l"
		svc_snat_add "$ns" "$subnet"
	done
}

# svc_snat_ip NS: the address NS's pods leave the cluster with.
svc_snat_ip() { if [ "$1" = kube-system ]; then echo 198.51.100.10; else echo 198.51.100.11; fi; }

svc_snat_add() {
	local uuid
	nbctl --may-exist --gateway-port=t0-uplink lr-nat-add t0 snat "$(svc_snat_ip "$1")" "$2"
	uuid=$(nbctl --bare --columns=_uuid find nat type=snat logical_ip="$2")
	nbctl set nat "$uuid" external_ids:namespace="$1" >/dev/null
}

# svc_ext: the hypervisor's br-ex (bridge mapping "public") and the external host behind it.
svc_ext() {
	netns_add "$N-ext"
	no_ipv6 "$N-ext"
	node_vsctl hv -- --may-exist add-br br-ex -- set bridge br-ex datapath_type=netdev \
		-- set open_vswitch . external_ids:ovn-bridge-mappings=public:br-ex
	ip link add "$N-ext0" netns "$HVNS" type veth peer name eth0 netns "$N-ext"
	ip -n "$HVNS" link set "$N-ext0" up
	node_vsctl hv -- add-port br-ex "$N-ext0"
	ip -n "$N-ext" link set eth0 up
	ip -n "$N-ext" addr add "$EXT_GW/24" dev eth0
	ip -n "$N-ext" addr add "$EXT_HOST/32" dev lo
}

# svc_server NETNS NAME: an HTTP server on :8080 answering "NAME CLIENT_IP".
svc_server() {
	local ns=$1 name=$2
	mkdir -p "$SVC_DIR"
	ip netns exec "$ns" setsid /usr/bin/python3 -c '
import http.server, sys
name = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s\n" % (name, self.client_address[0])).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
' "$name" >"$SVC_DIR/$name.log" 2>&1 </dev/null &
	echo $! >"$SVC_DIR/$name.pid"
}

# svc_slice READY: the EndpointSlice of default/web with both endpoints ready (true) or not (false).
svc_slice() {
	local eps="" l ns pod ip node sep=""
	for l in "${SVC_ENDPOINTS[@]}"; do
		read -r ns pod ip node <<<"$l"
		eps+="$sep{\"addresses\":[\"$ip\"],\"conditions\":{\"ready\":$1,\"serving\":$1,\"terminating\":false},\"nodeName\":\"$node\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"$ns\",\"name\":\"$pod\"}}"
		sep=,
	done
	echo "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"web-lab\",\"namespace\":\"default\",\"labels\":{\"kubernetes.io/service-name\":\"web\",\"endpointslice.kubernetes.io/managed-by\":\"packetwalk-lab\"}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}],\"endpoints\":[$eps]}"
}

# svc_kube: Service default/web and its EndpointSlice in the lab's API server.
svc_kube() {
	kapi POST /api/v1/namespaces/default/services "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"$SVC_VIP\",\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":\"http\",\"nodePort\":$SVC_NODEPORT}]}}" "" 409
	kapi POST /apis/discovery.k8s.io/v1/namespaces/default/endpointslices "$(svc_slice true)" "" 409
}

# svc_reaches NETNS IP: IP answers an ICMP echo from NETNS within 8 hops (traceroute -I, as ping
# may be missing).
svc_reaches() { ip netns exec "$1" traceroute -I -n -q 1 -w 1 -m 8 "$2" 2>/dev/null | grep -q "^ *[0-9]*  $2 "; }

# svc_answers NETNS URL: an HTTP GET from NETNS answers.
svc_answers() { ip netns exec "$1" curl -s --noproxy '*' --max-time 2 -o /dev/null "$2"; }

# svc_no_tx_csum NETNS: the userspace datapath's conntrack checks TCP checksums, which a veth leaves
# to offload (partial): the pods and the external host compute theirs in full, as a NIC would.
svc_no_tx_csum() { ip netns exec "$1" ethtool -K eth0 tx off >/dev/null; }

svc_up() {
	svc_status && return 0
	command -v ethtool >/dev/null || lab_die "ethtool not found: install ethtool (the lab turns off TX checksum offload for conntrack)"
	mkdir -p "$SVC_DIR"
	svc_ext
	svc_nb
	local l ns pod ip node vlan
	for l in "${PODS[@]}"; do
		read -r ns pod ip node vlan <<<"$l"
		svc_no_tx_csum "$N-$ns-$pod"
	done
	svc_no_tx_csum "$N-ext"
	for l in "${SVC_ENDPOINTS[@]}"; do
		read -r ns pod ip node <<<"$l"
		svc_server "$N-$ns-$pod" "$pod"
	done
	[ "$PW_LAB_KUBE" = 0 ] || svc_kube
	nbctl --wait=hv sync
	for l in "${SVC_ENDPOINTS[@]}"; do
		read -r ns pod ip node <<<"$l"
		wait_until 20 "$pod to serve on $ip:8080" svc_answers "$N-$ns-$pod" "http://$ip:8080/"
	done
	wait_until 20 "the Service VIP to answer kube-dns" svc_answers "$N-kube-system-kube-dns" "http://$SVC_VIP/"
	wait_until 20 "the NodePort to answer kube-dns" svc_answers "$N-kube-system-kube-dns" "http://$SVC_NODE:$SVC_NODEPORT/"
	wait_until 20 "the external host to answer kube-dns" svc_reaches "$N-kube-system-kube-dns" "$EXT_HOST"
	: >"$SVC_DIR/up"
}

svc_down() {
	# shellcheck disable=SC2046
	stop_pidfiles $(svc_pid_files)
	rm -rf "$SVC_DIR"
}

# svc_monitor IP: the Southbound's Service_Monitor status for IP:8080.
svc_monitor() {
	ovn-sbctl --db="unix:$PW_LAB_DIR/hv/sb.sock" --timeout=20 --bare --columns=status find service_monitor ip="$1" port=8080
}

svc_monitor_is() { [ "$(svc_monitor "$1")" = "$2" ]; }

# svc_health_check: a TCP health check on the ClusterIP VIP, probing both endpoints on their ports.
# ovn-controller probes only a port whose addresses name the backend's IP (Port_Binding.mac; the
# lab's default pods say "unknown", kuryr-style): they get their port_security, as OVN-Kubernetes'
# ports have, until heal.
svc_health_check() {
	local c=(-- --id=@hc create load_balancer_health_check vip="\"$SVC_VIP:80\""
		options:interval=1 options:timeout=1 options:success_count=1 options:failure_count=1
		-- add load_balancer "$SVC_LB" health_check @hc) l ns pod ip lsp
	for l in "${SVC_ENDPOINTS[@]}"; do
		read -r ns pod ip _ <<<"$l"
		lsp=$(pod_lsp "$ns" "$pod")
		c+=(-- set load_balancer "$SVC_LB" "ip_port_mappings:\"$ip\"=\"$lsp:$SVC_MON_SRC\""
			-- lsp-set-addresses "$lsp" "$(nbctl --bare --columns=port_security find logical_switch_port name="$lsp")")
	done
	nbctl "${c[@]}" >/dev/null
}

svc_break() {
	case $1 in
	lb-member-down)
		svc_health_check
		wait_until 30 "OVN's Service_Monitor to see redis-slave online" svc_monitor_is 172.16.0.7 online
		stop_pidfiles "$SVC_DIR/redis-slave.pid"
		wait_until 30 "OVN's Service_Monitor to see redis-slave offline" svc_monitor_is 172.16.0.7 offline
		;;
	no-ready-endpoint)
		kapi PUT /apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-lab "$(svc_slice false)"
		nbctl set load_balancer "$SVC_LB" vips:"\"$SVC_VIP:80\""='""' vips:"\"$SVC_NODE:$SVC_NODEPORT\""='""' >/dev/null
		;;
	missing-snat) nbctl lr-nat-del t0 snat "$(ns_field kube-system 2)" ;;
	*) return 1 ;;
	esac
}

svc_heal() {
	case $1 in
	lb-member-down)
		nbctl clear load_balancer "$SVC_LB" health_check -- clear load_balancer "$SVC_LB" ip_port_mappings
		local l ns pod
		for l in "${SVC_ENDPOINTS[@]}"; do
			read -r ns pod _ <<<"$l"
			nbctl lsp-set-addresses "$(pod_lsp "$ns" "$pod")" unknown
		done
		svc_server "$N-default-redis-slave" redis-slave
		wait_until 20 "redis-slave to serve on 172.16.0.7:8080" svc_answers "$N-default-redis-slave" "http://172.16.0.7:8080/"
		;;
	no-ready-endpoint)
		kapi PUT /apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-lab "$(svc_slice true)"
		nbctl set load_balancer "$SVC_LB" vips:"\"$SVC_VIP:80\""="\"$SVC_BACKENDS\"" vips:"\"$SVC_NODE:$SVC_NODEPORT\""="\"$SVC_BACKENDS\"" >/dev/null
		;;
	missing-snat) svc_snat_add kube-system "$(ns_field kube-system 2)" ;;
	*) return 1 ;;
	esac
}
