/*
 * cmd_conns.c - `gust connections set | get | list | delete`: the connections in the store at
 * $GUST_HOME (docs/variables.md). Written straight into the store, as variables are
 * (cmd_vars.c says why); every URI is encrypted there.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/core.h"
#include "auth/secretbox.h"
#include "base/util.h"
#include "cli/cli.h"
#include "ops/vars.h"

/* ---- set --------------------------------------------------------------------------------- */

static const struct cli_cmd conns_set_cmd;

static int cmd_conns_set(int argc, char **argv)
{
	const char *home = NULL, *description = NULL, *extra_text = NULL;
	bool from_stdin = false;
	static const struct option opts[] = {
	    {"extra", required_argument, NULL, 'x'},
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
		case 'x':
			extra_text = optarg;
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
			return cli_help(&conns_set_cmd);
		default:
			return cli_usage_error(&conns_set_cmd, "bad option");
		}
	}
	if (argc - optind != (from_stdin ? 1 : 2))
		return cli_usage_error(&conns_set_cmd,
				       from_stdin ? "name the connection (the URI comes from stdin)"
						  : "name a connection and its URI (or --stdin)");
	const char *name = argv[optind];
	if (!ops_var_key_valid(name))
		return cli_usage_error(&conns_set_cmd,
				       "bad name '%s': use letters, digits and '_', not starting "
				       "with a digit",
				       name);
	json_t *extra = NULL;
	if (extra_text) {
		json_error_t je;
		extra = json_loads(extra_text, 0, &je);
		if (!json_is_object(extra)) {
			json_decref(extra);
			return cli_usage_error(&conns_set_cmd,
					       "--extra must be a JSON object, such as "
					       "'{\"sslmode\": \"require\"}'");
		}
	}
	char *uri = NULL;
	if (from_stdin && cli_read_stdin_value(&uri) < 0) {
		json_decref(extra);
		return 1;
	}
	home = cli_home(home);
	struct store *st = NULL;
	struct auth_key *k = NULL;
	int rc = 1;
	if (cli_vars_open(home, &st, &k) < 0)
		goto out;
	char *who = cli_vars_who();
	struct ops_ctx ctx = {.st = st, .now = cli_now_ms()};
	struct ops_conn_set_req rq = {.name = name,
				      .uri = uri ? uri : argv[optind + 1],
				      .extra = extra,
				      .description = description,
				      .who = who};
	json_t *ans = NULL;
	struct ops_err err = {0};
	if (ops_conn_set(&ctx, k, &rq, &ans, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else {
		rc = 0;
		cli_audit(st, "connection.set", name);
		json_t *cn = json_object_get(ans, "connection");
		printf("%s connection '%s': %s\n",
		       json_is_true(json_object_get(ans, "created")) ? "created" : "updated", name,
		       json_string_value(json_object_get(cn, "uri")));
		json_decref(ans);
	}
	free(who);
out:
	if (uri)
		auth_wipe_free(uri, strlen(uri));
	json_decref(extra);
	auth_key_free(k);
	if (st)
		store_close(st);
	return rc;
}

static const struct cli_cmd conns_set_cmd = {
    "connections set",
    cmd_conns_set,
    "create or change a connection",
    "Usage: gust connections set NAME URI [--extra JSON] [--description TEXT] [--home DIR]\n"
    "       gust connections set NAME --stdin [--extra JSON] ...\n"
    "\n"
    "Set the connection NAME to URI, SCHEME://LOGIN:PASSWORD@HOST:PORT/SCHEMA?KEY=VALUE\n"
    "(parts percent-encoded), e.g. postgresql://etl:s3cret@db.internal:5432/catalog.\n"
    "Templates read ${{ conn.NAME.host }}, .port, .login, .password, .schema, .scheme,\n"
    ".uri and .extra.KEY. The URI is encrypted in the store ($GUST_HOME/secret.key);\n"
    "the password and the URI are masked as *** in the logs of the tasks that use it.\n"
    "\n"
    "  --extra JSON        a JSON object of extra settings (the URI's ?KEY=VALUE pairs\n"
    "                      are extra too; these win)\n"
    "  --stdin             read the URI from stdin, keeping the password out of the\n"
    "                      shell's history\n"
    "  --description TEXT  a description (\"\" clears it)\n"
    "  --home DIR          state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- get --------------------------------------------------------------------------------- */

static const struct cli_cmd conns_get_cmd;

static void print_field(json_t *cn, const char *f)
{
	json_t *v = json_object_get(cn, f);
	if (json_is_null(v) || !v)
		return;
	if (json_is_string(v)) {
		printf("%-9s %s\n", f, json_string_value(v));
	} else {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
		printf("%-9s %s\n", f, t ? t : "");
		free(t);
	}
}

static int cmd_conns_get(int argc, char **argv)
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
			return cli_help(&conns_get_cmd);
		default:
			return cli_usage_error(&conns_get_cmd, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&conns_get_cmd, "name one connection");
	home = cli_home(home);
	struct store *st = NULL;
	struct auth_key *k = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	store_close(st);
	if (cli_vars_open(home, &st, &k) < 0)
		return 1;
	struct ops_ctx ctx = {.st = st, .now = cli_now_ms()};
	json_t *cn = NULL;
	struct ops_err err = {0};
	int rc = 0;
	if (ops_conn_get(&ctx, k, argv[optind], reveal, &cn, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else if (json) {
		cli_print_json(cn);
	} else {
		static const char *const fields[] = {"uri",    "scheme", "host",
						     "port",   "login",	 "password",
						     "schema", "extra",	 "description"};
		for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
			print_field(cn, fields[i]);
	}
	json_decref(cn);
	auth_key_free(k);
	store_close(st);
	return rc;
}

static const struct cli_cmd conns_get_cmd = {
    "connections get",
    cmd_conns_get,
    "show a connection",
    "Usage: gust connections get NAME [--reveal] [--json] [--home DIR]\n"
    "\n"
    "Show the connection NAME: its URI and parts. The password shows as *** (in the URI\n"
    "too) unless --reveal is given.\n"
    "\n"
    "  --reveal    show the password\n"
    "  --json      as JSON (name, uri, scheme, host, port, login, password, schema,\n"
    "              extra, description, updated_at, updated_by)\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- list -------------------------------------------------------------------------------- */

static const struct cli_cmd conns_list_cmd;

static int cmd_conns_list(int argc, char **argv)
{
	const char *home = NULL;
	bool json = false;
	int rc = cli_home_options(&conns_list_cmd, argc, argv, &home, &json);
	if (rc >= 0)
		return rc;
	if (argc != optind)
		return cli_usage_error(&conns_list_cmd, "no operands expected");
	home = cli_home(home);
	struct store *st = NULL;
	struct auth_key *k = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	store_close(st);
	if (cli_vars_open(home, &st, &k) < 0)
		return 1;
	struct ops_ctx ctx = {.st = st, .now = cli_now_ms()};
	json_t *a = NULL;
	struct ops_err err = {0};
	rc = 0;
	if (ops_conn_list(&ctx, k, false, &a, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else if (json) {
		cli_print_json(a);
	} else if (json_array_size(a) == 0) {
		printf("no connections (set one with 'gust connections set NAME URI')\n");
	} else {
		printf("%-24s %s\n", "NAME", "URI");
		size_t i;
		json_t *cn;
		json_array_foreach(a, i, cn)
		    printf("%-24s %s\n", json_string_value(json_object_get(cn, "name")),
			   json_string_value(json_object_get(cn, "uri")));
	}
	json_decref(a);
	auth_key_free(k);
	store_close(st);
	return rc;
}

static const struct cli_cmd conns_list_cmd = {
    "connections list",
    cmd_conns_list,
    "the connections",
    "Usage: gust connections list [--json] [--home DIR]\n"
    "\n"
    "Every connection by name with its URI, the password shown as ***.\n"
    "\n"
    "  --json      a JSON array of connections (passwords as ***)\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- delete ------------------------------------------------------------------------------ */

static const struct cli_cmd conns_delete_cmd;

static int cmd_conns_delete(int argc, char **argv)
{
	const char *home = NULL;
	int rc = cli_home_options(&conns_delete_cmd, argc, argv, &home, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage_error(&conns_delete_cmd, "name one connection");
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	struct ops_ctx ctx = {.st = st, .now = cli_now_ms()};
	json_t *v = NULL;
	struct ops_err err = {0};
	rc = 0;
	if (ops_conn_delete(&ctx, NULL, argv[optind], &v, &err) < 0)
		rc = cli_ops_failed(&err);
	else {
		cli_audit(st, "connection.delete", argv[optind]);
		printf("deleted connection '%s'\n", argv[optind]);
	}
	json_decref(v);
	store_close(st);
	return rc;
}

static const struct cli_cmd conns_delete_cmd = {
    "connections delete",
    cmd_conns_delete,
    "delete a connection",
    "Usage: gust connections delete NAME [--home DIR]\n"
    "\n"
    "Delete the connection NAME. Attempts that start afterwards and use it fail before\n"
    "they start, naming it.\n"
    "\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- group ------------------------------------------------------------------------------- */

static const struct cli_cmd *const conns_cmds[] = {&conns_set_cmd, &conns_get_cmd, &conns_list_cmd,
						   &conns_delete_cmd};

int cmd_connections(int argc, char **argv)
{
	return cli_group("connections", conns_cmds, ARRAY_SIZE(conns_cmds), argc, argv);
}
