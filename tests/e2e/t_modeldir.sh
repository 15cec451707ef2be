#!/bin/bash
# t_modeldir.sh - the model directory is hostile input: .dockerignore and the
# source walk never read a host file outside it.  A canary file lives next to
# the model directory; symlinks (absolute, `../`, to a directory), a FIFO, a
# socket and a hardlink point at the host.  The canary must appear nowhere:
# not in stdout/stderr, not in any blob of the layout (decompressed).
. "$(dirname "$0")/lib.sh"

CANARY=CANARY-modeldir-5e21b7-host-only
mkdir -p "$T/host/dir" "$T/m/sub"
printf '[%s\n' "$CANARY" >"$T/host/secret"	     # a bad .dockerignore pattern if read
printf '%s\n' "$CANARY" >"$T/host/dir/f.txt"
printf 'hardlinked-bytes-9c1e\n' >"$T/host/hl-other-name" # the user's own hardlink
cat >"$T/m/cog.yaml" <<'YAML'
build:
  python_version: "3.11"
predict: "predict.py:Predictor"
YAML
cat >"$T/m/predict.py" <<'PY'
from cog import BasePredictor
class Predictor(BasePredictor):
    def predict(self) -> str:
        return "x"
PY
printf 'inside\n' >"$T/m/sub/f.txt"
ln -s "$T/host/secret" "$T/m/abs"
ln -s ../host/secret "$T/m/rel"
ln -s ../../host/secret "$T/m/sub/rel2"
ln -s "$T/host/dir" "$T/m/hostdir"
ln -s ../host "$T/m/updir"
ln "$T/host/hl-other-name" "$T/m/hl.txt"
mkfifo "$T/m/pipe"
"$PYTHON" -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/m/sock"
echo '{"openapi":"3.0.2","info":{"title":"x","version":"0"},"paths":{},"components":{"schemas":{}}}' >"$T/schema.json"

test_expect_success 'setup: the python base layout' '
	fixture_base_layout >"$T/base"
'
BUILD="build --registry-mirror docker.io=oci:$(cat "$T/base" 2>/dev/null) --openapi-schema $T/schema.json --progress plain"

