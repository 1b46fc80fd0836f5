#!/usr/bin/env bash
# lab.sh: the packetwalk lab, the published NSX-T packet walk rebuilt on real OVS and OVN.
#
#   lab.sh up | down | status | break SCENARIO | heal | ssh-up | svc-up
#
# A hypervisor netns runs OVN (NB, SB, northd) and an OVN chassis (its own ovsdb-server,
# ovs-vswitchd on the userspace datapath, ovn-controller). Three node "VMs" are netns with their own
# OVS; each has a mgmt NIC eth0 (a VIF on the hypervisor's br-int, logical port on ls-k8s-nodes)
# and a trunk NIC eth1 (the parent VIF of its pods' CHILD ports). Pods are netns on VLAN-tagged
# access ports of the node's br-int; each is an OVN child port (parent = the node's trunk LSP,
# tag = the VLAN). T1 routers per namespace and for the node subnet, linked to a T0 by router peers.
#
# A real etcd + kube-apiserver (lib/kube.sh) on loopback holds the lab's nodes and pods; the
# kubeconfig is $PW_LAB_DIR/kubeconfig. $PW_LAB_DIR/node-exec NODE CMD... runs CMD "on" a node VM
# (its netns, its OVS run dir as /var/run/openvswitch, only its pods' netns under /var/run/netns):
# the template for --node-exec is '$PW_LAB_DIR/node-exec {node}'.
#
# Environment: PW_LAB_DIR (default /tmp/pw-lab): run directories, sockets, pid files, logs and
# lab.json (the lab's facts for tests); PW_LAB_NAME (default pw): prefix of every netns it makes;
# PW_LAB_KUBE (default 1): 0 leaves out the Kubernetes API; PW_LAB_KUBELET (default 0): 1 adds
# node 172.15.0.6 with a real kubelet, containerd and CNI (lib/kubelet.sh).
# Scenarios for `break`: vlan-mismatch t0-route return-route veth-down stale-mac, and on the overlay
# (lib/overlay.sh: node 172.15.0.5 sits on a second hypervisor, Geneve between them) tunnel-down
# (underlay link down: BFD goes down), underlay-mtu (underlay MTU 1500) and netpol-acl (a
# NetworkPolicy's ACL drops kube-system/heapster's egress to the nodes).
set -euo pipefail

PW_LAB_DIR=${PW_LAB_DIR:-/tmp/pw-lab}
PW_LAB_NAME=${PW_LAB_NAME:-pw}
export PW_LAB_DIR PW_LAB_NAME
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/hv.sh
. "$HERE/lib/hv.sh"
# shellcheck source=lib/node.sh
. "$HERE/lib/node.sh"
# shellcheck source=lib/kube.sh
. "$HERE/lib/kube.sh"
# shellcheck source=lib/kubelet.sh
. "$HERE/lib/kubelet.sh"
# shellcheck source=lib/ssh.sh
. "$HERE/lib/ssh.sh"
# shellcheck source=lib/svc.sh
. "$HERE/lib/svc.sh"
PW_LAB_KUBE=${PW_LAB_KUBE:-1}
export PW_LAB_QUIET=1

N=$PW_LAB_NAME
HVNS=$N-hv
NB=unix:$PW_LAB_DIR/hv/nb.sock
ROUTER_MAC=02:50:56:56:44:52
# shellcheck source=lib/overlay.sh
. "$HERE/lib/overlay.sh"

