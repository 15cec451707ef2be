#!/bin/bash
# t_env.sh - the environment of RUN steps: cog.yaml `environment` >
# --build-env NAME[=VALUE] > the host's pass-through (proxies, pip settings),
# --no-host-env, what --dry-run shows, and that nothing of the host's reaches
# the image config, the labels or the cache key.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
. "$TEST_ROOT/tests/tools/pip_index.sh"

base_registry_start 'setup: registry, base image, local index' \
	'mkdir -p "$T/index/files" && wheel_make pinion-demo-greeting 1.0.0 "$T/index/files" >/dev/null'
pip_index_start "$T/index" && at_exit pip_index_stop
LOCAL_INDEX=$PIP_INDEX_URL
unset PIP_INDEX_URL PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_NO_INDEX PIP_CERT PIP_TRUSTED_HOST PIP_TIMEOUT \
	PIP_DEFAULT_TIMEOUT
unset http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY
export PIP_RETRIES=0

# model 1: a package from the index cog.yaml names
mkdir -p "$T/pip" && cp "$TEST_ROOT/examples/hello/predict.py" "$T/pip/" &&
	cat >"$T/pip/cog.yaml" <<EOY
build:
  python_version: "3.11"
  python_packages:
    - "pinion-demo-greeting==1.0.0"
environment:
  - PIP_INDEX_URL=$LOCAL_INDEX
  - PIP_FIND_LINKS=${LOCAL_INDEX}pinion-demo-greeting/
predict: "predict.py:Predictor"
EOY

# model 2: a run step that writes down the environment it sees
mkdir -p "$T/env" && cp "$TEST_ROOT/examples/hello/predict.py" "$T/env/" &&
	cat >"$T/env/cog.yaml" <<'EOY'
build:
  python_version: "3.11"
  run:
    - "env | sort > /etc/pinion-env"
environment:
  - GREETING_STYLE=friendly
predict: "predict.py:Predictor"
EOY

# build model 2 with ARGS into tag TAG; its RUN step's env in $T/env-TAG
env_build() { # TAG ARGS...
	local tag=$1; shift
	(cd "$T/env" && pinion build $MIRROR --output "oci:$T/out:$tag" --progress plain "$@") \
		>"$T/$tag.out" 2>"$T/$tag.err" || { tail -n 30 "$T/$tag.err"; return 1; }
	rm -rf "$T/root-$tag" && pinion unpack "oci:$T/out:$tag" "$T/root-$tag" >/dev/null 2>&1 &&
		cp "$T/root-$tag/etc/pinion-env" "$T/env-$tag"
}

test_expect_success "the host's PIP_INDEX_URL / PIP_FIND_LINKS do not override the model's" '
	(cd "$T/pip" && PIP_INDEX_URL=file:///nonexistent/simple PIP_FIND_LINKS=/nonexistent/wheels \
		pinion build $MIRROR --output "oci:$T/out:pip" --progress plain) >"$T/pip.out" 2>"$T/pip.err" ||
		{ tail -n 30 "$T/pip.err"; false; } &&
	skopeo inspect "oci:$T/out:pip" | jq -r ".Labels[\"run.cog.pip_freeze\"]" >"$T/freeze" &&
	test_grep "^pinion-demo-greeting==1.0.0$" "$T/freeze"
'

test_expect_success 'dry-run shows the host part, its sources, what cog.yaml shadows; secrets masked' '
	(cd "$T/env" && no_proxy=host-np PIP_INDEX_URL=http://u:hunter2@idx.invalid/simple/ FOO_HOST=fromhost \
		MY_TOKEN=tok-value pinion build --dry-run --build-env FOO_HOST --build-env BAR=explicit \
		--build-env GREETING_STYLE=cli --build-env MY_TOKEN) >"$T/dry.txt" &&
	test_grep "^  no_proxy=host-np (host)$" "$T/dry.txt" &&
	test_grep "^  PIP_INDEX_URL=http://u:\*\*\*@idx.invalid/simple/ (host)$" "$T/dry.txt" &&
	test_grep "^  FOO_HOST=fromhost (--build-env, host value)$" "$T/dry.txt" &&
	test_grep "^  BAR=explicit (--build-env)$" "$T/dry.txt" &&
	test_grep "^  GREETING_STYLE=cli (--build-env; not used: cog.yaml environment sets it)$" "$T/dry.txt" &&
	test_grep "^  MY_TOKEN=\*\*\* " "$T/dry.txt" &&
	! grep -q "hunter2\|tok-value" "$T/dry.txt" &&
	(cd "$T/env" && no_proxy=host-np env -u PIP_RETRIES "$PINION" build --dry-run --json --build-env BAR=explicit) >"$T/dry.json" &&
	test_equal "$(jq -c "[.host_env[] | [.name, .value, .source, .used]]" "$T/dry.json")" \
		"[[\"no_proxy\",\"host-np\",\"host\",true],[\"BAR\",\"explicit\",\"build-env\",true]]" &&
	(cd "$T/env" && no_proxy=host-np pinion build --dry-run --json --no-host-env) >"$T/dry2.json" &&
	test_equal "$(jq -c .host_env "$T/dry2.json")" "[]"
