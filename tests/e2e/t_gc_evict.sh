#!/bin/bash
# t_gc_evict.sh - `pinion gc --max-age` / `--keep-storage`: step cache
# entries are evicted by last use (a build that hits an entry uses it), then
# gc removes exactly the blobs only evicted entries referenced; a rebuild of
# an evicted model builds its steps again, the kept one stays cached;
# --dry-run removes nothing; bad values remove nothing.
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/registry.sh"

base_registry_start

EC="$T/ec" # the build cache of every case
KEYS="$EC/build/keys"
BLOBS="$EC/build/layout/blobs/sha256"
# two models: predict.py from examples/hello, one RUN step each
for m in one two; do
	mkdir -p "$T/$m" && cp "$TEST_ROOT/examples/hello/predict.py" "$T/$m/" &&
		printf 'build:\n  python_version: "3.11"\n  run:\n    - "echo %s >/%s"\npredict: predict.py:Predictor\n' \
			"$m" "$m" >"$T/$m/cog.yaml"
done
# build_model NAME: build into the cache and oci:$T/out-NAME; the log in $T/NAME.err
build_model() {
	(cd "$T/$1" && PINION_CACHE_DIR="$EC" PINION_AUTO_GC=off pinion build $MIRROR --progress plain \
		--output "oci:$T/out-$1:latest") >/dev/null 2>"$T/$1.err" || { cat "$T/$1.err"; return 1; }
}
# layers NAME: the layer digests (hex) of the image built from model NAME, by skopeo
layers() { skopeo inspect --raw "oci:$T/out-$1:latest" | jq -r ".layers[].digest" | cut -d: -f2 | sort -u; }
keys_ls() { ls "$KEYS" | sort; }
blobs_ls() { ls "$BLOBS" | sort; }
# bytes FILE: the total size of the cache blobs named (hex) in FILE
bytes() { (cd "$BLOBS" && cat "$1" | xargs -r stat -c %s) | awk "{s+=\$1} END {print s+0}"; }
# all_cached LOG: the build says every layer step was cached ("N of N")
all_cached() { grep -E "\(([0-9]+) of \1 layer steps cached\)" "$1" || { cat "$1"; return 1; }; }
# rebuilt LOG: its RUN step ran again
rebuilt() { grep "run 1: done in" "$1" && ! grep -q "run 1: cached" "$1"; }

