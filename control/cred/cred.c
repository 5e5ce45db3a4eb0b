/* SPDX-License-Identifier: Apache-2.0 */
/* LMDB credential store: put/get/delete/count and atomic CSV import (the reader of
 * many lookups in one transaction: cred_reader.c; the raw public keys and
 * certificate policies, and their lines of an import: cred_rpk.c). */
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include <stormgate/common.h>
#include <stormgate/lmdb_err.h>

#include "cred_priv.h"
#include "sg_cred.h"

#define VALUE_VERSION 1
#define VALUE_HDR     8
#define CSV_LINE_MAX  1024 /* identity 128 + psk 128 + policy: generous */

struct sg_cred *sg_cred_open(const char *path, uint64_t map_size, unsigned flags)
{
	struct sg_cred *cs;
	MDB_txn *txn;
	unsigned env_flags = MDB_NOTLS;
	int rc;

	cs = calloc(1, sizeof(*cs));
	if (cs == NULL)
		return NULL;
	cs->flags = flags;
	if (flags & SG_CRED_RDONLY)
		env_flags |= MDB_RDONLY;
	if ((flags & SG_CRED_CREATE) && !(flags & SG_CRED_RDONLY) && mkdir(path, 0700) != 0 &&
	    errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	rc = sg_mdb_errno(mdb_env_create(&cs->env));
	if (rc != 0)
		goto fail;
	rc = sg_mdb_errno(mdb_env_set_mapsize(cs->env, (size_t)map_size));
	if (rc == 0) /* the main database and the named ones of the other kinds */
		rc = sg_mdb_errno(mdb_env_set_maxdbs(cs->env, SG_CRED_KIND_MAX));
	if (rc != 0)
		goto fail_env;
	/* The key material is secret: only the daemon's user reads the files. */
	rc = sg_mdb_errno(mdb_env_open(cs->env, path, env_flags, 0600));
	if (rc != 0)
		goto fail_env;
	rc = sg_mdb_errno(
	        mdb_txn_begin(cs->env, NULL, flags & SG_CRED_RDONLY ? MDB_RDONLY : 0, &txn));
	if (rc != 0)
		goto fail_env;
	rc = sg_mdb_errno(mdb_dbi_open(txn, NULL, 0, &cs->dbi));
	if (rc == 0)
		rc = cred_kinds_open(cs, txn);
	if (rc != 0) {
		mdb_txn_abort(txn);
		goto fail_env;
	}
	rc = sg_mdb_errno(mdb_txn_commit(txn));
	if (rc != 0)
		goto fail_env;
	return cs;

fail_env:
	mdb_env_close(cs->env);
fail:
	free(cs);
	errno = -rc;
	return NULL;
}

void sg_cred_close(struct sg_cred *cs)
{
	if (cs == NULL)
		return;
	mdb_env_close(cs->env);
	free(cs);
}

void sg_cred_entry_wipe(struct sg_cred_entry *e)
{
	sg_wipe(e, sizeof(*e));
}

static int entry_valid(const struct sg_cred_entry *e)
{
	return e->psk_len >= 1 && e->psk_len <= SG_CRED_PSK_MAX &&
	       (e->key_lifetime == 0 || (e->key_lifetime >= SG_CRED_LIFETIME_MIN &&
	                                 e->key_lifetime <= SG_CRED_LIFETIME_MAX)) &&
	       (e->flags & ~(uint32_t)SG_CRED_F_DISABLED) == 0;
}

/* Write the value straight into the page LMDB reserves for it. */
static int put_txn(MDB_txn *txn, MDB_dbi dbi, const void *identity, size_t id_len,
                   const struct sg_cred_entry *e)
{
	MDB_val key = { .mv_size = id_len, .mv_data = (void *)(uintptr_t)identity };
	MDB_val val = { .mv_size = VALUE_HDR + e->psk_len, .mv_data = NULL };
	int rc = mdb_put(txn, dbi, &key, &val, MDB_RESERVE);
	uint8_t *v;

	if (rc != MDB_SUCCESS)
		return sg_mdb_errno(rc);
	v = val.mv_data;
	v[0] = VALUE_VERSION;
	v[1] = (uint8_t)e->psk_len;
	v[2] = (uint8_t)(e->flags & 0xff);
	v[3] = (uint8_t)(e->flags >> 8);
	for (int i = 0; i < 4; i++)
		v[4 + i] = (uint8_t)(e->key_lifetime >> (8 * i));
	memcpy(v + VALUE_HDR, e->psk, e->psk_len);
	return 0;
}

/* A write transaction on cs: 0, -EROFS (opened read-only) or LMDB's error as -errno. */
static int write_begin(struct sg_cred *cs, MDB_txn **txn)
{
	if (cs->flags & SG_CRED_RDONLY)
		return -EROFS;
	return sg_mdb_errno(mdb_txn_begin(cs->env, NULL, 0, txn));
}

/* The end of write transaction txn whose work returned rc: committed when rc is 0, else
 * aborted. Returns rc, or the commit's result. */
static int write_end(MDB_txn *txn, int rc)
{
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return sg_mdb_errno(mdb_txn_commit(txn));
}

int sg_cred_put(struct sg_cred *cs, const void *identity, size_t id_len,
                const struct sg_cred_entry *e)
{
	MDB_txn *txn;
	int rc;

	if (!sg_cred_identity_valid(identity, id_len) || e == NULL || !entry_valid(e))
		return -EINVAL;
	rc = write_begin(cs, &txn);
	if (rc != 0)
		return rc;
	return write_end(txn, put_txn(txn, cs->dbi, identity, id_len, e));
}

int sg_cred_get_txn(MDB_txn *txn, MDB_dbi dbi, const void *identity, size_t id_len,
                    struct sg_cred_entry *out)
{
	MDB_val key = { .mv_size = id_len, .mv_data = (void *)(uintptr_t)identity };
	MDB_val val;
	const uint8_t *v;
	int rc;

