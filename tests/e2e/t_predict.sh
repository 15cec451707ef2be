#!/bin/bash
# t_predict.sh - predict, serve, run and train as `cog` does them, on one
# model built once (examples/hello's base, plus choices, a file input, an
# environment variable, a slow path and a train:): inputs checked against the
# schema before anything runs (status 2, one line), -e/--json/-o/--gpus,
# serve and run building the model here first, train, the static predictor
# check before any step, and Ctrl-C (status 130, nothing left running).
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

base_registry_start

mkdir -p "$T/m"
cat >"$T/m/cog.yaml" <<'YAML'
build:
  python_version: "3.11"
predict: "predict.py:Predictor"
train: "train.py:train"
YAML
cat >"$T/m/predict.py" <<'PY'
import os
import time
from typing import Optional

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def setup(self) -> None:
        if os.environ.get("FAIL_SETUP"):
            raise RuntimeError("no weights in this test")
        self.greeting = "hello"

    def predict(
        self,
        name: str = Input(description="Who to greet", default="world"),
        times: int = Input(description="How many times", default=1, ge=1, le=10),
        mood: str = Input(default="happy", choices=["happy", "sad"]),
        sleep: float = Input(default=0.0, ge=0, le=120),
        text: Optional[Path] = Input(default=None, description="a file to greet"),
    ) -> str:
        time.sleep(sleep)
        if name == "boom":
            raise ValueError("boom is not a name")
        if text is not None:
            name = open(text).read().strip()
        greeting = os.environ.get("GREETING", self.greeting)
        return " ".join([f"{greeting}, {name}!"] * times)
PY
cat >"$T/m/train.py" <<'PY'
from cog import Input


def train(steps: int = Input(description="Steps", default=1, ge=1, le=5)) -> str:
    return f"trained {steps} steps"
PY
IMG="oci:$T/m/.pinion/layout:latest"

test_expect_success 'setup: build the model once' '
	(cd "$T/m" && pinion build $MIRROR --progress plain) >"$T/build.out" 2>"$T/build.err" ||
		{ tail -30 "$T/build.err"; false; }
'

# not_started NAME: the model's server never started (it says "cog: serving")
not_started() { ! grep -q "cog: serving" "$T/$1.err"; }

# run_predict NAME ARGS...: pinion predict in the model directory; its
# stdout, stderr and status in $T/NAME.{out,err,rc}
run_predict() {
	local n=$1; shift
	(cd "$T/m" && pinion predict "$@") >"$T/$n.out" 2>"$T/$n.err"
	echo $? >"$T/$n.rc"
}

test_expect_success 'the README example on a model without `prompt`: unknown input, the inputs listed, status 2' '
	run_predict unknown $MIRROR -i prompt="hello" &&
	test_equal "$(cat "$T/unknown.rc")" 2 &&
	test_grep "unknown input .prompt.; the model.s inputs: name, times, mood, sleep, text" "$T/unknown.err" &&
	test_equal "$(cat "$T/unknown.out")" "" && not_started unknown
'

test_expect_success 'a value out of range is one line: the input, the value, the maximum; status 2' '
	run_predict range "$IMG" -i times=11 &&
	test_equal "$(cat "$T/range.rc")" 2 &&
	test_equal "$(grep -c . "$T/range.err")" 1 &&
	test_grep "^pinion: input .times.: 11 is more than the maximum 10$" "$T/range.err" && not_started range
'

test_expect_success 'a value not in the choices: one line with the choices; status 2' '
	run_predict choice "$IMG" -i mood=angry &&
	test_equal "$(cat "$T/choice.rc")" 2 &&
	test_equal "$(grep -c . "$T/choice.err")" 1 &&
	test_grep "input .mood.: .angry. is not one of the choices .happy., .sad." "$T/choice.err" &&
	not_started choice
'

test_expect_success 'a value of the wrong type: one line, the prefix once; status 2' '
	run_predict type "$IMG" -i times=many &&
	test_equal "$(cat "$T/type.rc")" 2 &&
	test_equal "$(grep -c . "$T/type.err")" 1 &&
	test_grep "^pinion: input .times.: .many. is not a valid integer$" "$T/type.err" &&
	! grep -q "input .times.*input .times." "$T/type.err" && not_started type
