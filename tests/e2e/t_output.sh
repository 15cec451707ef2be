#!/bin/bash
# t_output.sh - what `pinion build` writes: --progress json is JSON only on
# stderr (warnings and errors are events, the error last); on a terminal a
# live view of the running step (a pty), collapsing to one line a step; step
# numbers without gaps; the offline cog-base warning; a missing --secret
# before the first step; the run.cog.version / run.pinion.version labels and
# the wheel `pinion dockerfile` names.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup: the base image layout' '
	fixture_base_layout >"$T/base"
'
BASE="--registry-mirror docker.io=oci:$(cat "$T/base" 2>/dev/null) --use-cog-base-image=false"

# live: a RUN step that talks for a while; fails: one that fails after a line
mkdir -p "$T/live" "$T/fails" "$T/secret"
for m in live fails secret; do cp "$TEST_ROOT/examples/hello/predict.py" "$T/$m/"; done
cat >"$T/live/cog.yaml" <<'YAML'
build:
  python_version: "3.11"
  run:
    - for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo talk-$i; sleep 0.25; done
predict: "predict.py:Predictor"
YAML
cat >"$T/fails/cog.yaml" <<'YAML'
build:
  python_version: "3.11"
  run:
    - echo about-to-fail; exit 3
predict: "predict.py:Predictor"
YAML
cat >"$T/secret/cog.yaml" <<'YAML'
build:
  python_version: "3.11"
  run:
    - echo first
    - command: cat /run/secrets/tok
      mounts: [{type: secret, id: tok}]
predict: "predict.py:Predictor"
YAML

# every line of FILE is a JSON object with an "event"
all_events() {
	local n=0
	while IFS= read -r l; do
		n=$((n + 1))
		printf '%s\n' "$l" | jq -e 'type == "object" and has("event")' >/dev/null ||
			{ echo "line $n is not an event: $l"; return 1; }
	done <"$1"
	[ "$n" -gt 0 ] || { echo "no events in $1"; return 1; }
}
# the step numbers of the final step lines of FILE are 1..N without gaps
numbers_without_gaps() {
	grep -E '^\[[0-9]+/[0-9]+\] [^:]+: (done in|cached)' "$1" | sed -E 's/^\[([0-9]+)\/([0-9]+)\].*/\1 \2/' >"$1.nums" &&
	awk 'NR == 1 { total = $2 } $1 != NR || $2 != total { bad = 1 } END { exit (bad || NR != total || NR == 0) }' "$1.nums" ||
		{ echo "step numbers with gaps or repeats:"; cat "$1.nums"; grep -E '^\[' "$1"; return 1; }
}

test_expect_success 'tty: the running step shows live, its elapsed time and last output lines, then one line' '
	(cd "$T/live" && "$PYTHON" "$TEST_ROOT/tests/tools/pty_screen.py" "$T/tty.raw" "$T/tty.screen" -- \
		"$PINION" build $BASE --output "oci:$T/out:live") >"$T/tty.out" ||
		{ cat "$T/tty.screen"; false; } &&
	test_grep "^oci:$T/out:live sha256:" "$T/tty.out" &&
	tr "\r" "\n" <"$T/tty.raw" | sed "s/$(printf "\033")\[[0-9]*[A-Za-z]//g" >"$T/tty.lines" &&
	test_grep "^  | talk-3$" "$T/tty.lines" &&
	test_grep "^  | talk-12$" "$T/tty.lines" &&
	grep -aE "^\[[0-9]+/[0-9]+\] run 1: for i in .* [0-9]+\.[0-9]s$" "$T/tty.lines" |
		sed -E "s/.* ([0-9]+\.[0-9])s$/\1/" | sort -u >"$T/elapsed" &&
	{ [ "$(wc -l <"$T/elapsed")" -ge 5 ] || { echo "elapsed time not counting:"; cat "$T/elapsed"; false; }; } &&
	grep -q "$(printf "\033")\[[0-9]*A" "$T/tty.raw" &&
	{ ! grep -q "^  | " "$T/tty.screen" || { echo "live lines left on the screen:"; cat "$T/tty.screen"; false; }; } &&
	test_grep "^\[[0-9]*/[0-9]*\] run 1: done in [0-9.]*s$" "$T/tty.screen" &&
	test_grep "^\[[0-9]*/[0-9]*\] cog: done in" "$T/tty.screen" &&
	test_grep "^\[[0-9]*/[0-9]*\] post-build: done in" "$T/tty.screen" &&
	numbers_without_gaps "$T/tty.screen" &&
	{ ! grep -q "run 1 | talk" "$T/tty.screen" || { echo "plain output lines on a terminal"; false; }; }
