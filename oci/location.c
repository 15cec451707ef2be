/* location.c - where an image lives on this machine: oci:DIR,
 * oci-archive:FILE, docker-archive:FILE.  An archive is a temporary layout
 * unpacked at open (read) or packed at commit (write), so every caller
 * works on an oci_layout whatever the transport. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	enum oci_transport t;
	const char *prefix; /* with its colon */
	const char *form;
} transports[] = {
	{OCI_TRANSPORT_LAYOUT, "oci:", "oci:DIR[:TAG]"},
	{OCI_TRANSPORT_OCI_ARCHIVE, "oci-archive:", "oci-archive:FILE[:REF]"},
	{OCI_TRANSPORT_DOCKER_ARCHIVE, "docker-archive:", "docker-archive:FILE[:REF]"},
};
#define N_TRANSPORTS (sizeof(transports) / sizeof(*transports))

enum oci_transport oci_transport_of(const char *s)
{
	for (size_t i = 0; i < N_TRANSPORTS; i++)
		if (!strncmp(s, transports[i].prefix, strlen(transports[i].prefix)))
			return transports[i].t;
	return OCI_TRANSPORT_NONE;
}

const char *oci_transport_name(enum oci_transport t)
{
	switch (t) {
	case OCI_TRANSPORT_LAYOUT:
		return "oci";
	case OCI_TRANSPORT_OCI_ARCHIVE:
		return "oci-archive";
	case OCI_TRANSPORT_DOCKER_ARCHIVE:
		return "docker-archive";
	default:
		return "registry";
	}
}

int oci_location_parse(const char *s, enum oci_transport *t_out, char **path_out, char **ref_out,
		       struct pn_error **err)
{
	enum oci_transport t = oci_transport_of(s);
	const char *rest, *sep, *form;

	if (t == OCI_TRANSPORT_NONE)
		return pn_error_set(err, PN_ERR_INVALID,
				    "`%s` is not a local image (expected oci:DIR[:TAG], "
				    "oci-archive:FILE[:REF] or docker-archive:FILE[:REF])",
				    s);
	rest = s + strlen(transports[t - 1].prefix);
	form = transports[t - 1].form;
	sep = strstr(rest, "@sha256:");
	if (!sep)
		sep = strchr(rest, ':');
	if (sep == rest || !*rest)
		return pn_error_set(err, PN_ERR_INVALID, "`%s`: missing %s (expected %s)", s,
				    t == OCI_TRANSPORT_LAYOUT ? "directory" : "file", form);
	if (sep && !sep[1])
		return pn_error_set(err, PN_ERR_INVALID, "`%s`: empty tag after `:`", s);
	if (sep && *sep == '@' && oci_digest_parse(sep + 1, NULL, err) < 0)
		return pn_error_wrap(err, "`%s`", s);
	*t_out = t;
	*path_out = sep ? xstrndup(rest, (size_t)(sep - rest)) : xstrdup(rest);
	*ref_out = sep ? xstrdup(sep + 1) : NULL;
	return 0;
}

int oci_ref_parse_layout(const char *s, char **dir_out, char **ref_out, struct pn_error **err)
{
	enum oci_transport t;

	if (oci_transport_of(s) > OCI_TRANSPORT_LAYOUT) {
		pn_error_set(err, PN_ERR_INVALID,
			     "`%s`: an archive, where an OCI layout (oci:DIR[:TAG]) is needed", s);
		pn_error_hint(err, "copy it into a layout first: pinion copy %s oci:DIR", s);
		return -1;
	}
	if (oci_transport_of(s) != OCI_TRANSPORT_LAYOUT)
		return pn_error_set(err, PN_ERR_INVALID,
				    "`%s` is not an OCI layout reference (expected oci:DIR[:TAG])",
				    s);
	return oci_location_parse(s, &t, dir_out, ref_out, err);
}

void oci_location_init(struct oci_location *loc)
{
	memset(loc, 0, sizeof(*loc));
}

