/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormctl's command table: for each command its words, its --help lines,
 * the control command it sends, the handler that turns its arguments into
 * that request, and the printer of the answer; and the dispatch from argv
 * to a row. A word the table does not know is sent as is, KEY=VALUE pairs
 * as its arguments. stormctl's one thread.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <stormgate/common.h>

#include "sg_cli.h"
#include "sg_cfg_values.h"
#include "sg_metrics.h"

/* "--name VALUE" at argv[*i]: the value, advancing *i; NULL when missing. */
static const char *opt_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* KEY=VALUE words into an object of strings (the daemon parses them). */
static int kv_args(int argc, char **argv, json_t **out)
{
	json_t *args = json_object();

	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char key[128];

		if (eq == NULL || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof(key)) {
			json_decref(args);
			return sg_cli_usage_error("argument '%s' is not KEY=VALUE", argv[i]);
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		json_object_set_new(args, key, json_string(eq + 1));
	}
	*out = args;
	return 0;
}

/* The command with KEY=VALUE arguments, as they are. */
static int run_kv(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc, char **argv)
{
	json_t *args = NULL;
	int rc = kv_args(argc, argv, &args);

	return rc != 0 ? rc : sg_cli_simple(cli, cmd->request, args, cmd->print);
}

static int no_args(const struct sg_cli_cmd *cmd, int argc)
{
	if (argc == 0)
		return 0;
	return sg_cli_usage_error("%s%s%s takes no arguments", cmd->group, cmd->sub ? " " : "",
	                          cmd->sub ? cmd->sub : "");
}

static int run_plain(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc, char **argv)
{
	int rc = no_args(cmd, argc);

	(void)argv;
	return rc != 0 ? rc : sg_cli_simple(cli, cmd->request, NULL, cmd->print);
}

/* `stats` printed in the Prometheus text format, whatever --json says. */
static int run_metrics(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                       char **argv)
{
	struct sg_ctl_client *conn;
	json_t *r;
	int rc = no_args(cmd, argc);

	(void)argv;
	if (rc != 0)
		return rc;
	conn = sg_cli_connect(cli);
	if (conn == NULL)
		return EXIT_FAILURE;
	r = sg_cli_call(cli, conn, cmd->request, NULL, cli->timeout_ms, NULL);
	sg_ctl_client_close(conn);
	if (r == NULL)
		return EXIT_FAILURE;
	rc = sg_metrics_prometheus(r, stdout);
	json_decref(r);
	if (rc == 0 && fflush(stdout) != 0)
		rc = -1;
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int run_session_show(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                            char **argv)
{
	if (argc != 1)
		return sg_cli_usage_error("sessions show wants one SESSION-ID");
	return sg_cli_simple(cli, cmd->request, json_pack("{s:s}", "id", argv[0]), cmd->print);
}

static int run_session_kill(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                            char **argv)
{
	if (argc == 2 && strcmp(argv[0], "--identity") == 0)
		return sg_cli_simple(cli, cmd->request, json_pack("{s:s}", "identity", argv[1]),
		                     cmd->print);
	if (argc == 1 && argv[0][0] != '-')
		return sg_cli_simple(cli, cmd->request, json_pack("{s:s}", "id", argv[0]),
		                     cmd->print);
	return sg_cli_usage_error("sessions kill wants SESSION-ID or --identity ID");
}

/* sessions list's options: the request's arguments, the page size, --all. */
static int list_args(int argc, char **argv, json_t *args, long long *limit, int *every)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v;

		if (strcmp(a, "--all") == 0) {
			*every = 1;
			continue;
		}
		if (strcmp(a, "--identity") != 0 && strcmp(a, "--addr") != 0 &&
		    strcmp(a, "--limit") != 0 && strcmp(a, "--cursor") != 0)
			return sg_cli_usage_error("sessions list: unexpected '%s'", a);
		v = opt_value(argc, argv, &i);
		if (v == NULL)
			return sg_cli_usage_error("sessions list: %s wants a value", a);
		if (strcmp(a, "--limit") == 0 || strcmp(a, "--cursor") == 0) {
			uint64_t x;

			if (sg_uint_parse(v, &x) != 0 || x < (a[2] == 'l' ? 1u : 0u))
				return sg_cli_usage_error(
				        "sessions list: %s wants a number, got '%s'", a, v);
			if (a[2] == 'l')
				*limit = (long long)x;
			json_object_set_new(args, a + 2, json_integer((json_int_t)x));
		} else {
			json_object_set_new(args, a + 2, json_string(v));
		}
	}
	return 0;
}

