/* test_registry.c - references, WWW-Authenticate, options, mirrors, config
 * file, credential sources (auth.json, docker config, credential helpers),
 * auth file store/remove, base64 */
#include "tests/unit/tap.h"
#include "registry/internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void ref_good(const char *in, const char *want)
{
	struct registry_ref r;
	struct pn_error *err = NULL;
	char *s;

	registry_ref_init(&r);
	if (registry_ref_parse(in, &r, &err) < 0) {
		ok(0, "parse `%s`", in);
		tap_diag("error: %s", err->msg);
		pn_error_free(err);
		return;
	}
	s = registry_ref_format(&r);
	is_str(s, want, "parse `%s`", in);
	free(s);
	registry_ref_release(&r);
}

static void ref_bad(const char *in, const char *needle)
{
	struct registry_ref r;
	struct pn_error *err = NULL;

	registry_ref_init(&r);
	ok_fail(registry_ref_parse(in, &r, &err), &err, PN_ERR_INVALID, needle, "refuse `%s`", in);
	registry_ref_release(&r);
}

static void ok_ref_len(const char *s, bool want_ok, const char *what)
{
	struct registry_ref r;
	struct pn_error *err = NULL;
	int rc;

	registry_ref_init(&r);
	rc = registry_ref_parse(s, &r, &err);
	if (want_ok)
		ok(rc == 0, "%s accepted", what);
	else
		ok(rc < 0 && err && err->code == PN_ERR_INVALID && strlen(err->msg) < 400,
		   "%s refused with a short message", what);
	if (err && want_ok)
		tap_diag("error: %s", err->msg);
	pn_error_free(err);
	registry_ref_release(&r);
}

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void t_ref_parse(void)
{
	ref_good("python:3.11-slim", "docker.io/library/python:3.11-slim");
	ref_good("python", "docker.io/library/python:latest");
	ref_good("docker://python", "docker.io/library/python:latest");
	ref_good("o/r", "docker.io/o/r:latest");
	ref_good("index.docker.io/o/r:1", "docker.io/o/r:1");
	ref_good("registry-1.docker.io/library/x", "docker.io/library/x:latest");
	ref_good("ghcr.io/o/r:tag", "ghcr.io/o/r:tag");
	ref_good("localhost/r", "localhost/r:latest");
	ref_good("localhost:5000/a/b/c:v1.2_x-y", "localhost:5000/a/b/c:v1.2_x-y");
	ref_good("127.0.0.1:5000/r@sha256:" D64, "127.0.0.1:5000/r@sha256:" D64);
	ref_good("host.io/r:t@sha256:" D64, "host.io/r:t@sha256:" D64);
	ref_good("r8.im/user/model", "r8.im/user/model:latest");
	ref_good("[::1]:5000/r:t", "[::1]:5000/r:t");
	ref_good("a/b__c/d-e.f--g:T", "docker.io/a/b__c/d-e.f--g:T");
	ref_good("nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04",
		 "docker.io/nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04");

	ref_bad("", "empty");
	ref_bad("docker://", "empty");
	ref_bad("Python:3", "lowercase");
	ref_bad("host.io/Org/r", "lowercase");
	ref_bad("r:", "tag");
	ref_bad("r:-x", "tag");
	ref_bad("r:.x", "tag");
	ref_bad("r@sha256:abc", "digest");
	ref_bad("r@md5:" D64, "digest");
	ref_bad("r@sha256:" D64 "0", "digest");
	ref_bad("host.io/", "empty");
	ref_bad("host.io//r", "repository");
	ref_bad("a/b/", "repository");
	ref_bad("a b", "whitespace");
	ref_bad("r_:t", "repository");
	ref_bad("-r", "repository");
	ref_bad("host:99999/r", "registry");
	ref_bad("host:/r", "registry");
	ref_bad("oci:/tmp/x", "layout");
	ref_bad("a..b", "repository");
	/* lengths: repository 255, tag 128, whole reference 4096 */
	{
		char repo[300], tag[200], *s;
		memset(repo, 'a', sizeof(repo) - 1);
		repo[sizeof(repo) - 1] = '\0';
		memset(tag, 't', sizeof(tag) - 1);
		tag[sizeof(tag) - 1] = '\0';
		s = xasprintf("h.io/%.*s:v", REGISTRY_REPO_MAX, repo);
		ok_ref_len(s, true, "repository of 255 characters");
		free(s);
		s = xasprintf("h.io/%.*s:v", REGISTRY_REPO_MAX + 1, repo);
		ok_ref_len(s, false, "repository of 256 characters");
		free(s);
		s = xasprintf("h.io/r:%.*s", REGISTRY_TAG_MAX, tag);
		ok_ref_len(s, true, "tag of 128 characters");
		free(s);
		s = xasprintf("h.io/r:%.*s", REGISTRY_TAG_MAX + 1, tag);
		ok_ref_len(s, false, "tag of 129 characters");
		free(s);
		s = xasprintf("h.io/r:%.*s%5000s", 1, tag, "");
		ok_ref_len(s, false, "reference over 4096 characters");
		free(s);
	}
}

static void t_ref_fields(void)
{
	struct registry_ref r, c;
	struct pn_error *err = NULL;

	ok_call(registry_ref_parse("localhost:5000/ns/r:t@sha256:" D64, &r, &err), &err, "parse");
	is_str(r.registry, "localhost:5000", "registry");
	is_str(r.repository, "ns/r", "repository");
	is_str(r.tag, "t", "tag kept with digest");
	is_str(registry_ref_reference(&r), "sha256:" D64, "digest wins for fetching");
	registry_ref_copy(&c, &r);
	is_str(c.digest, r.digest, "copy");
	registry_ref_release(&c);
	registry_ref_release(&r);
	ok_call(registry_ref_parse("x@sha256:" D64, &r, &err), &err, "digest only");
	ok(r.tag == NULL, "no tag with digest only");
	registry_ref_release(&r);
	ok(registry_location_is_layout("oci:/a:b"), "oci: is a layout");
	ok(!registry_location_is_layout("docker://a"), "docker:// is not");
	ok(registry_host_is_loopback("127.0.0.1:5000"), "127.0.0.1 loopback");
	ok(registry_host_is_loopback("localhost"), "localhost loopback");
	ok(registry_host_is_loopback("[::1]:80"), "::1 loopback");
	ok(!registry_host_is_loopback("ghcr.io"), "ghcr.io not loopback");
	ok(!registry_host_is_loopback("localhost.evil.com"), "localhost.evil.com not loopback");
	ok(registry_host_is_loopback("127.0.0.1"), "127.0.0.1 without port loopback");
	ok(registry_host_is_loopback("127.1.2.3:80"), "127.1.2.3 loopback");
	ok(!registry_host_is_loopback("127.evil.com:443"), "127.evil.com not loopback");
	ok(!registry_host_is_loopback("127.0.0.1.nip.io"), "127.0.0.1.nip.io not loopback");
	ok(!registry_host_is_loopback("[::1]x.io"), "[::1]x.io not loopback");
}

