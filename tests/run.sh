#!/bin/sh
# tests/run.sh [unit|all] - runs the unit tests, replays the fuzz corpora, runs
# the Python SDK tests and the end-to-end tests, and ends with one line
# "N passed, N failed".  Every suite prints TAP; this script counts it.
# Env: PINION_BUILD (build dir), PINION_TESTS (space-separated e2e names to run
# only those, e.g. "oci registry"), PINION_SKIP_E2E=1.
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

# run_suite NAME CMD...: runs CMD, keeps its TAP in $logdir/NAME.tap and counts it
run_suite() {
	name=$1; shift
	log="$logdir/$(echo "$name" | tr '/ ' '__').tap"
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	p=$(grep -Ec '^ok [0-9]+' "$log" | head -1)
	s=$(grep -Ec '^ok [0-9]+.*# *(SKIP|skip)' "$log" | head -1)
	f=$(grep -Ec '^not ok [0-9]+' "$log" | head -1)
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1; echo "not ok - $name exited with status $rc" >>"$log"
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	secs=$(( $(date +%s) - start ))
	if [ "$f" -gt 0 ]; then
		failed_suites="$failed_suites $name"
		echo "FAIL $name: $p passed, $f failed (${secs}s)"
		grep -E -A6 '^not ok' "$log" | head -60 | sed 's/^/    /'
		tail -5 "$log" | sed 's/^/    | /'
	else
		if [ "$s" -gt 0 ]; then echo "ok   $name: $p passed, $s skipped (${secs}s)"; else echo "ok   $name: $p passed (${secs}s)"; fi
	fi
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
	for p in $(ls tests/python/run_*.sh 2>/dev/null); do
		run_suite "python/$(basename "$p" .sh)" env PYTHON="$PYTHON" sh "$p"
	done
	for p in $(ls tests/compat/run_*.sh 2>/dev/null); do
		run_suite "compat/$(basename "$p" .sh)" env PYTHON="$PYTHON" sh "$p"
	done
	if [ "${PINION_SKIP_E2E:-0}" != 1 ]; then
		for e in tests/e2e/t_*.sh; do
			[ -f "$e" ] || continue
			n=$(basename "$e" .sh); n=${n#t_}
			if [ -n "${PINION_TESTS:-}" ]; then
				case " $PINION_TESTS " in *" $n "*) ;; *) continue ;; esac
			fi
			run_suite "e2e/$n" env PINION_BUILD="$B" bash "$e"
		done
	fi
fi

echo
[ -n "$failed_suites" ] && echo "failed suites:$failed_suites (logs in $logdir)"
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