	rc = sg_mdb_errno(mdb_get(txn, dbi, &key, &val));
	if (rc != 0)
		return rc;
	v = val.mv_data;
	if (val.mv_size < VALUE_HDR || v[0] != VALUE_VERSION || v[1] == 0 ||
	    v[1] > SG_CRED_PSK_MAX || val.mv_size != VALUE_HDR + (size_t)v[1])
		return -EBADMSG;
	out->psk_len = v[1];
	out->flags = (uint32_t)v[2] | (uint32_t)v[3] << 8;
	out->key_lifetime =
	        (uint32_t)v[4] | (uint32_t)v[5] << 8 | (uint32_t)v[6] << 16 | (uint32_t)v[7] << 24;
	memcpy(out->psk, v + VALUE_HDR, out->psk_len);
	return 0;
}

int sg_cred_get(struct sg_cred *cs, const void *identity, size_t id_len, struct sg_cred_entry *out)
{
	MDB_txn *txn;
	int rc;

	sg_cred_entry_wipe(out);
	if (!sg_cred_identity_valid(identity, id_len))
		return -EINVAL;
	rc = sg_mdb_errno(mdb_txn_begin(cs->env, NULL, MDB_RDONLY, &txn));
	if (rc != 0)
		return rc;
	rc = sg_cred_get_txn(txn, cs->dbi, identity, id_len, out);
	/* Read-only: abort ends it without writing; the map page stays the only copy. */
	mdb_txn_abort(txn);
	if (rc != 0)
		sg_cred_entry_wipe(out);
	return rc;
}

/*
 * Does next take away what a session under old relied on: another key, or
 * the identity disabled? Every byte is looked at (no early exit on the key).
 */
static bool entry_revokes(const struct sg_cred_entry *old, const struct sg_cred_entry *next)
{
	return sg_ct_memcmp(old->psk, next->psk, SG_CRED_PSK_MAX) != 0 ||
	       old->psk_len != next->psk_len ||
	       ((next->flags & SG_CRED_F_DISABLED) && !(old->flags & SG_CRED_F_DISABLED));
}

int sg_cred_delete(struct sg_cred *cs, const void *identity, size_t id_len)
{
	MDB_val key = { .mv_size = id_len, .mv_data = (void *)(uintptr_t)identity };
	MDB_txn *txn;
	int rc;

	if (!sg_cred_identity_valid(identity, id_len))
		return -EINVAL;
	rc = write_begin(cs, &txn);
	if (rc != 0)
		return rc;
	return write_end(txn, sg_mdb_errno(mdb_del(txn, cs->dbi, &key, NULL)));
}

int sg_cred_count(struct sg_cred *cs, uint64_t *count)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc;

	rc = sg_mdb_errno(mdb_txn_begin(cs->env, NULL, MDB_RDONLY, &txn));
	if (rc != 0)
		return rc;
	rc = sg_mdb_errno(mdb_stat(txn, cs->dbi, &st));
	mdb_txn_abort(txn);
	if (rc != 0)
		return rc;
	/* The main database also holds one key per named database. */
	*count = st.ms_entries;
	for (unsigned k = SG_CRED_KIND_RPK; k < SG_CRED_KIND_MAX; k++)
		if (cs->has_kind[k] && *count > 0)
			(*count)--;
	return 0;
}