# node name (= its IP, as in the published walk) and its short host id.
NODES=("172.15.0.3 n3" "172.15.0.4 n4" "172.15.0.5 n5")
# namespace subnet gateway t1-link-ip t0-link-ip (link networks are /29: OVN 23.03 treats the odd
# address of a /31 as broadcast).
NAMESPACES=(
	"kube-system 172.16.1.0/24 172.16.1.1 100.64.96.11 100.64.96.10"
	"default 172.16.0.0/24 172.16.0.1 100.64.96.19 100.64.96.18"
)
NODES_T1_LINK=100.64.96.5
NODES_T0_LINK=100.64.96.4
# namespace name ip node vlan
PODS=(
	"kube-system kube-dns 172.16.1.2 172.15.0.3 101"
	"kube-system heapster 172.16.1.3 172.15.0.3 102"
	"kube-system kubernetes-dashboard 172.16.1.4 172.15.0.3 103"
	"default nginx-1 172.16.0.2 172.15.0.3 106"
	"default nginx-2 172.16.0.3 172.15.0.3 107"
	"default nginx-3 172.16.0.6 172.15.0.4 101"
	"kube-system kube-proxy-check 172.16.1.7 172.15.0.4 102"
	"default redis-slave 172.16.0.7 172.15.0.5 101"
)
! kubelet_enabled || [ "$PW_LAB_KUBE" = 0 ] || NODES+=("$KUBELET_NODE $KUBELET_HOST")

SCENARIOS="vlan-mismatch t0-route return-route veth-down stale-mac tunnel-down underlay-mtu netpol-acl"
usage() {
	echo "usage: $0 up|down|status|break ${SCENARIOS// /|}|heal" >&2
	exit 2
}

octet() { echo "${1##*.}"; }
node_mac() { printf '00:50:56:8a:%02x:%02x' "$2" "$(octet "$1")"; }
pod_mac() { printf '02:50:56:00:%02x:%02x' "$(octet "$1")" $(($2 - 100)); }
ns_field() { # NAMESPACE FIELD(2..5)
	local l
	for l in "${NAMESPACES[@]}"; do
		# shellcheck disable=SC2086
		set -- "$1" "$2" $l
		[ "$1" = "$3" ] && eval echo "\${$(($2 + 2))}" && return
	done
}
nbctl() { ovn-nbctl --db="$NB" --timeout=20 "$@"; }

