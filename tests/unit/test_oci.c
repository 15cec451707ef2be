/* test_oci.c - digests, the JSON model, the layout store */
#include "tests/unit/tap.h"
#include "oci/oci.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EMPTY_SHA "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_SHA	  "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void t_digest(void)
{
	struct pn_error *err = NULL;
	oci_digest_t d;
	struct oci_hasher *h;

	oci_digest_buf("", 0, d);
	is_str(d, EMPTY_SHA, "sha256 of nothing");
	h = oci_hasher_new();
	oci_hasher_update(h, "a", 1);
	oci_hasher_update(h, "bc", 2);
	oci_hasher_final(h, d);
	is_str(d, ABC_SHA, "streaming sha256 of abc");
	oci_hasher_reset(h);
	oci_hasher_update(h, "abc", 3);
	oci_hasher_final(h, d);
	is_str(d, ABC_SHA, "hasher reusable after reset");
	oci_hasher_free(h);
	ok_call(oci_digest_parse(ABC_SHA, d, &err), &err, "valid digest parses");
	ok_fail(oci_digest_parse("sha512:abcd", d, &err), &err, PN_ERR_INVALID,
		"unsupported digest algorithm", "sha512 refused");
	ok_fail(oci_digest_parse("sha256:abc", d, &err), &err, PN_ERR_INVALID, "3 hex digits",
		"short digest refused");
	ok_fail(oci_digest_parse(
			"sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
			d, &err),
		&err, PN_ERR_INVALID, "lowercase", "uppercase hex refused");
	ok_fail(oci_digest_parse("ba7816bf", d, &err), &err, PN_ERR_INVALID,
		"expected `sha256:", "bare hex refused");
	ok(!oci_digest_valid(NULL) && !oci_digest_valid(""), "NULL and empty invalid");
	is_str(oci_digest_hex(ABC_SHA), ABC_SHA + 7, "hex part");
}

static void t_digest_file(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *p = pn_path_join(dir, "f");
	struct pn_error *err = NULL;
	oci_digest_t d;
	int64_t size = -1;

	pn_write_file_atomic(p, "abc", 3, 0644, NULL);
	ok_call(oci_digest_file(p, d, &size, &err), &err, "digest a file");
	is_str(d, ABC_SHA, "file digest");
	is_int(size, 3, "file size");
	ok_fail(oci_digest_file("/nonexistent/x", d, &size, &err), &err, PN_ERR_NOT_FOUND,
		"nonexistent", "missing file");
}

static void t_compression(void)
{
	enum oci_compression c;
	struct pn_error *err = NULL;

	ok_call(oci_compression_parse("zstd", &c, &err), &err, "zstd parses");
	is_int(c, OCI_COMP_ZSTD, "zstd value");
	ok_fail(oci_compression_parse("lz4", &c, &err), &err, PN_ERR_INVALID, "lz4", "lz4 refused");
	is_int(oci_layer_media_compression(DOCKER_MT_LAYER_GZIP), OCI_COMP_GZIP,
	       "docker gzip layer");
	is_int(oci_layer_media_compression(OCI_MT_LAYER_ZSTD), OCI_COMP_ZSTD, "oci zstd layer");
	is_int(oci_layer_media_compression(OCI_MT_CONFIG), -1, "config is not a layer");
	is_str(oci_layer_media_type(OCI_COMP_NONE), OCI_MT_LAYER, "media type of none");
}

