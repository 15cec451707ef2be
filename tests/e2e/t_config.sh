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

# --- the model directory is hostile input: cog.yaml and the files it names
mkdir -p "$T/host" "$T/hm/sub"
CANARY=CANARY-3f9a1c-host-only
printf 'numpy==1.26.4\n%s\n' "$CANARY" >"$T/host/secret.txt"
printf 'requests==2.31.0\n' >"$T/hm/sub/req.txt"
ln -s ../host/secret.txt "$T/hm/out-link"
ln -s ../host "$T/hm/out-dir"
ln -s "$T/host/secret.txt" "$T/hm/out-abs"
ln -s sub/req.txt "$T/hm/in-link"
# hm_refused KEY VALUE: each of build, build --dry-run and dockerfile exits 2,
# names KEY and prints nothing of the target (the canary line)
hm_refused() {
	local key=$1 value=$2 cmd
	case $key in
	python_requirements) printf 'build:\n  python_requirements: "%s"\n' "$value" ;;
	*) printf '%s: "%s"\n' "$key" "$value" ;;
	esac >"$T/hm/cog.yaml"
	for cmd in "build --use-cog-base-image=false" "build --dry-run --use-cog-base-image=false" dockerfile; do
		(cd "$T/hm" && test_expect_failure_status 2 pinion $cmd >"$T/hm.out" 2>"$T/hm.err") || return 1
		if grep -q "$CANARY" "$T/hm.out" "$T/hm.err"; then
			echo "pinion $cmd printed the target of $key: $value"; return 1
		fi
		test_grep "$key: .* is outside the model directory" "$T/hm.err" || return 1
	done
}

test_expect_success 'cog.yaml-named files outside the model directory: exit 2, nothing of them printed' '
	hm_refused python_requirements ../host/secret.txt &&
	hm_refused python_requirements ../../../../../../../../../..$T/host/secret.txt &&
	hm_refused python_requirements "$T/host/secret.txt" &&
	hm_refused python_requirements out-link &&
	hm_refused python_requirements out-dir/secret.txt &&
	hm_refused python_requirements out-abs &&
	hm_refused python_requirements sub/../../host/secret.txt &&
	hm_refused predict ../host/p.py:Predictor &&
	hm_refused train /etc/t.py:T &&
	PINION_NO_OPENAT2=1 hm_refused python_requirements out-link
'

test_expect_success 'cog.yaml symlinked out of the model directory: refused, its keys not quoted' '
	mkdir -p "$T/lm" &&
	printf "%s: 1\n" "$CANARY" >"$T/host/keys.yaml" &&
	ln -s ../host/keys.yaml "$T/lm/cog.yaml" &&
	for cmd in "build --use-cog-base-image=false" "build --dry-run" dockerfile; do
		(cd "$T/lm" && test_expect_failure_status 2 pinion $cmd >"$T/lm.out" 2>"$T/lm.err") &&
		! grep -q "$CANARY" "$T/lm.out" "$T/lm.err" &&
		test_grep "^pinion: cog.yaml: a symlink leading outside the model directory" "$T/lm.err" ||
		exit 1
	done &&
	(cd "$T/elsewhere" && test_expect_failure_status 2 pinion dockerfile -f ../lm/cog.yaml 2>"$T/lm.err") &&
	test_grep "^pinion: ../lm/cog.yaml: a symlink leading outside the model directory \`../lm\`" "$T/lm.err"
'

test_expect_success 'the finding: ../../../../etc/shadow is refused, its lines not quoted' '
	printf "build:\n  python_requirements: ../../../../../../../../etc/shadow\n" >"$T/hm/cog.yaml" &&
	(cd "$T/hm" && test_expect_failure_status 2 pinion build --dry-run >"$T/hm.out" 2>"$T/hm.err") &&
	test_grep "cog.yaml:2:24: build.python_requirements: \`../../../../../../../../etc/shadow\` is outside the model directory" "$T/hm.err" &&
	! grep -q "^root:\|^  root:" "$T/hm.out" "$T/hm.err"
'

