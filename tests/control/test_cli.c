/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormctl's reader of control.socket (control/cli/cli_config.c): a table
 * of config files, each with the socket path it must yield, none (the
 * daemon's default applies), or the error (line:column and message) that
 * sends the operator to --socket. The YAML forms the key may be written in
 * are read; every form it may hide in otherwise is refused, never guessed.
 * And the reader of a PEM public key `rpk add` sends (cli_tls.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sg_cli.h"

static const struct {
	const char *yaml;
	const char *socket; /* expected path; NULL: none set, or an error */
	const char *error;  /* expected ":LINE:COL: message" substring; NULL: no error */
} cases[] = {
	/* the sample's form, with neighbours and comments */
	{ "log:\n  level: info\ncontrol:\n  socket: /run/a.sock\n  mode: 0660\nports: []\n",
	  "/run/a.sock", NULL },
	{ "# stormgate\n%YAML 1.2\n---\ncontrol:   # the socket\n\n    # four spaces\n"
	  "    group: \"\"\n    socket: /run/b.sock   # comment\n...\n",
	  "/run/b.sock", NULL },
	{ "control:\r\n  socket: /run/crlf.sock\r\n", "/run/crlf.sock", NULL },
	{ "control:\n  socket: \"/run/q\\\"uo\\\\te.sock\" # x\n", "/run/q\"uo\\te.sock", NULL },
	{ "control:\n  socket: '/run/it''s.sock'\n", "/run/it's.sock", NULL },
	{ "control:\n  socket: /run/hash#in.sock\n", "/run/hash#in.sock", NULL },
	{ "control: {socket: /run/flow.sock, mode: 0660}\n", "/run/flow.sock", NULL },
	{ "control: { mode: 0660 , socket: \"/run/f,low.sock\" }  # x\n", "/run/f,low.sock", NULL },
	/* socket under another key, or nested deeper, is not control.socket */
	{ "credentials:\n  socket: /run/not.sock\ncontrol:\n  mode: 0660\n", NULL, NULL },
	{ "control:\n  limits:\n    socket: /run/not.sock\n  mode: 0660\n", NULL, NULL },
	{ "ports:\n  - name: dev0\n    socket: /run/not.sock\n", NULL, NULL },
	{ "", NULL, NULL },
	{ "control:\n", NULL, NULL },
	{ "control: {}\n", NULL, NULL },
	/* the daemon's checks of the value */
	{ "control:\n  socket: relative.sock\n", NULL,
	  ":2:11: 'control.socket' must be an absolute path, got 'relative.sock'" },
	{ "control:\n  socket:\n", NULL, ":2:10: 'control.socket' must not be empty" },
	{ "control:\n  socket: \"/a\\tb\"\n", NULL, "contains control characters" },
	{ "control:\n  socket: "
	  "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n",
	  NULL, "'control.socket' is too long (117 bytes, at most 107)" },
	/* where the reader would have to guess: refused */
	{ "control:\n  socket: /a.sock\n  socket: /b.sock\n", NULL,
	  ":3:11: a second 'socket' in 'control'" },
	{ "control:\n  mode: 0660\ncontrol:\n  socket: /a.sock\n", NULL,
	  ":3:1: a second 'control' key" },
	{ "control:\n  socket: /run/long\n    continued.sock\n", NULL,
	  ":3:5: the value of 'socket' goes on over this line" },
	{ "control:\n  socket: \"/run/open\n", NULL, ":2:11: the quoted value goes on" },
	{ "control:\n  socket: &a /run/x.sock\n", NULL, ":2:11: stormctl reads a plain or quoted" },
	{ "control:\n  socket: *a\n", NULL, "not '*...'" },
	{ "control:\n  socket: !!str /x.sock\n", NULL, "not '!...'" },
	{ "control:\n  socket: |\n    /x.sock\n", NULL, "not '|...'" },
	{ "control:\n  socket: \"/x\\u0041\"\n", NULL, ":2:14: escape '\\u'" },
	{ "control:\n\tsocket: /x.sock\n", NULL, ":2:1: a tab in the indentation" },
	{ "control:\n    mode: 0660\n  socket: /x.sock\n", NULL,
	  ":3:3: indented unlike the keys of 'control'" },
	{ "control:\n  socket /x.sock\n", NULL, ":2:3: not a 'key: value' line" },
	{ "{control: {socket: /x.sock}}\n", NULL, "not '{...'" },
	{ "- control\n", NULL, ":1:1: not a 'key: value' line" },
	{ "control: /x.sock\n", NULL, ":1:10: 'control' must be a mapping" },
	{ "control: {socket: /x.sock,\n  mode: 0660}\n", NULL, "goes on over the next line" },
	{ "control: {socket: /x.sock} trailing\n", NULL, "text after the mapping" },
	{ "control:\n  socket: \"/x.sock\" trailing\n", NULL, ":2:20: text after the value" },
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_reader_table(void **state)
{
	char dir[] = "/tmp/sg-cli-XXXXXX", path[64], out[109], why[512];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc, ok;

		write_file(path, cases[i].yaml);
		strcpy(out, "unset");
		why[0] = '\0';
		rc = sg_cli_config_socket(path, out, sizeof(out), why, sizeof(why));
		if (cases[i].error != NULL)
			ok = rc == -EINVAL && strstr(why, cases[i].error) != NULL &&
			     strncmp(why, path, strlen(path)) == 0;
		else if (cases[i].socket != NULL)
			ok = rc == 1 && strcmp(out, cases[i].socket) == 0;
		else
			ok = rc == 0 && strcmp(out, "unset") == 0;
		if (!ok) {
			print_message("case %zu: rc %d out '%s' why '%s'\n", i, rc, out, why);
			fail();
		}
	}
	unlink(path);

	/* A file that is not there: the errno, and the daemon's words for it. */
	assert_int_equal(sg_cli_config_socket(path, out, sizeof(out), why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, ": cannot open: No such file or directory"));
	rmdir(dir);
}

/* The --socket / $STORMGATE_SOCKET / --config / default order. */
static void test_socket_path_order(void **state)
{
	char dir[] = "/tmp/sg-cli-XXXXXX", cfg[64], out[109];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg), "%s/c.yaml", dir);
	write_file(cfg, "control:\n  socket: /run/from-config.sock\n");

	setenv("STORMGATE_SOCKET", "/run/from-env.sock", 1);
	assert_int_equal(sg_cli_socket_path("/run/opt.sock", cfg, out, sizeof(out)), 0);
	assert_string_equal(out, "/run/opt.sock");
	assert_int_equal(sg_cli_socket_path(NULL, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/run/from-env.sock");
	/* --config given: the file wins over the environment. */
	assert_int_equal(sg_cli_socket_path(NULL, cfg, out, sizeof(out)), 0);
	assert_string_equal(out, "/run/from-config.sock");
	setenv("STORMGATE_SOCKET", "", 1);
	write_file(cfg, "log:\n  level: debug\n");
	assert_int_equal(sg_cli_socket_path(NULL, cfg, out, sizeof(out)), 0);
	assert_string_equal(out, SG_CLI_DEFAULT_SOCKET);
	unsetenv("STORMGATE_SOCKET");
	unlink(cfg);
	assert_int_equal(sg_cli_socket_path(NULL, cfg, out, sizeof(out)), -ENOENT);
	rmdir(dir);
}

/* `rpk add ID KEY.pem`: the base64 body of the first public key block, or why not. */
static void test_pem_pubkey(void **state)
{
	static const struct {
		const char *text;
		const char *body; /* NULL: refused */
	} rows[] = {
		{ "-----BEGIN PUBLIC KEY-----\nMFkw\nEwYH\n-----END PUBLIC KEY-----\n",
		  "MFkwEwYH" },
		/* CRLF, text around it, a second block ignored */
		{ "key of dev 1\r\n-----BEGIN PUBLIC KEY-----\r\nAAAA\r\n-----END PUBLIC "
		  "KEY-----\r\n"
		  "-----BEGIN PUBLIC KEY-----\nBBBB\n-----END PUBLIC KEY-----\n",
		  "AAAA" },
		/* a private key, a certificate, an unterminated or empty block */
		{ "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", NULL },
		{ "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", NULL },
		{ "-----BEGIN PUBLIC KEY-----\nAAAA\n", NULL },
		{ "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n", NULL },
		{ "", NULL },
	};
	char path[] = "/tmp/sg-cli-pem-XXXXXX", out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int fd = mkstemp(path);
		FILE *f;

		assert_true(fd >= 0);
		f = fdopen(fd, "w");
		assert_non_null(f);
		fputs(rows[i].text, f);
		fclose(f);
		print_message("# row %zu\n", i);
		if (rows[i].body != NULL) {
			assert_int_equal(sg_cli_pem_pubkey(path, out, sizeof(out)), 0);
			assert_string_equal(out, rows[i].body);
		} else {
			assert_int_equal(sg_cli_pem_pubkey(path, out, sizeof(out)), -1);
		}
		unlink(path);
		memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	}
	/* a body longer than the buffer: refused, not cut */
	{
		int fd = mkstemp(path);
		FILE *f = fdopen(fd, "w");

		fputs("-----BEGIN PUBLIC KEY-----\n", f);
		for (int k = 0; k < 4; k++)
			fputs("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", f);
		fputs("-----END PUBLIC KEY-----\n", f);
		fclose(f);
		assert_int_equal(sg_cli_pem_pubkey(path, out, sizeof(out)), -1);
		unlink(path);
	}
	assert_int_equal(sg_cli_pem_pubkey("/nonexistent/key.pem", out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_table),
		cmocka_unit_test(test_socket_path_order),
		cmocka_unit_test(test_pem_pubkey),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
