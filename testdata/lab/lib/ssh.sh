# shellcheck shell=bash
# lib/ssh.sh: a real sshd (Debian's openssh-server) on every node VM of the lab, so the plugin can
# reach the nodes the way the README's first example does: --node-exec 'ssh {nodeIP}'.
# Sourced by lab.sh (needs its NODES, N and node_dir, and hv.sh's helpers).
#
#   ssh_up    an "ops" netns $N-ops (the admin's workstation network: a veth to each node VM, and a
#             route to each node's address through it); in each node VM an sshd started in the
#             node's view (through $PW_LAB_DIR/node-exec: its netns, its OVS run dir, its pods'
#             netns), listening on the node's own address port 22, with its own host key, config,
#             pid file and log under $PW_LAB_DIR/ssh/HOST/; key auth only, root, one client key
#             $PW_LAB_DIR/ssh/id_ed25519, host keys pinned in $PW_LAB_DIR/ssh/known_hosts. The
#             --node-exec template is written to $PW_LAB_DIR/ssh/node-exec.
#   ssh_down  stops the sshds by their pid files and removes $PW_LAB_DIR/ssh (lab.sh down deletes
#             the ops netns with the others).

SSHD=${PW_SSHD:-/usr/sbin/sshd}

ssh_dir() { printf '%s/ssh\n' "$PW_LAB_DIR"; }

# ssh_template: the --node-exec template reaching a node by {nodeIP} from the ops netns.
ssh_template() {
	local d
	d=$(ssh_dir)
	printf 'ip netns exec %s ssh -F none -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR -l root {nodeIP}\n' \
		"$N-ops" "$d/id_ed25519" "$d/known_hosts"
}

ssh_up() {
	[ -x "$SSHD" ] || lab_die "$SSHD not found: install openssh-server"
	command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || lab_die "ssh not found: install openssh-client"
	local d l name host i=0 nd ops=$N-ops
	d=$(ssh_dir)
	mkdir -p "$d"
	[ -f "$d/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "packetwalk-lab-$N" -f "$d/id_ed25519"
	cp "$d/id_ed25519.pub" "$d/authorized_keys"
	: >"$d/known_hosts"
	grep -qx -- "$ops" "$PW_LAB_DIR/netns.list" || echo "$ops" >>"$PW_LAB_DIR/netns.list"
	netns_add "$ops"
	mkdir -p /run/sshd # sshd's privilege separation directory, as the openssh-server package makes it
	for l in "${NODES[@]}"; do
		read -r name host <<<"$l"
		i=$((i + 1))
		nd=$d/$host
		mkdir -p "$nd"
		[ -f "$nd/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$N-$host" -f "$nd/host_key"
		printf '%s %s\n' "$name" "$(cut -d' ' -f1,2 "$nd/host_key.pub")" >>"$d/known_hosts"
		# The node's management link to the ops network (a /30 of link-local addresses, lab-only).
		if ! ip -n "$ops" link show "s-$host" >/dev/null 2>&1; then
			ip link add "s-$host" netns "$ops" type veth peer name ssh0 netns "$N-$host"
			ip -n "$ops" addr add "169.254.64.$((4 * i + 1))/30" dev "s-$host"
			ip -n "$N-$host" addr add "169.254.64.$((4 * i + 2))/30" dev ssh0
			ip -n "$ops" link set "s-$host" up
			ip -n "$N-$host" link set ssh0 up
			ip -n "$ops" route add "$name/32" via "169.254.64.$((4 * i + 2))"
		fi
		cat >"$nd/sshd_config" <<-CFG
			ListenAddress $name:22
			HostKey $nd/host_key
			PidFile $nd/sshd.pid
			AuthorizedKeysFile $d/authorized_keys
			PermitRootLogin prohibit-password
			PubkeyAuthentication yes
			PasswordAuthentication no
			KbdInteractiveAuthentication no
			UsePAM no
			StrictModes no
			X11Forwarding no
			AllowTcpForwarding no
			AllowAgentForwarding no
			PermitTunnel no
			PrintMotd no
			LogLevel ERROR
		CFG
		pid_alive "$nd/sshd.pid" && continue
		# In the node's view, as a real node's sshd sees the node: its netns, OVS and pods.
		"$PW_LAB_DIR/node-exec" "$name" "$SSHD" -f "$nd/sshd_config" -E "$nd/sshd.log"
	done
	ssh_template >"$d/node-exec"
	for l in "${NODES[@]}"; do
		read -r name host <<<"$l"
		wait_until 20 "sshd of $name to accept the lab key" ssh_try "$name"
	done
}

# ssh_try NODE: one command through the template (the way the plugin runs it).
ssh_try() {
	local t
	t=$(ssh_template)
	# shellcheck disable=SC2086
	${t//\{nodeIP\}/$1} true
}

ssh_down() {
	local d
	d=$(ssh_dir)
	[ -d "$d" ] || return 0
	stop_pidfiles "$d"/*/sshd.pid
	rm -rf "$d"
}
