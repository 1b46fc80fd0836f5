# shellcheck shell=bash
# kube.sh: the lab's Kubernetes API, sourced by lab.sh. A real etcd and kube-apiserver (built by
# testdata/kube/build.sh into ${PW_CACHE:-/var/cache/packetwalk}/bin) on loopback ports of the root
# netns, holding the lab's nodes and pods; no kubelet, no controller-manager: pods are bound with
# spec.nodeName and get their IPs through the status subresource. Everything lives in
# $PW_LAB_DIR/kube (data, certificates, token file, logs, pid files); the kubeconfig is
# $PW_LAB_DIR/kubeconfig. The requests go to 127.0.0.1 only (curl --noproxy '*').

KUBE_DIR=$PW_LAB_DIR/kube
KUBE_TOKEN=packetwalk-lab-admin-token

# kube_bin NAME: the path of a cached binary ($PW_KUBE_BIN, $PW_CACHE/bin, then PATH).
kube_bin() {
	local d
	for d in ${PW_KUBE_BIN:+"$PW_KUBE_BIN"} "${PW_CACHE:-/var/cache/packetwalk}/bin"; do
		[ -x "$d/$1" ] && echo "$d/$1" && return
	done
	command -v "$1"
}

# kube_bins: make sure kube-apiserver and etcd exist, building them once (cold: ~5 min).
kube_bins() {
	kube_bin kube-apiserver >/dev/null && kube_bin etcd >/dev/null && return
	command -v go >/dev/null || lab_die "kube-apiserver/etcd not cached and no go to build them: run testdata/kube/build.sh (or PW_LAB_KUBE=0 for no API server)"
	lab_log "building kube-apiserver and etcd once (testdata/kube/build.sh, ~5 min cold)"
	bash "$HERE/../kube/build.sh" >&2 || lab_die "testdata/kube/build.sh failed"
}

kube_pid_files() { echo "$KUBE_DIR/kube-apiserver.pid" "$KUBE_DIR/etcd.pid"; }

# free_port: an unused TCP port on this netns (random, so several labs rarely race for one), below the
# kernel's ephemeral range, where the tests' own listeners on port 0 and outgoing connections take theirs.
free_port() {
	local p low
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	((low > 21000)) || low=32768
	while :; do
		p=$((20000 + RANDOM % (low - 20000)))
		[[ " ${KUBE_PORTS[*]:-} " == *" $p "* ]] && continue
		ss -Htln "sport = :$p" | grep -q . || break
	done
	echo "$p"
}

# spawn NAME BIN ARGS...: start a daemon in its own session, output to NAME.log, pid in NAME.pid.
spawn() {
	local name=$1
	shift
	setsid "$@" >"$KUBE_DIR/$name.log" 2>&1 </dev/null &
	echo $! >"$KUBE_DIR/$name.pid"
}

# kcurl METHOD PATH [BODY [CONTENT-TYPE]]: one API request; prints the HTTP code, body in last.json.
kcurl() {
	local url
	url=$(cat "$KUBE_DIR/url")
	curl -sS -k --noproxy '*' --max-time 10 -o "$KUBE_DIR/last.json" -w '%{http_code}' -X "$1" \
		-H "Authorization: Bearer $KUBE_TOKEN" -H "Content-Type: ${4:-application/json}" \
		${3:+--data-binary "$3"} "$url$2"
}

# kapi METHOD PATH BODY [CONTENT-TYPE] [OK-CODES]: a request that must answer 2xx (or one of OK-CODES).
kapi() {
	local code
	code=$(kcurl "$1" "$2" "$3" "${4:-application/json}") || lab_die "kube-apiserver: $1 $2 failed"
	case " ${5:-} " in *" $code "*) return 0 ;; esac
	[[ $code == 2?? ]] || lab_die "kube-apiserver: $1 $2: HTTP $code: $(head -c 400 "$KUBE_DIR/last.json")"
}

kube_ready() { [ "$(kcurl GET /readyz)" = 200 ]; }

