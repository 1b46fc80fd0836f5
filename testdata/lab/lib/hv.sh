# shellcheck shell=bash
# hv.sh: the hypervisor of the packetwalk lab, sourced by lab.sh (the node VMs come from node.sh).
#
# The hypervisor is a network namespace running OVN central (NB and SB ovsdb-servers, ovn-northd)
# and an OVN chassis (its own ovsdb-server, ovs-vswitchd on the userspace netdev datapath,
# ovn-controller), with its run directory $PW_LAB_DIR/hv holding databases, unix sockets, pid files
# and logs. Nothing listens on TCP; nothing outside $PW_LAB_DIR and the namespaces named in
# $PW_LAB_DIR/netns.list is touched. ovs-vsctl goes through lib/node.sh's node_vsctl HOST (the same
# $PW_LAB_DIR/HOST/db.sock), so lab.sh sources both.

# lab_log prints a progress line on stderr.
lab_log() { printf 'lab: %s\n' "$*" >&2; }

# lab_die prints one line saying what is wrong and exits 1.
lab_die() { printf 'lab: %s\n' "$*" >&2; exit 1; }

# hostenv HOST: the environment that keeps a host's OVS/OVN files in its own run directory
# (OVS puts BRIDGE.mgmt sockets in OVS_RUNDIR, so two vswitchds must never share one).
hostenv() {
	local dir=$PW_LAB_DIR/$1
	echo "OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir OVN_RUNDIR=$dir OVN_LOGDIR=$dir OVN_DBDIR=$dir"
}

# in_host HOST NETNS CMD...: run CMD inside the host's netns with its environment.
in_host() {
	local host=$1 ns=$2
	shift 2
	# shellcheck disable=SC2046
	ip netns exec "$ns" env $(hostenv "$host") "$@"
}

# netns_add NAME: create a namespace and remember it, so `down` deletes exactly what was made.
netns_add() {
	ip netns add "$1" || lab_die "cannot create netns $1 (already exists? run: $0 down)"
	echo "$1" >>"$PW_LAB_DIR/netns.list"
	ip -n "$1" link set lo up
}

# ovsdb_up HOST NETNS DBNAME SCHEMA: start an ovsdb-server serving $DIR/DBNAME.db on $DIR/DBNAME.sock.
ovsdb_up() {
	local host=$1 ns=$2 db=$3 schema=$4 dir=$PW_LAB_DIR/$1
	mkdir -p "$dir"
	[ -f "$dir/$db.db" ] || ovsdb-tool create "$dir/$db.db" "$schema" >/dev/null
	in_host "$host" "$ns" ovsdb-server "$dir/$db.db" --remote="punix:$dir/$db.sock" \
		--pidfile="$dir/$db.pid" --unixctl="$dir/$db.ctl" -vconsole:off --log-file="$dir/$db.log" \
		--detach --no-chdir || lab_die "ovsdb-server for $host/$db failed to start: see $dir/$db.log"
}

# ovs_up HOST NETNS: start the host's Open_vSwitch database (db.sock) and ovs-vswitchd
# (ovs-vswitchd.ctl), then create br-int on the userspace datapath.
ovs_up() {
	local host=$1 ns=$2 dir=$PW_LAB_DIR/$1
	ovsdb_up "$host" "$ns" db /usr/share/openvswitch/vswitch.ovsschema
	node_vsctl "$host" --no-wait init
	in_host "$host" "$ns" ovs-vswitchd "unix:$dir/db.sock" --pidfile="$dir/ovs-vswitchd.pid" \
		--unixctl="$dir/ovs-vswitchd.ctl" -vconsole:off --log-file="$dir/ovs-vswitchd.log" --detach --no-chdir ||
		lab_die "ovs-vswitchd for $host failed to start: see $dir/ovs-vswitchd.log"
}

