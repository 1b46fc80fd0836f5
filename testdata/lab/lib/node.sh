# shellcheck shell=bash
# lib/node.sh: build a Kubernetes node "VM" as a network namespace with its own Open vSwitch
# (ovsdb-server + ovs-vswitchd on the userspace netdev datapath), pods as network namespaces on
# VLAN-tagged access ports of its br-int, and a trunk uplink. Source it; every function is
# idempotent, takes the names it touches, and keeps several nodes apart so labs can coexist.
#
# Environment:
#   PW_LAB_DIR   where each node keeps its OVS run dir, db, logs and bookkeeping:
#                $PW_LAB_DIR/<node>/ (default /tmp/pw-lab)
#
# Functions (NODE is the node's netns name, e.g. lab-node1 or pwt-1234-node):
#   node_up NODE [BRIDGE]
#       netns NODE with lo up, ovsdb-server + ovs-vswitchd (sockets $dir/db.sock,
#       $dir/ovs-vswitchd.ctl, pid files $dir/*.pid; no TCP, no systemd) and BRIDGE
#       (default br-int; datapath_type=netdev).
#   node_eth0 NODE CIDR GW PEER_NS PEER_IF [PEER_CIDR]
#       management NIC: veth eth0 in NODE with CIDR and a default route via GW, its peer PEER_IF
#       in netns PEER_NS (which must exist), with PEER_CIDR if given.
#   node_uplink NODE IF PEER_NS PEER_IF [MAC]
#       veth IF in NODE, on br-int with no tag (a trunk), peer PEER_IF in netns PEER_NS (which
#       must exist; the caller plugs PEER_IF in, e.g. into the hypervisor's br-int).
#   node_router_up NODE IF ROUTER_NS ROUTER_MAC
#       for a lab without a hypervisor: netns ROUTER_NS with its own OVS (bridge br-rtr) whose
#       port "trunk" is the peer of NODE's uplink IF (made here with node_uplink). It answers ARP
#       and ping for each gateway added with node_router_gw, from ROUTER_MAC, on whatever VLAN
#       the request came (OpenFlow responder flows: this kernel may lack VLAN subinterfaces).
#       node_down NODE removes it too.
#   node_router_gw ROUTER_NS GW_IP ROUTER_MAC
#       make the router answer for GW_IP (a pod gateway).
#   node_pod_add NODE PODNS IP/LEN GW MAC VLAN [HOSTIF [IFACE_ID]]
#       netns PODNS whose eth0 (MAC, IP/LEN, default via GW) is a veth to HOSTIF in NODE
#       (default: "veth" + 8 hex digits of the netns name's md5), an access port of br-int with
#       tag=VLAN (host side MAC fe: + the pod MAC's last five bytes) and external_ids attached-mac=MAC, iface-id=IFACE_ID (default PODNS),
#       ip_address=IP/LEN.
#   node_pod_del NODE PODNS      remove a pod (its port, veth and netns).
#   node_resolve PODNS IP [SECS] make the pod resolve IP's MAC (one UDP datagram to port 9, then
#                                wait up to SECS, default 5, for the neighbour entry): fills the
#                                MAC tables without needing ping; fails if IP never answers ARP.
#   node_vsctl NODE ARGS...      ovs-vsctl against NODE's database.
#   node_appctl NODE ARGS...     ovs-appctl against NODE's ovs-vswitchd (e.g. fdb/show br-int).
#   node_dir NODE                print NODE's run dir.
#   node_ovs_stop NODE / node_ovs_start NODE   stop / start NODE's two OVS daemons (by pid file).
#   node_down NODE               stop NODE's OVS, delete NODE, its pods' and its router's netns,
#                                and its run dir. Only what node_* made for NODE is touched.

: "${PW_LAB_DIR:=/tmp/pw-lab}"
PW_OVS_SCHEMA=${PW_OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}

node_dir() { printf '%s/%s\n' "$PW_LAB_DIR" "$1"; }

_node_log() { [ -n "${PW_LAB_QUIET:-}" ] || echo "node-lab: $*" >&2; }

