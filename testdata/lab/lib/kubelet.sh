# shellcheck shell=bash
# kubelet.sh: the lab's real Kubernetes node (opt-in: PW_LAB_KUBELET=1), sourced by lab.sh.
#
# Node 172.15.0.6 is a node VM like the others (netns $N-n6, its own OVS, eth0 on ls-k8s-nodes,
# trunk eth1) that also runs containerd (Debian 1.6, runc) and a kubelet v1.34.4 (built by
# testdata/kube/build.sh) registered with the lab's kube-apiserver. Its pods are made by the kubelet
# through CRI and wired by testdata/node/cni (pw-ovs-cni: an access port with the pod's own VLAN on
# br-int, the matching OVN CHILD port). Images come from testdata/node/images.sh (no registry).
#
# containerd, its shims and the kubelet share a mount namespace of their own where the node's OVS run
# dir is /run/openvswitch, /run/netns holds only this node's pod namespaces, /run/containerd is
# private: that is the "host" its host-path volumes and host-network pods see.
# The kubelet reaches the API server at 127.0.0.1:PORT inside the node's netns, and the API server
# reaches the kubelet (exec, logs) through its egress selector; testdata/node/netbridge carries both.
#
# Why containerd has restrict_oom_score_adj = true: this machine's root lacks CAP_SYS_RESOURCE, so
# lowering oom_score_adj fails; containerd gives every sandbox -998, and runc 1.1.5 then fails with
# "can't get final child's PID from pipe: EOF" (nsexec: "failed to update /proc/self/oom_score_adj:
# Permission denied"). See testdata/node/FINDINGS.md.

KUBELET_NODE=172.15.0.6
KUBELET_HOST=n6
KUBELET_TOKEN=packetwalk-lab-node-token
KUBELET_AGENT_LABEL=app=pw-node-agent

kubelet_enabled() { [ "${PW_LAB_KUBELET:-0}" != 0 ]; }
kubelet_dir() { echo "$PW_LAB_DIR/kubelet"; }