/*
 * Page through sessions.list: one page, or every page with --all. Rows go
 * to all (--json) or are printed. Returns the number of rows, or -1
 * (reported). Under --json without --all, args gets "next".
 */
static long long list_pages(const struct sg_cli *cli, struct sg_ctl_client *conn, json_t *args,
                            long long limit, int every, json_t *all)
{
	long long shown = 0;
	int header = 0;

	for (;;) {
		json_t *r = sg_cli_call(cli, conn, "sessions.list", json_incref(args),
		                        cli->timeout_ms, NULL);
		json_t *rows, *next;

		if (r == NULL)
			return -1;
		rows = json_object_get(r, "sessions");
		next = json_object_get(r, "next");
		if (cli->json)
			json_array_extend(all, rows);
		else
			sg_cli_print_session_rows(rows, &header);
		shown += (long long)json_array_size(rows);
		if (!json_is_integer(next)) {
			json_decref(r);
			return shown;
		}
		/* A page that matched nothing (an --addr filter) is not an answer yet. */
		if (!every && shown > 0) {
			if (!cli->json)
				printf("(more: stormctl sessions list --cursor "
				       "%" JSON_INTEGER_FORMAT " ..., or --all)\n",
				       json_integer_value(next));
			else
				json_object_set_new(args, "next", json_incref(next));
			json_decref(r);
			return shown;
		}
		json_object_set_new(args, "cursor", json_incref(next));
		if (json_object_get(args, "limit") == NULL)
			json_object_set_new(args, "limit",
			                    json_integer(limit > 1000 ? 1000 : limit));
		json_decref(r);
	}
}

static int run_session_list(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                            char **argv)
{
	json_t *args = json_object(), *all = json_array();
	long long limit = 100, shown = -1;
	int every = 0, rc;
	struct sg_ctl_client *conn = NULL;

	(void)cmd;
	rc = list_args(argc, argv, args, &limit, &every);
	if (rc == 0)
		conn = sg_cli_connect(cli);
	if (conn != NULL)
		shown = list_pages(cli, conn, args, limit, every, all);
	if (shown >= 0 && cli->json) {
		json_t *next = json_object_get(args, "next");
		json_t *o =
		        json_pack("{s:O, s:O}", "sessions", all, "next", next ? next : json_null());
		sg_cli_print_json(o);
		json_decref(o);
	} else if (shown == 0) {
		printf("(no sessions)\n");
	}
	sg_ctl_client_close(conn);
	json_decref(args);
	json_decref(all);
	if (rc != 0)
		return rc;
	return shown >= 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int run_cred_show(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                         char **argv)
{
	if (argc != 1)
		return sg_cli_usage_error("credentials show wants one identity");
	return sg_cli_simple(cli, cmd->request, json_pack("{s:s}", "identity", argv[0]),
	                     cmd->print);
}

/* credentials add's words besides the arguments it sends. */
struct add_opts {
	const char *id, *key_file;
	int keep, replace;
};

/* One word of credentials add at argv[*i]: into args or o. 0, or the exit status. */
static int add_word(int argc, char **argv, int *i, json_t *args, struct add_opts *o)
{
	const char *a = argv[*i];

	if (strcmp(a, "--lifetime") == 0) {
		const char *v = opt_value(argc, argv, i);

		if (v == NULL)
			return sg_cli_usage_error("--lifetime wants seconds (or 12h, 7d)");
		json_object_set_new(args, "key_lifetime", json_string(v));
	} else if (strcmp(a, "--key-file") == 0) {
		o->key_file = opt_value(argc, argv, i);
		if (o->key_file == NULL)
			return sg_cli_usage_error("--key-file wants a file (or - for stdin)");
	} else if (strcmp(a, "--disabled") == 0) {
		json_object_set_new(args, "state", json_string("disabled"));
	} else if (strcmp(a, "--replace") == 0) {
		o->replace = 1;
	} else if (strcmp(a, "--keep-sessions") == 0) {
		o->keep = 1;
	} else if (o->id == NULL && a[0] != '-') {
		o->id = a;
	} else if (strcmp(a, "-") == 0 && o->key_file == NULL) {
		o->key_file = a; /* the PSK on stdin, as without it */
	} else if (a[0] != '-') {
		/* A PSK here would be in /proc/PID/cmdline, readable by every user, and in the
		 * shell's history. */
		fprintf(stderr,
		        "stormctl: credentials add: the PSK is never taken as an argument (other "
		        "users see arguments in ps and /proc);\n"
		        "give it on standard input (stormctl credentials add %s < key.hex) or "
		        "with --key-file FILE\n",
		        o->id);
		return SG_CLI_EXIT_USAGE;
	} else {
		return sg_cli_usage_error("credentials add: unexpected '%s'", a);
	}
	return 0;
}

static int run_cred_add(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                        char **argv)
{
	json_t *args = json_object();
	struct add_opts o = { 0 };
	char buf[160];
	int rc = 0;

	for (int i = 0; rc == 0 && i < argc; i++)
		rc = add_word(argc, argv, &i, args, &o);
	if (rc == 0 && o.id == NULL)
		rc = sg_cli_usage_error("credentials add wants an identity");
	if (rc == 0 && o.keep && !o.replace)
		rc = sg_cli_usage_error("credentials add: --keep-sessions goes with --replace");
	if (rc == 0 && sg_cli_read_psk(o.key_file, buf, sizeof(buf)) != 0)
		rc = SG_CLI_EXIT_USAGE;
	if (rc != 0) {
		json_decref(args);
		sg_wipe(buf, sizeof(buf));
		return rc;
	}
	if (o.replace)
		json_object_set_new(args, "replace", json_true());
	if (o.keep)
		json_object_set_new(args, "keep_sessions", json_true());
	json_object_set_new(args, "identity", json_string(o.id));
	json_object_set_new(args, "psk", json_string(buf));
	sg_wipe(buf, sizeof(buf));
	return sg_cli_simple(cli, cmd->request, args, cmd->print);
}

static int run_cred_remove(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                           char **argv)
{
	const char *id = NULL;
	int keep = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--keep-sessions") == 0)
			keep = 1;
		else if (strcmp(argv[i], "--kill-sessions") == 0)
			continue; /* the default since issue 12; accepted for older scripts */
		else if (id == NULL && argv[i][0] != '-')
			id = argv[i];
		else
			return sg_cli_usage_error("credentials remove: unexpected '%s'", argv[i]);
	}
	if (id == NULL)
		return sg_cli_usage_error("credentials remove wants an identity");
	return sg_cli_simple(cli, cmd->request,
	                     json_pack("{s:s, s:b}", "identity", id, "keep_sessions", keep),
	                     cmd->print);
}

