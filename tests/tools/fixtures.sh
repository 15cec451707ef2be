# tests/tools/fixtures.sh - fixture root filesystems built from Debian packages,
# cached under $PINION_TEST_CACHE keyed by a hash of their recipe.  Sourced by
# tests/e2e/lib.sh and examples/demo.sh; also runnable:
#   sh tests/tools/fixtures.sh rootfs NAME   -> prints the path of NAME's tar
# Recipes (bookworm, minbase):
#   minbase  debootstrap minbase
#   python   minbase + python3, pip, venv, python-is-python3, no EXTERNALLY-MANAGED
#            (stands in for python:3.11-slim)
#   python313  the same on trixie (python3 3.13: stands in for python:3.13-slim)
# Layout: fixture_base_layout (python as a buildah-written image, the default
# base of the e2e tests; not imported by pinion, whose own import t_oci tests).

: "${PINION_TEST_CACHE:=/var/cache/pinion-test}"

fixture_mirror() {
	local m
	m=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	[ -n "$m" ] || m=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	echo "${m:-http://deb.debian.org/debian}"
}

fixture_recipe() {
	case "$1" in
	minbase) echo "mmdebstrap v2 bookworm minbase include=ca-certificates" ;;
	python) echo "mmdebstrap v2 bookworm minbase include=ca-certificates,python3,python3-pip,python3-venv,python-is-python3 rm=EXTERNALLY-MANAGED" ;;
	python313) echo "mmdebstrap v2 trixie minbase include=ca-certificates,python3,python3-pip,python3-venv,python-is-python3 rm=EXTERNALLY-MANAGED" ;;
	*) return 1 ;;
	esac
}

# fixture_rootfs NAME: builds (once) and prints the path of a rootfs tarball
fixture_rootfs() {
	local name=$1 recipe key out tmp incl
	recipe=$(fixture_recipe "$name") || { echo "unknown fixture rootfs '$name'" >&2; return 2; }
	key=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
	out="$PINION_TEST_CACHE/rootfs-$name-$key.tar"
	if [ ! -s "$out" ]; then
		mkdir -p "$PINION_TEST_CACHE"
		(
			exec 9>"$PINION_TEST_CACHE/.lock-$name"
			flock 9
			[ -s "$out" ] && exit 0
			incl=$(printf '%s' "$recipe" | sed -n 's/.*include=\([^ ]*\).*/\1/p')
			tmp="$out.tmp.$$"
			echo "fixtures: building rootfs '$name' ($recipe)" >&2
			# a hook removes the PEP 668 marker, as the official python images have none
			mmdebstrap --quiet --format=tar --variant=minbase --include="$incl" \
				--customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
				--customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*' \
				"$(echo "$recipe" | cut -d" " -f3)" "$tmp" "$(fixture_mirror)" >&2 || { rm -f "$tmp"; exit 1; }
			mv "$tmp" "$out"
		) || return 1
	fi
	echo "$out"
}

# fixture_base_layout: (once) the default base image of the e2e tests: the
# python rootfs as one layer written by buildah (Go's archive/tar, as the
# layers of docker.io's images are), tagged library/python:3.11-slim in a
# cached OCI layout (tests/tools/foreign_layers.py NAME base, keyed by that
# script and the rootfs recipe); prints the layout dir.  Made by another
# tool than pinion, so a test that builds on it tests pinion against the world.
fixture_base_layout() {
	local rootfs
	rootfs=$(fixture_rootfs python) || return 1
	"${PYTHON:-python3}" "$(dirname "${BASH_SOURCE[0]}")/foreign_layers.py" "$rootfs" base
}

if [ "${0##*/}" = fixtures.sh ] && [ "${1:-}" = rootfs ]; then
	fixture_rootfs "$2"
fi