static const char docker_manifest[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MT_MANIFEST "\","
	"\"config\":{\"mediaType\":\"" DOCKER_MT_CONFIG "\",\"size\":7023,\"digest\":\"" ABC_SHA
	"\"},"
	"\"layers\":[{\"mediaType\":\"" DOCKER_MT_LAYER_GZIP
	"\",\"size\":32654,\"digest\":\"" EMPTY_SHA "\"}]}";

static void t_manifest(void)
{
	struct oci_manifest m, m2;
	struct pn_error *err = NULL;
	cleanup_free char *out = NULL, *out2 = NULL;
	size_t len, len2;

	ok_call(oci_manifest_parse(docker_manifest, strlen(docker_manifest), &m, &err), &err,
		"docker v2 manifest parses");
	is_str(m.media_type, DOCKER_MT_MANIFEST, "media type as read");
	is_int(m.n_layers, 1, "one layer");
	is_int(m.layers[0].size, 32654, "layer size");
	is_str(m.config.digest, ABC_SHA, "config digest");
	ok_call(oci_manifest_to_json(&m, &out, &len, &err), &err, "written");
	ok(tap_contains(out, "\"mediaType\":\"" OCI_MT_MANIFEST "\""), "written as OCI manifest");
	ok(tap_contains(out, OCI_MT_LAYER_GZIP) && !tap_contains(out, "docker"),
	   "layer type mapped to OCI");
	ok(out[0] == '{' && !tap_contains(out, " ") && !tap_contains(out, "\n"), "compact");
	ok(strstr(out, "\"config\"") < strstr(out, "\"layers\"") &&
		   strstr(out, "\"layers\"") < strstr(out, "\"mediaType\":\"" OCI_MT_MANIFEST) &&
		   strstr(out, "\"mediaType\":\"" OCI_MT_MANIFEST) <
			   strstr(out, "\"schemaVersion\""),
	   "keys sorted");
	ok_call(oci_manifest_parse(out, len, &m2, &err), &err, "round trip parses");
	ok_call(oci_manifest_to_json(&m2, &out2, &len2, &err), &err, "written again");
	is_str(out2, out, "canonical: same bytes on the second write");
	oci_manifest_release(&m);
	oci_manifest_release(&m2);
}

/* a malformed document, refused with code and an error that contains needle */
struct bad_doc {
	const char *doc;
	int code;
	const char *needle;
};

static void t_manifest_bad(void)
{
	struct oci_manifest m;
	struct pn_error *err = NULL;
	static const struct bad_doc cases[] = {
		{"{", PN_ERR_INVALID, "line 1"},
		{"[]", PN_ERR_INVALID, "not a JSON object"},
		{"{\"schemaVersion\":1}", PN_ERR_UNSUPPORTED, "schemaVersion 1"},
		{"{\"schemaVersion\":2,\"layers\":[]}", PN_ERR_INVALID, "config"},
		{"{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}", PN_ERR_UNSUPPORTED,
		 "text/plain"},
		{"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"size\":1,\"digest\":\"md5:"
		 "00\"},\"layers\":[]}",
		 PN_ERR_INVALID, "md5"},
		{"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"size\":-1,\"digest\":"
		 "\"" ABC_SHA "\"},\"layers\":[]}",
		 PN_ERR_INVALID, "size"},
		{"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"size\":1,\"digest\":"
		 "\"" ABC_SHA "\"},\"layers\":{}}",
		 PN_ERR_INVALID, "layers"},
		{"{\"schemaVersion\":2,\"schemaVersion\":2}", PN_ERR_INVALID, "duplicate"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok_fail(oci_manifest_parse(cases[i].doc, strlen(cases[i].doc), &m, &err), &err,
			cases[i].code, cases[i].needle, "malformed manifest %zu refused", i);
}

static void t_index(void)
{
	static const char doc[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MT_LIST "\",\"manifests\":["
		"{\"mediaType\":\"" DOCKER_MT_MANIFEST "\",\"size\":1,\"digest\":\"" ABC_SHA "\","
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
		"{\"mediaType\":\"" DOCKER_MT_MANIFEST "\",\"size\":2,\"digest\":\"" EMPTY_SHA "\","
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
	struct oci_index ix, ix2;
	const struct oci_descriptor *d = NULL;
	struct pn_error *err = NULL;
	cleanup_free char *out = NULL, *out2 = NULL;
	size_t len, len2;
	enum oci_doc_kind kind;

	ok_call(oci_index_parse(doc, strlen(doc), &ix, &err), &err, "docker list parses");
	is_int(ix.n_manifests, 2, "two entries");
	ok_call(oci_index_select_platform(&ix, NULL, &d, &err), &err, "default platform");
	is_str(d ? d->digest : NULL, EMPTY_SHA, "linux/amd64 chosen");
	ok_call(oci_index_select_platform(&ix, "linux/arm64/v8", &d, &err), &err, "arm64/v8");
	is_str(d ? d->digest : NULL, ABC_SHA, "arm64 entry");
	ok_fail(oci_index_select_platform(&ix, "linux/s390x", &d, &err), &err, PN_ERR_NOT_FOUND,
		"linux/arm64/v8, linux/amd64", "missing platform lists the ones there");
	ok_fail(oci_index_select_platform(&ix, "linux", &d, &err), &err, PN_ERR_INVALID, "OS/ARCH",
		"bad platform string");
	ok_call(oci_index_to_json(&ix, &out, &len, &err), &err, "index written");
	ok(tap_contains(out, OCI_MT_INDEX) && tap_contains(out, "\"variant\":\"v8\""),
	   "OCI index with platform");
	ok_call(oci_index_parse(out, len, &ix2, &err), &err, "reparsed");
	ok_call(oci_index_to_json(&ix2, &out2, &len2, &err), &err, "rewritten");
	is_str(out2, out, "index canonical");
	ok_call(oci_doc_kind(NULL, doc, strlen(doc), &kind, &err), &err,
		"kind from mediaType in body");
	is_int(kind, OCI_DOC_INDEX, "index kind");
	ok_call(oci_doc_kind(DOCKER_MT_MANIFEST "; charset=utf-8", NULL, 0, &kind, &err), &err,
		"kind with media type parameters");
	is_int(kind, OCI_DOC_MANIFEST, "manifest kind");
	ok_fail(oci_doc_kind("text/html", NULL, 0, &kind, &err), &err, PN_ERR_UNSUPPORTED,
		"text/html", "unknown kind");
	oci_index_release(&ix);
	oci_index_release(&ix2);
}

static const char docker_config[] =
	"{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\","
	"\"config\":{\"Env\":[\"PATH=/usr/bin\",\"A=1\"],\"Cmd\":[\"python3\"],\"Entrypoint\":null,"
	"\"WorkingDir\":\"/src\",\"ExposedPorts\":{\"5000/tcp\":{}},\"Labels\":{\"a\":\"b\"},"
	"\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"]}},"
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" ABC_SHA "\"]},"
	"\"history\":[{\"created_by\":\"/bin/sh\"}],\"container_config\":{\"Hostname\":\"x\"}}";

#define DESC_ABC   "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"size\":1,\"digest\":\"" ABC_SHA "\"}"
#define CFG_HEAD   "{\"architecture\":\"amd64\",\"os\":\"linux\","
#define CFG_ROOTFS "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"

/* malformed indexes and configs are refused with the code and a clear word */
static void t_index_config_bad(void)
{
	struct oci_index ix;
	struct oci_config c;
	struct pn_error *err = NULL;
	static const struct bad_doc ix_cases[] = {
		{"{", PN_ERR_INVALID, "line 1"},
		{"{\"schemaVersion\":2}", PN_ERR_INVALID, "manifests"},
		{"{\"schemaVersion\":2,\"manifests\":{}}", PN_ERR_INVALID, "manifests"},
		{"{\"schemaVersion\":2,\"mediaType\":\"text/plain\",\"manifests\":[]}",
		 PN_ERR_UNSUPPORTED, "text/plain"},
		{"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"size\":1,\"digest\":"
		 "\"sha256:abc\"}]}",
		 PN_ERR_INVALID, "manifests[0]"},
		{"{\"schemaVersion\":2,\"manifests\":[" DESC_ABC "," DESC_ABC ",7]}",
		 PN_ERR_INVALID, "manifests[2]"},
		{"{\"schemaVersion\":2,\"manifests\":[],\"manifests\":[]}", PN_ERR_INVALID,
		 "duplicate"},
		{"{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"a\":1}}", PN_ERR_INVALID,
		 "annotations"},
	};
	static const struct bad_doc cfg_cases[] = {
		{"[1]", PN_ERR_INVALID, "object"},
		{CFG_HEAD "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"md5:00\"]}}",
		 PN_ERR_INVALID, "md5"},
		{CFG_HEAD CFG_ROOTFS ",\"config\":{\"Labels\":{\"a\":1}}}", PN_ERR_INVALID,
		 "Labels"},
		{CFG_HEAD CFG_ROOTFS ",\"config\":{\"Labels\":[]}}", PN_ERR_INVALID, "Labels"},
		{CFG_HEAD CFG_ROOTFS ",\"config\":{\"Cmd\":\"echo\"}}", PN_ERR_INVALID, "Cmd"},
		{CFG_HEAD CFG_ROOTFS ",\"config\":{\"ExposedPorts\":[\"80\"]}}", PN_ERR_INVALID,
		 "ExposedPorts"},
		{CFG_HEAD CFG_ROOTFS ",\"history\":{}}", PN_ERR_INVALID, "history"},
		{CFG_HEAD CFG_ROOTFS ",\"os\":\"linux\"}", PN_ERR_INVALID, "duplicate"},
	};
	cleanup_buf struct pn_buf big = PN_BUF_INIT;

	for (size_t i = 0; i < sizeof(ix_cases) / sizeof(ix_cases[0]); i++)
		ok_fail(oci_index_parse(ix_cases[i].doc, strlen(ix_cases[i].doc), &ix, &err), &err,
			ix_cases[i].code, ix_cases[i].needle, "malformed index %zu refused", i);
	for (size_t i = 0; i < sizeof(cfg_cases) / sizeof(cfg_cases[0]); i++)
		ok_fail(oci_config_parse(cfg_cases[i].doc, strlen(cfg_cases[i].doc), &c, &err),
			&err, cfg_cases[i].code, cfg_cases[i].needle,
			"malformed config %zu refused", i);
	/* limits: entries in an index, bytes of a config */
	pn_buf_puts(&big, "{\"schemaVersion\":2,\"manifests\":[", NULL);
	for (int i = 0; i <= OCI_INDEX_MAX; i++)
		pn_buf_puts(&big, i ? "," DESC_ABC : DESC_ABC, NULL);
	pn_buf_puts(&big, "]}", NULL);
	ok_fail(oci_index_parse(big.data, big.len, &ix, &err), &err, PN_ERR_TOO_LARGE, "limit",
		"index with %d entries refused", OCI_INDEX_MAX + 1);
	{
		cleanup_free char *huge = xmalloc(OCI_CONFIG_MAX + 1);

		memset(huge, ' ', OCI_CONFIG_MAX + 1);
		ok_fail(oci_config_parse(huge, OCI_CONFIG_MAX + 1, &c, &err), &err,
			PN_ERR_TOO_LARGE, NULL, "config over OCI_CONFIG_MAX refused");
	}
}

static void t_config(void)
{
	static const char bad_env[] =
		"{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{\"Env\":[1]}}";
	struct oci_config c, c2;
	struct pn_error *err = NULL;
	cleanup_free char *out = NULL, *out2 = NULL;
	size_t len, len2;

	ok_call(oci_config_parse(docker_config, strlen(docker_config), &c, &err), &err,
		"config parses");
	is_str(oci_config_get_env(&c, "A"), "1", "env A");
	is_str(c.working_dir, "/src", "workdir");
	ok(c.entrypoint_null && c.entrypoint.n == 0, "null entrypoint noticed");
	is_str(c.cmd.v[0], "python3", "cmd");
	is_str(c.exposed_ports.v[0], "5000/tcp", "exposed port");
	is_str(json_string_value(json_object_get(c.labels, "a")), "b", "label");
	is_int(c.n_diff_ids, 1, "diff_ids");
	oci_config_set_env(&c, "A", "2");
	oci_config_set_env(&c, "B", "3");
	is_int(c.env.n, 3, "set_env replaces and appends");
	oci_config_set_label(&c, "run.cog.version", "0.1");
	oci_config_add_layer(&c, EMPTY_SHA, "COPY . /src");
	ok_call(oci_config_to_json(&c, &out, &len, &err), &err, "config written");
	ok(tap_contains(out, "\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"]}"),
	   "unknown config field kept");
	ok(tap_contains(out, "\"container_config\""), "unknown top-level field kept");
	ok(tap_contains(out, "\"A=2\"") && tap_contains(out, "\"B=3\""), "env written");
	ok(tap_contains(out, "\"Entrypoint\":null"), "null entrypoint kept");
	ok(tap_contains(out, "\"diff_ids\":[\"" ABC_SHA "\",\"" EMPTY_SHA "\"]"),
	   "diff_ids appended");
	ok(tap_contains(out, "\"created_by\":\"COPY . /src\""), "history appended");
	ok_call(oci_config_parse(out, len, &c2, &err), &err, "reparsed");
	ok_call(oci_config_to_json(&c2, &out2, &len2, &err), &err, "rewritten");
	is_str(out2, out, "config canonical");
	oci_config_release(&c);
	oci_config_release(&c2);
	ok_fail(oci_config_parse("{\"os\":\"linux\"}", 14, &c, &err), &err, PN_ERR_INVALID,
		"architecture", "missing architecture");
	ok_fail(oci_config_parse(bad_env, strlen(bad_env), &c, &err), &err, PN_ERR_INVALID,
		"Env[0]", "non-string env");
	oci_config_init(&c);
	free(out2);
	out2 = NULL;
	ok_call(oci_config_to_json(&c, &out2, &len2, &err), &err, "fresh config written");
	ok(tap_contains(out2, "\"rootfs\":{\"diff_ids\":[],\"type\":\"layers\"}"), "empty rootfs");
	oci_config_release(&c);
}

