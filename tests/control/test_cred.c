/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credential store: put/get/delete/count, identity and PSK limits, the
 * wiping contract, and CSV import: a good file, then a table of bad files
 * that must each fail at the right line and leave the store exactly as it
 * was (atomic import); the same fed in pieces of every size (the control
 * socket streams imports), readers during an import, abort, and the field
 * checks the control socket's `credentials add` shares with the CSV; a
 * reader of many lookups in one transaction.
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
#include <sys/stat.h>

#include <cmocka.h>

#include "sg_cred.h"
#include "tc_tmp.h"

struct fixture {
	char dir[64];
	char db[96];
	struct sg_cred *cs;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tc_tmpdir(f->dir, sizeof(f->dir), "cred") != 0)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/db", f->dir);
	f->cs = sg_cred_open(f->db, 16u << 20, SG_CRED_CREATE);
	if (f->cs == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sg_cred_close(f->cs);
	assert_int_equal(tc_rmtree(f->dir), 0);
	free(f);
	return 0;
}

static struct sg_cred_entry entry(uint8_t fill, uint32_t len, uint32_t lifetime, uint32_t flags)
{
	struct sg_cred_entry e;

	memset(&e, 0, sizeof(e));
	memset(e.psk, fill, len);
	e.psk_len = len;
	e.key_lifetime = lifetime;
	e.flags = flags;
	return e;
}

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static uint64_t count(struct sg_cred *cs)
{
	uint64_t n = UINT64_MAX;

	assert_int_equal(sg_cred_count(cs, &n), 0);
	return n;
}

/* Put e under identity id: the store then holds n entries and gives e back for id. */
static void put_then_get(struct sg_cred *cs, const char *id, const struct sg_cred_entry *e,
                         uint64_t n)
{
	struct sg_cred_entry out;

	assert_int_equal(sg_cred_put(cs, id, strlen(id), e), 0);
	assert_int_equal(count(cs), n);
	assert_int_equal(sg_cred_get(cs, id, strlen(id), &out), 0);
	assert_int_equal(out.psk_len, e->psk_len);
	assert_memory_equal(out.psk, e->psk, e->psk_len);
	assert_int_equal(out.key_lifetime, e->key_lifetime);
	assert_int_equal(out.flags, e->flags);
	sg_cred_entry_wipe(&out);
}

static void test_put_get_delete(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_entry e = entry(0x5a, 16, 3600, SG_CRED_F_DISABLED), out;

	assert_int_equal(count(f->cs), 0);
	put_then_get(f->cs, "dev-1", &e, 1);
	/* Replace keeps one entry and returns the new value. */
	e = entry(0x33, 64, 0, 0);
	put_then_get(f->cs, "dev-1", &e, 1);

	/* Identities are bytes: a prefix is another identity. */
	assert_int_equal(sg_cred_get(f->cs, "dev-", 4, &out), -ENOENT);
	assert_int_equal(sg_cred_delete(f->cs, "dev-1", 5), 0);
	assert_int_equal(sg_cred_delete(f->cs, "dev-1", 5), -ENOENT);
	assert_int_equal(count(f->cs), 0);
	sg_cred_entry_wipe(&out);
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_entry e = entry(1, 16, 0, 0), out;
	char id[SG_CRED_IDENTITY_MAX + 1];
	static const struct {
		uint32_t psk_len, lifetime, flags;
		int rc;
	} rows[] = {
		{ 1, 0, 0, 0 },
		{ SG_CRED_PSK_MAX, 0, 0, 0 },
		{ 0, 0, 0, -EINVAL },
		{ SG_CRED_PSK_MAX + 1, 0, 0, -EINVAL },
		{ 16, SG_CRED_LIFETIME_MIN, 0, 0 },
		{ 16, SG_CRED_LIFETIME_MIN - 1, 0, -EINVAL },
		{ 16, SG_CRED_LIFETIME_MAX, 0, 0 },
		{ 16, SG_CRED_LIFETIME_MAX + 1, 0, -EINVAL },
		{ 16, 0, 0x8000, -EINVAL },
	};

	memset(id, 'x', sizeof(id));
	assert_int_equal(sg_cred_put(f->cs, id, 0, &e), -EINVAL);
	assert_int_equal(sg_cred_put(f->cs, id, SG_CRED_IDENTITY_MAX, &e), 0);
	assert_int_equal(sg_cred_put(f->cs, id, SG_CRED_IDENTITY_MAX + 1, &e), -EINVAL);
	assert_int_equal(sg_cred_get(f->cs, id, SG_CRED_IDENTITY_MAX, &out), 0);
	assert_int_equal(sg_cred_get(f->cs, id, SG_CRED_IDENTITY_MAX + 1, &out), -EINVAL);
	assert_int_equal(sg_cred_delete(f->cs, id, SG_CRED_IDENTITY_MAX + 1), -EINVAL);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		e = entry(2, rows[i].psk_len, rows[i].lifetime, rows[i].flags);
		if (sg_cred_put(f->cs, "lim", 3, &e) != rows[i].rc) {
			print_message("row %zu: want %d\n", i, rows[i].rc);
			fail();
		}
	}
	sg_cred_entry_wipe(&out);
}