static void t_challenge(void)
{
	struct registry_challenge c;
	struct pn_error *err = NULL;
	const char *h =
		"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		"scope=\"repository:samalba/my-app:pull,push\"";

	ok_call(registry_challenge_parse(h, strlen(h), &c, &err), &err, "bearer parses");
	is_str(c.scheme, "bearer", "scheme lowercased");
	is_str(c.realm, "https://auth.docker.io/token", "realm");
	is_str(c.service, "registry.docker.io", "service");
	is_str(c.scope, "repository:samalba/my-app:pull,push", "scope");
	registry_challenge_release(&c);

	h = "Basic realm=\"Registry Realm\"";
	ok_call(registry_challenge_parse(h, strlen(h), &c, &err), &err, "basic parses");
	is_str(c.scheme, "basic", "basic scheme");
	is_str(c.realm, "Registry Realm", "realm with space");
	registry_challenge_release(&c);

	h = "bearer  REALM = \"a\\\"b\" , error=insufficient_scope,, foo=bar";
	ok_call(registry_challenge_parse(h, strlen(h), &c, &err), &err, "spaces, escapes, case");
	is_str(c.realm, "a\"b", "escaped quote");
	is_str(c.error, "insufficient_scope", "token value");
	registry_challenge_release(&c);

	h = "Bearer realm=https://x/token";
	ok_call(registry_challenge_parse(h, strlen(h), &c, &err), &err, "unquoted URL value");
	is_str(c.realm, "https://x/token", "unquoted realm");
	registry_challenge_release(&c);

	h = "Bearer";
	ok_call(registry_challenge_parse(h, strlen(h), &c, &err), &err, "scheme alone");
	ok(c.realm == NULL, "no realm");
	registry_challenge_release(&c);

	ok_fail(registry_challenge_parse("", 0, &c, &err), &err, PN_ERR_INVALID, "scheme", "empty");
	h = "Bearer realm=\"unterminated";
	ok_fail(registry_challenge_parse(h, strlen(h), &c, &err), &err, PN_ERR_INVALID,
		"unterminated", "unterminated quote");
	h = "Bearer realm=\"a\" service";
	ok_fail(registry_challenge_parse(h, strlen(h), &c, &err), &err, PN_ERR_INVALID, NULL,
		"missing comma");
	h = "\"x\"";
	ok_fail(registry_challenge_parse(h, strlen(h), &c, &err), &err, PN_ERR_INVALID, "scheme",
		"no scheme");
	{
		char big[REGISTRY_HEADER_MAX + 10];
		memset(big, 'a', sizeof(big));
		ok_fail(registry_challenge_parse(big, sizeof(big), &c, &err), &err,
			PN_ERR_TOO_LARGE, "longer", "header limit");
	}
}

static void t_mirrors(void)
{
	struct registry_opts o;
	struct pn_error *err = NULL;

	registry_opts_init(&o);
	ok_call(registry_opts_add_mirror(&o, "docker.io=127.0.0.1:5000", &err), &err,
		"host mirror");
	ok_call(registry_opts_add_mirror(&o, "r8.im=oci:/srv/bases", &err), &err, "layout mirror");
	ok_call(registry_opts_add_mirror(&o, "docker.io=http://10.0.0.1:80/", &err), &err,
		"later mirror wins, http:// marks insecure");
	is_int(o.n_mirrors, 2, "two mirrors");
	is_str(o.mirrors[0].to, "10.0.0.1:80", "replaced, scheme and path dropped");
	is_str(o.mirrors[1].layout, "/srv/bases", "layout dir");
	ok(pn_strv_contains(&o.insecure, "10.0.0.1:80"), "http mirror insecure");
	ok_fail(registry_opts_add_mirror(&o, "docker.io", &err), &err, PN_ERR_INVALID,
		"FROM=", "no =");
	ok_fail(registry_opts_add_mirror(&o, "=x", &err), &err, PN_ERR_INVALID, NULL, "empty from");
	ok_fail(registry_opts_add_mirror(&o, "a b=x", &err), &err, PN_ERR_INVALID, "registry host",
		"bad from");
	ok_fail(registry_opts_add_mirror(&o, "x.io=oci:", &err), &err, PN_ERR_INVALID,
		"empty layout", "empty layout");
	ok_fail(registry_opts_add_mirror(&o, "x.io=h:0", &err), &err, PN_ERR_INVALID, "host[:port]",
		"bad port");
	registry_opts_release(&o);
}

static void t_config_file(void)
{
	char *dir = tap_tmpdir();
	char *path = pn_path_join(dir, "registries.conf");
	struct registry_opts o;
	struct pn_error *err = NULL;
	const char *text = "# test\n\nmirror docker.io=127.0.0.1:5000  # trailing\n"
			   "  insecure myreg.local:5000\nca-bundle /tmp/ca.pem\n"
			   "cache-from r.io/c:a\ncache-from oci:/c:b\ncache-to r.io/c:a,mode=max\n";

	registry_opts_init(&o);
	ok_call(pn_write_file_atomic(path, text, strlen(text), 0644, &err), &err, "write config");
	ok_call(registry_opts_load_config(&o, path, &err), &err, "load config");
	is_int(o.n_mirrors, 1, "one mirror");
	ok(pn_strv_contains(&o.insecure, "myreg.local:5000"), "insecure host");
	is_str(o.ca_bundle, "/tmp/ca.pem", "ca bundle");
	is_int(o.cache_from.n, 2, "two cache-from lines");
	is_str(o.cache_from.v[1], "oci:/c:b", "cache-from kept as written");
	is_int(o.cache_to.n, 1, "one cache-to line");
	is_str(o.cache_to.v[0], "r.io/c:a,mode=max", "cache-to with its options");
	text = "mirror docker.io=127.0.0.1:5000\nfrobnicate x\n";
	ok_call(pn_write_file_atomic(path, text, strlen(text), 0644, &err), &err,
		"write bad config");
	ok_fail(registry_opts_load_config(&o, path, &err), &err, PN_ERR_INVALID,
		":2: unknown directive", "unknown directive names file:line");
	text = "mirror\n";
	ok_call(pn_write_file_atomic(path, text, strlen(text), 0644, &err), &err,
		"write bad config");
	ok_fail(registry_opts_load_config(&o, path, &err), &err, PN_ERR_INVALID,
		":1: `mirror` needs", "missing value");
	free(path);
	path = pn_path_join(dir, "absent.conf");
	ok_fail(registry_opts_load_config(&o, path, &err), &err, PN_ERR_NOT_FOUND, "absent.conf",
		"explicit missing file is an error");
	setenv("XDG_CONFIG_HOME", dir, 1);
	unsetenv("PINION_REGISTRIES_CONF");
	ok_call(registry_opts_load_config(&o, NULL, &err), &err, "missing default file is fine");
	setenv("PINION_REGISTRIES_CONF", path, 1);
	ok_fail(registry_opts_load_config(&o, NULL, &err), &err, PN_ERR_NOT_FOUND, NULL,
		"missing $PINION_REGISTRIES_CONF is an error");
	unsetenv("PINION_REGISTRIES_CONF");
	unsetenv("XDG_CONFIG_HOME");
	free(path);
	registry_opts_release(&o);
}

