/* cli.h - the command line (assembler/cli/): the option parser (opt.h), the
 * registry options every command that talks to a registry offers (they fill a
 * struct registry_opts), and what commands share.  Only this layer reads argv
 * and exits; the libraries below take plain structs. */
#ifndef PN_ASSEMBLER_CLI_H
#define PN_ASSEMBLER_CLI_H

#include "assembler/cli/opt.h"
#include "assembler/plan.h"
#include "registry/registry.h"

/* Groups of registry options (cli_opt.groups / cli_cmd.groups): a command
 * offers the groups of what it does, so a push option is unknown to login. */
#define CLI_REG_CONN	 (1u << 0) /* TLS trust, retries and timeouts of any request */
#define CLI_REG_AUTHFILE (1u << 1) /* --authfile */
#define CLI_REG_CREDS	 (1u << 2) /* --creds, credential helpers */
#define CLI_REG_IMAGE	 (1u << 3) /* naming an image: mirrors, --platform */
#define CLI_REG_BLOBS	 (1u << 4) /* moving blobs: --parallel, --blob-timeout, --max-blob-size */
#define CLI_REG_PUSH	 (1u << 5) /* uploads: --chunk-size */
/* whatever reads images from a registry */
#define CLI_REG_PULL                                                                               \
	(CLI_REG_CONN | CLI_REG_AUTHFILE | CLI_REG_CREDS | CLI_REG_IMAGE | CLI_REG_BLOBS)
#define CLI_REG_ALL (CLI_REG_PULL | CLI_REG_PUSH)

/* the registry options (regopts.c); their ctx is a struct registry_opts */
extern const struct cli_opt cli_registry_opts[];
extern const size_t cli_registry_n_opts;
#define CLI_REGISTRY_TABLE(ro_)                                                                    \
	{                                                                                          \
		cli_registry_opts, cli_registry_n_opts, (ro_)                                      \
	}

/* registry_opts_init + the registries config file (default search) */
int cli_registry_opts_init(struct registry_opts *ro, struct pn_error **err);
/* cli_start with the registries config first: true when the command is done
 * (help, or an error printed), *status its exit status; *ro is initialised
 * either way (registry_opts_release it) */
bool cli_registry_start(const struct cli_cmd *cmd, struct registry_opts *ro, int argc, char **argv,
			struct pn_strv *args, int *status);

/* --NAME[=true|1|false|0|auto] into an enum plan_tristate at ctx + off */
int cli_set_tristate(void *ctx, const struct cli_opt *opt, const char *value,
		     struct pn_error **err);

/* --cog-base-registry HOST[/PATH] (cmd_base_image.c): checked, stored as a
 * const char * at ctx + off */
int cli_set_cog_base_registry(void *ctx, const struct cli_opt *opt, const char *value,
			      struct pn_error **err);

/* print the Dockerfile of cfg's plan (shared.c): with b, the plan of
 * the cog-base image b (base_image_plan), else build_plan_make's with po;
 * cfg is released either way; the exit status (an error is printed) */
struct base_image;
int cli_dockerfile_print(struct cog_config *cfg, const struct base_image *b,
			 const struct build_plan_opts *po);

/* `pinion build` and `pinion push [NAME]` (cmd_build.c): parse and run; push
 * turns --push on and takes one argument, NAME, the push target */
int build_cli_main(int argc, char **argv, bool push);
/* the arguments (not options) of argv as build_cli_main reads them */
void build_cli_scan(int argc, char **argv, struct pn_strv *args);

#endif