static struct oci_layout *new_layout(char **path_out)
{
	char *dir = tap_tmpdir();
	char *path = pn_path_join(dir, "layout");
	struct oci_layout *l = NULL;
	struct pn_error *err = NULL;

	ok_call(oci_layout_open(path, OCI_LAYOUT_CREATE, &l, &err), &err, "create layout");
	*path_out = path;
	return l;
}

static void store_image(struct oci_layout *l, const char *tag, const char *content,
			struct oci_descriptor *out)
{
	struct oci_image img;
	struct oci_descriptor layer;
	struct pn_error *err = NULL;

	oci_image_init(&img);
	oci_descriptor_init(&layer);
	layer.media_type = xstrdup(OCI_MT_LAYER);
	layer.size = (int64_t)strlen(content);
	ok_call(oci_layout_put_blob(l, content, strlen(content), NULL, layer.digest, &err), &err,
		"put layer blob");
	oci_manifest_add_layer(&img.manifest, &layer);
	oci_config_add_layer(&img.config, EMPTY_SHA, "test");
	ok_call(oci_image_store(l, &img, tag, out, &err), &err, "store image %s", tag);
	oci_descriptor_release(&layer);
	oci_image_release(&img);
}

static void t_layout(void)
{
	cleanup_free char *path = NULL;
	struct oci_layout *l = new_layout(&path), *l2 = NULL;
	struct pn_error *err = NULL;
	struct oci_descriptor d1, d2, r;
	struct oci_layout_entry *e = NULL;
	struct oci_image img;
	struct oci_gc_stats gs;
	size_t n = 0;
	cleanup_free char *data = NULL;
	size_t len;
	oci_digest_t got;

	ok_fail(oci_layout_put_blob(l, "abc", 3, EMPTY_SHA, got, &err), &err, PN_ERR_DIGEST,
		"mismatch", "blob with wrong digest refused");
	ok(!oci_layout_has_blob(l, ABC_SHA), "refused blob not stored");
	store_image(l, "v1", "layer one", &d1);
	store_image(l, "v2", "layer two", &d2);
	ok_call(oci_layout_resolve(l, "v1", &r, &err), &err, "resolve v1");
	is_str(r.digest, d1.digest, "v1 digest");
	oci_descriptor_release(&r);
	ok_call(oci_layout_resolve(l, d2.digest, &r, &err), &err, "resolve by digest");
	is_str(json_string_value(json_object_get(r.annotations, OCI_ANNOT_REF_NAME)), "v2",
	       "tag annotation");
	oci_descriptor_release(&r);
	ok_fail(oci_layout_resolve(l, "v3", &r, &err), &err, PN_ERR_NOT_FOUND, "has: v1, v2",
		"unknown tag lists tags");
	ok_fail(oci_layout_resolve(l, NULL, &r, &err), &err, 0, "holds 2 images",
		"ambiguous default");
	ok_call(oci_layout_list(l, &e, &n, &err), &err, "list");
	is_int(n, 2, "two entries");
	ok(n == 2 && strcmp(e[0].tag, "v1") == 0 && strcmp(e[1].tag, "v2") == 0, "tags listed");
	oci_layout_entries_free(e, n);
	ok_call(oci_image_load(l, "v2", NULL, &img, &err), &err, "load v2");
	is_int(img.manifest.n_layers, 1, "v2 has one layer");
	is_int(img.config.n_diff_ids, 1, "v2 config diff_ids");
	oci_image_release(&img);
	/* re-tagging v1 to v2's manifest moves the tag */
	ok_call(oci_layout_tag(l, "v1", &d2, &err), &err, "retag v1");
	ok_call(oci_layout_resolve(l, "v1", &r, &err), &err, "resolve retagged v1");
	is_str(r.digest, d2.digest, "v1 moved");
	oci_descriptor_release(&r);
	ok_call(oci_layout_gc(l, NULL, &gs, &err), &err, "gc");
	is_int(gs.garbage, 2, "old manifest and its layer removed (config shared)");
	ok(gs.swept && !gs.skipped, "swept");
	ok(!oci_layout_has_blob(l, d1.digest) && oci_layout_has_blob(l, d2.digest),
	   "only live kept");
	ok_call(oci_layout_untag(l, "v1", &err), &err, "untag");
	ok_fail(oci_layout_untag(l, "v1", &err), &err, PN_ERR_NOT_FOUND, "v1", "untag twice");
	ok_fail(oci_layout_tag(l, "bad tag", &d2, &err), &err, PN_ERR_INVALID, "bad tag",
		"tag with space");
	{
		/* a layout made by another tool has no .pinion-tmp: writes still work */
		cleanup_free char *tmpd = pn_path_join(path, ".pinion-tmp");

		pn_rm_rf(tmpd, NULL);
		ok_call(oci_layout_open(path, 0, &l2, &err), &err, "reopen without create");
		ok_call(oci_layout_tag(l2, "again", &d2, &err), &err,
			"tag in a layout without .pinion-tmp");
		oci_layout_free(l2);
		l2 = NULL;
	}
	ok_call(oci_layout_read_blob(l, d2.digest, 1 << 20, &data, &len, &err), &err,
		"read manifest blob");
	/* corrupt a blob: reading it says so */
	{
		cleanup_free char *bp = oci_layout_blob_path(l, d2.digest);

		pn_write_file_atomic(bp, "garbage", 7, 0644, NULL);
		free(data);
		data = NULL;
		ok_fail(oci_layout_read_blob(l, d2.digest, 1 << 20, &data, &len, &err), &err,
			PN_ERR_DIGEST, "corrupt", "corrupt blob detected");
	}
	ok_fail(oci_layout_open("/nonexistent/layout", 0, &l2, &err), &err, PN_ERR_NOT_FOUND, NULL,
		"missing layout");
	{
		char *nd = tap_tmpdir();
		cleanup_free char *lf = pn_path_join(nd, ".pinion-gc.lock");

		ok_fail(oci_layout_open(nd, 0, &l2, &err), &err, PN_ERR_NOT_FOUND,
			"not an OCI image layout", "not a layout");
		ok(access(lf, F_OK) < 0,
		   "opening a directory that is no layout leaves no lock file");
	}
	oci_descriptor_release(&d1);
	oci_descriptor_release(&d2);
	oci_layout_free(l);
}