static void t_targets(void)
{
	struct registry_opts o;
	struct registry_client *c = NULL;
	struct registry_target t;
	struct pn_error *err = NULL;

	registry_opts_init(&o);
	registry_opts_add_mirror(&o, "docker.io=127.0.0.1:5000", NULL);
	registry_opts_add_mirror(&o, "r8.im=oci:/srv/bases", NULL);
	registry_opts_add_insecure(&o, "myreg.local");
	ok_call(registry_client_new(&o, &c, &err), &err, "client");
	ok_call(registry_target_resolve(c, "python:3.11", &t, &err), &err, "resolve mirrored");
	is_str(t.host->name, "127.0.0.1:5000", "docker.io goes to the mirror");
	is_str(t.repository, "library/python", "repository kept");
	registry_target_release(&t);
	ok_call(registry_target_resolve(c, "r8.im/u/m:v", &t, &err), &err, "resolve layout mirror");
	ok(t.host == NULL, "no host for a layout mirror");
	is_str(t.layout_dir, "/srv/bases", "layout dir");
	registry_target_release(&t);
	ok_call(registry_target_resolve(c, "myreg.local:5000/x", &t, &err), &err, "insecure host");
	ok(t.host->insecure, "insecure matches host without port");
	registry_target_release(&t);
	ok_call(registry_target_resolve(c, "ghcr.io/x", &t, &err), &err, "plain host");
	ok(!t.host->insecure, "ghcr.io is not insecure");
	registry_target_release(&t);
	registry_client_free(c);
	/* blob sources persist in the cache directory across clients */
	setenv("PINION_CACHE_DIR", tap_tmpdir(), 1);
	ok_call(registry_client_new(&o, &c, &err), &err, "client 1");
	registry_client_remember_blob(c, "127.0.0.1:5000", "library/python", "sha256:" D64);
	registry_client_free(c);
	ok_call(registry_client_new(&o, &c, &err), &err, "client 2");
	{
		char *src =
			registry_client_blob_source(c, "127.0.0.1:5000", "my/app", "sha256:" D64);
		is_str(src, "library/python", "a later client knows where the blob was seen");
		free(src);
		src = registry_client_blob_source(c, "127.0.0.1:5000", "library/python",
						  "sha256:" D64);
		ok(src == NULL, "no mount from the repository itself");
		free(src);
		src = registry_client_blob_source(c, "other:1", "my/app", "sha256:" D64);
		ok(src == NULL, "nor from another registry");
		free(src);
	}
	registry_client_free(c);
	unsetenv("PINION_CACHE_DIR");
	registry_opts_release(&o);
	o.ca_bundle = xstrdup("/nonexistent/ca.pem");
	ok_fail(registry_client_new(&o, &c, &err), &err, PN_ERR_NOT_FOUND, "CA bundle",
		"missing CA bundle");
	registry_opts_release(&o);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	struct pn_error *err = NULL;

	if (pn_write_file_atomic(path, text, strlen(text), mode, &err) < 0) {
		tap_diag("write %s: %s", path, err->msg);
		pn_error_free(err);
	}
}

static void lookup(const struct registry_opts *o, const char *host, const char *want_user,
		   const char *want_pass, const char *what)
{
	struct registry_creds cr = {0};
	struct pn_error *err = NULL;
	bool found = false;

	ok_call(registry_creds_lookup(o, host, &cr, &found, &err), &err, "lookup %s", what);
	if (!want_user) {
		ok(!found, "%s: nothing found", what);
	} else {
		ok(found, "%s: found", what);
		is_str(cr.user, want_user, "%s: user", what);
		is_str(cr.pass, want_pass, "%s: password", what);
	}
	registry_creds_release(&cr);
}

/* no such process, or a zombie (killed; reaped by init in its own time) */
static bool proc_gone(pid_t pid)
{
	char path[64], *txt = NULL, *rp;
	size_t n = 0;
	bool gone;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (pn_read_file(path, 4096, &txt, &n, NULL) < 0)
		return true;
	rp = strrchr(txt, ')');
	gone = rp && rp[1] == ' ' && rp[2] == 'Z';
	free(txt);
	return gone;
}

/* SIGKILL of a process that is not our child lands asynchronously: wait for
 * it up to a generous 10 s */
static bool proc_gone_soon(pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		if (proc_gone(pid))
			return true;
		usleep(10000);
	}
	return false;
}