/* On every failure path the caller's entry holds no key material. */
static void test_wipe(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_entry e = entry(0xab, 32, 0, 0), out;

	memset(&out, 0xee, sizeof(out));
	assert_int_equal(sg_cred_get(f->cs, "nobody", 6, &out), -ENOENT);
	assert_true(all_zero(&out, sizeof(out)));
	memset(&out, 0xee, sizeof(out));
	assert_int_equal(sg_cred_get(f->cs, "", 0, &out), -EINVAL);
	assert_true(all_zero(&out, sizeof(out)));

	assert_int_equal(sg_cred_put(f->cs, "w", 1, &e), 0);
	assert_int_equal(sg_cred_get(f->cs, "w", 1, &out), 0);
	assert_false(all_zero(out.psk, out.psk_len));
	sg_cred_entry_wipe(&out);
	assert_true(all_zero(&out, sizeof(out)));
	sg_cred_entry_wipe(&e);
	assert_true(all_zero(&e, sizeof(e)));
}

static void test_persistence_and_rdonly(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_entry e = entry(7, 20, 0, 0), out;

	assert_int_equal(sg_cred_put(f->cs, "keep", 4, &e), 0);
	sg_cred_close(f->cs);
	struct sg_cred *ro = sg_cred_open(f->db, 16u << 20, SG_CRED_RDONLY);
	assert_non_null(ro);
	assert_int_equal(sg_cred_get(ro, "keep", 4, &out), 0);
	assert_memory_equal(out.psk, e.psk, 20);
	assert_int_equal(sg_cred_put(ro, "new", 3, &e), -EROFS);
	assert_int_equal(sg_cred_delete(ro, "keep", 4), -EROFS);
	FILE *in = fmemopen((void *)"a,00\n", 5, "r");
	struct sg_cred_import_report rep;
	assert_int_equal(sg_cred_import_csv(ro, in, &rep), -EROFS);
	fclose(in);
	sg_cred_close(ro);
	sg_cred_entry_wipe(&out);

	/* The database files are the daemon's alone: they hold keys. */
	char p[160];
	struct stat st;
	snprintf(p, sizeof(p), "%s/data.mdb", f->db);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);

	assert_null(sg_cred_open("/nonexistent/dir/db", 1u << 20, 0));
	assert_int_equal(errno, ENOENT);
	f->cs = sg_cred_open(f->db, 16u << 20, 0);
	assert_non_null(f->cs);
}

static int import_str(struct sg_cred *cs, const char *csv, struct sg_cred_import_report *rep)
{
	FILE *in = fmemopen((void *)csv, strlen(csv), "r");
	int rc;

	assert_non_null(in);
	rc = sg_cred_import_csv(cs, in, rep);
	fclose(in);
	return rc;
}

