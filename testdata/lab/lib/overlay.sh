# shellcheck shell=bash
# overlay.sh: the lab's second hypervisor and the underlay between the two, sourced by lab.sh
# (needs N, HVNS, nbctl and hv.sh/node.sh's helpers).
#
# hv (OVN central + chassis $N-hv) and hv2 (chassis $N-hv2: its own ovsdb-server, ovs-vswitchd and
# ovn-controller in netns $N-hv2, run dir $PW_LAB_DIR/hv2) each hold their TEP address on a netdev
# bridge br-phy whose one port, ul0, is an end of the underlay veth: OVN's Geneve tunnels between
# the chassis run over it with OVS userspace tunnelling (OVS learns the route to the other TEP from
# br-phy's address). A gateway port on t0 bound to both chassis (HA) makes ovn-controller turn BFD
# on for the tunnel between them. Node VMs are spread: node_hv NAME says whose br-int a node's
# NICs plug into.
#
# $PW_LAB_DIR/host-exec HOST CMD... runs CMD "on" a hypervisor the way a --host-exec template
# reaches one: in its netns, its OVS run dir as /var/run/openvswitch (HOST is the chassis
# hostname, $N-hv or $N-hv2).

UL_NET=192.168.100
# UL_MTU carries a full 1500-byte pod packet in Geneve (58 bytes more: 1558 at least).
UL_MTU=1600
HV2NS=$N-hv2
# the HA port on t0 exists only to bind both chassis in one HA group (BFD); no switch is attached.
HA_PORT=t0-ha

# node_hv NAME: the hypervisor (hv or hv2) whose br-int holds node NAME's NICs.
node_hv() {
	case $1 in
	172.15.0.5) echo hv2 ;;
	*) echo hv ;;
	esac
}

# tep_of HOST: the TEP address of hypervisor HOST (hv or hv2).
tep_of() {
	case $1 in
	hv) echo "$UL_NET.1" ;;
	*) echo "$UL_NET.2" ;;
	esac
}

# hv2_up: the second hypervisor's netns, OVS and ovn-controller (chassis $N-hv2, SB of hv).
hv2_up() {
	netns_add "$HV2NS"
	no_ipv6 "$HV2NS"
	ovs_up hv2 "$HV2NS"
	ovn_controller_up hv2 "$HV2NS" "$N-hv2" "$(tep_of hv2)" "unix:$PW_LAB_DIR/hv/sb.sock"
}

# underlay_up: the underlay veth ul0 between hv and hv2, and br-phy with the TEP on each side.
underlay_up() {
	local h ns d
	ip link add ul0 mtu "$UL_MTU" netns "$HVNS" type veth peer name ul0 mtu "$UL_MTU" netns "$HV2NS"
	for h in hv hv2; do
		ns=$N-$h
		ip -n "$ns" link set ul0 up
		node_vsctl "$h" -- --may-exist add-br br-phy -- set bridge br-phy datapath_type=netdev \
			-- --may-exist add-port br-phy ul0
		ip -n "$ns" addr replace "$(tep_of "$h")/24" dev br-phy
		ip -n "$ns" link set br-phy up
		d=$PW_LAB_DIR/$h
		# ovs-appctl finds ovs-vswitchd through ovs-vswitchd.pid as ovs-vswitchd.PID.ctl.
		ln -sfn ovs-vswitchd.ctl "$d/ovs-vswitchd.$(cat "$d/ovs-vswitchd.pid").ctl"
	done
}

# ha_nb: the t0 gateway port bound to both chassis (priorities 20, 10), for BFD between them.
ha_nb() {
	nbctl -- lrp-add t0 "$HA_PORT" 02:50:56:56:00:fe 100.64.250.1/24 \
		-- lrp-set-gateway-chassis "$HA_PORT" "$N-hv" 20 -- lrp-set-gateway-chassis "$HA_PORT" "$N-hv2" 10 >/dev/null
}

# bfd_state HOST: the BFD state of HOST's tunnel to the other hypervisor ("" when none yet).
bfd_state() {
	node_vsctl "$1" --bare --columns=bfd_status find interface type=geneve | tr ' ' '\n' | sed -n 's/^state=//p' | head -n1
}

