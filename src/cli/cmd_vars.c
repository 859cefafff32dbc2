/*
 * cmd_vars.c - `gust variables set | get | list | delete`: the variables in the store at
 * $GUST_HOME (docs/variables.md), and what variables and connections commands share.
 *
 * Unlike run changes, these are written here, straight into the store, with or without a
 * server running: a variable is not live state a server holds, the write is one transaction,
 * and the server notices it by the store's vars.version counter before its next attempt
 * (server/vars.c). They do not go through the commands table, whose rows would keep a secret
 * in clear. The local CLI is the machine's operator: it may --reveal secrets (it can read the
 * key file anyway).
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/core.h"
#include "auth/secretbox.h"
#include "base/buf.h"
#include "base/util.h"
#include "cli/cli.h"
#include "ops/vars.h"

/* ---- shared with cmd_conns.c --------------------------------------------------------------- */

int cli_vars_open(const char *home, struct store **ret_st, struct auth_key **ret_key)
{
	if (cli_store_open(home, true, ret_st) < 0)
		return -1;
	if (!ret_key)
		return 0;
	char *path = xasprintf("%s/%s", home, AUTH_KEY_FILE);
	char *msg = NULL;
	int r = auth_key_open(path, ret_key, &msg);
	free(path);
	if (r < 0) {
		fprintf(stderr, "gust: %s\n", msg ? msg : "cannot open the master key");
		free(msg);
		store_close(*ret_st);
		*ret_st = NULL;
		return -1;
	}
	return 0;
}

char *cli_vars_who(void)
{
	struct passwd *pw = getpwuid(getuid());
	return xasprintf("cli:%s", pw && pw->pw_name ? pw->pw_name : "?");
}

int cli_read_stdin_value(char **ret)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		buf_append(&b, chunk, n);
		if (b.len > OPS_VAR_VALUE_MAX) {
			size_t total = b.len;
			auth_wipe_free(buf_detach(&b), total);
			fprintf(stderr, "gust: the value on stdin is longer than 1 MiB\n");
			return -1;
		}
	}
	if (ferror(stdin)) {
		buf_free(&b);
		fprintf(stderr, "gust: cannot read stdin\n");
		return -1;
	}
	size_t total = b.len;
	char *s = buf_detach(&b);
	if (!s)
		s = xstrdup("");
	size_t len = strlen(s);
	if (len != total) {
		fprintf(stderr, "gust: the value on stdin holds a NUL byte\n");
		auth_wipe_free(s, total);
		return -1;
	}
	/* One trailing newline (echo, a here-string) is not part of the value. */
	if (len && s[len - 1] == '\n')
		s[--len] = '\0';
	if (len && s[len - 1] == '\r')
		s[--len] = '\0';
	*ret = s;
	return 0;
}

struct ops_vars_snapshot *cli_vars_snapshot(const char *home, char *const *envp)
{
	struct store *st = NULL;
	struct auth_key *k = NULL;
	char *db = xasprintf("%s/gust.db", home);
	bool have_store = access(db, F_OK) == 0;
	free(db);
	if (have_store && cli_vars_open(home, &st, &k) < 0)
		return NULL;
	struct ops_vars_snapshot *s = NULL;
	struct ops_err err = {0};
	if (ops_vars_snapshot_load(st, k, envp, &s, &err) < 0) {
		fprintf(stderr, "gust: cannot load the variables: %s\n", err.msg);
		ops_err_free(&err);
	}
	auth_key_free(k);
	if (st)
		store_close(st);
	return s;
}

/* ---- set --------------------------------------------------------------------------------- */

static const struct cli_cmd vars_set_cmd;

