/* cmd_login.c - `pinion login` and `pinion logout` */
#include "common/common.h"
#include "registry/registry.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PASSWORD_MAX 4096

static void login_help(void)
{
	printf("usage: pinion login [OPTIONS] -u USER [-p PASS | --password-stdin] REGISTRY\n\n"
	       "Check the credentials against REGISTRY and store them in the auth file\n"
	       "(--authfile, else $REGISTRY_AUTH_FILE, else "
	       "$XDG_RUNTIME_DIR/containers/auth.json,\n"
	       "else ~/.config/containers/auth.json), mode 0600.  Prefer --password-stdin:\n"
	       "-p leaves the password in the process list.\n\nOptions:\n%s",
	       registry_opts_flags_help);
}

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

/* pulls -u/-p/--password-stdin out of argv before the shared flags */
static int login_args(int *argc, char **argv, char **user, char **pass, bool *stdin_pw)
{
	int j = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		if ((strcmp(a, "-u") == 0 || strcmp(a, "--username") == 0) && i + 1 < *argc)
			*user = argv[++i];
		else if ((strcmp(a, "-p") == 0 || strcmp(a, "--password") == 0) && i + 1 < *argc)
			*pass = argv[++i];
		else if (strcmp(a, "--password-stdin") == 0)
			*stdin_pw = true;
		else
			argv[j++] = argv[i];
	}
	*argc = j;
	return 0;
}

static int cmd_login(int argc, char **argv)
{
	struct registry_opts o;
	struct pn_strv rest = PN_STRV_INIT;
	struct pn_error *err = NULL;
	struct registry_client *c = NULL;
	char *user = NULL, *pass = NULL, *owned_pass = NULL;
	bool stdin_pw = false;
	int rc = 0;

	if (pn_cli_wants_help(argc, argv)) {
		login_help();
		return 0;
	}
	login_args(&argc, argv, &user, &pass, &stdin_pw);
	registry_opts_init(&o);
	if (registry_opts_from_args(&o, argc, argv, &rest, &err) < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	if (rest.n != 1 || !user || (!pass && !stdin_pw) || (pass && stdin_pw)) {
		rc = pn_cli_usage(
			"login",
			"expected -u USER, one of -p PASS or --password-stdin, and REGISTRY");
		goto out;
	}
	if (stdin_pw && !(pass = owned_pass = read_password_stdin(&err))) {
		rc = pn_cli_fail(err);
		goto out;
	}
	if (registry_client_new(&o, &c, &err) < 0 ||
	    registry_login(c, rest.v[0], user, pass, &err) < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	printf("Login succeeded\n");
out:
	if (owned_pass) {
		explicit_bzero(owned_pass, strlen(owned_pass));
		free(owned_pass);
	}
	registry_client_free(c);
	registry_opts_release(&o);
	pn_strv_release(&rest);
	return rc;
}

static int cmd_logout(int argc, char **argv)
{
	struct registry_opts o;
	struct pn_strv rest = PN_STRV_INIT;
	struct pn_error *err = NULL;
	struct registry_client *c = NULL;
	int rc = 0;

	if (pn_cli_wants_help(argc, argv)) {
		printf("usage: pinion logout [--authfile FILE] REGISTRY\n\n"
		       "Remove the stored credentials for REGISTRY from the auth file.\n");
		return 0;
	}
	registry_opts_init(&o);
	if (registry_opts_from_args(&o, argc, argv, &rest, &err) < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	if (rest.n != 1) {
		rc = pn_cli_usage("logout", "expected REGISTRY");
		goto out;
	}
	if (registry_client_new(&o, &c, &err) < 0 || registry_logout(c, rest.v[0], &err) < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	printf("Removed login credentials for %s\n", rest.v[0]);
out:
	registry_client_free(c);
	registry_opts_release(&o);
	pn_strv_release(&rest);
	return rc;
}

PN_COMMAND(login, "login", "store credentials for a registry", cmd_login);
PN_COMMAND(logout, "logout", "remove stored credentials for a registry", cmd_logout);
