#!/bin/bash
# t_config.sh - cog.yaml, the compatibility matrices, `pinion compat`,
# `pinion dockerfile`, `pinion build --dry-run`, and the compat/gen generator.
. "$(dirname "$0")/lib.sh"

test_grep_stdin() { cat >"$T/stdin" && test_grep "$1" "$T/stdin"; }
json_get() { "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$1"; }

mkdir -p "$T/model/deps" "$T/elsewhere"
cat >"$T/model/cog.yaml" <<'YAML'
build:
  python_version: "3.11"
  python_requirements: deps/requirements.txt
  system_packages: [ffmpeg]
  run:
    - command: cat /run/secrets/tok
      mounts: [{type: secret, id: tok}]
environment:
  - HF_HOME=/src/.cache
predict: "predict.py:Predictor"
YAML
printf 'torch==2.1.0\nnumpy==1.26.4\n' >"$T/model/deps/requirements.txt"

test_expect_success 'compat torch 2.1.0: builds and the GPU completion' '
	pinion compat torch 2.1.0 >"$T/out" &&
	test_grep "gpu: true completes to CUDA 12.1, cuDNN 8" "$T/out" &&
	test_grep "12.1   torch==2.1.0+cu121" "$T/out" &&
	test_grep "cpu    torch==2.1.0+cpu" "$T/out"
'

test_expect_success 'compat --json for torch, tensorflow and cuda' '
	pinion compat torch 2.1.0 --json >"$T/t.json" &&
	test_equal "$(json_get gpu_cuda <"$T/t.json")" 12.1 &&
	test_equal "$(json_get builds.0.cuda <"$T/t.json")" None &&
	pinion compat tensorflow 2.12.0 --json >"$T/tf.json" &&
	test_equal "$(json_get cuda <"$T/tf.json")/$(json_get cudnn <"$T/tf.json")" 11.8/8.6 &&
	test_equal "$(json_get cuda_image <"$T/tf.json")" 11.8.0-cudnn8-devel-ubuntu22.04 &&
	pinion compat cuda 12.1 --json >"$T/c.json" &&
	test_equal "$(json_get image <"$T/c.json")" 12.1.1-cudnn8-devel-ubuntu22.04
'

test_expect_success 'compat tensorflow and cuda for humans' '
	pinion compat tensorflow 2.12.0 >"$T/out" &&
	test_grep "^  CUDA 11.8, cuDNN 8.6$" "$T/out" &&
	test_grep "^  gpu: tensorflow==2.12.0$" "$T/out" &&
	test_grep "^  base image: nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04$" "$T/out" &&
	pinion compat cuda 12.1 >"$T/out" &&
	test_grep "^  base image: nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04$" "$T/out" &&
	pinion compat cuda >"$T/out" &&
	test_grep "^cuda versions: 11.0 .* 12.1 " "$T/out"
'

test_expect_success 'compat: unknown version exits 1, bad usage exits 2' '
	test_expect_failure_status 1 pinion compat torch 0.0.1 2>"$T/err" &&
	test_grep "torch 0.0.1 is not in the compatibility matrix" "$T/err" &&
	test_expect_failure_status 2 pinion compat pytorch 2>/dev/null &&
	test_expect_failure_status 2 pinion compat 2>/dev/null &&
	pinion compat --help | test_grep_stdin "usage: pinion compat" &&
	pinion dockerfile --help | test_grep_stdin "usage: pinion dockerfile" &&
	test_expect_failure_status 2 pinion dockerfile --use-cog-base-image=maybe 2>/dev/null
'

test_expect_success 'dockerfile -f: paths relative to the config file, Cog layer order' '
	(cd "$T/elsewhere" && pinion dockerfile -f ../model/cog.yaml) >"$T/Dockerfile" &&
	cat >"$T/expected" <<-\EOF &&
	#syntax=docker/dockerfile:1.4
	FROM python:3.11-slim
	ENV DEBIAN_FRONTEND=noninteractive
	ENV PYTHONUNBUFFERED=1
	ENV LD_LIBRARY_PATH=$LD_LIBRARY_PATH:/usr/lib/x86_64-linux-gnu:/usr/local/nvidia/lib64:/usr/local/nvidia/bin
	ENV NVIDIA_DRIVER_CAPABILITIES=all
	EOF
	head -6 "$T/Dockerfile" >"$T/head" && test_cmp "$T/expected" "$T/head" &&
	test_equal "$(grep -E "^[A-Z]+ " "$T/Dockerfile" | cut -d" " -f1 | tr "\n" " ")" \
		"FROM ENV ENV ENV ENV RUN ENTRYPOINT ENV RUN COPY RUN COPY RUN RUN WORKDIR EXPOSE ENV CMD COPY " &&
	test_grep "^RUN --mount=type=cache,target=/var/cache/apt,sharing=locked apt-get update -qq && apt-get install -qqy ffmpeg && rm -rf /var/lib/apt/lists/\*$" "$T/Dockerfile" &&
	test_grep "^COPY .cog/tmp/build/requirements.txt /tmp/requirements.txt$" "$T/Dockerfile" &&
	test_grep "^RUN --mount=type=secret,id=tok,target=/run/secrets/tok cat /run/secrets/tok$" "$T/Dockerfile" &&
	test_equal "$(tail -4 "$T/Dockerfile" | tr "\n" "|")" "EXPOSE 5000|ENV COG_PREDICT_TYPE_STUB=predict.py:Predictor|CMD [\"python\", \"-m\", \"cog.server.http\"]|COPY . /src|"
'

