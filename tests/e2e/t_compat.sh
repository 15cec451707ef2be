#!/bin/bash
# t_compat.sh - what Cog does at build time, through a real `pinion build`
# (issue 16): the schema command's own error ends the build's message, the
# schema label is the SDK's text byte for byte (0.7 stays 0.7), --openapi-schema
# FILE is kept as written, a relative secret target is resolved as Docker does,
# run.cog.r8_model_dependencies, Cog's train_basic through pinion train, no_predictor
# (no predict: exit 2), SSE streaming through pinion serve, python313 on a trixie
# base, and setup_subprocess_simple (a child of setup() outlives predictions).
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

base_registry_start

# model DIR PREDICT_BODY: a stdlib model whose predict() signature is the body
model() {
	mkdir -p "$1" &&
	printf 'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n' >"$1/cog.yaml" &&
	printf 'from cog import BasePredictor, Input\n\n\nclass Predictor(BasePredictor):\n    def predict(self, %s) -> str:\n        return "ok"\n' "$2" >"$1/predict.py"
}

# serve_ready IMAGE LOG: pinion serve IMAGE on a free port (LOG.out, LOG.err)
# until it is READY; sets port and spid (the server's pid)
serve_ready() {
	port=$(free_port) || return 1
	"$PINION" serve "$1" -p "$port" >"$2.out" 2>"$2.err" &
	spid=$!
	for i in $(seq 1 300); do
		curl -sf "http://127.0.0.1:$port/health-check" 2>/dev/null | grep -q READY && return 0
		sleep 0.2
	done
	echo "pinion serve $1: not READY"; cat "$2.err"; kill "$spid" 2>/dev/null; return 1
}

test_expect_success 'a default that violates its constraint fails the build with the SDK error last' '
	model "$T/baddefault" "n: int = Input(default=1, ge=2)" &&
	(cd "$T/baddefault" && pinion build $MIRROR --output "oci:$T/out:bad" --progress plain) \
		>/dev/null 2>"$T/bad.err";
	test_equal $? 1 &&
	tail -n 1 "$T/bad.err" >"$T/bad.last" &&
	test_grep "invalid default for" "$T/bad.last" &&
	test_grep "^cog: " "$T/bad.last" &&
	! test_grep "is not JSON" "$T/bad.err"
'

test_expect_success 'a float default 0.7 survives byte for byte in the schema label' '
	model "$T/float" "t: float = Input(default=0.7, ge=0.1, le=1.5)" &&
	(cd "$T/float" && pinion build $MIRROR --output "oci:$T/out:float" --progress quiet) \
		>/dev/null 2>"$T/float.err" || { cat "$T/float.err"; false; } &&
	skopeo inspect "oci:$T/out:float" | jq -r ".Labels[\"run.cog.openapi_schema\"]" >"$T/float.label" &&
	test_grep "\"default\":0.7," "$T/float.label" &&
	test_grep "\"maximum\":1.5," "$T/float.label" &&
	! test_grep "0.6999" "$T/float.label" &&
	jq -e ".components.schemas.Input.properties.t.default == 0.7" "$T/float.label" >/dev/null &&
	skopeo inspect "oci:$T/out:float" | jq -r ".Labels[\"run.cog.pip_freeze\"]" >"$T/float.freeze" &&
	test_grep "^cog" "$T/float.freeze"
'

