/* test_assembler_wheel.c - the embedded cog wheel and COG_WHEEL selection */
#include "tests/unit/tap.h"
#include "assembler/wheel.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *cache;

static void t_embedded(void)
{
	size_t len = 0;
	const char *name = NULL;
	const char *data = wheel_embedded(&len, &name);

	ok(len > 1000, "embedded wheel has content (%zu bytes)", len);
	ok(len > 4 && memcmp(data, "PK\003\004", 4) == 0, "embedded wheel is a zip");
	ok(name && strncmp(name, "cog-0.16.", 9) == 0, "name is a cog 0.16 wheel: %s", name);
	ok(name && strstr(name, "+pinion." PN_VERSION "-py3-none-any.whl"),
	   "name records pinion's version and the py3-none-any tag");
}

/* the file name a COG_WHEEL value installs, without reading it; its version */
static void t_spec_name(void)
{
	const char *emb = NULL;
	cleanup_free char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *v1 = NULL,
			  *v2 = NULL, *v3 = NULL, *v4 = NULL;

	wheel_embedded(NULL, &emb);
	a = wheel_spec_name(NULL);
	is_str(a, emb, "unset: the embedded wheel");
	b = wheel_spec_name("/x/y/cog-0.9.4-py3-none-any.whl");
	is_str(b, "cog-0.9.4-py3-none-any.whl", "a path: its base name");
	c = wheel_spec_name("https://h.example/d/cog-0.10.0%2Bx-py3-none-any.whl#sha256="
			    "0000000000000000000000000000000000000000000000000000000000000000");
	is_str(c, "cog-0.10.0+x-py3-none-any.whl", "a URL: its last segment, unescaped");
	d = wheel_spec_name("coglet");
	ok(!d, "coglet: none");
	e = wheel_spec_name("/x/not-a-wheel.tar");
	ok(!e, "not a wheel name: none");
	v1 = wheel_name_version("cog-0.16.12+pinion.0.1.0-py3-none-any.whl");
	is_str(v1, "0.16.12", "version without its local part");
	v2 = wheel_name_version("coglet-0.1.0-py3-none-any.whl");
	is_str(v2, "0.1.0", "another distribution");
	v3 = wheel_name_version("cog.whl");
	ok(!v3, "no version: none");
	v4 = wheel_name_version(emb);
	ok(v4 && strncmp(v4, "0.16.", 5) == 0, "the embedded wheel's: %s", v4 ? v4 : "(null)");
}

static void t_select_embedded(void)
{
	struct wheel_choice w = {0}, w2 = {0};
	struct pn_error *err = NULL;
	size_t len;
	const char *name;
	const void *data = wheel_embedded(&len, &name);
	oci_digest_t want, have;
	FILE *f;

	oci_digest_buf(data, len, want);
	ok_call(wheel_select(NULL, &w, &err), &err, "unset COG_WHEEL selects the embedded wheel");
	ok(w.embedded, "marked embedded");
	is_str(w.name, name, "file name of the embedded wheel");
	is_str(w.digest, want, "digest of the embedded bytes");
	ok(w.path && strncmp(w.path, cache, strlen(cache)) == 0, "written under the cache dir");
	ok(w.path && oci_digest_file(w.path, have, NULL, NULL) == 0 && strcmp(have, want) == 0,
	   "the file holds the embedded bytes");
	f = fopen(w.path, "w");
	if (f) {
		fputs("corrupt", f);
		fclose(f);
	}
	ok_call(wheel_select("cog", &w2, &err), &err, "COG_WHEEL=cog selects the embedded wheel");
	ok(oci_digest_file(w2.path, have, NULL, NULL) == 0 && strcmp(have, want) == 0,
	   "a damaged cached copy is rewritten");
	wheel_choice_release(&w);
	wheel_choice_release(&w2);
	ok_call(wheel_select("", &w, &err), &err, "empty COG_WHEEL selects the embedded wheel");
	ok(w.embedded, "empty is embedded");
	wheel_choice_release(&w);
}

