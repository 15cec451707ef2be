/* test_oci_archive.c - oci-archive: and docker-archive: (oci/archive.c,
 * docker_archive.c, location.c): location parsing, round trips through
 * both formats (the digests, the config and the diff_ids survive, a gzip
 * layer comes out plain), docker 25+'s blobs/sha256 layout, and hostile
 * archives refused with the member named. */
#include "tests/unit/tap.h"
#include "oci/oci.h"
#include "oci/internal.h"
#include "common/cleanup.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */
struct ent {
	const char *name;
	const char *data; /* regular file; NULL with link: a symlink */
	const char *link;
	mode_t type; /* 0: by data/link; else AE_IFCHR, AE_IFDIR... */
	const char *hardlink;
};

static void tar_write(const char *path, const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	ok(archive_write_open_filename(a, path) == ARCHIVE_OK, "open tar %s", path);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		mode_t t = e[i].type ? e[i].type : e[i].link ? AE_IFLNK : AE_IFREG;

		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_filetype(ae, t);
		archive_entry_set_perm(ae, 0644);
		if (e[i].link)
			archive_entry_set_symlink(ae, e[i].link);
		if (e[i].hardlink)
			archive_entry_set_hardlink(ae, e[i].hardlink);
		archive_entry_set_size(ae, e[i].data ? (int64_t)strlen(e[i].data) : 0);
		archive_write_header(a, ae);
		if (e[i].data)
			archive_write_data(a, e[i].data, strlen(e[i].data));
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static struct oci_layout *layout_in(const char *dir, const char *name)
{
	cleanup_free char *p = pn_path_join(dir, name);
	struct oci_layout *l = NULL;
	struct pn_error *err = NULL;

	ok_call(oci_layout_open(p, OCI_LAYOUT_CREATE, &l, &err), &err, "layout %s", name);
	return l;
}

/* an image of one gzip layer holding etc/hello, tagged `tag` */
static void make_image(struct oci_layout *l, const char *tag, struct oci_image *img)
{
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct oci_layer_result r;
	struct pn_error *err = NULL;

	oci_layer_opts_init(&o);
	o.compression = OCI_COMP_GZIP;
	w = oci_layer_writer_new(l, &o, &err);
	ok_call(oci_layer_writer_add_data(w, "etc/hello", "hi\n", 3, 0644, &err), &err, "add");
	ok_call(oci_layer_writer_finish(w, &r, &err), &err, "layer");
	oci_layer_writer_free(w);
	oci_image_init(img);
	oci_manifest_add_layer(&img->manifest, &r.desc);
	oci_config_add_layer(&img->config, r.diff_id, "test");
	ok_call(oci_image_store(l, img, tag, NULL, &err), &err, "store image");
	oci_layer_result_release(&r);
}

/* ---------------------------------------------------------------- tests */
static void t_parse(void)
{
	struct pn_error *err = NULL;
	enum oci_transport t;
	char *path = NULL, *ref = NULL;

	is_int(oci_transport_of("oci:x"), OCI_TRANSPORT_LAYOUT, "oci:");
	is_int(oci_transport_of("oci-archive:x"), OCI_TRANSPORT_OCI_ARCHIVE, "oci-archive:");
	is_int(oci_transport_of("docker-archive:x"), OCI_TRANSPORT_DOCKER_ARCHIVE,
	       "docker-archive:");
	is_int(oci_transport_of("docker://x"), OCI_TRANSPORT_NONE, "a registry");
	ok_call(oci_location_parse("oci-archive:a.tar:r8.im/me/m:v3", &t, &path, &ref, &err), &err,
		"parse oci-archive with a full name");
	is_str(path, "a.tar", "file");
	is_str(ref, "r8.im/me/m:v3", "ref: all after the first colon");
	free(path);
	free(ref);
	ok_call(oci_location_parse("docker-archive:/x/d.tar:@1", &t, &path, &ref, &err), &err,
		"parse docker-archive @N");
	is_str(ref, "@1", "@N");
	free(path);
	free(ref);
	ok_call(oci_location_parse("docker-archive:d.tar", &t, &path, &ref, &err), &err, "no ref");
	ok(ref == NULL, "ref NULL");
	free(path);
	ok_fail(oci_location_parse("oci-archive:", &t, &path, &ref, &err), &err, PN_ERR_INVALID,
		"missing file", "no file");
	ok_fail(oci_location_parse("zip:x", &t, &path, &ref, &err), &err, PN_ERR_INVALID,
		"docker-archive:FILE", "unknown transport lists the forms");
	ok_fail(oci_ref_parse_layout("oci-archive:a.tar", &path, &ref, &err), &err, PN_ERR_INVALID,
		"an archive, where an OCI layout", "a layout parser refuses an archive");
}

static void t_oci_roundtrip(void)
{
	char *dir = tap_tmpdir();
	struct oci_layout *src = layout_in(dir, "src"), *dst = layout_in(dir, "dst");
	cleanup_free char *file = pn_path_join(dir, "a.tar");
	cleanup_free char *srcdir = pn_path_join(dir, "src");
	struct oci_image img, back;
	struct pn_error *err = NULL;

	make_image(src, "r8.im/me/m:v3", &img);
	ok_call(oci_archive_pack(srcdir, file, &err), &err, "pack the layout");
	ok_call(oci_archive_unpack(dst, file, &err), &err, "unpack it");
	ok_call(oci_image_load(dst, "r8.im/me/m:v3", NULL, &back, &err), &err,
		"the full name resolves");
	is_str(back.desc.digest, img.desc.digest, "manifest digest survives");
	oci_image_release(&back);
	oci_image_release(&img);
	oci_layout_free(src);
	oci_layout_free(dst);
}

static void t_docker_roundtrip(void)
{
	char *dir = tap_tmpdir();
	struct oci_layout *src = layout_in(dir, "src"), *dst = layout_in(dir, "dst");
	struct oci_layout *scratch = layout_in(dir, "scratch");
	cleanup_free char *file = pn_path_join(dir, "d.tar");
	cleanup_free char *man = NULL, *tag = NULL;
	struct oci_archive_members m;
	struct oci_image img, back;
	struct pn_error *err = NULL;
	size_t len;

	make_image(src, "v1", &img);
	ok_call(oci_docker_archive_pack(src, "v1", "me/m:v1", dir, file, &err), &err,
		"write a docker archive");
	ok_call(oci_archive_read_members(scratch, file, true, &m, &err), &err, "read it back");
	ok(m.n == 3, "config, one layer, manifest.json (%zu)", m.n);
	ok_call(oci_archive_member_read(scratch, &m, "manifest.json", 4096, &man, &len, &err), &err,
		"manifest.json");
	ok(tap_contains(man, "\"RepoTags\":[\"me/m:v1\"]"), "RepoTags: %s", man);
	{
		cleanup_free char *lname =
			xasprintf("%s.tar", oci_digest_hex(img.config.diff_ids[0]));
		const struct oci_archive_member *lm = oci_archive_member_find(&m, lname, &err);

		ok(lm && !strcmp(lm->digest, img.config.diff_ids[0]),
		   "the gzip layer is stored plain: its digest is the diff_id");
	}
	oci_archive_members_release(&m);
	ok_call(oci_docker_archive_unpack(dst, file, "docker.io/library/me/m:v1", &tag, &err), &err,
		"pick by a normalised name");
	free(tag);
	ok_call(oci_docker_archive_unpack(dst, file, "@0", &tag, &err), &err, "pick by @0");
	is_str(tag, "me/m:v1", "tagged by its RepoTag");
	free(tag);
	tag = NULL;
	ok_call(oci_image_load(dst, "me/m:v1", NULL, &back, &err), &err, "load it");
	is_str(back.manifest.config.digest, img.manifest.config.digest,
	       "the config (image ID) survives");
	is_str(back.config.diff_ids[0], img.config.diff_ids[0], "the diff_id survives");
	is_str(back.manifest.layers[0].media_type, OCI_MT_LAYER, "an uncompressed layer");
	oci_image_release(&back);
	ok_fail(oci_docker_archive_unpack(dst, file, "other:v1", &tag, &err), &err,
		PN_ERR_NOT_FOUND, "me/m:v1", "an unknown name lists the names");
	oci_image_release(&img);
	oci_layout_free(src);
	oci_layout_free(dst);
	oci_layout_free(scratch);
}

/* docker 25+ / podman: members named blobs/sha256/<hex>, an OCI layout too */
static void t_docker_new_layout(void)
{
	char *dir = tap_tmpdir();
	struct oci_layout *dst = layout_in(dir, "dst");
	cleanup_free char *file = pn_path_join(dir, "n.tar");
	const char *layer = "not really a tar but plain bytes";
	oci_digest_t ld, cd;
	cleanup_free char *cfg = NULL, *lname = NULL, *cname = NULL, *man = NULL, *tag = NULL;
	struct pn_error *err = NULL;

	oci_digest_buf(layer, strlen(layer), ld);
	cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
			"\"layers\",\"diff_ids\":[\"%s\"]}}",
			ld);
	oci_digest_buf(cfg, strlen(cfg), cd);
	lname = xasprintf("blobs/sha256/%s", oci_digest_hex(ld));
	cname = xasprintf("blobs/sha256/%s", oci_digest_hex(cd));
	man = xasprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"%s\"]}]", cname,
			lname);
	{
		struct ent e[] = {
			{"blobs/", NULL, NULL, AE_IFDIR, NULL},
			{lname, layer, NULL, 0, NULL},
			{cname, cfg, NULL, 0, NULL},
			{"manifest.json", man, NULL, 0, NULL},
			{"oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", NULL, 0, NULL}};
		tar_write(file, e, 5);
	}
	ok_call(oci_docker_archive_unpack(dst, file, NULL, &tag, &err), &err,
		"read a blobs/sha256 docker archive");
	is_str(tag, "x:1", "its RepoTag");
	oci_layout_free(dst);
}