static void t_creds(void)
{
	char *dir = tap_tmpdir();
	char *home = pn_path_join(dir, "home"), *bin = pn_path_join(dir, "bin");
	char *p, *oldpath = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	struct registry_opts o;
	struct pn_error *err = NULL;
	struct stat st;
	bool removed = false;

	pn_mkdir_p(home, 0755, NULL);
	pn_mkdir_p(bin, 0755, NULL);
	setenv("HOME", home, 1);
	unsetenv("DOCKER_CONFIG");
	unsetenv("REGISTRY_AUTH_FILE");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_CONFIG_HOME");
	registry_opts_init(&o);
	lookup(&o, "ghcr.io", NULL, NULL, "empty home");

	/* docker config: auths (Hub under its v1 URL), credHelpers, credsStore */
	p = xasprintf("%s/.docker", home);
	pn_mkdir_p(p, 0700, NULL);
	free(p);
	p = xasprintf("%s/.docker/config.json", home);
	write_text(p,
		   "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"},"
		   "\"ghcr.io\":{\"auth\":\"Z2g6cDpx\"},"
		   "\"spelled.io\":{\"username\":\"su2\",\"password\":\"sp2\"},"
		   "\"https://k8s.io\":{\"username\":\"ku\",\"password\":\"kp\","
		   "\"email\":\"e@x\",\"auth\":\"a3U6a3A=\"}},"
		   "\"credHelpers\":{\"helped.io\":\"pntest\"},\"credsStore\":\"pnstore\"}",
		   0600);
	free(p);
	lookup(&o, "docker.io", "hub", "hubpw", "docker config, Hub v1 key");
	lookup(&o, "ghcr.io", "gh", "p:q", "docker config auths");
	lookup(&o, "spelled.io", "su2", "sp2", "docker config username and password, no auth");
	lookup(&o, "k8s.io", "ku", "kp", "kubectl's .dockerconfigjson entry, URL key");
	p = xasprintf("%s/docker-credential-pntest", bin);
	write_text(p,
		   "#!/bin/sh\nread host\n[ \"$1\" = get ] && [ \"$host\" = helped.io ] && "
		   "echo '{\"ServerURL\":\"helped.io\",\"Username\":\"hu\",\"Secret\":\"hs\"}'\n",
		   0755);
	free(p);
	p = xasprintf("%s/docker-credential-pnstore", bin);
	write_text(p,
		   "#!/bin/sh\nread host\n[ \"$host\" = store.io ] || exit 1\n"
		   "echo '{\"Username\":\"su\",\"Secret\":\"ss\"}'\n",
		   0755);
	free(p);
	p = xasprintf("%s:%s", bin, oldpath);
	setenv("PATH", p, 1);
	free(p);
	lookup(&o, "helped.io", "hu", "hs", "credHelpers");
	lookup(&o, "store.io", "su", "ss", "credsStore");
	lookup(&o, "other.io", NULL, NULL, "credsStore without an entry");

	/* a helper that hangs (and a child of it that holds stdout) is killed
	 * at the timeout; one that floods is killed past the output limit */
	{
		struct registry_creds cr = {0};
		bool found = false;
		char *cfg = xasprintf("%s/.docker/config.json", home);
		char *pidf = pn_path_join(dir, "hang.pid");
		char *script =
			xasprintf("#!/bin/sh\nsleep 300 &\necho $$ $! >%s\nsleep 300\n", pidf);
		int64_t t0;

		write_text(cfg,
			   "{\"credHelpers\":{\"hang.io\":\"pnhang\",\"flood.io\":\"pnflood\","
			   "\"quiet.io\":\"pnquiet\",\"missing.io\":\"pnmissing\"}}",
			   0600);
		p = xasprintf("%s/docker-credential-pnhang", bin);
		write_text(p, script, 0755);
		free(p);
		p = xasprintf("%s/docker-credential-pnflood", bin);
		write_text(p, "#!/bin/sh\nhead -c 10485760 /dev/zero | tr '\\0' x\n", 0755);
		free(p);
		p = xasprintf("%s/docker-credential-pnquiet", bin);
		write_text(p, "#!/bin/sh\nexec >&-\nsleep 300\n", 0755);
		free(p);
		o.helper_timeout = 1;
		t0 = registry_now_ms();
		ok_fail(registry_creds_lookup(&o, "hang.io", &cr, &found, &err), &err, PN_ERR_AUTH,
			"`docker-credential-pnhang` did not answer within 1 s: killed "
			"(--credential-helper-timeout)",
			"hanging helper");
		ok(registry_now_ms() - t0 < 20000, "cut within a generous bound: %lld ms",
		   (long long)(registry_now_ms() - t0));
		{
			char *pidtxt = NULL;
			size_t n = 0;
			long hp = 0, kid = 0;
			char *end = NULL;
			if (pn_read_file(pidf, 64, &pidtxt, &n, &err) == 0) {
				hp = strtol(pidtxt, &end, 10);
				kid = strtol(end, NULL, 10);
			}
			pn_error_clear(&err);
			ok(hp > 0 && proc_gone((pid_t)hp), "the helper process is gone (pid %ld)",
			   hp);
			ok(kid > 0 && proc_gone_soon((pid_t)kid),
			   "and the child it started (pid %ld)", kid);
			free(pidtxt);
		}
		t0 = registry_now_ms();
		ok_fail(registry_creds_lookup(&o, "quiet.io", &cr, &found, &err), &err, PN_ERR_AUTH,
			"did not answer within 1 s", "helper that closes stdout and stays");
		ok(registry_now_ms() - t0 < 20000, "cut within a generous bound");
		o.helper_timeout = 0; /* none: the output limit alone stops the flood */
		ok_fail(registry_creds_lookup(&o, "flood.io", &cr, &found, &err), &err, PN_ERR_AUTH,
			"`docker-credential-pnflood` gave more than 64 KiB of output: killed",
			"flooding helper");
		ok(!found, "nothing found");
		ok_fail(registry_creds_lookup(&o, "missing.io", &cr, &found, &err), &err,
			PN_ERR_AUTH, "`docker-credential-pnmissing` could not be run",
			"a helper that is not installed");
		ok(!found, "nothing found");
		o.helper_timeout = -1;
		registry_creds_release(&cr);
		write_text(
			cfg,
			"{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"},"
			"\"ghcr.io\":{\"auth\":\"Z2g6cDpx\"}}}",
			0600);
		free(script);
		free(pidf);
		free(cfg);
	}

	/* containers auth.json comes first */
	p = xasprintf("%s/.config/containers/auth.json", home);
	ok_call(registry_auth_file_store(p, "ghcr.io", "new", "pw", &err), &err,
		"store in auth.json");
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600, "auth.json is mode 0600");
	lookup(&o, "ghcr.io", "new", "pw", "auth.json before docker config");
	ok_call(registry_auth_file_remove(p, "ghcr.io", &removed, &err), &err, "remove");
	ok(removed, "removed");
	lookup(&o, "ghcr.io", "gh", "p:q", "after logout, docker config again");
	ok_call(registry_auth_file_remove(p, "ghcr.io", &removed, &err), &err, "remove again");
	ok(!removed, "nothing to remove");
	free(p);

	/* $REGISTRY_AUTH_FILE is the only source when set; --creds beats all */
	p = pn_path_join(dir, "ra.json");
	write_text(p, "{\"auths\":{\"q.io\":{\"auth\":\"cjpz\"}}}", 0600);
	setenv("REGISTRY_AUTH_FILE", p, 1);
	lookup(&o, "q.io", "r", "s", "REGISTRY_AUTH_FILE");
	lookup(&o, "ghcr.io", NULL, NULL, "REGISTRY_AUTH_FILE excludes docker config");
	write_text(p, "{\"auths\":{\"q.io\":{\"auth\":\"!!\"}}}", 0600);
	{
		struct registry_creds cr = {0};
		bool found = false;
		ok_fail(registry_creds_lookup(&o, "q.io", &cr, &found, &err), &err, PN_ERR_INVALID,
			"malformed", "malformed auth entry");
		registry_creds_release(&cr);
	}
	write_text(p, "[1]", 0600);
	{
		struct registry_creds cr = {0};
		bool found = false;
		ok_fail(registry_creds_lookup(&o, "q.io", &cr, &found, &err), &err, PN_ERR_INVALID,
			"not a JSON object", "auth file not an object");
		registry_creds_release(&cr);
	}
	unsetenv("REGISTRY_AUTH_FILE");
	o.username = xstrdup("cli");
	o.password = xstrdup("clipw");
	lookup(&o, "ghcr.io", "cli", "clipw", "explicit creds");
	free(p);
	setenv("PATH", oldpath, 1);
	free(oldpath);
	free(home);
	free(bin);
	registry_opts_release(&o);
}

/* a named auth file that does not exist: an error naming it and its
 * source, from the first reference resolved; none named: nothing to check */
static void t_auth_file_missing(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *missing = pn_path_join(dir, "no-auth.json");
	cleanup_free char *there = pn_path_join(dir, "auth.json");
	struct registry_opts o;
	struct registry_client *c = NULL;
	struct registry_target t;
	struct pn_error *err = NULL;

	write_text(there, "{}", 0600);
	unsetenv("REGISTRY_AUTH_FILE");
	registry_opts_init(&o);
	ok_call(registry_auth_file_check(&o, &err), &err, "no file named: fine");
	o.auth_file = xstrdup(missing);
	ok_fail(registry_auth_file_check(&o, &err), &err, PN_ERR_INVALID,
		"no-auth.json` (--authfile) does not exist", "--authfile named in the error");
	ok_call(registry_client_new(&o, &c, &err), &err, "client");
	ok_fail(registry_target_resolve(c, "ghcr.io/o/r:v1", &t, &err), &err, PN_ERR_INVALID,
		"--authfile", "resolving a reference checks it");
	registry_client_free(c);
	free(o.auth_file);
	o.auth_file = NULL;
	setenv("REGISTRY_AUTH_FILE", missing, 1);
	ok_fail(registry_auth_file_check(&o, &err), &err, PN_ERR_INVALID,
		"($REGISTRY_AUTH_FILE) does not exist", "$REGISTRY_AUTH_FILE named in the error");
	o.auth_file = xstrdup(there);
	ok_call(registry_auth_file_check(&o, &err), &err,
		"--authfile that exists wins over a missing $REGISTRY_AUTH_FILE");
	unsetenv("REGISTRY_AUTH_FILE");
	registry_opts_release(&o);
}

