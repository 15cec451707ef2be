/* cmd_login.c - `pinion login` and `pinion logout` */
#include "assembler/cli/cli.h"

#include <stddef.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PASSWORD_MAX 4096

static const char login_intro[] =
	"usage: pinion login [OPTIONS] -u USER [-p PASS | --password-stdin] REGISTRY\n\n"
	"Check the credentials against REGISTRY and store them in the auth file\n"
	"(--authfile, else $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,\n"
	"else ~/.config/containers/auth.json), mode 0600.  Prefer --password-stdin:\n"
	"-p leaves the password in the process list.\n\nOptions:\n";

struct login_args {
	const char *user, *pass;
	bool stdin_pw;
};

static const struct cli_opt login_opts[] = {
	{"username", 'u', CLI_ARG_REQUIRED, NULL, offsetof(struct login_args, user), "USER",
	 "the user name", 0},
	{"password", 'p', CLI_ARG_REQUIRED, NULL, offsetof(struct login_args, pass), "PASS",
	 "the password (visible in the process list)", 0},
	{"password-stdin", 0, CLI_ARG_NONE, NULL, offsetof(struct login_args, stdin_pw), NULL,
	 "read the password from stdin", 0},
};

static char *read_password_stdin(struct pn_error **err)
{
	char *buf = xmalloc(PASSWORD_MAX + 1);
	ssize_t n = pn_read_all(0, buf, PASSWORD_MAX + 1);

	if (n < 0 || n > PASSWORD_MAX) {
		free(buf);
		pn_error_set(err, PN_ERR_INVALID,
			     "password on stdin unreadable or longer than %d bytes", PASSWORD_MAX);
		return NULL;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return buf;
}

static int login_run(const struct registry_opts *o, const struct login_args *la,
		     const char *registry, struct pn_error **err)
{
	struct registry_client *c = NULL;
	char *owned = NULL;
	const char *pass = la->pass;
	int rc;

	if (la->stdin_pw && !(pass = owned = read_password_stdin(err)))
		return -1;
	rc = registry_client_new(o, &c, err) < 0 ? -1
						 : registry_login(c, registry, la->user, pass, err);
	registry_client_free(c);
	if (owned) {
		explicit_bzero(owned, strlen(owned));
		free(owned);
	}
	return rc;
}

static int cmd_login(int argc, char **argv)
{
	struct registry_opts o;
	struct login_args la = {0};
	struct cli_table t[2] = {CLI_TABLE(login_opts, &la), CLI_REGISTRY_TABLE(&o)};
	struct cli_cmd cmd = {.name = "login",
			      .intro = login_intro,
			      .tables = t,
			      .n_tables = 2,
			      .groups = CLI_REG_CONN | CLI_REG_AUTHFILE};
	cleanup_strv struct pn_strv rest = PN_STRV_INIT;
	struct pn_error *err = NULL;
	int rc = 0;

	if (cli_registry_start(&cmd, &o, argc, argv, &rest, &rc))
		goto out;
	if (rest.n != 1 || !la.user || (!la.pass && !la.stdin_pw) || (la.pass && la.stdin_pw))
		rc = pn_cli_usage(
			"login",
			"expected -u USER, one of -p PASS or --password-stdin, and REGISTRY");
	else if (login_run(&o, &la, rest.v[0], &err) < 0)
		rc = pn_cli_fail(err);
	else
		printf("Login succeeded\n");
out:
	registry_opts_release(&o);
	return rc;
}

static int cmd_logout(int argc, char **argv)
{
	struct registry_opts o;
	struct cli_table t[1] = {CLI_REGISTRY_TABLE(&o)};
	struct cli_cmd cmd = {.name = "logout",
			      .intro = "usage: pinion logout [--authfile FILE] REGISTRY\n\n"
				       "Remove the stored credentials for REGISTRY from the auth "
				       "file.\n\nOptions:\n",
			      .tables = t,
			      .n_tables = 1,
			      .groups = CLI_REG_AUTHFILE};
	cleanup_strv struct pn_strv rest = PN_STRV_INIT;
	struct pn_error *err = NULL;
	struct registry_client *c = NULL;
	int rc = 0;

	if (cli_registry_start(&cmd, &o, argc, argv, &rest, &rc))
		goto out;
	if (rest.n != 1)
		rc = pn_cli_usage("logout", "expected REGISTRY");
	else if (registry_client_new(&o, &c, &err) < 0 || registry_logout(c, rest.v[0], &err) < 0)
		rc = pn_cli_fail(err);
	else
		printf("Removed login credentials for %s\n", rest.v[0]);
out:
	registry_client_free(c);
	registry_opts_release(&o);
	return rc;
}

PN_COMMAND(login, "login", "store credentials for a registry", cmd_login);
PN_COMMAND(logout, "logout", "remove stored credentials for a registry", cmd_logout);
