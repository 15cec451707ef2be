/* source_ignore.c - .dockerignore patterns with Docker's rules (see source.h).
 *
 * Each pattern is compiled into a small token program and matched by a
 * Thompson-style simulation (a set of live token positions), the same
 * language moby's patternmatcher expresses as a regexp:
 *   a star -> [^/]*, `?` -> [^/], a double star and slash -> (.* then /)? ,
 *   a trailing double star -> .*, `[..]` a class (may match `/`), a
 *   backslash escapes the next byte. */
#include "assembler/source.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

enum tok_kind {
	TOK_LIT,     /* one literal byte */
	TOK_ANY,     /* one byte, not `/` */
	TOK_STAR,    /* any run of bytes without `/` */
	TOK_DPREFIX, /* optional: any bytes then `/` */
	TOK_DREST,   /* .* to the end */
	TOK_CLASS,   /* one byte in set */
};

struct tok {
	unsigned char kind;
	unsigned char c;
	unsigned char set[32];
};

struct pattern {
	char *text;	/* cleaned pattern, for messages */
	bool exclusion; /* `!pattern` */
	struct tok *toks;
	size_t n;
};

struct src_ignore {
	struct pattern *v;
	size_t n;
	bool has_exceptions;
};

/* ------------------------------------------------------------ path clean */

/* Go's path.Clean: collapse `//`, drop `.`, resolve `..` lexically, no
 * trailing slash; "" -> "." */