static void t_layout_concurrent(void)
{
	cleanup_free char *path = NULL;
	struct oci_layout *l = new_layout(&path);
	struct pn_error *err = NULL;
	struct oci_layout_entry *e = NULL;
	size_t n = 0;
	int status, bad = 0;
	pid_t pids[4];

	fflush(stdout);
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct oci_layout *cl = NULL;
			struct oci_image img;
			char tag[16], content[32];

			if (oci_layout_open(path, 0, &cl, NULL) < 0)
				_exit(1);
			for (int k = 0; k < 5; k++) {
				snprintf(tag, sizeof(tag), "p%d-%d", i, k);
				snprintf(content, sizeof(content), "c%d-%d", i, k);
				oci_image_init(&img);
				oci_config_set_env(&img.config, "X", content);
				if (oci_image_store(cl, &img, tag, NULL, NULL) < 0)
					_exit(1);
				oci_image_release(&img);
			}
			oci_layout_free(cl);
			_exit(0);
		}
	}
	for (int i = 0; i < 4; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	is_int(bad, 0, "four concurrent writers succeed");
	ok_call(oci_layout_list(l, &e, &n, &err), &err, "list after concurrent writes");
	is_int(n, 20, "no tag lost under concurrency");
	oci_layout_entries_free(e, n);
	oci_layout_free(l);
}