/* Five identities, a comment and a blank line; CRLF on one line, no newline after the last,
 * spaces inside its identity. */
static const char good_csv[] = "identity,psk_hex,key_lifetime,state\n"
                               "# a comment\n"
                               "\n"
                               "urn:dev:ops:32473-1,000102030405060708090a0b0c0d0e0f\n"
                               "urn:dev:ops:32473-2,FFEEDDCCBBAA99887766554433221100,3600\r\n"
                               "urn:dev:ops:32473-3,0102,,disabled\n"
                               "urn:dev:ops:32473-4,abcd,0,enabled\n"
                               "lwm2m ep 5,01";

static void test_import_good(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_import_report rep;
	struct sg_cred_entry out;

	assert_int_equal(import_str(f->cs, good_csv, &rep), 0);
	assert_int_equal(rep.lines, 8);
	assert_int_equal(rep.imported, 5);
	assert_int_equal(rep.bad_line, 0);
	assert_int_equal(count(f->cs), 5);

	assert_int_equal(sg_cred_get(f->cs, "urn:dev:ops:32473-1", 19, &out), 0);
	assert_int_equal(out.psk_len, 16);
	assert_int_equal(out.psk[15], 0x0f);
	assert_int_equal(sg_cred_get(f->cs, "urn:dev:ops:32473-2", 19, &out), 0);
	assert_int_equal(out.psk[0], 0xff);
	assert_int_equal(out.key_lifetime, 3600);
	assert_int_equal(sg_cred_get(f->cs, "urn:dev:ops:32473-3", 19, &out), 0);
	assert_int_equal(out.flags, SG_CRED_F_DISABLED);
	assert_int_equal(out.psk_len, 2);
	assert_int_equal(sg_cred_get(f->cs, "urn:dev:ops:32473-4", 19, &out), 0);
	assert_int_equal(out.flags, 0);
	assert_int_equal(sg_cred_get(f->cs, "lwm2m ep 5", 10, &out), 0);
	assert_int_equal(out.psk[0], 1);
	sg_cred_entry_wipe(&out);
}

static const struct {
	const char *name;
	const char *csv;
	uint64_t bad_line;
	const char *message; /* substring */
} bad_csv[] = {
	{ "odd hex", "a,0102\nb,010\n", 2, "even number" },
	{ "non-hex", "a,0102\nb,01zz\n", 2, "non-hex character at digit 3" },
	{ "missing psk", "a\n", 1, "missing psk_hex" },
	{ "empty psk", "a,\n", 1, "2..128 hex digits" },
	{ "psk too long",
	  "a,"
	  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00\n",
	  1, "2..128 hex digits" },
	{ "empty identity", ",0102\n", 1, "empty identity" },
	{ "identity too long",
	  "x0123456789012345678901234567890123456789012345678901234567890123456789012345678901234"
	  "567890123456789012345678901234567890123456789,00\n",
	  1, "at most 128" },
	{ "quote in identity", "\"a\",00\n", 1, "'\"'" },
	{ "control character", "a\tb,00\n", 1, "control character" },
	{ "bad lifetime", "a,00,5\n", 1, "key_lifetime" },
	{ "lifetime not a number", "a,00,1h\n", 1, "key_lifetime" },
	{ "bad state", "a,00,0,maybe\n", 1, "state" },
	{ "too many fields", "a,00,0,enabled,x\n", 1, "too many fields" },
	{ "header not first", "a,00\nidentity,psk_hex\n", 2, "psk_hex" },
	{ "bad line after many good", "a,01\nb,02\nc,03\nd,04\n#\ne,zz\n", 6, "non-hex" },
};