# Names as real deployments give them, several schemes side by side and no packetwalk/* keys, so
# the tool must find ports by what OVN and the nodes say (iface-id, addresses), not by a guess.
# uuid_of TEXT: a Neutron-style id (8-4-4-4-12 hex), the same for the same TEXT.
uuid_of() {
	local h
	h=$(printf '%s' "$1" | md5sum)
	echo "${h:0:8}-${h:8:4}-${h:12:4}-${h:16:4}-${h:20:12}"
}
# pod_lsp NS POD: OVN-Kubernetes NS_POD, Kube-OVN POD.NS, or a Neutron port id (kuryr).
pod_lsp() {
	case $1/$2 in
	kube-system/kube-proxy-check) echo "$2.$1" ;;
	kube-system/*) echo "${1}_$2" ;;
	*) uuid_of "port/$1/$2" ;;
	esac
}
# node_lsp NODE eth0|eth1: the logical port of a node's NIC, one scheme per node.
node_lsp() {
	case $1 in
	172.15.0.3) echo "node-$1-$2" ;;
	172.15.0.4) if [ "$2" = eth0 ]; then echo "k8s-$1-mgmt"; else echo "k8s-$1-trunk"; fi ;;
	*) uuid_of "port/node/$1/$2" ;;
	esac
}
# ns_router NS: the namespace's router; NODES_ROUTER the node subnet's.
ns_router() {
	case $1 in
	kube-system) echo "t1-$1" ;;
	*) echo "neutron-$(uuid_of "router/$1")" ;;
	esac
}
NODES_ROUTER=lr-k8s-nodes

# pid_files: the pid file of every daemon of this lab (others may share PW_LAB_DIR).
pid_files() {
	local l name host d
	for d in nb sb ovn-northd db ovs-vswitchd ovn-controller; do
		echo "$PW_LAB_DIR/hv/$d.pid"
	done
	for d in db ovs-vswitchd ovn-controller; do
		echo "$PW_LAB_DIR/hv2/$d.pid"
	done
	for l in "${NODES[@]}"; do
		read -r name host <<<"$l"
		d=$(node_dir "$N-$host")
		echo "$d/ovsdb-server.pid" "$d/ovs-vswitchd.pid"
	done
}

# net_status: 0 when every network daemon of the lab runs and every netns it made exists.
net_status() {
	[ -f "$PW_LAB_DIR/lab.json" ] && [ -f "$PW_LAB_DIR/netns.list" ] || return 1
	local f ns
	for f in $(pid_files); do
		pid_alive "$f" || return 1
	done
	while read -r ns; do
		[ -e "/var/run/netns/$ns" ] || return 1
	done <"$PW_LAB_DIR/netns.list"
}

# kube_status: 0 when the lab's etcd and kube-apiserver run (or PW_LAB_KUBE=0).
kube_status() {
	[ "$PW_LAB_KUBE" = 0 ] && return 0
	[ -f "$PW_LAB_DIR/kubeconfig" ] && pid_alive "$KUBE_DIR/etcd.pid" && pid_alive "$KUBE_DIR/kube-apiserver.pid"
}

lab_status() { net_status && kube_status && { [ "$PW_LAB_KUBE" = 0 ] || kubelet_status; }; }

lab_down() {
	local l name host
	kubelet_down
	ssh_down
	svc_down
	for l in "${NODES[@]}"; do
		read -r name host <<<"$l"
		# node.sh reads a pid file the stopping daemon may just have removed: drop that noise.
		[ ! -d "$(node_dir "$N-$host")" ] || node_down "$N-$host" 2> >(grep -v '^cat: .*\.pid: No such file' >&2)
	done
	stop_pidfiles "$PW_LAB_DIR"/hv2/*.pid "$PW_LAB_DIR"/hv/*.pid
	kube_down
	if [ -f "$PW_LAB_DIR/netns.list" ]; then
		local ns
		while read -r ns; do
			[ -e "/var/run/netns/$ns" ] && ip netns del "$ns"
		done <"$PW_LAB_DIR/netns.list"
	fi
	# Only the files this script makes: the run directories of its hosts and its state files.
	rm -rf "$PW_LAB_DIR/hv" "$PW_LAB_DIR/hv2" "$PW_LAB_DIR/netns.list" "$PW_LAB_DIR/lab.json" "$PW_LAB_DIR/broken" \
		"$PW_LAB_DIR/node-exec" "$PW_LAB_DIR/nodeexec" "$PW_LAB_DIR/host-exec"
	[ -d "$PW_LAB_DIR" ] && rmdir "$PW_LAB_DIR" 2>/dev/null || true
}

# fabric_nb: the logical topology, one ovn-nbctl transaction.
fabric_nb() {
	local c=() l ns subnet gw t1 t0 n name host ip vlan r=$NODES_ROUTER lsp
	c+=(-- ls-add ls-k8s-nodes -- set logical_switch ls-k8s-nodes other_config:subnet=172.15.0.0/24)
	c+=(-- lr-add t0 -- lr-add "$r")
	c+=(-- lrp-add "$r" t1-k8s-nodes-dl $ROUTER_MAC 172.15.0.1/24)
	c+=(-- lsp-add ls-k8s-nodes ls-k8s-nodes-to-t1 -- lsp-set-type ls-k8s-nodes-to-t1 router
		-- lsp-set-addresses ls-k8s-nodes-to-t1 router -- lsp-set-options ls-k8s-nodes-to-t1 router-port=t1-k8s-nodes-dl)
	c+=(-- lrp-add "$r" t1-k8s-nodes-to-t0 02:50:56:56:01:05 $NODES_T1_LINK/29 peer=t0-to-t1-k8s-nodes)
	c+=(-- lrp-add t0 t0-to-t1-k8s-nodes 02:50:56:56:00:04 $NODES_T0_LINK/29 peer=t1-k8s-nodes-to-t0)
	c+=(-- lr-route-add "$r" 0.0.0.0/0 $NODES_T0_LINK -- lr-route-add t0 172.15.0.0/24 $NODES_T1_LINK)
	for l in "${NAMESPACES[@]}"; do
		read -r ns subnet gw t1 t0 <<<"$l"
		r=$(ns_router "$ns")
		# kube-system's switch says its subnet; default's is known only from its router port.
		c+=(-- ls-add "ls-$ns")
		[ "$ns" != kube-system ] || c+=(-- set logical_switch "ls-$ns" other_config:subnet="$subnet")
		c+=(-- lr-add "$r")
		c+=(-- lrp-add "$r" "t1-$ns-dl" $ROUTER_MAC "$gw/${subnet#*/}")
		c+=(-- lsp-add "ls-$ns" "ls-$ns-to-t1" -- lsp-set-type "ls-$ns-to-t1" router
			-- lsp-set-addresses "ls-$ns-to-t1" router -- lsp-set-options "ls-$ns-to-t1" router-port="t1-$ns-dl")
		c+=(-- lrp-add "$r" "t1-$ns-to-t0" "02:50:56:56:01:$(octet "$t1")" "$t1/29" peer="t0-to-t1-$ns")
		c+=(-- lrp-add t0 "t0-to-t1-$ns" "02:50:56:56:00:$(octet "$t0")" "$t0/29" peer="t1-$ns-to-t0")
		c+=(-- lr-route-add "$r" 0.0.0.0/0 "$t0" -- lr-route-add t0 "$subnet" "$t1")
	done
	for l in "${NODES[@]}"; do
		read -r name host <<<"$l"
		c+=(-- lsp-add ls-k8s-nodes "$(node_lsp "$name" eth0)" -- lsp-set-addresses "$(node_lsp "$name" eth0)" "$(node_mac "$name" 0) $name")
		c+=(-- lsp-add ls-k8s-nodes "$(node_lsp "$name" eth1)" -- lsp-set-addresses "$(node_lsp "$name" eth1)" "$(node_mac "$name" 1)")
	done
	for l in "${PODS[@]}"; do
		read -r ns name ip n vlan <<<"$l"
		lsp=$(pod_lsp "$ns" "$name")
		c+=(-- lsp-add "ls-$ns" "$lsp" "$(node_lsp "$n" eth1)" "$vlan")
		# kuryr (Neutron ids) leaves addresses "unknown" and says the MAC and IP in port_security.
		case $lsp in
		*-*-*-*-*) c+=(-- lsp-set-addresses "$lsp" unknown -- lsp-set-port-security "$lsp" "$(pod_mac "$n" "$vlan") $ip") ;;
		*) c+=(-- lsp-set-addresses "$lsp" "$(pod_mac "$n" "$vlan") $ip") ;;
		esac
	done
	nbctl "${c[@]}" >/dev/null
}

