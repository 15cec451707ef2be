/* replay.c - runs a libFuzzer target over files without libFuzzer, so that
 * every corpus is replayed by `make test` (as libgit2's standalone driver).
 * usage: fuzz_X FILE_OR_DIR...   prints one TAP line per input. */
#include "common/common.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int n;

static void run_file(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	struct pn_error *err = NULL;

	if (pn_read_file(path, (size_t)64 << 20, &data, &len, &err) < 0) {
		printf("not ok %d - read %s: %s\n", ++n, path, err->msg);
		pn_error_free(err);
		return;
	}
	LLVMFuzzerTestOneInput((const unsigned char *)data, len);
	free(data);
	/* a crash or sanitizer report aborts before this line */
	printf("ok %d - %s\n", ++n, path);
	fflush(stdout);
}

static void run_path(const char *path)
{
	struct stat st;
	struct pn_strv names = PN_STRV_INIT;
	struct dirent *de;
	DIR *d;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		run_file(path);
		return;
	}
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			pn_strv_push_owned(&names, pn_path_join(path, de->d_name));
	closedir(d);
	pn_strv_sort(&names);
	for (size_t i = 0; i < names.n; i++)
		run_path(names.v[i]);
	pn_strv_release(&names);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		run_path(argv[i]);
	printf("1..%d\n", n);
	return 0;
}