/* Every bad file fails at its line and changes nothing, not even lines before it. */
static void test_import_atomic(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_entry e = entry(0x11, 16, 0, 0), out;
	struct sg_cred_import_report rep;

	assert_int_equal(sg_cred_put(f->cs, "a", 1, &e), 0);
	for (size_t i = 0; i < sizeof(bad_csv) / sizeof(bad_csv[0]); i++) {
		int rc = import_str(f->cs, bad_csv[i].csv, &rep);
		int ok = rc == -EINVAL && rep.bad_line == bad_csv[i].bad_line &&
		         rep.imported == 0 && strstr(rep.message, bad_csv[i].message) != NULL;
		if (!ok)
			print_message("case '%s': rc %d line %llu message '%s'\n", bad_csv[i].name,
			              rc, (unsigned long long)rep.bad_line, rep.message);
		assert_true(ok);
		assert_int_equal(count(f->cs), 1);
		assert_int_equal(sg_cred_get(f->cs, "a", 1, &out), 0);
		assert_int_equal(out.psk_len, 16);
		assert_memory_equal(out.psk, e.psk, 16);
		assert_int_equal(sg_cred_get(f->cs, "b", 1, &out), -ENOENT);
	}
	sg_cred_entry_wipe(&out);
}

static void test_import_file(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_import_report rep;
	char path[160];
	FILE *out;

	assert_int_equal(sg_cred_import_file(f->cs, "/nonexistent.csv", &rep), -ENOENT);
	assert_non_null(strstr(rep.message, "cannot open"));

	/* A larger file streams through one transaction. */
	snprintf(path, sizeof(path), "%s/devices.csv", f->dir);
	out = fopen(path, "w");
	assert_non_null(out);
	for (int i = 0; i < 20000; i++)
		fprintf(out, "urn:dev:ops:%08d,%032x\n", i, i);
	fclose(out);
	assert_int_equal(sg_cred_import_file(f->cs, path, &rep), 0);
	assert_int_equal(rep.imported, 20000);
	assert_int_equal(count(f->cs), 20000);
	struct sg_cred_entry e;
	assert_int_equal(sg_cred_get(f->cs, "urn:dev:ops:00019999", 20, &e), 0);
	assert_int_equal(e.psk[15], 0x1f);
	assert_int_equal(e.psk[14], 0x4e);
	sg_cred_entry_wipe(&e);
	unlink(path);
}

/* Feed csv in pieces of `piece` bytes; commit unless a piece fails (then abort). */
static int import_pieces(struct sg_cred *cs, const char *csv, size_t piece,
                         struct sg_cred_import_report *rep)
{
	struct sg_cred_import *im = sg_cred_import_begin(cs);
	size_t len = strlen(csv);
	int rc = 0;

	assert_non_null(im);
	for (size_t off = 0; rc == 0 && off < len; off += piece)
		rc = sg_cred_import_feed(im, csv + off, len - off < piece ? len - off : piece);
	if (rc != 0) {
		*rep = *sg_cred_import_progress(im);
		sg_cred_import_abort(im);
		return rc;
	}
	return sg_cred_import_commit(im, rep);
}

/* Lines cut anywhere between pieces give the same result as one stream. */
static void test_import_pieces(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_import_report rep;
	struct sg_cred_entry out;
	static const size_t pieces[] = { 1, 2, 3, 5, 7, 13, 19, 64, 1000 };

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		assert_int_equal(import_pieces(f->cs, good_csv, pieces[i], &rep), 0);
		assert_int_equal(rep.lines, 8);
		assert_int_equal(rep.imported, 5);
		assert_int_equal(count(f->cs), 5);
		assert_int_equal(sg_cred_get(f->cs, "urn:dev:ops:32473-2", 19, &out), 0);
		assert_int_equal(out.key_lifetime, 3600);
		assert_int_equal(sg_cred_get(f->cs, "lwm2m ep 5", 10, &out), 0);
		assert_int_equal(out.psk[0], 1);
	}
	/* Every bad file fails at the same line however it is cut, and stores nothing. */
	for (size_t i = 0; i < sizeof(bad_csv) / sizeof(bad_csv[0]); i++) {
		for (size_t p = 1; p <= 7; p += 3) {
			int rc = import_pieces(f->cs, bad_csv[i].csv, p, &rep);

			if (rc != -EINVAL || rep.bad_line != bad_csv[i].bad_line ||
			    strstr(rep.message, bad_csv[i].message) == NULL)
				print_message("case '%s' piece %zu: rc %d line %llu '%s'\n",
				              bad_csv[i].name, p, rc,
				              (unsigned long long)rep.bad_line, rep.message);
			assert_int_equal(rc, -EINVAL);
			assert_int_equal(rep.bad_line, bad_csv[i].bad_line);
			assert_int_equal(count(f->cs), 5);
			assert_int_equal(sg_cred_get(f->cs, "b", 1, &out), -ENOENT);
		}
	}
	sg_cred_entry_wipe(&out);
}