# kubelet_apiserver_prepare: called by kube_start before kube-apiserver starts: the node's token,
# the client certificate the API server shows the kubelet, and the egress selector; the flags are
# left in KUBELET_APISERVER_FLAGS, the authorization modes (Node, RBAC) in KUBE_AUTHORIZATION_MODE.
KUBELET_APISERVER_FLAGS=()
kubelet_apiserver_prepare() {
	local kd
	kd=$(kubelet_dir)
	mkdir -p "$kd/pki"
	echo "$KUBELET_TOKEN,system:node:$KUBELET_NODE,node-uid,system:nodes" >>"$KUBE_DIR/tokens.csv"
	# A user with no rights but what a test binds to group netops (deploy/rbac-*.yaml).
	echo "packetwalk-lab-netops-token,netops-user,netops-uid,netops" >>"$KUBE_DIR/tokens.csv"
	if [ ! -s "$kd/pki/apiserver-kubelet-client.crt" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=packetwalk-lab-ca \
			-keyout "$kd/pki/ca.key" -out "$kd/pki/ca.crt" 2>/dev/null || lab_die "openssl: lab CA failed"
		openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" \
			-keyout "$kd/pki/apiserver-kubelet-client.key" -out "$kd/pki/client.csr" 2>/dev/null &&
			openssl x509 -req -in "$kd/pki/client.csr" -CA "$kd/pki/ca.crt" -CAkey "$kd/pki/ca.key" \
				-CAcreateserial -days 30 -out "$kd/pki/apiserver-kubelet-client.crt" 2>/dev/null ||
			lab_die "openssl: kubelet client certificate failed"
	fi
	cat >"$kd/egress.yaml" <<EOF
apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: $kd/egress.sock
EOF
	KUBE_AUTHORIZATION_MODE=Node,RBAC
	KUBELET_APISERVER_FLAGS=(--allow-privileged=true --egress-selector-config-file="$kd/egress.yaml"
		--kubelet-client-certificate="$kd/pki/apiserver-kubelet-client.crt" --kubelet-client-key="$kd/pki/apiserver-kubelet-client.key")
}

kubelet_pid_files() {
	local kd
	kd=$(kubelet_dir)
	echo "$kd/kubelet.pid" "$kd/containerd.pid" "$kd/netbridge.pid"
}

kubelet_status() {
	kubelet_enabled || return 0
	local f
	for f in $(kubelet_pid_files); do pid_alive "$f" || return 1; done
}

# kubelet_bins: kubelet (cached, testdata/kube/build.sh), the CNI plugin and netbridge (built here).
kubelet_bins() {
	local kd=$1
	command -v containerd >/dev/null && command -v runc >/dev/null && command -v ctr >/dev/null ||
		lab_die "containerd/runc not found: apt-get install containerd runc buildah (PW_LAB_KUBELET=0 for no real node)"
	kube_bin kubelet >/dev/null || bash "$HERE/../kube/build.sh" kubelet >&2 || lab_die "testdata/kube/build.sh (kubelet) failed"
	mkdir -p "$kd/cni/bin" "$kd/cni/conf"
	# containerd's CRI brings every pod's lo up with the reference "loopback" plugin.
	[ -x /usr/lib/cni/loopback ] || lab_die "/usr/lib/cni/loopback not found: apt-get install containernetworking-plugins"
	cp /usr/lib/cni/loopback "$kd/cni/bin/"
	(cd "$HERE/../.." && CGO_ENABLED=0 go build -trimpath -o "$kd/cni/bin/pw-ovs-cni" ./testdata/node/cni &&
		CGO_ENABLED=0 go build -trimpath -o "$kd/netbridge" ./testdata/node/netbridge) || lab_die "building testdata/node/{cni,netbridge} failed"
	bash "$HERE/../node/images.sh" pause tools debug >&2 || lab_die "testdata/node/images.sh failed"
}

# kubelet_up: containerd, the kubelet, the node agent pod and two workload pods on node 172.15.0.6.
kubelet_up() {
	local kd nns=$N-$KUBELET_HOST d port
	kd=$(kubelet_dir) d=$(node_dir "$nns")
	kubelet_status && kubelet_node_ready && return 0
	kubelet_stop
	rm -rf -- "$kd/containerd" "$kd/root" "$kd/runc" "$kd/cni/state"
	mkdir -p "$kd/netns" "$kd/run-containerd" "$kd/pod-logs" "$kd/root" /run/containerd /run/openvswitch
	kubelet_bins "$kd"
	port=$(cat "$KUBE_DIR/url")
	port=${port##*:}
	setsid "$kd/netbridge" -netns "/run/netns/$nns" -listen "127.0.0.1:$port" -to "127.0.0.1:$port" \
		-connect "$kd/egress.sock" >"$kd/netbridge.log" 2>&1 </dev/null &
	echo $! >"$kd/netbridge.pid"
	kubelet_cni_conf "$kd" "$d"
	cat >"$kd/containerd.toml" <<EOF
version = 2
root = "$kd/containerd/root"
state = "$kd/containerd/state"
[grpc]
  address = "$kd/containerd.sock"
[ttrpc]
  address = "$kd/containerd.ttrpc.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/packetwalk/pause:lab"
  # This machine refuses a lower oom_score_adj (no CAP_SYS_RESOURCE): keep containers at ours.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$kd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$kd/cni/bin"
    conf_dir = "$kd/cni/conf"
EOF
	# The node's "host" mount namespace: OVS run dir, pod netns dir and containerd run dir of its own.
	# Its / is made shared (in this namespace only): containerd refuses HostToContainer propagation
	# for /var/run/netns, which it finds on /, unless / is shared or slave, and this machine's / is private.
	setsid nsenter --net="/run/netns/$nns" unshare --mount --propagation private sh -c 'mount --make-rshared / &&
		mount --bind "$1" /run/openvswitch && mount --make-shared /run/openvswitch &&
		mount --bind "$2/netns" /run/netns && mount --make-shared /run/netns &&
		mount --bind "$2/run-containerd" /run/containerd && exec containerd --config "$2/containerd.toml"' \
		containerd "$d" "$kd" >"$kd/containerd.log" 2>&1 </dev/null &
	echo $! >"$kd/containerd.pid"
	wait_until 30 "containerd on $kd/containerd.sock" ctr -a "$kd/containerd.sock" version
	local img
	for img in pause tools debug; do
		ctr -a "$kd/containerd.sock" -n k8s.io images import "${PW_CACHE:-/var/cache/packetwalk}/images/$img.tar" >/dev/null ||
			lab_die "ctr images import $img.tar failed"
	done
	kubelet_config "$kd" "$port"
	setsid nsenter --net="/run/netns/$nns" --mount="/proc/$(cat "$kd/containerd.pid")/ns/mnt" \
		"$(kube_bin kubelet)" --config="$kd/kubelet.yaml" --kubeconfig="$kd/kubeconfig" \
		--root-dir="$kd/root" --cert-dir="$kd/pki/kubelet" --hostname-override="$KUBELET_NODE" \
		--node-ip="$KUBELET_NODE" --node-labels="packetwalk/lab=$N,packetwalk/kubelet=true" \
		>"$kd/kubelet.log" 2>&1 </dev/null &
	echo $! >"$kd/kubelet.pid"
	printf '#!/bin/sh\n# node-exec for the kubelet node: its netns and the mount namespace of its containerd.\nexec nsenter --net=/run/netns/%s --mount=/proc/%s/ns/mnt "$@"\n' \
		"$nns" "$(cat "$kd/containerd.pid")" >"$d/node-exec"
	chmod 755 "$d/node-exec"
	wait_until 60 "node $KUBELET_NODE Ready (see $kd/kubelet.log)" kubelet_node_ready
	kubelet_pods
	lab_log "kubelet: node $KUBELET_NODE Ready, pods Running (logs in $kd)"
}

# kubelet_json: last.json without blanks (the API server indents JSON for curl).
kubelet_json() { tr -d ' \n\t' <"$KUBE_DIR/last.json"; }

# kubelet_node_ready: the node reports Ready (the API server's JSON puts type before status).
kubelet_node_ready() {
	[ "$(kcurl GET "/api/v1/nodes/$KUBELET_NODE")" = 200 ] && kubelet_json | grep -q '"type":"Ready","status":"True"'
}

# kubelet_cni_conf KD NODE_DIR: the conflist of pw-ovs-cni for this node.
kubelet_cni_conf() {
	local kd=$1 d=$2 l ns subnet gw t1 t0 first=1
	{
		printf '{"cniVersion": "1.0.0", "name": "packetwalk-lab", "plugins": [{"type": "pw-ovs-cni",\n'
		printf ' "ovsdb": "unix:%s/db.sock", "bridge": "br-int", "nb": "%s", "parent": "%s",\n' "$d" "$NB" "$(node_lsp "$KUBELET_NODE" eth1)"
		printf ' "nodeOctet": %d, "stateDir": "%s/cni/state", "firstVLAN": 101, "firstHost": 100,\n' "$(octet "$KUBELET_NODE")" "$kd"
		printf ' "namespaces": {'
		for l in "${NAMESPACES[@]}"; do
			read -r ns subnet gw t1 t0 <<<"$l"
			((first)) || printf ', '
			first=0
			printf '"%s": {"switch": "ls-%s", "subnet": "%s", "gateway": "%s"}' "$ns" "$ns" "$subnet" "$gw"
		done
		printf '}}]}\n'
	} >"$kd/cni/conf/10-packetwalk-lab.conflist"
}

# kubelet_config KD PORT: the kubelet's configuration and kubeconfig (its node token).
kubelet_config() {
	local kd=$1 port=$2
	cat >"$kd/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine: cgroup v1 (hybrid), swap allowed, no systemd, no CAP_SYS_RESOURCE.
failCgroupV1: false
failSwapOn: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$kd/containerd.sock
podLogsDir: $kd/pod-logs
address: $KUBELET_NODE
port: 10250
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $kd/pki/ca.crt}
authorization: {mode: Webhook}
# Images are imported, never pulled: never collect them, never evict for disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "0%", nodefs.available: "0%", imagefs.available: "0%"}
resolvConf: ""
EOF
	cat >"$kd/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:$port", insecure-skip-tls-verify: true}
users:
- name: node
  user: {token: $KUBELET_TOKEN}
contexts:
- name: node
  context: {cluster: lab, user: node}
current-context: node
EOF
	chmod 600 "$kd/kubeconfig"
}