static void t_backoff(void)
{
	int64_t ms;

	ms = registry_backoff_ms(0, NULL);
	ok(ms >= 200 && ms < 250, "first retry waits 0.2 s (+ jitter): %lld", (long long)ms);
	ms = registry_backoff_ms(2, "");
	ok(ms >= 800 && ms < 850, "third retry waits 0.8 s: %lld", (long long)ms);
	ms = registry_backoff_ms(30, NULL);
	ok(ms >= 8000 && ms < 8050, "capped at 8 s: %lld", (long long)ms);
	ms = registry_backoff_ms(0, "3");
	ok(ms >= 3000 && ms < 3050, "Retry-After: 3 waits 3 s: %lld", (long long)ms);
	ms = registry_backoff_ms(0, "86400");
	ok(ms >= 60000 && ms < 60050, "Retry-After capped at 60 s: %lld", (long long)ms);
	ms = registry_backoff_ms(1, "Wed, 21 Oct 2015 07:28:00 GMT");
	ok(ms >= 400 && ms < 450, "an HTTP-date Retry-After falls back to the backoff: %lld",
	   (long long)ms);
}

/* the one retry policy: what is transient, how many retries, when the next */
static void t_retry(void)
{
	struct registry_retry r;
	int64_t now, at;

	ok(registry_retry_transient(CURLE_RECV_ERROR, 0), "a reset connection is transient");
	ok(registry_retry_transient(CURLE_OPERATION_TIMEDOUT, 0), "a timeout is transient");
	ok(!registry_retry_transient(CURLE_PEER_FAILED_VERIFICATION, 0),
	   "a bad certificate is not");
	ok(registry_retry_transient(CURLE_OK, 503) && registry_retry_transient(CURLE_OK, 429),
	   "503 and 429 are transient");
	ok(!registry_retry_transient(CURLE_OK, 404) && !registry_retry_transient(CURLE_OK, 401),
	   "404 and 401 are not");
	ok(!registry_retry_transient(CURLE_COULDNT_RESOLVE_HOST, 503),
	   "a transport error decides, not a stale status");

	registry_retry_init(&r, 2);
	now = registry_now_ms();
	at = registry_retry_at(&r, NULL);
	ok(at >= now + 200 && at < registry_now_ms() + 250, "first retry in 0.2 s: %lld",
	   (long long)(at - now));
	is_int(r.done, 1, "one retry counted");
	at = registry_retry_at(&r, "1");
	ok(at >= now + 1000 && at < registry_now_ms() + 1050, "Retry-After: 1 -> 1 s");
	is_int(registry_retry_at(&r, NULL), -1, "the third attempt has no retry left");
	is_int(r.done, 2, "and is not counted");
	ok(!registry_retry_wait(&r, NULL), "wait refuses too, at once");
	registry_retry_reset(&r);
	now = registry_now_ms();
	ok(registry_retry_wait(&r, NULL) && registry_now_ms() - now >= 200,
	   "after a reset: a retry again, after its backoff");
	registry_retry_init(&r, 0);
	ok(!registry_retry_wait(&r, "1"), "--retries 0: none");
}

/* the user's CA bundle is added to the system store, not put in its place */
static void t_ca_bundle(void)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nTUlJ\n-----END CERTIFICATE-----\n";
	curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
	const char *sys_path = vi && vi->cainfo ? vi->cainfo : "/etc/ssl/certs/ca-certificates.crt";
	char *dir = tap_tmpdir(), *user = pn_path_join(dir, "ca.pem"),
	     *bad = pn_path_join(dir, "x.pem");
	char *sys = NULL;
	size_t slen = 0;
	struct registry_opts o;
	struct registry_client *c = NULL;
	struct pn_error *err = NULL;

	write_text(user, pem, 0644);
	write_text(bad, "not a certificate\n", 0644);
	registry_opts_init(&o);
	o.ca_bundle = xstrdup(user);
	ok_call(registry_client_new(&o, &c, &err), &err, "client with a CA bundle");
	if (c && c->ca_blob) {
		ok(c->ca_blob_len >= strlen(pem) &&
			   memcmp(c->ca_blob + c->ca_blob_len - strlen(pem), pem, strlen(pem)) == 0,
		   "the bundle ends with the user's certificates");
		if (pn_read_file(sys_path, (size_t)16 << 20, &sys, &slen, NULL) == 0 && slen > 0)
			ok(c->ca_blob_len >= slen + strlen(pem) &&
				   memcmp(c->ca_blob, sys, slen) == 0,
			   "and starts with the system store `%s`", sys_path);
		else
			tap_diag("no system CA store at %s: not compared", sys_path);
	} else {
		ok(0, "a CA blob was made");
	}
	registry_client_free(c);
	free(o.ca_bundle);
	o.ca_bundle = xstrdup(bad);
	ok_fail(registry_client_new(&o, &c, &err), &err, PN_ERR_INVALID, "no PEM certificate",
		"a file without a certificate is refused");
	registry_opts_release(&o);
	free(sys);
	free(user);
	free(bad);
}

static void t_base64(void)
{
	char *e = registry_base64_encode("user:pa ss", 10);
	size_t n = 0;
	char *d;

	is_str(e, "dXNlcjpwYSBzcw==", "encode");
	d = registry_base64_decode(e, &n);
	is_str(d, "user:pa ss", "decode");
	is_int(n, 10, "decoded length");
	free(d);
	free(e);
	ok(registry_base64_decode("abc", NULL) == NULL, "bad length refused");
	ok(registry_base64_decode("a!c=", NULL) == NULL, "bad character refused");
	e = registry_auth_key_normalize("https://index.docker.io/v1/");
	is_str(e, "docker.io", "Hub v1 URL normalised");
	free(e);
	e = registry_auth_key_normalize("http://h:5000/x");
	is_str(e, "h:5000", "scheme and path dropped");
	free(e);
}

/* a one-layer image tagged `tag` in a new layout at dir */
static void make_image(const char *dir, const char *tag, const char *content, oci_digest_t out)
{
	struct oci_layout *l = NULL;
	struct oci_layer_writer *w;
	struct oci_layer_result res;
	struct oci_layer_opts lo;
	struct oci_image img;
	struct oci_descriptor d;
	struct pn_error *err = NULL;

	oci_image_init(&img);
	oci_descriptor_init(&d);
	memset(&res, 0, sizeof(res));
	oci_layer_opts_init(&lo);
	ok_call(oci_layout_open(dir, OCI_LAYOUT_CREATE, &l, &err), &err, "layout %s", dir);
	w = oci_layer_writer_new(l, &lo, &err);
	ok(w != NULL, "layer writer");
	ok_call(oci_layer_writer_add_data(w, "hello", content, strlen(content), 0644, &err), &err,
		"add");
	ok_call(oci_layer_writer_finish(w, &res, &err), &err, "finish layer");
	oci_layer_writer_free(w);
	oci_manifest_add_layer(&img.manifest, &res.desc);
	oci_config_add_layer(&img.config, res.diff_id, "test");
	ok_call(oci_image_store(l, &img, tag, &d, &err), &err, "store image");
	memcpy(out, d.digest, sizeof(d.digest));
	oci_descriptor_release(&d);
	oci_layer_result_release(&res);
	oci_image_release(&img);
	oci_layout_free(l);
}

