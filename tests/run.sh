#!/bin/sh
# tests/run.sh [unit|all] - runs the unit tests, replays the fuzz corpora, runs
# the Python SDK tests and the end-to-end tests, and ends with one line
# "N passed, N failed".  Every suite prints TAP; this script counts it.
# Env: PINION_BUILD (build dir), PINION_TESTS (space-separated e2e names to run
# only those, e.g. "oci registry"), PINION_SKIP_E2E=1, PINION_TEST_JOBS (lanes:
# how many e2e files, and the Python SDK and compat suites, run at once;
# default nproc+1, as they mostly wait on the network, sandboxes and fsync;
# 1 runs everything one after another in file order).
# Lanes: longest first, by the times of the last run ($B/test-times, else a
# table below), each result line printed when its file ends.  A file with the
# line "# e2e: exclusive (REASON)" near its top runs alone, before the others.
set -u
cd "$(dirname "$0")/.."
B=${PINION_BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
what=${1:-all}
logdir=$B/test-logs
# glibc-internal allocations LeakSanitizer must not count (sanitizer builds)
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
rm -rf "$logdir"; mkdir -p "$logdir"
passed=0; failed=0; skipped=0; failed_suites=""

# suite_exec NAME CMD...: runs CMD, keeps its TAP in $logdir/KEY.tap and its
# status and seconds in $logdir/.done.KEY (KEY: NAME with / as _); a lane runs
# it in the background
suite_key() { echo "$1" | tr '/ ' '__'; }
suite_exec() {
	_k=$(suite_key "$1"); shift
	_start=$(date +%s)
	if [ "${_in_lane:-0}" = 1 ]; then
		# (a lane's command ignores SIGINT, as every background command of
		# a script: lanes_stop ends it by its pid on Ctrl-C)
		"$@" >"$logdir/$_k.tap" 2>&1 &
		echo $! >"$logdir/.pid.$_k"
		wait $!
		_rc=$?
		rm -f "$logdir/.pid.$_k"
	else
		"$@" >"$logdir/$_k.tap" 2>&1
		_rc=$?
	fi
	echo "$_rc $(( $(date +%s) - _start ))" >"$logdir/.done.$_k.tmp"
	mv "$logdir/.done.$_k.tmp" "$logdir/.done.$_k"
}
# suite_report NAME: counts the TAP of a finished suite and prints its line
suite_report() {
	name=$1
	k=$(suite_key "$name")
	log="$logdir/$k.tap"
	read -r rc secs <"$logdir/.done.$k"
	rm -f "$logdir/.done.$k"
	p=$(grep -Ec '^ok [0-9]+' "$log" | head -1)
	s=$(grep -Ec '^ok [0-9]+.*# *(SKIP|skip)' "$log" | head -1)
	f=$(grep -Ec '^not ok [0-9]+' "$log" | head -1)
	p=$((${p:-0} - ${s:-0})); s=${s:-0}; f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1; echo "not ok - $name exited with status $rc" >>"$log"
	fi
	# a suite that reported nothing did not run (a missing log counts too)
	if [ "$((p + s + f))" -eq 0 ] && ! grep -q '^1\.\.0' "$log" 2>/dev/null; then
		f=1; echo "not ok - $name reported no test" >>"$log"
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	echo "$name $secs" >>"$times_new"
	if [ "$f" -gt 0 ]; then
		failed_suites="$failed_suites $name"
		echo "FAIL $name: $p passed, $f failed (${secs}s)"
		grep -E -A6 '^not ok' "$log" | head -60 | sed 's/^/    /'
		tail -5 "$log" | sed 's/^/    | /'
	else
		if [ "$s" -gt 0 ]; then echo "ok   $name: $p passed, $s skipped (${secs}s)"; else echo "ok   $name: $p passed (${secs}s)"; fi
	fi
}
# run_suite NAME CMD...: runs CMD now and reports it
run_suite() { suite_exec "$@"; suite_report "$1"; }

# --- lanes
jobs=${PINION_TEST_JOBS:-$(( $(nproc 2>/dev/null || echo 1) + 1 ))}
case "$jobs" in '' | *[!0-9]* | 0) echo "PINION_TEST_JOBS must be a number of lanes >= 1, not '$jobs'" >&2; exit 2 ;; esac
times_file=$B/test-times
times_new=$logdir/.times
: >"$times_new"
# seconds the slow suites took in CI (2026-11, outer run); used until a run
# leaves $B/test-times, and for files that file does not know
known_secs() {
	case "$1" in
	e2e/foreign) echo 300 ;; e2e/predict) echo 160 ;; e2e/env) echo 95 ;;
	e2e/runner) echo 90 ;; e2e/pkgcache | e2e/pkgcache_hostile) echo 85 ;;
	compat/run_compat | e2e/cache_remote) echo 80 ;; e2e/poison) echo 70 ;;
	e2e/weights_push) echo 65 ;; e2e/sbom) echo 60 ;; e2e/escape) echo 50 ;;
	e2e/oci | e2e/cache_hostile | e2e/build_packages | e2e/compat) echo 45 ;;
	*) echo 30 ;;
	esac
}
suite_secs() {
	_t=$(awk -v n="$1" '$1 == n { print $2; exit }' "$times_file" 2>/dev/null)
	echo "${_t:-$(known_secs "$1")}"
}
# the queue: lines "SECS NAME CMD..." ; lanes_run runs it longest first
queue=$logdir/.queue
: >"$queue"
enqueue() { printf '%s %s\n' "$(suite_secs "$1")" "$*" >>"$queue"; }
running=""
# lanes_wait N: until fewer than N suites run, reporting each that ends
lanes_wait() {
	while :; do
		_still=""; _n=0
		for _r in $running; do
			if [ -f "$logdir/.done.$(suite_key "$_r")" ]; then suite_report "$_r"
			else _still="$_still $_r"; _n=$((_n + 1)); fi
		done
		running=$_still
		[ "$_n" -lt "$1" ] && return 0
		sleep 1
	done
}
# lanes_stop: on Ctrl-C or TERM, TERM to the running suites (an e2e file
# then stops its services)
lanes_stop() {
	for _p in "$logdir"/.pid.*; do [ -f "$_p" ] && kill -TERM "$(cat "$_p")" 2>/dev/null; done
	wait
}
lanes_run() {
	trap 'lanes_stop; exit 130' INT TERM
	sort -k1,1nr -s "$queue" >"$queue.sorted"
	while read -r _secs _name _cmd <&3; do
		lanes_wait "$jobs"
		# shellcheck disable=SC2086 # the command is words without spaces
		( _in_lane=1; suite_exec "$_name" $_cmd ) </dev/null 3<&- &
		running="$running $_name"
	done 3<"$queue.sorted"
	lanes_wait 1
	wait
}

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	run_suite "unit/$(basename "$t")" "$t"
done

