#!/bin/sh
# build.sh builds kube-apiserver and kubelet v1.34.4 and etcd v3.6.5 from the Go module proxy into
# ${PW_CACHE:-/var/cache/packetwalk}/bin, outside the work tree. A binary already there is kept,
# so running it again is cheap; delete the binary (or set PW_REBUILD=1) to rebuild.
# The cold kube-apiserver build takes about 5 min on 2 cores and ~2 GB of Go build cache.
# `build.sh kubelet` builds only the kubelet (its own module, kubelet/; ~3 min cold), for the lab's
# real node (PW_LAB_KUBELET=1); without arguments it is left out.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin=${PW_CACHE:-/var/cache/packetwalk}/bin
mkdir -p "$bin"

k8s_version=v1.34.4
k8s_pkg=k8s.io/component-base/version

build() { # build NAME MODULE_DIR PACKAGE [LDFLAGS]
	name=$1 dir=$2 pkg=$3 ldflags=${4:-}
	if [ -x "$bin/$name" ] && [ "${PW_REBUILD:-0}" != 1 ]; then
		echo "build.sh: $bin/$name present, not rebuilding"
		return 0
	fi
	echo "build.sh: building $name into $bin"
	# Build to a temporary name, then rename: an interrupted build never leaves a half binary behind.
	(cd "$dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w $ldflags" -o "$bin/.$name.tmp" "$pkg")
	mv "$bin/.$name.tmp" "$bin/$name"
}

k8s_ldflags="-X $k8s_pkg.gitVersion=$k8s_version -X $k8s_pkg.gitMajor=1 -X $k8s_pkg.gitMinor=34 -X $k8s_pkg.gitTreeState=clean"
if [ "${1:-}" = kubelet ]; then
	build kubelet "$here/kubelet" k8s.io/kubernetes/cmd/kubelet "$k8s_ldflags"
	"$bin/kubelet" --version
	exit 0
fi

build etcd "$here/etcd" go.etcd.io/etcd/server/v3
build kube-apiserver "$here/apiserver" k8s.io/kubernetes/cmd/kube-apiserver \
	"-X $k8s_pkg.gitVersion=$k8s_version -X $k8s_pkg.gitMajor=1 -X $k8s_pkg.gitMinor=34 -X $k8s_pkg.gitTreeState=clean"

"$bin/etcd" --version | head -1
"$bin/kube-apiserver" --version
