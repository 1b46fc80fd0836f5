#!/usr/bin/env bash
# node-lab.sh: a node like the published node 172.15.0.3 — pods on VLAN-tagged access ports of an
# OVS br-int, a trunk uplink to a router netns that is every pod's gateway — built with lib/node.sh.
#
#   node-lab.sh up   [NODE] [PODS]   build NODE (default lab-node) with PODS pods (default: the 9
#                                    published pods of 172.15.0.3; a number N makes N pods on
#                                    VLANs 101.., subnets 172.16.x.0/24) and fill the MAC table
#   node-lab.sh down [NODE]          remove it
#   node-lab.sh fdb  [NODE]          ovs-appctl fdb/show br-int of NODE
#
# Env: PW_LAB_DIR (default /tmp/pw-lab). Needs root, iproute2 and openvswitch-switch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/node.sh
. "$here/lib/node.sh"

ROUTER_MAC=02:50:56:56:44:52

# published_pods prints "PODNS IP/LEN GW MAC VLAN HOSTIF" for the 9 pods of node 172.15.0.3.
published_pods() {
	local p=$1
	cat <<PODS
$p-pod-kube-system-kube-dns 172.16.1.2/24 172.16.1.1 02:50:56:00:03:01 101 veth1a2b
$p-pod-kube-system-heapster 172.16.1.3/24 172.16.1.1 02:50:56:00:03:02 102 vethd5a5
$p-pod-kube-system-kubernetes-dashboard 172.16.1.4/24 172.16.1.1 02:50:56:00:03:03 103 veth538e
$p-pod-kube-system-monitoring-grafana 172.16.1.5/24 172.16.1.1 02:50:56:00:03:04 104 veth9f20
$p-pod-kube-system-monitoring-influxdb 172.16.1.6/24 172.16.1.1 02:50:56:00:03:05 105 vethe8ba
$p-pod-default-nginx-1 172.16.0.2/24 172.16.0.1 02:50:56:00:03:06 106 veth64bb
$p-pod-default-nginx-2 172.16.0.3/24 172.16.0.1 02:50:56:00:03:07 107 veth664e
$p-pod-default-redis-master 172.16.0.4/24 172.16.0.1 02:50:56:00:03:08 108 vethc3b7
$p-pod-default-frontend 172.16.0.5/24 172.16.0.1 02:50:56:00:03:09 109 vethbbff
PODS
}

# many_pods N prints N pods: pod i on VLAN 100+i, one /24 per 250 pods.
many_pods() {
	local p=$1 n=$2 i
	for ((i = 1; i <= n; i++)); do
		local net=$(((i - 1) / 250)) host=$(((i - 1) % 250 + 2))
		printf '%s-pod-%d 172.17.%d.%d/16 172.17.255.1 02:51:%02x:%02x:%02x:%02x %d\n' \
			"$p" "$i" "$net" "$host" $((i >> 24 & 255)) $((i >> 16 & 255)) $((i >> 8 & 255)) $((i & 255)) $((100 + i))
	done
}

cmd=${1:-}
node=${2:-lab-node}
case "$cmd" in
up)
	pods=${3:-published}
	node_up "$node"
	node_router_up "$node" eth1 "$node-router" "$ROUTER_MAC"
	node_eth0 "$node" 172.15.0.3/24 172.15.0.1 "$node-router" mgmt0 172.15.0.1/24
	if [ "$pods" = published ]; then list=$(published_pods "$node"); else list=$(many_pods "$node" "$pods"); fi
	declare -A gws=() pods_gw=()
	while read -r pns cidr gw mac vlan hif; do
		node_pod_add "$node" "$pns" "$cidr" "$gw" "$mac" "$vlan" "$hif"
		[ -n "${gws[$gw]:-}" ] || node_router_gw "$node-router" "$gw" "$ROUTER_MAC"
		gws[$gw]=1
		pods_gw[$pns]=$gw
	done <<<"$list"
	# Fill the MAC table: each pod pings its gateway (the router MAC is learned on the uplink per VLAN).
	for pns in "${!pods_gw[@]}"; do node_resolve "$pns" "${pods_gw[$pns]}"; done
	echo "node-lab: $node ready: $(node_appctl "$node" fdb/show br-int | tail -n +2 | wc -l) MAC table entries"
	;;
down) node_down "$node" ;;
fdb) node_appctl "$node" fdb/show br-int ;;
*)
	sed -n '2,12p' "$0" >&2
	exit 2
	;;
esac
