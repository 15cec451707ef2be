#!/bin/bash
# bench/build.sh - `pinion build` of examples/packages next to `buildah build
# --isolation chroot` of the Dockerfile `pinion dockerfile` prints for the same
# model, in the same run: cold build (empty caches), warm rebuild (nothing
# changed), rebuild after a predict.py edit.  Prints seconds and ratios
# (buildah / pinion; > 1 means pinion is faster).
#
# Both start from the same base (the Debian python fixture published as
# library/python:3.11-slim in a local registry), install jq from Debian's
# mirror and a 30 MB wheel from a local index served at 10 MB/s (as a remote
# index would).  The Dockerfile is adapted only where Cog's would need the internet: tini is copied from the host's tini-static
# (Cog downloads it from GitHub), the cog wheel is pinion's embedded one
# without the pydantic requirement (PyPI), and PIP_INDEX_URL points pip at the
# local index.  buildah uses a private storage root (overlay), so nothing of
# the machine's containers storage is touched.
# Env: PINION_BUILD (default build), BENCH_DIR (default a temp dir, removed).
. "$(dirname "$0")/env.sh"
bench_setup
# buildah's private storage goes with $T (it runs last, before $T is removed)
[ -n "${BENCH_DIR:-}" ] || at_exit 'buildah --root "$T/storage" --runroot "$T/run" rm --all'
elapsed() { "$PYTHON" -c "print(f'{$2 - $1:.1f}')"; }
ratio() { "$PYTHON" -c "print(f'{$1 / $2:.2f}')"; }

echo "bench: setting up (registry, base, index, weights)" >&2
registry_start plain >/dev/null
rootfs=$(fixture_rootfs python)
SOURCE_DATE_EPOCH=0 "$PINION" import --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--env LANG=C.UTF-8 --cmd python3 "$rootfs" "oci:$T/base:library/python:3.11-slim" >/dev/null
"$PINION" copy "oci:$T/base:library/python:3.11-slim" "$REGISTRY/library/python:3.11-slim" >/dev/null 2>&1
mkdir -p "$T/index/files"
# a 40 MB package served at 10 MB/s, as from a remote index: what pip's cache saves
PIP_INDEX_PAD=40000000 wheel_make pinion-demo-greeting 1.0.0 "$T/index/files" >/dev/null
PIP_INDEX_RATE=10000000 pip_index_start "$T/index"
at_exit pip_index_stop
# pip caches only https and trusted hosts' responses (PyPI is https)
export PIP_TRUSTED_HOST="127.0.0.1:$PIP_INDEX_PORT"
printf 'bench-secret' >"$T/token"

# the two model copies
for who in pinion buildah; do
	cp -r "$root/examples/packages" "$T/$who"
	rm -rf "$T/$who/.pinion"
	sh "$T/$who/make-weights.sh" "$T/$who"
done

# --- pinion
export PINION_CACHE_DIR="$T/pinion-cache"
PINION_MODEL=pinion
pinion_build() {
	(cd "$T/$PINION_MODEL" && PIP_RETRIES=0 "$PINION" build --registry-mirror "docker.io=$REGISTRY" \
		--registry-mirror "r8.im=$REGISTRY" --secret id=token,src="$T/token" \
		--output "oci:$T/pinion-out:bench" ${PINION_PROGRESS:---progress quiet}) >/dev/null 2>"$T/pinion.err" ||
		{ tail -20 "$T/pinion.err" >&2; exit 1; }
}
# the cold build with its events stamped as they arrive (bench/breakdown.py)
pinion_build_json() {
	"$PYTHON" "$root/bench/breakdown.py" run "$T/cold.events" -- sh -c \
		'cd "$1" && PIP_RETRIES=0 "$2" build --registry-mirror "docker.io=$3" --registry-mirror "r8.im=$3" \
		--secret id=token,src="$4" --output "oci:$5:bench" --progress json' - \
		"$T/pinion" "$PINION" "$REGISTRY" "$T/token" "$T/pinion-out" ||
		{ grep error "$T/cold.events" | tail -5 >&2; exit 1; }
}

