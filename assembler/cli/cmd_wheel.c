/* cmd_wheel.c - `pinion wheel [-o DIR] [--resolve]`: write out the embedded
 * cog SDK wheel, or show what COG_WHEEL resolves to. */
#include "assembler/cli/opt.h"
#include "assembler/wheel.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char wheel_intro[] =
	"usage: pinion wheel [-o DIR] [--resolve]\n\n"
	"Write pinion's embedded cog SDK wheel (the Cog-compatible `cog` package\n"
	"installed in every image) to DIR (default: the current directory) and print\n"
	"its path.\n\n"
	"options:\n";

struct wheel_args {
	const char *dir;
	bool resolve;
};

static const struct cli_opt wheel_opts[] = {
	{"output", 'o', CLI_ARG_REQUIRED, NULL, offsetof(struct wheel_args, dir), "DIR",
	 "directory to write the wheel into", 0},
	{"resolve", 0, CLI_ARG_NONE, NULL, offsetof(struct wheel_args, resolve), NULL,
	 "instead, resolve $COG_WHEEL (cog, a .whl path, an https URL)\nand print its file name, "
	 "sha256 digest and local path",
	 0},
};

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
	struct wheel_args a = {.dir = "."};
	struct cli_table t[1] = {CLI_TABLE(wheel_opts, &a)};
	struct cli_cmd cmd = {.name = "wheel",
			      .intro = wheel_intro,
			      .tables = t,
			      .n_tables = 1,
			      .flags = CLI_NO_ARGS};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	struct pn_error *err = NULL;
	char *path = NULL;
	int rc;

	if (cli_start(&cmd, argc, argv, &args, &rc))
		return rc;
	if (a.resolve)
		return wheel_resolve();
	if (wheel_write_embedded(a.dir, &path, &err) < 0)
		return pn_cli_fail(err);
	printf("%s\n", path);
	free(path);
	return 0;
}

PN_COMMAND(wheel, "wheel", "write out the embedded cog SDK wheel", cmd_wheel);
