/*
 * cmd_users.c - `gust users add | list | passwd | set-role | remove`: the users of the HTTP
 * API in the store at $GUST_HOME (docs/users.md).
 *
 * Identities live only in the store and the server keeps no copy of them, so these commands
 * write the store directly through ops/identity.h, whether a server runs or not (SQLite's
 * write lock and busy timeout order them with the server's own writes). Whoever runs them can
 * read the store file, so they act as the machine's operator: an admin, audited as
 * "local:UNIXNAME" via "cli".
 *
 * A password comes from stdin when stdin is not a terminal (the whole input, one trailing
 * newline removed: `printf '%s' "$PW" | gust users add ...`), else from a prompt on the
 * terminal, typed twice without echo. It is never an argument (argv is visible to every user
 * of the machine in /proc).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/password.h"
#include "base/util.h"
#include "cli/cli.h"
#include "ops/identity.h"

/* The local operator. */
static const struct ops_actor local = {.user = NULL, .via = "cli"};

/* ---- passwords -------------------------------------------------------------------------- */

/* One line from the terminal `fd` with echo off; NULL on EOF or error. */
static char *prompt_line(int fd, const char *prompt)
{
	struct termios old, quiet;
	bool tty = tcgetattr(fd, &old) == 0;
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	fputs(prompt, stderr);
	fflush(stderr);
	char buf[AUTH_PASSWORD_MAX + 2];
	size_t n = 0;
	bool ok = false;
	for (;;) {
		char c;
		ssize_t k = read(fd, &c, 1);
		if (k <= 0)
			break;
		if (c == '\n') {
			ok = true;
			break;
		}
		if (n < sizeof(buf) - 1)
			buf[n++] = c;
	}
	if (tty)
		tcsetattr(fd, TCSAFLUSH, &old);
	char *r = NULL;
	if (ok) {
		r = xmalloc(n + 1);
		memcpy(r, buf, n);
		r[n] = '\0';
	}
	explicit_bzero(buf, sizeof(buf));
	return r;
}

/* The new password of `name`: from stdin, or prompted twice. 0 and a malloc'd password (wipe
 * and free it), or 1 with the problem printed. */
static int read_password(const char *name, char **ret, size_t *ret_len)
{
	if (!isatty(STDIN_FILENO)) {
		size_t cap = AUTH_PASSWORD_MAX + 3, n = 0;
		char *buf = xmalloc(cap);
		ssize_t k;
		while (n < cap && (k = read(STDIN_FILENO, buf + n, cap - n)) > 0)
			n += (size_t)k;
		if (n && buf[n - 1] == '\n')
			n--;
		if (n && buf[n - 1] == '\r')
			n--;
		if (n > AUTH_PASSWORD_MAX) {
			explicit_bzero(buf, cap);
			free(buf);
			fprintf(stderr, "gust: the password on stdin is longer than %d bytes\n",
				AUTH_PASSWORD_MAX);
			return 1;
		}
		buf[n] = '\0';
		*ret = buf;
		*ret_len = n;
		return 0;
	}
	char *prompt = xasprintf("New password for %s: ", name);
	char *a = prompt_line(STDIN_FILENO, prompt);
	free(prompt);
	char *b = a ? prompt_line(STDIN_FILENO, "Again: ") : NULL;
	int rc = 0;
	if (!a || !b) {
		fprintf(stderr, "gust: no password given\n");
		rc = 1;
	} else if (strcmp(a, b) != 0) {
		fprintf(stderr, "gust: the two passwords differ\n");
		rc = 1;
	}
	if (b) {
		explicit_bzero(b, strlen(b));
		free(b);
	}
	if (rc) {
		if (a)
			explicit_bzero(a, strlen(a));
		free(a);
		return rc;
	}
	*ret = a;
	*ret_len = strlen(a);
	return 0;
}

static void wipe_password(char *pw, size_t len)
{
	if (pw)
		explicit_bzero(pw, len);
	free(pw);
}

/* Open the store (creating it when `create`), or 1. */
static int open_store(const char *home, bool create, struct store **st)
{
	return cli_store_open(cli_home(home), create, st) < 0 ? 1 : 0;
}

/* ---- add -------------------------------------------------------------------------------- */

static const struct cli_cmd users_add_cmd;