/* A line longer than the limit is refused at its line, even split over pieces. */
static void test_import_long_line(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_import_report rep;
	char *csv = malloc(3000);

	assert_non_null(csv);
	strcpy(csv, "a,00\n");
	memset(csv + 5, 'x', 1100);
	strcpy(csv + 1105, ",00\nb,01\n");
	for (size_t p = 1; p <= 1200; p = p * 3 + 1) {
		assert_int_equal(import_pieces(f->cs, csv, p, &rep), -EINVAL);
		assert_int_equal(rep.bad_line, 2);
		assert_non_null(strstr(rep.message, "longer than 1024"));
	}
	/* Without a newline at all, the end of input is the end of the line. */
	csv[1105] = '\0';
	assert_int_equal(import_pieces(f->cs, csv, 50, &rep), -EINVAL);
	assert_int_equal(rep.bad_line, 2);
	assert_int_equal(count(f->cs), 0);
	free(csv);
}

/* Readers see the store as it was until the commit; an abort leaves it so. */
static void test_import_isolation(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_entry e = entry(0x22, 16, 0, 0), out;
	struct sg_cred_import_report rep;
	struct sg_cred_import *im;
	static const char csv[] = "n1,0011\nn2,0022\n";

	assert_int_equal(sg_cred_put(f->cs, "old", 3, &e), 0);
	im = sg_cred_import_begin(f->cs);
	assert_non_null(im);
	assert_int_equal(sg_cred_import_feed(im, csv, strlen(csv)), 0);
	assert_int_equal(sg_cred_import_progress(im)->lines, 2);
	/* Same thread, read transactions alongside the import's write one. */
	assert_int_equal(sg_cred_get(f->cs, "n1", 2, &out), -ENOENT);
	assert_int_equal(sg_cred_get(f->cs, "old", 3, &out), 0);
	assert_int_equal(count(f->cs), 1);
	sg_cred_import_abort(im);
	assert_int_equal(count(f->cs), 1);
	assert_int_equal(sg_cred_get(f->cs, "n1", 2, &out), -ENOENT);

	im = sg_cred_import_begin(f->cs);
	assert_non_null(im);
	assert_int_equal(sg_cred_import_feed(im, csv, strlen(csv)), 0);
	assert_int_equal(sg_cred_import_commit(im, &rep), 0);
	assert_int_equal(rep.imported, 2);
	assert_int_equal(count(f->cs), 3);
	assert_int_equal(sg_cred_get(f->cs, "n2", 2, &out), 0);
	assert_int_equal(out.psk[0], 0);
	assert_int_equal(out.psk[1], 0x22);
	sg_cred_entry_wipe(&out);
	sg_cred_import_abort(NULL);
}

/*
 * A reader: the same answers as sg_cred_get() from one transaction; its
 * snapshot is renewed every renew_every gets (a change committed meanwhile
 * is seen from the get after the renewal, not before); a writer never waits
 * for it.
 */