# node_build NAME HOST: the node VM (lib/node.sh): a netns with its own OVS and br-int, eth0 on
# the node subnet and the trunk eth1 (uplink of br-int), both plugged into the hypervisor's br-int
# by hv_plug, and its pods on tagged access ports.
node_build() {
	local name=$1 nns=$N-$2 host=$2 l ns pod ip n vlan d hvns
	hvns=$N-$(node_hv "$name")
	node_up "$nns"
	echo "$nns" >>"$PW_LAB_DIR/netns.list"
	d=$(node_dir "$nns")
	# ovs-appctl (and our collector) find ovs-vswitchd through ovs-vswitchd.pid as ovs-vswitchd.PID.ctl.
	ln -sfn ovs-vswitchd.ctl "$d/ovs-vswitchd.$(cat "$d/ovs-vswitchd.pid").ctl"
	mkdir -p "$d/netns"
	node_eth0 "$nns" "$name/24" 172.15.0.1 "$hvns" "$host-eth0"
	ip -n "$nns" link set eth0 address "$(node_mac "$name" 0)"
	node_uplink "$nns" eth1 "$hvns" "$host-eth1" "$(node_mac "$name" 1)"
	for l in "${PODS[@]}"; do
		read -r ns pod ip n vlan <<<"$l"
		[ "$n" = "$name" ] || continue
		echo "$N-$ns-$pod" >>"$PW_LAB_DIR/netns.list"
		: >"$d/netns/$N-$ns-$pod"
		node_pod_add "$nns" "$N-$ns-$pod" "$ip/24" "$(ns_field "$ns" 3)" "$(pod_mac "$n" "$vlan")" "$vlan" \
			"$(fnv_veth "$ns" "$pod")" "$(pod_lsp "$ns" "$pod")"
		no_ipv6 "$N-$ns-$pod"
	done
	no_ipv6 "$nns"
}

