/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tables of stormgate-dtls-baseline (bench/baseline_server/), against
 * simple models: a worker's clients by address (open addressing with
 * backward-shift deletion, growing through many sizes) and their timer heap
 * (every client popped in deadline order after random changes and
 * deletions); the credential table (CSV rows as a table of cases: headers,
 * comments, CRLF, a repeated identity, disabled rows, and bad rows refused
 * with their line). The program itself is tested with real clients by
 * test_baseline_server.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "baseline.h"
#include "tc_tmp.h"

enum { N_CLIENTS = 20000, ROUNDS = 3 };

/* A deterministic generator (xorshift64*), so a failure repeats. */
static uint64_t rng = 0x5347b1u;

static uint64_t next_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * UINT64_C(2685821657736338717);
}

/* Client i's address: IPv4 for even i, IPv6 for odd, ports that collide across addresses. */
static void client_addr(unsigned i, struct sg_bl_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = i % 2 ? AF_INET6 : AF_INET;
	a->addr[0] = 198;
	a->addr[1] = 19;
	a->addr[2] = (uint8_t)(i >> 12);
	a->addr[3] = (uint8_t)(i >> 4);
	if (i % 2)
		a->addr[15] = 7;
	a->port = (uint16_t)(10000 + i % 16);
}

static struct sg_bl_client *new_client(unsigned i)
{
	struct sg_bl_client *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	client_addr(i, &c->addr);
	c->deadline = next_rand() % 1000000;
	c->handle = i;
	return c;
}

/* Every client in, half out in random order, in again, out: found exactly when in. */
static void test_table_model(void **state)
{
	static struct sg_bl_client *in[N_CLIENTS];
	struct sg_bl_table t;
	struct sg_bl_addr a;
	unsigned i, round, n = 0;

	(void)state;
	assert_int_equal(sg_bl_table_init(&t), 0);
	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < N_CLIENTS; i++) {
			if (in[i] != NULL || next_rand() % 4 == 0)
				continue;
			in[i] = new_client(i);
			assert_int_equal(sg_bl_table_add(&t, in[i]), 0);
			n++;
		}
		for (i = 0; i < N_CLIENTS; i++) {
			unsigned k = (unsigned)(next_rand() % N_CLIENTS);

			if (in[k] == NULL || next_rand() % 2)
				continue;
			sg_bl_table_del(&t, in[k]);
			free(in[k]);
			in[k] = NULL;
			n--;
		}
		assert_int_equal(t.n, n);
		assert_int_equal(t.heap_n, n);
		for (i = 0; i < N_CLIENTS; i++) {
			client_addr(i, &a);
			assert_ptr_equal(sg_bl_table_find(&t, &a), in[i]);
		}
	}
	for (i = 0; i < N_CLIENTS; i++) {
		if (in[i] != NULL)
			sg_bl_table_del(&t, in[i]);
		free(in[i]);
		in[i] = NULL;
	}
	assert_int_equal(t.n, 0);
	assert_int_equal(t.heap_n, 0);
	sg_bl_table_free(&t);
}

/* Deadlines changed and clients deleted at random: the heap still yields them in order. */
static void test_timer_heap(void **state)
{
	static struct sg_bl_client *c[N_CLIENTS];
	struct sg_bl_client *due;
	struct sg_bl_table t;
	uint64_t last = 0;
	unsigned i, left = N_CLIENTS;

	(void)state;
	assert_int_equal(sg_bl_table_init(&t), 0);
	for (i = 0; i < N_CLIENTS; i++) {
		c[i] = new_client(i);
		assert_int_equal(sg_bl_table_add(&t, c[i]), 0);
	}
	for (i = 0; i < N_CLIENTS; i++) {
		unsigned k = (unsigned)(next_rand() % N_CLIENTS);

		if (c[k] == NULL)
			continue;
		if (next_rand() % 3 == 0) {
			sg_bl_table_del(&t, c[k]);
			free(c[k]);
			c[k] = NULL;
			left--;
		} else {
			sg_bl_table_set_deadline(&t, c[k], next_rand() % 1000000);
		}
	}
	/* nothing is due before the earliest deadline, its client is at it */
	last = sg_bl_table_next(&t);
	if (last > 0)
		assert_null(sg_bl_table_due(&t, last - 1));
	assert_non_null(sg_bl_table_due(&t, last));
	last = 0;
	for (i = 0; i < left; i++) {
		due = sg_bl_table_due(&t, UINT64_MAX);
		assert_non_null(due);
		assert_true(due->deadline >= last);
		assert_int_equal(sg_bl_table_next(&t), due->deadline);
		last = due->deadline;
		c[due->handle] = NULL;
		sg_bl_table_del(&t, due);
		free(due);
	}
	assert_null(sg_bl_table_due(&t, UINT64_MAX));
	assert_int_equal(sg_bl_table_next(&t), UINT64_MAX);
	sg_bl_table_free(&t);
}