if [ "$what" = all ]; then
	# the structure the code keeps: no call circle between the files of a
	# module, no include circle, no function over 80 lines
	run_suite structure "$PYTHON" tests/tools/structure.py --build "$B" --tap
	for f in "$B"/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		corpus=tests/fuzz/corpus/${name#fuzz_}
		[ -d "$corpus" ] || { echo "not ok - no corpus for $name"; failed=$((failed+1)); continue; }
		run_suite "fuzz/$name" "$f" "$corpus"
	done
	# one lane: each suite now, in file order; more: exclusive files now,
	# the rest queued for the lanes
	lane() { if [ "$jobs" -eq 1 ]; then run_suite "$@"; else enqueue "$@"; fi; }
	for p in $(ls tests/python/run_*.sh 2>/dev/null); do
		lane "python/$(basename "$p" .sh)" env PYTHON="$PYTHON" sh "$p"
	done
	for p in $(ls tests/compat/run_*.sh 2>/dev/null); do
		lane "compat/$(basename "$p" .sh)" env PYTHON="$PYTHON" sh "$p"
	done
	if [ "${PINION_SKIP_E2E:-0}" != 1 ]; then
		for e in tests/e2e/t_*.sh; do
			[ -f "$e" ] || continue
			n=$(basename "$e" .sh); n=${n#t_}
			if [ -n "${PINION_TESTS:-}" ]; then
				case " $PINION_TESTS " in *" $n "*) ;; *) continue ;; esac
			fi
			if [ "$jobs" -gt 1 ] && head -n 30 "$e" | grep -q '^# e2e: exclusive'; then
				run_suite "e2e/$n" env PINION_BUILD="$B" bash "$e"
			else
				lane "e2e/$n" env PINION_BUILD="$B" bash "$e"
			fi
		done
	fi
	[ "$jobs" -gt 1 ] && lanes_run
	# the times of this run, then those of suites it did not run
	{ cat "$times_new"; cat "$times_file" 2>/dev/null; } | awk 'NF == 2 && !seen[$1]++' >"$times_file.tmp" &&
		mv "$times_file.tmp" "$times_file"
fi

echo
[ -n "$failed_suites" ] && echo "failed suites:$failed_suites (logs in $logdir)"
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