'

test_expect_success 'a missing @file is found before the build: status 2' '
	run_predict nofile $MIRROR -i text=@"$T/no-such-file" &&
	test_equal "$(cat "$T/nofile.rc")" 2 &&
	test_grep "input .text.: file .*no-such-file.: No such file" "$T/nofile.err" &&
	! grep -q "building" "$T/nofile.err"
'

test_expect_success 'a file input and a good prediction (the image is checked, not refused)' '
	echo filed >"$T/name.txt" &&
	run_predict good "$IMG" -i text=@"$T/name.txt" -i mood=sad -i times=2 &&
	test_equal "$(cat "$T/good.rc")" 0 || { cat "$T/good.err"; false; } &&
	test_equal "$(cat "$T/good.out")" "hello, filed! hello, filed!" &&
	test_grep "cog: serving" "$T/good.err"
'

test_expect_success '-e NAME=VALUE reaches the model' '
	t0=$(date +%s%N) && run_predict env "$IMG" -e GREETING=howdy -i name=env &&
	echo "predict took $(( ($(date +%s%N) - t0) / 1000000 )) ms" &&
	test_equal "$(cat "$T/env.out")" "howdy, env!" &&
	run_predict badenv "$IMG" -e =x && test_equal "$(cat "$T/badenv.rc")" 2
'

test_expect_success '--json prints the whole response on stdout' '
	run_predict json "$IMG" --json -i name=json &&
	test_equal "$(cat "$T/json.rc")" 0 &&
	test_equal "$(jq -r .status "$T/json.out")" succeeded &&
	test_equal "$(jq -r .output "$T/json.out")" "hello, json!" &&
	test_equal "$(jq -r .input.name "$T/json.out")" json
'

test_expect_success '-o PATH writes a string output there' '
	run_predict o "$IMG" -o "$T/said.txt" -i name=file &&
	test_equal "$(cat "$T/o.rc")" 0 &&
	test_equal "$(cat "$T/said.txt")" "hello, file!"
'

test_expect_success '--gpus is accepted with a one-line note' '
	run_predict gpus "$IMG" --gpus all -i name=gpu &&
	test_equal "$(cat "$T/gpus.rc")" 0 &&
	test_equal "$(cat "$T/gpus.out")" "hello, gpu!" &&
	test_equal "$(grep -c "no GPU" "$T/gpus.err")" 1
'

test_expect_success 'pinion train runs the model train: with -i inputs' '
	(cd "$T/m" && pinion train "$IMG" -i steps=3) >"$T/train.out" 2>"$T/train.err" ||
		{ cat "$T/train.err"; false; } &&
	test_equal "$(cat "$T/train.out")" "trained 3 steps" &&
	(cd "$T/m" && pinion train "$IMG" -i steps=9) >/dev/null 2>"$T/train9.err";
	test_equal $? 2 && test_grep "input .steps.: 9 is more than the maximum 5" "$T/train9.err" &&
	(cd "$T/m" && pinion train "$IMG" -i times=2) >/dev/null 2>"$T/trainx.err";
	test_equal $? 2 && test_grep "unknown input .times.; the model.s inputs: steps" "$T/trainx.err"
'

test_expect_success 'pinion train on a model without train: status 2 before the build, or before its image starts' '
	mkdir -p "$T/notrain" && cp "$TEST_ROOT/examples/hello/cog.yaml" "$TEST_ROOT/examples/hello/predict.py" "$T/notrain/" &&
	(cd "$T/notrain" && pinion train $MIRROR) >/dev/null 2>"$T/notrain.err";
	test_equal $? 2 && test_grep "has no .train:." "$T/notrain.err" &&
	! grep -q building "$T/notrain.err" &&
	(cd "$T/notrain" && pinion build $MIRROR --progress quiet) >/dev/null 2>"$T/notrain-b.err" ||
		{ cat "$T/notrain-b.err"; false; } &&
	pinion train "oci:$T/notrain/.pinion/layout:latest" -i steps=1 >/dev/null 2>"$T/notrain-i.err";
	test_equal $? 2 && test_grep "the image has no trainer" "$T/notrain-i.err" &&
	! grep -q "cog: serving" "$T/notrain-i.err"