'

test_expect_success 'plain: as it was (every output line, no escapes); step numbers count the shown steps' '
	(cd "$T/live" && pinion build $BASE --output "oci:$T/out:live2" --no-cache --progress plain) \
		>/dev/null 2>"$T/plain.err" || { cat "$T/plain.err"; false; } &&
	test_grep "^run 1 | talk-1$" "$T/plain.err" &&
	test_grep "^run 1 | talk-12$" "$T/plain.err" &&
	test_grep "^\[[0-9]*/[0-9]*\] run 1: for i in" "$T/plain.err" &&
	{ ! grep -q "$(printf "\033")" "$T/plain.err" || { echo "escape sequences in plain mode"; false; }; } &&
	numbers_without_gaps "$T/plain.err" &&
	test_equal "$(sed -n "\$p" "$T/plain.err.nums")" "5 5"
'

test_expect_success 'json: stderr is events only; a warning is an event; the last is the error with its status' '
	(cd "$T/fails" && unset PINION_TEST_UNSET &&
		pinion build $BASE --output "oci:$T/out:fails" --progress json --build-env PINION_TEST_UNSET) \
		>"$T/fails.out" 2>"$T/fails.err"; test_equal $? 1 &&
	all_events "$T/fails.err" &&
	jq -s -e "map(select(.event == \"warning\" and (.message | test(\"PINION_TEST_UNSET\")))) | length == 1" "$T/fails.err" >/dev/null &&
	jq -s -e "map(select(.event == \"output\" and .message == \"about-to-fail\" and .step == \"run 1\")) | length == 1" "$T/fails.err" >/dev/null &&
	tail -n 1 "$T/fails.err" >"$T/last" &&
	test_equal "$(jq -r .event "$T/last")" error &&
	test_equal "$(jq -r .status "$T/last")" 1 &&
	jq -e ".message | test(\"exited with status 3\")" "$T/last" >/dev/null &&
	jq -e ".hint | test(\"about-to-fail\")" "$T/last" >/dev/null &&
	test_equal "$(jq -s "map(select(.event == \"error\")) | length" "$T/fails.err")" 1
'

test_expect_success 'json: a usage error is one error event with status 2' '
	(cd "$T/fails" && test_expect_failure_status 2 pinion build --progress json --no-such-option) 2>"$T/usage.err" &&
	test_equal "$(wc -l <"$T/usage.err")" 1 &&
	all_events "$T/usage.err" &&
	jq -e ".event == \"error\" and .status == 2 and (.message | test(\"no-such-option\"))" "$T/usage.err" >/dev/null &&
	test_expect_failure_status 2 pinion --progress json no-such-command 2>"$T/cmd.err" &&
	test_equal "$(wc -l <"$T/cmd.err")" 1 &&
	jq -e ".event == \"error\" and .status == 2" "$T/cmd.err" >/dev/null
'

OFFLINE="--registry-mirror r8.im=127.0.0.1:1"
test_expect_success 'offline: the cog-base check warns once, in one sentence; quiet says nothing' '
	(cd "$T/live" && pinion build $OFFLINE --dry-run) >/dev/null 2>"$T/off.err" &&
	test_equal "$(wc -l <"$T/off.err")" 1 &&
	test_grep "^pinion: warning: cannot check for the cog-base image \`r8.im/cog-base:python3.11\` (.*); building without it$" "$T/off.err" &&
	test_equal "$(grep -o "cog-base:python3.11" "$T/off.err" | wc -l)" 1 &&
	(cd "$T/live" && pinion build $OFFLINE --dry-run --progress quiet) >/dev/null 2>"$T/offq.err" &&
	test_equal "$(cat "$T/offq.err")" "" &&
	(cd "$T/live" && pinion build $OFFLINE --dry-run --progress json) >/dev/null 2>"$T/offj.err" &&
	test_equal "$(wc -l <"$T/offj.err")" 1 &&
	jq -e ".event == \"warning\"" "$T/offj.err" >/dev/null
'

test_expect_success 'offline with --use-cog-base-image: the error names the image once and says why' '
	(cd "$T/live" && pinion build $OFFLINE --dry-run --use-cog-base-image) >/dev/null 2>"$T/offy.err"
	test_equal $? 1 &&
	test_grep "check cog-base image \`r8.im/cog-base:python3.11\`: reach registry" "$T/offy.err" &&
	test_equal "$(grep -o "cog-base:python3.11" "$T/offy.err" | wc -l)" 1 &&
	{ ! grep -q "not found" "$T/offy.err" || { echo "an unreachable registry is not a missing image"; false; }; }
'

test_expect_success 'a missing --secret is an error before the first step, naming the step' '
	(cd "$T/secret" && pinion build $BASE --output "oci:$T/out:secret" --progress plain) >/dev/null 2>"$T/sec.err"
	test_equal $? 2 &&
	test_grep "^pinion: step \`run 2\` needs the secret \`tok\` (at /run/secrets/tok): no --secret id=tok given$" "$T/sec.err" &&
	test_grep "^hint: give it with --secret id=tok,src=PATH" "$T/sec.err" &&
	{ ! grep -E "^\[|^base image|^run 1 \|" "$T/sec.err" || { echo "something ran before the error"; false; }; } &&
	(cd "$T/secret" && pinion build $BASE --output "oci:$T/out:secret" --progress json) >/dev/null 2>"$T/secj.err"
	test_equal $? 2 &&
	test_equal "$(wc -l <"$T/secj.err")" 1 &&
	jq -e ".event == \"error\" and .status == 2 and (.message | test(\"run 2\"))" "$T/secj.err" >/dev/null &&
	echo t0ken >"$T/tok" &&
	(cd "$T/secret" && pinion build $BASE --output "oci:$T/out:secret" --progress plain --secret id=tok,src="$T/tok") \
		>/dev/null 2>"$T/secok.err" || { cat "$T/secok.err"; false; }
'

test_expect_success 'run.cog.version is the Cog version of the SDK, run.pinion.version pinion'\''s' '
	want=$(sed -n "s/^COG_API_VERSION = \"\(.*\)\"$/\1/p" "$TEST_ROOT/assembler/sdk/cog/_version.py") &&
	test -n "$want" &&
	skopeo inspect "oci:$T/out:live" >"$T/inspect.json" &&
	test_equal "$(jq -r ".Labels[\"run.cog.version\"]" "$T/inspect.json")" "$want" &&
	test_equal "$(jq -r ".Labels[\"run.pinion.version\"]" "$T/inspect.json")" "$(pinion --version | cut -d" " -f2)"
'

test_expect_success 'pinion dockerfile names the wheel file the image installed' '
	skopeo inspect --config "oci:$T/out:live" |
		jq -r ".history[].created_by" | sed -n "s|.*pip install --no-cache-dir /tmp/\(cog-[^ ]*\.whl\).*|\1|p" >"$T/installed" &&
	test_equal "$(wc -l <"$T/installed")" 1 &&
	(cd "$T/live" && pinion dockerfile) >"$T/Dockerfile" &&
	test_grep "^COPY .cog/tmp/build/$(cat "$T/installed") /tmp/$(cat "$T/installed")$" "$T/Dockerfile" &&
	test_grep "pip install --no-cache-dir /tmp/$(cat "$T/installed") " "$T/Dockerfile"
'

test_done