/* names as skopeo writes them (oci:DIR:r8.im/me/model:v3), found whole, by
 * their bare tag when only one has it, and NAME alone as NAME:latest */
static void t_layout_names(void)
{
	cleanup_free char *path = NULL;
	struct oci_layout *l = new_layout(&path);
	struct oci_descriptor d1, d2, d3, r;
	struct pn_error *err = NULL;
	cleanup_free char *n1 = oci_ref_layout_name("r8.im/me/model:v3");
	cleanup_free char *n2 = oci_ref_layout_name("localhost:5000/me/model");
	cleanup_free char *n3 = oci_ref_layout_name("me/model:v1@" ABC_SHA);

	is_str(oci_ref_tag_of("r8.im:5000/me/model:v3"), "v3", "tag after the last slash");
	ok(oci_ref_tag_of("r8.im:5000/me/model") == NULL, "a port is no tag");
	ok(oci_ref_tag_of("me/model@" ABC_SHA) == NULL, "a digest is no tag");
	ok(oci_ref_tag_of("latest") == NULL, "a bare tag is a name without a tag");
	is_str(n1, "r8.im/me/model:v3", "-t NAME:TAG stored whole");
	is_str(n2, "localhost:5000/me/model:latest", "-t NAME stored as NAME:latest");
	is_str(n3, "me/model:v1", "-t NAME:TAG@DIGEST without the digest");
	store_image(l, "r8.im/me/model:v3", "one", &d1);
	store_image(l, "other/model:v3", "two", &d2);
	store_image(l, "localhost:5000/me/model:latest", "three", &d3);
	ok_call(oci_layout_resolve(l, "r8.im/me/model:v3", &r, &err), &err, "whole name");
	is_str(r.digest, d1.digest, "whole name's image");
	oci_descriptor_release(&r);
	ok_fail(oci_layout_resolve(l, "v3", &r, &err), &err, PN_ERR_INVALID, "names 2 images",
		"a tag two names share is ambiguous");
	ok_call(oci_layout_resolve(l, "latest", &r, &err), &err, "a tag one name has");
	is_str(r.digest, d3.digest, "its image");
	oci_descriptor_release(&r);
	ok_call(oci_layout_resolve(l, "localhost:5000/me/model", &r, &err), &err, "NAME");
	is_str(r.digest, d3.digest, "NAME is NAME:latest");
	oci_descriptor_release(&r);
	ok_fail(oci_layout_resolve(l, "me/model", &r, &err), &err, PN_ERR_NOT_FOUND,
		"has: r8.im/me/model:v3, other/model:v3", "a partial name is no name");
	ok_call(oci_layout_untag(l, "other/model:v3", &err), &err, "untag one v3");
	ok_call(oci_layout_resolve(l, "v3", &r, &err), &err, "v3 unique again");
	is_str(r.digest, d1.digest, "the remaining v3");
	oci_descriptor_release(&r);
	oci_descriptor_release(&d1);
	oci_descriptor_release(&d2);
	oci_descriptor_release(&d3);
	oci_layout_free(l);
}

static void t_ref(void)
{
	struct pn_error *err = NULL;
	cleanup_free char *dir = NULL, *ref = NULL;

	ok_call(oci_ref_parse_layout("oci:/tmp/x:v1", &dir, &ref, &err), &err, "dir:tag");
	is_str(dir, "/tmp/x", "dir");
	is_str(ref, "v1", "tag");
	free(dir);
	free(ref);
	ok_call(oci_ref_parse_layout("oci:x@" ABC_SHA, &dir, &ref, &err), &err, "dir@digest");
	is_str(dir, "x", "dir before @");
	is_str(ref, ABC_SHA, "digest ref");
	free(dir);
	free(ref);
	ok_call(oci_ref_parse_layout("oci:x:r8.im:5000/me/model:v3", &dir, &ref, &err), &err,
		"oci:DIR:NAME:TAG");
	is_str(dir, "x", "DIR ends at the first colon (as skopeo's)");
	is_str(ref, "r8.im:5000/me/model:v3", "NAME:TAG whole");
	free(dir);
	free(ref);
	ok_call(oci_ref_parse_layout("oci:x", &dir, &ref, &err), &err, "dir only");
	ok(ref == NULL, "no ref");
	ok_fail(oci_ref_parse_layout("docker://x", &dir, &ref, &err), &err, PN_ERR_INVALID,
		"oci:DIR", "other transport");
	ok_fail(oci_ref_parse_layout("oci:", &dir, &ref, &err), &err, PN_ERR_INVALID,
		"missing directory", "empty dir");
	ok_fail(oci_ref_parse_layout("oci:x:", &dir, &ref, &err), &err, PN_ERR_INVALID, "empty tag",
		"empty tag");
	ok_fail(oci_ref_parse_layout("oci:x@sha256:12", &dir, &ref, &err), &err, PN_ERR_INVALID,
		"hex", "bad digest ref");
}

static void t_inspect_json(void)
{
	cleanup_free char *path = NULL;
	struct oci_layout *l = new_layout(&path);
	struct oci_descriptor d;
	struct pn_error *err = NULL;
	cleanup_json json_t *j = NULL;

	store_image(l, "latest", "x", &d);
	ok_call(oci_layout_inspect_json(l, "latest", NULL, "oci:x:latest", &j, &err), &err,
		"inspect json");
	is_str(json_string_value(json_object_get(j, "digest")), d.digest, "digest");
	ok(json_is_object(json_object_get(j, "labels")), "labels object");
	is_int(json_array_size(json_object_get(j, "layers")), 1, "layers");
	ok(json_is_object(json_object_get(j, "manifest")) &&
		   json_is_object(json_object_get(j, "config")),
	   "manifest and config documents");
	oci_descriptor_release(&d);
	oci_layout_free(l);
}