void oci_location_release(struct oci_location *loc)
{
	oci_layout_free(loc->layout);
	if (loc->tmp)
		pn_rm_rf(loc->tmp, NULL);
	free(loc->tmp);
	free(loc->path);
	free(loc->ref);
	free(loc->repo_tag);
	oci_location_init(loc);
}

/* a file to write goes in a directory that exists: say so before the work */
static int check_dest(const char *file, struct pn_error **err)
{
	cleanup_free char *dir = xstrdup(file);
	char *slash = strrchr(dir, '/');
	struct stat st;

	if (slash)
		*slash = '\0';
	if (stat(slash ? (*dir ? dir : "/") : ".", &st) < 0)
		return pn_error_set_errno(err, errno, "`%s`: its directory", file);
	if (stat(file, &st) == 0 && S_ISDIR(st.st_mode))
		return pn_error_set(err, PN_ERR_INVALID, "`%s` is a directory, not a file", file);
	return 0;
}

/* ------------------------------------------------ a signal during a read */

/* Reading an archive may take minutes (a model's weights); SIGINT, SIGTERM
 * or SIGHUP meanwhile would leave its temporary layout in the cache until a
 * gc.  So while it is read, such a signal (unless ignored) removes that
 * directory, with async-signal-safe calls only, then kills the process as
 * before.  A layout is shallow: blobs/sha256/FILE. */
static char guard_dir[PATH_MAX];
static const int guard_sigs[] = {SIGINT, SIGTERM, SIGHUP};
#define N_GUARD_SIGS (sizeof(guard_sigs) / sizeof(*guard_sigs))

static void guard_rm_at(int dfd, const char *name, int depth)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n;

	for (int pass = 0; fd >= 0 && pass < 3 && lseek(fd, 0, SEEK_SET) == 0; pass++) {
		while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t off = 0; off < n;) {
				struct dirent64 *de = (struct dirent64 *)(void *)(buf + off);

				off += de->d_reclen;
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				if (unlinkat(fd, de->d_name, 0) < 0 && errno == EISDIR && depth < 6)
					guard_rm_at(fd, de->d_name, depth + 1);
			}
		}
	}
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static void guard_on_signal(int sig)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	guard_rm_at(AT_FDCWD, guard_dir, 0);
	sigaction(sig, &dfl, NULL);
	raise(sig); /* delivered when the handler returns: the default action */
}

static void guard_begin(const char *dir, struct sigaction *old)
{
	struct sigaction sa = {.sa_handler = guard_on_signal};

	snprintf(guard_dir, sizeof(guard_dir), "%s", dir);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_GUARD_SIGS; i++)
		sigaddset(&sa.sa_mask, guard_sigs[i]);
	for (size_t i = 0; i < N_GUARD_SIGS; i++) {
		sigaction(guard_sigs[i], NULL, &old[i]);
		if (old[i].sa_handler != SIG_IGN)
			sigaction(guard_sigs[i], &sa, NULL);
	}
}

static void guard_end(const struct sigaction *old)
{
	for (size_t i = 0; i < N_GUARD_SIGS; i++)
		sigaction(guard_sigs[i], &old[i], NULL);
}

static int unpack(struct oci_location *loc, struct pn_error **err)
{
	struct sigaction old[N_GUARD_SIGS];
	char *tag = NULL;
	int rc;

	guard_begin(loc->tmp, old);
	if (loc->transport == OCI_TRANSPORT_OCI_ARCHIVE)
		rc = oci_archive_unpack(loc->layout, loc->path, err);
	else
		rc = oci_docker_archive_unpack(loc->layout, loc->path, loc->ref, &tag, err);
	guard_end(old);
	if (rc < 0 || loc->transport == OCI_TRANSPORT_OCI_ARCHIVE)
		return rc;
	free(loc->ref);
	loc->ref = tag;
	return 0;
}

int oci_location_open(struct oci_location *loc, const char *s, int flags, const char *tmp_parent,
		      struct pn_error **err)
{
	cleanup_free char *parent = tmp_parent ? xstrdup(tmp_parent) : pn_cache_dir();