static int run_cred_import(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                           char **argv)
{
	const char *file = NULL;
	int progress = 1;

	(void)cmd;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--no-progress") == 0)
			progress = 0;
		else if (file == NULL)
			file = argv[i];
		else
			return sg_cli_usage_error("credentials import: unexpected '%s'", argv[i]);
	}
	if (file == NULL)
		return sg_cli_usage_error("credentials import wants a CSV file (or - for stdin)");
	return sg_cli_import(cli, "psk", file, progress);
}

static int run_policy_set(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                          char **argv)
{
	if (argc == 0)
		return sg_cli_usage_error("policy set wants KEY=VALUE...");
	return run_kv(cli, cmd, argc, argv);
}

/* policy reset [KEY...]: {"keys": [...]}; none: every key set live. */
static int run_policy_reset(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                            char **argv)
{
	json_t *keys = json_array(), *args;

	for (int i = 0; keys != NULL && i < argc; i++) {
		if (argv[i][0] == '-' || strchr(argv[i], '=') != NULL) {
			json_decref(keys);
			return sg_cli_usage_error(
			        "policy reset wants policy keys, e.g. cookie_mode");
		}
		json_array_append_new(keys, json_string(argv[i]));
	}
	args = keys != NULL ? json_pack("{s:o}", "keys", keys) : NULL;
	if (args == NULL) {
		fprintf(stderr, "stormctl: out of memory\n");
		return EXIT_FAILURE;
	}
	return sg_cli_simple(cli, cmd->request, args, cmd->print);
}

/*
 * shutdown: the daemon answers once its session store has saved (it waits
 * up to 10 s for that; cmd_shutdown.c), so the answer gets that long and a
 * bit more whatever --timeout says.
 */
#define SHUTDOWN_WAIT_MS 12000

static int run_shutdown(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                        char **argv)
{
	struct sg_cli longer = *cli;
	int rc = no_args(cmd, argc);

	(void)argv;
	if (rc != 0)
		return rc;
	if (longer.timeout_ms < SHUTDOWN_WAIT_MS)
		longer.timeout_ms = SHUTDOWN_WAIT_MS;
	return sg_cli_simple(&longer, cmd->request, NULL, cmd->print);
}

