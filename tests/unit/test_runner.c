/* test_runner.c - the pure parts of runner/: subordinate id parsing, id map
 * text, user and env resolution, the mount plan, diff classification */
#include "tests/unit/tap.h"
#include "runner/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static void t_subid_parse(void)
{
	const char *text = "# "
			   "comment\nalice:100000:65536\n1001:200000:1000\nbob:300000:0\n\ncarol:"
			   "400000:70000\n";
	uint32_t s = 0, c = 0;
	struct pn_error *err = NULL;

	is_int(runner_subid_parse(text, "alice", 999, &s, &c, &err), 0, "alice found by name");
	is_int(s, 100000, "alice start");
	is_int(c, 65536, "alice count");
	is_int(runner_subid_parse(text, "nobody", 1001, &s, &c, &err), 0, "found by uid");
	is_int(s, 200000, "uid entry start");
	is_int(runner_subid_parse(text, "bob", 5, &s, &c, &err), 1, "zero count is no range");
	is_int(runner_subid_parse(text, "dave", 5, &s, &c, &err), 1, "absent user");
	is_int(runner_subid_parse("", "x", 1, &s, &c, &err), 1, "empty file");
	ok_fail(runner_subid_parse("alice:100000\n", "alice", 1, &s, &c, &err), &err,
		PN_ERR_INVALID, "line 1", "missing field refused with line number");
	ok_fail(runner_subid_parse("x:1:1\nalice:abc:5\n", "alice", 1, &s, &c, &err), &err,
		PN_ERR_INVALID, "line 2", "non-number refused");
	ok_fail(runner_subid_parse("alice:1:99999999999\n", "alice", 1, &s, &c, &err), &err,
		PN_ERR_INVALID, "bad number", "overflow refused");
	is_int(runner_subid_parse("alice:1:2\r\n", "alice", 1, &s, &c, &err), 0, "CRLF tolerated");
	is_int(c, 2, "CRLF count");
}

static void t_idmap_format(void)
{
	struct runner_idrange r[2] = {{0, 1000, 1}, {1, 100000, 65535}};
	cleanup_free char *t = runner_idmap_format(r, 2);
	cleanup_free char *e = runner_idmap_format(r, 0);

	is_str(t, "0 1000 1\n1 100000 65535\n", "two ranges");
	is_str(e, "", "no ranges");
}

static const char *passwd =
	"root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n"
	"app:x:1000:1000:App:/home/app:/bin/sh\nbroken:x:abc:1::/:/bin/sh\n";
static const char *group = "root:x:0:\nnogroup:x:65534:\nstaff:x:50:\n";

static void t_user_resolve(void)
{
	struct runner_user u;
	struct pn_error *err = NULL;

	ok_call(runner_user_resolve(NULL, passwd, group, &u, &err), &err, "default user");
	ok(u.uid == 0 && u.gid == 0, "default is root");
	is_str(u.home, "/root", "root's home");
	runner_user_release(&u);
	ok_call(runner_user_resolve("app", passwd, group, &u, &err), &err, "by name");
	ok(u.uid == 1000 && u.gid == 1000, "app is 1000:1000");
	is_str(u.home, "/home/app", "app's home");
	runner_user_release(&u);
	ok_call(runner_user_resolve("42", passwd, group, &u, &err), &err, "by uid");
	ok(u.uid == 42 && u.gid == 65534, "_apt's primary group from passwd");
	runner_user_release(&u);
	ok_call(runner_user_resolve("1234:staff", passwd, group, &u, &err), &err, "uid:group name");
	ok(u.uid == 1234 && u.gid == 50, "unknown uid with a named group");
	is_str(u.home, "/", "unknown uid's home is /");
	runner_user_release(&u);
	ok_call(runner_user_resolve("1000:7", NULL, NULL, &u, &err), &err,
		"numeric group without files");
	runner_user_release(&u);
	ok_fail(runner_user_resolve("ghost", passwd, group, &u, &err), &err, PN_ERR_INVALID,
		"`ghost`", "unknown name refused");
	ok_fail(runner_user_resolve("app:ghosts", passwd, group, &u, &err), &err, PN_ERR_INVALID,
		"`ghosts`", "unknown group refused");
	ok_fail(runner_user_resolve("broken", passwd, group, &u, &err), &err, PN_ERR_INVALID,
		"bad /etc/passwd", "malformed entry refused");
	ok_fail(runner_user_resolve("app:", passwd, group, &u, &err), &err, PN_ERR_INVALID,
		"bad user", "empty group refused");
}

