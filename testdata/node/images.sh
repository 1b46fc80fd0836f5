#!/usr/bin/env bash
# images.sh: the lab node's container images, built here (there is no registry) with buildah and
# written as OCI archives to ${PW_CACHE:-/var/cache/packetwalk}/images, for `ctr images import`:
#
#   pause.tar  localhost/packetwalk/pause:lab   the sandbox image (testdata/node/pause, static)
#   tools.tar  localhost/packetwalk/tools:lab   the CNI agent's tools (ip, nsenter, lsns, stat,
#                                               ovs-vsctl, ovs-appctl) and traceroute, with their
#                                               libraries, the host's own binaries; entrypoint: pause
#   debug.tar  localhost/packetwalk/debug:lab   the repo's Dockerfile, built by `buildah bud` with its
#                                               build stage on a local Go image (GO_IMAGE, below)
#
# Each archive is rebuilt only when its inputs (this script among them) change (a hash of them is
# kept beside it); the debug
# image's inputs are the repo's tracked and new files, so it always holds the code under test.
# Usage: images.sh [pause|tools|debug]... (default: all three). Needs root and buildah.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${PW_CACHE:-/var/cache/packetwalk}
out=$cache/images
mkdir -p "$out"
B=(buildah --root "$cache/buildah/root" --runroot "$cache/buildah/run" --storage-driver overlay)
export BUILDAH_ISOLATION=chroot
log() { echo "images.sh: $*" >&2; }

# fresh NAME KEY: 0 when $out/NAME.tar was built from inputs hashing to KEY.
fresh() { [ -s "$out/$1.tar" ] && [ "$(cat "$out/$1.key" 2>/dev/null)" = "$2" ]; }

# save NAME REF KEY: write image REF as $out/NAME.tar (atomically) and remember KEY.
save() {
	rm -f "$out/.$1.tar"
	"${B[@]}" push -q "$2" "oci-archive:$out/.$1.tar:$2"
	mv "$out/.$1.tar" "$out/$1.tar"
	echo "$3" >"$out/$1.key"
	log "$out/$1.tar ($2)"
}

# stage DIR BIN...: copy each binary and every library it loads into DIR at the same paths, in
# Debian's merged-/usr layout (/bin, /sbin, /lib, /lib64 are links into /usr).
stage() {
	local dir=$1 b p d
	shift
	for d in bin sbin lib lib64; do
		mkdir -p "$dir/usr/$d"
		[ -e "$dir/$d" ] || ln -s "usr/$d" "$dir/$d"
	done
	for b in "$@"; do
		p=$(command -v "$b") || { log "$b not found: install it (see .ci/run)"; exit 1; }
		cp --parents -L "$p" "$dir"
		ldd "$p" | awk '/=>/ {print $3} /^[ \t]*\// {print $1}' | while read -r l; do
			[ -e "$l" ] && cp --parents -L "$l" "$dir"
		done
	done
}

pause_bin() { # build testdata/node/pause once per call into $1
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$1" ./testdata/node/pause)
}

build_pause() {
	local key
	key=$(cat "$0" "$here/pause/main.go" | sha256sum | cut -c1-16)
	fresh pause "$key" && return
	local tmp c
	tmp=$(mktemp -d)
	pause_bin "$tmp/pause"
	c=$("${B[@]}" from scratch)
	"${B[@]}" copy "$c" "$tmp/pause" /pause >/dev/null
	"${B[@]}" config --entrypoint '["/pause"]' "$c"
	"${B[@]}" commit -q --rm "$c" localhost/packetwalk/pause:lab >/dev/null
	rm -rf "$tmp"
	save pause localhost/packetwalk/pause:lab "$key"
}

TOOLS=(ip nsenter lsns stat ovs-vsctl ovs-appctl traceroute)