static void t_select_rejects(void)
{
	struct wheel_choice w = {0};
	struct pn_error *err = NULL;

	ok(wheel_select("coglet", &w, &err) < 0 && err && err->code == PN_ERR_INVALID &&
		   strstr(err->msg, "no coglet wheel is embedded") && err->hint &&
		   strstr(err->hint, "COG_WHEEL="),
	   "coglet: clear error with a hint on pointing COG_WHEEL at a wheel");
	pn_error_clear(&err);
	ok_fail(wheel_select("http://example.com/cog-1-py3-none-any.whl", &w, &err), &err,
		PN_ERR_INVALID, "plain http", "plain http refused");
	ok_fail(wheel_select("ftp://example.com/cog-1-py3-none-any.whl", &w, &err), &err,
		PN_ERR_INVALID, "unsupported URL scheme", "unknown scheme refused");
	ok_fail(wheel_select("/nonexistent/cog-1-py3-none-any.whl", &w, &err), &err,
		PN_ERR_NOT_FOUND, "/nonexistent", "missing file");
	ok_fail(wheel_select(cache, &w, &err), &err, PN_ERR_INVALID, "regular file",
		"a directory is refused");
	ok_fail(wheel_select("https://example.com/dir/", &w, &err), &err, PN_ERR_INVALID,
		"wheel file name", "URL without a wheel name refused");
	ok_fail(wheel_select("https://example.com/cog-1-py3-none-any.whl#md5=ab", &w, &err), &err,
		PN_ERR_INVALID, "#sha256", "unknown fragment refused");
	ok_fail(wheel_select("https://example.com/cog-1-py3-none-any.whl#sha256=zz", &w, &err),
		&err, PN_ERR_INVALID, NULL, "malformed pinned digest refused");
}

static void t_select_file(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *path = NULL;
	cleanup_free char *bad = pn_path_join(dir, "notawheel.zip");
	struct wheel_choice w = {0};
	struct pn_error *err = NULL;
	size_t len;
	const char *name;
	oci_digest_t want;

	const void *data = wheel_embedded(&len, &name);

	oci_digest_buf(data, len, want);
	ok_call(wheel_write_embedded(dir, &path, &err), &err, "write the embedded wheel");
	ok_call(wheel_select(path, &w, &err), &err, "a local .whl path is selected");
	is_str(w.name, name, "its base name");
	is_str(w.digest, want, "its digest");
	ok(!w.embedded && w.path && w.path[0] == '/', "absolute path, not embedded");
	wheel_choice_release(&w);
	pn_write_file_atomic(bad, "x", 1, 0644, NULL);
	ok_fail(wheel_select(bad, &w, &err), &err, PN_ERR_INVALID, "named like a wheel",
		"a file not named like a wheel is refused");
}

static void t_fetch(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *src = NULL, *url = NULL, *pinned = NULL, *badpin = NULL;
	cleanup_free char *junk = pn_path_join(dir, "junk-1.0-py3-none-any.whl");
	cleanup_free char *junk_url = NULL;
	struct wheel_choice w = {0}, w2 = {0};
	struct pn_error *err = NULL;
	size_t len;
	const char *name;
	oci_digest_t want;

	const void *data = wheel_embedded(&len, &name);

	oci_digest_buf(data, len, want);
	wheel_write_embedded(dir, &src, NULL);
	url = xasprintf("file://%s", src);
	ok_call(wheel_fetch_url(url, &w, &err), &err, "download a wheel by URL");
	is_str(w.digest, want, "downloaded digest");
	is_str(w.name, name, "name taken from the URL");
	ok(w.path && strstr(w.path, "/wheels/url-") && access(w.path, R_OK) == 0,
	   "stored in the URL cache: %s", w.path);
	pinned = xasprintf("%s#sha256=%s", url, oci_digest_hex(want));
	unlink(src);
	ok_call(wheel_fetch_url(pinned, &w2, &err), &err,
		"a cached, verified copy is reused with the source gone");
	is_str(w2.path, w.path, "same cached file");
	wheel_choice_release(&w2);
	badpin = xasprintf("%s#sha256=%064d", url, 0);
	ok_fail(wheel_fetch_url(badpin, &w2, &err), &err, PN_ERR_NOT_FOUND, NULL,
		"wrong pin and no source: not found");
	/* the source changes after the first download: the recorded digest catches it */
	pn_write_file_atomic(src, "PK\003\004changed", 11, 0644, NULL);
	pn_write_file_atomic(w.path, "corrupt", 7, 0644, NULL);
	ok_fail(wheel_fetch_url(url, &w2, &err), &err, PN_ERR_DIGEST, "digest mismatch",
		"a changed file is refused against the recorded digest");
	ok_fail(wheel_fetch_url(pinned, &w2, &err), &err, PN_ERR_DIGEST, oci_digest_hex(want),
		"a changed file is refused against the pinned digest");
	pn_write_file_atomic(junk, "not a zip", 9, 0644, NULL);
	junk_url = xasprintf("file://%s", junk);
	ok_fail(wheel_fetch_url(junk_url, &w2, &err), &err, PN_ERR_INVALID, "not a wheel",
		"a download that is not a zip is refused");
	wheel_choice_release(&w);
}