static int cmd_vars_set(int argc, char **argv)
{
	const char *home = NULL, *description = NULL;
	bool secret = false, from_stdin = false;
	static const struct option opts[] = {
	    {"secret", no_argument, NULL, 's'},
	    {"stdin", no_argument, NULL, 'i'},
	    {"description", required_argument, NULL, 'd'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			secret = true;
			break;
		case 'i':
			from_stdin = true;
			break;
		case 'd':
			description = optarg;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&vars_set_cmd);
		default:
			return cli_usage_error(&vars_set_cmd, "bad option");
		}
	}
	int want = from_stdin ? 1 : 2;
	if (argc - optind != want)
		return cli_usage_error(&vars_set_cmd,
				       from_stdin ? "name the key (the value comes from stdin)"
						  : "name a key and its value (or --stdin)");
	const char *key = argv[optind];
	if (!ops_var_key_valid(key))
		return cli_usage_error(&vars_set_cmd,
				       "bad key '%s': use letters, digits and '_', not starting "
				       "with a digit",
				       key);
	char *value = NULL;
	if (from_stdin && cli_read_stdin_value(&value) < 0)
		return 1;
	home = cli_home(home);
	struct store *st = NULL;
	struct auth_key *k = NULL;
	int rc = 1;
	if (cli_vars_open(home, &st, secret ? &k : NULL) < 0)
		goto out;
	char *who = cli_vars_who();
	struct ops_ctx ctx = {.st = st, .now = cli_now_ms()};
	struct ops_var_set_req rq = {.key = key,
				     .value = value ? value : argv[optind + 1],
				     .secret = secret,
				     .description = description,
				     .who = who};
	json_t *ans = NULL;
	struct ops_err err = {0};
	if (ops_var_set(&ctx, k, &rq, &ans, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else {
		rc = 0;
		cli_audit(st, "variable.set", key);
		printf("%s %svariable '%s'\n",
		       json_is_true(json_object_get(ans, "created")) ? "created" : "updated",
		       secret ? "secret " : "", key);
		json_decref(ans);
	}
	free(who);
out:
	if (value)
		auth_wipe_free(value, strlen(value));
	auth_key_free(k);
	if (st)
		store_close(st);
	return rc;
}

static const struct cli_cmd vars_set_cmd = {
    "variables set",
    cmd_vars_set,
    "create or change a variable",
    "Usage: gust variables set KEY VALUE [--secret] [--description TEXT] [--home DIR]\n"
    "       gust variables set KEY --stdin [--secret] ...\n"
    "\n"
    "Set the variable KEY, which templates read as ${{ var.KEY }}. KEY: letters, digits\n"
    "and '_', not starting with a digit. With --secret the value is encrypted in the store\n"
    "(with $GUST_HOME/secret.key, created when missing), masked as *** in task logs, and\n"
    "shown only with --reveal. A running server uses the new value from its next attempt.\n"
    "\n"
    "  --secret            a secret value\n"
    "  --stdin             read the value from stdin (one trailing newline dropped), so a\n"
    "                      secret stays out of the shell's history\n"
    "  --description TEXT  a description (\"\" clears it)\n"
    "  --home DIR          state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- get --------------------------------------------------------------------------------- */

static const struct cli_cmd vars_get_cmd;

static int cmd_vars_get(int argc, char **argv)
{
	const char *home = NULL;
	bool reveal = false, json = false;
	static const struct option opts[] = {
	    {"reveal", no_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			reveal = true;
			break;
		case 'j':
			json = true;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&vars_get_cmd);
		default:
			return cli_usage_error(&vars_get_cmd, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&vars_get_cmd, "name one key");
	home = cli_home(home);
	struct store *st = NULL;
	struct auth_key *k = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	if (reveal) {
		store_close(st);
		if (cli_vars_open(home, &st, &k) < 0)
			return 1;
	}
	struct ops_ctx ctx = {.st = st, .now = cli_now_ms()};
	json_t *v = NULL;
	struct ops_err err = {0};
	int rc = 0;
	if (ops_var_get(&ctx, k, argv[optind], reveal, &v, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else if (json) {
		cli_print_json(v);
	} else {
		const char *val = json_string_value(json_object_get(v, "value"));
		if (val) {
			printf("%s\n", val);
		} else {
			printf("***\n");
			fprintf(stderr, "gust: note: '%s' is secret; --reveal shows its value\n",
				argv[optind]);
		}
	}
	json_decref(v);
	auth_key_free(k);
	store_close(st);
	return rc;
}

static const struct cli_cmd vars_get_cmd = {
    "variables get",
    cmd_vars_get,
    "print a variable's value",
    "Usage: gust variables get KEY [--reveal] [--json] [--home DIR]\n"
    "\n"
    "Print the value of KEY. A secret prints as *** unless --reveal is given.\n"
    "\n"
    "  --reveal    show a secret value\n"
    "  --json      the variable as JSON (key, value, secret, description, updated_at,\n"
    "              updated_by; a hidden secret's value is null)\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- list -------------------------------------------------------------------------------- */

static const struct cli_cmd vars_list_cmd;

static int cmd_vars_list(int argc, char **argv)
{
	const char *home = NULL;
	bool json = false;
	int rc = cli_home_options(&vars_list_cmd, argc, argv, &home, &json);
	if (rc >= 0)
		return rc;
	if (argc != optind)
		return cli_usage_error(&vars_list_cmd, "no operands expected");
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	struct ops_ctx ctx = {.st = st, .now = cli_now_ms()};
	json_t *a = NULL;
	struct ops_err err = {0};
	rc = 0;
	if (ops_var_list(&ctx, NULL, false, &a, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else if (json) {
		cli_print_json(a);
	} else if (json_array_size(a) == 0) {
		printf("no variables (set one with 'gust variables set KEY VALUE')\n");
	} else {
		printf("%-24s %-6s %-32s %s\n", "KEY", "SECRET", "VALUE", "DESCRIPTION");
		size_t i;
		json_t *v;
		json_array_foreach(a, i, v)
		{
			bool secret = json_is_true(json_object_get(v, "secret"));
			const char *val = json_string_value(json_object_get(v, "value"));
			const char *d = json_string_value(json_object_get(v, "description"));
			printf("%-24s %-6s %-32.*s %s\n",
			       json_string_value(json_object_get(v, "key")), secret ? "yes" : "no",
			       val ? 32 : 3, val ? val : "***", d ? d : "");
		}
	}
	json_decref(a);
	store_close(st);
	return rc;
}

static const struct cli_cmd vars_list_cmd = {
    "variables list",
    cmd_vars_list,
    "the variables",
    "Usage: gust variables list [--json] [--home DIR]\n"
    "\n"
    "Every variable by key: whether it is secret, its value (*** for a secret, cut at 32\n"
    "characters), its description. Secrets are never shown here: use 'variables get\n"
    "KEY --reveal'.\n"
    "\n"
    "  --json      a JSON array of variables (a secret's value is null)\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- delete ------------------------------------------------------------------------------ */

static const struct cli_cmd vars_delete_cmd;

static int cmd_vars_delete(int argc, char **argv)
{
	const char *home = NULL;
	int rc = cli_home_options(&vars_delete_cmd, argc, argv, &home, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage_error(&vars_delete_cmd, "name one key");
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	struct ops_ctx ctx = {.st = st, .now = cli_now_ms()};
	json_t *v = NULL;
	struct ops_err err = {0};
	rc = 0;
	if (ops_var_delete(&ctx, argv[optind], &v, &err) < 0)
		rc = cli_ops_failed(&err);
	else {
		cli_audit(st, "variable.delete", argv[optind]);
		printf("deleted variable '%s'\n", argv[optind]);
	}
	json_decref(v);
	store_close(st);
	return rc;
}

static const struct cli_cmd vars_delete_cmd = {
    "variables delete",
    cmd_vars_delete,
    "delete a variable",
    "Usage: gust variables delete KEY [--home DIR]\n"
    "\n"
    "Delete the variable KEY. Attempts that start afterwards and use it fail before they\n"
    "start, naming it.\n"
    "\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- group ------------------------------------------------------------------------------- */

static const struct cli_cmd *const vars_cmds[] = {&vars_set_cmd, &vars_get_cmd, &vars_list_cmd,
						  &vars_delete_cmd};

int cmd_variables(int argc, char **argv)
{
	return cli_group("variables", vars_cmds, ARRAY_SIZE(vars_cmds), argc, argv);
}
