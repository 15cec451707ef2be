#!/bin/bash
# t_base_image.sh - cog-base images (pinion base-image list|dockerfile|build).
# The list equals Cog's generate-matrix restated in Python
# (tests/tools/cog_base_matrix.py) over the matrix pinion embeds and over Cog's
# own torch_compatibility.json.  A cog-base image is built on the nvidia/cuda
# stand-in (the Debian python fixture, as in t_build_gpu.sh) with stand-in
# torch/torchvision/torchaudio/opencv-python wheels from the local index and
# two small apt packages instead of Cog's heavy common set, pushed to the
# test registry as cog-base:cuda12.1-python3.11-torch2.1.0 and read back with
# skopeo and umoci; a `gpu: true, torch==2.1.0` model then takes it as its base
# (--cog-base-registry, COG_REGISTRY_HOST), builds without a Python step and
# predicts.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
. "$TEST_ROOT/tests/tools/pip_index.sh"

CUDA=nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04
TAG=cuda12.1-python3.11-torch2.1.0
REF_JSON="$TEST_ROOT/../shared/reference/cog/torch_compatibility.json"
# Cog 0.16-0.22 pkg/dockerfile/base.go baseImageSystemPackages
COG_PACKAGES="build-essential cmake curl ffmpeg findutils g++ gcc git libavcodec-dev libcairo2-dev libfontconfig1 libgirepository1.0-dev libgl1 libglx-mesa0 libglib2.0-0 libopencv-dev libsm6 libsndfile1 libssl-dev libunistring-dev libxext6 libxrender1 sox unzip wget zip zstd"

test_expect_success 'list --json is the set Cog derives from the embedded matrix' '
	pinion base-image list --json >"$T/list.json" &&
	jq -c --sort-keys ".[]" "$T/list.json" | sort >"$T/got" &&
	"$PYTHON" "$TEST_ROOT/tests/tools/cog_base_matrix.py" "$TEST_ROOT/compat/data/torch.tsv" >"$T/want" &&
	test_cmp "$T/want" "$T/got" &&
	echo "# $(wc -l <"$T/got") combinations"
'

test_expect_success 'list --json is the set Cog derives from its own torch_compatibility.json' '
	if [ ! -f "$REF_JSON" ]; then echo "# no $REF_JSON: skipped"; exit 0; fi &&
	"$PYTHON" "$TEST_ROOT/tests/tools/cog_base_matrix.py" "$REF_JSON" >"$T/want-ref" &&
	test_cmp "$T/want-ref" "$T/got"
'