# no_ipv6 NETNS: the lab is IPv4 (as the published walk); without IPv6 a link flap sends no
# DAD/router solicitation/MLD, so a MAC table entry changes only when the test means it to.
no_ipv6() {
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	ip netns exec "$1" sh -c 'for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo 1 >"$f"; done'
}

# hv_plug: plug every node's NICs into its hypervisor's br-int as the VIFs of their logical ports.
hv_plug() {
	local c=() l name host h
	for h in hv hv2; do
		c=()
		for l in "${NODES[@]}"; do
			read -r name host <<<"$l"
			[ "$(node_hv "$name")" = "$h" ] || continue
			c+=(-- add-port br-int "$host-eth0" -- set interface "$host-eth0" external_ids:iface-id="$(node_lsp "$name" eth0)"
				-- add-port br-int "$host-eth1" -- set interface "$host-eth1" external_ids:iface-id="$(node_lsp "$name" eth1)")
		done
		node_vsctl "$h" "${c[@]}"
	done
}

# write_node_exec: $PW_LAB_DIR/node-exec NODE CMD... runs CMD on a node VM the way a --node-exec
# template reaches a real node: in the node's netns, in a private mount namespace (nodeexec makes
# one, as ip netns exec would) where the node's OVS run dir is /var/run/openvswitch and
# /var/run/netns holds only the node's own pods (no PID namespace: ovs-appctl must see
# ovs-vswitchd's pid to trust its pid file).
# Argv is passed through as is (no shell parses it); a missing program exits 127.
write_node_exec() {
	local f=$PW_LAB_DIR/node-exec l name host
	mkdir -p /run/openvswitch # the mount point; an empty directory, as openvswitch-switch makes it
	# One process per call (testdata/lab/nodeexec) instead of ip netns exec, a shell and a mount(8)
	# per bind: ~5 ms instead of ~30, so the lab's way in does not swamp what the tool spends.
	(cd "$HERE/../.." && CGO_ENABLED=0 go build -trimpath -o "$PW_LAB_DIR/nodeexec" ./testdata/lab/nodeexec) ||
		lab_die "building testdata/lab/nodeexec failed"
	{
		printf '#!/bin/sh\n# node-exec NODE CMD...: run CMD on node NODE of the packetwalk lab %s (written by lab.sh up).\n' "$N"
		printf 'set -eu\n[ $# -ge 2 ] || { echo "usage: $0 NODE CMD..." >&2; exit 2; }\nnode=$1\nshift\ncase $node in\n'
		for l in "${NODES[@]}"; do
			read -r name host <<<"$l"
			printf '%s) ns=%s ;;\n' "$name" "$N-$host"
		done
		printf '*) echo "node-exec: no node $node in lab %s" >&2; exit 2 ;;\nesac\n' "$N"
		# A node may bring its own way in (the kubelet node: the mount namespace of its containerd).
		printf '[ ! -x "%s/$ns/node-exec" ] || exec "%s/$ns/node-exec" "$@"\n' "$PW_LAB_DIR" "$PW_LAB_DIR"
		printf 'exec "%s/nodeexec" "$ns" "%s/$ns" "$@"\n' "$PW_LAB_DIR" "$PW_LAB_DIR"
	} >"$f.tmp"
	chmod 755 "$f.tmp"
	mv "$f.tmp" "$f"
}

