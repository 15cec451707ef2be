#!/bin/bash
# t_sbom.sh - the SPDX SBOM and the provenance statement every build attaches
# as OCI 1.1 referrers (docs/sbom.md): examples/packages built with jq from
# apt and a wheel from a local index; the SBOM validated by python3-jsonschema
# against the SPDX 2.3 schema of spdx/spdx-spec; its referrers found by skopeo
# in the layout and, on the real docker-registry (no referrers API), through
# the fallback tag sha256-<digest>; `pinion copy` carries them unless
# --no-referrers; the same inputs give the same SBOM digest.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"
. "$TEST_ROOT/tests/tools/pip_index.sh"

SCHEMA="$TEST_ROOT/tests/fixtures/spdx/spdx-schema-2.3.json"
printf 'pinion-sbom-token' >"$T/token"
model="$T/packages"
cp -r "$TEST_ROOT/examples/packages" "$model"
rm -rf "$model/.pinion"
export SOURCE_DATE_EPOCH=1700000000

local_servers_setup weights 'sh "$model/make-weights.sh" "$model"'
export PIP_RETRIES=0

# build OUTPUT [OPTIONS...]: examples/packages into OUTPUT
build() {
	local out=$1
	shift
	(cd "$model" && pinion build $MIRROR --secret id=token,src="$T/token" --output "$out" \
		--progress plain "$@") >"$T/build.out" 2>"$T/build.err" || { tail -30 "$T/build.err"; false; }
}
# referrers_digest DIR IMAGE_DIGEST: the referrers index the image's layout entry names
referrers_digest() {
	jq -r --arg d "$2" '[.manifests[] | select(.digest == $d) | .annotations["run.pinion.referrers"]][0]' \
		"$1/index.json"
}
# image_digest DIR TAG
image_digest() {
	jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
		"$1/index.json"
}

test_expect_success 'build examples/packages: the SBOM is attached in the layout' '
	build "oci:$T/out:pkg" &&
	test_grep "SBOM: [1-9][0-9]* Debian and [1-9][0-9]* Python packages, 1 weight files" "$T/build.err" &&
	pinion sbom "oci:$T/out:pkg" >"$T/sbom.json" &&
	jq -e ".spdxVersion == \"SPDX-2.3\"" "$T/sbom.json" >/dev/null &&
	test_equal "$(pinion inspect "oci:$T/out" | jq -r .digest)" "$(image_digest "$T/out" pkg)"
'

test_expect_success 'the Python list holds every package pip freeze saw in the image (the label)' '
	skopeo inspect "oci:$T/out:pkg" | jq -r ".Labels[\"run.cog.pip_freeze\"]" |
		grep "==" | tr "[:upper:]_." "[:lower:]--" | sort >freeze &&
	test -s freeze &&
	jq -r ".packages[] | select((.externalRefs[0].referenceLocator // \"\") | startswith(\"pkg:pypi/\")) | .name + \"==\" + .versionInfo" \
		"$T/sbom.json" | tr "[:upper:]_." "[:lower:]--" | sort >sbom.py &&
	echo "# Python packages in the SBOM: $(tr "\n" " " <sbom.py)" &&
	comm -23 freeze sbom.py >missing &&
	test_cmp /dev/null missing
'

test_expect_success 'the SBOM validates against the SPDX 2.3 JSON schema' '
	"$PYTHON" "$TEST_ROOT/tests/tools/spdx_validate.py" "$SCHEMA" "$T/sbom.json"
'

test_expect_success 'the schema check can fail: a document without creationInfo is refused' '
	jq "del(.creationInfo)" "$T/sbom.json" >"$T/bad.json" &&
	test_expect_failure_status 1 "$PYTHON" "$TEST_ROOT/tests/tools/spdx_validate.py" "$SCHEMA" "$T/bad.json" >"$T/bad.out" &&
	test_grep "creationInfo" "$T/bad.out"
'