static void t_layout_mirror(void)
{
	char *dir = tap_tmpdir();
	char *bases = pn_path_join(dir, "bases"), *dst = pn_path_join(dir, "dst");
	char *spec = xasprintf("m.io=oci:%s", bases), *loc = NULL;
	struct registry_opts o;
	struct registry_client *c = NULL;
	struct pn_error *err = NULL;
	struct oci_layout *dl = NULL;
	struct oci_descriptor d;
	struct oci_image img;
	oci_digest_t want, other;
	bool exists = true;
	json_t *j = NULL;

	make_image(bases, "u/m:v1", "one", want);
	make_image(bases, "plain", "two", other);
	registry_opts_init(&o);
	registry_opts_add_mirror(&o, spec, NULL);
	ok_call(registry_client_new(&o, &c, &err), &err, "client");
	ok_call(registry_exists(c, "m.io/u/m:v1", &exists, &err), &err, "exists repo:tag");
	ok(exists, "found as repository:tag");
	ok_call(registry_exists(c, "m.io/x/y:plain", &exists, &err), &err, "exists tag");
	ok(exists, "found as tag alone");
	ok_call(registry_exists(c, "m.io/u/m:v2", &exists, &err), &err, "exists absent");
	ok(!exists, "absent tag is not an error");
	oci_descriptor_init(&d);
	ok_call(oci_layout_open(dst, OCI_LAYOUT_CREATE, &dl, &err), &err, "dst layout");
	ok_call(registry_pull(c, "m.io/u/m:v1", dl, "got", &d, &err), &err,
		"pull from layout mirror");
	is_str(d.digest, want, "same manifest digest");
	oci_descriptor_release(&d);
	ok_fail(registry_pull(c, "m.io/u/m:v9", dl, "got", NULL, &err), &err, PN_ERR_NOT_FOUND,
		"v9", "pull of an absent tag");
	oci_layout_free(dl);
	oci_image_init(&img);
	ok_call(registry_inspect(c, "m.io/u/m:v1", &img, &err), &err, "inspect");
	is_str(img.desc.digest, want, "inspect digest");
	is_int(img.manifest.n_layers, 1, "one layer");
	oci_image_release(&img);
	oci_image_init(&img);
	loc = xasprintf("oci:%s:got", dst);
	ok_call(registry_inspect(c, loc, &img, &err), &err, "inspect a layout location");
	is_str(img.desc.digest, want, "layout inspect digest");
	oci_image_release(&img);
	free(loc);
	oci_descriptor_init(&d);
	loc = xasprintf("oci:%s:plain", bases);
	ok_call(registry_copy(c, loc, "m.io/new/repo:t", &d, &err), &err,
		"push into the layout mirror");
	is_str(d.digest, other, "pushed digest");
	oci_descriptor_release(&d);
	ok_call(registry_exists(c, "m.io/new/repo:t", &exists, &err), &err, "exists after push");
	ok(exists, "pushed image found");
	free(loc);
	loc = xasprintf("oci:%s:copied", dst);
	oci_descriptor_init(&d);
	ok_call(registry_copy(c, "m.io/u/m:v1", loc, &d, &err), &err, "copy mirror -> layout");
	is_str(d.digest, want, "copied digest");
	oci_descriptor_release(&d);
	free(loc);
	loc = xasprintf("oci:%s", dst);
	ok_fail(registry_copy(c, "m.io/u/m@sha256:" D64, loc, NULL, &err), &err, PN_ERR_INVALID,
		"no tag", "digest-only source needs a destination tag");
	free(loc);
	/* registry_inspect_json takes its mirrors from the config file */
	loc = pn_path_join(dir, "registries.conf");
	{
		char *text = xasprintf("mirror %s\n", spec);
		write_text(loc, text, 0644);
		free(text);
	}
	setenv("PINION_REGISTRIES_CONF", loc, 1);
	ok_call(registry_inspect_json("m.io/u/m:v1", NULL, &j, &err), &err,
		"inspect json via config mirror");
	is_str(json_string_value(json_object_get(j, "digest")), want, "inspect json digest");
	unsetenv("PINION_REGISTRIES_CONF");
	free(loc);
	json_decref(j);
	registry_client_free(c);
	registry_opts_release(&o);
	free(spec);
	free(bases);
	free(dst);
}

static void t_config_limits(void)
{
	struct registry_opts o;
	struct pn_error *err = NULL;
	const char *good = "retries 1\nlow-speed-limit 2K\nlow-speed-time 5\n"
			   "request-timeout 30\nblob-timeout 900\nmax-blob-size 3T\n"
			   "credential-helper-timeout 7\n";
	const char *bad = "# limits\nretries 1\nblob-timeout soon\n";

	registry_opts_init(&o);
	ok_call(registry_opts_parse_config(&o, "r.conf", good, strlen(good), &err), &err,
		"limit keys parse");
	is_int(o.retries, 1, "retries");
	is_int(o.low_speed_limit, 2048, "low-speed-limit K");
	is_int(o.low_speed_time, 5, "low-speed-time");
	is_int(o.request_timeout, 30, "request-timeout");
	is_int(o.blob_timeout, 900, "blob-timeout");
	ok(o.max_blob_size == (int64_t)3 << 40, "max-blob-size T");
	is_int(o.helper_timeout, 7, "credential-helper-timeout");
	registry_opts_release(&o);
	{
		static const char *const badsz[] = {"max-blob-size 0\n",
						    "max-blob-size -1\n",
						    "max-blob-size 2P\n",
						    "max-blob-size 1025T\n",
						    "max-blob-size 1X\n",
						    "max-blob-size 99999999999999999999\n",
						    "credential-helper-timeout -1\n"};
		for (size_t k = 0; k < sizeof(badsz) / sizeof(*badsz); k++) {
			ok_fail(registry_opts_parse_config(&o, "r.conf", badsz[k], strlen(badsz[k]),
							   &err),
				&err, PN_ERR_INVALID, "r.conf:1", "refused: %s", badsz[k]);
			registry_opts_release(&o);
		}
		const char *one_p = "max-blob-size 1024T\n";
		ok_call(registry_opts_parse_config(&o, "r.conf", one_p, strlen(one_p), &err), &err,
			"1024T (the maximum) parses");
		ok(o.max_blob_size == (int64_t)1 << 50, "1024T = 2^50");
		registry_opts_release(&o);
	}
	ok_fail(registry_opts_parse_config(&o, "r.conf", bad, strlen(bad), &err), &err,
		PN_ERR_INVALID, "r.conf:3", "bad value names file:line");
	registry_opts_release(&o);
}