test_expect_success 'setup: model one, made old; then model two (hits touch the shared entries)' '
	build_model one && keys_ls >"$T/keys-one" && test "$(wc -l <"$T/keys-one")" -ge 3 &&
	touch -d "-10 days" "$KEYS"/*.json &&
	build_model two && keys_ls >"$T/keys-all" &&
	find "$KEYS" -name "*.json" -mtime +5 -printf "%f\n" | sort >"$T/keys-old" &&
	comm -13 "$T/keys-one" "$T/keys-all" >"$T/keys-two-new" &&
	echo "entries: $(wc -l <"$T/keys-one") of one, $(wc -l <"$T/keys-two-new") new of two, $(wc -l <"$T/keys-old") old" &&
	test -s "$T/keys-old" && test -s "$T/keys-two-new" &&
	test_grep "tini: cached" "$T/two.err" && rebuilt "$T/two.err" &&
	test "$(wc -l <"$T/keys-old")" -lt "$(wc -l <"$T/keys-one")" &&
	layers one >"$T/layers-one" && layers two >"$T/layers-two" &&
	comm -23 "$T/layers-one" "$T/layers-two" >"$T/only-one" &&
	comm -13 "$T/layers-one" "$T/layers-two" >"$T/only-two" &&
	echo "layers only in one: $(cat "$T/only-one" | tr "\n" " ")" &&
	test -s "$T/only-one" && test -s "$T/only-two" &&
	for h in $(cat "$T/only-one" "$T/layers-two"); do test -e "$BLOBS/$h" || exit 1; done &&
	pinion gc --cache-dir "$EC" >/dev/null && blobs_ls >"$T/blobs-before"
'

test_expect_success 'bad --max-age / --keep-storage: status 2, nothing removed' '
	test_expect_failure_status 2 pinion gc --cache-dir "$EC" --max-age x 2>"$T/e1" &&
	test_grep "bad duration" "$T/e1" &&
	test_expect_failure_status 2 pinion gc --cache-dir "$EC" --max-age -7d 2>"$T/e2" &&
	test_expect_failure_status 2 pinion gc --cache-dir "$EC" --max-age 1.5h 2>"$T/e3" &&
	test_expect_failure_status 2 pinion gc --cache-dir "$EC" --keep-storage 5T 2>"$T/e4" &&
	test_grep "bad size" "$T/e4" &&
	test_expect_failure_status 2 pinion gc --max-age 1d "oci:$T/out-one" 2>"$T/e5" &&
	test_grep "cache-dir" "$T/e5" &&
	test_equal "$(keys_ls)" "$(cat "$T/keys-all")" &&
	test_equal "$(blobs_ls)" "$(cat "$T/blobs-before")"
'

test_expect_success '--max-age --dry-run reports the old entries and removes nothing' '
	pinion gc --cache-dir "$EC" --max-age 7d --dry-run --json >"$T/dry.json" && cat "$T/dry.json" &&
	test_equal "$(jq .targets[0].entries_evicted "$T/dry.json")" "$(wc -l <"$T/keys-old")" &&
	test_equal "$(jq .targets[0].entries_evicted_bytes "$T/dry.json")" "$(bytes "$T/only-one")" &&
	test_equal "$(jq .targets[0].blobs_removed "$T/dry.json")" "$(wc -l <"$T/only-one")" &&
	pinion gc --cache-dir "$EC" --max-age 7d --dry-run >"$T/dry.out" && cat "$T/dry.out" &&
	test_grep "would evict $(wc -l <"$T/keys-old") step cache entries" "$T/dry.out" &&
	test_equal "$(keys_ls)" "$(cat "$T/keys-all")" &&
	test_equal "$(blobs_ls)" "$(cat "$T/blobs-before")"
'

test_expect_success '--max-age 7d evicts the old entries; exactly the blobs only they used go' '
	pinion gc --cache-dir "$EC" --max-age 7d --json >"$T/age.json" && cat "$T/age.json" &&
	test_equal "$(jq .targets[0].entries_evicted "$T/age.json")" "$(wc -l <"$T/keys-old")" &&
	comm -23 "$T/keys-all" "$T/keys-old" >"$T/keys-want" &&
	test_equal "$(keys_ls)" "$(cat "$T/keys-want")" &&
	comm -23 "$T/blobs-before" "$T/only-one" >"$T/blobs-want" &&
	test_equal "$(blobs_ls)" "$(cat "$T/blobs-want")" &&
	for h in $(cat "$T/layers-two"); do test -e "$BLOBS/$h" || exit 1; done
'

test_expect_success 'after --max-age: model two is fully cached, model one builds its own steps again' '
	build_model two && all_cached "$T/two.err" &&
	build_model one && rebuilt "$T/one.err" &&
	layers one >"$T/layers-one2" && test_equal "$(cat "$T/layers-one2")" "$(cat "$T/layers-one")"
'

test_expect_success '--keep-storage evicts the least recently used entries down to SIZE' '
	pinion gc --cache-dir "$EC" >/dev/null && blobs_ls >"$T/blobs-full" &&
	bytes "$T/blobs-full" >"$T/total" && total=$(cat "$T/total") &&
	unique_two=$(bytes "$T/only-two") && echo "total $total, only two: $unique_two" &&
	touch -d "-2 days" "$KEYS"/*.json && build_model one && all_cached "$T/one.err" &&
	keys_ls >"$T/keys-pre" &&
	size=$((total - unique_two)) &&
	pinion gc --cache-dir "$EC" --keep-storage $((size + unique_two)) --json >"$T/k0.json" &&
	test_equal "$(jq .targets[0].entries_evicted "$T/k0.json")" 0 &&
	pinion gc --cache-dir "$EC" --keep-storage "$size" --json >"$T/k.json" && cat "$T/k.json" &&
	test_equal "$(jq .targets[0].entries_evicted_bytes "$T/k.json")" "$unique_two" &&
	test "$(jq .targets[0].entries_kept_bytes "$T/k.json")" -le "$size" &&
	comm -23 "$T/blobs-full" "$T/only-two" >"$T/blobs-want2" &&
	test_equal "$(blobs_ls)" "$(cat "$T/blobs-want2")" &&
	build_model one && all_cached "$T/one.err" &&
	build_model two && rebuilt "$T/two.err"
'

# (no PINION_AUTO_GC=off here: the automatic gc after the build is the subject)
auto_build() {
	(cd "$T/$1" && PINION_CACHE_DIR="$EC" PINION_AUTO_GC_MAX_AGE="$2" pinion build $MIRROR \
		--progress plain --output "oci:$T/out-$1:latest") >/dev/null 2>"$T/$1.err" || { cat "$T/$1.err"; return 1; }
}

test_expect_success 'PINION_AUTO_GC_MAX_AGE: the gc after a build evicts the entries unused for longer' '
	keys_ls >"$T/keys-a0" && blobs_ls >"$T/blobs-a0" &&
	touch -d "-3 days" "$KEYS"/*.json &&
	auto_build one x && test_grep "ignoring PINION_AUTO_GC_MAX_AGE: bad duration" "$T/one.err" &&
	all_cached "$T/one.err" && test_equal "$(keys_ls)" "$(cat "$T/keys-a0")" &&
	touch -d "-3 days" "$KEYS"/*.json &&
	auto_build one 2d && all_cached "$T/one.err" && cat "$T/one.err" | grep "gc:" &&
	test_grep "step cache entries past PINION_AUTO_GC_MAX_AGE" "$T/one.err" &&
	find "$KEYS" -name "*.json" -mtime +1 | wc -l >"$T/old-left" && test_equal "$(cat "$T/old-left")" 0 &&
	test "$(keys_ls | wc -l)" -lt "$(wc -l <"$T/keys-a0")" &&
	comm -23 "$T/blobs-a0" "$T/only-two" >"$T/blobs-want3" &&
	test_equal "$(blobs_ls)" "$(cat "$T/blobs-want3")" &&
	build_model one && all_cached "$T/one.err" &&
	build_model two && rebuilt "$T/two.err"
'

test_expect_success 'a hit on an entry that is a symlink touches the link, never what it names' '
	mkdir -p "$T/outside" &&
	for k in "$KEYS"/*.json; do mv "$k" "$T/outside/" && ln -s "$T/outside/${k##*/}" "$k" || exit 1; done &&
	touch -d "-3 days" "$T/outside"/*.json && : >"$T/before-hit" &&
	stat -c "%n %Y" "$T/outside"/*.json >"$T/times-outside" &&
	build_model one && all_cached "$T/one.err" &&
	test_cmp "$T/times-outside" <(stat -c "%n %Y" "$T/outside"/*.json) &&
	find "$KEYS" -name "*.json" -type l -newer "$T/before-hit" | grep -q .
'

# fifo_build NAME: build_model under a time bound (a FIFO entry must not hang it)
fifo_build() {
	(cd "$T/$1" && PINION_CACHE_DIR="$EC" PINION_AUTO_GC=off timeout -k 5 120 "$PINION" build $MIRROR \
		--progress plain --output "oci:$T/out-$1:latest") >/dev/null 2>"$T/$1.err" || { cat "$T/$1.err"; return 1; }
}

test_expect_success 'FIFOs, a directory and device links among the entries: gc and a build neither hang nor follow them' '
	hex() { printf "%064d" "$1"; } &&
	mkfifo "$KEYS/$(hex 1).json" && mkdir "$KEYS/$(hex 2).json" &&
	ln -s /dev/zero "$KEYS/$(hex 3).json" && ln -s "$T/outside" "$KEYS/$(hex 4).json" &&
	touch -h -d "-3 days" "$KEYS/$(hex 1).json" "$KEYS/$(hex 3).json" "$KEYS/$(hex 4).json" &&
	timeout -k 5 60 "$PINION" gc --cache-dir "$EC" --max-age 2d >"$T/fifo-gc.out" 2>&1 ||
		{ cat "$T/fifo-gc.out"; exit 1; } &&
	test ! -e "$KEYS/$(hex 1).json" && test ! -L "$KEYS/$(hex 3).json" && test -d "$T/outside" &&
	test -c /dev/zero && test -d "$KEYS/$(hex 2).json" &&
	for k in "$KEYS"/*.json; do test -d "$k" || { rm "$k" && mkfifo "$k"; } || exit 1; done &&
	fifo_build one && rebuilt "$T/one.err" && test_grep "is not a regular file" "$T/one.err" &&
	rmdir "$KEYS/$(hex 2).json" && build_model one && all_cached "$T/one.err"
'

if mount --bind "$KEYS" "$KEYS" 2>/dev/null; then
	at_exit 'umount "$KEYS"'
	test_expect_success 'a hit it cannot record (read-only keys/) does not fail the build' '
		mount -o remount,ro,bind "$KEYS" &&
		! touch "$KEYS/probe" 2>/dev/null &&
		stat -c "%n %Y" "$KEYS"/*.json >"$T/times-ro" &&
		build_model one && all_cached "$T/one.err" &&
		test_cmp "$T/times-ro" <(stat -c "%n %Y" "$KEYS"/*.json)
	'
else
	test_skip 'a hit it cannot record (read-only keys/) does not fail the build' 'no bind mount'
fi

test_done