/* ------------------------------------------------------------- hostile */
static void expect_refused(const char *what, const struct ent *e, size_t n, bool docker, int code,
			   const char *needle)
{
	char *dir = tap_tmpdir();
	struct oci_layout *l = layout_in(dir, "l");
	cleanup_free char *file = pn_path_join(dir, "h.tar");
	cleanup_free char *tag = NULL;
	struct pn_error *err = NULL;

	tar_write(file, e, n);
	if (docker)
		ok_fail(oci_docker_archive_unpack(l, file, NULL, &tag, &err), &err, code, needle,
			"%s", what);
	else
		ok_fail(oci_archive_unpack(l, file, &err), &err, code, needle, "%s", what);
	oci_layout_free(l);
}

#define LAYOUT_OK                                                                                  \
	{                                                                                          \
		"oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", NULL, 0, NULL                  \
	}
#define INDEX_OK                                                                                   \
	{                                                                                          \
		"index.json", "{\"schemaVersion\":2,\"manifests\":[]}", NULL, 0, NULL              \
	}

static void t_hostile_names(void)
{
	struct ent dotdot[] = {LAYOUT_OK, INDEX_OK, {"../evil", "x", NULL, 0, NULL}};
	struct ent abs[] = {LAYOUT_OK, INDEX_OK, {"/etc/evil", "x", NULL, 0, NULL}};
	struct ent sym[] = {LAYOUT_OK, INDEX_OK, {"blobs/x", NULL, "/etc/passwd", 0, NULL}};
	struct ent dsym[] = {{"manifest.json", "[]", NULL, 0, NULL},
			     {"a/layer.tar", NULL, "../../../etc/passwd", 0, NULL}};
	struct ent hard[] = {LAYOUT_OK, INDEX_OK, {"h", "", NULL, 0, "oci-layout"}};
	struct ent dev[] = {LAYOUT_OK, INDEX_OK, {"null", NULL, NULL, AE_IFCHR, NULL}};
	struct ent twice[] = {LAYOUT_OK, INDEX_OK, {"index.json", "{}", NULL, 0, NULL}};

	expect_refused("a .. name", dotdot, 3, false, PN_ERR_INVALID, "..");
	expect_refused("an absolute name", abs, 3, false, PN_ERR_INVALID, "absolute");
	expect_refused("a symlink in an OCI archive", sym, 3, false, PN_ERR_INVALID, "symlink");
	expect_refused("a docker symlink out of the archive", dsym, 2, true, PN_ERR_INVALID,
		       "symlink");
	expect_refused("a hard link", hard, 3, false, PN_ERR_INVALID, "hard link");
	expect_refused("a device", dev, 3, false, PN_ERR_INVALID, "not a file");
	expect_refused("a name twice", twice, 3, false, PN_ERR_INVALID, "twice");
}