static void test_reader(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_entry e, out, want;
	struct sg_cred_reader *r;
	char id[32];

	for (unsigned i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "dev-%u", i);
		e = entry((uint8_t)(i + 1), 8 + i % 57, i % 3 ? 0 : 3600,
		          i % 10 == 9 ? SG_CRED_F_DISABLED : 0);
		assert_int_equal(sg_cred_put(f->cs, id, strlen(id), &e), 0);
	}
	r = sg_cred_reader_begin(f->cs, 0);
	assert_non_null(r);
	for (unsigned i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "dev-%u", i);
		assert_int_equal(sg_cred_reader_get(r, id, strlen(id), &out), 0);
		assert_int_equal(sg_cred_get(f->cs, id, strlen(id), &want), 0);
		assert_memory_equal(&out, &want, sizeof(out));
	}
	memset(&out, 0x77, sizeof(out));
	assert_int_equal(sg_cred_reader_get(r, "dev-", 4, &out), -ENOENT);
	assert_true(all_zero(&out, sizeof(out)));
	memset(&out, 0x77, sizeof(out));
	assert_int_equal(sg_cred_reader_get(r, "", 0, &out), -EINVAL);
	assert_true(all_zero(&out, sizeof(out)));
	sg_cred_reader_end(r);

	/* renew_every 3: the snapshot of gets 1..3, then the newest */
	r = sg_cred_reader_begin(f->cs, 3);
	assert_non_null(r);
	assert_int_equal(sg_cred_reader_get(r, "dev-0", 5, &out), 0);
	assert_int_equal(out.psk[0], 1);
	e = entry(0xee, 16, 0, 0);
	assert_int_equal(sg_cred_put(f->cs, "dev-0", 5, &e), 0); /* the writer does not wait */
	assert_int_equal(sg_cred_delete(f->cs, "dev-1", 5), 0);
	assert_int_equal(sg_cred_reader_get(r, "dev-0", 5, &out), 0);
	assert_int_equal(out.psk[0], 1);
	assert_int_equal(sg_cred_reader_get(r, "dev-1", 5, &out), 0);
	assert_int_equal(sg_cred_reader_get(r, "dev-0", 5, &out), 0);
	assert_int_equal(out.psk[0], 0xee);
	assert_int_equal(sg_cred_reader_get(r, "dev-1", 5, &out), -ENOENT);
	sg_cred_reader_end(r);
	sg_cred_reader_end(NULL);
	sg_cred_entry_wipe(&out);
	sg_cred_entry_wipe(&want);
	sg_cred_entry_wipe(&e);
}

/* What an import reports as taking a key away (issue 12 item 2): a table of lines. */
struct revoked_log {
	char names[8][16];
	int n;
};

static void note_revoked(void *arg, const uint8_t *identity, size_t len)
{
	struct revoked_log *l = arg;

	assert_true(l->n < 8 && len < 16);
	memcpy(l->names[l->n], identity, len);
	l->names[l->n++][len] = '\0';
}

