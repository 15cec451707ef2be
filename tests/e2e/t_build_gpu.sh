#!/bin/bash
# t_build_gpu.sh - a GPU model pinning torch==2.1.0 (a small stand-in wheel in
# a local index): the build picks CUDA 12.1 / cuDNN 8; with a fixture published
# as r8.im/cog-base:cuda12.1-python3.11-torch2.1.0 it builds on that image, and
# with it absent the plan takes nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04
# (checked in the registry).  Both stand-ins are the Debian python fixture.
# A full build on the nvidia/cuda stand-in takes the plan's python step, which
# reuses the base's python3.11 with pip silently (no apt, no pyenv output) (Cog's pyenv install, the fallback,
# needs GitHub, which these machines cannot reach).
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
. "$TEST_ROOT/tests/tools/pip_index.sh"


CUDA=nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04
COGBASE=cog-base:cuda12.1-python3.11-torch2.1.0
model="$T/gpu"
mkdir -p "$model"
cp "$TEST_ROOT/examples/hello/predict.py" "$model/"
cat >"$model/cog.yaml" <<'EOF'
build:
  gpu: true
  python_version: "3.11"
  python_packages:
    - "torch==2.1.0"
predict: "predict.py:Predictor"
EOF

BASE_REPO=$CUDA base_registry_start 'setup: registry with an nvidia/cuda stand-in, index with torch 2.1.0' \
	'mkdir -p "$T/index/files" && wheel_make torch 2.1.0 "$T/index/files" >/dev/null'
pip_index_start "$T/index" && at_exit pip_index_stop
export PIP_RETRIES=0 PIP_DEFAULT_TIMEOUT=2

test_expect_success 'without a cog-base image: CUDA 12.1, cuDNN 8 on nvidia/cuda' '
	(cd "$model" && pinion build $MIRROR --dry-run --json) >"$T/plan1.json" 2>"$T/plan1.err" ||
		{ cat "$T/plan1.err"; false; } &&
	test_equal "$(jq -r .cuda "$T/plan1.json")" 12.1 &&
	test_equal "$(jq -r .cudnn "$T/plan1.json")" 8 &&
	test_equal "$(jq -r .base.image "$T/plan1.json")" "$CUDA" &&
	test_equal "$(jq -r .base.cog_base "$T/plan1.json")" false
'

test_expect_success 'without a cog-base image: the model builds on nvidia/cuda and predicts' '
	(cd "$model" && pinion build $MIRROR --output "oci:$T/out:cuda" --progress plain) >"$T/cuda.out" 2>"$T/cuda.err" ||
		{ tail -30 "$T/cuda.err"; false; } &&
	test_grep "python: done" "$T/cuda.err" &&
	! grep -q "^python | " "$T/cuda.err" &&
	skopeo inspect "oci:$T/out:cuda" >"$T/cuda.json" &&
	test_equal "$(jq -r ".Labels[\"org.opencontainers.image.base.name\"]" "$T/cuda.json")" "docker.io/$CUDA" &&
	test_equal "$(jq -r ".Labels[\"run.cog.cog-base-image-name\"]" "$T/cuda.json")" null &&
	jq -r ".Labels[\"run.cog.pip_freeze\"]" "$T/cuda.json" | grep -q "^torch==2.1.0$" &&
	pinion predict "oci:$T/out:cuda" -i name=gpu >"$T/cuda-pred.out" 2>"$T/cuda-pred.err" ||
		{ cat "$T/cuda-pred.err"; false; } &&
	test_grep "hello, gpu" "$T/cuda-pred.out"
'

test_expect_success 'with the cog-base image published: the plan takes it' '
	pinion copy "oci:$(cat "$T/base"):library/python:3.11-slim" "$REGISTRY/$COGBASE" >/dev/null &&
	(cd "$model" && pinion build $MIRROR --dry-run --json) >"$T/plan2.json" 2>"$T/plan2.err" ||
		{ cat "$T/plan2.err"; false; } &&
	test_equal "$(jq -r .base.image "$T/plan2.json")" "r8.im/$COGBASE" &&
	test_equal "$(jq -r .base.cog_base "$T/plan2.json")" true
'

test_expect_success '--use-cog-base-image=false goes back to nvidia/cuda' '
	(cd "$model" && pinion build $MIRROR --dry-run --json --use-cog-base-image=false) >"$T/plan3.json" &&
	test_equal "$(jq -r .base.image "$T/plan3.json")" "$CUDA"
'

test_expect_success 'the model builds on the cog-base image with the torch stand-in' '
	(cd "$model" && pinion build $MIRROR --output "oci:$T/out:gpu" --progress plain) >"$T/build.out" 2>"$T/build.err" ||
		{ tail -30 "$T/build.err"; false; } &&
	skopeo inspect "oci:$T/out:gpu" >"$T/inspect.json" &&
	test_equal "$(jq -r ".Labels[\"run.cog.cog-base-image-name\"]" "$T/inspect.json")" "r8.im/$COGBASE" &&
	jq -r ".Labels[\"run.cog.config\"]" "$T/inspect.json" >"$T/config.json" &&
	test_equal "$(jq -r .build.cuda "$T/config.json")" 12.1 &&
	test_equal "$(jq -r .build.cudnn "$T/config.json")" 8 &&
	jq -r ".Labels[\"run.cog.pip_freeze\"]" "$T/inspect.json" >"$T/freeze" &&
	test_grep "^torch==2.1.0$" "$T/freeze" &&
	skopeo inspect --raw "oci:$T/out:gpu" | jq -r ".layers[0].digest" >"$T/first" &&
	skopeo inspect --raw "oci:$(cat "$T/base"):library/python:3.11-slim" | jq -r ".layers[0].digest" >"$T/base-first" &&
	test_cmp "$T/base-first" "$T/first"
'

test_done