test_expect_success 'dockerfile: GPU torch picks nvidia/cuda and installs Python' '
	mkdir -p "$T/gpu" &&
	printf "build:\n  gpu: true\n  python_version: \"3.11\"\n  python_packages: [\"torch==2.1.0\"]\n" >"$T/gpu/cog.yaml" &&
	(cd "$T/gpu" && pinion dockerfile) >"$T/Dockerfile" &&
	test_grep "^FROM nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04$" "$T/Dockerfile" &&
	test_grep "pyenv install-latest \"3.11\"" "$T/Dockerfile" &&
	(cd "$T/gpu" && pinion dockerfile --use-cuda-base-image=false) >"$T/Dockerfile2" &&
	test_grep "^FROM python:3.11-slim$" "$T/Dockerfile2" &&
	(cd "$T/gpu" && pinion dockerfile --use-cog-base-image) >"$T/Dockerfile3" &&
	test_grep "^FROM r8.im/cog-base:cuda12.1-python3.11-torch2.1.0$" "$T/Dockerfile3" &&
	(cd "$T/gpu" && COG_REGISTRY_HOST=registry.local:5000 pinion dockerfile --use-cog-base-image) >"$T/Dockerfile4" &&
	test_grep "^FROM registry.local:5000/cog-base:cuda12.1-python3.11-torch2.1.0$" "$T/Dockerfile4"
'

test_expect_success 'invalid cog.yaml: every problem with file:line:col, exit 2' '
	mkdir -p "$T/bad" &&
	printf "build:\n  gpus: true\n  python_version: \"3.9\"\nenvironment: [PATH=/x]\n" >"$T/bad/cog.yaml" &&
	(cd "$T/bad" && test_expect_failure_status 2 pinion dockerfile 2>"$T/err") &&
	cat >"$T/expected" <<-\EOF &&
	pinion: 3 problems in `cog.yaml`:
	cog.yaml:2:3: build.gpus: unknown key (did you mean `gpu`?)
	cog.yaml:3:19: build.python_version: "3.9" is below the minimum 3.10
	cog.yaml:4:15: environment[0]: PATH is set by Cog and cannot be overridden
	EOF
	test_cmp "$T/expected" "$T/err"
'

test_expect_success 'warning for a CUDA the matrix does not list for torch' '
	mkdir -p "$T/warn" &&
	printf "build:\n  gpu: true\n  cuda: \"11.7\"\n  python_packages: [\"torch==2.1.0\"]\n" >"$T/warn/cog.yaml" &&
	(cd "$T/warn" && pinion dockerfile >/dev/null 2>"$T/err") &&
	test_grep "cog.yaml:3:9: build.cuda: CUDA 11.7 is not listed for torch 2.1.0 (listed: 11.8, 12.1); try cuda: \"12.1\"" "$T/err"
'

test_expect_success 'build --dry-run: the plan in text and JSON' '
	(cd "$T/model" && pinion build --dry-run --use-cog-base-image=false) >"$T/plan" 2>"$T/err" &&
	test_grep "^base image: python:3.11-slim$" "$T/plan" &&
	test_grep "RUN  apt: /bin/sh -c apt-get update -qq && apt-get install -qqy ffmpeg" "$T/plan" &&
	test_grep "secret id=tok target=/run/secrets/tok" "$T/plan" &&
	test_equal "$(grep -A2 "^requirements.txt:$" "$T/plan" | tr "\n" "|")" \
		"requirements.txt:|  --extra-index-url https://download.pytorch.org/whl/cpu/|  torch==2.1.0+cpu|" &&
	(cd "$T/elsewhere" && test_expect_failure_status 2 pinion build --dry-run -f ../bad/cog.yaml 2>"$T/err") &&
	test_grep "^\.\./bad/cog.yaml:3:19: build.python_version" "$T/err" &&
	(cd "$T/model" && pinion build --dry-run --json --use-cog-base-image=false) >"$T/plan.json" &&
	test_equal "$(json_get base.image <"$T/plan.json")" python:3.11-slim &&
	test_equal "$(json_get steps.1.copy.dest <"$T/plan.json")" /sbin/tini &&
	"$PYTHON" -c "import json,sys; l=json.load(sys.stdin)[\"config\"][\"labels\"]; assert l[\"run.cog.has_init\"] == \"true\"; assert json.loads(l[\"run.cog.config\"])[\"build\"][\"python_version\"] == \"3.11\"" <"$T/plan.json"
'

test_expect_success 'wheel: writes the embedded wheel; COG_WHEEL resolves a path, refuses coglet' '
	mkdir -p "$T/whl" &&
	pinion wheel -o "$T/whl" >"$T/out" &&
	w=$(cat "$T/out") &&
	case "$w" in "$T/whl"/cog-*+pinion.*-py3-none-any.whl) ;; *) echo "bad path $w"; false ;; esac &&
	cmp "$w" "$PINION_BUILD/sdk/cog.whl" &&
	"$PYTHON" -c "import sys,zipfile; n=zipfile.ZipFile(sys.argv[1]).namelist(); assert \"cog/server/http.py\" in n, n" "$w" &&
	COG_WHEEL="$w" pinion wheel --resolve >"$T/out" &&
	test_equal "$(cut -f1,2 "$T/out")" "$(basename "$w")	sha256:$(sha256sum "$w" | cut -d" " -f1)" &&
	test_expect_failure_status 2 env COG_WHEEL=coglet "$PINION" wheel --resolve 2>"$T/err" &&
	test_grep "no coglet wheel is embedded" "$T/err" &&
	test_grep "COG_WHEEL=" "$T/err" &&
	test_expect_failure_status 2 pinion wheel --bogus 2>/dev/null
'

test_expect_success 'compat/gen: generator tests on saved samples, data is its output' '
	"$PYTHON" "$TEST_ROOT/compat/gen/test_compatgen.py" 2>&1 | tail -3 >"$T/gen" &&
	test_grep "^OK" "$T/gen"
'

test_done