# --- buildah: the Dockerfile of `pinion dockerfile`, adapted as described above
mkdir -p "$T/buildah/.cog/tmp/build"
wheel_path=$("$PINION" wheel -o "$T/buildah/.cog/tmp/build" 2>/dev/null | tail -1)
[ -f "$wheel_path" ] || wheel_path=$(ls "$T"/buildah/.cog/tmp/build/*.whl | head -1)
wheel=$(basename "$wheel_path")
cp /usr/bin/tini-static "$T/buildah/.cog/tmp/build/tini"
echo "pinion-demo-greeting==1.0.0" >"$T/buildah/.cog/tmp/build/requirements.txt"
(cd "$T/buildah" && "$PINION" dockerfile) >"$T/Dockerfile.cog"
"$PYTHON" - "$T/Dockerfile.cog" "$T/buildah/Dockerfile" "$REGISTRY" "$PIP_INDEX_URL" "$wheel" <<'EOF'
import re, sys
src, dst, reg, index, wheel = sys.argv[1:]
d = open(src).read()
d = re.sub(r"^FROM python:", f"FROM {reg}/library/python:", d, flags=re.M)
host = index.split("/")[2]  # pip caches http responses of trusted hosts only
d = d.replace("ENV DEBIAN_FRONTEND=noninteractive",
              f"ENV DEBIAN_FRONTEND=noninteractive\nENV PIP_INDEX_URL={index} PIP_TRUSTED_HOST={host}", 1)
d = re.sub(r"RUN --mount=type=cache,target=/var/cache/apt,sharing=locked set -eux;.*?chmod \+x /sbin/tini\n",
           "COPY .cog/tmp/build/tini /sbin/tini\n", d, flags=re.S)
d = re.sub(r"cog-[^ ]*\.whl", wheel, d)
d = d.replace(" 'pydantic>=1.9,<3'", "")
open(dst, "w").write(d)
EOF
# (.cog/tmp/build holds what the Dockerfile copies, so it stays in the context)
echo Dockerfile >"$T/buildah/.dockerignore"
BUILDAH_MODEL=buildah
buildah_build() {
	(cd "$T/$BUILDAH_MODEL" && buildah --root "$T/storage" --runroot "$T/run" --storage-driver overlay \
		build --isolation chroot --layers --tls-verify=false --secret id=token,src="$T/token" \
		-t bench:latest -f Dockerfile .) >"$T/buildah.log" 2>&1 ||
		{ tail -30 "$T/buildah.log" >&2; exit 1; }
}

run() { # run NAME FN -> seconds
	local t0 t1
	t0=$(now); $2; t1=$(now)
	elapsed "$t0" "$t1"
}

echo "bench: cold builds" >&2
p_cold=$(run pinion pinion_build_json)
b_cold=$(run buildah buildah_build)
echo "bench: warm rebuilds" >&2
p_warm=$(run pinion pinion_build)
b_warm=$(run buildah buildah_build)
echo "bench: rebuilds after a predict.py edit" >&2
for who in pinion buildah; do echo "# edited" >>"$T/$who/predict.py"; done
p_edit=$(run pinion pinion_build)
b_edit=$(run buildah buildah_build)

# a second model with the same requirements (another ENV before the apt
# step: nothing of it is in the step cache), the package caches warm; with
# empty caches (pinion: --no-package-cache) for the pip step's ratio
echo "bench: a second model with the same requirements" >&2
for who in pinion buildah; do
	cp -r "$T/$who" "$T/$who-2"
done
sed -i 's/^environment:$/environment:\n  - SECOND_MODEL=1/' "$T/pinion-2/cog.yaml"
sed -i 's/^ENV DEBIAN_FRONTEND=noninteractive$/ENV DEBIAN_FRONTEND=noninteractive SECOND_MODEL=1/' \
	"$T/buildah-2/Dockerfile"
PINION_MODEL=pinion-2 BUILDAH_MODEL=buildah-2
second_events() { # second_events NAME [OPTION]: the breakdown of the second model into $T/NAME.events
	"$PYTHON" "$root/bench/breakdown.py" run "$T/$1.events" -- sh -c \
		'cd "$1" && PIP_RETRIES=0 "$2" build --registry-mirror "docker.io=$3" --registry-mirror "r8.im=$3" \
		--secret id=token,src="$4" --output "oci:$5:bench" --progress json $6' - \
		"$T/pinion-2" "$PINION" "$REGISTRY" "$T/token" "$T/pinion-out" "${2:-}" ||
		{ grep error "$T/$1.events" | tail -5 >&2; exit 1; }
}
pip_part() { "$PYTHON" "$root/bench/breakdown.py" parts "$T/$1.events" | sed -n 's/^RUN pip\t//p'; }
# buildah's STEP lines stamped as they arrive (where its second build goes)
buildah_stamped() {
	"$PYTHON" "$root/bench/breakdown.py" run "$T/buildah-second.stamped" -- sh -c \
		'cd "$1" && exec buildah --root "$2/storage" --runroot "$2/run" --storage-driver overlay \
		build --isolation chroot --layers --tls-verify=false --secret id=token,src="$2/token" \
		-t bench:latest -f Dockerfile . 1>&2' - "$T/buildah-2" "$T" || exit 1
}
p_second=$(run pinion "second_events second")
pip_cached=$(pip_part second)
b_second=$(run buildah buildah_stamped)
sed -i 's/SECOND_MODEL=1/SECOND_MODEL=2/' "$T/pinion-2/cog.yaml"
p_nocache=$(run pinion "second_events nocache --no-package-cache")
pip_empty=$(pip_part nocache)

bench_row "build: cold" "$p_cold" "buildah build --layers" "$b_cold"
bench_row "build: warm (no change)" "$p_warm" "buildah build --layers" "$b_warm"
bench_row "build: after a predict.py edit" "$p_edit" "buildah build --layers" "$b_edit"
bench_row "2nd model, same requirements" "$p_second" "buildah, --mount=type=cache" "$b_second"
bench_row "2nd model: pip step, cache vs none" "${pip_cached:-0}" "pinion --no-package-cache" "${pip_empty:-0}"
bench_row "2nd model, no package cache" "$p_nocache" "pinion with the caches" "$p_second"
"$PYTHON" "$root/bench/breakdown.py" parts "$T/cold.events" | while IFS="$(printf '\t')" read -r n s; do
	bench_part "$n" "$s"
done

printf '%-34s %9s %9s %8s\n' "examples/packages" "pinion s" "buildah s" "ratio"
printf '%-34s %9s %9s %8s\n' "cold build" "$p_cold" "$b_cold" "$(ratio "$b_cold" "$p_cold")"
printf '%-34s %9s %9s %8s\n' "warm rebuild (no change)" "$p_warm" "$b_warm" "$(ratio "$b_warm" "$p_warm")"
printf '%-34s %9s %9s %8s\n' "rebuild after predict.py edit" "$p_edit" "$b_edit" "$(ratio "$b_edit" "$p_edit")"
printf '%-34s %9s %9s %8s\n' "2nd model, same requirements" "$p_second" "$b_second" "$(ratio "$b_second" "$p_second")"
echo "(ratio = buildah / pinion; the same base, packages and model; one run on $(nproc) cores)"
# where the second model's time goes, pinion against buildah (bench/breakdown.py)
echo "second model, its apt and pip steps cut at their output lines (s):"
for f in second nocache; do
	for st in apt pip; do
		echo "  pinion ($f) $st: $("$PYTHON" "$root/bench/breakdown.py" phases "$T/$f.events" "$st" | tr '\t\n' '= ')"
	done
done
"$PYTHON" "$root/bench/breakdown.py" buildah "$T/buildah-second.stamped" | sed 's/^/  buildah: /'