# kube_start: etcd + kube-apiserver, unless they run (kube_finish waits for them).
kube_start() {
	kube_bins
	local apiserver etcd
	apiserver=$(kube_bin kube-apiserver) etcd=$(kube_bin etcd)
	mkdir -p "$KUBE_DIR"
	if ! pid_alive "$KUBE_DIR/etcd.pid" || ! pid_alive "$KUBE_DIR/kube-apiserver.pid"; then
		stop_pidfiles $(kube_pid_files)
		rm -rf "${KUBE_DIR:?}"/*
		local KUBE_PORTS=()
		KUBE_PORTS+=("$(free_port)")
		KUBE_PORTS+=("$(free_port)")
		KUBE_PORTS+=("$(free_port)")
		local client=http://127.0.0.1:${KUBE_PORTS[0]} peer=http://127.0.0.1:${KUBE_PORTS[1]}
		echo "https://127.0.0.1:${KUBE_PORTS[2]}" >"$KUBE_DIR/url"
		openssl genrsa -out "$KUBE_DIR/sa.key" 2048 2>/dev/null || lab_die "openssl genrsa failed"
		echo "$KUBE_TOKEN,admin,admin-uid,system:masters" >"$KUBE_DIR/tokens.csv"
		! kubelet_enabled || kubelet_apiserver_prepare
		spawn etcd "$etcd" --name=packetwalk-lab --data-dir="$KUBE_DIR/etcd" \
			--listen-client-urls="$client" --advertise-client-urls="$client" \
			--listen-peer-urls="$peer" --initial-advertise-peer-urls="$peer" \
			--initial-cluster="packetwalk-lab=$peer" --listen-metrics-urls= --log-level=warn --unsafe-no-fsync
		# No controller-manager mints service-account tokens and no kubelet reports endpoints.
		spawn kube-apiserver "$apiserver" --etcd-servers="$client" \
			--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="${KUBE_PORTS[2]}" \
			--cert-dir="$KUBE_DIR/certs" --token-auth-file="$KUBE_DIR/tokens.csv" \
			--authorization-mode="${KUBE_AUTHORIZATION_MODE:-RBAC}" --anonymous-auth=false \
			--disable-admission-plugins=ServiceAccount --endpoint-reconciler-type=none \
			--service-account-issuer=https://kubernetes.default.svc \
			--service-account-key-file="$KUBE_DIR/sa.key" --service-account-signing-key-file="$KUBE_DIR/sa.key" \
			--service-cluster-ip-range=10.96.0.0/16 --profiling=false --enable-logs-handler=false \
			"${KUBELET_APISERVER_FLAGS[@]}"
	fi
}

# kube_finish: wait until the API server is ready, then load the lab's objects and write the kubeconfig.
kube_finish() {
	local deadline=$((SECONDS + 90)) tries=1 d
	until kube_ready 2>/dev/null; do
		for d in etcd kube-apiserver; do
			pid_alive "$KUBE_DIR/$d.pid" && continue
			# Another process may take a port between free_port's look and the bind: start again on new ones.
			if ((tries < 3)) && grep -q 'address already in use' "$KUBE_DIR/$d.log"; then
				lab_log "$d: a port was taken meanwhile ($(grep -m1 -o '[^ ]*address already in use' "$KUBE_DIR/$d.log")); starting again"
				tries=$((tries + 1))
				stop_pidfiles $(kube_pid_files)
				kube_start
				continue 2
			fi
			# The test removes the lab's directory: say what the log said, not only where it was.
			lab_die "$d exited: see $KUBE_DIR/$d.log; its last lines: $(tail -n 5 "$KUBE_DIR/$d.log" | tr '\n' ' ')"
		done
		((SECONDS < deadline)) || lab_die "kube-apiserver not ready after 90 s: see $KUBE_DIR/kube-apiserver.log"
		sleep 0.1
	done
	kube_objects
	kube_kubeconfig
}

# kube_objects: the lab's namespaces, nodes (InternalIP, Ready) and pods (spec.nodeName, podIP).
# Idempotent: an object that exists is kept, its status set again.
kube_objects() {
	local l ns name host ip n vlan
	for l in "${NAMESPACES[@]}"; do
		read -r ns _ <<<"$l"
		kapi POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}" "" 409
	done
	local status
	for l in "${NODES[@]}"; do
		read -r name host <<<"$l"
		[ "$name" != "${KUBELET_NODE:-}" ] || ! kubelet_enabled || continue # it registers itself
		status="{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"$name\"},{\"type\":\"Hostname\",\"address\":\"$name\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"PacketwalkLab\",\"message\":\"lab node $N-$host\"}]}"
		kapi POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$name\",\"labels\":{\"kubernetes.io/hostname\":\"$name\",\"packetwalk/lab\":\"$N\"}},\"status\":$status}" "" 409
		kapi PATCH "/api/v1/nodes/$name/status" "{\"status\":$status}" application/merge-patch+json
	done
	for l in "${PODS[@]}"; do
		read -r ns name ip n vlan <<<"$l"
		kapi POST "/api/v1/namespaces/$ns/pods" "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$name\",\"namespace\":\"$ns\",\"labels\":{\"app\":\"$name\"}},\"spec\":{\"nodeName\":\"$n\",\"containers\":[{\"name\":\"c\",\"image\":\"registry.k8s.io/pause:3.10\"}]}}" "" 409
		kapi PATCH "/api/v1/namespaces/$ns/pods/$name/status" "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}],\"hostIP\":\"$n\",\"hostIPs\":[{\"ip\":\"$n\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" application/merge-patch+json
	done
}

# kube_kubeconfig: $PW_LAB_DIR/kubeconfig for the admin token (self-signed serving certificate).
kube_kubeconfig() {
	local tmp=$PW_LAB_DIR/kubeconfig.tmp
	cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $N-lab
  cluster:
    server: $(cat "$KUBE_DIR/url")
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $KUBE_TOKEN
contexts:
- name: $N-lab
  context:
    cluster: $N-lab
    user: admin
    namespace: default
current-context: $N-lab
EOF
	chmod 600 "$tmp"
	mv "$tmp" "$PW_LAB_DIR/kubeconfig"
}

kube_down() {
	stop_pidfiles $(kube_pid_files)
	rm -rf "$KUBE_DIR" "$PW_LAB_DIR/kubeconfig"
}