build_tools() {
	local key b
	key=$({
		cat "$0" "$here/pause/main.go"
		for b in "${TOOLS[@]}"; do sha256sum "$(command -v "$b")"; done
	} | sha256sum | cut -c1-16)
	fresh tools "$key" && return
	local tmp c
	tmp=$(mktemp -d)
	mkdir -p "$tmp/root/tmp" "$tmp/root/var/run/openvswitch" "$tmp/root/var/run/netns" "$tmp/root/etc"
	pause_bin "$tmp/root/pause"
	stage "$tmp/root" "${TOOLS[@]}"
	# traceroute is an alternatives link: keep the name the tests call.
	[ -e "$tmp/root/usr/bin/traceroute" ] || cp -L "$(command -v traceroute)" "$tmp/root/usr/bin/traceroute"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$tmp/root/etc/passwd"
	c=$("${B[@]}" from scratch)
	"${B[@]}" add "$c" "$tmp/root" / >/dev/null
	"${B[@]}" config --entrypoint '["/pause"]' --env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$c"
	"${B[@]}" commit -q --rm "$c" localhost/packetwalk/tools:lab >/dev/null
	rm -rf "$tmp"
	save tools localhost/packetwalk/tools:lab "$key"
}

# The Dockerfile's build stage is FROM ${GO_IMAGE}: here a local image of the host's Go toolchain
# (no registry to pull golang:1.26 from), with a shell for RUN, the CA certificates for the module
# proxy, and the host's module and build caches mounted so a warm build takes seconds.
build_go_image() {
	local key
	key=$( (cat "$0"; go version; command -v sh) | sha256sum | cut -c1-16)
	if "${B[@]}" inspect --type image localhost/packetwalk/go:lab >/dev/null 2>&1 &&
		[ "$(cat "$out/go.key" 2>/dev/null)" = "$key" ]; then
		return
	fi
	local tmp c goroot
	goroot=$(go env GOROOT)
	tmp=$(mktemp -d)
	mkdir -p "$tmp/root/tmp" "$tmp/root/root" "$tmp/root/etc/ssl"
	stage "$tmp/root" sh
	cp -rL /etc/ssl/certs "$tmp/root/etc/ssl/"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$tmp/root/etc/passwd"
	c=$("${B[@]}" from scratch)
	"${B[@]}" add "$c" "$tmp/root" / >/dev/null
	"${B[@]}" add "$c" "$goroot" /usr/local/go >/dev/null
	"${B[@]}" config --env PATH=/usr/local/go/bin:/usr/bin:/bin --env HOME=/root --env GOTOOLCHAIN=local \
		--env GOFLAGS=-buildvcs=false --env GOPROXY="$(go env GOPROXY)" "$c"
	"${B[@]}" commit -q --rm "$c" localhost/packetwalk/go:lab >/dev/null
	rm -rf "$tmp"
	echo "$key" >"$out/go.key"
}

build_debug() {
	local key
	key=$(cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 sha256sum 2>/dev/null | sha256sum | cut -c1-16)
	fresh debug "$key" && return
	build_go_image
	local modcache gocache
	modcache=$(go env GOMODCACHE) gocache=$(go env GOCACHE)
	mkdir -p "$modcache" "$gocache"
	"${B[@]}" bud -q --network host --layers=false --build-arg GO_IMAGE=localhost/packetwalk/go:lab \
		-v "$modcache:/root/go/pkg/mod" -v "$gocache:/root/.cache/go-build" \
		-f "$repo/Dockerfile" -t localhost/packetwalk/debug:lab "$repo" >/dev/null
	save debug localhost/packetwalk/debug:lab "$key"
}

[ "$(id -u)" = 0 ] || { log "needs root (buildah)"; exit 1; }
command -v buildah >/dev/null || { log "buildah not found: apt-get install buildah"; exit 1; }
[ $# -gt 0 ] || set -- pause tools debug
for i in "$@"; do
	case $i in
	pause | tools | debug) "build_$i" ;;
	*) log "unknown image $i: pause, tools or debug" && exit 2 ;;
	esac
done