'

test_expect_success 'precedence in a RUN step: cog.yaml > --build-env > host pass-through' '
	no_proxy=host-np NO_PROXY=host-NP FOO_HOST=fromhost NOT_PASSED=x \
		env_build prec --build-env FOO_HOST --build-env BAR=explicit --build-env GREETING_STYLE=cli \
		--build-env NO_PROXY=cli-NP --build-env UNSET_ONE &&
	test_grep "^no_proxy=host-np$" "$T/env-prec" &&
	test_grep "^NO_PROXY=cli-NP$" "$T/env-prec" &&
	test_grep "^FOO_HOST=fromhost$" "$T/env-prec" &&
	test_grep "^BAR=explicit$" "$T/env-prec" &&
	test_grep "^GREETING_STYLE=friendly$" "$T/env-prec" &&
	! grep -q "^NOT_PASSED=\|^UNSET_ONE=" "$T/env-prec" &&
	test_grep "build-env .UNSET_ONE.: not set" "$T/prec.err"
'

test_expect_success 'nothing of the host reaches the image config, labels or manifest' '
	skopeo inspect --config "oci:$T/out:prec" >"$T/prec.config" &&
	skopeo inspect "oci:$T/out:prec" >"$T/prec.inspect" &&
	jq -r ".config.Env[]" "$T/prec.config" >"$T/prec.envs" &&
	test_grep "^GREETING_STYLE=friendly$" "$T/prec.envs" &&
	! grep -q "host-np\|cli-NP\|fromhost\|explicit\|no_proxy\|FOO_HOST" "$T/prec.config" "$T/prec.inspect"
'

test_expect_success 'the cache key ignores the host part: other values, every step cached' '
	no_proxy=other-np NO_PROXY=other FOO_HOST=other env_build again --build-env FOO_HOST \
		--build-env BAR=changed &&
	test_grep "layer steps cached" "$T/again.err" &&
	sed -n "s/.*(\([0-9]*\) of \([0-9]*\) layer steps cached).*/\1 \2/p" "$T/again.err" >"$T/hits" &&
	read h n <"$T/hits" && test_equal "$h" "$n" &&
	test_cmp "$T/env-prec" "$T/env-again"
'

test_expect_success '--no-host-env: no pass-through, --build-env still applies' '
	no_proxy=host-np PIP_INDEX_URL=$LOCAL_INDEX env_build nohost --no-cache --no-host-env --build-env BAR=explicit &&
	! grep -q "^no_proxy=\|^PIP_INDEX_URL=" "$T/env-nohost" &&
	test_grep "^BAR=explicit$" "$T/env-nohost" &&
	test_grep "^GREETING_STYLE=friendly$" "$T/env-nohost"
'

test_expect_success 'default: the pass-through reaches RUN steps; other host variables do not' '
	no_proxy=host-np https_proxy= FOO_HOST=fromhost env_build plain --no-cache &&
	test_grep "^no_proxy=host-np$" "$T/env-plain" &&
	test_grep "^https_proxy=$" "$T/env-plain" &&
	! grep -q "^FOO_HOST=" "$T/env-plain"
'

test_expect_success 'a bad --build-env name is refused (exit 2)' '
	(cd "$T/env" && pinion build --dry-run --build-env "1BAD=x") >/dev/null 2>"$T/bad.err"
	test_equal $? 2 &&
	test_grep "build-env .1BAD=x." "$T/bad.err" &&
	(cd "$T/env" && pinion build --dry-run --build-env "=x") >/dev/null 2>&1
	test_equal $? 2
'

