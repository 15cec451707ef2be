/* cmd_login.c - `pinion login` and `pinion logout` */
#include "assembler/cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASSWORD_MAX 4096

static const char login_intro[] =
	"usage: pinion login [OPTIONS] [-u USER] [-p PASS | --password-stdin] REGISTRY\n\n"
	"Check the credentials against REGISTRY and store them in the auth file\n"
	"(--authfile, else $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,\n"
	"else ~/.config/containers/auth.json), mode 0600.  Without -p or\n"
	"--password-stdin the password is asked for on the terminal (not echoed), and\n"
	"without -u the user name too.  -p leaves the password in the process list.\n\n"
	"Options:\n";

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

/* ------------------------------------------------------- terminal prompt */
/* the controlling terminal, for the prompts (stdin may be a pipe); -1 with
 * PN_ERR_INVALID when there is none */
static int tty_open(const char *what, struct pn_error **err)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		pn_error_set(err, PN_ERR_INVALID,
			     "no terminal to ask for the %s on: give -u USER and --password-stdin "
			     "(or -p PASS)",
			     what);
	return fd;
}

/* PROMPT, then a line from the terminal fd into buf (at most max bytes),
 * with echo and the terminal's signals off, so that Ctrl-C restores the
 * terminal first: it then ends pinion as SIGINT would (status 130).  Echo
 * goes off before the prompt is shown, and without a flush, so what is
 * typed as soon as the prompt shows is neither echoed nor lost. */
static int tty_read_secret(int fd, const char *prompt, char *buf, size_t max, struct pn_error **err)
{
	struct termios old, quiet;
	size_t n = 0;
	int rc = 0, intr = 0;

	if (tcgetattr(fd, &old) < 0)
		return pn_error_set_errno(err, errno, "read the password from the terminal");
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG);
	quiet.c_cc[VMIN] = 1;
	quiet.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &quiet) < 0)
		return pn_error_set_errno(err, errno, "turn off the terminal's echo");
	if (pn_write_all(fd, prompt, strlen(prompt)) < 0)
		rc = pn_error_set_errno(err, errno, "prompt on the terminal");
	while (rc == 0) {
		unsigned char ch;
		ssize_t r = read(fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (ch == old.c_cc[VEOF] && n == 0)) {
			rc = pn_error_set(err, PN_ERR_INVALID, "no password given on the terminal");
			break;
		}
		if (ch == '\n' || ch == '\r')
			break;
		if (ch == old.c_cc[VINTR] || ch == old.c_cc[VQUIT]) {
			intr = 1;
			break;
		}
		if (ch == old.c_cc[VERASE] || ch == 0x7f || ch == '\b')
			n -= n > 0;
		else if (ch == old.c_cc[VKILL])
			n = 0;
		else if (n < max)
			buf[n++] = (char)ch;
		else {
			rc = pn_error_set(err, PN_ERR_INVALID, "password longer than %zu bytes",
					  max);
			break;
		}
	}
	buf[n] = '\0';
	tcsetattr(fd, TCSANOW, &old);
	(void)!pn_write_all(fd, "\n", 1);
	if (intr) {
		explicit_bzero(buf, max + 1);
		signal(SIGINT, SIG_DFL);
		raise(SIGINT);
	}
	return rc;
}

/* PROMPT on the terminal, then the line typed: echoed unless secret */
static char *tty_prompt(const char *prompt, bool secret, struct pn_error **err)
{
	cleanup_close int fd = tty_open(secret ? "password" : "user name", err);
	char *buf;
	ssize_t r;

	if (fd < 0)
		return NULL;
	buf = xmalloc(PASSWORD_MAX + 1);
	if (secret) {
		if (tty_read_secret(fd, prompt, buf, PASSWORD_MAX, err) == 0)
			return buf;
		free(buf);
		return NULL;
	}
	if (pn_write_all(fd, prompt, strlen(prompt)) < 0)
		goto fail_errno;
	r = read(fd, buf, PASSWORD_MAX);
	if (r < 0)
		goto fail_errno;
	buf[r] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (*buf)
		return buf;
	free(buf);
	pn_error_set(err, PN_ERR_INVALID, "no user name given on the terminal");
	return NULL;
fail_errno:
	free(buf);
	pn_error_set_errno(err, errno, "prompt on the terminal");
	return NULL;
}

static int login_run(const struct registry_opts *o, const struct login_args *la,
		     const char *registry, struct pn_error **err)
{
	struct registry_client *c = NULL;
	cleanup_free char *user_typed = NULL;
	char *owned = NULL;
	const char *pass = la->pass, *user = la->user;
	int rc;

	if (!user && !(user = user_typed = tty_prompt("Username: ", false, err)))
		return -1;
	if (la->stdin_pw)
		pass = owned = read_password_stdin(err);
	else if (!pass)
		pass = owned = tty_prompt("Password: ", true, err);
	if (!pass)
		return -1;
	rc = registry_client_new(o, &c, err) < 0 ? -1
						 : registry_login(c, registry, user, pass, err);
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
	if (rest.n != 1 || (la.pass && la.stdin_pw) || (!la.user && (la.pass || la.stdin_pw)))
		rc = pn_cli_usage("login",
				  "expected [-u USER] [-p PASS | --password-stdin] REGISTRY "
				  "(-u with either)");
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