test_expect_success 'it lists jq (apt), the wheel from the local index (pip), the cog wheel, tini, the weights and the base' '
	jq -r ".packages[] | select(.name == \"jq\") | .externalRefs[0].referenceLocator" "$T/sbom.json" >jq.purl &&
	test_grep "^pkg:deb/debian/jq@" jq.purl &&
	jq -r ".packages[] | select(.name == \"pinion-demo-greeting\") | .versionInfo + \" \" + .externalRefs[0].referenceLocator" \
		"$T/sbom.json" >demo &&
	test_equal "$(cat demo)" "1.0.0 pkg:pypi/pinion-demo-greeting@1.0.0" &&
	test_equal "$(jq -r ".packages[] | select(.SPDXID == \"SPDXRef-tini\") | .versionInfo" "$T/sbom.json")" "0.19.0" &&
	test_equal "$(jq -r ".packages[] | select(.SPDXID == \"SPDXRef-tini\") | .checksums[0].checksumValue" "$T/sbom.json")" \
		"$(sha256sum /usr/bin/tini-static | cut -d" " -f1)" &&
	test_equal "$(jq -r ".packages[] | select(.SPDXID == \"SPDXRef-cog-wheel\") | .name" "$T/sbom.json")" cog &&
	test_equal "$(jq -r ".files[] | select(.fileName == \"./src/weights/model.bin\") | .checksums[0].checksumValue" "$T/sbom.json")" \
		"$(sha256sum "$model/weights/model.bin" | cut -d" " -f1)" &&
	base=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/library/python:3.11-slim" | sha256sum | cut -d" " -f1) &&
	test_equal "$(jq -r ".packages[] | select(.SPDXID == \"SPDXRef-Base\") | .versionInfo" "$T/sbom.json")" "sha256:$base" &&
	n_deb=$(jq "[.packages[] | select((.externalRefs[0].referenceLocator // \"\") | startswith(\"pkg:deb/\"))] | length" "$T/sbom.json") &&
	n_py=$(jq "[.packages[] | select((.externalRefs[0].referenceLocator // \"\") | startswith(\"pkg:pypi/\"))] | length" "$T/sbom.json") &&
	echo "# SBOM of examples/packages: $n_deb Debian packages, $n_py Python packages" &&
	test "$n_deb" -gt 1 && test "$n_py" -gt 1
'

test_expect_success 'the Debian list is the dpkg status of the image, as dpkg-query reads it' '
	mkdir -p rootfs && umoci raw unpack --rootless --image "$T/out:pkg" rootfs >/dev/null 2>&1 &&
	dpkg-query --admindir=rootfs/var/lib/dpkg -W -f "\${Package} \${Version}\n" | sort >want &&
	jq -r ".packages[] | select((.externalRefs[0].referenceLocator // \"\") | startswith(\"pkg:deb/\")) | .name + \" \" + .versionInfo" \
		"$T/sbom.json" | sort >got &&
	test_cmp want got
'

test_expect_success 'the layout entry names its referrers index; one entry per image, oci-image-tool validates it' '
	img=$(image_digest "$T/out" pkg) &&
	test_equal "$(jq ".manifests | length" "$T/out/index.json")" 1 &&
	rix=$(referrers_digest "$T/out" "$img") &&
	cp "$T/out/blobs/sha256/${rix#sha256:}" refs.json &&
	test_equal "$(jq -r .mediaType refs.json)" "application/vnd.oci.image.index.v1+json" &&
	oci-image-tool validate --type image "$T/out" >v.out 2>&1 && test_grep "Validation succeeded" v.out &&
	skopeo inspect "oci:$T/out:pkg" >/dev/null &&
	test_equal "$(jq -r "[.manifests[].artifactType] | sort | join(\",\")" refs.json)" \
		"application/spdx+json,application/vnd.in-toto+json" &&
	art=$(jq -r ".manifests[] | select(.artifactType == \"application/spdx+json\") | .digest" refs.json) &&
	jq -e --arg d "$img" ".subject.digest == \$d and .artifactType == \"application/spdx+json\" and .config.mediaType == \"application/vnd.oci.empty.v1+json\"" \
		"$T/out/blobs/sha256/${art#sha256:}" >/dev/null
'

test_expect_success 'the provenance statement names the image, cog.yaml, the base and SOURCE_DATE_EPOCH' '
	img=$(image_digest "$T/out" pkg) &&
	pinion sbom --provenance "oci:$T/out:pkg" >prov.json &&
	jq -e --arg d "${img#sha256:}" ".subject[0].digest.sha256 == \$d" prov.json >/dev/null &&
	test_equal "$(jq -r .predicateType prov.json)" "https://slsa.dev/provenance/v1" &&
	test_equal "$(jq -r .predicate.buildDefinition.externalParameters.cogYaml.digest.sha256 prov.json)" \
		"$(sha256sum "$model/cog.yaml" | cut -d" " -f1)" &&
	test_equal "$(jq -r .predicate.buildDefinition.internalParameters.SOURCE_DATE_EPOCH prov.json)" 1700000000 &&
	jq -e ".predicate.buildDefinition.resolvedDependencies[0].digest.sha256 | length == 64" prov.json >/dev/null
'