static int cmd_users_add(int argc, char **argv)
{
	const char *home = NULL, *role = NULL;
	static const struct option opts[] = {
	    {"role", required_argument, NULL, 'r'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			role = optarg;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&users_add_cmd);
		default:
			return cli_usage_error(&users_add_cmd, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&users_add_cmd, "name exactly one user");
	if (!role)
		return cli_usage_error(&users_add_cmd,
				       "give the user a role: --role viewer|operator|editor|admin");
	const char *name = argv[optind];
	struct ops_err err = {0};
	/* Refuse a bad name or role before asking for a password. */
	enum auth_role rl;
	if (!ops_user_name_valid(name) || auth_role_parse(role, &rl) < 0) {
		if (!ops_user_name_valid(name))
			ops_fail(&err, OPS_INVALID,
				 "bad user name '%.100s': use 1 to %d letters, digits, '_', '-' "
				 "and '.', not starting with '-' or '.'",
				 name, OPS_USER_NAME_MAX);
		else
			ops_fail(&err, OPS_INVALID,
				 "bad role '%.40s': use viewer, operator, editor or admin", role);
		return cli_ops_failed(&err);
	}
	struct store *st = NULL;
	if (open_store(home, true, &st))
		return 1;
	char *pw = NULL;
	size_t len = 0;
	int rc = read_password(name, &pw, &len);
	if (rc == 0) {
		if (ops_user_add(st, cli_now_ms(), &local, name, role, pw, len, &err) < 0)
			rc = cli_ops_failed(&err);
		else
			printf("added user '%s' (%s)\n", name, role);
	}
	wipe_password(pw, len);
	store_close(st);
	return rc;
}

static const struct cli_cmd users_add_cmd = {
    "users add",
    cmd_users_add,
    "add a user of the HTTP API",
    "Usage: gust users add NAME --role ROLE [--home DIR]\n"
    "\n"
    "Add the user NAME with ROLE. The password is read from stdin when stdin is not a\n"
    "terminal (one trailing newline removed), else asked for twice without echo. It needs\n"
    "at least 12 characters.\n"
    "\n"
    "  NAME         1 to 100 letters, digits, '_', '-' and '.' (not starting with - or .)\n"
    "  --role ROLE  viewer (reads), operator (trigger, cancel, clear, mark, pause),\n"
    "               editor (deploy DAGs, pools, variables) or admin (users, tokens,\n"
    "               connections, secrets); each may do what the ones before it may\n"
    "  --home DIR   state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- list ------------------------------------------------------------------------------- */

static const struct cli_cmd users_list_cmd;

static int cmd_users_list(int argc, char **argv)
{
	const char *home;
	bool json = false;
	int rc0 = cli_home_options(&users_list_cmd, argc, argv, &home, &json);
	if (rc0 >= 0)
		return rc0;
	if (optind < argc)
		return cli_usage_error(&users_list_cmd, "unexpected argument '%s'", argv[optind]);
	struct store *st = NULL;
	if (open_store(home, false, &st))
		return 1;
	json_t *arr = NULL;
	struct ops_err err = {0};
	int rc = 0;
	if (ops_user_list(st, &local, &arr, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else if (json) {
		cli_print_json(arr);
	} else {
		int w = 12;
		size_t i;
		json_t *u;
		json_array_foreach(arr, i, u)
		{
			int l = (int)strlen(json_string_value(json_object_get(u, "name")));
			w = l > w ? l : w;
		}
		printf("%-*s %-9s %-21s %s\n", w, "NAME", "ROLE", "CREATED", "PASSWORD CHANGED");
		json_array_foreach(arr, i, u)
		{
			char created[40], changed[40];
			printf("%-*s %-9s %-21s %s\n", w,
			       json_string_value(json_object_get(u, "name")),
			       json_string_value(json_object_get(u, "role")),
			       cli_fmt_json_time(json_object_get(u, "created_at"), created,
						 sizeof(created)),
			       cli_fmt_json_time(json_object_get(u, "password_changed_at"), changed,
						 sizeof(changed)));
		}
	}
	json_decref(arr);
	store_close(st);
	return rc;
}

static const struct cli_cmd users_list_cmd = {
    "users list",
    cmd_users_list,
    "list the users",
    "Usage: gust users list [--json] [--home DIR]\n"
    "\n"
    "List the users by name with their role, when each was created and when its password\n"
    "last changed. Passwords are never shown (the store keeps only their argon2id hashes).\n"
    "\n"
    "  --json      a JSON array of users: name, role, created_at, updated_at,\n"
    "              password_changed_at\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- passwd ----------------------------------------------------------------------------- */

static const struct cli_cmd users_passwd_cmd;

static int cmd_users_passwd(int argc, char **argv)
{
	const char *home;
	int rc0 = cli_home_options(&users_passwd_cmd, argc, argv, &home, NULL);
	if (rc0 >= 0)
		return rc0;
	if (argc - optind != 1)
		return cli_usage_error(&users_passwd_cmd, "name exactly one user");
	const char *name = argv[optind];
	struct store *st = NULL;
	if (open_store(home, false, &st))
		return 1;
	json_t *u = NULL;
	struct ops_err err = {0};
	/* An unknown user is reported before the password is asked for. */
	if (ops_user_get(st, &local, name, &u, &err) < 0) {
		store_close(st);
		return cli_ops_failed(&err);
	}
	json_decref(u);
	char *pw = NULL;
	size_t len = 0;
	int rc = read_password(name, &pw, &len);
	if (rc == 0) {
		if (ops_user_passwd(st, cli_now_ms(), &local, name, pw, len, &err) < 0)
			rc = cli_ops_failed(&err);
		else
			printf("changed the password of '%s' (its sessions ended)\n", name);
	}
	wipe_password(pw, len);
	store_close(st);
	return rc;
}

static const struct cli_cmd users_passwd_cmd = {
    "users passwd",
    cmd_users_passwd,
    "change a user's password",
    "Usage: gust users passwd NAME [--home DIR]\n"
    "\n"
    "Set a new password for NAME, read as by 'gust users add' (stdin, or a prompt typed\n"
    "twice). The user's browser sessions end; its API tokens stay valid.\n"
    "\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- set-role --------------------------------------------------------------------------- */

static const struct cli_cmd users_set_role_cmd;

static int cmd_users_set_role(int argc, char **argv)
{
	const char *home;
	int rc0 = cli_home_options(&users_set_role_cmd, argc, argv, &home, NULL);
	if (rc0 >= 0)
		return rc0;
	if (argc - optind != 2)
		return cli_usage_error(&users_set_role_cmd, "name a user and a role");
	const char *name = argv[optind], *role = argv[optind + 1];
	struct store *st = NULL;
	if (open_store(home, false, &st))
		return 1;
	struct ops_err err = {0};
	int rc = 0;
	if (ops_user_set_role(st, cli_now_ms(), &local, name, role, &err) < 0)
		rc = cli_ops_failed(&err);
	else
		printf("user '%s' is now %s\n", name, role);
	store_close(st);
	return rc;
}

static const struct cli_cmd users_set_role_cmd = {
    "users set-role",
    cmd_users_set_role,
    "change a user's role",
    "Usage: gust users set-role NAME ROLE [--home DIR]\n"
    "\n"
    "Give NAME the role ROLE (viewer, operator, editor or admin). The last admin cannot be\n"
    "given another role. The change applies to the user's next request.\n"
    "\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- remove ----------------------------------------------------------------------------- */

static const struct cli_cmd users_remove_cmd;

static int cmd_users_remove(int argc, char **argv)
{
	const char *home;
	int rc0 = cli_home_options(&users_remove_cmd, argc, argv, &home, NULL);
	if (rc0 >= 0)
		return rc0;
	if (argc - optind != 1)
		return cli_usage_error(&users_remove_cmd, "name exactly one user");
	const char *name = argv[optind];
	struct store *st = NULL;
	if (open_store(home, false, &st))
		return 1;
	struct ops_err err = {0};
	int rc = 0;
	if (ops_user_remove(st, cli_now_ms(), &local, name, &err) < 0)
		rc = cli_ops_failed(&err);
	else
		printf("removed user '%s' (its sessions ended, its tokens revoked)\n", name);
	store_close(st);
	return rc;
}

static const struct cli_cmd users_remove_cmd = {
    "users remove",
    cmd_users_remove,
    "remove a user",
    "Usage: gust users remove NAME [--home DIR]\n"
    "\n"
    "Remove NAME: its sessions end and its API tokens are revoked, in one transaction. The\n"
    "tokens stay listed (revoked) and the audit log keeps what the user did. The last\n"
    "admin cannot be removed.\n"
    "\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- group ------------------------------------------------------------------------------ */

static const struct cli_cmd *const users_cmds[] = {
    &users_add_cmd, &users_list_cmd, &users_passwd_cmd, &users_set_role_cmd, &users_remove_cmd};

int cmd_users(int argc, char **argv)
{
	return cli_group("users", users_cmds, ARRAY_SIZE(users_cmds), argc, argv);
}
