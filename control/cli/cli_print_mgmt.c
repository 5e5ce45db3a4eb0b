/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormctl's readable output of the management commands: sessions,
 * credentials, policy. stormctl's one thread.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "sg_cli.h"

static void identity_str(const json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_object(v))
		snprintf(buf, len, "hex:%s", gets_(v, "hex"));
	else
		snprintf(buf, len, "-");
}

void sg_cli_print_session_rows(const json_t *rows, int *header_done)
{
	if (!*header_done && json_array_size(rows) > 0) {
		*header_done = 1;
		printf("%-16s  %-28s %-32s %-4s %-40s %6s %5s %10s %10s\n", "SESSION", "PEER",
		       "IDENTITY", "AUTH", "SUITE", "WORKER", "EPOCH", "TX SEQ", "EXPIRES");
	}
	for (size_t i = 0; i < json_array_size(rows); i++) {
		const json_t *s = json_array_get(rows, i);
		char ident[300];

		identity_str(json_object_get(s, "identity"), ident, sizeof(ident));
		printf("%-16s  %-28s %-32s %-4s %-40s %6" JSON_INTEGER_FORMAT
		       " %5" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %9" JSON_INTEGER_FORMAT "s\n",
		       gets_(s, "id"), gets_(s, "peer"), ident, gets_(s, "auth"), gets_(s, "suite"),
		       geti(s, "worker"), geti(s, "epoch"), geti(s, "tx_seq"),
		       geti(s, "expires_in_s"));
	}
}

void sg_cli_print_session(const json_t *s)
{
	const char *key;
	json_t *v;
	char ident[300];

	json_object_foreach((json_t *)s, key, v)
	{
		if (strcmp(key, "identity") == 0) {
			identity_str(v, ident, sizeof(ident));
			printf("%-16s %s\n", key, ident);
		} else if (json_is_string(v)) {
			printf("%-16s %s\n", key, json_string_value(v));
		} else if (json_is_boolean(v)) {
			printf("%-16s %s\n", key, json_is_true(v) ? "yes" : "no");
		} else if (json_is_integer(v)) {
			printf("%-16s %" JSON_INTEGER_FORMAT "\n", key, json_integer_value(v));
		}
	}
}

/* The keys set live over the config file (they win over it at a restart until reset). */
static void print_overridden(const json_t *ov)
{
	const char *key;
	json_t *v;

	if (json_object_size(ov) == 0) {
		printf("set live      none: the config file's policy\n");
		return;
	}
	printf("set live      (over the config file, kept across restarts; `policy reset` "
	       "undoes)\n");
	json_object_foreach((json_t *)ov, key, v)
	{
		printf("  %s=%s\n", key, json_string_value(v));
	}
}

void sg_cli_print_policy(const json_t *p)
{
	const json_t *suites = json_object_get(p, "suites");

	printf("key_lifetime         %" JSON_INTEGER_FORMAT " s\n", geti(p, "key_lifetime"));
	printf("key_lifetime_jitter  %" JSON_INTEGER_FORMAT " %%\n",
	       geti(p, "key_lifetime_jitter"));
	printf("cookie_mode          %s\n", gets_(p, "cookie_mode"));
	printf("cookie_threshold     %" JSON_INTEGER_FORMAT " (of %" JSON_INTEGER_FORMAT
	       " handshake slots)\n",
	       geti(p, "cookie_threshold"), geti(p, "max_handshakes"));
	printf("handshake_rate       %" JSON_INTEGER_FORMAT "%s\n", geti(p, "handshake_rate"),
	       geti(p, "handshake_rate") ? " /s" : " (unlimited)");
	printf("handshake_source_share %" JSON_INTEGER_FORMAT " %% per /%" JSON_INTEGER_FORMAT
	       " (IPv4) or /%" JSON_INTEGER_FORMAT " (IPv6)\n",
	       geti(p, "handshake_source_share"), geti(p, "handshake_source_prefix4"),
	       geti(p, "handshake_source_prefix6"));
	printf("rekey_grace          %" JSON_INTEGER_FORMAT " s\n", geti(p, "rekey_grace"));
	if (geti(p, "idle_timeout"))
		printf("idle_timeout         %" JSON_INTEGER_FORMAT " s\n",
		       geti(p, "idle_timeout"));
	else
		printf("idle_timeout         never\n");
	if (geti(p, "auth_failure_limit"))
		printf("auth_failure_limit   %" JSON_INTEGER_FORMAT
		       " forgeries a key, at most RFC 9147's (start-up only)\n",
		       geti(p, "auth_failure_limit"));
	else
		printf("auth_failure_limit   RFC 9147 (CCM_8 128, CCM 2^23.5, GCM/ChaCha 2^36;"
		       " start-up only)\n");
	printf("suites\n");
	for (size_t i = 0; i < json_array_size(suites); i++)
		printf("  %zu. %s\n", i + 1, json_string_value(json_array_get(suites, i)));
	print_overridden(json_object_get(p, "overridden"));
}