test_expect_success 'a symlink that stays inside the model directory is followed' '
	printf "build:\n  python_requirements: in-link\npredict: \"predict.py:Predictor\"\n" >"$T/hm/cog.yaml" &&
	(cd "$T/hm" && pinion build --dry-run --use-cog-base-image=false) >"$T/plan" &&
	test_grep "^  requests==2.31.0$" "$T/plan"
'

test_expect_success 'secret mount targets with .. or empty components: file:line:col, exit 2' '
	printf "build:\n  run:\n    - command: cat /run/x\n      mounts: [{type: secret, id: t, target: /run/../../etc/passwd}]\n" >"$T/hm/cog.yaml" &&
	(cd "$T/hm" && test_expect_failure_status 2 pinion dockerfile 2>"$T/err") &&
	test_grep "^pinion: cog.yaml:4:46: build.run\[0\].mounts\[0\].target: \"/run/../../etc/passwd\" is not a plain path" "$T/err" &&
	sed -i "s|/run/../../etc/passwd|/run//x|" "$T/hm/cog.yaml" &&
	(cd "$T/hm" && test_expect_failure_status 2 pinion build --dry-run 2>"$T/err") &&
	test_grep "\"/run//x\" is not a plain path" "$T/err"
'

test_expect_success 'a 1 MiB nested cog.yaml is refused in under a second (bound: 5 s)' '
	mkdir -p "$T/deep" &&
	"$PYTHON" -c "import sys; n=(1<<20)//2-4; sys.stdout.write(\"a: \"+\"[\"*n+\"]\"*n)" >"$T/deep/cog.yaml" &&
	test "$(wc -c <"$T/deep/cog.yaml")" -le 1048576 &&
	t0=$(date +%s%N) &&
	(cd "$T/deep" && test_expect_failure_status 2 pinion build --dry-run 2>"$T/err") &&
	t1=$(date +%s%N) &&
	echo "refused in $(( (t1 - t0) / 1000000 )) ms" &&
	test_grep "cog.yaml:1:67: nested deeper than 64 levels" "$T/err" &&
	test $(( (t1 - t0) / 1000000 )) -lt 5000
'

test_expect_success 'cog.yaml over 1 MiB, a billion laughs: bad input (exit 2), quickly' '
	mkdir -p "$T/huge" "$T/laughs" &&
	"$PYTHON" -c "import sys; sys.stdout.write(\"#\"*(1<<20)+\"\n\")" >"$T/huge/cog.yaml" &&
	(cd "$T/huge" && test_expect_failure_status 2 pinion dockerfile 2>"$T/err") &&
	test_grep "cog.yaml: larger than 1048576 bytes" "$T/err" &&
	"$PYTHON" -c "