int sg_cred_count_kind(struct sg_cred *cs, enum sg_cred_kind kind, uint64_t *count)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc;

	*count = 0;
	if ((unsigned)kind >= SG_CRED_KIND_MAX)
		return -EINVAL;
	if (kind == SG_CRED_KIND_PSK)
		return sg_cred_count(cs, count);
	if (!cs->has_kind[kind])
		return 0;
	rc = sg_mdb_errno(mdb_txn_begin(cs->env, NULL, MDB_RDONLY, &txn));
	if (rc != 0)
		return rc;
	rc = sg_mdb_errno(mdb_stat(txn, cs->kind_dbi[kind], &st));
	mdb_txn_abort(txn);
	if (rc == 0)
		*count = st.ms_entries;
	return rc;
}

/* ---------------------------------------------------------------------- */
/* CSV                                                                     */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int sg_cred_psk_from_hex(const char *hex, size_t n, struct sg_cred_entry *e, char *msg,
                         size_t msg_len)
{
	if (n == 0 || n % 2 != 0 || n / 2 > SG_CRED_PSK_MAX) {
		snprintf(msg, msg_len, "psk_hex must be 2..%d hex digits, an even number; got %zu",
		         2 * SG_CRED_PSK_MAX, n);
		return -EINVAL;
	}
	/* Decoded on the stack first: e is touched only by a whole, valid key. */
	uint8_t key[SG_CRED_PSK_MAX];

	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
		if (hi < 0 || lo < 0) {
			sg_wipe(key, sizeof(key));
			snprintf(msg, msg_len, "psk_hex has a non-hex character at digit %zu",
			         hi < 0 ? i + 1 : i + 2);
			return -EINVAL;
		}
		key[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(e->psk, key, n / 2);
	e->psk_len = (uint32_t)(n / 2);
	sg_wipe(key, sizeof(key));
	return 0;
}

enum csv_line {
	CSV_RECORD = 0,
	CSV_SKIP,
	CSV_BAD,
};

/*
 * Parse one line (without its newline); `first`: no record came before, so
 * this may be the header line. On CSV_RECORD, the identity is
 * [*id, *id + *id_len) inside `line` and e holds the decoded key; on
 * CSV_BAD, msg says why. e is wiped on every path but CSV_RECORD.
 */
static enum csv_line csv_parse(const char *line, size_t len, int first, const char **id,
                               size_t *id_len, struct sg_cred_entry *e, char *msg, size_t msg_len)
{
	const char *end = line + len, *s = line, *f;
	size_t n;

	sg_cred_entry_wipe(e);
	if (len > 0 && line[len - 1] == '\r')
		end--;
	if (end == line || line[0] == '#')
		return CSV_SKIP;
	if (first && (size_t)(end - line) >= 16 && memcmp(line, "identity,psk_hex", 16) == 0 &&
	    (end - line == 16 || line[16] == ','))
		return CSV_SKIP;

	n = sg_cred_csv_field(&s, end, &f);
	if (sg_cred_identity_check(f, n, msg, msg_len) != 0)
		return CSV_BAD;
	*id = f;
	*id_len = n;

	if (s == NULL) {
		snprintf(msg, msg_len, "missing psk_hex (identity,psk_hex[,key_lifetime[,state]])");
		return CSV_BAD;
	}
	n = sg_cred_csv_field(&s, end, &f);
	if (sg_cred_psk_from_hex(f, n, e, msg, msg_len) != 0)
		return CSV_BAD;

	if (s != NULL) {
		n = sg_cred_csv_field(&s, end, &f);
		if (sg_cred_csv_lifetime(f, n, &e->key_lifetime, msg, msg_len) != 0) {
			sg_cred_entry_wipe(e);
			return CSV_BAD;
		}
	}
	if (s != NULL) {
		n = sg_cred_csv_field(&s, end, &f);
		if (sg_cred_csv_state(f, n, &e->flags, msg, msg_len) != 0) {
			sg_cred_entry_wipe(e);
			return CSV_BAD;
		}
	}
	if (s != NULL) {
		sg_cred_entry_wipe(e);
		snprintf(msg, msg_len, "too many fields (identity,psk_hex[,key_lifetime[,state]])");
		return CSV_BAD;
	}
	return CSV_RECORD;
}

/*
 * An import in progress: one LMDB write transaction, and the start of a line
 * that the bytes fed so far cut in two.
 */
struct sg_cred_import {
	struct sg_cred *cs;
	MDB_txn *txn;
	struct sg_cred_import_report rep;
	struct cred_ext_import ext; /* kinds other than PSK (cred_rpk.c) */
	uint64_t stored;
	sg_cred_revoked_fn *on_revoke; /* NULL: nobody asked */
	void *revoke_arg;
	int records; /* a header may only come before the first record */
	int failed;  /* a line was bad: nothing more is taken, only abort */
	size_t carry_len;
	char carry[CSV_LINE_MAX + 1];
};

struct sg_cred_import *sg_cred_import_begin(struct sg_cred *cs)
{
	return sg_cred_import_begin_kind(cs, SG_CRED_KIND_PSK);
}

struct sg_cred_import *sg_cred_import_begin_kind(struct sg_cred *cs, enum sg_cred_kind kind)
{
	struct sg_cred_import *im;
	int rc;

	if ((unsigned)kind >= SG_CRED_KIND_MAX || !cs->has_kind[kind]) {
		errno = kind >= SG_CRED_KIND_MAX ? EINVAL : EROFS;
		return NULL;
	}
	im = calloc(1, sizeof(*im));
	if (im == NULL)
		return NULL;
	im->cs = cs;
	im->ext.kind = kind;
	rc = write_begin(cs, &im->txn);
	if (rc != 0) {
		free(im);
		errno = -rc;
		return NULL;
	}
	return im;
}

/* One complete line (without its newline). Returns 0 or -errno with rep filled. */
static int import_line(struct sg_cred_import *im, const char *line, size_t len)
{
	struct sg_cred_import_report *rep = &im->rep;
	struct sg_cred_entry e;
	const char *id = NULL;
	size_t id_len = 0;
	int rc = 0;

	rep->lines++;
	memset(&e, 0, sizeof(e));
	if (len > CSV_LINE_MAX) {
		snprintf(rep->message, sizeof(rep->message), "line longer than %d bytes",
		         CSV_LINE_MAX);
		rc = -EINVAL;
	} else if (im->ext.kind != SG_CRED_KIND_PSK) {
		rc = cred_ext_line(im->cs, im->txn, &im->ext, line, len, !im->records, rep->lines,
		                   rep->message, sizeof(rep->message), im->on_revoke,
		                   im->revoke_arg);
		if (rc > 0) {
			im->records = 1;
			im->stored++;
		}
		rc = rc > 0 ? 0 : rc;
	} else {
		switch (csv_parse(line, len, !im->records, &id, &id_len, &e, rep->message,
		                  sizeof(rep->message))) {
		case CSV_RECORD: {
			struct sg_cred_entry old;
			bool revokes = false;

			im->records = 1;
			/* What the identity had (committed, or an earlier line of this import). */
			if (im->on_revoke != NULL) {
				memset(&old, 0, sizeof(old));
				revokes = sg_cred_get_txn(im->txn, im->cs->dbi, id, id_len, &old) ==
				                  0 &&
				          entry_revokes(&old, &e);
				sg_cred_entry_wipe(&old);
			}
			rc = put_txn(im->txn, im->cs->dbi, id, id_len, &e);
			if (rc != 0) {
				snprintf(rep->message, sizeof(rep->message), "cannot store: %s",
				         strerror(-rc));
			} else {
				im->stored++;
				if (revokes)
					im->on_revoke(im->revoke_arg, (const uint8_t *)id, id_len);
			}
			break;
		}
		case CSV_SKIP:
			break;
		case CSV_BAD:
			rc = -EINVAL;
			break;
		}
	}
	sg_cred_entry_wipe(&e);
	if (rc != 0) {
		rep->bad_line = rep->lines;
		im->failed = 1;
	}
	return rc;
}

void sg_cred_import_on_revoke(struct sg_cred_import *im, sg_cred_revoked_fn *fn, void *arg)
{
	im->on_revoke = fn;
	im->revoke_arg = arg;
}

bool sg_cred_import_revokes(struct sg_cred_import *im, const void *identity, size_t id_len)
{
	struct sg_cred_entry was, will;
	bool r;

	memset(&will, 0, sizeof(will));
	if (!sg_cred_identity_valid(identity, id_len))
		return false;
	r = sg_cred_get(im->cs, identity, id_len, &was) == 0 &&
	    sg_cred_get_txn(im->txn, im->cs->dbi, identity, id_len, &will) == 0 &&
	    entry_revokes(&was, &will);
	sg_cred_entry_wipe(&was);
	sg_cred_entry_wipe(&will);
	return r;
}

int sg_cred_import_feed(struct sg_cred_import *im, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	int rc = 0;

	if (im->failed)
		return -EINVAL;
	/* The rest of a line begun in an earlier call. */
	if (im->carry_len > 0) {
		const char *nl = memchr(p, '\n', len);
		size_t take = (size_t)((nl ? nl : end) - p);

		if (im->carry_len + take > CSV_LINE_MAX) {
			/* Too long whatever follows: report it now, at its line. */
			rc = import_line(im, im->carry, CSV_LINE_MAX + 1);
			goto out;
		}
		memcpy(im->carry + im->carry_len, p, take);
		im->carry_len += take;
		if (nl == NULL)
			return 0;
		rc = import_line(im, im->carry, im->carry_len);
		sg_wipe(im->carry, im->carry_len);
		im->carry_len = 0;
		p = nl + 1;
	}
	while (rc == 0 && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL) {
			size_t n = (size_t)(end - p);

			if (n > CSV_LINE_MAX) {
				rc = import_line(im, p, n);
				break;
			}
			memcpy(im->carry, p, n);
			im->carry_len = n;
			break;
		}
		rc = import_line(im, p, (size_t)(nl - p));
		p = nl + 1;
	}
out:
	if (rc != 0) {
		sg_wipe(im->carry, sizeof(im->carry));
		im->carry_len = 0;
	}
	return rc;
}