# kubelet_pods: the CNI's node agent (like nsx-node-agent: host network and PID, privileged, the
# OVS run dir and /var/run/netns mounted) and one workload pod per lab namespace, created through
# the API, started by the kubelet.
kubelet_pods() {
	local kd ns
	kd=$(kubelet_dir)
	local specs spec
	specs=$(
		cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: pw-node-agent-$KUBELET_HOST
  namespace: kube-system
  labels: {app: pw-node-agent}
spec:
  nodeName: "$KUBELET_NODE"
  hostNetwork: true
  hostPID: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  tolerations: [{operator: Exists}]
  containers:
  - name: agent
    image: localhost/packetwalk/tools:lab
    imagePullPolicy: Never
    securityContext: {privileged: true}
    volumeMounts:
    - {name: ovs, mountPath: /var/run/openvswitch}
    - {name: netns, mountPath: /var/run/netns, mountPropagation: HostToContainer}
  volumes:
  - {name: ovs, hostPath: {path: /var/run/openvswitch, type: Directory}}
  - {name: netns, hostPath: {path: /var/run/netns, type: Directory}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-6, namespace: default, labels: {app: web-6}}
spec:
  nodeName: "$KUBELET_NODE"
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers:
  - {name: web, image: localhost/packetwalk/tools:lab, imagePullPolicy: Never}
---
apiVersion: v1
kind: Pod
metadata: {name: dns-6, namespace: kube-system, labels: {app: dns-6}}
spec:
  nodeName: "$KUBELET_NODE"
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers:
  - {name: dns, image: localhost/packetwalk/tools:lab, imagePullPolicy: Never}
EOF
	)
	while IFS= read -r -d $'\x1e' spec; do
		ns=$(sed -n 's/^  namespace: //p; s/^metadata: {name: [^,]*, namespace: \([^,]*\),.*/\1/p' <<<"$spec")
		kapi POST "/api/v1/namespaces/$ns/pods" "$spec" application/yaml 409
	done < <(sed 's/^---$/\x1e/' <<<"$specs"; printf '\x1e')
	local deadline=$((SECONDS + 90))
	for ns in kube-system/pw-node-agent-$KUBELET_HOST default/web-6 kube-system/dns-6; do
		until kubelet_pod_running "${ns%/*}" "${ns#*/}"; do
			if ((SECONDS >= deadline)); then
				# Say why: the pod's status messages and the kubelet's last errors.
				kubelet_json | grep -o '"\(reason\|message\)":"[^"]*"' | tail -n 6 >&2
				grep '^E' "$kd/kubelet.log" | tail -n 5 >&2
				lab_die "pod $ns not Running after 90 s (see $kd/kubelet.log)"
			fi
			sleep 0.2
		done
	done
}