static void t_image_through_index(void)
{
	cleanup_free char *path = NULL;
	struct oci_layout *l = new_layout(&path);
	struct oci_descriptor m, ixd;
	struct oci_index ix;
	struct oci_image img;
	struct pn_error *err = NULL;
	cleanup_free char *json = NULL;
	size_t len;

	store_image(l, "single", "content", &m);
	oci_index_init(&ix);
	ix.manifests = xcalloc(1, sizeof(*ix.manifests));
	oci_descriptor_copy(&ix.manifests[0], &m);
	json_decref(ix.manifests[0].annotations);
	ix.manifests[0].annotations = NULL;
	ix.manifests[0].platform = xcalloc(1, sizeof(struct oci_platform));
	ix.manifests[0].platform->os = xstrdup("linux");
	ix.manifests[0].platform->architecture = xstrdup("amd64");
	ix.n_manifests = 1;
	ok_call(oci_index_to_json(&ix, &json, &len, &err), &err, "index written");
	oci_descriptor_init(&ixd);
	ixd.media_type = xstrdup(OCI_MT_INDEX);
	ixd.size = (int64_t)len;
	ok_call(oci_layout_put_blob(l, json, len, NULL, ixd.digest, &err), &err,
		"index blob stored");
	ok_call(oci_layout_tag(l, "multi", &ixd, &err), &err, "index tagged");
	ok_call(oci_image_load(l, "multi", NULL, &img, &err), &err, "load follows the index");
	is_str(img.desc.digest, m.digest, "the linux/amd64 manifest");
	oci_image_release(&img);
	ok_fail(oci_image_load(l, "multi", "linux/arm64", &img, &err), &err, PN_ERR_NOT_FOUND,
		"linux/amd64", "missing platform names the ones there");
	ok_call(oci_layout_untag(l, "single", &err), &err, "manifest untagged");
	{
		struct oci_gc_stats gs;

		ok_call(oci_layout_gc(l, NULL, &gs, &err), &err, "gc");
		is_int(gs.garbage, 0, "gc keeps what the index reaches");
	}
	oci_index_release(&ix);
	oci_descriptor_release(&m);
	oci_descriptor_release(&ixd);
	oci_layout_free(l);
}

/* an index entry names the media type of the bytes stored: a Docker schema 2
 * manifest kept as served stays Docker in index.json (skopeo needs that) */
static void t_layout_docker_entry(void)
{
	cleanup_free char *path = NULL;
	struct oci_layout *l = new_layout(&path);
	struct pn_error *err = NULL;
	struct oci_descriptor d, r;
	cleanup_free char *index_path = NULL, *data = NULL;
	const char *doc =
		"{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MT_MANIFEST "\","
		"\"config\":{\"mediaType\":\"" DOCKER_MT_CONFIG "\",\"digest\":\"" EMPTY_SHA "\","
		"\"size\":0},\"layers\":[]}";

	oci_descriptor_init(&d);
	d.media_type = xstrdup(DOCKER_MT_MANIFEST);
	ok_call(oci_layout_put_blob(l, doc, strlen(doc), NULL, d.digest, &err), &err,
		"store a docker manifest");
	d.size = (int64_t)strlen(doc);
	ok_call(oci_layout_tag(l, "docker", &d, &err), &err, "tag it");
	index_path = pn_path_join(path, "index.json");
	ok_call(pn_read_file(index_path, 1 << 20, &data, NULL, &err), &err, "read index.json");
	ok(tap_contains(data, "\"mediaType\":\"" DOCKER_MT_MANIFEST "\""),
	   "index.json entry keeps the docker manifest media type");
	ok_call(oci_layout_resolve(l, "docker", &r, &err), &err, "resolve");
	is_str(r.media_type, DOCKER_MT_MANIFEST, "resolved entry is docker");
	oci_descriptor_release(&r);
	oci_descriptor_release(&d);
	oci_layout_free(l);
}

/* one layout to another: a hard link on one filesystem, a verified stream
 * copy across filesystems (/dev/shm is a tmpfs), nothing when present */
static void t_layout_copy_blob(void)
{
	cleanup_free char *p1 = NULL, *p2 = NULL, *shm = NULL, *path1 = NULL, *path2 = NULL,
			  *path3 = NULL;
	struct oci_layout *a = new_layout(&p1), *b = new_layout(&p2), *c = NULL;
	struct pn_error *err = NULL;
	oci_digest_t d;
	struct stat s1, s2, s3;
	char *big = xmalloc((size_t)3 << 20);

	for (size_t i = 0; i < ((size_t)3 << 20); i++)
		big[i] = (char)(i * 7 + (i >> 13));
	ok_call(oci_layout_put_blob(a, big, (size_t)3 << 20, NULL, d, &err), &err, "a 3 MiB blob");
	ok_call(oci_layout_copy_blob(a, b, d, &err), &err, "copy to a layout on the same fs");
	path1 = oci_layout_blob_path(a, d);
	path2 = oci_layout_blob_path(b, d);
	ok(stat(path1, &s1) == 0 && stat(path2, &s2) == 0 && s1.st_ino == s2.st_ino,
	   "same filesystem: a hard link");
	ok_call(oci_layout_copy_blob(a, b, d, &err), &err, "copy again: already there");
	shm = pn_mkdtemp_in("/dev/shm", "pinion-unit-", &err);
	if (shm) {
		cleanup_free char *lp = pn_path_join(shm, "layout");

		ok_call(oci_layout_open(lp, OCI_LAYOUT_CREATE, &c, &err), &err, "layout on tmpfs");
		ok_call(oci_layout_copy_blob(a, c, d, &err), &err, "copy across filesystems");
		path3 = oci_layout_blob_path(c, d);
		ok(stat(path3, &s3) == 0 && s3.st_size == (off_t)3 << 20 && s3.st_ino != s1.st_ino,
		   "another filesystem: a full copy");
		ok(oci_layout_has_blob(c, d), "the copy is stored under its digest");
		oci_layout_free(c);
		pn_rm_rf(shm, NULL);
	}
	ok_fail(oci_layout_copy_blob(a, b, EMPTY_SHA, &err), &err, PN_ERR_NOT_FOUND, EMPTY_SHA,
		"a blob the source lacks: not found, named");
	free(big);
	oci_layout_free(a);
	oci_layout_free(b);
}

/* a whole image (config, layers, manifest, tag) or its layers only; a
 * missing blob fails before the manifest is copied */
