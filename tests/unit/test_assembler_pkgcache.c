/* test_assembler_pkgcache.c - package caches across builds: the key of a
 * distribution from os-release, the pip command with a cache, the mounts of
 * a step over a rootfs (os-release through a link, apt only for apt steps
 * of apt images, a busy apt cache gives a private dir), prune by age. */
#include "tests/unit/tap.h"
#include "assembler/pkgcache.h"
#include "common/cleanup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

static void t_key(void)
{
	struct {
		const char *osr, *arch, *want;
	} c[] = {
		{"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
		 "VERSION_ID=\"12\"\nID=debian\n",
		 "amd64", "debian-12-amd64"},
		{"ID=ubuntu\nVERSION_ID=\"22.04\"\n", "arm64", "ubuntu-22.04-arm64"},
		{"ID=debian\nVERSION_CODENAME=trixie\n", "amd64", "debian-trixie-amd64"},
		{"ID='alpine'\nVERSION_ID=3.19.1", "amd64", "alpine-3.19.1-amd64"},
		/* never "." or "..": a key has two dashes */
		{"ID=../../etc\nVERSION_ID=a/b c\n", "amd64", ".._.._etc-a_b_c-amd64"},
		{"ID=Fedora\nVERSION_ID=\"\"\n", NULL, "fedora-unknown-unknown"},
		{NULL, "amd64", "unknown-unknown-amd64"},
		{"IDX=no\nID_LIKE=debian\n", "amd64", "unknown-unknown-amd64"},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		cleanup_free char *k = pkgcache_key(c[i].osr, c[i].arch);

		is_str(k, c[i].want, "key %zu", i);
	}
	{
		cleanup_free char *k = pkgcache_key(
			"ID=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nVERSION_ID=1\n",
			"x");

		ok(strlen(k) == 32 + 4, "each part at most 32 characters (%s)", k);
	}
}

static void t_shell(void)
{
	cleanup_free char *a =
		pkgcache_shell("pip install --no-cache-dir -r /tmp/requirements.txt");
	cleanup_free char *b = pkgcache_shell("pip install --no-cache-dir /tmp/cog.whl && "
					      "pip install --no-cache-dir x");
	cleanup_free char *c = pkgcache_shell("echo --no-cache-dir");

	is_str(a, "pip install -r /tmp/requirements.txt", "the planned pip step uses the cache");
	is_str(b, "pip install /tmp/cog.whl && pip install x", "each pip install");
	is_str(c, "echo --no-cache-dir", "other commands unchanged");
	ok(pkgcache_uses_apt("apt-get update -qq && apt-get install -qqy jq"), "apt-get");
	ok(pkgcache_uses_apt("apt install -y jq"), "apt");
	ok(!pkgcache_uses_apt("pip install -r /tmp/requirements.txt"), "pip is not apt");
	ok(!pkgcache_uses_apt(NULL), "no command");
}

/* root/dir/name holding text (dir created) */
static void put(const char *root, const char *dir, const char *name, const char *text)
{
	cleanup_free char *d = pn_path_join(root, dir);
	cleanup_free char *p = pn_path_join(d, name);

	pn_mkdir_p(d, 0755, NULL);
	pn_write_file_atomic(p, text, strlen(text), 0644, NULL);
}

/* a rootfs of two lowers: os-release in the top one, linked from the bottom */
static void rootfs(const char *tmp, struct pn_strv *lowers, bool apt)
{
	cleanup_free char *l0 = pn_path_join(tmp, "l0");
	cleanup_free char *l1 = pn_path_join(tmp, "l1");
	cleanup_free char *etc = pn_path_join(l0, "etc");
	cleanup_free char *link = pn_path_join(etc, "os-release");

	pn_mkdir_p(etc, 0755, NULL);
	symlink("../usr/lib/os-release", link);
	put(l1, "usr/lib", "os-release", "ID=debian\nVERSION_ID=\"12\"\n");
	if (apt)
		put(l0, "etc/apt/apt.conf.d", "docker-clean", "DPkg::Post-Invoke {};\n");
	pn_strv_push(lowers, l0);
	pn_strv_push(lowers, l1);
}

/* what step_open tests work in: a cache and a scratch dir (made) in a
 * fresh tap tmp dir */
struct fx {
	char *tmp; /* tap's: removed at the end */
	char *cache, *scratch;
	struct pn_error *err;
};

static void fx_init(struct fx *f)
{
	f->tmp = tap_tmpdir();
	f->cache = pn_path_join(f->tmp, "cache");
	f->scratch = pn_path_join(f->tmp, "scratch");
	f->err = NULL;
	mkdir(f->scratch, 0700);
}

static void fx_release(struct fx *f)
{
	free(f->cache);
	free(f->scratch);
	pn_error_free(f->err);
}