static void t_hostile_content(void)
{
	const char *zero = "blobs/sha256/0000000000000000000000000000000000000000000000000000000000"
			   "000000";
	struct ent wrong[] = {LAYOUT_OK, INDEX_OK, {zero, "not zero", NULL, 0, NULL}};
	struct ent noindex[] = {LAYOUT_OK};
	struct ent missing[] = {
		LAYOUT_OK,
		{"index.json",
		 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
		 "vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
		 "1111111111111111111111111111111111111111111111111111111111111111\",\"size\":2}]}",
		 NULL, 0, NULL}};
	struct ent dmissing[] = {
		{"manifest.json", "[{\"Config\":\"c.json\",\"Layers\":[\"l.tar\"]}]", NULL, 0,
		 NULL},
		{"c.json",
		 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
		 "\"diff_ids\":[\"sha256:"
		 "2222222222222222222222222222222222222222222222222222222222222222\"]}}",
		 NULL, 0, NULL}};
	struct ent nomanifest[] = {{"x", "y", NULL, 0, NULL}};
	struct ent garbage[] = {{"manifest.json", "{not json", NULL, 0, NULL}};

	expect_refused("a blob whose content is not its name", wrong, 3, false, PN_ERR_DIGEST,
		       "digest");
	expect_refused("no index.json", noindex, 1, false, PN_ERR_INVALID, "not an OCI archive");
	expect_refused("an index naming a missing manifest", missing, 2, false, PN_ERR_NOT_FOUND,
		       "does not hold");
	expect_refused("a manifest.json naming a missing layer", dmissing, 2, true,
		       PN_ERR_NOT_FOUND, "`l.tar` is not in the archive");
	expect_refused("no manifest.json", nomanifest, 1, true, PN_ERR_NOT_FOUND,
		       "not a docker archive");
	expect_refused("manifest.json not JSON", garbage, 1, true, PN_ERR_INVALID, "manifest.json");
}

