#!/bin/bash
# t_cogbase_hostile.sh - hostile values of the cog-base registry
# (--cog-base-registry and COG_REGISTRY_HOST, docs/SECURITY.md): a newline
# must not add lines to the Dockerfile `pinion dockerfile` prints; a scheme,
# a user part, blanks and line breaks are refused (the flag: exit 2; the
# variable: a warning, then the default registry).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/m" && cp "$TEST_ROOT/examples/hello/predict.py" "$T/m/" &&
	printf 'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n' >"$T/m/cog.yaml"

test_expect_success 'COG_REGISTRY_HOST with a newline adds no Dockerfile line: ignored with a warning' '
	(cd "$T/m" && COG_REGISTRY_HOST="$(printf "r8.im\nRUN echo pwned")" pinion dockerfile --use-cog-base-image) \
		>"$T/df" 2>"$T/df.err" &&
	test_grep "COG_REGISTRY_HOST ignored" "$T/df.err" &&
	! grep -q "pwned" "$T/df" &&
	test_grep "^FROM r8.im/cog-base:python3.11" "$T/df"
'

test_expect_success 'a well-formed COG_REGISTRY_HOST is used' '
	(cd "$T/m" && COG_REGISTRY_HOST=mirror.example:5000/cog pinion dockerfile --use-cog-base-image) >"$T/ok" &&
	test_grep "^FROM mirror.example:5000/cog/cog-base:python3.11" "$T/ok"
'

test_expect_success '--cog-base-registry: line breaks, blanks, a scheme or a user part are usage errors' '
	for v in "$(printf "r8.im\nRUN x")" "$(printf "r8.im\rRUN x")" "r8.im x" "https://r8.im" "u@r8.im" ""; do
		(cd "$T/m" && pinion dockerfile --use-cog-base-image --cog-base-registry "$v") >"$T/bad" 2>"$T/bad.err";
		test $? -eq 2 && test_grep "want HOST" "$T/bad.err" && ! grep -q "RUN x" "$T/bad" || return 1
	done
'

test_done
