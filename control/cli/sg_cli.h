/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormctl's pieces (the sg_cli library; stormctl.c is its main): the
 * command table and its handlers (cli_cmds.c), requests over the control
 * socket (cli_call.c), readable printers (cli_print.c, cli_print_mgmt.c,
 * cli_print_store.c, cli_print_hs.c),
 * the streamed credential import (cli_import.c), certificates and raw
 * public keys (cli_tls.c), the PSK prompt
 * (cli_psk.c) and where the socket is (cli_config.c). One process, one
 * thread; no DPDK, no YAML library (docs/control.md, "stormctl").
 */
#ifndef STORMGATE_CONTROL_SG_CLI_H
#define STORMGATE_CONTROL_SG_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sg_ctl_client.h"

#define SG_CLI_EXIT_USAGE     2
#define SG_CLI_DEFAULT_SOCKET "/run/stormgate/control.sock"

/* What the options chose, for every handler. */
struct sg_cli {
	const char *socket; /* control socket path */
	int json;           /* --json: print results as JSON */
	int timeout_ms;     /* --timeout: wait for each answer */
};

struct sg_cli_cmd;

/*
 * A handler: check the arguments that follow the command's words (argc,
 * argv: those words only), talk to the daemon, print. Returns stormctl's
 * exit status: 0, 1 (unreachable or failed), SG_CLI_EXIT_USAGE (message
 * printed).
 */
typedef int sg_cli_handler(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                           char **argv);

/* One row of the command table (cli_cmds.c). */
struct sg_cli_cmd {
	const char *group;   /* first word ("sessions"); NULL ends the table */
	const char *sub;     /* second word ("list"), NULL: the command is one word */
	const char *help;    /* its lines of --help: synopsis and what it does */
	const char *request; /* the control command sent ("sessions.list") */
	sg_cli_handler *run;
	void (*print)(const json_t *result); /* readable output; NULL: JSON */
};

/* The table, in --help order; the row after the last has group NULL. */
extern const struct sg_cli_cmd sg_cli_cmds[];

/*
 * Run the command of argv[0..argc) (words and arguments after the
 * options): its row's handler, or for a word the table does not know,
 * that command sent as is with KEY=VALUE arguments. Returns the exit status.
 */
int sg_cli_dispatch(const struct sg_cli *cli, int argc, char **argv);

/* "stormctl: <message> (stormctl --help)" on stderr; returns SG_CLI_EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int sg_cli_usage_error(const char *fmt, ...);

/* --- requests (cli_call.c) --- */

/* Connect to cli->socket; NULL after printing why. */
struct sg_ctl_client *sg_cli_connect(const struct sg_cli *cli);

/*
 * One command on conn: its result (a new reference), or NULL after
 * printing why (the daemon's error, or the connection's). Takes args
 * (NULL: none). *err_out, when not NULL, gets the daemon's error object (a
 * new reference) instead of it being printed.
 */
json_t *sg_cli_call(const struct sg_cli *cli, struct sg_ctl_client *conn, const char *cmd,
                    json_t *args, int wait_ms, json_t **err_out);

/* One request on a fresh connection, its result printed by print (or as JSON). Takes args. */
int sg_cli_simple(const struct sg_cli *cli, const char *cmd, json_t *args,
                  void (*print)(const json_t *));

/* --- printers (cli_print.c, cli_print_mgmt.c, cli_print_store.c, cli_print_hs.c) --- */

/* Members of a result, read leniently: 0 or "-" when missing (an older daemon). */
static inline json_int_t geti(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static inline double getd(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_real(v) ? json_real_value(v) : (double)json_integer_value(v);
}

static inline const char *gets_(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

void sg_cli_print_json(const json_t *v); /* indented, on stdout */

void sg_cli_print_status(const json_t *r);
void sg_cli_print_ports(const json_t *r);
void sg_cli_print_version(const json_t *r);
void sg_cli_print_stats(const json_t *r);
void sg_cli_print_shutdown(const json_t *r);
void sg_cli_print_session_rows(const json_t *rows, int *header_done);
void sg_cli_print_session(const json_t *s);
void sg_cli_print_killed(const json_t *r);
void sg_cli_print_count(const json_t *r);
void sg_cli_print_cred_count(const json_t *r);
void sg_cli_print_cred(const json_t *r);
void sg_cli_print_added(const json_t *r);
void sg_cli_print_removed(const json_t *r);
void sg_cli_print_policy(const json_t *r);
void sg_cli_print_policy_set(const json_t *r);
void sg_cli_print_policy_reset(const json_t *r);
void sg_cli_print_store(const json_t *r);
void sg_cli_print_store_line(const json_t *store); /* `stats`'s STORE line */
/* cli_print_hs.c: `stats`'s HANDSHAKE PLANE block, from its handshake_plane member */
void sg_cli_print_hsplane(const json_t *hp);
/* "hs <in_flight>/<limit>" of `status`'s handshakes member into buf */
void sg_cli_hs_status(const json_t *hs, char *buf, size_t len);

/* --- the rest --- */

/*
 * Stream the file (or "-": standard input) to the daemon's
 * credentials.import as entries of kind ("psk", "rpk" or "certpolicy"),
 * progress on stderr when show_progress. Returns the exit status.
 * cli_import.c.
 */
int sg_cli_import(const struct sg_cli *cli, const char *kind, const char *file, int show_progress);

/*
 * cli_tls.c: `tls` and `tls reload`, `rpk add|del|list`, `import
 * psk|rpk|certpolicy` (handlers of the table's rows) and their printers.
 */
int sg_cli_run_tls(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc, char **argv);
int sg_cli_run_rpk_add(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                       char **argv);
int sg_cli_run_rpk_del(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                       char **argv);
int sg_cli_run_rpk_list(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                        char **argv);
int sg_cli_run_import(const struct sg_cli *cli, const struct sg_cli_cmd *cmd, int argc,
                      char **argv);
void sg_cli_print_tls(const json_t *r);
void sg_cli_print_rpk_added(const json_t *r);
void sg_cli_print_rpk_removed(const json_t *r);
/*
 * The base64 body of the first "BEGIN PUBLIC KEY" block of a PEM file into
 * out (len bytes, NUL-terminated). Returns 0, or -1 after printing why.
 */
int sg_cli_pem_pubkey(const char *file, char *out, size_t len);

/*
 * The PSK: the first line of file (hex), or typed (echo off) or piped on
 * standard input when file is NULL or "-". Returns 0 or -1 (message
 * printed); buf is the caller's to wipe. cli_psk.c.
 */
int sg_cli_read_psk(const char *file, char *buf, size_t len);

/*
 * control.socket of the stormgate config at path, read by a small line
 * reader of the YAML subset that key is written in (cli_config.c says
 * which, docs/control.md why). Returns 1 with out set, 0 when the file
 * sets no control.socket (out untouched: the daemon's default applies), or
 * -errno with why ("FILE:LINE:COL: message", or "FILE: cannot open: ...").
 */
int sg_cli_config_socket(const char *path, char *out, size_t len, char *why, size_t why_len);

/*
 * The socket path: --socket, else $STORMGATE_SOCKET (without --config),
 * else control.socket of --config or of the installed config when it
 * exists, else SG_CLI_DEFAULT_SOCKET. Returns 0, or -errno after printing
 * why. cli_config.c.
 */
int sg_cli_socket_path(const char *opt_socket, const char *opt_config, char *out, size_t len);

#endif /* STORMGATE_CONTROL_SG_CLI_H */