test_expect_success 'a host path in the pass-through (PIP_FIND_LINKS=/opt/wheels, PIP_CERT) is not passed; --build-env NAME passes it' '
	(cd "$T/env" && PIP_FIND_LINKS="/opt/wheels" PIP_CERT=/etc/ssl/certs/ca.crt PIP_INDEX_URL=http://idx.invalid/simple/ \
		pinion build --dry-run) >"$T/hp.txt" &&
	test_grep "^  PIP_FIND_LINKS=/opt/wheels (host; not passed: a host path" "$T/hp.txt" &&
	test_grep "^  PIP_CERT=/etc/ssl/certs/ca.crt (host; not passed: a host path" "$T/hp.txt" &&
	test_grep "^  PIP_INDEX_URL=http://idx.invalid/simple/ (host)$" "$T/hp.txt" &&
	(cd "$T/env" && PIP_FIND_LINKS="https://x.invalid/w ./wheels" env -u PIP_RETRIES "$PINION" build --dry-run --json) >"$T/hp.json" &&
	test_equal "$(jq -c "[.host_env[] | [.name, .used, .why_unused]]" "$T/hp.json")" \
		"[[\"PIP_FIND_LINKS\",false,\"host path\"]]" &&
	PIP_FIND_LINKS=/opt/wheels PIP_CERT=/nonexistent/ca.crt env_build hostpath --no-cache &&
	! grep -q "^PIP_FIND_LINKS=\|^PIP_CERT=" "$T/env-hostpath" &&
	PIP_FIND_LINKS=/opt/wheels env_build hostpath2 --no-cache --build-env PIP_FIND_LINKS &&
	test_grep "^PIP_FIND_LINKS=/opt/wheels$" "$T/env-hostpath2"
'

# The environments users build in: the C locale (LANG unset and C.UTF-8 are
# built in by t_foreign; a missing PIP_FIND_LINKS path above) and a checkout
# under /root (0700), the pinion binary and the model there.
mkdir -p "$T/loc" && cp "$TEST_ROOT/examples/hello/cog.yaml" "$TEST_ROOT/examples/hello/predict.py" "$T/loc/" &&
	echo data >"$T/loc/données-日本.txt"
test_expect_success 'LANG=C (no LC_*): a model with a UTF-8 file name builds, its name intact; predict passes UTF-8 input through' '
	(cd "$T/loc" && env -u LC_ALL -u LC_CTYPE -u LANGUAGE LANG=C "$PINION" build $MIRROR \
		--output "oci:$T/out:loc" --progress plain) >"$T/loc.out" 2>"$T/loc.err" ||
		{ tail -n 30 "$T/loc.err"; false; } &&
	pinion unpack "oci:$T/out:loc" "$T/root-loc" >/dev/null &&
	test_equal "$(cat "$T/root-loc/src/données-日本.txt")" data &&
	(cd "$T/loc" && env -u LC_ALL -u LC_CTYPE -u LANGUAGE LANG=C "$PINION" predict $MIRROR -i name=wörld) \
		>"$T/loc-pred.out" 2>"$T/loc-pred.err" || { tail -n 30 "$T/loc-pred.err"; false; } &&
	test_grep "hello, wörld!" "$T/loc-pred.out"
'

if [ "$(id -u)" -ne 0 ] || [ ! -d /root ]; then
	test_skip 'a checkout under /root: build and predict' 'needs root and a /root'
else
	test_expect_success 'a checkout under /root (0700): pinion and the model there, build and predict' '
		co=$(mktemp -d /root/pinion-e2e-checkout.XXXXXX) && test_when_finished "rm -rf $co" &&
		mkdir -p "$co/build" "$co/home" && cp "$PINION_BUILD/pinion" "$co/build/pinion" &&
		cp -r "$TEST_ROOT/examples/hello" "$co/hello" && rm -rf "$co/hello/.pinion" &&
		(cd "$co/hello" && HOME="$co/home" PINION_CACHE_DIR="$co/home/.cache/pinion" "$co/build/pinion" \
			build $MIRROR --progress plain) >"$T/co.out" 2>"$T/co.err" || { tail -n 30 "$T/co.err"; false; } &&
		(cd "$co/hello" && HOME="$co/home" PINION_CACHE_DIR="$co/home/.cache/pinion" "$co/build/pinion" \
			predict $MIRROR -i name=root) >"$T/co-pred.out" 2>"$T/co-pred.err" ||
			{ tail -n 30 "$T/co-pred.err"; false; } &&
		test_grep "hello, root!" "$T/co-pred.out"
	'
fi

test_done