write_json() {
	local l name host ns pod ip n vlan first=1 out=$PW_LAB_DIR/lab.json.tmp d=$PW_LAB_DIR
	{
		printf '{\n  "name": "%s",\n  "dir": "%s",\n' "$N" "$d"
		printf '  "hypervisor": {"netns": "%s", "nb": "unix:%s/hv/nb.sock", "sb": "unix:%s/hv/sb.sock", "ovsdb": "unix:%s/hv/db.sock", "vswitchdCtl": "%s/hv/ovs-vswitchd.ctl", "chassis": "%s-hv"},\n' \
			"$HVNS" "$d" "$d" "$d" "$d" "$N"
		if [ "$PW_LAB_KUBE" != 0 ]; then
			printf '  "kubeconfig": "%s/kubeconfig",\n  "apiserver": "%s",\n' "$d" "$(cat "$KUBE_DIR/url")"
		fi
		printf '  "nodeExec": "%s/node-exec {node}",\n' "$d"
		hosts_json
		printf '  "routerMac": "%s",\n  "nodes": [\n' "$ROUTER_MAC"
		for l in "${NODES[@]}"; do
			read -r name host <<<"$l"
			((first)) || printf ',\n'
			first=0
			printf '    {"name": "%s", "ip": "%s", "netns": "%s", "ovsdb": "unix:%s/db.sock", "vswitchdCtl": "%s/ovs-vswitchd.ctl", "bridge": "br-int", "uplink": "eth1", "host": "%s",' \
				"$name" "$name" "$N-$host" "$(node_dir "$N-$host")" "$(node_dir "$N-$host")" "$N-$(node_hv "$name")"
			printf ' "mgmt": {"interface": "eth0", "mac": "%s", "lsp": "%s", "hvPort": "%s-eth0"}, "trunk": {"interface": "eth1", "mac": "%s", "lsp": "%s", "hvPort": "%s-eth1"}}' \
				"$(node_mac "$name" 0)" "$(node_lsp "$name" eth0)" "$host" "$(node_mac "$name" 1)" "$(node_lsp "$name" eth1)" "$host"
		done
		printf '\n  ],\n  "namespaces": [\n'
		first=1
		local subnet gw t1 t0
		for l in "${NAMESPACES[@]}"; do
			read -r ns subnet gw t1 t0 <<<"$l"
			((first)) || printf ',\n'
			first=0
			printf '    {"name": "%s", "subnet": "%s", "gateway": "%s", "switch": "ls-%s", "router": "%s", "t1Link": "%s", "t0Link": "%s"}' \
				"$ns" "$subnet" "$gw" "$ns" "$(ns_router "$ns")" "$t1" "$t0"
		done
		printf '\n  ],\n  "pods": [\n'
		first=1
		for l in "${PODS[@]}"; do
			read -r ns pod ip n vlan <<<"$l"
			((first)) || printf ',\n'
			first=0
			printf '    {"namespace": "%s", "name": "%s", "node": "%s", "ip": "%s", "mac": "%s", "vlan": %d, "netns": "%s", "hostVeth": "%s", "lsp": "%s", "parentLsp": "%s", "gateway": "%s"}' \
				"$ns" "$pod" "$n" "$ip" "$(pod_mac "$n" "$vlan")" "$vlan" "$N-$ns-$pod" "$(fnv_veth "$ns" "$pod")" "$(pod_lsp "$ns" "$pod")" "$(node_lsp "$n" eth1)" "$(ns_field "$ns" 3)"
		done
		printf '\n  ]\n}\n'
	} >"$out"
	mv "$out" "$PW_LAB_DIR/lab.json"
}

