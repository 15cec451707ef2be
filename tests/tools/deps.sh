#!/bin/sh
# deps.sh install|check-or-install|list - the Debian packages pinion needs to
# build, test and run its demo.  As root it installs the missing ones; as any
# other user it prints the apt-get command to run.
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libarchive-dev libjansson-dev libyaml-dev libcurl4-openssl-dev libzstd-dev libssl-dev zlib1g-dev libdeflate-dev libisal-dev
python3 python3-venv python3-pip python3-jsonschema
docker-registry skopeo umoci podman runc buildah uidmap oci-image-tool
debootstrap mmdebstrap tini apache2-utils openssl curl jq ca-certificates zstd bc locales
iproute2 procps util-linux xfsprogs passwd hyperfine time slirp4netns fuse-overlayfs catatonit busybox-static
man-db groff-base zsh strace"

missing() {
	for p in $PKGS; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
	done
}

case "${1:-install}" in
list) echo $PKGS ;;
install|check-or-install)
	m=$(missing | tr '\n' ' ')
	[ -n "$(echo $m)" ] || exit 0
	if [ "$(id -u)" -eq 0 ]; then
		echo "deps: installing $m" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq $m >&2
	else
		echo "deps: missing Debian packages: $m" >&2
		echo "deps: run as root:  apt-get update && apt-get install -y $m" >&2
		[ "$1" = install ] && exit 1
		exit 0
	fi ;;
*) echo "usage: deps.sh install|check-or-install|list" >&2; exit 2 ;;
esac
