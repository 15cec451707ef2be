/* cmd_base_image.c - `pinion base-image list|dockerfile|build`: the cog-base
 * images of Cog's hidden `cog base-image generate-matrix|dockerfile|build`,
 * built with pinion's executor (base_image.h) instead of Docker */
#include "assembler/base_image.h"
#include "assembler/build.h"
#include "assembler/cli/cli.h"
#include "common/cleanup.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char base_image_intro[] =
	"usage: pinion base-image list [--cuda X,..] [--python Y,..] [--torch Z,..] [--json]\n"
	"       pinion base-image dockerfile --python Y [--cuda X] [--torch Z]\n"
	"       pinion base-image build --python Y [--cuda X] [--torch Z] [-t REF] [--push]\n\n"
	"The cog-base images Cog's `cog base-image` makes (cog-base:cuda12.1-python3.11-\n"
	"torch2.1.0): Python, torch with its torchvision/torchaudio from the matrix's\n"
	"wheel index and Cog's common system packages, on nvidia/cuda (with --cuda) or\n"
	"python:<Y>-slim.  `list` prints every combination the embedded matrix makes\n"
	"(as Cog's generate-matrix; the options filter it), `dockerfile` the Dockerfile\n"
	"Cog would build, `build` builds it in pinion's sandbox like a model (layers\n"
	"cached) into the layout .pinion/layout here, or --output, or pushes it.  The\n"
	"image is named REGISTRY/cog-base:TAG unless -t says otherwise; REGISTRY is\n"
	"--cog-base-registry, else $COG_REGISTRY_HOST, else r8.im.\n\n";

struct base_image_cli {
	struct build_opts o;
	struct registry_opts ro;
	const char *cuda, *python, *torch;
	const char *system_packages;
	const char *compression;
	bool json;
};

int cli_set_cog_base_registry(void *ctx, const struct cli_opt *opt, const char *v,
			      struct pn_error **err)
{
	cleanup_free char *ref = xasprintf("%s/" COMPAT_COG_BASE_REPO ":latest", v);
	struct registry_ref r;
	int rc;

	if (!*v || strstr(v, "://") || strpbrk(v, " \t\r\n@"))
		return pn_error_set(err, PN_ERR_INVALID,
				    "--%s `%s`: want HOST[:PORT][/PATH] (no scheme)", opt->name, v);
	registry_ref_init(&r);
	rc = registry_ref_parse(ref, &r, err);
	registry_ref_release(&r);
	if (rc < 0)
		return pn_error_wrap(err, "--%s `%s`", opt->name, v);
	*(const char **)((char *)ctx + opt->off) = v;
	return 0;
}

static int set_env(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt;
	return build_opts_add_env(&((struct base_image_cli *)ctx)->o, v, err);
}

#define BI(f)  offsetof(struct base_image_cli, f)
#define BIO(f) offsetof(struct base_image_cli, o.f)
#define REQ    CLI_ARG_REQUIRED
#define NONE   CLI_ARG_NONE
static const struct cli_opt base_image_opts[] = {
	{"cuda", 0, REQ, NULL, BI(cuda), "X", "CUDA version (none: a CPU image)", 0},
	{"python", 0, REQ, NULL, BI(python), "Y", "Python version", 0},
	{"torch", 0, REQ, NULL, BI(torch), "Z", "torch version (none: no torch)", 0},
	{"json", 0, NONE, NULL, BI(json), NULL,
	 "list: as Cog's generate-matrix; build --dry-run: the plan", 0},
	{"system-packages", 0, REQ, NULL, BI(system_packages), "LIST",
	 "apt packages instead of Cog's common set\n(commas or spaces; \"\" for none)", 0},
	{NULL, 0, NONE, NULL, 0, NULL, "build:", 0},
	{"tag", 't', REQ, NULL, BIO(tag), "REF", "the image name (default REGISTRY/cog-base:TAG)",
	 0},
	{"push", 0, NONE, NULL, BIO(push), NULL, "push to the name after the build", 0},
	{"output", 'o', REQ, NULL, BIO(output), "oci:DIR[:TAG]",
	 "write the image to this OCI layout (or an archive)", 0},
	{"cog-base-registry", 0, REQ, cli_set_cog_base_registry, BIO(cog_base_registry),
	 "HOST[/PATH]", "the registry of the cog-base images (default name)", 0},
	{"dry-run", 0, NONE, NULL, BIO(dry_run), NULL, "print the plan and stop", 0},
	{"no-cache", 0, NONE, NULL, BIO(no_cache), NULL, "run every step again", 0},
	{"progress", 0, REQ, cli_set_progress, 0, "MODE",
	 "auto, tty, plain, quiet or json (one event a line)", 0},
	{"compression", 0, REQ, NULL, BI(compression), "gzip|zstd|none",
	 "layer compression (default gzip)", 0},
	{"cache-dir", 0, REQ, NULL, BIO(cache_dir), "DIR",
	 "layer cache and snapshots (default ~/.cache/pinion)", 0},
	{"build-env", 0, REQ, set_env, 0, "NAME[=VALUE]", "a variable for RUN steps", 0},
	{"no-host-env", 0, NONE, NULL, BIO(no_host_env), NULL,
	 "pass none of the host's proxy and pip settings", 0},
};

