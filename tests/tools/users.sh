# tests/tools/users.sh - unprivileged users for the rootless tests (sourced).
# test_user_setup creates (once, as root):
#   pinion-sub    with /etc/subuid and /etc/subgid entries (65536 ids)
#   pinion-nosub  without subordinate ids
# run_as USER CMD...: runs CMD as USER with a clean environment that keeps
# PINION*, PATH and PYTHON, in a login-less shell.  Its pinion cache is
# $T/.cache-USER (RUN_AS_CACHE_DIR overrides).  Whatever USER runs must lie
# outside the checkout, which may be private (/root/pinion): lib.sh points
# $PINION at a copy in $T, tests copy models and fixtures into $T, and a
# command started from inside the checkout starts in $T instead.
# Test files run in parallel lanes (tests/run.sh): one at a time holds a lock
# while it checks and changes /etc/passwd, /etc/subuid and /etc/subgid.
test_user_setup() (
	[ "$(id -u)" -eq 0 ] || { echo "test_user_setup needs root" >&2; return 1; }
	local u lock=/run/lock
	[ -d "$lock" ] && [ -w "$lock" ] || lock=/tmp
	exec 8>"$lock/pinion-test-users.lock" && flock 8 || return 1
	for u in pinion-sub pinion-nosub; do
		id "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$u"
	done
	grep -q '^pinion-sub:' /etc/subuid 2>/dev/null || echo "pinion-sub:300000:65536" >>/etc/subuid
	grep -q '^pinion-sub:' /etc/subgid 2>/dev/null || echo "pinion-sub:300000:65536" >>/etc/subgid
	if grep -q '^pinion-nosub:' /etc/subuid /etc/subgid 2>/dev/null; then
		sed -i '/^pinion-nosub:/d' /etc/subuid /etc/subgid 2>/dev/null || true
	fi
	return 0
)
run_as() (
	local u=$1; shift
	local home cache
	home=$(getent passwd "$u" | cut -d: -f6)
	# pinion's cache for this user and this test file only (test files run
	# one after another but must not prune each other's snapshots)
	cache="$T/.cache-$u"
	[ -d "$cache" ] || { mkdir -p "$cache" && chown "$u:$u" "$cache"; }
	case "$PWD/" in "${TEST_ROOT:-/nonexistent}"/*) cd "$T" ;; esac
	# sanitizer builds: the LeakSanitizer suppressions, where the user can read them
	local lsan=
	if [ -n "${LSAN_OPTIONS:-}" ] && [ -f "$TEST_ROOT/tests/lsan.supp" ]; then
		[ -f "$T/.lsan.supp" ] || install -m 644 "$TEST_ROOT/tests/lsan.supp" "$T/.lsan.supp"
		lsan="suppressions=$T/.lsan.supp"
	fi
	exec setpriv --reuid="$u" --regid="$u" --init-groups --reset-env -- \
		env HOME="$home" USER="$u" LOGNAME="$u" PATH="$PATH" PYTHON="$PYTHON" ${lsan:+LSAN_OPTIONS="$lsan"} \
		PINION="$PINION" PINION_BUILD="$PINION_BUILD" T="$T" \
		PINION_CACHE_DIR="${RUN_AS_CACHE_DIR:-$cache}" ${XDG_RUNTIME_DIR:+XDG_RUNTIME_DIR=/tmp} \
		"$@"
)
