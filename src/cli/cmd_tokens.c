/*
 * cmd_tokens.c - `gust tokens create | list | revoke` (API tokens) and `gust audit` (the audit
 * log), on the store at $GUST_HOME through ops/identity.h (docs/users.md).
 *
 * As `gust users`, these write the store directly, whether a server runs or not, acting as the
 * machine's operator (an admin, audited as "local:UNIXNAME"). `tokens create` prints the token
 * on stdout, alone on its line, and nothing else there, so that `TOKEN=$(gust tokens create
 * ...)` captures it; the store keeps only its hash, so it can never be shown again.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/util.h"
#include "cli/cli.h"
#include "ops/identity.h"
#include "ops/shape.h"

static const struct ops_actor local = {.user = NULL, .via = "cli"};

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : dflt;
}

/* ---- create ----------------------------------------------------------------------------- */

static const struct cli_cmd tokens_create_cmd;

static int cmd_tokens_create(int argc, char **argv)
{
	const char *home = NULL, *user = NULL, *label = NULL, *expires = NULL;
	static const struct option opts[] = {
	    {"user", required_argument, NULL, 'u'},    {"name", required_argument, NULL, 'n'},
	    {"expires", required_argument, NULL, 'e'}, {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},	       {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			user = optarg;
			break;
		case 'n':
			label = optarg;
			break;
		case 'e':
			expires = optarg;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&tokens_create_cmd);
		default:
			return cli_usage_error(&tokens_create_cmd, "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error(&tokens_create_cmd, "unexpected argument '%s'",
				       argv[optind]);
	if (!user || !label)
		return cli_usage_error(&tokens_create_cmd,
				       "give the token's user and name: --user NAME --name LABEL");
	int64_t now = cli_now_ms(), expires_at = 0, life = 0;
	if (expires && strcmp(expires, "never") != 0) {
		const char *why = NULL;
		if (duration_parse(expires, &life, &why) < 0 || life <= 0)
			return cli_usage_error(&tokens_create_cmd,
					       "bad --expires '%s': %s (e.g. 90d, 12h, or never)",
					       expires, why ? why : "it must be longer than 0");
		expires_at = now + life;
	}
	struct store *st = NULL;
	if (cli_store_open(cli_home(home), false, &st) < 0)
		return 1;
	struct ops_token_new tok;
	struct ops_err err = {0};
	int rc = 0;
	if (ops_token_create(st, now, &local, user, label, expires_at, &tok, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else {
		printf("%s\n", tok.text);
		fflush(stdout);
		fprintf(stderr,
			"gust: created token %lld '%s' for user '%s' (%s), expires %s; it is shown "
			"this once\n",
			(long long)tok.id, label, user, str_or(tok.token, "display", "?"),
			str_or(tok.token, "expires_at", "never"));
		ops_token_new_wipe(&tok);
	}
	store_close(st);
	return rc;
}

static const struct cli_cmd tokens_create_cmd = {
    "tokens create",
    cmd_tokens_create,
    "create an API token (printed once)",
    "Usage: gust tokens create --user NAME --name LABEL [--expires DURATION] [--home DIR]\n"
    "\n"
    "Create an API token that carries the rights of user NAME, and print it on stdout,\n"
    "alone on its line: it is shown this once (the store keeps only its hash). Send it as\n"
    "'Authorization: Bearer TOKEN'. Tokens start with gust_ so that secret scanners\n"
    "recognise a leaked one; revoke it with 'gust tokens revoke ID'.\n"
    "\n"
    "  --user NAME         whose rights the token carries\n"
    "  --name LABEL        what it is for (1 to 100 characters), shown in 'tokens list'\n"
    "  --expires DURATION  its lifetime (90d, 12h, 1w...; default never)\n"
    "  --home DIR          state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- list ------------------------------------------------------------------------------- */

static const struct cli_cmd tokens_list_cmd;

static int cmd_tokens_list(int argc, char **argv)
{
	const char *home = NULL, *user = NULL;
	bool json = false;
	static const struct option opts[] = {
	    {"user", required_argument, NULL, 'u'},
	    {"json", no_argument, NULL, 'J'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			user = optarg;
			break;
		case 'J':
			json = true;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&tokens_list_cmd);
		default:
			return cli_usage_error(&tokens_list_cmd, "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error(&tokens_list_cmd, "unexpected argument '%s'", argv[optind]);
	struct store *st = NULL;
	if (cli_store_open(cli_home(home), false, &st) < 0)
		return 1;
	json_t *arr = NULL;
	struct ops_err err = {0};
	int rc = 0;
	if (ops_token_list(st, &local, user, &arr, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else if (json) {
		cli_print_json(arr);
	} else {
		int64_t now = cli_now_ms();
		printf("%-5s %-20s %-12s %-13s %-20s %-20s %-20s %s\n", "ID", "NAME", "USER",
		       "TOKEN", "CREATED", "EXPIRES", "LAST USED", "STATE");
		size_t i;
		json_t *t;
		json_array_foreach(arr, i, t)
		{
			int64_t exp = 0;
			const char *state = "active";
			if (!json_is_null(json_object_get(t, "revoked_at")))
				state = "revoked";
			else if (ops_time_parse(json_object_get(t, "expires_at"), &exp) == 0 &&
				 exp <= now)
				state = "expired";
			char created[40], expiry[40] = "never", used[40];
			if (!json_is_null(json_object_get(t, "expires_at")))
				cli_fmt_json_time(json_object_get(t, "expires_at"), expiry,
						  sizeof(expiry));
			printf("%-5lld %-20.40s %-12s %-13s %-20s %-20s %-20s %s\n",
			       (long long)json_integer_value(json_object_get(t, "id")),
			       str_or(t, "name", ""), str_or(t, "user", ""),
			       str_or(t, "display", ""),
			       cli_fmt_json_time(json_object_get(t, "created_at"), created,
						 sizeof(created)),
			       expiry,
			       cli_fmt_json_time(json_object_get(t, "last_used_at"), used,
						 sizeof(used)),
			       state);
		}
	}
	json_decref(arr);
	store_close(st);
	return rc;
}

static const struct cli_cmd tokens_list_cmd = {
    "tokens list",
    cmd_tokens_list,
    "list the API tokens",
    "Usage: gust tokens list [--user NAME] [--json] [--home DIR]\n"
    "\n"
    "List the tokens by id: their name, user, display form (gust_ and 8 characters, to\n"
    "tell them apart; never the token), when each was created, expires and was last used\n"
    "(to the minute), and whether it is active, expired or revoked.\n"
    "\n"
    "  --user NAME  only the tokens of NAME\n"
    "  --json       a JSON array: id, name, user, display, created_by, created_at,\n"
    "               expires_at, last_used_at, revoked_at\n"
    "  --home DIR   state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- revoke ----------------------------------------------------------------------------- */

static const struct cli_cmd tokens_revoke_cmd;

static int cmd_tokens_revoke(int argc, char **argv)
{
	const char *home;
	int rc0 = cli_home_options(&tokens_revoke_cmd, argc, argv, &home, NULL);
	if (rc0 >= 0)
		return rc0;
	if (argc - optind != 1)
		return cli_usage_error(&tokens_revoke_cmd, "name exactly one token id");
	long id;
	if (!cli_parse_int(argv[optind], 1, LONG_MAX, &id))
		return cli_usage_error(&tokens_revoke_cmd,
				       "ID must be a token's number (see 'gust tokens list'), got "
				       "'%s'",
				       argv[optind]);
	struct store *st = NULL;
	if (cli_store_open(cli_home(home), false, &st) < 0)
		return 1;
	struct ops_err err = {0};
	int rc = 0;
	if (ops_token_revoke(st, cli_now_ms(), &local, id, &err) < 0)
		rc = cli_ops_failed(&err);
	else
		printf("revoked token %ld\n", id);
	store_close(st);
	return rc;
}

static const struct cli_cmd tokens_revoke_cmd = {
    "tokens revoke",
    cmd_tokens_revoke,
    "revoke an API token",
    "Usage: gust tokens revoke ID [--home DIR]\n"
    "\n"
    "Revoke token ID (from 'gust tokens list'): it is refused from its next request on. It\n"
    "stays listed, as revoked.\n"
    "\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- group ------------------------------------------------------------------------------ */

static const struct cli_cmd *const tokens_cmds[] = {&tokens_create_cmd, &tokens_list_cmd,
						    &tokens_revoke_cmd};

int cmd_tokens(int argc, char **argv)
{
	return cli_group("tokens", tokens_cmds, ARRAY_SIZE(tokens_cmds), argc, argv);
}

/* ---- audit ------------------------------------------------------------------------------ */

static const struct cli_cmd audit_cmd;

static int cmd_audit_show(int argc, char **argv)
{
	const char *home = NULL;
	struct ops_audit_query q = {.limit = 50};
	bool json = false;
	static const struct option opts[] = {
	    {"limit", required_argument, NULL, 'l'}, {"before", required_argument, NULL, 'b'},
	    {"actor", required_argument, NULL, 'a'}, {"action", required_argument, NULL, 'A'},
	    {"json", no_argument, NULL, 'J'},	     {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},	     {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	long v;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (!cli_parse_int(optarg, 1, OPS_AUDIT_LIMIT_MAX, &v))
				return cli_usage_error(&audit_cmd,
						       "--limit must be from 1 to %d, got '%s'",
						       OPS_AUDIT_LIMIT_MAX, optarg);
			q.limit = (size_t)v;
			break;
		case 'b':
			if (!cli_parse_int(optarg, 1, LONG_MAX, &v))
				return cli_usage_error(
				    &audit_cmd, "--before must be an entry id, got '%s'", optarg);
			q.before_id = v;
			break;
		case 'a':
			q.actor = optarg;
			break;
		case 'A':
			q.action = optarg;
			break;
		case 'J':
			json = true;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&audit_cmd);
		default:
			return cli_usage_error(&audit_cmd, "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error(&audit_cmd, "unexpected argument '%s'", argv[optind]);
	struct store *st = NULL;
	if (cli_store_open(cli_home(home), false, &st) < 0)
		return 1;
	struct ops_audit_page page = {0};
	struct ops_err err = {0};
	int rc = 0;
	if (ops_audit_list(st, &local, &q, &page, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else if (json) {
		cli_print_json(page.entries);
	} else {
		printf("%-6s %-20s %-16s %-6s %-15s %-16s %-16s %s\n", "ID", "TIME", "ACTOR", "VIA",
		       "FROM", "ACTION", "TARGET", "DETAIL");
		size_t i;
		json_t *e;
		json_array_foreach(page.entries, i, e)
		{
			json_t *d = json_object_get(e, "detail");
			char *detail = json_object_size(d) ? json_dumps(d, JSON_COMPACT) : NULL;
			char at[40];
			printf("%-6lld %-20s %-16s %-6s %-15s %-16s %-16s %s\n",
			       (long long)json_integer_value(json_object_get(e, "id")),
			       cli_fmt_json_time(json_object_get(e, "at"), at, sizeof(at)),
			       str_or(e, "actor", "-"), str_or(e, "via", "-"),
			       str_or(e, "remote_addr", "-"), str_or(e, "action", "-"),
			       str_or(e, "target", "-"), detail ? detail : "");
			free(detail);
		}
		if (page.next)
			fprintf(stderr, "gust: older entries: 'gust audit --before %lld'\n",
				(long long)page.next);
	}
	ops_audit_page_free(&page);
	store_close(st);
	return rc;
}

static const struct cli_cmd audit_cmd = {
    "audit",
    cmd_audit_show,
    "the audit log",
    "Usage: gust audit [--limit N] [--before ID] [--actor NAME] [--action ACTION] [--json]\n"
    "                  [--home DIR]\n"
    "\n"
    "The audit log, newest first: every change to users and tokens, every login (and\n"
    "failed login) and logout, with who did it (a user, or local:UNIXNAME for the\n"
    "command line on this machine), through what (cli, api, server), from which address,\n"
    "and to what. Passwords and tokens never appear in it.\n"
    "\n"
    "  --limit N        at most N entries (default 50, at most 1000)\n"
    "  --before ID      the entries older than entry ID (the next page)\n"
    "  --actor NAME     only what NAME did\n"
    "  --action ACTION  only this action (user.add, token.create, login.failed, ...)\n"
    "  --json           a JSON array: id, at, actor, via, remote_addr, action, target,\n"
    "                   detail\n"
    "  --home DIR       state folder (default $GUST_HOME, else ./.gust)\n",
};

int cmd_audit(int argc, char **argv)
{
	return cmd_audit_show(argc, argv);
}