static int base_image_list(const struct base_image_cli *c)
{
	cleanup_free char *text = base_image_matrix_json(c->cuda, c->python, c->torch);
	cleanup_json json_t *a = NULL;
	size_t i;
	json_t *e;

	if (c->json) {
		printf("%s\n", text);
		return 0;
	}
	a = json_loads(text, 0, NULL);
	json_array_foreach(a, i, e)
	{
		cleanup_free char *tag =
			xasprintf("%s:%s", json_string_value(json_object_get(e, "image_name")),
				  json_string_value(json_object_get(e, "image_tag")));
		const char *cuda = json_string_value(json_object_get(e, "cuda_version"));
		const char *torch = json_string_value(json_object_get(e, "torch_version"));

		printf("%-46s cuda %-5s python %-5s torch %s\n", tag, *cuda ? cuda : "-",
		       json_string_value(json_object_get(e, "python_version")),
		       *torch ? torch : "-");
	}
	return 0;
}

/* the cog-base image the options name, with Cog's packages or --system-packages */
static int resolve(const struct base_image_cli *c, struct base_image *b, struct pn_error **err)
{
	if (base_image_resolve(c->cuda, c->python, c->torch, b, err) < 0)
		return -1;
	if (c->system_packages)
		base_image_set_system_packages(b, c->system_packages);
	return 0;
}

static int base_image_dockerfile(const struct base_image_cli *c)
{
	struct base_image b;
	struct cog_config cfg;
	struct build_plan_opts po;
	struct pn_error *err = NULL;
	int rc;

	if (resolve(c, &b, &err) < 0)
		return pn_cli_fail(err);
	build_plan_opts_init(&po);
	if (base_image_config(&b, &cfg, &err) < 0) {
		base_image_release(&b);
		return pn_cli_fail(err);
	}
	rc = cli_dockerfile_print(&cfg, &b, &po);
	base_image_release(&b);
	return rc;
}

/* the options of a build: the image's name and place, the scratch context */
static int build_setup(struct base_image_cli *c, struct base_image *b, char **name,
		       struct pn_error **err)
{
	const char *host =
		c->o.cog_base_registry ? c->o.cog_base_registry : getenv("COG_REGISTRY_HOST");
	cleanup_free char *cache = c->o.cache_dir ? xstrdup(c->o.cache_dir) : pn_cache_dir();

	if (c->compression && oci_compression_parse(c->compression, &c->o.compression, err) < 0)
		return -1;
	if (c->o.output && oci_transport_of(c->o.output) == OCI_TRANSPORT_NONE)
		return pn_error_set(err, PN_ERR_INVALID,
				    "--output `%s`: want oci:DIR[:TAG], oci-archive:FILE[:REF] or "
				    "docker-archive:FILE[:REF]",
				    c->o.output);
	/* stands for the model directory: nothing of it goes into the image */
	b->context_dir = pn_path_join(cache, "base-image-context");
	if (pn_mkdir_p(b->context_dir, 0700, err) < 0)
		return -1;
	if (!c->o.tag) {
		*name = compat_cog_base_ref(host, b->cuda, b->python, b->torch);
		c->o.tag = *name;
	}
	if (!c->o.output && !c->o.push)
		c->o.output = "oci:" BUILD_DEFAULT_LAYOUT;
	c->o.separate_weights = false;
	c->o.platform = c->ro.platform;
	c->o.ropts = &c->ro;
	c->o.dry_run_json = c->json;
	c->o.base_image = b;
	return 0;
}

static int base_image_build(struct base_image_cli *c)
{
	struct base_image b;
	struct build_result res;
	struct pn_error *err = NULL;
	cleanup_free char *name = NULL;
	int rc = -1;

	base_image_init(&b);
	if (resolve(c, &b, &err) == 0 && build_setup(c, &b, &name, &err) == 0)
		rc = build_run(&c->o, &res, &err);
	if (rc < 0) {
		base_image_release(&b);
		return pn_cli_fail(err);
	}
	if (!c->o.dry_run) {
		if (res.layout_dir)
			printf("oci:%s:%s %s\n", res.layout_dir, res.layout_tag,
			       res.manifest.digest);
		else if (c->o.output)
			printf("%s %s\n", c->o.output, res.manifest.digest);
		if (res.pushed)
			printf("%s@%s\n", res.pushed, res.manifest.digest);
	}
	build_result_release(&res);
	base_image_release(&b);
	return 0;
}

static int cmd_base_image(int argc, char **argv)
{
	struct base_image_cli c;
	struct cli_table t[2] = {CLI_TABLE(base_image_opts, &c), CLI_REGISTRY_TABLE(&c.ro)};
	struct cli_cmd cmd = {.name = "base-image",
			      .intro = base_image_intro,
			      .tables = t,
			      .n_tables = 2,
			      .groups = CLI_REG_ALL,
			      .max_args = 1};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	const char *sub;
	int rc;

	memset(&c, 0, sizeof(c));
	build_opts_init(&c.o);
	if (cli_registry_start(&cmd, &c.ro, argc, argv, &args, &rc))
		goto out;
	sub = args.n ? args.v[0] : "";
	if (strcmp(sub, "list") == 0 || strcmp(sub, "generate-matrix") == 0)
		rc = base_image_list(&c);
	else if (strcmp(sub, "dockerfile") == 0)
		rc = base_image_dockerfile(&c);
	else if (strcmp(sub, "build") == 0)
		rc = base_image_build(&c);
	else if (*sub)
		rc = pn_cli_usage("base-image", "unknown subcommand `%s` (list, dockerfile, build)",
				  sub);
	else
		rc = pn_cli_usage("base-image", "which subcommand? list, dockerfile or build");
out:
	build_opts_release(&c.o);
	registry_opts_release(&c.ro);
	return rc;
}

PN_COMMAND(base_image, "base-image", "list, show or build the cog-base images of the matrix",
	   cmd_base_image);