# every blob of a layout, decompressed when it is compressed
blobs_text() {
	local b
	for b in "$1"/blobs/sha256/*; do
		gzip -dc "$b" 2>/dev/null || zstd -dc "$b" 2>/dev/null || cat "$b"
	done
}
# no_canary FILE...: the canary in none of them
no_canary() {
	if grep -l "$CANARY" "$@"; then
		echo "the canary leaked"; return 1
	fi
}

test_expect_success 'symlinks out, a FIFO, a socket, a hardlink: built, no host content in any blob' '
	(cd "$T/m" && timeout 600 "$PINION" $BUILD --output "oci:$T/out:t") >"$T/b.out" 2>"$T/b.err" ||
		{ tail -20 "$T/b.err"; false; } &&
	no_canary "$T/b.out" "$T/b.err" &&
	test_grep "skipping \`pipe\`: not a regular file" "$T/b.err" &&
	blobs_text "$T/out" >"$T/all" &&
	no_canary "$T/all" &&
	grep -q "hardlinked-bytes-9c1e" "$T/all" &&
	grep -q "^inside$" "$T/all" &&
	! grep -aq "hl-other-name" "$T/all"
'

test_expect_success 'the source layer keeps the symlinks as symlinks, no FIFO or socket' '
	"$PINION" unpack "oci:$T/out:t" "$T/root" >/dev/null 2>"$T/u.err" &&
	test_equal "$(readlink "$T/root/src/abs")" "$T/host/secret" &&
	test_equal "$(readlink "$T/root/src/rel")" ../host/secret &&
	test_equal "$(readlink "$T/root/src/sub/rel2")" ../../host/secret &&
	test_equal "$(readlink "$T/root/src/hostdir")" "$T/host/dir" &&
	test_equal "$(readlink "$T/root/src/updir")" ../host &&
	test_equal "$(cat "$T/root/src/hl.txt")" hardlinked-bytes-9c1e &&
	test -f "$T/root/src/hl.txt" && ! test -h "$T/root/src/hl.txt" &&
	! test -e "$T/root/src/pipe" && ! test -e "$T/root/src/sock" &&
	! test -h "$T/root/src/pipe" && ! test -h "$T/root/src/sock"
'

# di_refused: the build exits 2, says so, prints nothing of the target
di_refused() {
	local want=$1
	shift
	(cd "$T/m" && timeout 600 env "$@" "$PINION" $BUILD --output "oci:$T/out2:t") >"$T/d.out" 2>"$T/d.err"
	test_equal "$?" 2 &&
	test_grep "$want" "$T/d.err" &&
	no_canary "$T/d.out" "$T/d.err"
}

test_expect_success '.dockerignore symlinked out of the model directory: exit 2, no line of it printed' '
	test_when_finished "rm -f \"$T/m/.dockerignore\" \"$T/m/ig\"" &&
	ln -s "$T/host/secret" "$T/m/.dockerignore" &&
	di_refused "\`.dockerignore\` in \`.\` is a symlink leading outside the model directory" &&
	di_refused "leading outside the model directory" PINION_NO_OPENAT2=1 &&
	rm "$T/m/.dockerignore" && ln -s ../host/secret "$T/m/.dockerignore" &&
	di_refused "leading outside the model directory" &&
	rm "$T/m/.dockerignore" && ln -s updir/dir/f.txt "$T/m/.dockerignore" &&
	di_refused "leading outside the model directory" &&
	rm "$T/m/.dockerignore" && ln -s /etc/shadow "$T/m/.dockerignore" &&
	di_refused "leading outside the model directory" &&
	! grep -q "^root:" "$T/d.out" "$T/d.err" &&
	! test -e "$T/out2"
'

test_expect_success '.dockerignore: a symlink inside is followed; FIFO, directory, over 1 MiB: exit 2' '
	test_when_finished "rm -rf \"$T/m/.dockerignore\" \"$T/m/ig\"" &&
	printf "sub\n" >"$T/m/ig" && ln -s ig "$T/m/.dockerignore" &&
	(cd "$T/m" && timeout 600 "$PINION" $BUILD --output "oci:$T/out3:t") >/dev/null 2>"$T/i.err" ||
		{ tail -5 "$T/i.err"; false; } &&
	"$PINION" unpack "oci:$T/out3:t" "$T/root3" >/dev/null 2>&1 &&
	test -f "$T/root3/src/predict.py" && ! test -e "$T/root3/src/sub" &&
	rm "$T/m/.dockerignore" && mkfifo "$T/m/.dockerignore" &&
	di_refused "\`.dockerignore\` in \`.\` is not a regular file" &&
	rm "$T/m/.dockerignore" && mkdir "$T/m/.dockerignore" &&
	di_refused "is not a regular file" &&
	rmdir "$T/m/.dockerignore" && truncate -s 1048577 "$T/m/.dockerignore" &&
	di_refused "\`.dockerignore\` in \`.\` is larger than 1048576 bytes"
'

test_expect_success '.pinion symlinked out of the model directory: the default layout is not written there' '
	test_when_finished "rm -f \"$T/m/.pinion\"; rm -rf \"$T/m/.pinion\"" &&
	mkdir -p "$T/host/pout" && ln -s ../host/pout "$T/m/.pinion" &&
	(cd "$T/m" && test_expect_failure_status 2 "$PINION" $BUILD) >"$T/p.out" 2>"$T/p.err" &&
	test_grep "\`./.pinion\` is a symlink: the default output layout is not written through it" "$T/p.err" &&
	test_equal "$(ls -A "$T/host/pout")" "" &&
	rm "$T/m/.pinion" && mkdir -p "$T/m/.pinion" && ln -s ../../host/pout "$T/m/.pinion/layout" &&
	(cd "$T/m" && test_expect_failure_status 2 "$PINION" $BUILD) >"$T/p.out" 2>"$T/p.err" &&
	test_grep "\`./.pinion/layout\` is a symlink" "$T/p.err" &&
	test_equal "$(ls -A "$T/host/pout")" "" &&
	rm "$T/m/.pinion/layout" &&
	(cd "$T/m" && "$PINION" $BUILD) >"$T/p.out" 2>"$T/p.err" &&
	test -f "$T/m/.pinion/layout/index.json"
'

test_expect_success 'a model directory that is a git repository with hostile .git/config runs none of its commands; labels still set' '
	rm -rf "$T/g" && mkdir -p "$T/g" && cp "$T/m/cog.yaml" "$T/m/predict.py" "$T/g/" &&
	(cd "$T/g" && git init -q && git add -A && git -c user.email=t@t -c user.name=t commit -qm m && git tag v7 &&
		mkdir -p .git/hooks-evil && printf "#!/bin/sh\ntouch %s/pwned-hook\n" "$T" >.git/hooks-evil/post-checkout &&
		chmod +x .git/hooks-evil/post-checkout &&
		git config core.hooksPath .git/hooks-evil &&
		git config core.fsmonitor "touch $T/pwned-fsmonitor; false" &&
		git config core.pager "touch $T/pwned-pager; cat") &&
	(cd "$T/g" && "$PINION" $BUILD --output "oci:$T/gout:g") >/dev/null 2>"$T/g.err" ||
		{ tail -20 "$T/g.err"; false; } &&
	! ls "$T"/pwned-* 2>/dev/null &&
	pinion inspect "oci:$T/gout:g" >"$T/g.json" &&
	test_equal "$(jq -r ".labels[\"org.opencontainers.image.version\"]" "$T/g.json")" v7
'

test_done