'

test_expect_success 'serve without IMAGE builds the model here first (not a stale image)' '
	cp -r "$T/m" "$T/m2" && sed -i "s/\"hello\"/\"hi there\"/" "$T/m2/predict.py" &&
	port=$(free_port) || exit 1
	(cd "$T/m2" && exec "$PINION" serve $MIRROR -p "$port") >"$T/serve2.out" 2>"$T/serve2.err" &
	spid=$!
	test_when_finished "kill $spid 2>/dev/null" &&
	for i in $(seq 1 300); do
		curl -sf "http://127.0.0.1:$port/health-check" 2>/dev/null | grep -q READY && break; sleep 0.2
	done &&
	curl -sf -X POST -H "Content-Type: application/json" -d "{\"input\":{\"name\":\"serve\"}}" \
		"http://127.0.0.1:$port/predictions" | jq -r .output >"$T/serve2.json" &&
	test_equal "$(cat "$T/serve2.json")" "hi there, serve!" &&
	test_grep "building the model" "$T/serve2.err" &&
	kill -TERM $spid && wait $spid
'

test_expect_success 'run without IMAGE builds the model here first; -- CMD runs in it' '
	(cd "$T/m2" && pinion run $MIRROR -- grep -c "hi there" /src/predict.py) >"$T/run2.out" 2>"$T/run2.err" ||
		{ cat "$T/run2.err"; false; } &&
	test_equal "$(cat "$T/run2.out")" 1 &&
	test_grep "building the model" "$T/run2.err"
'

test_expect_success 'a setup() or predict() that raises: the last line is the real cause' '
	run_predict setup "$IMG" -e FAIL_SETUP=1 &&
	test_equal "$(cat "$T/setup.rc")" 1 &&
	tail -1 "$T/setup.err" | grep -q "^pinion: the model.s setup() failed: RuntimeError: no weights in this test$" ||
		{ tail -5 "$T/setup.err"; false; } &&
	run_predict boom "$IMG" -i name=boom &&
	test_equal "$(cat "$T/boom.rc")" 1 &&
	tail -1 "$T/boom.err" | grep -q "boom is not a name" || { tail -5 "$T/boom.err"; false; }
'

# a model dir from m with its cog.yaml/predict.py changed; the build must
# refuse it before any step (no "step" line, no "building")
bad_model() {
	rm -rf "$T/$1" && cp -r "$T/m" "$T/$1" && rm -rf "$T/$1/.pinion"
}
test_expect_success 'a missing predict.py is reported before any step: status 2' '
	bad_model nopy && rm "$T/nopy/predict.py" &&
	(cd "$T/nopy" && pinion predict $MIRROR -i name=x) >/dev/null 2>"$T/nopy.err";
	test_equal $? 2 && test_grep "predict.py" "$T/nopy.err" && ! grep -q "^\[\|step .apt\|step .pip" "$T/nopy.err" &&
	(cd "$T/nopy" && pinion build $MIRROR) >/dev/null 2>"$T/nopy-b.err";
	test_equal $? 2
'

test_expect_success 'a class predict.py does not define: status 2 before any step, for predict and build' '
	bad_model nocls && sed -i "s/predict.py:Predictor/predict.py:Nope/" "$T/nocls/cog.yaml" &&
	(cd "$T/nocls" && pinion predict $MIRROR) >/dev/null 2>"$T/nocls.err";
	test_equal $? 2 && test_grep "predict .predict.py:Nope.: .predict.py. defines no .Nope." "$T/nocls.err" &&
	! grep -q building "$T/nocls.err" &&
	(cd "$T/nocls" && pinion build $MIRROR --progress plain) >/dev/null 2>"$T/nocls-b.err";
	test_equal $? 2 && test_grep "defines no .Nope." "$T/nocls-b.err" && ! grep -qi "step" "$T/nocls-b.err"
