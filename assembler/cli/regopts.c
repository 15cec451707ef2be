/* regopts.c - the registry options of the command line: one table, in groups
 * (cli.h), whose handlers fill a struct registry_opts; registry/ validates
 * the values it owns (registry_opts_set, registry_opts_add_mirror). */
#include "assembler/cli/cli.h"

#include <stdlib.h>
#include <string.h>

static int set_mirror(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt;
	return registry_opts_add_mirror(ctx, v, err);
}

static int set_insecure(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt, (void)err;
	registry_opts_add_insecure(ctx, v);
	return 0;
}

/* --tls-verify[=true|false]: false = every host insecure */
static int set_tls_verify(void *ctx, const struct cli_opt *opt, const char *v,
			  struct pn_error **err)
{
	(void)opt;
	if (v && strcmp(v, "false") == 0) {
		registry_opts_add_insecure(ctx, "*");
		return 0;
	}
	if (v && strcmp(v, "true") != 0)
		return pn_error_set(err, PN_ERR_INVALID, "invalid `--tls-verify=%s`: true or false",
				    v);
	return 0;
}

/* --ca-bundle, --authfile: a path kept as given */
static int set_path(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	char **slot = (char **)((char *)ctx + opt->off);

	(void)err;
	free(*slot);
	*slot = xstrdup(v);
	return 0;
}

/* USER[:PASS]; PASS from $PINION_REGISTRY_PASSWORD when absent */
static int set_creds(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	struct registry_opts *o = ctx;
	const char *colon = strchr(v, ':');
	const char *envpw = getenv("PINION_REGISTRY_PASSWORD");

	(void)opt;
	if (colon == v || !*v)
		return pn_error_set(err, PN_ERR_INVALID, "`--creds` needs USER[:PASS]");
	free(o->username);
	if (o->password)
		explicit_bzero(o->password, strlen(o->password));
	free(o->password);
	o->username = colon ? xstrndup(v, (size_t)(colon - v)) : xstrdup(v);
	o->password = xstrdup(colon ? colon + 1 : envpw ? envpw : "");
	return 0;
}

/* the settings registry/ validates, by the flag's name */
static int set_named(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	return registry_opts_set(ctx, opt->name, v, err);
}

#define REQ    CLI_ARG_REQUIRED
#define CONN   CLI_REG_CONN
#define OFF(f) offsetof(struct registry_opts, f)
const struct cli_opt cli_registry_opts[] = {
	{"registry-mirror", 0, REQ, set_mirror, 0, "FROM=TO",
	 "rewrite registry FROM to host TO or to oci:DIR (repeatable)", CLI_REG_IMAGE},
	{"insecure-registry", 0, REQ, set_insecure, 0, "HOST",
	 "allow plain HTTP / unverified TLS for HOST (repeatable)", CONN},
	{"tls-verify", 0, CLI_ARG_OPTIONAL, set_tls_verify, 0, "=false", "the same for every host",
	 CONN},
	{"ca-bundle", 0, REQ, set_path, OFF(ca_bundle), "FILE",
	 "trust this PEM CA bundle besides the system CAs", CONN},
	{"authfile", 0, REQ, set_path, OFF(auth_file), "FILE",
	 "credentials file (default: $REGISTRY_AUTH_FILE, containers auth.json)", CLI_REG_AUTHFILE},
	{"creds", 0, REQ, set_creds, 0, "USER[:PASS]",
	 "credentials for the registry (PASS from $PINION_REGISTRY_PASSWORD if absent)",
	 CLI_REG_CREDS},
	{"platform", 0, REQ, set_named, 0, "OS/ARCH[/VAR]",
	 "platform to select from an index (default linux/amd64)", CLI_REG_IMAGE},
	{"parallel", 0, REQ, set_named, 0, "N", "concurrent blob transfers (default 4)",
	 CLI_REG_BLOBS},
	{"chunk-size", 0, REQ, set_named, 0, "BYTES",
	 "upload chunk size (default 16 MiB; K/M suffixes)", CLI_REG_PUSH},
	{"retries", 0, REQ, set_named, 0, "N",
	 "retries per request or blob on transient faults (default 5)", CONN},
	{"low-speed-limit", 0, REQ, set_named, 0, "BYTES",
	 "cut a transfer below BYTES/s for --low-speed-time (default 1K; 0 = off)", CONN},
	{"low-speed-time", 0, REQ, set_named, 0, "S",
	 "seconds below that speed before the cut (default 30)", CONN},
	{"request-timeout", 0, REQ, set_named, 0, "S",
	 "deadline of a manifest, token or other small request (default 120)", CONN},
	{"blob-timeout", 0, REQ, set_named, 0, "S",
	 "deadline of one blob transfer (default 600 s + 1 s per 256 KiB)", CLI_REG_BLOBS},
	{"max-blob-size", 0, REQ, set_named, 0, "BYTES",
	 "refuse a blob declared larger (default 64G; K/M/G/T suffixes)", CLI_REG_BLOBS},
	{"credential-helper-timeout", 0, REQ, set_named, 0, "S",
	 "kill a docker-credential-* helper after S seconds (default 30)", CLI_REG_CREDS},
};
const size_t cli_registry_n_opts = sizeof(cli_registry_opts) / sizeof(cli_registry_opts[0]);

int cli_registry_opts_init(struct registry_opts *ro, struct pn_error **err)
{
	registry_opts_init(ro);
	return registry_opts_load_config(ro, NULL, err);
}

bool cli_registry_start(const struct cli_cmd *cmd, struct registry_opts *ro, int argc, char **argv,
			struct pn_strv *args, int *status)
{
	struct pn_error *err = NULL;

	registry_opts_init(ro);
	if (pn_cli_wants_help(argc, argv))
		return cli_start(cmd, argc, argv, args, status);
	if (registry_opts_load_config(ro, NULL, &err) < 0) {
		*status = pn_cli_fail(err);
		return true;
	}
	return cli_start(cmd, argc, argv, args, status);
}
