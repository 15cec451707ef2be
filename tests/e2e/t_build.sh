#!/bin/bash
# t_build.sh - `pinion build`, `push` and `predict` on examples/hello against a
# local registry where a Debian fixture is published as library/python:3.11-slim
# (docker.io mirrored to it): layout output, prediction, cache hits and the
# predict.py edit, JSON progress, push + skopeo + rootless podman run,
# failures that leave the layout as it was, and a rootless build.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"


base_registry_start
cp -r "$TEST_ROOT/examples/hello" "$T/hello"
rm -rf "$T/hello/.pinion"

digest_of() { pinion ls "oci:$1" | awk -v t="$2" '$1 == t {print $2}'; }
layers_of() { skopeo inspect --raw "oci:$1" | jq -r '.layers[].digest'; }

test_expect_success 'build --dry-run lists the weight layers of --separate-weights with their files' '
	cp -r "$T/hello" "$T/weighty" &&
	mkdir -p "$T/weighty/weights" &&
	head -c 11534336 /dev/zero >"$T/weighty/weights/model.bin" &&
	(cd "$T/weighty" && pinion build $MIRROR --dry-run --json --separate-weights \
		--use-cog-base-image=false) >"$T/weighty.json" 2>"$T/weighty.err" ||
		{ cat "$T/weighty.err"; false; } &&
	test_equal "$(jq -r "[.steps[] | select(.id == \"weights\")] | length" "$T/weighty.json")" 1 &&
	test_equal "$(jq -r ".steps[] | select(.id == \"weights\") | .copy.layers | map(.file) | join(\",\")" \
		"$T/weighty.json")" weights/model.bin &&
	test_equal "$(jq -r ".steps[] | select(.id == \"weights\") | .copy.layers[0].size" "$T/weighty.json")" 11534336 &&
	test_equal "$(jq -r ".steps[] | select(.id == \"source\") | .copy.layers" "$T/weighty.json")" null &&
	(cd "$T/weighty" && pinion build $MIRROR --dry-run --separate-weights \
		--use-cog-base-image=false) >"$T/weighty.txt" &&
	test_grep "^        layer weights/model.bin (11534336 bytes)$" "$T/weighty.txt" &&
	(cd "$T/weighty" && pinion build $MIRROR --dry-run --json --separate-weights=false \
		--use-cog-base-image=false) >"$T/single.json" &&
	test_equal "$(jq -r "[.steps[] | select(.id == \"weights\")] | length" "$T/single.json")" 0
'

test_expect_success 'build examples/hello into an OCI layout' '
	(cd "$T/hello" && pinion build $MIRROR --output "oci:$T/out:hello" --progress plain) >"$T/build1.out" 2>"$T/build1.err" ||
		{ cat "$T/build1.err"; false; } &&
	test_grep "oci:$T/out:hello sha256:" "$T/build1.out" &&
	skopeo inspect "oci:$T/out:hello" >"$T/inspect.json" &&
	test_equal "$(jq -r ".Labels[\"run.cog.has_init\"]" "$T/inspect.json")" true &&
	jq -r ".Labels[\"run.cog.openapi_schema\"]" "$T/inspect.json" | jq -e ".components.schemas.Input.properties.name" >/dev/null &&
	jq -r ".Labels[\"run.cog.config\"]" "$T/inspect.json" | jq -e ".build.python_version == \"3.11\"" >/dev/null &&
	test_grep "cog" "$T/inspect.json" &&
	test_equal "$(jq -r ".Labels[\"org.opencontainers.image.base.digest\"]" "$T/inspect.json" | cut -c1-7)" sha256: &&
	oci-image-tool validate --type imageLayout --ref hello "$T/out" >/dev/null 2>&1 || umoci stat --image "$T/out:hello" >/dev/null
'

test_expect_success 'the image config matches Cog (entrypoint, cmd, workdir, env, port)' '
	skopeo inspect --config "oci:$T/out:hello" >"$T/config.json" &&
	test_equal "$(jq -c .config.Entrypoint "$T/config.json")" "[\"/sbin/tini\",\"--\"]" &&
	test_equal "$(jq -c .config.Cmd "$T/config.json")" "[\"python\",\"-m\",\"cog.server.http\"]" &&
	test_equal "$(jq -r .config.WorkingDir "$T/config.json")" /src &&
	jq -e ".config.ExposedPorts[\"5000/tcp\"]" "$T/config.json" >/dev/null &&
	jq -r ".config.Env[]" "$T/config.json" >"$T/env" &&
	test_grep "^COG_PREDICT_TYPE_STUB=predict.py:Predictor$" "$T/env" &&
	test_grep "^PYTHONUNBUFFERED=1$" "$T/env"
'

test_expect_success 'build -t NAME:TAG keeps the whole name in the layout, as skopeo writes it' '
	(cd "$T/hello" && pinion build $MIRROR -t r8.im/me/hello:v3 --output "oci:$T/named" --progress plain &&
		pinion build $MIRROR -t r8.im/you/hello:v3 --output "oci:$T/named" --progress plain) \
		>"$T/named.out" 2>"$T/named.err" || { tail -20 "$T/named.err"; false; } &&
	pinion ls "oci:$T/named" >"$T/named.ls" &&
	test_grep "^r8.im/me/hello:v3 " "$T/named.ls" && test_grep "^r8.im/you/hello:v3 " "$T/named.ls" &&
	skopeo inspect "oci:$T/named:r8.im/me/hello:v3" >"$T/named.json" &&
	test_equal "$(jq -r ".Labels[\"run.cog.has_init\"]" "$T/named.json")" true
'

test_expect_success 'pinion predict answers from the layout image' '
	(cd "$T" && pinion predict "oci:$T/out:hello" -i name=e2e -i times=2) >"$T/pred.out" 2>"$T/pred.err" ||
		{ tail -20 "$T/pred.err"; false; } &&
	test_equal "$(cat "$T/pred.out")" "hello, e2e! hello, e2e!"
'

at_exit 'kill $(cat "$T/serve.pid" 2>/dev/null) 2>/dev/null'
test_expect_success 'pinion predict without IMAGE builds the model first (all cached), as cog predict' '
	(cd "$T/hello" && pinion predict $MIRROR -i name=auto) >"$T/auto.out" 2>"$T/auto.err" ||
		{ tail -20 "$T/auto.err"; false; } &&
	test_equal "$(cat "$T/auto.out")" "hello, auto!" &&
	test_grep "cached" "$T/auto.err"
'

test_expect_success 'pinion serve answers until SIGTERM, then stops cleanly' '
	port=$(free_port) || exit 1
	"$PINION" serve "oci:$T/out:hello" -p "$port" >"$T/serve.out" 2>"$T/serve.err" &
	spid=$!
	echo $spid >"$T/serve.pid" &&
	for i in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$port/health-check" 2>/dev/null | grep -q READY && break; sleep 0.2
	done &&
	curl -sf -X POST -H "Content-Type: application/json" -d "{\"input\":{\"name\":\"serve\"}}" \
		"http://127.0.0.1:$port/predictions" | jq -r .output >"$T/serve.json" &&
	test_equal "$(cat "$T/serve.json")" "hello, serve!" &&
	kill -TERM $spid && wait $spid && echo "serve exited with status 0" &&
	! curl -sf "http://127.0.0.1:$port/health-check" >/dev/null 2>&1
'

test_expect_success '--openapi-schema FILE becomes the schema label' '
	echo "{\"openapi\": \"3.0.2\", \"info\": {\"title\": \"custom\"}}" >"$T/schema.json" &&
	(cd "$T/hello" && pinion build $MIRROR --openapi-schema "$T/schema.json" --output "oci:$T/out:schema" \
		--progress quiet) >/dev/null 2>"$T/schema.err" || { cat "$T/schema.err"; false; } &&
	skopeo inspect "oci:$T/out:schema" | jq -r ".Labels[\"run.cog.openapi_schema\"]" | jq -r .info.title >"$T/title" &&
	test_equal "$(cat "$T/title")" custom
'

test_expect_success 'a bad input is refused with status 2' '
	(cd "$T" && pinion predict "oci:$T/out:hello" -i times=notanumber) >/dev/null 2>"$T/bad.err";
	test_equal $? 2 && test_grep "times" "$T/bad.err"
'

test_expect_success 'a second build hits every step and gives the same manifest digest' '
	d1=$(digest_of "$T/out" hello) &&
	(cd "$T/hello" && pinion build $MIRROR --output "oci:$T/out:hello" --progress json) >/dev/null 2>"$T/build2.json" &&
	test_equal "$(digest_of "$T/out" hello)" "$d1" &&
	grep "^{" "$T/build2.json" | jq -s -e "map(select(.event == \"step\")) | length > 0 and all(.cached)" >/dev/null ||
		{ cat "$T/build2.json"; false; }
'

test_expect_success 'with SOURCE_DATE_EPOCH two --no-cache builds give the same digest; RUN output is JSON events or nothing (quiet)' '
	for i in 1 2; do
		mode=json; [ $i = 2 ] && mode=quiet
		(cd "$T/hello" && SOURCE_DATE_EPOCH=1700000000 pinion build $MIRROR --no-cache \
			--output "oci:$T/repro:r$i" --progress $mode) >/dev/null 2>"$T/repro$i.err" ||
			{ cat "$T/repro$i.err"; exit 1; }
	done &&
	test_equal "$(digest_of "$T/repro" r2)" "$(digest_of "$T/repro" r1)" &&
	grep -v "^pinion: warning" "$T/repro1.err" | jq -c . >/dev/null &&
	test_grep "\"event\":\"output\",\"message\":\"Successfully installed cog" "$T/repro1.err" &&
	! grep -q " | " "$T/repro2.err" &&
	test_equal "$(skopeo inspect --config "oci:$T/repro:r1" | jq -r .created)" "2023-11-14T22:13:20Z"
'

test_expect_success 'every progress line is one JSON event (warnings too)' '
	test -s "$T/build2.json" &&
	while read -r l; do echo "$l" | jq -e .event >/dev/null || { echo "not an event: $l"; exit 1; }; done <"$T/build2.json"
'

test_expect_success 'editing predict.py changes only the source layer' '
	layers_of "$T/out:hello" >"$T/layers1" &&
	sed -i "s/hello/howdy/" "$T/hello/predict.py" &&
	(cd "$T/hello" && pinion build $MIRROR --output "oci:$T/out:edited" --progress json) >/dev/null 2>"$T/build3.json" &&
	layers_of "$T/out:edited" >"$T/layers2" &&
	test_equal "$(wc -l <"$T/layers2")" "$(wc -l <"$T/layers1")" &&
	test_equal "$(head -n -1 "$T/layers1" | sha256sum)" "$(head -n -1 "$T/layers2" | sha256sum)" &&
	test "$(tail -1 "$T/layers1")" != "$(tail -1 "$T/layers2")" &&
	grep "^{" "$T/build3.json" | jq -s -r "map(select(.event == \"step\" and (.cached | not))) | map(.step) | join(\",\")" >"$T/rebuilt" &&
	test_equal "$(cat "$T/rebuilt")" "source,post-build"
'

test_expect_success 'pinion push copies the layout image; skopeo reads the labels' '
	pinion push "oci:$T/out:hello" "$REGISTRY/hello:v1" >/dev/null &&
	skopeo inspect --tls-verify=false "docker://$REGISTRY/hello:v1" >"$T/remote.json" &&
	test_equal "$(jq -r ".Labels[\"run.cog.has_init\"]" "$T/remote.json")" true &&
	jq -r ".Labels[\"run.cog.pip_freeze\"]" "$T/remote.json" >"$T/freeze" &&
	test_grep "^cog" "$T/freeze"
'

test_expect_success 'build --push sends the image to the registry' '
	(cd "$T/hello" && pinion build $MIRROR --push -t "$REGISTRY/hello:v2") >"$T/push.out" 2>"$T/push.err" ||
		{ cat "$T/push.err"; false; } &&
	test_grep "$REGISTRY/hello:v2@sha256:" "$T/push.out" &&
	skopeo inspect --tls-verify=false "docker://$REGISTRY/hello:v2" | jq -e ".Labels[\"run.cog.openapi_schema\"]" >/dev/null
'

test_expect_success 'pinion push NAME builds (all cached) and pushes' '
	(cd "$T/hello" && pinion push $MIRROR "$REGISTRY/hello:v3") >"$T/push3.out" 2>"$T/push3.err" ||
		{ cat "$T/push3.err"; false; } &&
	test_grep "$REGISTRY/hello:v3@sha256:" "$T/push3.out" &&
	test_equal "$(skopeo inspect --tls-verify=false "docker://$REGISTRY/hello:v3" | jq -r .Digest)" \
		"$(skopeo inspect --tls-verify=false "docker://$REGISTRY/hello:v2" | jq -r .Digest)"
'

test_expect_success 'pinion predict runs an image from the registry' '
	(cd "$T" && pinion predict "$REGISTRY/hello:v1" -i name=registry) >"$T/regpred.out" 2>"$T/regpred.err" ||
		{ tail -20 "$T/regpred.err"; false; } &&
	test_equal "$(cat "$T/regpred.out")" "hello, registry!"
'

test_expect_success 'git revision and tag become OCI labels' '
	cp -r "$T/hello" "$T/gitmodel" && rm -rf "$T/gitmodel/.pinion" &&
	(cd "$T/gitmodel" && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm m &&
		git tag v1.2.3) &&
	rev=$(git -C "$T/gitmodel" rev-parse HEAD) &&
	(cd "$T/gitmodel" && pinion build $MIRROR --output "oci:$T/out:git" --progress quiet) >/dev/null 2>&1 &&
	skopeo inspect "oci:$T/out:git" >"$T/git.json" &&
	test_equal "$(jq -r ".Labels[\"org.opencontainers.image.revision\"]" "$T/git.json")" "$rev" &&
	test_equal "$(jq -r ".Labels[\"org.opencontainers.image.version\"]" "$T/git.json")" v1.2.3 &&
	test_equal "$(jq -r ".Labels[\"org.opencontainers.image.base.name\"]" "$T/git.json")" docker.io/library/python:3.11-slim
'

# the container is named here so that cleanup is registered outside the case
# (case bodies run in a subshell)
PODMAN_PORT=$(free_port)
at_exit "run_as pinion-sub podman rm -f -t 2 pinion-e2e-$PODMAN_PORT"
test_expect_success 'rootless podman runs the pushed image; /predictions and /openapi.json answer' '
	test_user_setup &&
	port=$PODMAN_PORT &&
	run_as pinion-sub podman run --runtime=runc --network=host --rm -d --name "pinion-e2e-$port" \
		--tls-verify=false -e PORT=$port "$REGISTRY/hello:v1" >"$T/podman.id" 2>"$T/podman.err" ||
		{ cat "$T/podman.err"; false; } &&
	for i in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$port/health-check" | grep -q READY && break; sleep 0.3
	done &&
	curl -sf -X POST -H "Content-Type: application/json" -d "{\"input\":{\"name\":\"podman\"}}" \
		"http://127.0.0.1:$port/predictions" >"$T/podman.json" &&
	curl -sf "http://127.0.0.1:$port/openapi.json" | jq -S . >"$T/served-schema.json" &&
	run_as pinion-sub podman rm -f -t 2 "pinion-e2e-$port" >/dev/null 2>&1;
	test_equal "$(jq -r .output "$T/podman.json")" "hello, podman!" &&
	jq -r ".Labels[\"run.cog.openapi_schema\"]" "$T/remote.json" | jq -S . >"$T/label-schema.json" &&
	test_cmp "$T/label-schema.json" "$T/served-schema.json"
'

layout_state() { cat "$T/out/index.json" | sha256sum; }

test_expect_success 'a failing run command stops at its step, status 1, layout unchanged' '
	before=$(layout_state) &&
	mkdir -p "$T/failing" && cp "$T/hello/predict.py" "$T/failing/" &&
	printf "build:\n  python_version: \"3.11\"\n  run:\n    - \"echo about to fail; exit 3\"\npredict: predict.py:Predictor\n" >"$T/failing/cog.yaml" &&
	(cd "$T/failing" && pinion build $MIRROR --output "oci:$T/out:hello" --progress plain) >/dev/null 2>"$T/fail.err";
	test_equal $? 1 &&
	test_grep "step \`run 1\`" "$T/fail.err" &&
	test_grep "status 3" "$T/fail.err" &&
	test_equal "$(layout_state)" "$before"
'

test_expect_success 'an unreachable registry stops the build with status 1 and a hint' '
	before=$(layout_state) &&
	(cd "$T/hello" && pinion build --registry-mirror docker.io=127.0.0.1:1 --registry-mirror r8.im=127.0.0.1:1 \
		--cache-dir "$T/empty-cache" --output "oci:$T/out:hello") >/dev/null 2>"$T/unreach.err";
	test_equal $? 1 &&
	test_grep "pull base image" "$T/unreach.err" &&
	test_grep "hint:" "$T/unreach.err" &&
	test_equal "$(layout_state)" "$before"
'

test_expect_success 'a bad cog.yaml is refused with status 2' '
	mkdir -p "$T/bad" &&
	printf "build:\n  python_version: \"3.9\"\npredict: predict.py:Predictor\n" >"$T/bad/cog.yaml" &&
	(cd "$T/bad" && pinion build $MIRROR --output "oci:$T/out:hello") >/dev/null 2>"$T/bad.err";
	test_equal $? 2 &&
	test_grep "python_version" "$T/bad.err"
'

# the rootless users get caches of their own here: the shared one of run_as
# may be pruned by other test files running at the same time
test_expect_success 'an unprivileged user builds and predicts the same model' '
	test_user_setup &&
	cp -r "$TEST_ROOT/examples/hello" "$T/rootless" && rm -rf "$T/rootless/.pinion" &&
	mkdir -p "$T/rl-cache" && chown -R pinion-sub "$T/rootless" "$T/rl-cache" &&
	run_as pinion-sub env PINION_CACHE_DIR="$T/rl-cache" sh -c "cd $T/rootless && $PINION build $MIRROR --progress plain" >"$T/rl.out" 2>"$T/rl.err" ||
		{ tail -30 "$T/rl.err"; false; } &&
	run_as pinion-sub env PINION_CACHE_DIR="$T/rl-cache" sh -c "cd $T/rootless && $PINION predict $MIRROR -i name=rootless" >"$T/rl-pred.out" 2>"$T/rl-pred.err" ||
		{ tail -20 "$T/rl-pred.err"; false; } &&
	test_equal "$(cat "$T/rl-pred.out")" "hello, rootless!"
'

test_expect_success 'a user without subordinate ids builds it too (single-id sandbox)' '
	test_user_setup &&
	cp -r "$TEST_ROOT/examples/hello" "$T/nosub" && rm -rf "$T/nosub/.pinion" &&
	mkdir -p "$T/ns-cache" && chown -R pinion-nosub "$T/nosub" "$T/ns-cache" &&
	run_as pinion-nosub env PINION_CACHE_DIR="$T/ns-cache" sh -c "cd $T/nosub && $PINION build $MIRROR --progress plain" >"$T/ns.out" 2>"$T/ns.err" ||
		{ tail -30 "$T/ns.err"; false; } &&
	test_grep "sha256:" "$T/ns.out"
'

test_done
