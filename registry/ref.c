/* ref.c - image references: parse, format, validate; host names: loopback,
 * marked insecure.  The bottom of registry/: it calls no other file of it. */
#include "registry/internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void registry_ref_init(struct registry_ref *r)
{
	memset(r, 0, sizeof(*r));
}

void registry_ref_release(struct registry_ref *r)
{
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	registry_ref_init(r);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void registry_ref_copy(struct registry_ref *out, const struct registry_ref *in)
{
	out->registry = dup_or_null(in->registry);
	out->repository = dup_or_null(in->repository);
	out->tag = dup_or_null(in->tag);
	out->digest = dup_or_null(in->digest);
}

bool registry_digest_valid(const char *s)
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
		return false;
	for (const char *p = s + 7; *p; p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return false;
	return true;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* component ::= [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool component_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !is_lower_alnum(s[j]))
			j++;
		size_t sep = j - i;
		const char *p = s + i;
		bool ok = (sep == 1 && (*p == '.' || *p == '_' || *p == '-')) ||
			  (sep == 2 && p[0] == '_' && p[1] == '_');
		if (!ok) {
			ok = true;
			for (size_t k = 0; k < sep; k++)
				ok = ok && p[k] == '-';
		}
		if (!ok)
			return false;
		i = j;
	}
	return true;
}

bool registry_repository_valid(const char *repo)
{
	size_t n = strlen(repo);
	const char *p = repo;

	if (n == 0 || n > REGISTRY_REPO_MAX)
		return false;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!component_valid(p, len))
			return false;
		if (!slash)
			break;
		p = slash + 1;
		if (!*p)
			return false;
	}
	return true;
}

