/* cmd_wheel.c - `pinion wheel [-o DIR] [--resolve]`: write out the embedded
 * cog SDK wheel, or show what COG_WHEEL resolves to. */
#include "assembler/wheel.h"

#include <stdlib.h>
#include <string.h>

static void wheel_usage(FILE *f)
{
	fprintf(f,
		"usage: pinion wheel [-o DIR] [--resolve]\n\n"
		"Write pinion's embedded cog SDK wheel (the Cog-compatible `cog` package\n"
		"installed in every image) to DIR (default: the current directory) and print\n"
		"its path.\n\n"
		"options:\n"
		"  -o, --output DIR  directory to write the wheel into\n"
		"  --resolve         instead, resolve $COG_WHEEL (cog, a .whl path, an https URL)\n"
		"                    and print its file name, sha256 digest and local path\n");
}

static int wheel_resolve(void)
{
	struct wheel_choice w = {0};
	struct pn_error *err = NULL;

	if (wheel_select(getenv("COG_WHEEL"), &w, &err) < 0)
		return pn_cli_fail(err);
	printf("%s\t%s\t%s\n", w.name, w.digest, w.path);
	wheel_choice_release(&w);
	return 0;
}

static int cmd_wheel(int argc, char **argv)
{
	const char *dir = ".";
	bool resolve = false;
	struct pn_error *err = NULL;
	char *path = NULL;

	if (pn_cli_wants_help(argc, argv)) {
		wheel_usage(stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
		    i + 1 < argc)
			dir = argv[++i];
		else if (strncmp(argv[i], "--output=", 9) == 0)
			dir = argv[i] + 9;
		else if (strcmp(argv[i], "--resolve") == 0)
			resolve = true;
		else
			return pn_cli_usage("wheel", "unexpected argument `%s`", argv[i]);
	}
	if (resolve)
		return wheel_resolve();
	if (wheel_write_embedded(dir, &path, &err) < 0)
		return pn_cli_fail(err);
	printf("%s\n", path);
	free(path);
	return 0;
}

PN_COMMAND(wheel, "wheel", "write out the embedded cog SDK wheel", cmd_wheel);