/* The commands, in --help order. */
const struct sg_cli_cmd sg_cli_cmds[] = {
	{ "status", NULL,
	  "  status                     uptime, lcores, ports with link and counters, drops\n",
	  "status", run_kv, sg_cli_print_status },
	{ "ports", NULL,
	  "  ports                      port configuration: driver, MAC, queues, addresses\n",
	  "ports", run_kv, sg_cli_print_ports },
	{ "version", NULL,
	  "  version                    daemon, protocol and DPDK versions; its commands\n",
	  "version", run_kv, sg_cli_print_version },
	{ "stats", NULL,
	  "  stats                      counters: global, per worker, per drop reason,\n"
	  "                             sessions, handshakes, admission, control socket,\n"
	  "                             session store\n",
	  "stats", run_kv, sg_cli_print_stats },
	{ "metrics", NULL, "  metrics                    the same in the Prometheus text format\n",
	  "stats", run_metrics, NULL },
	{ "sessions", "count", "  sessions count\n", "sessions.count", run_plain,
	  sg_cli_print_count },
	{ "sessions", "list",
	  "  sessions list [--identity ID | --addr ADDR[:PORT]] [--limit N] [--cursor C]\n"
	  "                [--all]      N per page (default 100, at most 1000)\n",
	  "sessions.list", run_session_list, NULL },
	{ "sessions", "show", "  sessions show SESSION-ID\n", "sessions.show", run_session_show,
	  sg_cli_print_session },
	{ "sessions", "kill",
	  "  sessions kill SESSION-ID | --identity ID\n"
	  "                             end it; the device gets a close_notify and\n"
	  "                             handshakes again\n",
	  "sessions.kill", run_session_kill, sg_cli_print_killed },
	{ "credentials", "count", "  credentials count\n", "credentials.count", run_plain,
	  sg_cli_print_cred_count },
	{ "credentials", "show",
	  "  credentials show ID        policy and sessions of an identity (never its key)\n",
	  "credentials.show", run_cred_show, sg_cli_print_cred },
	{ "credentials", "add",
	  "  credentials add ID [--key-file FILE] [--lifetime SEC] [--disabled]\n"
	  "                  [--replace [--keep-sessions]]\n"
	  "                             the PSK in hex, one line, from FILE or standard\n"
	  "                             input (never an argument: /proc shows those to\n"
	  "                             every user); --replace ends the identity's\n"
	  "                             sessions unless --keep-sessions\n",
	  "credentials.add", run_cred_add, sg_cli_print_added },
	{ "credentials", "remove",
	  "  credentials remove ID [--keep-sessions]\n"
	  "                             ends the identity's sessions unless --keep-sessions\n",
	  "credentials.remove", run_cred_remove, sg_cli_print_removed },
	{ "credentials", "import",
	  "  credentials import FILE.csv|- [--no-progress]\n"
	  "                             identity,psk_hex[,key_lifetime[,state]] per line,\n"
	  "                             streamed to the daemon; all lines or none\n",
	  "credentials.import", run_cred_import, NULL },
	{ "policy", "get",
	  "  policy get                 the live policy; which keys are set live\n", "policy.get",
	  run_plain, sg_cli_print_policy },
	{ "policy", "set",
	  "  policy set KEY=VALUE...    key_lifetime=12h key_lifetime_jitter=10\n"
	  "                             cookie_mode=always cookie_threshold=500\n"
	  "                             handshake_rate=2000 rekey_grace=30s\n"
	  "                             handshake_source_share=25\n"
	  "                             suites=TLS_PSK_WITH_AES_128_CCM_8,...\n"
	  "                             kept in the session store: wins over the\n"
	  "                             config file at a restart until reset\n",
	  "policy.set", run_policy_set, sg_cli_print_policy_set },
	{ "policy", "reset",
	  "  policy reset [KEY...]      the keys set live (all without KEY) back to\n"
	  "                             the config file's values\n",
	  "policy.reset", run_policy_reset, sg_cli_print_policy_reset },
	{ "store", NULL,
	  "  store                      the session store: sessions stored, pending\n"
	  "                             writes, last commit, size, the last restore\n",
	  "store", run_plain, sg_cli_print_store },
	{ "tls", NULL,
	  "  tls [reload]               our certificate: subject, expiry, curve, signing\n"
	  "                             pool, verified-chain cache, settings; reload: cert,\n"
	  "                             key, CA and CRL again from their files (all or\n"
	  "                             nothing), then what loaded\n",
	  "tls", sg_cli_run_tls, sg_cli_print_tls },
	{ "rpk", "add",
	  "  rpk add ID KEY.pem|--spki BASE64 [--lifetime SEC] [--backend N]\n"
	  "          [--disabled] [--replace [--keep-sessions]]\n"
	  "                             a client's raw public key (EC P-256/P-384 SPKI)\n"
	  "                             names identity ID; --replace of a key that named\n"
	  "                             another identity ends that one's sessions\n",
	  "rpk.add", sg_cli_run_rpk_add, sg_cli_print_rpk_added },
	{ "rpk", "del",
	  "  rpk del ID | --spki-sha256 HEX [--keep-sessions]\n"
	  "                             every key of ID, or one key; ends the identity's\n"
	  "                             sessions unless --keep-sessions\n",
	  "rpk.remove", sg_cli_run_rpk_del, sg_cli_print_rpk_removed },
	{ "rpk", "list",
	  "  rpk list [--after HEX] [--limit N] [--all]\n"
	  "                             raw public keys by SPKI SHA-256, N per page\n",
	  "rpk.list", sg_cli_run_rpk_list, NULL },
	{ "import", "psk",
	  "  import psk FILE.csv|- [--no-progress]\n"
	  "                             as credentials import\n",
	  "credentials.import", sg_cli_run_import, NULL },
	{ "import", "rpk",
	  "  import rpk FILE|- [--no-progress]\n"
	  "                             identity,spki_base64[,backend[,key_lifetime[,state]]]\n"
	  "                             per line, or PEM public keys each after a line\n"
	  "                             '# identity: ID'; all or nothing\n",
	  "credentials.import", sg_cli_run_import, NULL },
	{ "import", "certpolicy",
	  "  import certpolicy FILE.csv|- [--no-progress]\n"
	  "                             identity[,backend[,key_lifetime[,state]]] per line:\n"
	  "                             policies of certificate identities; all or nothing\n",
	  "credentials.import", sg_cli_run_import, NULL },
	{ "shutdown", NULL,
	  "  shutdown                   stop the daemon cleanly; says how many sessions\n"
	  "                             the store saved\n",
	  "shutdown", run_shutdown, sg_cli_print_shutdown },
	{ NULL },
};