void sg_cli_print_killed(const json_t *r)
{
	printf("killed %" JSON_INTEGER_FORMAT
	       " session(s); close_notify sent to %" JSON_INTEGER_FORMAT "%s\n",
	       geti(r, "killed"), geti(r, "alerts_sent"),
	       json_is_true(json_object_get(r, "more")) ? "; more are left: run it again" : "");
}

void sg_cli_print_count(const json_t *r)
{
	printf("%" JSON_INTEGER_FORMAT " session(s) of %" JSON_INTEGER_FORMAT
	       ", %" JSON_INTEGER_FORMAT " identities\n",
	       geti(r, "sessions"), geti(r, "capacity"), geti(r, "identities"));
}

/* What became of the identity's sessions after a replace or remove. */
static void print_sessions_after(const json_t *r)
{
	if (geti(r, "sessions_killed") > 0)
		printf("; %" JSON_INTEGER_FORMAT " session(s) ended (close_notify)",
		       geti(r, "sessions_killed"));
	if (geti(r, "sessions_left") > 0)
		printf("; %" JSON_INTEGER_FORMAT " session(s) of it %s", geti(r, "sessions_left"),
		       json_is_true(json_object_get(r, "sessions_kept"))
		               ? "kept (--keep-sessions): they run until their key lifetime ends"
		               : "still live, being ended in the background");
	printf("\n");
}

void sg_cli_print_added(const json_t *r)
{
	printf("%s", json_is_true(json_object_get(r, "replaced")) ? "replaced" : "added");
	print_sessions_after(r);
}

void sg_cli_print_removed(const json_t *r)
{
	printf("removed");
	print_sessions_after(r);
}

void sg_cli_print_cred_count(const json_t *r)
{
	printf("%" JSON_INTEGER_FORMAT " identities in %s%s\n", geti(r, "count"), gets_(r, "db"),
	       json_is_true(json_object_get(r, "import_running")) ? " (an import is running)" : "");
}

void sg_cli_print_cred(const json_t *r)
{
	char ident[300];

	identity_str(json_object_get(r, "identity"), ident, sizeof(ident));
	printf("identity      %s\nstate         %s\npsk           %" JSON_INTEGER_FORMAT
	       " bytes (never shown)\n",
	       ident, gets_(r, "state"), geti(r, "psk_len"));
	if (geti(r, "key_lifetime"))
		printf("key lifetime  %" JSON_INTEGER_FORMAT " s\n", geti(r, "key_lifetime"));
	else
		printf("key lifetime  the policy's (%" JSON_INTEGER_FORMAT " s)\n",
		       geti(r, "effective_key_lifetime"));
	printf("sessions      %" JSON_INTEGER_FORMAT "\n", geti(r, "sessions"));
}

/* "changed: a b (kept across restarts)", then the policy. */
static void print_change(const json_t *r, const char *what, const char *member)
{
	const json_t *ch = json_object_get(r, member);

	printf("%s:", what);
	for (size_t i = 0; i < json_array_size(ch); i++)
		printf(" %s", json_string_value(json_array_get(ch, i)));
	if (json_array_size(ch) == 0)
		printf(" nothing was set live");
	printf(" (%s)\n\n", json_is_true(json_object_get(r, "persisted"))
	                            ? "stored: holds across restarts"
	                            : "not stored: holds until the daemon stops");
	sg_cli_print_policy(r);
}

void sg_cli_print_policy_set(const json_t *r)
{
	print_change(r, "changed", "changed");
}

void sg_cli_print_policy_reset(const json_t *r)
{
	print_change(r, "reset to the config file", "reset");
}