/* One CSV case: its text, then identities looked up with the key expected (NULL: unknown). */
struct creds_case {
	const char *name, *csv;
	int rc;
	const char *id[4], *key_hex[4];
};

static const struct creds_case creds_cases[] = {
	{ "header, comment, blank and CRLF lines",
	  "identity,psk_hex\r\n# a comment\r\n\r\nurn:a,00112233\r\nurn:b,ffee\r\n",
	  0,
	  { "urn:a", "urn:b", "urn:c", "identity" },
	  { "00112233", "ffee", NULL, NULL } },
	{ "a repeated identity: its last row wins; disabled rows are left out",
	  "urn:a,0011\nurn:b,2233,0,disabled\nurn:a,4455,3600,enabled\n",
	  0,
	  { "urn:a", "urn:b" },
	  { "4455", NULL } },
	{ "longest identity and key", NULL, 0, { NULL }, { NULL } },
	{ "odd hex digits", "urn:a,001\n", -EINVAL, { NULL }, { NULL } },
	{ "not hex", "urn:a,00zz\n", -EINVAL, { NULL }, { NULL } },
	{ "no key", "urn:a\n", -EINVAL, { NULL }, { NULL } },
	{ "empty identity", ",0011\n", -EINVAL, { NULL }, { NULL } },
	{ "key longer than 64 bytes", NULL, -EINVAL, { NULL }, { NULL } },
	{ "only disabled devices", "urn:a,0011,0,disabled\n", -ENOENT, { NULL }, { NULL } },
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The two generated cases: 128-byte identity and 64-byte key, or a 65-byte key. */
static void generated_csv(const char *name, char *buf, size_t size)
{
	char id[SG_BL_IDENTITY_MAX + 1], key[2 * SG_BL_PSK_MAX + 3];
	size_t key_digits = strstr(name, "longer") ? 2 * SG_BL_PSK_MAX + 2 : 2 * SG_BL_PSK_MAX;

	memset(id, 'i', SG_BL_IDENTITY_MAX);
	id[SG_BL_IDENTITY_MAX] = '\0';
	memset(key, 'a', key_digits);
	key[key_digits] = '\0';
	snprintf(buf, size, "%s,%s\n", id, key);
}

static void check_case(const struct creds_case *k, const char *path)
{
	char text[512];
	struct sg_bl_creds c;
	const uint8_t *key;
	const char *stored;
	unsigned key_len, j, i;
	int rc;

	if (k->csv == NULL)
		generated_csv(k->name, text, sizeof(text));
	write_file(path, k->csv ? k->csv : text);
	rc = sg_bl_creds_load(path, &c);
	print_message("# %s: %d\n", k->name, rc);
	assert_int_equal(rc, k->rc);
	if (rc != 0)
		return;
	for (j = 0; j < 4 && k->id[j] != NULL; j++) {
		rc = sg_bl_creds_find(&c, k->id[j], strlen(k->id[j]), &key, &key_len, &stored);
		if (k->key_hex[j] == NULL) {
			assert_int_equal(rc, -ENOENT);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(key_len, strlen(k->key_hex[j]) / 2);
		assert_memory_equal(stored, k->id[j], strlen(k->id[j]));
		for (i = 0; i < key_len; i++) {
			unsigned v;

			assert_int_equal(sscanf(k->key_hex[j] + 2 * i, "%2x", &v), 1);
			assert_int_equal(key[i], v);
		}
	}
	if (k->id[0] == NULL) { /* the longest identity and key */
		memset(text, 'i', SG_BL_IDENTITY_MAX);
		assert_int_equal(
		        sg_bl_creds_find(&c, text, SG_BL_IDENTITY_MAX, &key, &key_len, &stored), 0);
		assert_int_equal(key_len, SG_BL_PSK_MAX);
		assert_int_equal(key[0], 0xaa);
	}
	sg_bl_creds_free(&c);
}

static void test_creds_cases(void **state)
{
	char dir[128], path[192];
	size_t i;

	(void)state;
	assert_int_equal(tc_tmpdir(dir, sizeof(dir), "baseline"), 0);
	snprintf(path, sizeof(path), "%s/devices.csv", dir);
	for (i = 0; i < sizeof(creds_cases) / sizeof(creds_cases[0]); i++)
		check_case(&creds_cases[i], path);
	assert_int_equal(tc_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_model),
		cmocka_unit_test(test_timer_heap),
		cmocka_unit_test(test_creds_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