/* a layer whose content is not the config's diff_id; a legacy config name
 * that is not its digest */
static void t_hostile_digests(void)
{
	const char *cfg = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
			  "\"layers\",\"diff_ids\":[\"sha256:"
			  "2222222222222222222222222222222222222222222222222222222222222222\"]}}";
	struct ent layer[] = {{"manifest.json", "[{\"Config\":\"c.json\",\"Layers\":[\"l.tar\"]}]",
			       NULL, 0, NULL},
			      {"c.json", cfg, NULL, 0, NULL},
			      {"l.tar", "plain", NULL, 0, NULL}};
	struct ent cname[] = {
		{"manifest.json",
		 "[{\"Config\":\"3333333333333333333333333333333333333333333333333333333333333333."
		 "json\",\"Layers\":[]}]",
		 NULL, 0, NULL},
		{"3333333333333333333333333333333333333333333333333333333333333333.json",
		 "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", NULL, 0, NULL}};

	expect_refused("a layer that is not its diff_id", layer, 3, true, PN_ERR_DIGEST,
		       "the config says");
	expect_refused("a config whose name is not its digest", cname, 2, true, PN_ERR_DIGEST,
		       "has digest");
}

/* a header claiming 2 TiB (base-256 size field) is refused before reading */
static void t_hostile_size(void)
{
	char *dir = tap_tmpdir();
	struct oci_layout *l = layout_in(dir, "l");
	cleanup_free char *file = pn_path_join(dir, "big.tar");
	unsigned char h[1536] = {0};
	unsigned sum = 0;
	struct pn_error *err = NULL;
	int fd;

	memcpy(h, "big", 3);
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 108, "0000000", 7);
	memcpy(h + 116, "0000000", 7);
	h[124] = 0x80;
	h[130] = 0x02; /* 2 << 40 */
	memcpy(h + 136, "00000000000", 11);
	h[156] = '0';
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ok(fd >= 0 && pn_write_all(fd, h, sizeof(h)) == 0, "write the header");
	close(fd);
	ok_fail(oci_archive_unpack(l, file, &err), &err, PN_ERR_TOO_LARGE, "big",
		"a 2 TiB member is refused");
	oci_layout_free(l);
}