static void t_env_build(void)
{
	cleanup_strv struct pn_strv cfg = PN_STRV_INIT;
	cleanup_strv struct pn_strv out = PN_STRV_INIT;
	const char *step[] = {"A=2", "B=3", "bogus", NULL};

	pn_strv_push(&cfg, "A=1");
	pn_strv_push(&cfg, "PATH=/opt/bin");
	runner_env_build(&cfg, step, "/home/app", &out);
	is_int(out.n, 4, "A, PATH, B, HOME");
	is_str(out.v[0], "A=2", "step env replaces config env in place");
	is_str(out.v[1], "PATH=/opt/bin", "config PATH kept");
	is_str(out.v[2], "B=3", "new name appended; entry without = dropped");
	is_str(out.v[3], "HOME=/home/app", "HOME from the user");
	pn_strv_release(&out);
	runner_env_build(NULL, NULL, NULL, &out);
	ok(out.n == 2 && strncmp(out.v[0], "PATH=/usr/local/sbin:", 21) == 0, "PATH defaulted");
	is_str(out.v[1], "HOME=/root", "HOME defaulted");
}

static size_t count_kind(const struct runner_plan *p, enum runner_mount_kind k)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += p->m[i].kind == k;
	return n;
}

static void t_plan(void)
{
	cleanup_strv struct pn_strv lowers = PN_STRV_INIT;
	struct runner_plan p;
	struct pn_error *err = NULL;
	struct runner_secret sec[] = {{"tok", "/host/tok", NULL},
				      {"key", "/host/key", "/etc/app/key"}};

	pn_strv_push(&lowers, "/s/l1");
	pn_strv_push(&lowers, "/s/l2");
	runner_plan_init(&p);
	ok_call(runner_plan_build(&p, &lowers, "/r/upper", "/r/work", "/r/mnt", sec, 2,
				  "/r/secrets", &err),
		&err, "plan with two secrets");
	ok(p.n > 10 && p.m[0].kind == RUNNER_MNT_OVERLAY, "overlay first");
	is_str(p.m[0].data,
	       "lowerdir=/r/mnt:/s/l2:/s/l1,upperdir=/r/upper,workdir=/r/work,userxattr",
	       "lowers top first, mount-point layer on top");
	is_int(count_kind(&p, RUNNER_MNT_PROC), 1, "one /proc");
	is_int(count_kind(&p, RUNNER_MNT_BIND_DEV), 6, "null zero full random urandom tty");
	is_int(count_kind(&p, RUNNER_MNT_DEVPTS), 1, "devpts");
	is_int(count_kind(&p, RUNNER_MNT_SECRET), 2, "two secrets");
	is_int(count_kind(&p, RUNNER_MNT_BIND_RO), 2, "resolv.conf and hosts");
	is_str(p.m[p.n - 2].target, "run/secrets/tok", "default secret target");
	is_str(p.m[p.n - 2].source, "/r/secrets/0", "secret copied to the tmpfs");
	is_str(p.m[p.n - 1].target, "etc/app/key", "explicit secret target");
	ok(runner_plan_excluded(&p, "etc/resolv.conf"), "resolv.conf not captured");
	ok(runner_plan_excluded(&p, "etc/hosts"), "hosts not captured");
	ok(runner_plan_excluded(&p, "run/secrets/tok"), "secret target not captured");
	ok(runner_plan_excluded(&p, "proc/1/status"), "below /proc not captured");
	ok(!runner_plan_excluded(&p, "etc/hostname"), "other files captured");
	ok(!runner_plan_excluded(&p, "procfoo"), "prefix without slash is not a match");
	ok(!runner_plan_excluded(&p, "run/secrets"), "the directory itself is captured if changed");
	runner_plan_release(&p);
}

static void t_plan_repeated_layer(void)
{
	cleanup_strv struct pn_strv lowers = PN_STRV_INIT;
	struct pn_error *err = NULL;
	cleanup_free char *o = NULL;

	pn_strv_push(&lowers, "/s/empty");
	pn_strv_push(&lowers, "/s/a");
	pn_strv_push(&lowers, "/s/empty");
	pn_strv_push(&lowers, "/s/b");
	o = runner_overlay_options("/m", &lowers, "/u", "/w", &err);
	is_str(o, "lowerdir=/m:/s/b:/s/empty:/s/a,upperdir=/u,workdir=/w,userxattr",
	       "a repeated layer appears once, at its highest place");
	ok(!runner_lower_shadowed(&lowers, 2) && runner_lower_shadowed(&lowers, 0),
	   "the lower copy is the shadowed one");
}

