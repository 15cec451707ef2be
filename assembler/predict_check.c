/* predict_check.c - a predictor that cannot load, found before the build
 * (predict.h): the module cog.yaml names exists beneath the model directory
 * (cog.yaml's own check lets a missing one pass, and refuses one outside),
 * parses as Python and defines the class or function. */
#include "assembler/predict.h"
#include "assembler/cogconfig.h"
#include "common/cleanup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK_SOURCE_MAX ((size_t)16 << 20) /* bytes of predict.py read */
#define CHECK_TIMEOUT_MS 20000		    /* for the host's python3 */
#define CHECK_OUT_MAX	 ((size_t)4096)

/* argv: file name, the name to find, the model's python version.  Exit 0:
 * defined (or not knowable: `import *`); 3: syntax error (printed); 4: not
 * defined.  A host python older than the model's does not judge syntax. */
static const char check_py[] =
	"import ast, sys\n"
	"src = sys.stdin.buffer.read()\n"
	"name, want = sys.argv[2], sys.argv[3]\n"
	"try:\n"
	"    tree = ast.parse(src, sys.argv[1])\n"
	"except SyntaxError as e:\n"
	"    v = tuple(int(x) for x in want.split('.')[:2] if x.isdigit())\n"
	"    if v and sys.version_info[:2] < v:\n"
	"        sys.exit(0)\n"
	"    print('%s:%s:%s: %s' % (sys.argv[1], e.lineno, e.offset, e.msg))\n"
	"    sys.exit(3)\n"
	"def names(body):\n"
	"    for n in body:\n"
	"        if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):\n"
	"            yield n.name\n"
	"        elif isinstance(n, (ast.Import, ast.ImportFrom)):\n"
	"            for a in n.names:\n"
	"                yield a.asname or a.name.split('.')[0]\n"
	"        elif isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign)):\n"
	"            for t in getattr(n, 'targets', None) or [n.target]:\n"
	"                for x in ast.walk(t):\n"
	"                    if isinstance(x, ast.Name):\n"
	"                        yield x.id\n"
	"        else:\n"
	"            for f in ('body', 'orelse', 'finalbody', 'handlers'):\n"
	"                yield from names(getattr(n, f, None) or [])\n"
	"sys.exit(0 if name in set(names(tree.body)) or '*' in set(names(tree.body)) else 4)\n";

/* without python3: the name appears as a word after class/def/import or
 * before `=` somewhere (lenient: a miss is left to the build) */
static bool text_defines(const char *src, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(src, name); p; p = strstr(p + 1, name)) {
		bool start = p == src || !(p[-1] == '_' || (p[-1] >= '0' && p[-1] <= '9') ||
					   ((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z'));
		char after = p[n];

		if (start && (after == '(' || after == ':' || after == ' ' || after == '=' ||
			      after == ',' || after == '\n' || after == '\0'))
			return true;
	}
	return false;
}

/* 1 when python3 judged (rc 0 or an error set), 0 when there is none */
static int python_check(const char *file, const char *src, size_t len, const char *name,
			const char *pyver, const char *key, const char *ref, struct pn_error **err)
{
	char *argv[] = {(char *)"python3",
			(char *)"-I",
			(char *)"-c",
			(char *)check_py,
			(char *)file,
			(char *)name,
			(char *)(pyver ? pyver : ""),
			NULL};
	struct pn_spawn sp = {.argv = argv,
			      .in = src,
			      .in_len = len,
			      .err_fd = -1,
			      .max_out = CHECK_OUT_MAX,
			      .timeout_ms = CHECK_TIMEOUT_MS,
			      .path_search = true};
	cleanup_free char *out = NULL;
	int ws = 0;

	if (pn_spawn_capture(&sp, &out, NULL, &ws, NULL) < 0 || !WIFEXITED(ws))
		return 0;
	if (WEXITSTATUS(ws) == 3) {
		out[strcspn(out, "\n")] = '\0';
		pn_error_set(err, PN_ERR_INVALID, "%s `%s`: %s", key, ref, out);
		pn_error_hint(err, "the model's Python file does not parse; fix it and run again");
		return 1;
	}
	if (WEXITSTATUS(ws) == 4) {
		pn_error_set(err, PN_ERR_INVALID, "%s `%s`: `%s` defines no `%s`", key, ref, file,
			     name);
		return 1;
	}
	return WEXITSTATUS(ws) == 0 ? 1 : 0;
}

static int check_ref(const char *dir, const char *key, const char *ref, const char *pyver,
		     struct pn_error **err)
{
	const char *colon = strrchr(ref, ':');
	cleanup_free char *file = xstrndup(ref, (size_t)(colon - ref));
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int fd = -1;
	cleanup_free char *src = NULL;
	struct pn_error *e = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	/* beneath the (untrusted) model directory only, never a FIFO */
	if (dfd >= 0)
		fd = pn_path_open_beneath(dfd, file, O_RDONLY | O_NONBLOCK, &e);
	if (fd < 0 && e && e->code == PN_ERR_NOT_FOUND) {
		pn_error_free(e);
		return pn_error_set(err, PN_ERR_INVALID,
				    "%s `%s`: `%s` does not exist in the model directory", key, ref,
				    file);
	}
	pn_error_free(e);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    pn_read_fd(fd, file, CHECK_SOURCE_MAX, &src, &len, NULL) < 0)
		return 0; /* cog.yaml's own check says why */
	r = python_check(file, src, len, colon + 1, pyver, key, ref, err);
	if (r)
		return *err ? -1 : 0;
	if (!text_defines(src, colon + 1))
		return pn_error_set(err, PN_ERR_INVALID, "%s `%s`: `%s` defines no `%s`", key, ref,
				    file, colon + 1);
	return 0;
}

int predict_check_model(const char *config_file, bool train, struct pn_error **err)
{
	struct cog_config cfg;
	cleanup_free char *text = NULL;
	size_t len = 0;
	int rc = 0;

	const char *slash = strrchr(config_file, '/');
	cleanup_free char *dir =
		slash ? xstrndup(config_file, (size_t)(slash - config_file) + 1) : xstrdup(".");

	cog_config_init(&cfg);
	if (pn_read_file(config_file, COG_CONFIG_MAX_SIZE, &text, &len, NULL) < 0 ||
	    cog_config_parse(text, len, config_file, dir, &cfg, NULL, NULL) < 0) {
		cog_config_release(&cfg);
		return 0; /* the build reports cog.yaml's problems */
	}
	if (train && !cfg.train)
		rc = pn_error_set(err, PN_ERR_INVALID, "%s has no `train:`: the model cannot train",
				  config_file);
	if (!rc && cfg.predict)
		rc = check_ref(dir, "predict", cfg.predict, cfg.build.python_version, err);
	if (!rc && cfg.train)
		rc = check_ref(dir, "train", cfg.train, cfg.build.python_version, err);
	cog_config_release(&cfg);
	return rc;
}
