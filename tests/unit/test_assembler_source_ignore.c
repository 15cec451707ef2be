/* test_assembler_source_ignore.c - .dockerignore rules (Docker's semantics) */
#include "tests/unit/tap.h"
#include "assembler/source.h"

#include <stdlib.h>

static struct src_ignore *ig_of(const char *text)
{
	struct src_ignore *ig = NULL;
	struct pn_error *err = NULL;

	if (src_ignore_parse(text, strlen(text), &ig, &err) < 0) {
		tap_diag("parse failed: %s", err->msg);
		pn_error_free(err);
		return NULL;
	}
	return ig;
}

/* check each "path=0|1" against the patterns */
static void check(const char *patterns, const char *const *cases)
{
	struct src_ignore *ig = ig_of(patterns);
	cleanup_free char *shown = xstrdup(patterns);

	for (char *s = shown; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = '|';
	ok(ig != NULL, "parse `%s`", shown);
	for (; *cases; cases++) {
		const char *c = *cases;
		size_t n = strlen(c);
		cleanup_free char *path = xstrndup(c, n - 2);
		bool want = c[n - 1] == '1';

		ok(src_ignore_match(ig, path) == want, "`%s` %s `%s`", shown,
		   want ? "excludes" : "keeps", path);
	}
	src_ignore_free(ig);
}

static void t_clean(void)
{
	static const char *const cases[][2] = {
		{"", "."},	   {".", "."},	     {"a/b/", "a/b"},	     {"a//b", "a/b"},
		{"./a", "a"},	   {"a/./b", "a/b"}, {"a/../b", "b"},	     {"../a", "../a"},
		{"/a/../..", "/"}, {"/../x", "/x"},  {"a/b/../../..", ".."}, {"/", "/"},
		{"a/..", "."},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cleanup_free char *c = src_path_clean(cases[i][0]);

		is_str(c, cases[i][1], "clean `%s`", cases[i][0]);
	}
}

static void t_basic(void)
{
	const char *const c1[] = {"foo=1", "foo/bar=1", "foobar=0", "a/foo=0", NULL};
	const char *const c2[] = {"a.txt=1", "dir/a.txt=0", "a.txt.bak=0", ".txt=1", NULL};
	const char *const c3[] = {"a.txt=1", "dir/a.txt=1", "dir/sub/b.txt=1", "txt=0", NULL};
	const char *const c4[] = {"x/a/y=1", "x/b/y=1", "x/a/b/y=0", "x/y=0", NULL};
	const char *const c5[] = {"ab=1", "ac=0", "a/=0", "abc=0", NULL};

	check("foo", c1);
	check("*.txt", c2);
	check("**/*.txt", c3);
	check("x/*/y", c4);
	check("a?\n!ac", c5);
}

static void t_doublestar(void)
{
	const char *const c1[] = {"foo=1", "a/foo=1", "a/b/foo=1", "a/foo/x=1", "afoo=0", NULL};
	const char *const c2[] = {"a=0", "a/b=1", "a/b/c=1", "ab=0", NULL};
	const char *const c3[] = {"a/b=1", "a/x/b=1", "a/x/y/b=1", "ab=0", "b=0", NULL};
	const char *const c4[] = {"x=1", "x/y=1", ".hidden=1", NULL};

	check("**/foo", c1);
	check("a/**", c2);
	check("a/**/b", c3);
	check("**", c4);
}

static void t_exceptions(void)
{
	const char *const c1[] = {"a.md=1", "README.md=0", "docs/x.md=0", NULL};
	const char *const c2[] = {"data/x=1", "data/keep.txt=0", "data/sub/keep.txt=1", NULL};
	const char *const c3[] = {"README.md=1", NULL};
	const char *const c4[] = {"w/a.bin=1", "w/b.py=0", "w/s/c.py=0", "w/s/d=1", NULL};

	check("*.md\n!README.md", c1);
	check("data\n!data/keep.txt", c2);
	/* a later inclusion wins over an earlier exception */
	check("!README.md\n*.md", c3);
	check("w\n!w/**/*.py", c4);
}

static void t_syntax(void)
{
	const char *const c1[] = {"a=1", "c=1", "d=0", "b=1", NULL};
	const char *const c2[] = {"x=0", "a=1", "b=1", NULL};
	const char *const c3[] = {"*x=1", "ax=0", NULL};
	const char *const c4[] = {"foo=1", "bar=1", "# c=0", NULL};
	const char *const c5[] = {"sub/x=1", "/sub/x=0", "other=0", NULL};
	const char *const c6[] = {"a-1=1", "a.1=0", "a/1=0", NULL};

	check("[a-c]", c1);
	check("[^x-z]", c2);
	check("\\*x", c3);
	check("# comment\n  foo  \n\r\nbar\r\n", c4);
	check("/sub/./x/", c5);
	check("a[\\-]1", c6);
}

static void t_errors(void)
{
	struct src_ignore *ig = NULL;
	struct pn_error *err = NULL;

	ok_fail(src_ignore_parse("ok\n[abc\n", 8, &ig, &err), &err, PN_ERR_INVALID, "line 2",
		"unclosed class names its line");
	ok_fail(src_ignore_parse("x\\", 2, &ig, &err), &err, PN_ERR_INVALID, "backslash",
		"trailing backslash refused");
	ok_fail(src_ignore_parse("!", 1, &ig, &err), &err, PN_ERR_INVALID, "exclusion",
		"lone ! refused");
	ok_fail(src_ignore_parse("[z-a]", 5, &ig, &err), &err, PN_ERR_INVALID, "class",
		"reversed range refused");
	ok(ig == NULL, "no matcher on failure");
	ok_call(src_ignore_parse("\xef\xbb\xbf"
				 "a\n",
				 5, &ig, &err),
		&err, "BOM accepted");
	ok(src_ignore_match(ig, "a"), "pattern after BOM applies");
	is_int(src_ignore_count(ig), 1, "one pattern");
	ok(!src_ignore_has_exceptions(ig), "no exceptions");
	src_ignore_free(ig);
}

static void t_hostile(void)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;
	cleanup_buf struct pn_buf p = PN_BUF_INIT;
	struct src_ignore *ig;

	/* exponential for a backtracking matcher, linear here */
	for (int i = 0; i < 200; i++)
		pn_buf_puts(&b, "*a", NULL);
	for (int i = 0; i < 4000; i++)
		pn_buf_puts(&p, "a", NULL);
	pn_buf_puts(&p, "b", NULL);
	ig = ig_of(b.data);
	ok(ig && !src_ignore_match(ig, p.data), "many stars on a long path finish, no match");
	src_ignore_free(ig);
}

int main(void)
{
	TEST(t_clean);
	TEST(t_basic);
	TEST(t_doublestar);
	TEST(t_exceptions);
	TEST(t_syntax);
	TEST(t_errors);
	TEST(t_hostile);
	return tap_done();
}
