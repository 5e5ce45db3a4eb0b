/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormctl's certificates and raw public keys (docs/control.md, "tls"):
 * `tls` and `tls reload` (the daemon's tls and tls.reload), `rpk add|del|
 * list` (rpk.add, rpk.remove, rpk.list; a key file is read here, its PEM
 * body sent in base64: the daemon checks the key with OpenSSL), `import
 * psk|rpk|certpolicy FILE` (the streamed import of cli_import.c), and their
 * printers. stormctl's one thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sg_cfg_values.h"
#include "sg_cli.h"

#define SPKI_B64_MAX                                                                               \
	1024 /* an EC P-384 SPKI (120 B) is 160 base64 characters; an RSA                          \
	       key's is sent too, for the daemon to name what it is */

int sg_cli_run_tls(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc, char **argv)
{
	if (argc == 0)
		return sg_cli_simple(cli, cmd->request, NULL, cmd->print);
	if (argc == 1 && strcmp(argv[0], "reload") == 0)
		return sg_cli_simple(cli, "tls.reload", NULL, cmd->print);
	return sg_cli_usage_error("tls takes nothing, or reload; got '%s'", argv[0]);
}

int sg_cli_pem_pubkey(const char *file, char *out, size_t len)
{
	static const char begin[] = "-----BEGIN PUBLIC KEY-----",
	                  fin[] = "-----END PUBLIC KEY-----";
	FILE *f = fopen(file, "re");
	char line[256];
	size_t n = 0;
	int state = 0; /* 0: before the block, 1: in it, 2: done */

	if (f == NULL) {
		fprintf(stderr, "stormctl: %s: %s\n", file, strerror(errno));
		return -1;
	}
	while (state < 2 && fgets(line, sizeof(line), f) != NULL) {
		size_t l = strcspn(line, "\r\n");

		line[l] = '\0';
		if (state == 0) {
			state = strcmp(line, begin) == 0;
		} else if (strcmp(line, fin) == 0) {
			state = 2;
		} else if (n + l + 1 > len) {
			break;
		} else {
			memcpy(out + n, line, l);
			n += l;
		}
	}
	fclose(f);
	out[n] = '\0';
	if (state != 2 || n == 0) {
		fprintf(stderr,
		        "stormctl: %s: no '%s' block (a PEM public key, e.g. openssl pkey "
		        "-pubout)\n",
		        file, begin);
		return -1;
	}
	return 0;
}

/* "--lifetime SEC": the config's durations; 0 or SG_CLI_EXIT_USAGE. */
static int lifetime_opt(const char *v, json_t *args)
{
	uint64_t secs;

	if (v == NULL || sg_duration_parse(v, &secs) != 0)
		return sg_cli_usage_error("--lifetime wants seconds or 15m, 24h, 7d");
	json_object_set_new(args, "key_lifetime", json_integer((json_int_t)secs));
	return 0;
}

int sg_cli_run_rpk_add(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                       char **argv)
{
	json_t *args = json_object();
	const char *id = NULL, *keyfile = NULL, *spki = NULL;
	char b64[SPKI_B64_MAX + 1];
	int rc = 0;

	for (int i = 0; rc == 0 && i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--spki") == 0 && v != NULL) {
			spki = v;
			i++;
		} else if (strcmp(a, "--lifetime") == 0) {
			rc = lifetime_opt(v, args);
			i++;
		} else if (strcmp(a, "--backend") == 0 && v != NULL && v[0] >= '0' && v[0] <= '9') {
			json_object_set_new(args, "backend",
			                    json_integer((json_int_t)strtoull(v, NULL, 10)));
			i++;
		} else if (strcmp(a, "--disabled") == 0) {
			json_object_set_new(args, "state", json_string("disabled"));
		} else if (strcmp(a, "--replace") == 0) {
			json_object_set_new(args, "replace", json_true());
		} else if (strcmp(a, "--keep-sessions") == 0) {
			json_object_set_new(args, "keep_sessions", json_true());
		} else if (a[0] != '-' && id == NULL) {
			id = a;
		} else if (a[0] != '-' && keyfile == NULL) {
			keyfile = a;
		} else {
			rc = sg_cli_usage_error("rpk add: unexpected '%s'", a);
		}
	}
	if (rc == 0 && (id == NULL || (keyfile == NULL) == (spki == NULL)))
		rc = sg_cli_usage_error("rpk add wants an identity and a key: KEY.pem or --spki "
		                        "BASE64");
	if (rc == 0 && keyfile != NULL) {
		if (sg_cli_pem_pubkey(keyfile, b64, sizeof(b64)) != 0)
			rc = EXIT_FAILURE;
		spki = b64;
	}
	if (rc != 0) {
		json_decref(args);
		return rc;
	}
	json_object_set_new(args, "identity", json_string(id));
	json_object_set_new(args, "spki", json_string(spki));
	return sg_cli_simple(cli, cmd->request, args, cmd->print);
}

int sg_cli_run_rpk_del(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                       char **argv)
{
	json_t *args = json_object();
	int have = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--keep-sessions") == 0) {
			json_object_set_new(args, "keep_sessions", json_true());
		} else if (strcmp(argv[i], "--spki-sha256") == 0 && i + 1 < argc && !have) {
			json_object_set_new(args, "spki_sha256", json_string(argv[++i]));
			have = 1;
		} else if (argv[i][0] != '-' && !have) {
			json_object_set_new(args, "identity", json_string(argv[i]));
			have = 1;
		} else {
			json_decref(args);
			return sg_cli_usage_error("rpk del: unexpected '%s'", argv[i]);
		}
	}
	if (!have) {
		json_decref(args);
		return sg_cli_usage_error("rpk del wants an identity or --spki-sha256 HEX");
	}
	return sg_cli_simple(cli, cmd->request, args, cmd->print);
}

static void rpk_rows(const json_t *keys, int *header)
{
	size_t i;
	const json_t *k;

	json_array_foreach(keys, i, k)
	{
		if (!*header) {
			printf("%-64s  %-8s  %10s  %7s  %s\n", "SPKI SHA-256", "STATE", "LIFETIME",
			       "BACKEND", "IDENTITY");
			*header = 1;
		}
		printf("%-64s  %-8s  %10" JSON_INTEGER_FORMAT "  %7" JSON_INTEGER_FORMAT "  %s\n",
		       gets_(k, "spki_sha256"), gets_(k, "state"), geti(k, "key_lifetime"),
		       geti(k, "backend"), gets_(k, "identity"));
	}
}

int sg_cli_run_rpk_list(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                        char **argv)
{
	struct sg_ctl_client *conn;
	json_t *all = json_array();
	json_int_t count = 0;
	const char *after = NULL;
	char cursor[80];
	long limit = 100;
	int every = 0, header = 0, rc = EXIT_SUCCESS;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--after") == 0 && i + 1 < argc) {
			after = argv[++i];
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			limit = strtol(argv[++i], NULL, 10);
			if (limit < 1 || limit > 1000) {
				json_decref(all);
				return sg_cli_usage_error("--limit wants 1..1000");
			}
		} else if (strcmp(argv[i], "--all") == 0) {
			every = 1;
		} else {
			json_decref(all);
			return sg_cli_usage_error("rpk list: unexpected '%s'", argv[i]);
		}
	}
	conn = sg_cli_connect(cli);
	if (conn == NULL) {
		json_decref(all);
		return EXIT_FAILURE;
	}
	for (;;) {
		json_t *args = json_pack("{s:I}", "limit", (json_int_t)limit), *r, *next;

		if (after != NULL)
			json_object_set_new(args, "after", json_string(after));
		r = sg_cli_call(cli, conn, cmd->request, args, cli->timeout_ms, NULL);
		if (r == NULL) {
			rc = EXIT_FAILURE;
			break;
		}
		count = geti(r, "count");
		if (cli->json)
			json_array_extend(all, json_object_get(r, "keys"));
		else
			rpk_rows(json_object_get(r, "keys"), &header);
		next = json_object_get(r, "next");
		if (!every || !json_is_string(next)) {
			if (!cli->json && json_is_string(next))
				printf("more: rpk list --after %s\n", json_string_value(next));
			else if (!cli->json && !header)
				printf("no raw public keys\n");
			json_decref(r);
			break;
		}
		/* the next page starts after the last hash of this one */
		snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		after = cursor;
		json_decref(r);
	}
	if (rc == EXIT_SUCCESS && cli->json) {
		json_t *o = json_pack("{s:O, s:I}", "keys", all, "count", count);
		sg_cli_print_json(o);
		json_decref(o);
	}
	json_decref(all);
	sg_ctl_client_close(conn);
	return rc;
}

int sg_cli_run_import(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc, char **argv)
{
	const char *file = NULL;
	int progress = 1;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--no-progress") == 0)
			progress = 0;
		else if (file == NULL)
			file = argv[i];
		else
			return sg_cli_usage_error("import %s: unexpected '%s'", cmd->sub, argv[i]);
	}
	if (file == NULL)
		return sg_cli_usage_error("import %s wants a file (or - for stdin)", cmd->sub);
	return sg_cli_import(cli, cmd->sub, file, progress);
}

/* "2027-03-01 12:00:00 UTC (in 84 days)" of a Unix time. */
static void expiry(json_int_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t, now = time(NULL);
	struct tm tm;
	char when[32];
	long long days = ((long long)t - (long long)now) / 86400;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (t < now)
		snprintf(buf, len, "%s (EXPIRED)", when);
	else
		snprintf(buf, len, "%s (in %lld days)", when, days);
}

void sg_cli_print_tls(const json_t *r)
{
	const json_t *c = json_object_get(r, "config"), *st = json_object_get(r, "store");
	char exp[80];

	if (!json_is_true(json_object_get(r, "enabled"))) {
		printf("tls: off (no tls.cert or tls.rpk_key): the ECDHE-ECDSA suites are not "
		       "offered\n");
		return;
	}
	expiry(geti(r, "not_after"), exp, sizeof(exp));
	printf("subject        %s\n", json_string_length(json_object_get(r, "subject"))
	                                      ? gets_(r, "subject")
	                                      : "(raw public key only)");
	printf("expires        %s\n", exp);
	printf("curve          %s\n", gets_(r, "curve"));
	printf("generation     %" JSON_INTEGER_FORMAT " (reloads %" JSON_INTEGER_FORMAT
	       ", failed %" JSON_INTEGER_FORMAT ")\n",
	       geti(r, "generation"), geti(r, "reloads"), geti(r, "reload_failed"));
	printf("signing pool   %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
	       " nonces ready, %" JSON_INTEGER_FORMAT " precomputed\n",
	       geti(r, "pool_ready"), geti(r, "pool_size"), geti(r, "pool_refilled"));
	printf("verify cache   %" JSON_INTEGER_FORMAT " chains, %" JSON_INTEGER_FORMAT
	       " hits, %" JSON_INTEGER_FORMAT " misses\n",
	       geti(r, "cache_entries"), geti(r, "cache_hits"), geti(r, "cache_misses"));
	if (c != NULL) {
		printf("files          cert %s, key %s, rpk_key %s, ca %s, crl %s\n",
		       gets_(c, "cert"), gets_(c, "key"), gets_(c, "rpk_key"), gets_(c, "ca"),
		       gets_(c, "crl"));
		printf("clients        auth %s, identity from %s, raw public keys %s, policy %s\n",
		       gets_(c, "client_auth"), gets_(c, "cert_identity"),
		       json_is_true(json_object_get(c, "rpk")) ? "on" : "off",
		       json_is_true(json_object_get(c, "require_policy")) ? "required"
		                                                          : "optional");
	}
	if (st != NULL)
		printf("store          %" JSON_INTEGER_FORMAT
		       " raw public keys, %" JSON_INTEGER_FORMAT " certificate policies\n",
		       geti(st, "raw_public_keys"), geti(st, "cert_policies"));
}

void sg_cli_print_rpk_added(const json_t *r)
{
	printf("%s raw public key %s for '%s'\n",
	       json_is_true(json_object_get(r, "replaced")) ? "replaced" : "added",
	       gets_(r, "spki_sha256"), gets_(r, "identity"));
	if (json_object_get(r, "sessions_killed") != NULL)
		printf("sessions of its former identity: %" JSON_INTEGER_FORMAT
		       " ended, %" JSON_INTEGER_FORMAT " left%s\n",
		       geti(r, "sessions_killed"), geti(r, "sessions_left"),
		       json_is_true(json_object_get(r, "sessions_kept")) ? " (kept)" : "");
}

void sg_cli_print_rpk_removed(const json_t *r)
{
	printf("removed %" JSON_INTEGER_FORMAT
	       " raw public key(s) of '%s'; sessions: %" JSON_INTEGER_FORMAT
	       " ended, %" JSON_INTEGER_FORMAT " left%s\n",
	       geti(r, "removed"), gets_(r, "identity"), geti(r, "sessions_killed"),
	       geti(r, "sessions_left"),
	       json_is_true(json_object_get(r, "sessions_kept")) ? " (kept)" : "");
}