static void t_plan_refusals(void)
{
	cleanup_strv struct pn_strv lowers = PN_STRV_INIT;
	struct runner_plan p;
	struct pn_error *err = NULL;
	struct {
		const char *id, *target, *needle;
	} bad[] = {
		{"a", "relative/x", "not an absolute path"},
		{"a", "/", "not a file"},
		{"a", "/x/../etc/passwd", "plain path"},
		{"a", "/x//y", "plain path"},
		{"a", "/x/", "ends with"},
		{"a", "/proc/self/x", "/proc or /dev"},
		{"a/b", NULL, "bad secret id"},
		{"", NULL, "bad secret id"},
	};
	struct runner_secret dup[] = {{"a", "/h", "/x"}, {"b", "/h", "/x"}};

	pn_strv_push(&lowers, "/s/l1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct runner_secret s = {bad[i].id, "/h", bad[i].target};

		runner_plan_init(&p);
		ok_fail(runner_plan_build(&p, &lowers, "/u", "/w", "/m", &s, 1, "/sec", &err), &err,
			PN_ERR_INVALID, bad[i].needle, "secret `%s` -> `%s` refused", bad[i].id,
			bad[i].target ? bad[i].target : "(default)");
		runner_plan_release(&p);
	}
	runner_plan_init(&p);
	ok_fail(runner_plan_build(&p, &lowers, "/u", "/w", "/m", dup, 2, "/sec", &err), &err,
		PN_ERR_INVALID, "used twice", "same target twice refused");
	runner_plan_release(&p);
	pn_strv_push(&lowers, "/s/with:colon");
	runner_plan_init(&p);
	ok_fail(runner_plan_build(&p, &lowers, "/u", "/w", "/m", NULL, 0, "/sec", &err), &err,
		PN_ERR_INVALID, "with:colon", "path with a colon refused");
	runner_plan_release(&p);
}

static void t_overlay_too_long(void)
{
	cleanup_strv struct pn_strv lowers = PN_STRV_INIT;
	struct pn_error *err = NULL;
	char *o;

	for (int i = 0; i < 80; i++)
		pn_strv_push_owned(
			&lowers, xasprintf("/home/someone/.cache/pinion/snapshots/%064d/root", i));
	o = runner_overlay_options("/m", &lowers, "/u", "/w", &err);
	ok(o == NULL && err && err->code == PN_ERR_TOO_LARGE, "80 long lowers exceed one page");
	pn_error_clear(&err);
	free(o);
	o = runner_overlay_options("/m", &lowers, NULL, NULL, &err);
	ok(o == NULL, "also without an upper dir");
	pn_error_clear(&err);
	{
		struct runner_plan p;

		runner_plan_init(&p);
		ok_call(runner_plan_build(&p, &lowers, "/u", "/w", "/m", NULL, 0, "/s", &err), &err,
			"a long chain still plans");
		ok(p.m[0].kind == RUNNER_MNT_OVERLAY && p.m[0].data == NULL,
		   "overlay without options: mounted through fsconfig lowerdir+");
		runner_plan_release(&p);
	}
}

static void t_plan_caches(void)
{
	struct pn_error *err = NULL;
	struct pn_strv lowers = PN_STRV_INIT;
	struct runner_plan p;
	const struct runner_cache_mount ok_c[] = {{"/c/pip", "/run/pinion-cache/pip"},
						  {"/c/apt", "/run/pinion-cache/apt"}};
	const struct runner_cache_mount bad[][1] = {
		{{"/c", "/run/pinion-cache/../x"}}, {{"/c", "run/x"}}, {{"/c", "/proc/x"}},
		{{"/c", "/run/secrets/tok/x"}},	    {{"/c", "/etc"}},  {{"rel", "/cache"}},
	};

	pn_strv_push(&lowers, "/l/0");
	runner_plan_init(&p);
	ok_call(runner_plan_build(&p, &lowers, "/u", "/w", "/m", NULL, 0, "/s", &err), &err,
		"plan without secrets");
	ok_call(runner_plan_add_caches(&p, ok_c, 2, &err), &err, "two cache mounts");
	ok(p.m[p.n - 2].kind == RUNNER_MNT_BIND_RW && p.m[p.n - 1].kind == RUNNER_MNT_BIND_RW,
	   "bound read-write");
	is_str(p.m[p.n - 1].target, "run/pinion-cache/apt", "target relative to the root");
	is_str(p.m[p.n - 1].source, "/c/apt", "source as given");
	ok(runner_plan_excluded(&p, "run/pinion-cache/pip/http/x"),
	   "what is below is not captured");
	ok(!runner_plan_excluded(&p, "run/pinion-cache"), "its parent is");
	ok(!runner_plan_excluded(&p, "run/pinion-cache/pipx"), "a sibling is");
	ok_fail(runner_plan_add_caches(&p, ok_c, 1, &err), &err, PN_ERR_INVALID, "overlaps",
		"the same target twice is refused");
	runner_plan_release(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct runner_secret sec = {"tok", "/dev/null", NULL};

		runner_plan_init(&p);
		ok_call(runner_plan_build(&p, &lowers, "/u", "/w", "/m", &sec, 1, "/s", &err), &err,
			"plan with a secret");
		ok_fail(runner_plan_add_caches(&p, bad[i], 1, &err), &err, PN_ERR_INVALID, "",
			"cache `%s` on `%s` refused", bad[i][0].source, bad[i][0].target);
		runner_plan_release(&p);
	}
	pn_strv_release(&lowers);
}