_node_netns_add() {
	ip netns list | awk '{print $1}' | grep -qx -- "$1" || ip netns add "$1"
	ip -n "$1" link set lo up
}

# _node_remember NODE KIND NAME records something node_down must remove.
_node_remember() {
	local f
	f="$(node_dir "$1")/$2"
	grep -qx -- "$3" "$f" 2>/dev/null || echo "$3" >>"$f"
}

_node_alive() { # PIDFILE
	[ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

node_vsctl() {
	local n=$1
	shift
	ovs-vsctl --db="unix:$(node_dir "$n")/db.sock" --timeout=20 "$@"
}

node_appctl() {
	local n=$1
	shift
	ovs-appctl --timeout=20 -t "$(node_dir "$n")/ovs-vswitchd.ctl" "$@"
}

node_ovs_start() {
	local n=$1 d
	d=$(node_dir "$n")
	mkdir -p "$d"
	[ -f "$d/conf.db" ] || ovsdb-tool create "$d/conf.db" "$PW_OVS_SCHEMA"
	if ! _node_alive "$d/ovsdb-server.pid"; then
		ip netns exec "$n" env OVS_RUNDIR="$d" OVS_LOGDIR="$d" OVS_DBDIR="$d" \
			ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" \
			--pidfile="$d/ovsdb-server.pid" --unixctl="$d/ovsdb-server.ctl" \
			-vconsole:off --log-file="$d/ovsdb-server.log" --detach --no-chdir
		node_vsctl "$n" --no-wait init
	fi
	if ! _node_alive "$d/ovs-vswitchd.pid"; then
		ip netns exec "$n" env OVS_RUNDIR="$d" OVS_LOGDIR="$d" OVS_DBDIR="$d" \
			ovs-vswitchd "unix:$d/db.sock" --pidfile="$d/ovs-vswitchd.pid" \
			--unixctl="$d/ovs-vswitchd.ctl" -vconsole:off --log-file="$d/ovs-vswitchd.log" \
			--detach --no-chdir
	fi
}

node_ovs_stop() {
	local n=$1 d p
	d=$(node_dir "$n")
	for p in ovs-vswitchd ovsdb-server; do
		if _node_alive "$d/$p.pid"; then
			kill "$(cat "$d/$p.pid")" 2>/dev/null || true
			local i
			for i in $(seq 50); do _node_alive "$d/$p.pid" || break; sleep 0.1; done
		fi
		rm -f "$d/$p.pid"
	done
}

node_up() {
	local n=$1 br=${2:-br-int} d
	d=$(node_dir "$n")
	mkdir -p "$d"
	_node_netns_add "$n"
	node_ovs_start "$n"
	node_vsctl "$n" --may-exist add-br "$br" -- set bridge "$br" datapath_type=netdev
	_node_log "$n up: OVS run dir $d"
}

node_uplink() {
	local n=$1 ifn=$2 peerns=$3 peerif=$4 mac=${5:-}
	if ! ip -n "$n" link show "$ifn" >/dev/null 2>&1; then
		ip -n "$n" link add "$ifn" type veth peer name "$peerif" netns "$peerns"
	fi
	[ -z "$mac" ] || ip -n "$n" link set "$ifn" address "$mac"
	ip -n "$n" link set "$ifn" up
	ip -n "$peerns" link set "$peerif" up
	node_vsctl "$n" --may-exist add-port br-int "$ifn"
}

node_eth0() {
	local n=$1 cidr=$2 gw=$3 pns=$4 pif=$5 pcidr=${6:-}
	ip -n "$n" link show eth0 >/dev/null 2>&1 ||
		ip -n "$n" link add eth0 type veth peer name "$pif" netns "$pns"
	ip -n "$n" addr replace "$cidr" dev eth0
	ip -n "$n" link set eth0 up
	ip -n "$pns" link set "$pif" up
	[ -z "$pcidr" ] || ip -n "$pns" addr replace "$pcidr" dev "$pif"
	ip -n "$n" route replace default via "$gw" dev eth0
}

node_router_up() {
	local n=$1 ifn=$2 rns=$3 rmac=$4
	_node_remember "$n" routers "$rns"
	node_up "$rns" br-rtr
	node_uplink "$n" "$ifn" "$rns" trunk
	ip -n "$rns" link set trunk address "$rmac"
	node_vsctl "$rns" --may-exist add-port br-rtr trunk
	node_vsctl "$rns" set bridge br-rtr fail_mode=secure
	ovs-ofctl -O OpenFlow13 add-flow "unix:$(node_dir "$rns")/br-rtr.mgmt" "table=0,priority=0,actions=drop"
}

node_router_gw() {
	local rns=$1 gw=$2 rmac=$3 mgmt
	mgmt="unix:$(node_dir "$rns")/br-rtr.mgmt"
	ovs-ofctl -O OpenFlow13 add-flows "$mgmt" - <<FLOWS
table=0,priority=100,arp,arp_op=1,arp_tpa=$gw,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$rmac->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:$rmac->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:$gw->arp_spa,IN_PORT
table=0,priority=100,icmp,icmp_type=8,nw_dst=$gw,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:$rmac->eth_src,move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[],set_field:$gw->ip_src,set_field:0->icmp_type,IN_PORT
FLOWS
}

_node_hostif() { printf 'veth%s' "$(printf '%s' "$1" | md5sum | cut -c1-8)"; }

node_pod_add() {
	local n=$1 pns=$2 cidr=$3 gw=$4 mac=$5 vlan=$6 hif=${7:-} iid=${8:-}
	[ -n "$hif" ] || hif=$(_node_hostif "$pns")
	[ -n "$iid" ] || iid=$pns
	_node_remember "$n" pods "$pns $hif"
	_node_netns_add "$pns"
	if ! ip -n "$pns" link show eth0 >/dev/null 2>&1; then
		ip -n "$n" link add "$hif" type veth peer name eth0 netns "$pns"
	fi
	ip -n "$pns" link set eth0 address "$mac"
	ip -n "$pns" addr replace "$cidr" dev eth0
	ip -n "$pns" link set eth0 up
	# The host side gets fe: + the pod MAC's last five bytes, as in the published walk.
	ip -n "$n" link set "$hif" address "fe:${mac#*:}"
	ip -n "$n" link set "$hif" up
	ip -n "$pns" route replace default via "$gw" dev eth0
	node_vsctl "$n" --may-exist add-port br-int "$hif" tag="$vlan" \
		-- set interface "$hif" "external_ids:attached-mac=$mac" "external_ids:iface-id=$iid" \
		"external_ids:ip_address=$cidr"
}

node_pod_del() {
	local n=$1 pns=$2 d hif
	d=$(node_dir "$n")
	hif=$(awk -v p="$pns" '$1 == p {print $2}' "$d/pods" 2>/dev/null | head -n1)
	[ -z "$hif" ] || node_vsctl "$n" --if-exists del-port br-int "$hif" 2>/dev/null || true
	ip netns del "$pns" 2>/dev/null || true
	[ ! -f "$d/pods" ] || sed -i "/^$pns /d" "$d/pods"
}

node_resolve() {
	local pns=$1 ip=$2 secs=${3:-5} i
	for ((i = 0; i < secs * 10; i++)); do
		if ip -n "$pns" neigh show "$ip" | grep -q lladdr; then return 0; fi
		# Any datagram makes the kernel ARP for the address; port 9 is discard.
		((i % 10)) || ip netns exec "$pns" bash -c "echo x >/dev/udp/$ip/9" 2>/dev/null || true
		sleep 0.1
	done
	echo "node-lab: $pns: $ip does not answer ARP" >&2
	return 1
}

node_down() {
	local n=$1 d p
	d=$(node_dir "$n")
	node_ovs_stop "$n"
	if [ -f "$d/pods" ]; then
		while read -r p _; do ip netns del "$p" 2>/dev/null || true; done <"$d/pods"
	fi
	if [ -f "$d/routers" ]; then
		while read -r p; do node_down "$p"; done <"$d/routers"
	fi
	ip netns del "$n" 2>/dev/null || true
	case "$d" in
	"$PW_LAB_DIR"/?*) rm -rf -- "$d" ;;
	esac
	_node_log "node $n down"
}
