#!/bin/bash
# t_escape.sh - nothing of the host is reachable from inside the sandbox
# (issue 17: the runc CVE-2024-21626 class through /proc/1/fd, and /proc/sys
# writable by root builds).  For root, pinion-sub and pinion-nosub: a model
# whose `run:` step walks every /proc/*/fd/*, cwd, root, exe, map_files,
# environ and cmdline and `..` chains from them, trying to read a host
# canary and write into a host directory; the same probe from the predictor
# at predict time (pinion predict) and from `pinion run` with a directory as
# stdin and a host file as stdout.  The caller leaks fds 7 and 8 (the host
# dir, the canary), the canary in its environment and on its command line.
# The canary is never in any output or layer, the dir stays empty; /proc/sys
# is read-only and the hostname is the sandbox's own.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

if [ "$(id -u)" -ne 0 ]; then
	test_skip "escape e2e" "needs root to create the test users"
	test_done
fi

# the probe (a copy of ESCAPE_PROBE in tests/unit/test_runner_sandbox.c):
# sh probe.sh CANARY EMPTY_DIR; prints READ/WROTE/OUTSIDE for each success
# and "attempts N" at the end
cat >"$T/probe.sh" <<'PROBE'
C=$1 E=$2 M=PINION-CAN
U=../../../../../../../../../../../../../../../../../../../../../../../../../..
B=${C##*/} D=${C%/*} EB=${E##*/}
DB=${D##*/}
n=0
rd() { n=$((n+1)); [ -f "$1" ] && head -c 65536 "$1" 2>/dev/null | grep -a "${M}ARY" && echo "READ $1"; return 0; }
wr() { n=$((n+1)); (echo x >"$1") 2>/dev/null && echo "WROTE $1"; return 0; }
up() { n=$((n+1)); [ -d "$1" ] && ! [ "$1/$U" -ef / ] && echo "OUTSIDE $1"; return 0; }
walk() {
  rd "$1"; up "$1"; rd "$1/$U$C"; wr "$1/$U$E/w$n"; d=$1
  for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    rd "$d/$B"; rd "$d/$DB/$B"; up "$d"; wr "$d/$EB/w$n"; d=$d/..
  done
}
for pid in /proc/[0-9]*; do
  for f in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do walk "$pid/fd/$f"; done
  for p in "$pid"/fd/* "$pid"/task/*/fd/* "$pid"/map_files/* "$pid/cwd" "$pid/root" "$pid/exe" "$pid/environ" "$pid/cmdline"; do walk "$p"; done
done
echo "attempts $n"
PROBE

# the kernel-side checks, as root inside (each write puts back the value
# that is there, so a regression changes nothing on the host)
cat >"$T/kernel.sh" <<'KERNEL'
f=0
for p in kernel/core_pattern kernel/hostname vm/overcommit_memory; do
  v=$(cat /proc/sys/$p) || f=1
  (echo "$v" >/proc/sys/$p) 2>/dev/null && { echo "wrote /proc/sys/$p"; f=1; }
done
(: >/proc/sysrq-trigger) 2>/dev/null && { echo "opened sysrq-trigger"; f=1; }
for d in /proc/sys /proc/sysrq-trigger /proc/irq /proc/bus; do
  test -e $d || continue
  grep -q " $d ro," /proc/self/mountinfo || { echo "$d not read-only"; f=1; }
done
test "$(uname -n)" = pinion || { echo "hostname $(uname -n)"; f=1; }
python3 -c "import socket,sys; socket.sethostname(sys.argv[1])" "$HOST_NAME" 2>/dev/null && { echo sethostname; f=1; }
grep -q "127.0.1.1.*pinion" /etc/hosts || { echo "pinion not in /etc/hosts"; f=1; }
test "$(readlink /proc/self/ns/uts)" != "$HOST_UTS" || { echo "host UTS namespace"; f=1; }
test "$(readlink /proc/self/ns/ipc)" != "$HOST_IPC" || { echo "host IPC namespace"; f=1; }
grep -q "^CapBnd:.*0000000000000000" /proc/self/status && { echo "no bounding set?"; f=1; }
echo "kernel checks done"
exit $f
KERNEL

HOST=$T/esc-host
CANARY=$HOST/canary
SECRET=$(od -An -tx1 -N16 /dev/urandom | tr -d " \n")
mkdir -m 755 "$HOST"
# empty_dir NAME: a host dir anyone may write to, that must stay empty
empty_dir() { mkdir -m 777 "$T/esc-empty-$1" && chmod 777 "$T/esc-empty-$1" && echo "$T/esc-empty-$1"; }
echo "PINION-CANARY-$SECRET" >"$CANARY" && chmod 644 "$CANARY"
HOST_NAME=$(uname -n)
HOST_UTS=$(readlink /proc/self/ns/uts)
HOST_IPC=$(readlink /proc/self/ns/ipc)
export PINION_ESCAPE_CANARY="PINION-CANARY-$SECRET"

base_registry_start 'setup: registry with library/python:3.11-slim, test users' test_user_setup

# the model: its run step probes at build time (cog.yaml per user: its
# empty dir), its predictor at predict time
mkdir -p "$T/model"
cp "$T/probe.sh" "$T/kernel.sh" "$T/model/"
model_yaml() {
	cat <<YAML
build:
  python_version: "3.11"
  run:
    - "echo $(base64 -w0 "$T/probe.sh") | base64 -d >/tmp/probe.sh && sh /tmp/probe.sh $CANARY $1 >/escape.log 2>&1; rm -f /tmp/probe.sh; grep attempts /escape.log"
predict: "predict.py:Predictor"
YAML
}
cat >"$T/model/predict.py" <<'PY'
import subprocess
from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, c: str = Input(default=""), e: str = Input(default="")) -> str:
        r = subprocess.run(["sh", "/src/probe.sh", c, e], capture_output=True, text=True)
        return r.stdout + r.stderr
PY
# TIOCSTI on the terminal pinion run shares (it must be the controlling one,
# or the ioctl fails anyway and the case could not fail)
cat >"$T/model/sti.py" <<'PY'
import fcntl, os, termios
os.close(os.open("/dev/tty", os.O_RDWR))
print("ctty yes", flush=True)
try:
    fcntl.ioctl(0, termios.TIOCSTI, b" ")
    print("sti-allowed")
except OSError as e:
    print("sti-refused", e.errno)
PY
chmod -R a+rX "$T/model" "$T/probe.sh" "$T/kernel.sh"

# as USER DIR: pinion ARGS... in DIR, with fds 7 (the host dir) and 8 (the
# canary) open and the canary in the environment (root runs pinion directly)
as() {
	local u=$1 d=$2; shift 2
	if [ "$u" = root ]; then
		env -C "$d" "$PINION" "$@" 7<"$HOST" 8<"$CANARY"
	else
		run_as "$u" env -C "$d" PINION_ESCAPE_CANARY="PINION-CANARY-$SECRET" "$PINION" "$@" 7<"$HOST" 8<"$CANARY"
	fi
}

# no_escape WHAT EMPTY FILE...: the canary in none of the files, no success
# line, EMPTY empty, and the attempts counted (appended to $T/attempts)
no_escape() {
	local what=$1 empty=$2 n; shift 2
	if grep -qa "$SECRET" "$@"; then echo "$what: canary read:"; grep -a "$SECRET" "$@" | head; return 1; fi
	if grep -qaE "^(READ|WROTE|OUTSIDE) " "$@"; then
		echo "$what: the probe got out:"; grep -aE "^(READ|WROTE|OUTSIDE) " "$@" | head; return 1
	fi
	test_equal "$(ls -A "$empty")" "" &&
	n=$(grep -ahoE "attempts [0-9]+" "$@" | awk "{s += \$2} END {print s + 0}") &&
	{ [ "$n" -gt 1000 ] || { echo "$what: only $n attempts"; return 1; }; } &&
	echo "$what $n" >>"$T/attempts"
}

# every layer blob of an image, uncompressed, concatenated
layers_text() {
	local dir=$1 tag=$2 m
	m=$(jq -r --arg t "$tag" '.manifests[] | select(.annotations."org.opencontainers.image.ref.name"==$t) | .digest' "$dir/index.json")
	for l in $(jq -r '.layers[].digest' "$dir/blobs/sha256/${m#sha256:}" | cut -d: -f2); do
		gzip -dc "$dir/blobs/sha256/$l" 2>/dev/null || zstd -dc "$dir/blobs/sha256/$l" 2>/dev/null || cat "$dir/blobs/sha256/$l"
	done
}

for u in root pinion-sub pinion-nosub; do
	w=$T/w-$u
	mkdir -m 777 "$w"
	cp -r "$T/model" "$w/model" &&
	e_build=$(empty_dir "$u-build") && e_predict=$(empty_dir "$u-predict") && e_run=$(empty_dir "$u-run") &&
	model_yaml "$e_build" >"$w/model/cog.yaml" && chmod -R a+rwX "$w/model"
	test_expect_success "$u: a build step reaches nothing of the host through /proc" '
		as $u "$w/model" build $MIRROR --cache-dir "$w/cache" --progress plain \
			--output "oci:$w/img:esc" >"$w/build.out" 2>"$w/build.err" ||
			{ tail -30 "$w/build.err"; false; } &&
		layers_text "$w/img" esc >"$w/layers" &&
		grep -qa "attempts [0-9]" "$w/layers" &&
		no_escape "$u build" "$e_build" "$w/build.out" "$w/build.err" "$w/layers"
	'
	test_expect_success "$u: the predictor at predict time reaches nothing either" '
		as $u "$w" predict --cache-dir "$w/cache" "oci:$w/img:esc" -i c="$CANARY" -i e="$e_predict" \
			--creds "x:PINION-CANARY-$SECRET" >"$w/predict.out" 2>"$w/predict.err" ||
			{ tail -30 "$w/predict.err"; false; } &&
		no_escape "$u predict" "$e_predict" "$w/predict.out" "$w/predict.err"
	'
	test_expect_success "$u: pinion run with a directory as stdin and a host file as stdout" '
		as $u "$w" run --cache-dir "$w/cache" --creds "x:PINION-CANARY-$SECRET" "oci:$w/img:esc" -- \
			sh -c "test -c /proc/self/fd/0 && test -p /proc/self/fd/1 && test -p /proc/self/fd/2 && echo stdio-guarded; sh /src/probe.sh $CANARY $e_run" \
			<"$HOST" >"$w/run.out" 2>"$w/run.err" ||
			{ tail -30 "$w/run.err"; false; } &&
		test_grep "^stdio-guarded$" "$w/run.out" &&
		no_escape "$u run" "$e_run" "$w/run.out" "$w/run.err"
	'
	test_expect_success "$u: pinion run on a terminal cannot push keystrokes into it (TIOCSTI)" '
		cmd="$PINION run --cache-dir $w/cache oci:$w/img:esc -- python3 /src/sti.py" &&
		if [ $u = root ]; then script -qec "$cmd" /dev/null; else run_as $u script -qec "$cmd" /dev/null; fi \
			>"$w/sti.out" 2>&1 &&
		test_grep "^ctty yes" "$w/sti.out" &&
		test_grep "^sti-refused 1" "$w/sti.out"
	'
	test_expect_success "$u: /proc/sys read-only, own hostname, UTS and IPC namespaces" '
		as $u "$w" run --cache-dir "$w/cache" -e HOST_NAME="$HOST_NAME" -e HOST_UTS="$HOST_UTS" \
			-e HOST_IPC="$HOST_IPC" "oci:$w/img:esc" -- sh /src/kernel.sh \
			>"$w/kernel.out" 2>&1 </dev/null ||
			{ cat "$w/kernel.out"; false; } &&
		test_grep "^kernel checks done$" "$w/kernel.out" &&
		test_equal "$(uname -n)" "$HOST_NAME"
	'
done

test_expect_success 'every escape attempt was contained (count)' '
	test -s "$T/attempts" &&
	total=$(awk "{s += \$NF} END {print s}" "$T/attempts") &&
	echo "escape attempts contained: $total ($(wc -l <"$T/attempts") runs)" &&
	cat "$T/attempts" &&
	test_equal "$(find "$T"/esc-empty-* -mindepth 1)" ""
'

test_done