static void t_diff_classify(void)
{
	struct stat st;
	cleanup_free char *a = runner_whiteout_name("etc/apt/lists");
	cleanup_free char *b = runner_whiteout_name("top");

	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFCHR | 0;
	st.st_rdev = makedev(0, 0);
	is_int(runner_diff_classify(&st, false), RUNNER_DIFF_WHITEOUT, "char 0:0 is a whiteout");
	st.st_rdev = makedev(1, 3);
	is_int(runner_diff_classify(&st, false), RUNNER_DIFF_ENTRY, "char 1:3 (null) is an entry");
	st.st_mode = S_IFDIR | 0755;
	is_int(runner_diff_classify(&st, true), RUNNER_DIFF_OPAQUE, "dir with opaque xattr");
	is_int(runner_diff_classify(&st, false), RUNNER_DIFF_ENTRY, "plain dir");
	st.st_mode = S_IFREG | 0644;
	is_int(runner_diff_classify(&st, true), RUNNER_DIFF_ENTRY, "opaque flag ignored on files");
	is_str(a, "etc/apt/.wh.lists", "nested whiteout name");
	is_str(b, ".wh.top", "top-level whiteout name");
}

static void t_idmap_parse(void)
{
	struct runner_idrange r[4];
	size_t n = 9;
	struct pn_error *err = NULL;

	ok_call(runner_idmap_parse("         0       1001          1\n"
				   "         1     100000      65535\n",
				   r, 4, &n, &err),
		&err, "two kernel-formatted lines");
	is_int(n, 2, "two ranges");
	is_int(r[1].inside, 1, "inside");
	is_int(r[1].outside, 100000, "outside");
	is_int(r[1].count, 65535, "count");
	is_int((int)runner_idmap_span(r, n), 65536, "span over both ranges");
	ok_call(runner_idmap_parse("0 0 4294967295\n", r, 4, &n, &err), &err, "the identity map");
	is_int(r[0].count == UINT32_MAX, 1, "full count");
	ok_call(runner_idmap_parse("", r, 4, &n, &err), &err, "empty map (not written yet)");
	is_int(n, 0, "no ranges");
	is_int((int)runner_idmap_span(r, 0), 0, "no ids");
	ok_fail(runner_idmap_parse("0 1000\n", r, 4, &n, &err), &err, PN_ERR_INVALID, "line 1",
		"two fields refused");
	ok_fail(runner_idmap_parse("0 1 1\n1 2 3 4\n", r, 4, &n, &err), &err, PN_ERR_INVALID,
		"line 2", "four fields refused");
	ok_fail(runner_idmap_parse("0 0 0\n", r, 4, &n, &err), &err, PN_ERR_INVALID, "line 1",
		"zero count refused");
	ok_fail(runner_idmap_parse("4294967295 0 2\n", r, 4, &n, &err), &err, PN_ERR_INVALID,
		"line 1", "range past 2^32 refused");
	ok_fail(runner_idmap_parse("-1 0 1\n", r, 4, &n, &err), &err, PN_ERR_INVALID, "line 1",
		"negative refused");
	ok_fail(runner_idmap_parse("0 0 1\n1 1 1\n2 2 1\n", r, 2, &n, &err), &err, PN_ERR_TOO_LARGE,
		"more than 2", "too many ranges refused");
	/* out of order, with a gap: the span stops at the gap */
	ok_call(runner_idmap_parse("5 500 10\n1 100 4\n0 7 1\n20 9 3\n", r, 4, &n, &err), &err,
		"unordered ranges");
	is_int((int)runner_idmap_span(r, n), 15, "span 0..14, gap at 15");
}