static void t_origin(void)
{
	struct registry_opts o;
	char *h;

	ok(registry_same_origin("http://127.0.0.1:5000", "http://127.0.0.1:5000/v2/x?y=1"),
	   "same origin");
	ok(registry_same_origin("https://Reg.Example", "https://reg.example:443/v2/"),
	   "default port and host case");
	ok(!registry_same_origin("http://127.0.0.1:5000", "http://127.0.0.1:5001/v2/"),
	   "another port");
	ok(!registry_same_origin("https://reg.example", "http://reg.example/v2/"),
	   "another scheme");
	ok(!registry_same_origin("https://reg.example", "https://reg.example.evil/v2/"),
	   "another host");
	ok(!registry_same_origin("https://reg.example", "https://reg.example@evil.test/"),
	   "userinfo trick");
	ok(!registry_same_origin("https://reg.example", "not a url"), "unparsable");
	h = registry_url_host("http://127.0.0.1:5001/v2/x");
	is_str(h, "127.0.0.1:5001", "url host with port");
	free(h);
	h = registry_url_host("https://auth.example/token?x");
	is_str(h, "auth.example", "url host without port");
	free(h);
	registry_opts_init(&o);
	registry_opts_add_insecure(&o, "reg.example:5000");
	ok(registry_opts_host_insecure(&o, "reg.example:5000"), "insecure host:port");
	ok(!registry_opts_host_insecure(&o, "auth.example"), "another host stays verified");
	registry_opts_release(&o);
}

/* feed a response through the callbacks as libcurl would */
static size_t feed_headers(struct registry_response *r, const char *const *lines)
{
	size_t n = 0;

	for (; *lines; lines++) {
		char *l = xstrdup(*lines);
		size_t got = registry_header_cb(l, 1, strlen(l), r);
		free(l);
		if (got != strlen(*lines))
			return n;
		n++;
	}
	return n;
}

static void t_bounded_bodies(void)
{
	static const char *const ok200[] = {"HTTP/1.1 200 OK\r\n", "Content-Type: x\r\n", NULL};
	static const char *const nf404[] = {"HTTP/1.1 404 Not Found\r\n", NULL};
	static const char *const cl200[] = {"HTTP/1.1 200 OK\r\n", "Content-Length: 2000\r\n",
					    NULL};
	char body[600];
	struct registry_response r;
	char flood[128];
	size_t lines = 0;

	memset(body, 'x', sizeof(body));
	registry_response_init(&r, 1000);
	feed_headers(&r, ok200);
	is_int(r.status_seen, 200, "status line read");
	ok(registry_body_cb(body, 1, 600, &r) == 600, "2xx body within the limit");
	ok(registry_body_cb(body, 1, 600, &r) == 0 && r.too_large, "2xx body past it: too large");
	registry_response_release(&r);

	registry_response_init(&r, 1000);
	feed_headers(&r, nf404);
	ok(registry_body_cb(body, 1, 600, &r) == 600, "error body within the limit");
	ok(registry_body_cb(body, 1, 600, &r) == 0 && r.truncated && !r.too_large,
	   "error body cut at the limit");
	is_int(r.body.len, 1000, "what fits is kept");
	registry_response_release(&r);

	registry_response_init(&r, 1000);
	feed_headers(&r, cl200);
	ok(registry_body_cb(body, 1, 10, &r) == 0 && r.too_large,
	   "a Content-Length past the limit stops at the first byte");
	registry_response_release(&r);

	registry_response_init(&r, 1000);
	snprintf(flood, sizeof(flood), "X-Flood: %0100d\r\n", 0);
	for (;;) {
		if (registry_header_cb(flood, 1, strlen(flood), &r) != strlen(flood))
			break;
		if (++lines > REGISTRY_HEADERS_MAX)
			break;
	}
	ok(r.headers_too_large && lines * strlen(flood) <= REGISTRY_HEADERS_MAX,
	   "header lines stop at REGISTRY_HEADERS_MAX (%zu lines)", lines);
	registry_response_release(&r);
}

static void t_transfer_errors(void)
{
	struct registry_opts o;
	struct registry_client *c = NULL;
	struct registry_response r;
	struct pn_error *err = NULL;
	char lim[32];

	registry_limit_text(OCI_MANIFEST_MAX, lim, sizeof(lim));
	is_str(lim, "4 MiB", "limit text MiB");
	registry_limit_text(REGISTRY_HEADERS_MAX, lim, sizeof(lim));
	is_str(lim, "256 KiB", "limit text KiB");
	registry_limit_text(1000, lim, sizeof(lim));
	is_str(lim, "1000 bytes", "limit text bytes");

	registry_opts_init(&o);
	ok_call(registry_client_new(&o, &c, &err), &err, "client with defaults");
	is_int(registry_blob_deadline_ms(c, NULL, 0), REGISTRY_BLOB_TIMEOUT_BASE * 1000,
	       "blob deadline base");
	is_int(registry_blob_deadline_ms(c, NULL, (int64_t)1 << 30),
	       (REGISTRY_BLOB_TIMEOUT_BASE + 4096) * 1000, "1 GiB adds 4096 s");
	ok_fail(registry_transfer_error(c, CURLE_OPERATION_TIMEDOUT,
					"Operation too slow. Less than 1024 bytes/sec transferred "
					"the last 30 seconds",
					NULL, 30000, 600000, true, "blob `x`", &err),
		&err, PN_ERR_NETWORK,
		"blob `x`: slower than 1024 bytes/s for 30 s (--low-speed-limit, --low-speed-time)",
		"low-speed cut names its flags");
	ok_fail(registry_transfer_error(c, CURLE_OPERATION_TIMEDOUT,
					"Operation timed out after 120000 milliseconds", NULL,
					120000, 120000, false, "manifest of `r`", &err),
		&err, PN_ERR_NETWORK,
		"manifest of `r`: not done within the 120 s deadline (--request-timeout)",
		"request deadline names its flag");
	ok_fail(registry_transfer_error(c, CURLE_OPERATION_TIMEDOUT,
					"Connection timed out after 15000 milliseconds", NULL,
					15000, 15000, false, "", &err),
		&err, PN_ERR_NETWORK, "Connection timed out", "a connect timeout is curl's");
	registry_response_init(&r, OCI_MANIFEST_MAX);
	r.too_large = true;
	ok_fail(registry_transfer_error(c, CURLE_WRITE_ERROR, "Failure writing output", &r, 0, 0,
					false, "manifest of `h/r:t`", &err),
		&err, PN_ERR_TOO_LARGE, "manifest of `h/r:t` is larger than the 4 MiB limit",
		"too large names the limit");
	r.headers_too_large = true;
	ok_fail(registry_transfer_error(c, CURLE_WRITE_ERROR, "", &r, 0, 0, false, NULL, &err),
		&err, PN_ERR_TOO_LARGE, "headers of the response are larger than the 256 KiB",
		"header flood names the limit");
	registry_response_release(&r);
	registry_client_free(c);
	registry_opts_release(&o);
	o.blob_timeout = 5;
	ok_call(registry_client_new(&o, &c, &err), &err, "client with --blob-timeout 5");
	is_int(registry_blob_deadline_ms(c, NULL, (int64_t)1 << 30), 5000, "fixed blob deadline");
	registry_client_free(c);
	registry_opts_release(&o);
}