/* pc for a step running cmd over lowers (pkgcache_init, then step_open) */
static int fx_open(struct fx *f, struct pkgcache *pc, const struct pn_strv *lowers,
		   const char *arch, const char *cmd)
{
	pkgcache_init(pc);
	return pkgcache_step_open(pc, f->cache, f->scratch, lowers, arch, cmd, &f->err);
}

static void t_step_open(void)
{
	struct fx f;
	cleanup_free char *noapt = NULL;
	cleanup_strv struct pn_strv lowers = PN_STRV_INIT;
	cleanup_strv struct pn_strv bare = PN_STRV_INIT;
	struct pkgcache a, b, c;
	cleanup_free char *conf = NULL;
	size_t len = 0;

	fx_init(&f);
	noapt = pn_path_join(f.tmp, "noapt");
	rootfs(f.tmp, &lowers, true);
	ok_call(fx_open(&f, &a, &lowers, "amd64", "apt-get install -y jq"), &f.err, "an apt step");
	is_str(a.key, "debian-12-amd64", "keyed by the os-release the link names");
	ok(a.n_mounts == 2 && a.apt_shared && a.apt_conf, "pip and the shared apt dir");
	is_str(a.mounts[0].target, PKGCACHE_PIP_TARGET, "pip's target");
	is_str(a.mounts[1].target, PKGCACHE_APT_TARGET, "apt's target");
	ok(tap_contains(a.mounts[1].source, "/pkgcache/debian-12-amd64/apt"), "apt under the key");
	ok(a.apt_conf && pn_read_file(a.apt_conf, 4096, &conf, &len, NULL) == 0 &&
		   tap_contains(conf, "Dir::Cache::archives \"" PKGCACHE_APT_TARGET "/\"") &&
		   tap_contains(conf, "Dir::Cache \"" PKGCACHE_APT_TARGET "/\"") &&
		   tap_contains(conf, "Keep-Downloaded-Packages \"true\""),
	   "the apt options point at the mount and keep packages");
	ok_call(fx_open(&f, &b, &lowers, "amd64", "apt-get install -y jq"), &f.err,
		"a second apt step while the first runs");
	ok(b.n_mounts == 2 && !b.apt_shared && tap_contains(b.mounts[1].source, "/scratch/apt-"),
	   "gets a private apt dir");
	pkgcache_release(&b);
	pkgcache_release(&a);
	ok_call(fx_open(&f, &c, &lowers, "amd64", "pip install x"), &f.err, "a pip step");
	ok(c.n_mounts == 1 && !c.apt_conf, "pip only");
	pkgcache_release(&c);
	mkdir(noapt, 0755);
	pn_strv_push(&bare, noapt);
	ok_call(fx_open(&f, &c, &bare, "arm64", "apt-get install jq"), &f.err,
		"an image without apt");
	ok(c.n_mounts == 1 && !c.apt_conf, "no apt mount and no options");
	is_str(c.key, "unknown-unknown-arm64", "no os-release");
	pkgcache_release(&c);
	pn_rm_rf(f.tmp, NULL);
	fx_release(&f);
}

static void aged(const char *dir, const char *sub, const char *name, size_t size, time_t age)
{
	cleanup_free char *d = pn_path_join(dir, sub);
	cleanup_free char *p = pn_path_join(d, name);
	cleanup_free char *data = xcalloc(1, size + 1);
	struct utimbuf t = {time(NULL) - age, time(NULL) - age};

	memset(data, 'x', size);
	put(dir, sub, name, data);
	utime(p, &t);
}

static void t_prune(void)
{
	char *tmp = tap_tmpdir(); /* tap's: removed at the end */
	cleanup_free char *k = pn_path_join(tmp, "pkgcache/debian-12-amd64");
	cleanup_free char *lock = pn_path_join(k, "apt.lock");
	cleanup_free char *old = pn_path_join(k, "pip/http/old");
	cleanup_free char *new = pn_path_join(k, "pip/http/new");
	cleanup_free char *deb = pn_path_join(k, "apt/jq.deb");
	cleanup_free char *apt = pn_path_join(k, "apt");
	struct pkgcache_prune_stats st;
	struct pn_error *err = NULL;
	int fd;

	aged(k, "pip/http", "old", 64 << 10, 3000);
	aged(k, "pip/http", "new", 64 << 10, 10);
	aged(k, "apt", "jq.deb", 64 << 10, 2000);
	ok_call(pkgcache_prune(tmp, 150 << 10, NULL, &st, &err), &err, "prune to 150 KiB");
	ok(st.files == 1 && access(old, F_OK) != 0, "the file used longest ago goes (%zu removed)",
	   st.files);
	ok(access(deb, F_OK) == 0 && access(new, F_OK) == 0, "the others stay");
	ok(st.left <= 150 << 10 && st.bytes >= 64 << 10, "bounded: %lld left", (long long)st.left);
	fd = open(lock, O_RDWR | O_CLOEXEC);
	ok(fd >= 0 && flock(fd, LOCK_EX) == 0, "a build holds the apt cache");
	ok_call(pkgcache_prune(tmp, 0, NULL, &st, &err), &err, "prune all");
	ok(access(new, F_OK) != 0, "pip's files go");
	ok(access(deb, F_OK) == 0, "the apt cache in use stays");
	close(fd);
	ok_call(pkgcache_prune(tmp, 0, NULL, &st, &err), &err, "prune all again");
	ok(access(apt, F_OK) != 0, "now apt's too");
	pn_rm_rf(tmp, NULL);
}