static void t_idmap_choose_root(void)
{
	struct runner_idmap m;
	struct pn_error *err = NULL;
	const char *id = "         0          0 4294967295\n";

	ok_call(runner_idmap_choose_root(id, id, "allow\n", 0, &m, &err), &err, "real root");
	is_int(m.mode, RUNNER_IDMAP_ROOT, "identity map: real root, as before");
	is_int(m.in_userns, 0, "not in a user namespace");
	ok_call(runner_idmap_choose_root("0 1000 1\n", "0 1000 1\n", "deny\n", 0, &m, &err), &err,
		"unshare --map-root-user");
	is_int(m.mode, RUNNER_IDMAP_SINGLE, "one id: single mode");
	is_int(m.in_userns, 1, "in a user namespace");
	is_int(m.setgroups_deny, 1, "setgroups deny seen");
	is_int(m.uid[0].outside, 0, "our 0 -> its 0");
	is_int(runner_idmap_can_setgroups(&m), 0, "no setgroups with one id");
	ok_call(runner_idmap_choose_root("0 1001 1\n1 100000 65535\n", "0 1001 1\n1 100000 65535\n",
					 "allow\n", 0, &m, &err),
		&err, "rootless podman / unshare --map-auto");
	is_int(m.mode, RUNNER_IDMAP_USERNS, "many ids: userns mode");
	is_int(m.n_uid, 2, "one child range per range of ours (the kernel wants that)");
	is_int(m.uid[0].inside == 0 && m.uid[0].outside == 0 && m.uid[0].count == 1, 1, "0 -> 0");
	is_int(m.uid[1].inside == 1 && m.uid[1].outside == 1 && m.uid[1].count == 65535, 1,
	       "1..65535 -> 1..65535");
	is_int(runner_idmap_can_setgroups(&m), 1, "setgroups allowed");
	ok_call(runner_idmap_choose_root("0 100000 65536\n", "0 100000 65536\n", "deny", 0, &m,
					 &err),
		&err, "65536 ids, setgroups denied");
	is_int(m.mode, RUNNER_IDMAP_USERNS, "userns mode");
	is_int(runner_idmap_can_setgroups(&m), 0, "but no setgroups when denied");
	ok_call(runner_idmap_choose_root("0 0 65536\n", "0 0 1\n", NULL, 0, &m, &err), &err,
		"many uids, one gid");
	is_int(m.mode, RUNNER_IDMAP_SINGLE, "both need two ids: single");
	ok_call(runner_idmap_choose_root("0 1 5\n10 20 5\n", "0 1 5\n", NULL, 0, &m, &err), &err,
		"a gap");
	is_int(m.n_uid, 1, "only the ids up to the gap");
	is_int(m.uid[0].count, 5, "5 ids");
	ok_fail(runner_idmap_choose_root("x\n", id, NULL, 0, &m, &err), &err, PN_ERR_INVALID,
		"uid_map", "a bad map refused");
}

static void t_probe_explain(void)
{
	cleanup_free char *a = runner_probe_explain(ENOSPC, true, "0", NULL, "0");
	cleanup_free char *b = runner_probe_explain(ENOSPC, false, "15", NULL, "0");
	cleanup_free char *c = runner_probe_explain(EPERM, false, "15", "0", "0");
	cleanup_free char *d = runner_probe_explain(EPERM, true, "15", "0", "2");
	cleanup_free char *e = runner_probe_explain(EPERM, false, "15", NULL, "0");
	cleanup_free char *f = runner_probe_explain(EUSERS, false, "15", NULL, NULL);

	ok(tap_contains(a, "user.max_user_namespaces is 0") && !strchr(a, '\n'),
	   "max_user_namespaces 0, one line: %s", a);
	ok(tap_contains(b, "used up"), "limit reached: %s", b);
	ok(tap_contains(c, "kernel.unprivileged_userns_clone is 0"), "Debian's sysctl: %s", c);
	ok(tap_contains(d, "seccomp"), "root is not hit by userns_clone; seccomp named: %s", d);
	ok(tap_contains(e, "chroot"), "EPERM otherwise: %s", e);
	ok(tap_contains(f, "32 levels"), "too deep: %s", f);
}

int main(void)
{
	TEST(t_subid_parse);
	TEST(t_idmap_format);
	TEST(t_idmap_parse);
	TEST(t_idmap_choose_root);
	TEST(t_probe_explain);
	TEST(t_user_resolve);
	TEST(t_env_build);
	TEST(t_plan);
	TEST(t_plan_repeated_layer);
	TEST(t_plan_refusals);
	TEST(t_overlay_too_long);
	TEST(t_plan_caches);
	TEST(t_diff_classify);
	return tap_done();
}