test_expect_success 'run.cog.r8_model_dependencies as Cog 0.16 writes it: [""] without replicate.use()' '
	skopeo inspect "oci:$T/out:float" >"$T/float.json" &&
	test_equal "$(jq -r ".Labels[\"run.cog.r8_model_dependencies\"]" "$T/float.json")" "[\"\"]" &&
	mkdir -p "$T/pipe" && cp "$T/float/cog.yaml" "$T/pipe/" &&
	printf "from cog import BasePredictor\ntry:\n    import replicate\n    from replicate import use\nexcept ImportError:\n    replicate, use = None, str\n\nA = use(\"acme/a\")\nB = replicate.use(\"acme/b\") if replicate else None\n\n\nclass Predictor(BasePredictor):\n    def predict(self) -> str:\n        return \"ok\"\n" >"$T/pipe/predict.py" &&
	(cd "$T/pipe" && pinion build $MIRROR --output "oci:$T/out:pipe" --progress quiet) \
		>/dev/null 2>"$T/pipe.err" || { cat "$T/pipe.err"; false; } &&
	skopeo inspect "oci:$T/out:pipe" >"$T/pipe.json" &&
	test_equal "$(jq -r ".Labels[\"run.cog.r8_model_dependencies\"]" "$T/pipe.json")" "[\"acme/a\",\"acme/b\"]"
'

test_expect_success '--openapi-schema FILE is stored as written (0.7, key order, spacing)' '
	printf "%s\n" "{\"openapi\": \"3.0.2\", \"info\": {\"title\": \"t\", \"x\": 0.7}}" >"$T/schema.json" &&
	(cd "$T/float" && pinion build $MIRROR --openapi-schema "$T/schema.json" \
		--output "oci:$T/out:file" --progress quiet) >/dev/null 2>"$T/file.err" ||
		{ cat "$T/file.err"; false; } &&
	skopeo inspect "oci:$T/out:file" | jq -r ".Labels[\"run.cog.openapi_schema\"]" >"$T/file.label" &&
	test_equal "$(cat "$T/file.label")" "{\"openapi\": \"3.0.2\", \"info\": {\"title\": \"t\", \"x\": 0.7}}"
'

test_expect_success 'a relative secret target is mounted as Docker does (against /)' '
	model "$T/relsecret" "name: str = \"x\"" &&
	printf "build:\n  python_version: \"3.11\"\n  run:\n    - command: test \"\$(cat /secret.txt)\" = s3cret\n      mounts:\n        - type: secret\n          id: tok\n          target: secret.txt\npredict: \"predict.py:Predictor\"\n" >"$T/relsecret/cog.yaml" &&
	printf s3cret >"$T/tok" &&
	(cd "$T/relsecret" && pinion build $MIRROR --secret id=tok,src="$T/tok" \
		--output "oci:$T/out:rel" --progress plain) >/dev/null 2>"$T/rel.err" ||
		{ cat "$T/rel.err"; false; } &&
	(cd "$T/relsecret" && pinion dockerfile) >"$T/rel.Dockerfile" &&
	test_grep "target=/secret.txt" "$T/rel.Dockerfile"
'

test_expect_success 'Cog train_basic: pinion train -i n=42 returns weights of 42 bytes' '
	model "$T/trainer" "s: str = \"x\"" &&
	printf "train: \"train.py:train\"\n" >>"$T/trainer/cog.yaml" &&
	printf "from cog import BaseModel, Path\n\n\nclass Out(BaseModel):\n    weights: Path\n\n\ndef train(n: int) -> Out:\n    with open(\"weights.bin\", \"w\") as f:\n        f.write(\"w\" * n)\n    return Out(weights=Path(\"weights.bin\"))\n" >"$T/trainer/train.py" &&
	(cd "$T/trainer" && pinion build $MIRROR --output "oci:$T/out:train" --progress quiet) \
		>/dev/null 2>"$T/train.err" || { cat "$T/train.err"; false; } &&
	mkdir -p "$T/trainrun" &&
	(cd "$T/trainrun" && pinion train $MIRROR "oci:$T/out:train" -i n=42) >"$T/trainrun.out" 2>"$T/trainrun.err" ||
		{ cat "$T/trainrun.err"; false; } &&
	jq -r .weights "$T/trainrun.out" | sed "s/^data:[^,]*,//" | base64 -d >"$T/weights.bin" &&
	test_equal "$(wc -c <"$T/weights.bin")" 42
'

test_expect_success 'both run and predict: Cog error, before anything is built' '
	model "$T/both" "name: str = \"x\"" &&
	printf "run: \"predict.py:Predictor\"\n" >>"$T/both/cog.yaml" &&
	(cd "$T/both" && pinion build $MIRROR --dry-run) >/dev/null 2>"$T/both.err";
	test_equal $? 2 &&
	test_grep "only one of run or predict can be set" "$T/both.err"
'

test_expect_success 'Cog no_predictor: a cog.yaml with no predict (nor run) fails the build, exit 2' '
	mkdir -p "$T/nopred" &&
	printf "build:\n  python_version: \"3.12\"\n" >"$T/nopred/cog.yaml" &&
	(cd "$T/nopred" && test_expect_failure_status 2 pinion build $MIRROR \
		--output "oci:$T/out:nopred" --progress plain >/dev/null 2>"$T/nopred.err") &&
	test_grep "has no \`predict\` (or \`run\`)" "$T/nopred.err" &&
	! grep -q nopred "$T/out/index.json" &&
	(cd "$T/nopred" && test_expect_failure_status 2 pinion build --dry-run >/dev/null 2>"$T/nopred.dry") &&
	test_grep "predict" "$T/nopred.dry" &&
	printf "train: \"train.py:train\"\n" >>"$T/nopred/cog.yaml" &&
	(cd "$T/nopred" && pinion build --dry-run) >/dev/null
'

test_expect_success 'Cog sse_streaming_output through a built image: events arrive as yielded' '
	mkdir -p "$T/sse" &&
	printf "build:\n  python_version: \"3.11\"\npredict: \"predict.py:Predictor\"\n" >"$T/sse/cog.yaml" &&
	printf "import time\nfrom typing import Iterator\n\nfrom cog import BasePredictor, streaming\n\n\nclass Predictor(BasePredictor):\n    @streaming\n    def predict(self) -> Iterator[str]:\n        yield \"chunk-1\"\n        time.sleep(2)\n        yield \"chunk-2\"\n" >"$T/sse/predict.py" &&
	(cd "$T/sse" && pinion build $MIRROR --output "oci:$T/out:sse" --progress quiet) \
		>/dev/null 2>"$T/sse.err" || { cat "$T/sse.err"; false; } &&
	serve_ready "oci:$T/out:sse" "$T/sse-serve" &&
	test_when_finished "kill $spid 2>/dev/null" &&
	curl -sN -X PUT -H "Content-Type: application/json" -H "Accept: text/event-stream" \
		-d "{\"id\":\"sse-e2e\",\"input\":{}}" "http://127.0.0.1:$port/predictions/sse-e2e" |
		while IFS= read -r line; do echo "$(date +%s%N) $line"; done >"$T/sse.events" &&
	cat "$T/sse.events" &&
	test_grep " event: start$" "$T/sse.events" &&
	test_grep " data: {\"chunk\":\"chunk-1\",\"index\":0}$" "$T/sse.events" &&
	test_grep " data: {\"chunk\":\"chunk-2\",\"index\":1}$" "$T/sse.events" &&
	test_grep "\"status\":\"succeeded\"" "$T/sse.events" &&
	t1=$(grep "chunk-1\",\"index" "$T/sse.events" | cut -d" " -f1) &&
	t2=$(grep "chunk-2\",\"index" "$T/sse.events" | cut -d" " -f1) &&
	echo "chunk-2 came $(( (t2 - t1) / 1000000 )) ms after chunk-1" &&
	test $(( (t2 - t1) / 1000000 )) -ge 1500 &&
	kill -TERM $spid && wait $spid
'

test_expect_success 'Cog python313 on a trixie base (python3 3.13 as python:3.13-slim): 5 gives 10' '
	rootfs=$(fixture_rootfs python313) &&
	py313=$("$PYTHON" "$TEST_ROOT/tests/tools/foreign_layers.py" "$rootfs" base) &&
	pinion copy "oci:$py313:library/python:3.11-slim" "$REGISTRY/library/python:3.13-slim" >/dev/null &&
	mkdir -p "$T/p313" &&
	printf "build:\n  gpu: false\n  python_version: \"3.13\"\npredict: \"predict.py:Predictor\"\n" >"$T/p313/cog.yaml" &&
	printf "from cog import BasePredictor\n\n\nclass Predictor(BasePredictor):\n    def predict(self, num: int) -> int:\n        return num * 2\n" >"$T/p313/predict.py" &&
	(cd "$T/p313" && pinion build $MIRROR --output "oci:$T/out:p313" --progress plain) \
		>/dev/null 2>"$T/p313.err" || { tail -n 30 "$T/p313.err"; false; } &&
	test_grep "python:3.13-slim" "$T/p313.err" &&
	pinion run "oci:$T/out:p313" -- python --version >"$T/p313.ver" 2>&1 &&
	test_grep "^Python 3\.13\." "$T/p313.ver" &&
	(cd "$T/p313" && pinion predict $MIRROR "oci:$T/out:p313" -i num=5) >"$T/p313.out" 2>"$T/p313-p.err" ||
		{ cat "$T/p313-p.err"; false; } &&
	test_equal "$(cat "$T/p313.out")" 10
'

test_expect_success 'Cog setup_subprocess_simple through a built image: a child of setup() keeps its stdout' '
	mkdir -p "$T/subproc" &&
	printf "build:\n  python_version: \"3.11\"\npredict: \"predict.py:Predictor\"\n" >"$T/subproc/cog.yaml" &&
	printf "%s\n" "#!/usr/bin/env bash" "set -eu" "pong() { for i in \$(seq 100); do echo \"child \$\$ PONG \$i\"; done; }" \
		"trap pong USR1" "for i in \$(seq 100); do echo \"child \$\$ setting up \$i\"; sleep 0.01; done" \
		"while true; do echo \"child \$\$ still here\"; sleep 0.2; done" >"$T/subproc/child.sh" &&
	printf "%s\n" "import signal" "import subprocess" "" "from cog import BasePredictor" "" "" \
		"class Predictor(BasePredictor):" "    def setup(self) -> None:" \
		"        self.child = subprocess.Popen([\"bash\", \"child.sh\"])" "" \
		"    def predict(self, s: str) -> str:" "        if self.child.poll() is not None:" \
		"            raise SystemExit(\"the child of setup() died\")" \
		"        self.child.send_signal(signal.SIGUSR1)" "        return \"hello \" + s" >"$T/subproc/predict.py" &&
	(cd "$T/subproc" && pinion build $MIRROR --output "oci:$T/out:subproc" --progress quiet) \
		>/dev/null 2>"$T/subproc.err" || { cat "$T/subproc.err"; false; } &&
	serve_ready "oci:$T/out:subproc" "$T/subproc-serve" &&
	test_when_finished "kill $spid 2>/dev/null" &&
	for n in 1 2 3; do
		curl -sf -X POST -H "Content-Type: application/json" -d "{\"input\":{\"s\":\"friendo$n\"}}" \
			"http://127.0.0.1:$port/predictions" >"$T/subproc.$n.json" &&
		test_equal "$(jq -r .output "$T/subproc.$n.json")" "hello friendo$n" || exit 1
		sleep 0.3
	done &&
	kill -TERM $spid && wait $spid
'

test_done