const struct sg_cred_import_report *sg_cred_import_progress(const struct sg_cred_import *im)
{
	return &im->rep;
}

static void import_free(struct sg_cred_import *im)
{
	sg_wipe(im, sizeof(*im));
	free(im);
}

void sg_cred_import_abort(struct sg_cred_import *im)
{
	if (im == NULL)
		return;
	mdb_txn_abort(im->txn);
	import_free(im);
}

int sg_cred_import_commit(struct sg_cred_import *im, struct sg_cred_import_report *rep)
{
	int rc = 0;

	if (!im->failed && im->carry_len > 0) /* the last line had no newline */
		rc = import_line(im, im->carry, im->carry_len);
	if (!im->failed && cred_ext_end(&im->ext, im->rep.message, sizeof(im->rep.message)) != 0) {
		im->rep.bad_line = im->ext.pem_line;
		im->failed = 1;
	}
	if (im->failed) {
		rc = rc ? rc : -EINVAL;
		mdb_txn_abort(im->txn);
		goto out;
	}
	rc = sg_mdb_errno(mdb_txn_commit(im->txn));
	if (rc != 0)
		snprintf(im->rep.message, sizeof(im->rep.message), "commit failed: %s",
		         strerror(-rc));
	else
		im->rep.imported = im->stored;
out:
	*rep = im->rep;
	import_free(im);
	return rc;
}