test_expect_success 'the same inputs give the same SBOM digest (a rebuild with a fresh cache)' '
	build "oci:$T/again:pkg" --cache-dir "$T/cache2" &&
	pinion sbom "oci:$T/again:pkg" >again.json &&
	jq -S . again.json >again.pretty && jq -S . "$T/sbom.json" >first.pretty &&
	test_cmp first.pretty again.pretty &&
	test_equal "$(sha256sum <again.json)" "$(sha256sum <"$T/sbom.json")" &&
	img=$(image_digest "$T/again" pkg) &&
	art=$(jq -r ".manifests[] | select(.artifactType == \"application/spdx+json\") | .digest" \
		"$T/again/blobs/sha256/$(referrers_digest "$T/again" "$img" | cut -d: -f2)") &&
	test_equal "$(jq -r ".layers[0].digest" "$T/again/blobs/sha256/${art#sha256:}")" \
		"sha256:$(sha256sum <"$T/sbom.json" | cut -d" " -f1)"
'

test_expect_success 'push: the referrers go up, found through the fallback tag (no referrers API here)' '
	build "oci:$T/p:pkg" --push -t "$REGISTRY/sbom/pkg:v1" &&
	img=sha256:$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/sbom/pkg:v1" | sha256sum | cut -d" " -f1) &&
	test_equal "$(curl -s -o /dev/null -w "%{http_code}" "http://$REGISTRY/v2/sbom/pkg/referrers/$img")" 404 &&
	skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/sbom/pkg:sha256-${img#sha256:}" >rrefs.json &&
	art=$(jq -r ".manifests[] | select(.artifactType == \"application/spdx+json\") | .digest" rrefs.json) &&
	skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/sbom/pkg@$art" >art.json &&
	jq -e --arg d "$img" ".subject.digest == \$d" art.json >/dev/null &&
	pinion sbom "$REGISTRY/sbom/pkg:v1" >remote.json &&
	pinion sbom "oci:$T/p:pkg" >pushed.json &&
	test_cmp pushed.json remote.json &&
	test_equal "$(jq -r .name remote.json)" "$REGISTRY/sbom/pkg:v1"
'

test_expect_success 'pinion copy carries the referrers (registry to registry, and to a layout)' '
	pinion copy "$REGISTRY/sbom/pkg:v1" "$REGISTRY/sbom/copy:v1" >/dev/null &&
	img=sha256:$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/sbom/copy:v1" | sha256sum | cut -d" " -f1) &&
	skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/sbom/copy:sha256-${img#sha256:}" >crefs.json &&
	test_equal "$(jq ".manifests | length" crefs.json)" 2 &&
	pinion sbom "$REGISTRY/sbom/copy:v1" >copied.json &&
	test_cmp "$T/remote.json" copied.json &&
	pinion copy "$REGISTRY/sbom/copy:v1" "oci:$T/local:v1" >/dev/null &&
	pinion sbom "oci:$T/local:v1" >local.json &&
	test_cmp "$T/remote.json" local.json
'

test_expect_success 'pinion copy --no-referrers leaves them behind' '
	pinion copy --no-referrers "$REGISTRY/sbom/pkg:v1" "$REGISTRY/sbom/bare:v1" >/dev/null &&
	img=sha256:$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/sbom/bare:v1" | sha256sum | cut -d" " -f1) &&
	! skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/sbom/bare:sha256-${img#sha256:}" >/dev/null 2>skopeo.err &&
	test_grep "manifest unknown" skopeo.err &&
	test_expect_failure_status 1 pinion sbom "$REGISTRY/sbom/bare:v1" 2>err &&
	test_grep "no referrers" err &&
	pinion copy --no-referrers "oci:$T/out:pkg" "oci:$T/bare:pkg" >/dev/null &&
	test_equal "$(jq ".manifests | length" "$T/bare/index.json")" 1
'

test_expect_success 'a rebuild that replaces the image under its tag: gc takes the old referrers, keeps the new' '
	old=$(image_digest "$T/out" pkg) &&
	pinion sbom --provenance "oci:$T/out:pkg" >oldprov.json &&
	test -e "$T/out/blobs/sha256/$(sha256sum <oldprov.json | cut -d" " -f1)" &&
	echo "changed" >"$model/extra.txt" &&
	test_when_finished "rm -f \"$model/extra.txt\"" &&
	build "oci:$T/out:pkg" &&
	new=$(image_digest "$T/out" pkg) &&
	test "$new" != "$old" &&
	test_equal "$(jq ".manifests | length" "$T/out/index.json")" 1 &&
	rix=$(referrers_digest "$T/out" "$new") &&
	jq -e --arg d "$new" "[.manifests[].digest] | length == 2" "$T/out/blobs/sha256/${rix#sha256:}" >/dev/null &&
	pinion gc "oci:$T/out" >/dev/null &&
	test ! -e "$T/out/blobs/sha256/$(sha256sum <oldprov.json | cut -d" " -f1)" &&
	pinion sbom --provenance "oci:$T/out:pkg" >newprov.json &&
	test -e "$T/out/blobs/sha256/$(sha256sum <newprov.json | cut -d" " -f1)" &&
	pinion sbom "oci:$T/out:pkg" >new.json &&
	test_cmp "$T/sbom.json" new.json
'

test_expect_success '--sbom=false: nothing attached' '
	build "oci:$T/nosbom:pkg" --sbom=false &&
	test_equal "$(jq ".manifests | length" "$T/nosbom/index.json")" 1 &&
	test_expect_failure_status 1 pinion sbom "oci:$T/nosbom:pkg" 2>err &&
	test_grep "no referrers" err
'

test_done