static void t_layout_copy_image(void)
{
	cleanup_free char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;
	struct oci_layout *a = new_layout(&p1), *b = new_layout(&p2), *c = new_layout(&p3);
	struct oci_layout *d = new_layout(&p4);
	struct pn_error *err = NULL;
	struct oci_descriptor desc, r;
	struct oci_image img, got;
	cleanup_free char *lp = NULL;

	oci_descriptor_init(&desc);
	oci_descriptor_init(&r);
	store_image(a, "src", "layer one", &desc);
	ok_call(oci_image_load(a, "src", NULL, &img, &err), &err, "load the source image");
	ok_call(oci_layout_copy_image(a, b, &img, OCI_COPY_IMAGE, "copied", &err), &err,
		"copy the whole image");
	ok_call(oci_layout_resolve(b, "copied", &r, &err), &err, "the copy is tagged");
	is_str(r.digest, desc.digest, "same manifest digest");
	ok_call(oci_image_load(b, "copied", NULL, &got, &err), &err, "the copy loads (verified)");
	is_str(got.manifest.layers[0].digest, img.manifest.layers[0].digest, "same layer");
	oci_image_release(&got);
	oci_descriptor_release(&r);
	ok_call(oci_layout_copy_image(a, b, &img, OCI_COPY_IMAGE, NULL, &err), &err,
		"copy again without a tag: already there");

	ok_call(oci_layout_copy_image(a, c, &img, OCI_COPY_LAYERS, NULL, &err), &err,
		"copy the layers only");
	ok(oci_layout_has_blob(c, img.manifest.layers[0].digest), "the layer is there");
	ok(!oci_layout_has_blob(c, img.manifest.config.digest), "the config is not");
	ok(!oci_layout_has_blob(c, img.desc.digest), "the manifest is not");
	ok_fail(oci_layout_resolve(c, "src", &r, &err), &err, PN_ERR_NOT_FOUND, "src",
		"nor any tag");

	lp = oci_layout_blob_path(a, img.manifest.layers[0].digest);
	ok(unlink(lp) == 0, "remove the layer from the source");
	ok_fail(oci_layout_copy_image(a, d, &img, OCI_COPY_IMAGE, "t", &err), &err,
		PN_ERR_NOT_FOUND, img.manifest.layers[0].digest,
		"a missing layer: not found, named");
	ok(!oci_layout_has_blob(d, img.desc.digest), "and the manifest was not copied");
	oci_image_release(&img);
	oci_descriptor_release(&desc);
	oci_layout_free(a);
	oci_layout_free(b);
	oci_layout_free(c);
	oci_layout_free(d);
}

/* a file in the layout's .pinion-tmp/, age seconds old */
static char *tmp_file(const char *layout, const char *name, const char *data, int age)
{
	char *p = xasprintf("%s/.pinion-tmp/%s", layout, name);
	struct timespec ts[2];

	pn_write_file_atomic(p, data, strlen(data), 0644, NULL);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, p, ts, 0);
	return p;
}

static void t_gc(void)
{
	cleanup_free char *path = NULL, *old = NULL, *young = NULL, *lp = NULL;
	struct oci_layout *l = new_layout(&path);
	struct pn_error *err = NULL;
	struct oci_descriptor d, d2;
	struct oci_gc_opts o;
	struct oci_gc_stats s;
	struct oci_image img;
	struct pn_strv roots = PN_STRV_INIT;
	oci_digest_t g1, g2, g3;

	store_image(l, "v1", "a live layer", &d);
	ok_call(oci_layout_put_blob(l, "unreferenced", 12, NULL, g1, &err), &err, "garbage blob");
	ok_call(oci_layout_put_blob(l, "kept by a root", 14, NULL, g2, &err), &err, "rooted blob");
	old = tmp_file(path, "blob.killed", "partial blob of a killed pull", 3600);
	young = tmp_file(path, "blob.live", "being written", 0);
	pn_strv_push(&roots, g2);

	oci_gc_opts_init(&o);
	o.roots = &roots;
	o.dry_run = true;
	ok_call(oci_layout_gc(l, &o, &s, &err), &err, "dry run");
	ok(s.garbage == 1 && s.swept && s.tmp == 1 && s.tmp_young == 1,
	   "dry run counts one garbage blob, one stale and one young temp file");
	ok(oci_layout_has_blob(l, g1) && access(old, F_OK) == 0, "dry run removes nothing");

	o.dry_run = false;
	o.over_garbage = 5;
	o.over_bytes = 1 << 20;
	ok_call(oci_layout_gc(l, &o, &s, &err), &err, "gc under the bounds");
	ok(!s.swept && oci_layout_has_blob(l, g1), "under both bounds: garbage stays");
	ok(s.tmp == 1 && access(old, F_OK) < 0, "stale temp file removed all the same");
	o.over_bytes = 1;
	ok_call(oci_layout_gc(l, &o, &s, &err), &err, "gc over the size bound");
	ok(s.swept && !oci_layout_has_blob(l, g1), "over the size bound: garbage removed");
	is_int(s.garbage_bytes, 12, "its bytes counted");
	ok(oci_layout_has_blob(l, g2), "a blob named by a root is kept");
	ok(access(young, F_OK) == 0 && s.tmp_young == 1, "a young temp file is kept");
	ok_call(oci_image_load(l, "v1", NULL, &img, &err), &err, "the tagged image is whole");
	oci_image_release(&img);

	/* a blob hard-linked into another layout frees nothing */
	ok_call(oci_layout_put_blob(l, "linked elsewhere", 16, NULL, g3, &err), &err, "linked");
	{
		cleanup_free char *bp = oci_layout_blob_path(l, g3);

		lp = pn_path_join(tap_tmpdir(), "link");
		ok(link(bp, lp) == 0, "hard link made");
	}
	oci_gc_opts_init(&o);
	ok_call(oci_layout_gc(l, &o, &s, &err), &err, "gc without roots");
	ok(!oci_layout_has_blob(l, g2) && !oci_layout_has_blob(l, g3), "unrooted blobs go");
	is_int(s.garbage, 2, "two garbage blobs");
	is_int(s.garbage_bytes, 14, "the linked one frees nothing");

	/* a document the index reaches that cannot be read: nothing is removed */
	store_image(l, "v2", "another layer", &d2);
	ok_call(oci_layout_put_blob(l, "more garbage", 12, NULL, g1, &err), &err, "garbage");
	{
		cleanup_free char *bp = oci_layout_blob_path(l, d2.digest);

		pn_write_file_atomic(bp, "corrupt", 7, 0644, NULL);
	}
	ok_fail(oci_layout_gc(l, &o, &s, &err), &err, PN_ERR_DIGEST, "corrupt",
		"gc refuses when a manifest is corrupt");
	ok(oci_layout_has_blob(l, g1), "and removes nothing");
	pn_strv_release(&roots);
	oci_descriptor_release(&d);
	oci_descriptor_release(&d2);
	oci_layout_free(l);
}