test_expect_success 'list: text names each image as Cog does; filters' '
	pinion base-image list >"$T/list.txt" &&
	test_equal "$(wc -l <"$T/list.txt")" "$(jq length "$T/list.json")" &&
	test_grep "^cog-base:$TAG  *cuda 12.1  *python 3.11  *torch 2.1.0+cu121$" "$T/list.txt" &&
	test_grep "^cog-base:python3.11-torch2.1.0  *cuda -  *python 3.11  *torch 2.1.0+cpu$" "$T/list.txt" &&
	test_grep "^cog-base:python3.11  " "$T/list.txt" &&
	pinion base-image list --json --cuda 12.1 --python 3.11 --torch 2.1.0 >"$T/one.json" &&
	test_equal "$(jq -r "map(.image_tag) | join(\" \")" "$T/one.json")" "$TAG" &&
	pinion base-image list --json --python 3.12 >"$T/py.json" &&
	test_equal "$(jq "map(select(.python_version != \"3.12\")) | length" "$T/py.json")" 0 &&
	test_equal "$(jq "map(select(.cuda_version == \"\" and .torch_version == \"\")) | length" "$T/py.json")" 1
'

test_expect_success 'dockerfile: Cog base image Dockerfile, without the model part' '
	pinion base-image dockerfile --cuda 12.1 --python 3.11 --torch 2.1.0 >"$T/Dockerfile" &&
	test_grep "^FROM $CUDA$" "$T/Dockerfile" &&
	test_grep "apt-get install -qqy $COG_PACKAGES && rm" "$T/Dockerfile" &&
	test_grep "pyenv install-latest \"3.11\"" "$T/Dockerfile" &&
	test_grep "pip install -r /tmp/requirements.txt" "$T/Dockerfile" &&
	! grep -q "^CMD\|^WORKDIR\|COPY \. /src\|\.whl" "$T/Dockerfile" &&
	pinion base-image dockerfile --python 3.11 >"$T/Dockerfile.cpu" &&
	test_grep "^FROM python:3.11-slim$" "$T/Dockerfile.cpu" &&
	! grep -q "pyenv\|requirements" "$T/Dockerfile.cpu"
'

test_expect_success 'a combination the matrix does not make: status 2, Cog message' '
	test_expect_failure_status 2 pinion base-image dockerfile --cuda 11.0 --python 3.11 2>"$T/bad.err" &&
	test_grep "unsupported base image configuration: CUDA: 11.0 / Python: 3.11 / Torch: (none)" "$T/bad.err" &&
	test_expect_failure_status 2 pinion base-image build --python 3.9 --dry-run 2>/dev/null &&
	test_expect_failure_status 2 pinion base-image frob 2>/dev/null &&
	test_expect_failure_status 2 pinion build --cog-base-registry https://x.example --dry-run 2>/dev/null
'

# started here, not in a case: cases run in a subshell and would lose its cleanup
registry_start plain >"$T/registry.log" 2>&1 || echo "# registry did not start: $(cat "$T/registry.log")"
test_expect_success 'setup: registry with the nvidia/cuda stand-in, index with the torch stand-ins' '
	base=$(fixture_base_layout) &&
	pinion copy "oci:$base:library/python:3.11-slim" "$REGISTRY/$CUDA" >/dev/null &&
	pinion copy "oci:$base:library/python:3.11-slim" "$REGISTRY/library/python:3.11-slim" >/dev/null &&
	echo "$REGISTRY" >"$T/registry" &&
	mkdir -p "$T/index/files" &&
	wheel_make torch 2.1.0 "$T/index/files" >/dev/null &&
	wheel_make torchvision 0.16.0 "$T/index/files" >/dev/null &&
	wheel_make torchaudio 2.1.0 "$T/index/files" >/dev/null &&
	wheel_make opencv-python 4.12.0.88 "$T/index/files" >/dev/null
'
REGISTRY=$(cat "$T/registry" 2>/dev/null || echo 127.0.0.1:1)
MIRROR="--registry-mirror docker.io=$REGISTRY"
BUILD="--cuda 12.1 --python 3.11 --torch 2.1.0 --system-packages zip,zstd --cog-base-registry $REGISTRY"
pip_index_start "$T/index" && at_exit pip_index_stop
export PIP_RETRIES=0 PIP_DEFAULT_TIMEOUT=2

test_expect_success 'build --dry-run: on nvidia/cuda, the steps of a model without the model' '
	pinion base-image build $BUILD $MIRROR --dry-run --json >"$T/plan.json" &&
	test_equal "$(jq -r .base.image "$T/plan.json")" "$CUDA" &&
	test_equal "$(jq -r "[.steps[].id] | join(\" \")" "$T/plan.json")" "base-env tini apt python-env python pip" &&
	test_equal "$(jq -r ".config.labels[\"run.cog.base-image.torch\"]" "$T/plan.json")" 2.1.0 &&
	jq -r .requirements "$T/plan.json" >"$T/reqs" &&
	test_grep "^--extra-index-url https://download.pytorch.org/whl/cu121/$" "$T/reqs" &&
	test_grep "^torchvision==0.16.0$" "$T/reqs"
'

test_expect_success 'build --push: built in the sandbox, pushed as cog-base:TAG' '
	start=$(date +%s.%N) &&
	pinion base-image build $BUILD $MIRROR --push --progress plain >"$T/build.out" 2>"$T/build.err" ||
		{ tail -30 "$T/build.err"; false; } &&
	end=$(date +%s.%N) &&
	echo "# base-image build on the stand-in: $(awk "BEGIN { printf \"%.1f\", $end - $start }")s" &&
	test_grep "^$REGISTRY/cog-base:$TAG@sha256:" "$T/build.out" &&
	test_grep "python: done" "$T/build.err" &&
	grep "done\|built in" "$T/build.err" | sed "s/^/# /"
'

test_expect_success 'the image holds Python, the packages and the labels (skopeo, umoci)' '
	skopeo inspect --tls-verify=false "docker://$REGISTRY/cog-base:$TAG" >"$T/inspect.json" &&
	test_equal "$(jq -r ".Labels[\"run.cog.base-image.python\"]" "$T/inspect.json")" 3.11 &&
	test_equal "$(jq -r ".Labels[\"run.cog.base-image.cuda\"]" "$T/inspect.json")" 12.1 &&
	test_equal "$(jq -r ".Labels[\"run.cog.base-image.torchvision\"]" "$T/inspect.json")" 0.16.0 &&
	test_equal "$(jq -r ".Labels[\"run.cog.base-image.system-packages\"]" "$T/inspect.json")" "zip zstd" &&
	test_equal "$(jq -r ".Labels[\"run.cog.config\"]" "$T/inspect.json")" null &&
	jq -r ".Labels[\"run.cog.pip_freeze\"]" "$T/inspect.json" >"$T/freeze" &&
	for p in torch==2.1.0 torchvision==0.16.0 torchaudio==2.1.0 opencv-python==4.12.0.88; do
		test_grep "^$p$" "$T/freeze" || exit 1
	done &&
	skopeo copy --quiet --src-tls-verify=false "docker://$REGISTRY/cog-base:$TAG" "oci:$T/copy:base" &&
	umoci unpack --rootless --image "$T/copy:base" "$T/bundle" >/dev/null &&
	test -x "$T/bundle/rootfs/sbin/tini" &&
	test -x "$T/bundle/rootfs/usr/bin/zstd" &&
	test_equal "$(readlink "$T/bundle/rootfs/usr/local/bin/python")" /usr/bin/python3.11 &&
	ls -d "$T"/bundle/rootfs/usr/local/lib/python3.11/*-packages/torch-2.1.0.dist-info &&
	pinion run "oci:$T/copy:base" -- python -c "import torch, torchvision, torchaudio, opencv_python; print(torch.__version__, torchvision.__version__)" >"$T/run.out" 2>"$T/run.err" ||
		{ cat "$T/run.err"; false; } &&
	test_equal "$(cat "$T/run.out")" "2.1.0 0.16.0"
'

test_expect_success 'a second build takes every layer from the cache, same image' '
	pinion base-image build $BUILD $MIRROR --push --progress plain >"$T/build2.out" 2>"$T/build2.err" ||
		{ tail -30 "$T/build2.err"; false; } &&
	test_grep "(\([0-9]*\) of \1 layer steps cached)" "$T/build2.err" &&
	grep "built in" "$T/build2.err" | sed "s/^/# /" &&
	test_cmp "$T/build.out" "$T/build2.out"
'

test_expect_success 'without CUDA: on python slim, into the layout here under its r8.im name' '
	mkdir -p "$T/cpu" &&
	(cd "$T/cpu" && env -u COG_REGISTRY_HOST pinion base-image build --python 3.11 --system-packages "" $MIRROR --dry-run) >"$T/cpu.plan" &&
	test_grep "^base image: python:3.11-slim$" "$T/cpu.plan" &&
	test_grep "cog-base image without CUDA" "$T/cpu.plan" &&
	(cd "$T/cpu" && env -u COG_REGISTRY_HOST pinion base-image build --python 3.11 --system-packages "" $MIRROR) >"$T/cpu.out" 2>"$T/cpu.err" ||
		{ tail -20 "$T/cpu.err"; false; } &&
	test_grep "^oci:.pinion/layout:r8.im/cog-base:python3.11 sha256:" "$T/cpu.out" &&
	skopeo inspect "oci:$T/cpu/.pinion/layout:r8.im/cog-base:python3.11" >"$T/cpu.json" &&
	test_equal "$(jq -r ".Labels[\"run.cog.base-image.python\"]" "$T/cpu.json")" 3.11 &&
	test_equal "$(jq -r ".Labels[\"run.cog.base-image.cuda\"]" "$T/cpu.json")" null &&
	test_equal "$(jq -r ".Labels[\"org.opencontainers.image.base.name\"]" "$T/cpu.json")" docker.io/library/python:3.11-slim &&
	test_equal "$(jq -c .Layers "$T/cpu.json" | jq length)" 2 &&
	(cd "$T/cpu" && pinion base-image build --python 3.11 --system-packages "" $MIRROR -t example.org/ml/cog-base:py311 --output "oci:$T/named" --progress plain) >"$T/named.out" 2>"$T/named.err" ||
		{ tail -20 "$T/named.err"; false; } &&
	test_grep "^oci:$T/named:example.org/ml/cog-base:py311 sha256:" "$T/named.out" &&
	test_grep "(1 of 1 layer steps cached)" "$T/named.err"
'

# the model of t_build_gpu.sh
model="$T/gpu"
mkdir -p "$model" && cp "$TEST_ROOT/examples/hello/predict.py" "$model/"
printf 'build:\n  gpu: true\n  python_version: "3.11"\n  python_packages: ["torch==2.1.0"]\npredict: "predict.py:Predictor"\n' >"$model/cog.yaml"

test_expect_success 'a torch==2.1.0 GPU model: --dry-run takes the cog-base of --cog-base-registry' '
	(cd "$model" && pinion build $MIRROR --cog-base-registry "$REGISTRY" --dry-run --json) >"$T/m1.json" 2>"$T/m1.err" ||
		{ cat "$T/m1.err"; false; } &&
	test_equal "$(jq -r .base.image "$T/m1.json")" "$REGISTRY/cog-base:$TAG" &&
	test_equal "$(jq -r .base.cog_base "$T/m1.json")" true &&
	test_equal "$(jq -r .base.reason "$T/m1.json")" "cog-base image found in the registry" &&
	test_equal "$(jq "[.steps[] | select(.id == \"python\" or .id == \"tini\")] | length" "$T/m1.json")" 0 &&
	(cd "$model" && COG_REGISTRY_HOST=$REGISTRY pinion build $MIRROR --dry-run) >"$T/m2.txt" &&
	test_grep "^base image: $REGISTRY/cog-base:$TAG$" "$T/m2.txt" &&
	(cd "$model" && COG_REGISTRY_HOST=127.0.0.1:1 pinion build $MIRROR --cog-base-registry "$REGISTRY" --dry-run) >"$T/m3.txt" &&
	test_grep "^base image: $REGISTRY/cog-base:$TAG$" "$T/m3.txt" &&
	(cd "$model" && pinion dockerfile --use-cog-base-image --cog-base-registry reg.example:5000/org) >"$T/m.Dockerfile" &&
	test_grep "^FROM reg.example:5000/org/cog-base:$TAG$" "$T/m.Dockerfile"
'

test_expect_success '--dry-run says why no cog-base was taken' '
	mkdir -p "$T/py310" && cp "$model/predict.py" "$T/py310/" &&
	sed "s/\"3.11\"/\"3.10\"/" "$model/cog.yaml" >"$T/py310/cog.yaml" &&
	(cd "$T/py310" && pinion build $MIRROR --cog-base-registry "$REGISTRY" --dry-run) >"$T/why.txt" 2>&1 &&
	test_grep "^base image: $CUDA$" "$T/why.txt" &&
	test_grep "GPU, no cog-base image \`$REGISTRY/cog-base:cuda12.1-python3.10-torch2.1.0\` in the registry" "$T/why.txt"
'

test_expect_success 'the model builds on the pinion-built cog-base, without a Python step, and predicts' '
	(cd "$model" && pinion build $MIRROR --cog-base-registry "$REGISTRY" --output "oci:$T/out:gpu" --progress plain) >"$T/m.out" 2>"$T/m.err" ||
		{ tail -30 "$T/m.err"; false; } &&
	! grep -q "python: " "$T/m.err" &&
	skopeo inspect "oci:$T/out:gpu" >"$T/m.json" &&
	test_equal "$(jq -r ".Labels[\"run.cog.cog-base-image-name\"]" "$T/m.json")" "$REGISTRY/cog-base:$TAG" &&
	test_equal "$(jq -r ".Labels[\"org.opencontainers.image.base.name\"]" "$T/m.json")" "$REGISTRY/cog-base:$TAG" &&
	skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/cog-base:$TAG" | jq -r ".layers[].digest" >"$T/base-layers" &&
	skopeo inspect --raw "oci:$T/out:gpu" | jq -r ".layers[].digest" | head -n "$(wc -l <"$T/base-layers")" >"$T/model-first" &&
	test_cmp "$T/base-layers" "$T/model-first" &&
	pinion predict "oci:$T/out:gpu" -i name=cogbase >"$T/pred.out" 2>"$T/pred.err" ||
		{ cat "$T/pred.err"; false; } &&
	test_grep "hello, cogbase" "$T/pred.out"
'

test_done