bool registry_tag_valid(const char *tag)
{
	size_t n = strlen(tag);

	if (n == 0 || n > REGISTRY_TAG_MAX)
		return false;
	if (!isalnum((unsigned char)tag[0]) && tag[0] != '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)tag[i]) && !strchr("_.-", tag[i]))
			return false;
	return true;
}

/* host[:port] with host a DNS name, IPv4 or [IPv6] */
bool registry_host_valid(const char *h)
{
	const char *p = h, *colon;

	if (!*h || strlen(h) > 255)
		return false;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (!close || close == p + 1)
			return false;
		for (const char *q = p + 1; q < close; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
				return false;
		colon = close[1] ? close + 1 : NULL;
		if (colon && *colon != ':')
			return false;
	} else {
		colon = strchr(p, ':');
		size_t hl = colon ? (size_t)(colon - p) : strlen(p);
		if (hl == 0 || p[0] == '-' || p[0] == '.' || p[hl - 1] == '-' || p[hl - 1] == '.')
			return false;
		for (size_t i = 0; i < hl; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '.' && p[i] != '-')
				return false;
	}
	if (colon) {
		const char *port = colon + 1;
		size_t pl = strlen(port);
		if (pl == 0 || pl > 5)
			return false;
		for (size_t i = 0; i < pl; i++)
			if (!isdigit((unsigned char)port[i]))
				return false;
		if (atoi(port) == 0 || atoi(port) > 65535)
			return false;
	}
	return true;
}

static bool looks_like_registry(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || memchr(s, '[', n) ||
	       (n == 9 && memcmp(s, "localhost", 9) == 0);
}

static const char *normalize_registry(const char *r)
{
	if (strcmp(r, "index.docker.io") == 0 || strcmp(r, "registry-1.docker.io") == 0 ||
	    strcmp(r, "registry.hub.docker.com") == 0)
		return REGISTRY_DEFAULT_REGISTRY;
	return r;
}

static int ref_fail(struct pn_error **err, const char *s, const char *why)
{
	pn_error_set(err, PN_ERR_INVALID, "invalid reference `%s`: %s", s, why);
	return -1;
}

/* split "name[:tag]" into r->registry, r->repository, r->tag */
static int parse_name(const char *s, char *name, struct registry_ref *r, struct pn_error **err)
{
	char *slash = strchr(name, '/');
	char *last_slash = strrchr(name, '/');
	char *colon = strrchr(name, ':');

	if (colon && (!last_slash || colon > last_slash)) {
		*colon = '\0';
		if (!registry_tag_valid(colon + 1))
			return ref_fail(err, s,
					"tag must be 1-128 of [A-Za-z0-9_.-], not starting with "
					"'.' or '-'");
		r->tag = xstrdup(colon + 1);
	}
	if (slash && looks_like_registry(name, (size_t)(slash - name))) {
		*slash = '\0';
		if (!registry_host_valid(name))
			return ref_fail(err, s, "registry must be host[:port]");
		r->registry = xstrdup(normalize_registry(name));
		name = slash + 1;
	} else {
		r->registry = xstrdup(REGISTRY_DEFAULT_REGISTRY);
	}
	if (!*name)
		return ref_fail(err, s, "repository name is empty");
	if (strcmp(r->registry, REGISTRY_DEFAULT_REGISTRY) == 0 && !strchr(name, '/'))
		r->repository = xasprintf("library/%s", name);
	else
		r->repository = xstrdup(name);
	if (!registry_repository_valid(r->repository)) {
		for (const char *p = r->repository; *p; p++)
			if (isupper((unsigned char)*p))
				return ref_fail(err, s, "repository name must be lowercase");
		return ref_fail(err, s,
				"repository name must be lowercase components of "
				"[a-z0-9] joined by '.', '_', '__' or '-', separated by '/'");
	}
	return 0;
}

int registry_ref_parse(const char *s, struct registry_ref *out, struct pn_error **err)
{
	struct registry_ref r;
	cleanup_free char *name = NULL;
	const char *text = s, *at;
	size_t n = strlen(s);

	registry_ref_init(&r);
	if (n > REGISTRY_REF_MAX)
		return pn_error_set(err, PN_ERR_INVALID, "invalid reference: longer than %d bytes",
				    REGISTRY_REF_MAX);
	if (strncmp(text, "docker://", 9) == 0)
		text += 9;
	if (!*text)
		return ref_fail(err, s, "empty");
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return ref_fail(err, s, "contains whitespace or a non-ASCII character");
	if (strncmp(text, "oci:", 4) == 0)
		return ref_fail(err, s, "an OCI layout, not a registry reference");
	if (oci_transport_of(text) != OCI_TRANSPORT_NONE)
		return ref_fail(err, s, "an image archive, not a registry reference");
	at = strchr(text, '@');
	if (at) {
		if (!registry_digest_valid(at + 1))
			return ref_fail(
				err, s,
				"digest must be sha256: followed by 64 lowercase hex digits");
		r.digest = xstrdup(at + 1);
		name = xstrndup(text, (size_t)(at - text));
	} else {
		name = xstrdup(text);
	}
	if (parse_name(s, name, &r, err) < 0) {
		registry_ref_release(&r);
		return -1;
	}
	if (!r.tag && !r.digest)
		r.tag = xstrdup("latest");
	*out = r;
	return 0;
}

char *registry_ref_format(const struct registry_ref *r)
{
	return xasprintf("%s/%s%s%s%s%s", r->registry, r->repository, r->tag ? ":" : "",
			 r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

const char *registry_ref_reference(const struct registry_ref *r)
{
	return r->digest ? r->digest : r->tag;
}

bool registry_location_is_layout(const char *loc)
{
	return oci_transport_of(loc) != OCI_TRANSPORT_NONE;
}

/* a literal loopback address or `localhost`, with or without a port; a
 * name that merely starts with "127." (127.example.com) is not loopback */
bool registry_host_is_loopback(const char *host)
{
	size_t n = strcspn(host, ":");
	char ip[INET_ADDRSTRLEN];
	struct in_addr a;

	if (strncmp(host, "[::1]", 5) == 0)
		return host[5] == '\0' || host[5] == ':';
	if (n == 9 && strncmp(host, "localhost", 9) == 0)
		return true;
	if (n >= sizeof(ip) || strncmp(host, "127.", 4) != 0)
		return false;
	memcpy(ip, host, n);
	ip[n] = '\0';
	return inet_pton(AF_INET, ip, &a) == 1;
}

bool registry_opts_host_insecure(const struct registry_opts *o, const char *name)
{
	size_t hn = strcspn(name, ":");

	for (size_t i = 0; i < o->insecure.n; i++) {
		const char *s = o->insecure.v[i];
		if (strcmp(s, "*") == 0 || strcmp(s, name) == 0 ||
		    (strlen(s) == hn && strncmp(s, name, hn) == 0))
			return true;
	}
	return false;
}