/* a gc waiting for the exclusive lock shows in /proc/locks as "->" */
static bool gc_lock_waiter(const char *layout)
{
	cleanup_free char *lf = pn_path_join(layout, ".pinion-gc.lock");
	cleanup_free char *data = NULL, *needle = NULL;
	struct stat st;

	if (stat(lf, &st) < 0 || pn_read_file("/proc/locks", 1 << 20, &data, NULL, NULL) < 0)
		return false;
	needle = xasprintf(":%lu ", (unsigned long)st.st_ino);
	for (char *line = data; line && *line;) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (strstr(line, "->") && strstr(line, "FLOCK") && strstr(line, "WRITE") &&
		    strstr(line, needle))
			return true;
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* a writer's unreferenced blob while it has the layout open; signals ready on
 * `ready`, waits for `go` to close, then tags an image with it */
static void gc_writer_child(const char *path, int ready, int go)
{
	struct oci_layout *cl = NULL;
	struct oci_image img;
	struct oci_descriptor layer;
	char c = 'x';

	if (oci_layout_open(path, 0, &cl, NULL) < 0)
		_exit(1);
	oci_descriptor_init(&layer);
	layer.media_type = xstrdup(OCI_MT_LAYER);
	layer.size = 9;
	if (oci_layout_put_blob(cl, "in flight", 9, NULL, layer.digest, NULL) < 0 ||
	    write(ready, &c, 1) != 1)
		_exit(1);
	while (read(go, &c, 1) > 0)
		;
	oci_image_init(&img);
	oci_manifest_add_layer(&img.manifest, &layer);
	oci_config_add_layer(&img.config, EMPTY_SHA, "test");
	if (oci_image_store(cl, &img, "child", NULL, NULL) < 0)
		_exit(1);
	_exit(0);
}

static void gc_waiting_child(const char *path, int out)
{
	struct oci_layout *cl = NULL;
	struct oci_gc_stats s;

	if (oci_layout_open(path, 0, &cl, NULL) < 0 || oci_layout_gc(cl, NULL, &s, NULL) < 0 ||
	    write(out, &s, sizeof(s)) != (ssize_t)sizeof(s))
		_exit(1);
	_exit(0);
}

static void t_gc_lock(void)
{
	cleanup_free char *path = NULL;
	struct oci_layout *l = new_layout(&path);
	struct pn_error *err = NULL;
	struct oci_descriptor d;
	struct oci_gc_opts o;
	struct oci_gc_stats s, cs;
	struct oci_image img;
	oci_digest_t g, inflight;
	int ready[2], go[2], res[2], status, waited = 0;
	pid_t wpid, gpid;
	char c;

	store_image(l, "v1", "a live layer", &d);
	ok_call(oci_layout_put_blob(l, "garbage", 7, NULL, g, &err), &err, "garbage blob");
	oci_digest_buf("in flight", 9, inflight);
	if (pipe(ready) < 0 || pipe(go) < 0 || pipe(res) < 0)
		PN_BUG("pipe");
	fflush(stdout);
	wpid = fork();
	if (wpid == 0) {
		/* children drop the parent's handle: its lock is the parent's */
		oci_layout_free(l);
		close(ready[0]), close(go[1]), close(res[0]), close(res[1]);
		gc_writer_child(path, ready[1], go[0]);
	}
	close(ready[1]), close(go[0]);
	ok(read(ready[0], &c, 1) == 1, "writer child holds the layout with a blob in flight");

	oci_gc_opts_init(&o);
	o.no_wait = true;
	ok_call(oci_layout_gc(l, &o, &s, &err), &err, "gc without waiting");
	ok(s.skipped, "skipped: another process has the layout open");
	ok(oci_layout_has_blob(l, inflight) && oci_layout_has_blob(l, g), "nothing removed");
	ok_call(oci_layout_tag(l, "v1-again", &d, &err), &err,
		"the handle still works after a skipped gc");

	fflush(stdout);
	gpid = fork();
	if (gpid == 0) {
		oci_layout_free(l);
		close(res[0]), close(go[1]), close(ready[0]);
		gc_waiting_child(path, res[1]);
	}
	close(res[1]);
	for (int i = 0; i < 3000 && !(waited = gc_lock_waiter(path)); i++)
		usleep(10000);
	ok(waited, "a waiting gc blocks on the lock");
	ok(oci_layout_has_blob(l, inflight), "the writer's blob is still there");
	close(go[1]); /* the writer tags its image and exits */
	ok(waitpid(wpid, &status, 0) == wpid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "writer child tagged its image");
	oci_layout_free(l); /* our own shared hold goes: gc can run */
	ok(read(res[0], &cs, sizeof(cs)) == (ssize_t)sizeof(cs), "gc child reports");
	ok(waitpid(gpid, &status, 0) == gpid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "gc child finished");
	close(ready[0]), close(res[0]);
	is_int(cs.garbage, 1, "gc removed only the garbage");
	ok_call(oci_layout_open(path, 0, &l, &err), &err, "reopen");
	ok(!oci_layout_has_blob(l, g), "garbage gone");
	ok_call(oci_image_load(l, "child", NULL, &img, &err), &err,
		"the writer's image is whole (its blob was in flight during the gc)");
	oci_image_release(&img);
	oci_descriptor_release(&d);
	oci_layout_free(l);
}

int main(void)
{
	TEST(t_digest);
	TEST(t_digest_file);
	TEST(t_compression);
	TEST(t_manifest);
	TEST(t_manifest_bad);
	TEST(t_index);
	TEST(t_config);
	TEST(t_index_config_bad);
	TEST(t_layout);
	TEST(t_layout_docker_entry);
	TEST(t_layout_copy_blob);
	TEST(t_layout_copy_image);
	TEST(t_layout_concurrent);
	TEST(t_layout_names);
	TEST(t_ref);
	TEST(t_inspect_json);
	TEST(t_image_through_index);
	TEST(t_gc);
	TEST(t_gc_lock);
	return tap_done();
}
