# tests/tools/fixtures.sh - fixture root filesystems built from Debian packages,
# cached under $PINION_TEST_CACHE keyed by a hash of their recipe.  Sourced by
# tests/e2e/lib.sh and examples/demo.sh; also runnable:
#   sh tests/tools/fixtures.sh rootfs NAME   -> prints the path of NAME's tar
# Recipes (bookworm, minbase):
#   minbase  debootstrap minbase
#   python   minbase + python3, pip, venv, python-is-python3, no EXTERNALLY-MANAGED
#            (stands in for python:3.11-slim)
#   python313  the same on trixie (python3 3.13: stands in for python:3.13-slim)

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

# fixture_base_layout: (once) the python rootfs imported by $PINION as
# library/python:3.11-slim into a cached OCI layout; prints the layout dir
fixture_base_layout() {
	local rootfs key dir
	rootfs=$(fixture_rootfs python) || return 1
	key=$(basename "$rootfs" .tar)
	dir="$PINION_TEST_CACHE/layout-$key"
	(
		exec 9>"$PINION_TEST_CACHE/.lock-layout-$key"
		flock 9
		"$PINION" ls "oci:$dir" 2>/dev/null | grep -q 'library/python:3.11-slim' && exit 0
		rm -rf "$dir"
		SOURCE_DATE_EPOCH=0 "$PINION" import --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			--env LANG=C.UTF-8 --cmd python3 "$rootfs" "oci:$dir:library/python:3.11-slim" >/dev/null
	) || return 1
	echo "$dir"
}

if [ "${0##*/}" = fixtures.sh ] && [ "${1:-}" = rootfs ]; then
	fixture_rootfs "$2"
fi