/* declared sizes against --max-blob-size; missing sizes against free space */
static void t_blob_limits(void)
{
	struct registry_opts o;
	struct pn_error *err = NULL;
	char buf[32], *dir = tap_tmpdir();

	registry_opts_init(&o);
	ok_call(registry_blob_size_check(&o, "blob `x`", (int64_t)64 << 30, &err), &err,
		"64 GiB is within the default");
	ok_fail(registry_blob_size_check(&o, "blob `x`", ((int64_t)64 << 30) + 1, &err), &err,
		PN_ERR_TOO_LARGE,
		"blob `x` declares 64.0 GiB (68719476737 bytes), more than the 64 GiB limit "
		"(--max-blob-size)",
		"one byte past the default");
	ok_fail(registry_blob_size_check(&o, "blob `x`", INT64_MAX, &err), &err, PN_ERR_TOO_LARGE,
		"(9223372036854775807 bytes)", "INT64_MAX");
	o.max_blob_size = 1000;
	ok_call(registry_blob_size_check(&o, "blob `x`", 1000, &err), &err, "at the set limit");
	ok_fail(registry_blob_size_check(&o, "blob `x`", 1001, &err), &err, PN_ERR_TOO_LARGE,
		"more than the 1000 bytes limit", "past the set limit");
	registry_size_text((int64_t)1 << 40, buf, sizeof(buf));
	is_str(buf, "1.0 TiB", "size text TiB");
	registry_size_text(1536, buf, sizeof(buf));
	is_str(buf, "1.5 KiB", "size text KiB");
	registry_size_text(12, buf, sizeof(buf));
	is_str(buf, "12 bytes", "size text bytes");
	registry_limit_text((size_t)64 << 30, buf, sizeof(buf));
	is_str(buf, "64 GiB", "limit text GiB");

	ok_call(registry_space_check(dir, 1, &err), &err, "one byte fits");
	ok_fail(registry_space_check(dir, (int64_t)1 << 60, &err), &err, PN_ERR_GENERIC,
		"the missing blobs declare 1.0 EiB (1152921504606846976 bytes) and 64 MiB more "
		"is kept free, but only",
		"an exabyte does not");
	ok_fail(registry_space_check(dir, INT64_MAX, &err), &err, PN_ERR_GENERIC,
		"not enough free space in", "INT64_MAX (no overflow with the margin)");
	registry_opts_release(&o);

	/* the client keeps them (a copy of the options, defaults filled in) */
	{
		struct registry_client *c = NULL;
		o.max_blob_size = 12345;
		o.helper_timeout = 0;
		ok_call(registry_client_new(&o, &c, &err), &err, "client");
		ok(c && c->opts.max_blob_size == 12345, "client keeps --max-blob-size");
		ok(c && c->opts.helper_timeout == 0, "client keeps --credential-helper-timeout 0");
		registry_client_free(c);
		registry_opts_release(&o);
		ok_call(registry_client_new(&o, &c, &err), &err, "client with defaults");
		ok(c && c->opts.max_blob_size == REGISTRY_DEFAULT_MAX_BLOB_SIZE &&
			   c->opts.helper_timeout == REGISTRY_DEFAULT_HELPER_TIMEOUT,
		   "defaults filled in");
		registry_client_free(c);
		registry_opts_release(&o);
	}
}

/* a redirect hop gets its own host's TLS setting; https never falls to http */
static void t_redirect_tls(void)
{
	struct registry_opts o;
	struct registry_host h = {0};
	char eb[CURL_ERROR_SIZE];

	registry_opts_init(&o);
	registry_opts_add_insecure(&o, "reg.lab:5000");
	ok(registry_url_tls_insecure(&o, "https://reg.lab:5000/v2/r/blobs/x"),
	   "the insecure registry itself: unverified");
	ok(!registry_url_tls_insecure(&o, "https://storage.example/blob?sig=1"),
	   "its storage host: verified");
	ok(!registry_url_tls_insecure(&o, "https://reg.lab/v2/"), "another port: verified");
	ok(!registry_url_tls_insecure(&o, "not a url"), "no host: verified");
	registry_opts_add_insecure(&o, "storage.example");
	ok(registry_url_tls_insecure(&o, "https://storage.example/blob?sig=1"),
	   "storage marked insecure itself: unverified");
	registry_opts_release(&o);
	registry_opts_add_insecure(&o, "*");
	ok(registry_url_tls_insecure(&o, "https://anything.example/"), "--tls-verify=false: all");
	registry_opts_release(&o);

	h.base = (char *)"http://reg.lab:5000";
	ok(registry_redirect_check(&h, "http://reg.lab:5000/v2/x", "https://s.example/b", eb,
				   sizeof(eb)) == 0,
	   "http registry to https storage");
	ok(registry_redirect_check(&h, "http://reg.lab:5000/v2/x", "http://s.example/b", eb,
				   sizeof(eb)) == 0,
	   "http registry to http storage");
	ok(registry_redirect_check(&h, "https://s.example/b", "http://t.example/b", eb,
				   sizeof(eb)) < 0 &&
		   strstr(eb, "redirect from https to plain HTTP `t.example` refused"),
	   "a hop from https to http: refused (%s)", eb);
	ok(registry_redirect_check(&h, "http://reg.lab:5000/v2/x", "ftp://s.example/b", eb,
				   sizeof(eb)) < 0 &&
		   strstr(eb, "not http or https"),
	   "ftp refused");
	ok(registry_redirect_check(&h, "http://reg.lab:5000/v2/x", "file:///etc/passwd", eb,
				   sizeof(eb)) < 0,
	   "file refused");
	h.base = (char *)"https://reg.lab:5000";
	ok(registry_redirect_check(&h, "https://reg.lab:5000/v2/x", "HTTP://s.example/b", eb,
				   sizeof(eb)) < 0,
	   "https registry to HTTP (any case): refused");
	ok(registry_redirect_check(&h, "https://reg.lab:5000/v2/x", "https://s.example/b", eb,
				   sizeof(eb)) == 0,
	   "https to https");
}

/* an HTTPS registry cannot send a request to plain HTTP elsewhere */
static void t_downgrade(void)
{
	struct registry_opts o;
	struct registry_client *c = NULL;
	struct registry_host *h;
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	struct pn_error *err = NULL;

	registry_opts_init(&o);
	o.retries = 0;
	registry_opts_add_insecure(&o, "lab.invalid:8080");
	ok_call(registry_client_new(&o, &c, &err), &err, "client");
	h = registry_client_host(c, "reg.example");
	h->base = xstrdup("https://reg.example");
	h->pinged = true; /* no challenge: anonymous, no network before the check */
	req.method = "PATCH";
	req.url = "http://storage.example/upload/1";
	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	ok_fail(registry_http_do(c, h, &req, &resp, &err), &err, PN_ERR_UNSUPPORTED,
		"sends a request to plain HTTP `storage.example`", "downgrade refused");
	req.url = "http://lab.invalid:8080/upload/1";
	ok_fail(registry_http_do(c, h, &req, &resp, &err), &err, PN_ERR_NETWORK, NULL,
		"an insecure-marked host is tried (and is not there)");
	registry_response_release(&resp);
	registry_client_free(c);
	registry_opts_release(&o);
}

int main(void)
{
	TEST(t_ref_parse);
	TEST(t_ref_fields);
	TEST(t_challenge);
	TEST(t_mirrors);
	TEST(t_config_file);
	TEST(t_targets);
	TEST(t_creds);
	TEST(t_auth_file_missing);
	TEST(t_ca_bundle);
	TEST(t_backoff);
	TEST(t_retry);
	TEST(t_base64);
	TEST(t_layout_mirror);
	TEST(t_config_limits);
	TEST(t_origin);
	TEST(t_bounded_bodies);
	TEST(t_transfer_errors);
	TEST(t_downgrade);
	TEST(t_blob_limits);
	TEST(t_redirect_tls);
	return tap_done();
}