'

test_expect_success 'a syntax error in predict.py: file:line:column, status 2 before any step' '
	bad_model syn && printf "\ndef broken(:\n    pass\n" >>"$T/syn/predict.py" &&
	(cd "$T/syn" && pinion build $MIRROR --progress plain) >/dev/null 2>"$T/syn.err";
	test_equal $? 2 && test_grep "predict.py:[0-9]*:[0-9]*: " "$T/syn.err" && ! grep -qi "step" "$T/syn.err" &&
	(cd "$T/syn" && pinion serve $MIRROR) >/dev/null 2>"$T/syn-s.err";
	test_equal $? 2 && test_grep "predict.py:[0-9]*:" "$T/syn-s.err"
'

# issue 16: a model with union and dict inputs, a None output, and a
# healthcheck() that takes 5 s (the SDK's limit) and fails: UNHEALTHY
mkdir -p "$T/u" &&
	printf "build:\n  python_version: \"3.11\"\npredict: \"predict.py:Predictor\"\n" >"$T/u/cog.yaml"
cat >"$T/u/predict.py" <<'PY'
import json
import time
from typing import Optional, Union

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(
        self,
        v: Union[float, str] = Input(default="x"),
        b: Union[int, bool] = Input(default=0),
        data: dict = Input(default={}),
        none: bool = False,
    ) -> Optional[str]:
        if none:
            return None
        return json.dumps([v, b, data])

    def healthcheck(self) -> bool:
        time.sleep(6)
        return False
PY
UIMG="oci:$T/u/.pinion/layout:latest"
run_u() { # NAME ARGS...: pinion predict in $T/u, as run_predict
	local n=$1; shift
	(cd "$T/u" && pinion predict "$@") >"$T/$n.out" 2>"$T/$n.err"
	echo $? >"$T/$n.rc"
}

test_expect_success 'union inputs read as Cog reads them (1.5 a number, true a bool), a dict input as JSON; an UNHEALTHY server is up' '
	run_u un1 $MIRROR -i v=1.5 -i b=true -i "data={\"a\": 1}" &&
	test_equal "$(cat "$T/un1.rc")" 0 || { tail -5 "$T/un1.err"; false; } &&
	test_equal "$(cat "$T/un1.out")" "[1.5, true, {\"a\": 1}]" &&
	run_u un2 "$UIMG" -i v=abc -i b=7 &&
	test_equal "$(cat "$T/un2.rc")" 0 &&
	test_equal "$(cat "$T/un2.out")" "[\"abc\", 7, {}]"
'

test_expect_success 'a dict input that is no JSON object: one line, status 2, nothing started' '
	run_u un3 "$UIMG" -i "data=[1]";
	test_equal "$(cat "$T/un3.rc")" 2 &&
	test_grep "input .data.: .\[1\]. is not a JSON object" "$T/un3.err"
'

test_expect_success 'a None output: "No output generated" on stderr, nothing on stdout, status 0 (as cog predict)' '
	run_u none "$UIMG" -i none=true &&
	test_equal "$(cat "$T/none.rc")" 0 &&
	test_equal "$(cat "$T/none.out")" "" &&
	test_grep "^No output generated$" "$T/none.err"
'

# the processes of this file's model servers (the marker is in their environment)
MARK="PINION_E2E_MARK=$$-$RANDOM"
marked() { grep -ls "$MARK" /proc/[0-9]*/environ 2>/dev/null | wc -l; }
test_expect_success 'Ctrl-C during a prediction stops within a second, removes the sandbox, exits 130' '
	"$PINION" predict "$IMG" -e "$MARK" -i sleep=60 >"$T/int.out" 2>"$T/int.err" &
	ppid=$!
	test_when_finished "kill -9 $ppid 2>/dev/null" &&
	for i in $(seq 1 300); do [ "$(marked)" -gt 0 ] && break; sleep 0.1; done &&
	test "$(marked)" -gt 0 && sleep 3 &&
	t0=$(date +%s%N) && kill -INT $ppid; wait $ppid; rc=$?; t1=$(date +%s%N) &&
	test_equal $rc 130 &&
	echo "stopped in $(( (t1 - t0) / 1000000 )) ms" &&
	test $(( (t1 - t0) / 1000000 )) -lt 1500 &&
	test_equal "$(marked)" 0 &&
	test_equal "$(ls "$PINION_CACHE_DIR/runs" | wc -l)" 0 &&
	test_grep "interrupted" "$T/int.err"