	oci_location_init(loc);
	if (oci_location_parse(s, &loc->transport, &loc->path, &loc->ref, err) < 0)
		return -1;
	loc->write = flags & OCI_LAYOUT_CREATE;
	if (loc->transport == OCI_TRANSPORT_LAYOUT)
		return oci_layout_open(loc->path, flags, &loc->layout, err);
	if (loc->write && check_dest(loc->path, err) < 0)
		return -1;
	if (pn_mkdir_p(parent, 0755, err) < 0 ||
	    !(loc->tmp = pn_mkdtemp_in(parent, "copy-archive-", err)) ||
	    oci_layout_open(loc->tmp, OCI_LAYOUT_CREATE, &loc->layout, err) < 0)
		return pn_error_wrap(err, "`%s`", s);
	if (!loc->write && unpack(loc, err) < 0)
		return -1;
	return 0;
}

int oci_location_commit(struct oci_location *loc, struct pn_error **err)
{
	const char *repo_tag = loc->repo_tag ? loc->repo_tag : loc->ref;

	if (!loc->write || loc->transport == OCI_TRANSPORT_LAYOUT)
		return 0;
	if (loc->transport == OCI_TRANSPORT_OCI_ARCHIVE)
		return oci_archive_pack(loc->tmp, loc->path, err);
	if (repo_tag && (repo_tag[0] == '@' || oci_digest_valid(repo_tag)))
		repo_tag = NULL;
	return oci_docker_archive_pack(loc->layout, NULL, repo_tag, loc->tmp, loc->path, err);
}

/* every `from` in *msg replaced by `to` */
static void replace_all(char **msg, const char *from, const char *to)
{
	const char *at;
	char *m;
	size_t skip = 0;

	while ((at = strstr(*msg + skip, from))) {
		m = xasprintf("%.*s%s%s", (int)(at - *msg), *msg, to, at + strlen(from));
		skip = (size_t)(at - *msg) + strlen(to);
		free(*msg);
		*msg = m;
	}
}

/* a message naming an archive's temporary layout (removed with loc) names
 * the archive instead, everywhere: `oci:TMP:TAG` (a hint to name an image)
 * becomes `oci-archive:FILE:TAG` */
static void name_archive(const struct oci_location *loc, struct pn_error **err)
{
	cleanup_free char *oci_tmp = NULL, *as_archive = NULL;

	if (!err || !*err || !loc->tmp)
		return;
	oci_tmp = xasprintf("oci:%s", loc->tmp);
	as_archive = xasprintf("%s:%s", oci_transport_name(loc->transport), loc->path);
	replace_all(&(*err)->msg, oci_tmp, as_archive);
	replace_all(&(*err)->msg, loc->tmp, loc->path);
	if ((*err)->hint) {
		replace_all(&(*err)->hint, oci_tmp, as_archive);
		replace_all(&(*err)->hint, loc->tmp, loc->path);
	}
}

int oci_location_open_image(struct oci_location *loc, const char *s, const char *tmp_parent,
			    const char *platform, struct oci_image *img, struct pn_error **err)
{
	if (oci_location_open(loc, s, 0, tmp_parent, err) == 0 &&
	    oci_image_load(loc->layout, loc->ref, platform, img, err) == 0)
		return 0;
	name_archive(loc, err);
	oci_location_release(loc);
	return pn_error_wrap(err, "image `%s`", s);
}

int oci_location_inspect_json(const char *s, const char *platform, json_t **out,
			      struct pn_error **err)
{
	struct oci_location loc;
	int rc;

	if (oci_location_open(&loc, s, 0, NULL, err) < 0) {
		oci_location_release(&loc);
		return -1;
	}
	rc = oci_layout_inspect_json(loc.layout, loc.ref, platform, s, out, err);
	if (rc < 0)
		name_archive(&loc, err);
	oci_location_release(&loc);
	return rc;
}