char *src_path_clean(const char *path)
{
	size_t n = strlen(path);
	bool rooted = n > 0 && path[0] == '/';
	char *out = xmalloc(n + 2);
	size_t w = 0, r = 0, dotdot = 0;

	if (rooted) {
		out[w++] = '/';
		r = 1;
		dotdot = 1;
	}
	while (r < n) {
		if (path[r] == '/') {
			r++;
		} else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
			r++;
		} else if (path[r] == '.' && path[r + 1] == '.' &&
			   (r + 2 == n || path[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && path[r] != '/'; r++)
				out[w++] = path[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

/* --------------------------------------------------------------- compile */

static void set_add(unsigned char *set, unsigned char c)
{
	set[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static bool set_has(const unsigned char *set, unsigned char c)
{
	return set[c >> 3] & (1u << (c & 7));
}

/* parse a class starting after `[`; returns the index after `]` or 0 */
static size_t class_compile(const char *p, size_t i, size_t n, struct tok *t)
{
	bool negate = false, first = true;

	memset(t->set, 0, sizeof(t->set));
	if (i < n && p[i] == '^') {
		negate = true;
		i++;
	}
	while (i < n && (p[i] != ']' || first)) {
		unsigned char lo = (unsigned char)p[i], hi;

		first = false;
		if (lo == '\\') {
			if (++i >= n)
				return 0;
			lo = (unsigned char)p[i];
		}
		i++;
		hi = lo;
		if (i + 1 < n && p[i] == '-' && p[i + 1] != ']') {
			i++;
			hi = (unsigned char)p[i];
			if (hi == '\\') {
				if (++i >= n)
					return 0;
				hi = (unsigned char)p[i];
			}
			i++;
			if (hi < lo)
				return 0;
		}
		for (unsigned c = lo; c <= hi; c++)
			set_add(t->set, (unsigned char)c);
	}
	if (i >= n)
		return 0;
	if (negate)
		for (size_t k = 0; k < sizeof(t->set); k++)
			t->set[k] = (unsigned char)~t->set[k];
	t->kind = TOK_CLASS;
	return i + 1;
}

/* compile `p` into tokens; -1 with a reason on a malformed pattern */
static int pattern_compile(struct pattern *pt, const char *p, const char **why)
{
	size_t n = strlen(p), i = 0;

	pt->toks = xcalloc(n + 1, sizeof(*pt->toks));
	pt->n = 0;
	while (i < n) {
		struct tok *t = &pt->toks[pt->n++];

		if (p[i] == '*' && i + 1 < n && p[i + 1] == '*') {
			i += 2;
			if (i < n && p[i] == '/')
				i++;
			t->kind = i == n ? TOK_DREST : TOK_DPREFIX;
		} else if (p[i] == '*') {
			t->kind = TOK_STAR;
			i++;
		} else if (p[i] == '?') {
			t->kind = TOK_ANY;
			i++;
		} else if (p[i] == '[') {
			size_t next = class_compile(p, i + 1, n, t);

			if (!next) {
				*why = "malformed character class";
				return -1;
			}
			i = next;
		} else if (p[i] == '\\') {
			if (i + 1 >= n) {
				*why = "trailing backslash";
				return -1;
			}
			t->kind = TOK_LIT;
			t->c = (unsigned char)p[i + 1];
			i += 2;
		} else {
			t->kind = TOK_LIT;
			t->c = (unsigned char)p[i++];
		}
	}
	return 0;
}

/* ----------------------------------------------------------------- match */

/* add state i and everything reachable from it without input */
static void closure_add(const struct pattern *pt, unsigned char *live, size_t i)
{
	while (i <= pt->n && !live[i]) {
		live[i] = 1;
		if (i == pt->n)
			return;
		switch (pt->toks[i].kind) {
		case TOK_STAR:
		case TOK_DPREFIX:
		case TOK_DREST:
			i++; /* may match nothing */
			break;
		default:
			return;
		}
	}
}

/* states 0..n are token positions (n = accept); n+1+i is "inside" the
 * optional group of the double-star token i (no empty way out of it) */
static void inner_add(const struct pattern *pt, unsigned char *live, size_t i)
{
	live[pt->n + 1 + i] = 1;
}

static void step_state(const struct pattern *pt, size_t i, unsigned char c, unsigned char *next)
{
	const struct tok *t = &pt->toks[i];

	switch (t->kind) {
	case TOK_LIT:
		if (c == t->c)
			closure_add(pt, next, i + 1);
		break;
	case TOK_ANY:
		if (c != '/')
			closure_add(pt, next, i + 1);
		break;
	case TOK_CLASS:
		if (set_has(t->set, c))
			closure_add(pt, next, i + 1);
		break;
	case TOK_STAR:
		if (c != '/')
			closure_add(pt, next, i);
		break;
	case TOK_DPREFIX:
		inner_add(pt, next, i);
		if (c == '/')
			closure_add(pt, next, i + 1);
		break;
	case TOK_DREST:
		closure_add(pt, next, i);
		break;
	}
}

static bool pattern_match(const struct pattern *pt, const char *s, size_t len)
{
	size_t m = 2 * (pt->n + 1);
	unsigned char small[2][512];
	unsigned char *cur, *next, *heap = NULL;
	bool any = true, result;

	if (m <= sizeof(small[0])) {
		cur = small[0];
		next = small[1];
	} else {
		heap = xcalloc(2, m);
		cur = heap;
		next = heap + m;
	}
	memset(cur, 0, m);
	closure_add(pt, cur, 0);
	for (size_t k = 0; k < len && any; k++) {
		memset(next, 0, m);
		any = false;
		for (size_t i = 0; i < pt->n; i++)
			if (cur[i] || cur[pt->n + 1 + i])
				step_state(pt, i, (unsigned char)s[k], next);
		for (size_t i = 0; i < m; i++)
			any |= next[i];
		unsigned char *tmp = cur;
		cur = next;
		next = tmp;
	}
	result = any && cur[pt->n];
	free(heap);
	return result;
}

/* moby's MatchesOrParentMatches for one pattern: the path or a parent */
static bool pattern_match_or_parent(const struct pattern *pt, const char *path)
{
	size_t len = strlen(path);

	if (pattern_match(pt, path, len))
		return true;
	for (size_t k = 0; k < len; k++)
		if (path[k] == '/' && pattern_match(pt, path, k))
			return true;
	return false;
}

bool src_ignore_match(const struct src_ignore *ig, const char *path)
{
	bool matched = false;

	if (!ig)
		return false;
	for (size_t i = 0; i < ig->n; i++) {
		const struct pattern *pt = &ig->v[i];

		/* an inclusion cannot change a match, an exception needs one */
		if (pt->exclusion != matched)
			continue;
		if (pattern_match_or_parent(pt, path))
			matched = !pt->exclusion;
	}
	return matched;
}

bool src_ignore_has_exceptions(const struct src_ignore *ig)
{
	return ig && ig->has_exceptions;
}

size_t src_ignore_count(const struct src_ignore *ig)
{
	return ig ? ig->n : 0;
}

/* ----------------------------------------------------------------- parse */

void src_ignore_free(struct src_ignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->n; i++) {
		free(ig->v[i].text);
		free(ig->v[i].toks);
	}
	free(ig->v);
	free(ig);
}

static char *trim(const char *s, size_t len)
{
	while (len && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
		       s[len - 1] == '\v' || s[len - 1] == '\f'))
		len--;
	return xstrndup(s, len);
}

/* one line -> a pattern appended to ig, or nothing (comment/blank) */
static int ignore_add_line(struct src_ignore *ig, const char *line, size_t len, size_t lineno,
			   struct pn_error **err)
{
	cleanup_free char *raw = NULL, *clean = NULL;
	const char *p, *why = NULL;
	bool exclusion = false;
	struct pattern *pt;

	if (len && line[0] == '#')
		return 0;
	if (len > SRC_PATTERN_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    ".dockerignore line %zu: pattern longer than %d bytes", lineno,
				    SRC_PATTERN_MAX);
	if (memchr(line, '\0', len))
		return pn_error_set(err, PN_ERR_INVALID, ".dockerignore line %zu: NUL byte",
				    lineno);
	raw = trim(line, len);
	p = raw;
	if (!*p)
		return 0;
	if (*p == '!') {
		exclusion = true;
		cleanup_free char *rest = trim(p + 1, strlen(p + 1));

		if (!*rest)
			return pn_error_set(err, PN_ERR_INVALID,
					    ".dockerignore line %zu: illegal exclusion pattern `!`",
					    lineno);
		clean = src_path_clean(rest);
	} else {
		clean = src_path_clean(p);
	}
	p = clean;
	if (strlen(p) > 1 && p[0] == '/')
		p++;
	if (ig->n >= SRC_PATTERNS_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, ".dockerignore: more than %d patterns",
				    SRC_PATTERNS_MAX);
	ig->v = xrealloc(ig->v, st_mult(ig->n + 1, sizeof(*ig->v)));
	pt = &ig->v[ig->n];
	memset(pt, 0, sizeof(*pt));
	pt->text = xstrdup(p);
	pt->exclusion = exclusion;
	ig->n++;
	if (pattern_compile(pt, p, &why) < 0)
		return pn_error_set(err, PN_ERR_INVALID,
				    ".dockerignore line %zu: bad pattern `%s`: %s", lineno,
				    pt->text, why);
	ig->has_exceptions |= exclusion;
	return 0;
}

int src_ignore_parse(const char *text, size_t len, struct src_ignore **out, struct pn_error **err)
{
	struct src_ignore *ig = xcalloc(1, sizeof(*ig));
	size_t pos = 0, lineno = 0;

	if (len > SRC_IGNORE_FILE_MAX) {
		free(ig);
		return pn_error_set(err, PN_ERR_TOO_LARGE, ".dockerignore larger than %zu bytes",
				    SRC_IGNORE_FILE_MAX);
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3; /* UTF-8 byte order mark */
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		lineno++;
		if (ignore_add_line(ig, text + pos, end - pos, lineno, err) < 0) {
			src_ignore_free(ig);
			return -1;
		}
		pos = end + 1;
	}
	*out = ig;
	return 0;
}

int src_ignore_load(int dirfd, const char *dir, struct src_ignore **out, struct pn_error **err)
{
	cleanup_free char *text = NULL;
	cleanup_close int fd = -1;
	struct pn_error *e = NULL;
	struct stat st;
	size_t len = 0;

	/* the model directory is untrusted: a symlink leading out of it would
	 * have a host file's lines quoted in "bad pattern" messages */
	fd = pn_path_open_beneath(dirfd, ".dockerignore", O_RDONLY | O_NONBLOCK, &e);
	if (fd < 0) {
		if (e->code == PN_ERR_NOT_FOUND) {
			pn_error_free(e);
			return src_ignore_parse("", 0, out, err);
		}
		if (e->code == PN_ERR_INVALID && e->errno_val == EXDEV)
			pn_error_set(
				err, PN_ERR_INVALID,
				"`.dockerignore` in `%s` is a symlink leading outside the model "
				"directory",
				dir);
		else if (e->code == PN_ERR_INVALID)
			pn_error_set(err, PN_ERR_INVALID, "`.dockerignore` in `%s`: %s", dir,
				     e->msg);
		else
			pn_error_set_errno(err, e->errno_val, "open `.dockerignore` in `%s`", dir);
		pn_error_free(e);
		return -1;
	}
	if (fstat(fd, &st) < 0)
		return pn_error_set_errno(err, errno, "stat `.dockerignore` in `%s`", dir);
	if (!S_ISREG(st.st_mode))
		return pn_error_set(err, PN_ERR_INVALID,
				    "`.dockerignore` in `%s` is not a regular file", dir);
	if ((uint64_t)st.st_size > SRC_IGNORE_FILE_MAX)
		return pn_error_set(err, PN_ERR_INVALID,
				    "`.dockerignore` in `%s` is larger than %zu bytes", dir,
				    SRC_IGNORE_FILE_MAX);
	if (pn_read_fd(fd, ".dockerignore", SRC_IGNORE_FILE_MAX, &text, &len, err) < 0) {
		if (err && *err && (*err)->code == PN_ERR_TOO_LARGE) /* it grew while read */
			(*err)->code = PN_ERR_INVALID;
		return pn_error_wrap(err, "`%s`", dir);
	}
	if (src_ignore_parse(text, len, out, err) < 0) {
		if (err && *err &&
		    (*err)->code == PN_ERR_TOO_LARGE) /* a limit of the file: bad input */
			(*err)->code = PN_ERR_INVALID;
		return pn_error_wrap(err, "read `.dockerignore` in `%s`", dir);
	}
	return 0;
}