/* entries of dir besides . and .. */
static int n_entries(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	return n;
}

/* the archives t_location wrote (dir/o.tar:v1, dir/d.tar:me/m:v1) opened
 * with their image; the temporary layout goes with the location, and on an
 * error at once, the message naming the archive */
static void t_location_image(const char *dir, const struct oci_image *want)
{
	cleanup_free char *scratch = pn_path_join(dir, "scratch");
	const char *where[] = {"oci-archive:", "docker-archive:", "oci:"};
	const char *file[] = {"o.tar:v1", "d.tar:@0", "src:v1"};
	struct oci_location loc;
	struct oci_image img;
	struct pn_error *err = NULL;

	ok(mkdir(scratch, 0755) == 0, "scratch dir");
	for (size_t i = 0; i < 3; i++) {
		cleanup_free char *s = xasprintf("%s%s/%s", where[i], dir, file[i]);

		ok_call(oci_location_open_image(&loc, s, scratch, NULL, &img, &err), &err,
			"open %s with its image", s);
		is_str(img.config.diff_ids[0], want->config.diff_ids[0], "its layer");
		is_int(n_entries(scratch), i < 2, "a temporary layout only for an archive");
		oci_image_release(&img);
		oci_location_release(&loc);
		is_int(n_entries(scratch), 0, "removed with the location");
	}
	for (size_t i = 0; i < 2; i++) {
		cleanup_free char *s = xasprintf(
			i ? "docker-archive:%s/d.tar:nope" : "oci-archive:%s/o.tar:nope", dir);
		int rc = oci_location_open_image(&loc, s, scratch, NULL, &img, &err);
		const char *msg = err ? err->msg : "(none)";

		ok(rc < 0 && err && err->code == PN_ERR_NOT_FOUND &&
			   strstr(msg, i ? "d.tar" : "o.tar") && strstr(msg, "nope") &&
			   !strstr(msg, "copy-archive"),
		   "a missing REF names the archive, not the temporary layout: %s", msg);
		pn_error_clear(&err);
		is_int(n_entries(scratch), 0, "and nothing is left");
	}
}

static void t_location(void)
{
	char *dir = tap_tmpdir();
	struct oci_layout *src = layout_in(dir, "src");
	cleanup_free char *s = xasprintf("oci-archive:%s/o.tar:v1", dir);
	cleanup_free char *d = xasprintf("docker-archive:%s/d.tar:me/m:v1", dir);
	struct oci_location loc;
	struct oci_image img;
	struct pn_error *err = NULL;
	json_t *j = NULL;

	make_image(src, "v1", &img);
	for (int i = 0; i < 2; i++) {
		const char *where = i ? d : s;

		ok_call(oci_location_open(&loc, where, OCI_LAYOUT_CREATE, dir, &err), &err,
			"open %s to write", where);
		ok_call(oci_layout_copy_image(src, loc.layout, &img, OCI_COPY_IMAGE, loc.ref, &err),
			&err, "copy the image in");
		ok_call(oci_location_commit(&loc, &err), &err, "commit");
		oci_location_release(&loc);
		ok_call(oci_location_open(&loc, where, 0, dir, &err), &err, "open %s to read",
			where);
		is_str(loc.ref, i ? "me/m:v1" : "v1", "the ref");
		oci_location_release(&loc);
		ok_call(oci_location_inspect_json(where, NULL, &j, &err), &err, "inspect %s",
			where);
		json_decref(j);
	}
	ok_fail(oci_location_open(&loc, "oci-archive:/nonexistent/x.tar", OCI_LAYOUT_CREATE, dir,
				  &err),
		&err, 0, "/nonexistent/x.tar", "a file in a missing directory is named");
	oci_location_release(&loc);
	t_location_image(dir, &img);
	oci_image_release(&img);
	oci_layout_free(src);
}

int main(void)
{
	TEST(t_parse);
	TEST(t_oci_roundtrip);
	TEST(t_docker_roundtrip);
	TEST(t_docker_new_layout);
	TEST(t_hostile_names);
	TEST(t_hostile_content);
	TEST(t_hostile_digests);
	TEST(t_hostile_size);
	TEST(t_location);
	return tap_done();
}