# ovn_central_up HOST NETNS: NB and SB ovsdb-servers (nb.sock, sb.sock) and ovn-northd.
ovn_central_up() {
	local host=$1 ns=$2 dir=$PW_LAB_DIR/$1
	ovsdb_up "$host" "$ns" nb /usr/share/ovn/ovn-nb.ovsschema
	ovsdb_up "$host" "$ns" sb /usr/share/ovn/ovn-sb.ovsschema
	ovn-nbctl --db="unix:$dir/nb.sock" --no-wait init
	ovn-sbctl --db="unix:$dir/sb.sock" init
	in_host "$host" "$ns" ovn-northd --ovnnb-db="unix:$dir/nb.sock" --ovnsb-db="unix:$dir/sb.sock" \
		--pidfile="$dir/ovn-northd.pid" --unixctl="$dir/ovn-northd.ctl" -vconsole:off --log-file="$dir/ovn-northd.log" \
		--detach --no-chdir || lab_die "ovn-northd failed to start: see $dir/ovn-northd.log"
}

# ovn_controller_up HOST NETNS CHASSIS [TEP [SB]]: make the host an OVN chassis: br-int (netdev,
# secure) and ovn-controller bound to the SB database (default the host's own), Geneve from TEP
# (default 127.0.0.1); the chassis hostname is CHASSIS (netns share the machine's hostname).
ovn_controller_up() {
	local host=$1 ns=$2 chassis=$3 dir=$PW_LAB_DIR/$1
	local tep=${4:-127.0.0.1} sb=${5:-unix:$PW_LAB_DIR/$1/sb.sock}
	node_vsctl "$host" -- --may-exist add-br br-int \
		-- set bridge br-int datapath_type=netdev fail_mode=secure other_config:disable-in-band=true \
		-- set open_vswitch . external_ids:system-id="$chassis" external_ids:hostname="$chassis" \
		external_ids:ovn-remote="$sb" external_ids:ovn-encap-type=geneve \
		external_ids:ovn-encap-ip="$tep" external_ids:ovn-bridge-datapath-type=netdev
	in_host "$host" "$ns" ovn-controller "unix:$dir/db.sock" --pidfile="$dir/ovn-controller.pid" \
		-vconsole:off --log-file="$dir/ovn-controller.log" --detach --no-chdir ||
		lab_die "ovn-controller failed to start: see $dir/ovn-controller.log"
}

# pid_alive PIDFILE: the daemon of that pid file runs.
pid_alive() {
	local pid
	[ -f "$1" ] && pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# stop_pidfiles FILES...: TERM the daemons named by pid files, wait (deadline 10 s), then KILL.
stop_pidfiles() {
	local f pid pids=()
	for f in "$@"; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null) || continue
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
	done
	local deadline=$((SECONDS + 10))
	for pid in "${pids[@]}"; do
		while kill -0 "$pid" 2>/dev/null; do
			if ((SECONDS >= deadline)); then
				kill -KILL "$pid" 2>/dev/null
				break
			fi
			sleep 0.05
		done
	done
}

# fnv_veth NS NAME: the host-side veth name of a pod (vethXXXX from FNV-1a of NS/NAME), the rule
# of the published scenario, so lab and scenario agree; kube-system/kube-dns is veth1a2b.
fnv_veth() {
	if [ "$1/$2" = kube-system/kube-dns ]; then
		echo veth1a2b
		return
	fi
	local s="$1/$2" h=2166136261 i c
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		h=$(((h ^ c) * 16777619 & 0xffffffff))
	done
	printf 'veth%04x\n' $((h & 0xffff))
}

# wait_until DEADLINE_S DESC CMD...: poll CMD every 0.1 s until it succeeds or the deadline passes.
wait_until() {
	local secs=$1 desc=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS >= deadline)) && lab_die "timed out after ${secs}s waiting for $desc"
		sleep 0.1
	done
}

# answers NETNS IP: IP answers one ICMP echo sent from NETNS (traceroute -I, as ping may be missing).
answers() {
	ip netns exec "$1" traceroute -I -n -q 1 -w 1 -m 1 "$2" 2>/dev/null | grep -q "^ 1  $2 "
}