# warm: every pod and node talks to its gateway once, so the node MAC tables hold the pod MACs on
# their access ports and the router MAC on the trunk, per VLAN (as in the published walk).
warm() {
	local l ns pod ip n vlan name host pids=() p
	for l in "${PODS[@]}"; do
		read -r ns pod ip n vlan <<<"$l"
		wait_until 20 "$ns/$pod to reach its gateway" answers "$N-$ns-$pod" "$(ns_field "$ns" 3)" &
		pids+=($!)
	done
	for l in "${NODES[@]}"; do
		read -r name host <<<"$l"
		wait_until 20 "node $name to reach 172.15.0.1" answers "$N-$host" 172.15.0.1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || exit 1; done
}

lab_up() {
	for b in ovsdb-server ovs-vswitchd ovn-northd ovn-controller ovn-nbctl ovs-vsctl ip; do
		command -v "$b" >/dev/null || lab_die "$b not found: install openvswitch-switch ovn-central ovn-host iproute2"
	done
	[ "$(id -u)" = 0 ] || lab_die "the lab needs root (network namespaces): run it with sudo"
	if lab_status; then
		lab_log "already up ($PW_LAB_DIR/lab.json)"
		return 0
	fi
	if net_status; then
		# The network is up (e.g. made before the lab had an API server): add only what is missing.
		kube_start
		kube_finish
		write_node_exec
		write_host_exec
		write_json
		lab_log "up: $PW_LAB_DIR/lab.json (kubeconfig $PW_LAB_DIR/kubeconfig added)"
		return 0
	fi
	[ -e "$PW_LAB_DIR/netns.list" ] || [ -d "$PW_LAB_DIR/hv" ] && lab_down
	mkdir -p "$PW_LAB_DIR"
	: >"$PW_LAB_DIR/netns.list"
	# The API server starts while the network is built; kube_finish waits for it.
	[ "$PW_LAB_KUBE" = 0 ] || kube_start
	netns_add "$HVNS"
	no_ipv6 "$HVNS"
	ovn_central_up hv "$HVNS"
	fabric_nb
	ha_nb
	ovs_up hv "$HVNS"
	ovn_controller_up hv "$HVNS" "$N-hv" "$(tep_of hv)"
	hv2_up
	underlay_up
	local l name host
	for l in "${NODES[@]}"; do
		read -r name host <<<"$l"
		node_build "$name" "$host"
	done
	hv_plug
	nbctl --wait=hv sync
	warm
	wait_until 20 "BFD up on the tunnel between the hypervisors" bfd_up
	[ "$PW_LAB_KUBE" = 0 ] || kube_finish
	! kubelet_enabled || [ "$PW_LAB_KUBE" = 0 ] || kubelet_up
	write_node_exec
	write_host_exec
	write_json
	local kc=""
	[ "$PW_LAB_KUBE" = 0 ] || kc=", kubeconfig $PW_LAB_DIR/kubeconfig"
	lab_log "up: $PW_LAB_DIR/lab.json (NB $NB$kc)"
}

kube_dns_veth=$(fnv_veth kube-system kube-dns)