kubelet_pod_running() { # NS NAME: Running with an IP
	[ "$(kcurl GET "/api/v1/namespaces/$1/pods/$2")" = 200 ] && kubelet_json | grep -q '"phase":"Running"' &&
		kubelet_json | grep -q '"podIP":"[0-9]'
}

# kubelet_down: kubelet_stop, then the node's files (certificates and all).
kubelet_down() {
	kubelet_stop
	rm -rf -- "$(kubelet_dir)"
}

# kubelet_stop: the node's pods deleted through the API (the kubelet tears their sandboxes and CNI
# down), then the kubelet, whatever containerd still runs, containerd, the shims and the bridge.
kubelet_stop() {
	local kd f pid
	kd=$(kubelet_dir)
	[ -d "$kd" ] || return 0
	if pid_alive "$kd/kubelet.pid" && [ -f "$KUBE_DIR/url" ]; then
		local ns
		if [ "$(kcurl GET "/api/v1/pods?fieldSelector=spec.nodeName=$KUBELET_NODE" 2>/dev/null)" = 200 ]; then
			for ns in $(kubelet_json | grep -o '"namespace":"[^"]*"' | cut -d'"' -f4 | sort -u); do
				kcurl DELETE "/api/v1/namespaces/$ns/pods?fieldSelector=spec.nodeName=$KUBELET_NODE&gracePeriodSeconds=0" >/dev/null 2>&1 || true
			done
		fi
		local deadline=$((SECONDS + 30))
		while ((SECONDS < deadline)) && [ -n "$(ls "$kd/cni/state" 2>/dev/null | grep '\.json$')" ]; do sleep 0.2; done
	fi
	stop_pidfiles "$kd/kubelet.pid"
	if pid_alive "$kd/containerd.pid"; then
		local c
		for c in $(ctr -a "$kd/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr -a "$kd/containerd.sock" -n k8s.io tasks kill -s KILL "$c" >/dev/null 2>&1 || true
		done
	fi
	stop_pidfiles "$kd/containerd.pid"
	# A shim outlives containerd: stop each by its pid file (it kills its container with it).
	for f in "$kd"/containerd/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill -KILL "$pid" 2>/dev/null || true
	done
	stop_pidfiles "$kd/netbridge.pid"
	[ ! -f "$KUBE_DIR/url" ] || kcurl DELETE "/api/v1/nodes/$KUBELET_NODE" >/dev/null 2>&1 || true
}
