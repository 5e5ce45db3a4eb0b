/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormctl's requests: connect through the shared client transport
 * (sg_ctl_client.h), send one command, report the daemon's error or the
 * connection's on stderr in stormctl's words. stormctl's one thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sg_cli.h"

struct sg_ctl_client *sg_cli_connect(const struct sg_cli *cli)
{
	struct sg_ctl_client *conn = sg_ctl_client_open(cli->socket, 0);
	int e = errno;

	if (conn != NULL)
		return conn;
	if (e == ENAMETOOLONG)
		fprintf(stderr, "stormctl: socket path too long: %s\n", cli->socket);
	else
		fprintf(stderr, "stormctl: cannot connect to %s: %s%s\n", cli->socket, strerror(e),
		        e == ENOENT || e == ECONNREFUSED ? " (is stormgate running?)" : "");
	return NULL;
}

/* The daemon said no: its error on stderr, and as JSON on stdout under --json. */
static void report_error(const struct sg_cli *cli, const char *cmd, json_t *err)
{
	if (cli->json) {
		json_t *e = json_pack("{s:O}", "error", err);

		sg_cli_print_json(e);
		json_decref(e);
	}
	fprintf(stderr, "stormctl: %s: %s (%s)\n", cmd,
	        json_string_value(json_object_get(err, "message")),
	        json_string_value(json_object_get(err, "code")));
}

json_t *sg_cli_call(const struct sg_cli *cli, struct sg_ctl_client *conn, const char *cmd,
                    json_t *args, int wait_ms, json_t **err_out)
{
	json_t *req = sg_ctl_request(cmd, args), *resp, *res = NULL, *err;

	if (err_out != NULL)
		*err_out = NULL;
	if (req == NULL)
		return NULL;
	if (sg_ctl_client_call(conn, req, wait_ms, &resp) != 0) {
		fprintf(stderr, "stormctl: %s\n", sg_ctl_client_why(conn));
		json_decref(req);
		return NULL;
	}
	json_decref(req);
	err = json_object_get(resp, "error");
	res = json_object_get(resp, "result");
	if (err != NULL) {
		if (err_out != NULL)
			*err_out = json_incref(err);
		else
			report_error(cli, cmd, err);
		res = NULL;
	} else if (res == NULL) {
		fprintf(stderr, "stormctl: answer has neither result nor error\n");
	} else {
		json_incref(res);
	}
	json_decref(resp);
	return res;
}

int sg_cli_simple(const struct sg_cli *cli, const char *cmd, json_t *args,
                  void (*print)(const json_t *))
{
	struct sg_ctl_client *conn = sg_cli_connect(cli);
	json_t *r;

	if (conn == NULL) {
		json_decref(args);
		return EXIT_FAILURE;
	}
	r = sg_cli_call(cli, conn, cmd, args, cli->timeout_ms, NULL);
	sg_ctl_client_close(conn);
	if (r == NULL)
		return EXIT_FAILURE;
	if (cli->json || print == NULL)
		sg_cli_print_json(r);
	else
		print(r);
	json_decref(r);
	return EXIT_SUCCESS;
}
