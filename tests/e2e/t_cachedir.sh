#!/bin/bash
# t_cachedir.sh - where the cache is when the environment names none (no
# PINION_CACHE_DIR, XDG_CACHE_HOME or HOME): $TMPDIR/pinion-cache-UID, made
# 0700 by its user, and never a directory another user planted there first
# (whoever owns or can write a cache can poison later builds): a planted one,
# world-writable or a symlink, is left alone with a warning and the run uses
# a new private directory of its own (docs/SECURITY.md).
. "$(dirname "$0")/lib.sh"
. "$TEST_ROOT/tests/tools/users.sh"

test_expect_success 'setup: the unprivileged user, a shared TMPDIR' '
	test_user_setup && mkdir -p "$T/tmp" && chmod 1777 "$T/tmp" && id -u pinion-nosub >"$T/uid"
'
U=$(cat "$T/uid" 2>/dev/null || echo 0)
# nohome [ARGS...]: pinion ARGS as pinion-nosub with no cache named, TMPDIR=$T/tmp
# ($PINION: the copy the user can run; the checkout may be private, /root/...)
nohome() { run_as pinion-nosub env -u HOME -u PINION_CACHE_DIR -u XDG_CACHE_HOME TMPDIR="$T/tmp" "$PINION" "$@"; }
# own DIR: a directory of pinion-nosub, mode 0700, with the cache's snapshots/
own() { test_equal "$(stat -c "%F %U %a" "$1")" "directory pinion-nosub 700" && test -d "$1/snapshots"; }

test_expect_success 'no HOME: TMPDIR/pinion-cache-UID, made 0700 by the user, is the cache' '
	nohome snapshots list >/dev/null 2>"$T/err" && own "$T/tmp/pinion-cache-$U" &&
	! grep "pinion-cache" "$T/err" &&
	nohome snapshots list >/dev/null 2>"$T/err" && ! grep "pinion-cache" "$T/err" &&
	test "$(ls "$T/tmp" | wc -l)" -eq 1 && rm -rf "$T/tmp/pinion-cache-$U"
'

test_expect_success 'a world-writable dir planted by root there is not used: a private one, a warning' '
	rm -rf "$T/tmp/pinion-cache-$U"* && mkdir -m 0777 "$T/tmp/pinion-cache-$U" && chmod 0777 "$T/tmp/pinion-cache-$U" &&
	nohome snapshots list >/dev/null 2>"$T/err" &&
	test_grep "pinion-cache-$U. is not a directory of this user" "$T/err" &&
	! test -e "$T/tmp/pinion-cache-$U/snapshots" &&
	ls -d "$T/tmp/pinion-cache-$U-"* >"$T/fresh" && test "$(wc -l <"$T/fresh")" -eq 1 &&
	own "$(cat "$T/fresh")" && rm -rf "$T/tmp/pinion-cache-$U"*
'

test_expect_success 'a symlink planted there (to a dir of the user) is not followed' '
	rm -rf "$T/tmp/pinion-cache-$U"* && mkdir -p "$T/tmp/target" && chown pinion-nosub "$T/tmp/target" && chmod 700 "$T/tmp/target" &&
	ln -s "$T/tmp/target" "$T/tmp/pinion-cache-$U" &&
	nohome snapshots list >/dev/null 2>"$T/err" && test_grep "is not a directory of this user" "$T/err" &&
	! test -e "$T/tmp/target/snapshots" &&
	own "$(ls -d "$T/tmp/pinion-cache-$U-"*)"
'

test_done