'

test_expect_success 'Ctrl-C stops pinion serve: status 130, nothing left' '
	port=$(free_port) || exit 1
	"$PINION" serve "$IMG" -e "$MARK" -p "$port" >"$T/sint.out" 2>"$T/sint.err" &
	spid=$!
	test_when_finished "kill -9 $spid 2>/dev/null" &&
	for i in $(seq 1 300); do
		curl -sf "http://127.0.0.1:$port/health-check" 2>/dev/null | grep -q READY && break; sleep 0.2
	done &&
	t0=$(date +%s%N) && kill -INT $spid; wait $spid; rc=$?; t1=$(date +%s%N) &&
	test_equal $rc 130 && test $(( (t1 - t0) / 1000000 )) -lt 1500 &&
	test_equal "$(marked)" 0 && test_equal "$(ls "$PINION_CACHE_DIR/runs" | wc -l)" 0
'

# pinion run leaves ^C to the command (it shares the terminal's process
# group), so this Ctrl-C goes to the whole group, as a terminal sends it
test_expect_success 'Ctrl-C stops pinion run: status 130, the sandbox removed' '
	setsid "$PINION" run "$IMG" -- env "$MARK" sleep 60 >"$T/rint.out" 2>"$T/rint.err" &
	rpid=$!
	test_when_finished "kill -9 -- -$rpid 2>/dev/null" &&
	for i in $(seq 1 300); do [ "$(marked)" -gt 0 ] && break; sleep 0.1; done &&
	test "$(marked)" -gt 0 &&
	t0=$(date +%s%N) && kill -INT -- -$rpid; wait $rpid; rc=$?; t1=$(date +%s%N) &&
	test_equal $rc 130 && test $(( (t1 - t0) / 1000000 )) -lt 1500 &&
	test_equal "$(marked)" 0 && test_equal "$(ls "$PINION_CACHE_DIR/runs" | wc -l)" 0
'

# a RUN step that sleeps: Ctrl-C (to the process group, as a terminal sends it)
# during the build `predict` without IMAGE, or `pinion build`, runs
bad_model slowrun &&
	sed -i "/python_version/a\\  run:\\n    - env $MARK sleep 60" "$T/slowrun/cog.yaml"
interrupt_build() { # CMD...: exit status of CMD after SIGINT during its RUN step
	(cd "$T/slowrun" && exec setsid "$PINION" "$@" $MIRROR) >"$T/bint.out" 2>"$T/bint.err" &
	bpid=$!
	for i in $(seq 1 1200); do [ "$(marked)" -gt 0 ] && break; sleep 0.1; done
	[ "$(marked)" -gt 0 ] || { kill -9 -- -$bpid 2>/dev/null; echo "no RUN step seen"; return 99; }
	kill -INT -- -$bpid; wait $bpid
}
test_expect_success 'Ctrl-C during the build predict runs: status 130, nothing left' '
	interrupt_build predict -i name=x; test_equal $? 130 &&
	test_grep "interrupted by SIGINT" "$T/bint.err" &&
	test_equal "$(marked)" 0 && test_equal "$(ls "$PINION_CACHE_DIR/runs" | wc -l)" 0
'
test_expect_success 'Ctrl-C during pinion build: status 130, nothing left' '
	interrupt_build build; test_equal $? 130 &&
	test_grep "interrupted by SIGINT" "$T/bint.err" &&
	test_equal "$(marked)" 0 && test_equal "$(ls "$PINION_CACHE_DIR/runs" | wc -l)" 0
'

test_done