/* a loopback https server (python3 + a self-signed certificate from openssl)
 * serving dir; returns its pid, or -1 when the tools are missing */
static pid_t https_serve(const char *dir, int *port)
{
	cleanup_free char *cmd = xasprintf(
		"cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out "
		"cert.pem "
		"-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
		dir);
	cleanup_free char *portfile = pn_path_join(dir, "port");
	static const char *script = "import http.server, ssl, sys, os\n"
				    "os.chdir(sys.argv[1])\n"
				    "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), "
				    "http.server.SimpleHTTPRequestHandler)\n"
				    "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); "
				    "c.load_cert_chain('cert.pem', 'key.pem')\n"
				    "s.socket = c.wrap_socket(s.socket, server_side=True)\n"
				    "open('port.tmp', 'w').write(str(s.server_address[1])); "
				    "os.rename('port.tmp', 'port')\n"
				    "s.serve_forever()\n";
	pid_t pid;

	if (system(cmd) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		execl("/usr/bin/python3", "python3", "-c", script, dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && pid > 0; i++) {
		cleanup_free char *text = NULL;

		if (pn_read_file(portfile, 16, &text, NULL, NULL) == 0) {
			*port = atoi(text);
			return pid;
		}
		usleep(50 * 1000);
	}
	if (pid > 0)
		kill(pid, SIGTERM);
	return -1;
}

static void t_https(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *src = NULL, *url = NULL, *cert = pn_path_join(dir, "cert.pem");
	struct wheel_choice w = {0};
	struct pn_error *err = NULL;
	size_t len;
	const char *name;
	const void *data = wheel_embedded(&len, &name);
	oci_digest_t want;
	int port = 0;
	pid_t pid;

	oci_digest_buf(data, len, want);
	wheel_write_embedded(dir, &src, NULL);
	pid = https_serve(dir, &port);
	if (pid < 0) {
		ok(1, "# SKIP https download: no openssl/python3 server");
		return;
	}
	url = xasprintf("https://127.0.0.1:%d/%s#sha256=%s", port, name, oci_digest_hex(want));
	unsetenv("SSL_CERT_FILE");
	ok_fail(wheel_select(url, &w, &err), &err, PN_ERR_NETWORK, "download",
		"an untrusted certificate is refused");
	setenv("SSL_CERT_FILE", cert, 1);
	ok_call(wheel_select(url, &w, &err), &err, "https download with SSL_CERT_FILE trusted");
	is_str(w.digest, want, "downloaded over https, pinned digest verified");
	is_str(w.name, name, "name from the URL");
	unsetenv("SSL_CERT_FILE");
	wheel_choice_release(&w);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	cache = tap_tmpdir();
	setenv("PINION_CACHE_DIR", cache, 1);
	TEST(t_embedded);
	TEST(t_spec_name);
	TEST(t_select_embedded);
	TEST(t_select_rejects);
	TEST(t_select_file);
	TEST(t_fetch);
	TEST(t_https);
	return tap_done();
}