int sg_cred_import_csv(struct sg_cred *cs, FILE *in, struct sg_cred_import_report *rep)
{
	struct sg_cred_import *im;
	char buf[16384];
	size_t n;
	int rc = 0;

	memset(rep, 0, sizeof(*rep));
	im = sg_cred_import_begin(cs);
	if (im == NULL) {
		rc = -errno;
		if (rc == -EROFS)
			snprintf(rep->message, sizeof(rep->message), "store opened read-only");
		else
			snprintf(rep->message, sizeof(rep->message),
			         "cannot start a transaction: %s", strerror(-rc));
		return rc;
	}
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		rc = sg_cred_import_feed(im, buf, n);
	sg_wipe(buf, sizeof(buf));
	if (rc == 0 && ferror(in)) {
		*rep = im->rep;
		snprintf(rep->message, sizeof(rep->message), "read error after line %llu",
		         (unsigned long long)im->rep.lines);
		sg_cred_import_abort(im);
		return -EIO;
	}
	if (rc != 0) {
		*rep = im->rep;
		sg_cred_import_abort(im);
		return rc;
	}
	return sg_cred_import_commit(im, rep);
}

int sg_cred_import_file(struct sg_cred *cs, const char *csv_path, struct sg_cred_import_report *rep)
{
	/* Our own stdio buffer, so the PSK text it held can be wiped too. */
	char buf[16384];
	FILE *f = fopen(csv_path, "re");
	int rc;

	if (f == NULL) {
		rc = -errno;
		memset(rep, 0, sizeof(*rep));
		snprintf(rep->message, sizeof(rep->message), "cannot open: %s", strerror(-rc));
		return rc;
	}
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	rc = sg_cred_import_csv(cs, f, rep);
	fclose(f);
	sg_wipe(buf, sizeof(buf));
	return rc;
}