static void test_import_revokes(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_entry k1 = entry(0x11, 2, 0, 0), k2 = entry(0x22, 2, 0, 0);
	struct sg_cred_entry k3 = entry(0x33, 3, 0, 0);
	struct sg_cred_import_report rep;
	struct sg_cred_import *im;
	struct revoked_log log = { .n = 0 };
	/* existing: same (1111 = same key), rekey (2222 -> 3333), longer (333333 -> 3333),
	 * dis (same key, now disabled), new (not there before), twice (new, then changed). */
	static const char csv[] = "same,1111\n"
	                          "rekey,3333\n"
	                          "longer,3333\n"
	                          "dis,1111,0,disabled\n"
	                          "new,4444\n"
	                          "twice,5555\n"
	                          "twice,6666\n"
	                          "lifetime,1111,3600\n";

	assert_int_equal(sg_cred_put(f->cs, "same", 4, &k1), 0);
	assert_int_equal(sg_cred_put(f->cs, "rekey", 5, &k2), 0);
	assert_int_equal(sg_cred_put(f->cs, "longer", 6, &k3), 0);
	assert_int_equal(sg_cred_put(f->cs, "dis", 3, &k1), 0);
	assert_int_equal(sg_cred_put(f->cs, "lifetime", 8, &k1), 0);
	im = sg_cred_import_begin(f->cs);
	assert_non_null(im);
	sg_cred_import_on_revoke(im, note_revoked, &log);
	assert_int_equal(sg_cred_import_feed(im, csv, strlen(csv)), 0);
	assert_int_equal(log.n, 4);
	assert_string_equal(log.names[0], "rekey");
	assert_string_equal(log.names[1], "longer");
	assert_string_equal(log.names[2], "dis");
	assert_string_equal(log.names[3], "twice"); /* its second line changed its first */
	/* Against the committed store, for sessions made while the import runs. */
	assert_true(sg_cred_import_revokes(im, "rekey", 5));
	assert_true(sg_cred_import_revokes(im, "dis", 3));
	assert_false(sg_cred_import_revokes(im, "same", 4));
	assert_false(sg_cred_import_revokes(im, "lifetime", 8)); /* a new lifetime keeps the key */
	assert_false(sg_cred_import_revokes(im, "new", 3));      /* nothing committed to take */
	assert_false(sg_cred_import_revokes(im, "nobody", 6));
	assert_int_equal(sg_cred_import_commit(im, &rep), 0);
	assert_int_equal(rep.imported, 8);
}

static void test_field_checks(void **state)
{
	static const struct {
		const char *id;
		size_t len;
		int ok;
		const char *msg;
	} ids[] = {
		{ "urn:dev:ops:1", 13, 1, NULL },      { "", 0, 0, "empty identity" },
		{ "a,b", 3, 0, "at byte 2" },          { "a\"b", 3, 0, "at byte 2" },
		{ "a\nb", 3, 0, "control character" }, { "a\x7f", 2, 0, "at byte 2" },
		{ "\xc3\xa9t\xc3\xa9", 5, 1, NULL },
	};
	static const struct {
		const char *hex;
		int ok;
		uint32_t len;
		const char *msg;
	} psks[] = {
		{ "00ff", 1, 2, NULL },       { "AbCd", 1, 2, NULL },
		{ "0", 0, 0, "even number" }, { "", 0, 0, "2..128 hex digits" },
		{ "0g", 0, 0, "digit 2" },    { "g0", 0, 0, "digit 1" },
	};
	struct sg_cred_entry e;
	char msg[160], big[200];

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		int rc = sg_cred_identity_check(ids[i].id, ids[i].len, msg, sizeof(msg));

		assert_int_equal(rc, ids[i].ok ? 0 : -EINVAL);
		if (!ids[i].ok)
			assert_non_null(strstr(msg, ids[i].msg));
	}
	memset(big, 'i', sizeof(big));
	assert_int_equal(sg_cred_identity_check(big, 128, msg, sizeof(msg)), 0);
	assert_int_equal(sg_cred_identity_check(big, 129, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "at most 128"));
	for (size_t i = 0; i < sizeof(psks) / sizeof(psks[0]); i++) {
		int rc;

		memset(&e, 0, sizeof(e));
		rc = sg_cred_psk_from_hex(psks[i].hex, strlen(psks[i].hex), &e, msg, sizeof(msg));
		assert_int_equal(rc, psks[i].ok ? 0 : -EINVAL);
		if (psks[i].ok)
			assert_int_equal(e.psk_len, psks[i].len);
		else
			assert_non_null(strstr(msg, psks[i].msg));
	}
	memset(big, 'f', sizeof(big));
	assert_int_equal(sg_cred_psk_from_hex(big, 128, &e, msg, sizeof(msg)), 0);
	assert_int_equal(e.psk_len, 64);
	assert_int_equal(sg_cred_psk_from_hex(big, 130, &e, msg, sizeof(msg)), -EINVAL);
	sg_cred_entry_wipe(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistence_and_rdonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_revokes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
		cmocka_unit_test(test_field_checks),
	};

	return cmocka_run_group_tests_name("cred", tests, NULL, NULL);
}