/* a hostile base: its os-release and apt dirs are links out of the rootfs
 * (an absolute `usr` and `etc`), which pinion must not follow to the host */
static void t_hostile_rootfs(void)
{
	struct fx f;
	cleanup_free char *host = NULL, *l0 = NULL, *l1 = NULL, *usr = NULL, *etc = NULL;
	cleanup_strv struct pn_strv a = PN_STRV_INIT;
	cleanup_strv struct pn_strv b = PN_STRV_INIT;
	struct pkgcache pc;

	fx_init(&f);
	host = pn_path_join(f.tmp, "host");
	l0 = pn_path_join(f.tmp, "hl0");
	l1 = pn_path_join(f.tmp, "hl1");
	usr = pn_path_join(l0, "usr");
	etc = pn_path_join(l1, "etc");
	put(host, "lib", "os-release", "ID=hostleak\nVERSION_ID=9\n");
	put(host, "apt/apt.conf.d", "x", "");
	pn_mkdir_p(l0, 0755, NULL);
	symlink(host, usr); /* usr -> /: usr/lib/os-release is the host's */
	pn_strv_push(&a, l0);
	ok_call(fx_open(&f, &pc, &a, "amd64", "apt-get install jq"), &f.err,
		"a base whose usr is a link out");
	is_str(pc.key, "unknown-unknown-amd64", "the host's os-release is not read");
	pkgcache_release(&pc);
	pn_mkdir_p(l1, 0755, NULL);
	symlink(host, etc); /* etc -> /: etc/apt/apt.conf.d is the host's */
	pn_strv_push(&b, l1);
	ok_call(fx_open(&f, &pc, &b, "amd64", "apt-get install jq"), &f.err,
		"a base whose etc is a link out");
	ok(pc.n_mounts == 1 && !pc.apt_conf, "the host's apt dir does not count");
	pkgcache_release(&pc);
	fx_release(&f);
}

/* a key dir named by a hostile os-release (ID=.x) is pruned too, and a link
 * a build left in the cache is removed, never followed */
static void t_prune_hostile(void)
{
	char *tmp = tap_tmpdir(); /* tap's: removed at the end */
	cleanup_free char *c = pn_path_join(tmp, "pc");
	enum { HIDDEN, F, VICTIM, VFILE, KEY, LINK, FLINK, N };
	const char *rel[N] = {"pkgcache/.x-1-amd64",
			      "pkgcache/.x-1-amd64/pip/http/f",
			      "victim",
			      "victim/keep",
			      "pkgcache/debian-12-amd64",
			      "pkgcache/debian-12-amd64/pip/evil",
			      "pkgcache/debian-12-amd64/pip/http/evil-file"};
	char *p[N];
	struct pkgcache_prune_stats st;
	struct pn_error *err = NULL;

	for (size_t i = 0; i < N; i++)
		p[i] = pn_path_join(c, rel[i]);
	aged(p[HIDDEN], "pip/http", "f", 4096, 100);
	aged(p[VICTIM], ".", "keep", 4096, 5000);
	aged(p[KEY], "pip/http", "x", 4096, 100);
	symlink(p[VICTIM], p[LINK]);
	symlink(p[VFILE], p[FLINK]);
	ok_call(pkgcache_prune(c, 0, NULL, &st, &err), &err, "prune all");
	ok(access(p[F], F_OK) != 0, "the key dir starting with a dot is pruned");
	ok(access(p[VFILE], F_OK) == 0 && access(p[VICTIM], F_OK) == 0,
	   "what the links name stays");
	ok(faccessat(AT_FDCWD, p[LINK], F_OK, AT_SYMLINK_NOFOLLOW) != 0 &&
		   faccessat(AT_FDCWD, p[FLINK], F_OK, AT_SYMLINK_NOFOLLOW) != 0,
	   "the links go");
	for (size_t i = 0; i < N; i++)
		free(p[i]);
}

int main(void)
{
	TEST(t_key);
	TEST(t_shell);
	TEST(t_step_open);
	TEST(t_prune);
	TEST(t_hostile_rootfs);
	TEST(t_prune_hostile);
	return tap_done();
}