# write_host_exec: $PW_LAB_DIR/host-exec HOST CMD..., as write_node_exec for nodes.
write_host_exec() {
	local f=$PW_LAB_DIR/host-exec h
	{
		printf '#!/bin/sh\n# host-exec HOST CMD...: run CMD on hypervisor HOST of the packetwalk lab %s (written by lab.sh up).\n' "$N"
		printf 'set -eu\n[ $# -ge 2 ] || { echo "usage: $0 HOST CMD..." >&2; exit 2; }\nhost=$1\nshift\ncase $host in\n'
		for h in hv hv2; do
			printf '%s) ns=%s d=%s ;;\n' "$N-$h" "$N-$h" "$PW_LAB_DIR/$h"
		done
		printf '*) echo "host-exec: no hypervisor $host in lab %s" >&2; exit 2 ;;\nesac\n' "$N"
		printf 'exec ip netns exec "$ns" sh -c '"'"'mount --bind "$1" /run/openvswitch; shift; exec "$@"'"'"' host-exec "$d" "$@"\n'
	} >"$f.tmp"
	chmod 755 "$f.tmp"
	mv "$f.tmp" "$f"
}

# hosts_json: the "hosts" entry of lab.json.
hosts_json() {
	local h first=1
	printf '  "hostExec": "%s/host-exec {host}",\n  "hosts": [\n' "$PW_LAB_DIR"
	for h in hv hv2; do
		((first)) || printf ',\n'
		first=0
		printf '    {"name": "%s", "chassis": "%s", "netns": "%s", "ovsdb": "unix:%s/db.sock", "vswitchdCtl": "%s/ovs-vswitchd.ctl", "tep": "%s", "underlay": "ul0", "underlayMtu": %d}' \
			"$N-$h" "$N-$h" "$N-$h" "$PW_LAB_DIR/$h" "$PW_LAB_DIR/$h" "$(tep_of "$h")" "$UL_MTU"
	done
	printf '\n  ],\n'
}

# acl_nb / acl_nb_del: a NetworkPolicy as OVN-Kubernetes writes it: a port group holding
# kube-system/heapster's port and an ACL dropping its egress to the node addresses (an address set).
ACL_PG=a10448532117447766437
ACL_AS=a13757628823530217392
acl_nb() {
	local ids="external_ids:k8s.ovn.org/name=kube-system:deny-node-egress external_ids:k8s.ovn.org/owner-type=NetworkPolicy external_ids:k8s.ovn.org/owner-controller=default-network-controller"
	# shellcheck disable=SC2086
	nbctl -- pg-add "$ACL_PG" kube-system_heapster -- set port_group "$ACL_PG" $ids \
		-- create address_set name="$ACL_AS" addresses='"172.15.0.3","172.15.0.4","172.15.0.5"' $ids >/dev/null
	# shellcheck disable=SC2086
	nbctl -- --type=port-group --name=kube-system_deny-node-egress_0 acl-add "$ACL_PG" from-lport 1001 \
		"inport == @$ACL_PG && ip4.dst == \$$ACL_AS" drop >/dev/null
	local acl
	acl=$(nbctl --bare --columns=_uuid find acl name=kube-system_deny-node-egress_0)
	# shellcheck disable=SC2086
	nbctl set acl "$acl" log=false $ids external_ids:k8s.ovn.org/id=default-network-controller:NetworkPolicy:kube-system:deny-node-egress:Egress:0 \
		external_ids:direction=Egress external_ids:gress-index=0
}
acl_nb_del() {
	nbctl -- pg-del "$ACL_PG" -- destroy address_set "$ACL_AS"
}

# bfd_up: both ends of the tunnel between the hypervisors say BFD up.
bfd_up() { [ "$(bfd_state hv)" = up ] && [ "$(bfd_state hv2)" = up ]; }
# bfd_down: the first hypervisor says BFD down.
bfd_down() { [ "$(bfd_state hv)" = down ]; }

# underlay_mtu MTU: set the underlay's MTU on both ends.
underlay_mtu() {
	ip -n "$HVNS" link set ul0 mtu "$1"
	ip -n "$HV2NS" link set ul0 mtu "$1"
}