lab_break() {
	lab_status || lab_die "the lab is not up: run $0 up"
	if [ -s "$PW_LAB_DIR/broken" ]; then
		lab_die "already broken ($(cat "$PW_LAB_DIR/broken")): run $0 heal first"
	fi
	case $1 in
	vlan-mismatch) nbctl set logical_switch_port kube-system_kube-dns tag_request=199 ;;
	t0-route) nbctl lr-route-del t0 172.15.0.0/24 ;;
	return-route) nbctl lr-route-del t0 172.16.1.0/24 ;;
	veth-down) ip -n "$N-n3" link set "$kube_dns_veth" down ;;
	stale-mac)
		# A frame from kube-dns's MAC arrives on the trunk in its VLAN (as if the pod had moved
		# away): br-int learns it there, and the entry stays until it ages out or the pod talks.
		# kube-dns keeps quiet: its gateway's neighbour entry is pinned, so no ARP probe relearns it.
		ip -n "$N-kube-system-kube-dns" neigh replace 172.16.1.1 lladdr $ROUTER_MAC nud permanent dev eth0
		# Revalidators relearn MACs from the stats of live datapath flows: purge them first, so
		# the pod's last packets cannot move the entry back.
		node_appctl "$N-n3" revalidator/purge >/dev/null
		node_appctl "$N-n3" ofproto/trace br-int \
			"in_port=eth1,dl_vlan=101,dl_src=$(pod_mac 172.15.0.3 101),dl_dst=ff:ff:ff:ff:ff:ff" -generate >/dev/null
		;;
	tunnel-down)
		ip -n "$HV2NS" link set ul0 down
		wait_until 20 "BFD down on the tunnel between the hypervisors" bfd_down
		;;
	underlay-mtu) underlay_mtu 1500 ;;
	netpol-acl) acl_nb ;;
	*)
		svc_status && svc_break "$1" ||
			lab_die "unknown scenario $1: use one of $SCENARIOS, or after svc-up no-ready-endpoint missing-snat lb-member-down"
		;;
	esac
	nbctl --wait=hv sync
	echo "$1" >"$PW_LAB_DIR/broken"
	lab_log "broken: $1"
}

lab_heal() {
	lab_status || lab_die "the lab is not up: run $0 up"
	local b
	b=$(cat "$PW_LAB_DIR/broken" 2>/dev/null || true)
	case $b in
	"") lab_log "nothing to heal" && return 0 ;;
	vlan-mismatch) nbctl set logical_switch_port kube-system_kube-dns tag_request=101 ;;
	t0-route) nbctl --may-exist lr-route-add t0 172.15.0.0/24 $NODES_T1_LINK ;;
	return-route) nbctl --may-exist lr-route-add t0 "$(ns_field kube-system 2)" "$(ns_field kube-system 4)" ;;
	veth-down) ip -n "$N-n3" link set "$kube_dns_veth" up ;;
	stale-mac)
		ip -n "$N-kube-system-kube-dns" neigh del 172.16.1.1 dev eth0
		node_appctl "$N-n3" fdb/flush br-int >/dev/null
		;;
	tunnel-down)
		ip -n "$HV2NS" link set ul0 up
		wait_until 20 "BFD up on the tunnel between the hypervisors" bfd_up
		;;
	underlay-mtu) underlay_mtu "$UL_MTU" ;;
	netpol-acl) acl_nb_del ;;
	*) svc_heal "$b" ;;
	esac
	nbctl --wait=hv sync
	rm -f "$PW_LAB_DIR/broken"
	warm
	lab_log "healed: $b"
}

case ${1:-} in
up) lab_up ;;
down) lab_down && lab_log "down" ;;
status)
	if lab_status; then
		echo "up: $PW_LAB_DIR/lab.json${PW_LAB_DIR:+, broken: $(cat "$PW_LAB_DIR/broken" 2>/dev/null || echo none)}"
	else
		echo "down"
		exit 1
	fi
	;;
break) [ $# -eq 2 ] || usage && lab_break "$2" ;;
heal) lab_heal ;;
ssh-up) lab_status || lab_die "the lab is not up: run $0 up" && ssh_up && lab_log "sshd up: --node-exec '$(ssh_template)'" ;;
svc-up) lab_status || lab_die "the lab is not up: run $0 up" && svc_up && lab_log "service default/web ($SVC_VIP, NodePort $SVC_NODE:$SVC_NODEPORT) and the way out to $EXT_HOST up" ;;
*) usage ;;
esac