l=[\"a: &a [\" + \",\".join([\"x\"]*10) + \"]\"]
for i in range(1,10): l.append(\"%s: &%s [%s]\" % (chr(97+i), chr(97+i), \",\".join([\"*\"+chr(96+i)]*10)))
print(chr(10).join(l))" >"$T/laughs/cog.yaml" &&
	t0=$(date +%s%N) &&
	(cd "$T/laughs" && test_expect_failure_status 2 pinion dockerfile 2>"$T/err") &&
	echo "billion laughs refused in $(( ($(date +%s%N) - t0) / 1000000 )) ms" &&
	test_grep "more than 100000 values (aliases counted expanded)" "$T/err"
'

test_expect_success 'a second document, a doubled BOM, a NUL byte: refused with line:col, not half-read' '
	mkdir -p "$T/enc" &&
	printf "build: {gpu: false}\n---\nbuild: {gpu: true}\n" >"$T/enc/cog.yaml" &&
	(cd "$T/enc" && test_expect_failure_status 2 pinion dockerfile 2>"$T/err") &&
	test_grep "^pinion: cog.yaml:2:1: a second YAML document; cog.yaml must be a single document$" "$T/err" &&
	printf "build:\n  python_version: \"3.11\"\npredict: \"predict.py:Predictor\"\n" >"$T/enc/utf8.yaml" &&
	{ printf "\377\376\377\376"; iconv -f UTF-8 -t UTF-16LE "$T/enc/utf8.yaml"; } >"$T/enc/cog.yaml" &&
	(cd "$T/enc" && test_expect_failure_status 2 pinion build --dry-run 2>"$T/err") &&
	test_grep "^pinion: cog.yaml:1:1: a byte order mark (U+FEFF) past the start of the file$" "$T/err" &&
	printf "build:\n  gpu: fa\000lse\n" >"$T/enc/cog.yaml" &&
	(cd "$T/enc" && test_expect_failure_status 2 pinion dockerfile 2>"$T/err") &&
	test_grep "^pinion: cog.yaml:2:10: a NUL byte$" "$T/err"
'

test_expect_success 'UTF-16 with one BOM is read whole: the same Dockerfile as UTF-8' '
	mkdir -p "$T/u16" "$T/u8" &&
	printf "build:\n  python_version: \"3.11\"\n  system_packages: [ffmpeg]\npredict: \"predict.py:Predictor\"\n" >"$T/u8/cog.yaml" &&
	iconv -f UTF-8 -t UTF-16 "$T/u8/cog.yaml" >"$T/u16/cog.yaml" &&
	test "$(head -c2 "$T/u16/cog.yaml" | od -An -tx1 | tr -d " ")" = fffe &&
	(cd "$T/u8" && pinion dockerfile) >"$T/u8.df" &&
	(cd "$T/u16" && pinion dockerfile) >"$T/u16.df" &&
	test_cmp "$T/u8.df" "$T/u16.df" &&
	test_grep "ffmpeg" "$T/u16.df" &&
	test_grep "COG_PREDICT_TYPE_STUB\|predict.py:Predictor" "$T/u16.df"
'

test_expect_success 'options: each command takes only the registry options it uses' '
	test_expect_failure_status 2 pinion login --chunk-size 1M -u u -p p 127.0.0.1:1 2>"$T/o1" &&
	test_grep "pinion login: unknown option \`--chunk-size\`" "$T/o1" &&
	test_expect_failure_status 2 pinion pull --chunk-size 1M r oci:$T/nolayout 2>"$T/o2" &&
	test_grep "unknown option \`--chunk-size\`" "$T/o2" &&
	test_expect_failure_status 2 pinion inspect --parallel 2 oci:$T/nolayout 2>"$T/o3" &&
	test_grep "unknown option \`--parallel\`" "$T/o3" &&
	test_expect_failure_status 2 pinion logout --ca-bundle x 127.0.0.1:1 2>"$T/o4" &&
	test_grep "unknown option \`--ca-bundle\`" "$T/o4" &&
	pinion login --help >"$T/h1" && test_grep "--insecure-registry HOST" "$T/h1" &&
	! grep -q -- "--chunk-size" "$T/h1" &&
	pinion pull --help >"$T/h2" && test_grep "--parallel N" "$T/h2" &&
	! grep -q -- "--chunk-size" "$T/h2" &&
	pinion push --help | test_grep_stdin "--chunk-size BYTES" &&
	pinion copy --help | test_grep_stdin "--chunk-size BYTES"
'

test_expect_success 'options: --name VALUE and --name=VALUE, missing values and flags with values' '
	pinion compat torch --json >"$T/j1" && pinion compat --json torch >"$T/j2" &&
	test_cmp "$T/j1" "$T/j2" &&
	test_expect_failure_status 2 pinion gc --cache-dir 2>"$T/o5" &&
	test_grep "option \`--cache-dir\` needs a value" "$T/o5" &&
	test_expect_failure_status 2 pinion ls --json=yes oci:$T/nolayout 2>"$T/o6" &&
	test_grep "takes no value" "$T/o6" &&
	test_expect_failure_status 2 pinion version extra 2>"$T/o7" &&
	test_grep "unexpected argument \`extra\`" "$T/o7" &&
	(cd "$T/model" && pinion dockerfile --file=cog.yaml >"$T/df1" && pinion dockerfile -f cog.yaml >"$T/df2") &&
	test_cmp "$T/df1" "$T/df2"
'

test_done