/* What a group of two-word commands says when its second word is missing or unknown. */
static const struct {
	const char *group;
	const char *wants; /* no second word */
	int says_unknown;  /* an unknown one: "unknown GROUP command 'WORD'" (0: wants) */
} groups[] = {
	{ "sessions", "sessions wants count, list, show or kill", 1 },
	{ "credentials", "credentials wants count, show, add, remove or import", 1 },
	{ "policy", "policy wants get, set KEY=VALUE... or reset [KEY...]", 0 },
	{ "rpk", "rpk wants add, del or list", 1 },
	{ "import", "import wants psk, rpk or certpolicy, then a file", 1 },
};

/* The row of a two-word command, or NULL after the group's usage error (*rc). */
static const struct sg_cli_cmd *find_sub(const char *group, const char *sub, int *rc)
{
	size_t g = 0;

	for (const struct sg_cli_cmd *c = sg_cli_cmds; sub != NULL && c->group != NULL; c++)
		if (strcmp(c->group, group) == 0 && strcmp(c->sub, sub) == 0)
			return c;
	while (strcmp(groups[g].group, group) != 0)
		g++;
	if (sub == NULL || !groups[g].says_unknown)
		*rc = sg_cli_usage_error("%s", groups[g].wants);
	else
		*rc = sg_cli_usage_error("unknown %s command '%s'", group, sub);
	return NULL;
}

int sg_cli_dispatch(const struct sg_cli *cli, int argc, char **argv)
{
	const struct sg_cli_cmd *c = sg_cli_cmds;
	int rc = 0;

	while (c->group != NULL && strcmp(c->group, argv[0]) != 0)
		c++;
	if (c->group == NULL) {
		const struct sg_cli_cmd other = { .group = argv[0], .request = argv[0] };

		return run_kv(cli, &other, argc - 1, argv + 1);
	}
	if (c->sub == NULL)
		return c->run(cli, c, argc - 1, argv + 1);
	c = find_sub(c->group, argc > 1 ? argv[1] : NULL, &rc);
	if (c == NULL)
		return rc;
	return c->run(cli, c, argc - 2, argv + 2);
}
