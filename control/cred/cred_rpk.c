/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credential store's entries for the ECDHE-ECDSA suites (sg_cred.h head):
 * raw public keys (RFC 7250) keyed by the SHA-256 of their
 * SubjectPublicKeyInfo DER, each naming its identity and policy, and the
 * policies of certificate identities; their lines of a streamed import (CSV,
 * or PEM public keys after "# identity:" lines). A key is checked with
 * OpenSSL: the RFC 5480 form every tool writes is matched byte for byte up
 * to its point, which EC_POINT_oct2point() checks is on the curve; any
 * other form goes through d2i_PUBKEY (an EC key on P-256 or P-384).
 *
 * Any thread, as sg_cred.h says: readers (the handshake threads' lookups)
 * never wait for the writer (the management thread).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <stormgate/common.h>
#include <stormgate/lmdb_err.h>

#include "cred_priv.h"
#include "sg_cred.h"
#include "sg_spki.h"

#define RPK_VERSION 1
#define RPK_HDR     13 /* version, identity_len, flags, lifetime, backend, spki_len */
#define POL_VERSION 1
#define POL_LEN     12

static const char *const kind_db[SG_CRED_KIND_MAX] = {
	[SG_CRED_KIND_RPK] = CRED_DB_RPK,
	[SG_CRED_KIND_CERTPOLICY] = CRED_DB_CERTPOLICY,
};

int cred_kinds_open(struct sg_cred *cs, MDB_txn *txn)
{
	unsigned create = (cs->flags & SG_CRED_RDONLY) ? 0 : MDB_CREATE;

	cs->kind_dbi[SG_CRED_KIND_PSK] = cs->dbi;
	cs->has_kind[SG_CRED_KIND_PSK] = true;
	for (unsigned k = SG_CRED_KIND_RPK; k < SG_CRED_KIND_MAX; k++) {
		int rc = mdb_dbi_open(txn, kind_db[k], create, &cs->kind_dbi[k]);

		if (rc == MDB_NOTFOUND) /* a read-only store made before they existed */
			continue;
		if (rc != MDB_SUCCESS)
			return sg_mdb_errno(rc);
		cs->has_kind[k] = true;
	}
	return 0;
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool policy_fields_valid(uint32_t flags, uint32_t lifetime)
{
	return (flags & ~(uint32_t)SG_CRED_F_DISABLED) == 0 &&
	       (lifetime == 0 ||
	        (lifetime >= SG_CRED_LIFETIME_MIN && lifetime <= SG_CRED_LIFETIME_MAX));
}

/* 1: a canonical key on its curve (sg_spki.h: read without OpenSSL 3.0's generic
 * decoder, which costs ~90 µs a key, most of an import's time); 0: not that form (ask
 * d2i_PUBKEY); -1: off its curve. */
static int spki_canonical(const uint8_t *der, size_t len)
{
	uint16_t curve;
	size_t off;

	return sg_spki_canonical(der, len, &curve, &off);
}

/* The slow path: any encoding OpenSSL reads, then its kind and curve. 0 or -EINVAL. */
static int spki_decoded(const uint8_t *der, size_t len, char *msg, size_t msg_len)
{
	const unsigned char *p = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)len);
	char group[32] = "";
	size_t glen = 0;
	int rc = -EINVAL;

	if (pk == NULL || p != der + len) {
		snprintf(msg, msg_len, "not a SubjectPublicKeyInfo (DER) public key");
		goto out;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1 ||
	    (strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0)) {
		snprintf(msg, msg_len, "public key is not EC P-256 or P-384 (%s)",
		         group[0] ? group : OBJ_nid2sn(EVP_PKEY_get_base_id(pk)));
		goto out;
	}
	if (len > SG_CRED_SPKI_MAX) { /* an EC key with explicit parameters */
		snprintf(msg, msg_len, "public key is %zu bytes of DER, at most %d", len,
		         SG_CRED_SPKI_MAX);
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}

int sg_cred_spki_check(const uint8_t *der, size_t len, uint8_t hash[SG_CRED_SPKI_HASH_LEN],
                       char *msg, size_t msg_len)
{
	unsigned hlen = 0;
	int rc;

	if (len == 0 || len > SG_CRED_SPKI_READ_MAX) {
		snprintf(msg, msg_len, "public key is %zu bytes of DER, at most %d", len,
		         SG_CRED_SPKI_MAX);
		return -EINVAL;
	}
	rc = spki_canonical(der, len);
	if (rc < 0) {
		snprintf(msg, msg_len, "public key's point is not on its curve");
		return -EINVAL;
	}
	if (rc == 0 && spki_decoded(der, len, msg, msg_len) != 0)
		return -EINVAL;
	if (EVP_Digest(der, len, hash, &hlen, EVP_sha256(), NULL) != 1 ||
	    hlen != SG_CRED_SPKI_HASH_LEN) {
		snprintf(msg, msg_len, "SHA-256 failed");
		return -EIO;
	}
	return 0;
}

static bool rpk_valid(const struct sg_cred_rpk *r)
{
	return sg_cred_identity_valid(r->identity, r->identity_len) && r->spki_len > 0 &&
	       r->spki_len <= SG_CRED_SPKI_MAX && policy_fields_valid(r->flags, r->key_lifetime);
}

static int rpk_put_txn(const struct sg_cred *cs, MDB_txn *txn, const struct sg_cred_rpk *r)
{
	MDB_val key = { .mv_size = SG_CRED_SPKI_HASH_LEN, .mv_data = (void *)r->spki_hash };
	MDB_val val = { .mv_size = RPK_HDR + r->identity_len + r->spki_len, .mv_data = NULL };
	int rc = mdb_put(txn, cs->kind_dbi[SG_CRED_KIND_RPK], &key, &val, MDB_RESERVE);
	uint8_t *v;

	if (rc != MDB_SUCCESS)
		return sg_mdb_errno(rc);
	v = val.mv_data;
	v[0] = RPK_VERSION;
	v[1] = (uint8_t)r->identity_len;
	v[2] = (uint8_t)(r->flags & 0xff);
	v[3] = (uint8_t)(r->flags >> 8);
	le32(v + 4, r->key_lifetime);
	le32(v + 8, r->backend);
	v[12] = (uint8_t)r->spki_len;
	memcpy(v + RPK_HDR, r->identity, r->identity_len);
	memcpy(v + RPK_HDR + r->identity_len, r->spki, r->spki_len);
	return 0;
}

static int rpk_decode(const MDB_val *key, const MDB_val *val, struct sg_cred_rpk *out)
{
	const uint8_t *v = val->mv_data;

	memset(out, 0, sizeof(*out));
	if (key->mv_size != SG_CRED_SPKI_HASH_LEN || val->mv_size < RPK_HDR ||
	    v[0] != RPK_VERSION || v[1] == 0 || v[1] > SG_CRED_IDENTITY_MAX || v[12] == 0 ||
	    v[12] > SG_CRED_SPKI_MAX || val->mv_size != RPK_HDR + (size_t)v[1] + v[12])
		return -EBADMSG;
	memcpy(out->spki_hash, key->mv_data, SG_CRED_SPKI_HASH_LEN);
	out->identity_len = v[1];
	out->flags = (uint32_t)v[2] | (uint32_t)v[3] << 8;
	out->key_lifetime = rd32(v + 4);
	out->backend = rd32(v + 8);
	out->spki_len = v[12];
	memcpy(out->identity, v + RPK_HDR, out->identity_len);
	memcpy(out->spki, v + RPK_HDR + out->identity_len, out->spki_len);
	return 0;
}

/* A write transaction for kind: 0, -EROFS (read-only, or a store without that kind). */
static int kind_write(struct sg_cred *cs, enum sg_cred_kind kind, MDB_txn **txn)
{
	if ((cs->flags & SG_CRED_RDONLY) || !cs->has_kind[kind])
		return -EROFS;
	return sg_mdb_errno(mdb_txn_begin(cs->env, NULL, 0, txn));
}

static int txn_end(MDB_txn *txn, int rc)
{
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return sg_mdb_errno(mdb_txn_commit(txn));
}

/* A read transaction for kind: 0, -ENOENT (the store has no such database), -errno. */
static int kind_read(struct sg_cred *cs, enum sg_cred_kind kind, MDB_txn **txn)
{
	if (!cs->has_kind[kind])
		return -ENOENT;
	return sg_mdb_errno(mdb_txn_begin(cs->env, NULL, MDB_RDONLY, txn));
}

int sg_cred_rpk_put(struct sg_cred *cs, const struct sg_cred_rpk *r)
{
	MDB_txn *txn;
	int rc;

	if (r == NULL || !rpk_valid(r))
		return -EINVAL;
	rc = kind_write(cs, SG_CRED_KIND_RPK, &txn);
	if (rc != 0)
		return rc;
	return txn_end(txn, rpk_put_txn(cs, txn, r));
}

static int rpk_get_txn(const struct sg_cred *cs, MDB_txn *txn,
                       const uint8_t hash[SG_CRED_SPKI_HASH_LEN], struct sg_cred_rpk *out)
{
	MDB_val key = { .mv_size = SG_CRED_SPKI_HASH_LEN, .mv_data = (void *)hash };
	MDB_val val;
	int rc = sg_mdb_errno(mdb_get(txn, cs->kind_dbi[SG_CRED_KIND_RPK], &key, &val));

	return rc != 0 ? rc : rpk_decode(&key, &val, out);
}

int sg_cred_rpk_get(struct sg_cred *cs, const uint8_t hash[SG_CRED_SPKI_HASH_LEN],
                    struct sg_cred_rpk *out)
{
	MDB_txn *txn;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = kind_read(cs, SG_CRED_KIND_RPK, &txn);
	if (rc != 0)
		return rc;
	rc = rpk_get_txn(cs, txn, hash, out);
	mdb_txn_abort(txn);
	return rc;
}

int sg_cred_rpk_holds(struct sg_cred *cs, const uint8_t prefix[8], const void *identity,
                      size_t id_len)
{
	uint8_t start[SG_CRED_SPKI_HASH_LEN] = { 0 };
	MDB_val key = { .mv_size = sizeof(start), .mv_data = start }, val;
	MDB_cursor *cur;
	MDB_txn *txn;
	int rc, found = 0;

	rc = kind_read(cs, SG_CRED_KIND_RPK, &txn);
	if (rc != 0)
		return rc == -ENOENT ? 0 : rc;
	memcpy(start, prefix, 8);
	rc = sg_mdb_errno(mdb_cursor_open(txn, cs->kind_dbi[SG_CRED_KIND_RPK], &cur));
	if (rc != 0)
		goto out;
	/* Keys are in hash order: the ones with this prefix follow one another. */
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	     rc == MDB_SUCCESS && memcmp(key.mv_data, prefix, 8) == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		struct sg_cred_rpk r;

		if (rpk_decode(&key, &val, &r) == 0 && !(r.flags & SG_CRED_F_DISABLED) &&
		    r.identity_len == id_len && memcmp(r.identity, identity, id_len) == 0) {
			found = 1;
			break;
		}
	}
	rc = rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? 0 : sg_mdb_errno(rc);
	mdb_cursor_close(cur);
out:
	mdb_txn_abort(txn);
	return rc != 0 ? rc : found;
}

int sg_cred_rpk_delete(struct sg_cred *cs, const uint8_t hash[SG_CRED_SPKI_HASH_LEN])
{
	MDB_val key = { .mv_size = SG_CRED_SPKI_HASH_LEN, .mv_data = (void *)hash };
	MDB_txn *txn;
	int rc = kind_write(cs, SG_CRED_KIND_RPK, &txn);

	if (rc != 0)
		return rc;
	return txn_end(txn, sg_mdb_errno(mdb_del(txn, cs->kind_dbi[SG_CRED_KIND_RPK], &key, NULL)));
}

int sg_cred_rpk_delete_identity(struct sg_cred *cs, const void *identity, size_t id_len,
                                unsigned *removed)
{
	MDB_val key, val;
	MDB_cursor *cur;
	MDB_txn *txn;
	int rc;

	*removed = 0;
	if (!sg_cred_identity_valid(identity, id_len))
		return -EINVAL;
	rc = kind_write(cs, SG_CRED_KIND_RPK, &txn);
	if (rc != 0)
		return rc;
	rc = sg_mdb_errno(mdb_cursor_open(txn, cs->kind_dbi[SG_CRED_KIND_RPK], &cur));
	if (rc != 0)
		return txn_end(txn, rc);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		const uint8_t *v = val.mv_data;

		if (val.mv_size < RPK_HDR || v[1] != id_len || val.mv_size < RPK_HDR + id_len ||
		    memcmp(v + RPK_HDR, identity, id_len) != 0)
			continue;
		rc = mdb_cursor_del(cur, 0);
		if (rc != MDB_SUCCESS)
			break;
		(*removed)++;
	}
	rc = rc == MDB_NOTFOUND ? 0 : sg_mdb_errno(rc);
	mdb_cursor_close(cur);
	return txn_end(txn, rc);
}

int sg_cred_rpk_list(struct sg_cred *cs, const uint8_t *after, unsigned max,
                     int (*fn)(void *arg, const struct sg_cred_rpk *r), void *arg)
{
	uint8_t start[SG_CRED_SPKI_HASH_LEN] = { 0 };
	MDB_val key = { .mv_size = sizeof(start), .mv_data = start }, val;
	MDB_cursor *cur;
	MDB_txn *txn;
	unsigned given = 0;
	int rc;

	rc = kind_read(cs, SG_CRED_KIND_RPK, &txn);
	if (rc != 0)
		return rc == -ENOENT ? 0 : rc;
	rc = sg_mdb_errno(mdb_cursor_open(txn, cs->kind_dbi[SG_CRED_KIND_RPK], &cur));
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	if (after != NULL)
		memcpy(start, after, sizeof(start));
	rc = mdb_cursor_get(cur, &key, &val, after != NULL ? MDB_SET_RANGE : MDB_FIRST);
	if (rc == MDB_SUCCESS && after != NULL && memcmp(key.mv_data, after, sizeof(start)) == 0)
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	for (; rc == MDB_SUCCESS && given < max; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		struct sg_cred_rpk r;

		if (rpk_decode(&key, &val, &r) != 0)
			continue;
		given++;
		if (fn(arg, &r) != 0)
			break;
	}
	rc = rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? 0 : sg_mdb_errno(rc);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc != 0 ? rc : (int)given;
}

static int policy_put_txn(const struct sg_cred *cs, MDB_txn *txn, const void *identity,
                          size_t id_len, const struct sg_cred_policy *p)
{
	MDB_val key = { .mv_size = id_len, .mv_data = (void *)(uintptr_t)identity };
	uint8_t v[POL_LEN] = { POL_VERSION, 0, (uint8_t)(p->flags & 0xff),
		               (uint8_t)(p->flags >> 8) };
	MDB_val val = { .mv_size = sizeof(v), .mv_data = v };

	le32(v + 4, p->key_lifetime);
	le32(v + 8, p->backend);
	return sg_mdb_errno(mdb_put(txn, cs->kind_dbi[SG_CRED_KIND_CERTPOLICY], &key, &val, 0));
}

static int policy_get_txn(const struct sg_cred *cs, MDB_txn *txn, const void *identity,
                          size_t id_len, struct sg_cred_policy *out)
{
	MDB_val key = { .mv_size = id_len, .mv_data = (void *)(uintptr_t)identity }, val;
	const uint8_t *v;
	int rc = sg_mdb_errno(mdb_get(txn, cs->kind_dbi[SG_CRED_KIND_CERTPOLICY], &key, &val));

	if (rc != 0)
		return rc;
	v = val.mv_data;
	if (val.mv_size != POL_LEN || v[0] != POL_VERSION)
		return -EBADMSG;
	out->flags = (uint32_t)v[2] | (uint32_t)v[3] << 8;
	out->key_lifetime = rd32(v + 4);
	out->backend = rd32(v + 8);
	return 0;
}

int sg_cred_policy_put(struct sg_cred *cs, const void *identity, size_t id_len,
                       const struct sg_cred_policy *p)
{
	MDB_txn *txn;
	int rc;

	if (!sg_cred_identity_valid(identity, id_len) || p == NULL ||
	    !policy_fields_valid(p->flags, p->key_lifetime))
		return -EINVAL;
	rc = kind_write(cs, SG_CRED_KIND_CERTPOLICY, &txn);
	if (rc != 0)
		return rc;
	return txn_end(txn, policy_put_txn(cs, txn, identity, id_len, p));
}

int sg_cred_policy_get(struct sg_cred *cs, const void *identity, size_t id_len,
                       struct sg_cred_policy *out)
{
	MDB_txn *txn;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!sg_cred_identity_valid(identity, id_len))
		return -EINVAL;
	rc = kind_read(cs, SG_CRED_KIND_CERTPOLICY, &txn);
	if (rc != 0)
		return rc;
	rc = policy_get_txn(cs, txn, identity, id_len, out);
	mdb_txn_abort(txn);
	return rc;
}

int sg_cred_policy_delete(struct sg_cred *cs, const void *identity, size_t id_len)
{
	MDB_val key = { .mv_size = id_len, .mv_data = (void *)(uintptr_t)identity };
	MDB_txn *txn;
	int rc;

	if (!sg_cred_identity_valid(identity, id_len))
		return -EINVAL;
	rc = kind_write(cs, SG_CRED_KIND_CERTPOLICY, &txn);
	if (rc != 0)
		return rc;
	return txn_end(
	        txn, sg_mdb_errno(mdb_del(txn, cs->kind_dbi[SG_CRED_KIND_CERTPOLICY], &key, NULL)));
}

/* ---- import lines ---------------------------------------------------------------- */

/*
 * The key of an import line: RFC 4648 base64 (padded) of a SubjectPublicKeyInfo,
 * checked (sg_cred_spki_check(): a key of another kind is named) into r's spki,
 * spki_len and spki_hash. 0 or -EINVAL with msg.
 */
static int spki_from_b64(const char *in, size_t n, struct sg_cred_rpk *r, char *msg, size_t msg_len)
{
	unsigned char buf[SG_CRED_SPKI_READ_MAX + 3];
	size_t pad = 0;
	int got, rc;

	if (n < 4 || n % 4 != 0 || n / 4 * 3 > sizeof(buf))
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (in[i] == '=' && i + 2 < n)
			goto bad;
	pad = (size_t)(in[n - 1] == '=') + (size_t)(in[n - 2] == '=');
	got = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
	if (got < 0 || (size_t)got <= pad)
		goto bad;
	rc = sg_cred_spki_check(buf, (size_t)got - pad, r->spki_hash, msg, msg_len);
	if (rc != 0)
		return rc;
	r->spki_len = (uint32_t)((size_t)got - pad);
	memcpy(r->spki, buf, r->spki_len);
	return 0;
bad:
	snprintf(msg, msg_len, "the key is not base64 (RFC 4648, padded) of at most %d bytes",
	         SG_CRED_SPKI_READ_MAX);
	return -EINVAL;
}

/* The policy fields after the key: [backend[,key_lifetime[,state]]]. */
static int policy_fields(const char *s, const char *end, uint32_t *backend, uint32_t *lifetime,
                         uint32_t *flags, const char *shape, char *msg, size_t msg_len)
{
	const char *f;
	size_t n;

	*backend = *lifetime = *flags = 0;
	if (s != NULL) {
		char num[12];
		char *ne;
		unsigned long v;

		n = sg_cred_csv_field(&s, end, &f);
		if (n > 0) {
			if (n >= sizeof(num) || f[0] < '0' || f[0] > '9')
				goto bad_backend;
			memcpy(num, f, n);
			num[n] = '\0';
			v = strtoul(num, &ne, 10);
			if (*ne != '\0' || v > UINT32_MAX)
				goto bad_backend;
			*backend = (uint32_t)v;
		}
	}
	if (s != NULL) {
		n = sg_cred_csv_field(&s, end, &f);
		if (sg_cred_csv_lifetime(f, n, lifetime, msg, msg_len) != 0)
			return -EINVAL;
	}
	if (s != NULL) {
		n = sg_cred_csv_field(&s, end, &f);
		if (sg_cred_csv_state(f, n, flags, msg, msg_len) != 0)
			return -EINVAL;
	}
	if (s != NULL) {
		snprintf(msg, msg_len, "too many fields (%s)", shape);
		return -EINVAL;
	}
	return 0;
bad_backend:
	snprintf(msg, msg_len, "backend must be a number (0: none)");
	return -EINVAL;
}

/* Does storing next take away what identity had (in txn: committed or an earlier line)? */
static void rpk_store(struct sg_cred *cs, MDB_txn *txn, const struct sg_cred_rpk *r,
                      sg_cred_revoked_fn *fn, void *arg, int *rc)
{
	struct sg_cred_rpk old;

	if (fn != NULL && rpk_get_txn(cs, txn, r->spki_hash, &old) == 0 &&
	    (old.identity_len != r->identity_len ||
	     memcmp(old.identity, r->identity, r->identity_len) != 0 ||
	     ((r->flags & SG_CRED_F_DISABLED) && !(old.flags & SG_CRED_F_DISABLED))))
		fn(arg, old.identity, old.identity_len);
	*rc = rpk_put_txn(cs, txn, r);
}

static int rpk_csv(struct sg_cred *cs, MDB_txn *txn, const char *line, const char *end, char *msg,
                   size_t msg_len, sg_cred_revoked_fn *fn, void *arg)
{
	static const char shape[] = "identity,spki_base64[,backend[,key_lifetime[,state]]]";
	const char *s = line, *f;
	struct sg_cred_rpk r;
	size_t n;
	int rc;

	memset(&r, 0, sizeof(r));
	n = sg_cred_csv_field(&s, end, &f);
	if (sg_cred_identity_check(f, n, msg, msg_len) != 0)
		return -EINVAL;
	memcpy(r.identity, f, n);
	r.identity_len = (uint32_t)n;
	if (s == NULL) {
		snprintf(msg, msg_len, "missing spki_base64 (%s)", shape);
		return -EINVAL;
	}
	n = sg_cred_csv_field(&s, end, &f);
	rc = spki_from_b64(f, n, &r, msg, msg_len);
	if (rc == 0)
		rc = policy_fields(s, end, &r.backend, &r.key_lifetime, &r.flags, shape, msg,
		                   msg_len);
	if (rc != 0)
		return rc;
	rpk_store(cs, txn, &r, fn, arg, &rc);
	return rc;
}

/* "# identity: NAME": the identity of the PEM public key that follows. */
static int pem_identity(struct cred_ext_import *x, const char *p, const char *end, uint64_t line_no,
                        char *msg, size_t msg_len)
{
	while (p < end && *p == ' ')
		p++;
	if (memchr(p, ',', (size_t)(end - p)) != NULL) {
		snprintf(msg, msg_len, "'# identity:' takes the identity alone");
		return -EINVAL;
	}
	if (sg_cred_identity_check(p, (size_t)(end - p), msg, msg_len) != 0)
		return -EINVAL;
	if (x->have_id) {
		snprintf(msg, msg_len, "a second '# identity:' line before its key");
		return -EINVAL;
	}
	memcpy(x->id, p, (size_t)(end - p));
	x->id_len = (uint32_t)(end - p);
	x->have_id = true;
	x->pem_line = line_no;
	return 0;
}

/* END PUBLIC KEY: the block's key, under the identity before it. 0 or -errno with msg. */
static int pem_end(struct sg_cred *cs, MDB_txn *txn, struct cred_ext_import *x, char *msg,
                   size_t msg_len, sg_cred_revoked_fn *fn, void *arg)
{
	struct sg_cred_rpk r;
	int rc;

	memset(&r, 0, sizeof(r));
	x->in_pem = false;
	x->have_id = false;
	memcpy(r.identity, x->id, x->id_len);
	r.identity_len = x->id_len;
	rc = spki_from_b64(x->b64, x->b64_len, &r, msg, msg_len);
	if (rc != 0)
		return rc;
	rpk_store(cs, txn, &r, fn, arg, &rc);
	return rc;
}

/*
 * The PEM form: a "# identity: NAME" line, then the key's BEGIN PUBLIC KEY
 * block (what `openssl pkey -pubout` writes); the entry takes the default
 * policy (the CSV form sets one).
 */
static int rpk_pem(struct sg_cred *cs, MDB_txn *txn, struct cred_ext_import *x, const char *line,
                   const char *end, uint64_t line_no, char *msg, size_t msg_len,
                   sg_cred_revoked_fn *fn, void *arg, bool *stored)
{
	static const char tag_id[] = "# identity:", begin[] = "-----BEGIN PUBLIC KEY-----",
	                  fin[] = "-----END PUBLIC KEY-----";
	size_t len = (size_t)(end - line);
	int rc;

	*stored = false;
	if (!x->in_pem && len >= sizeof(tag_id) - 1 &&
	    memcmp(line, tag_id, sizeof(tag_id) - 1) == 0)
		return pem_identity(x, line + sizeof(tag_id) - 1, end, line_no, msg, msg_len);
	if (!x->in_pem && len == sizeof(begin) - 1 && memcmp(line, begin, len) == 0) {
		if (!x->have_id) {
			snprintf(msg, msg_len,
			         "a public key without a '# identity: NAME' line before it");
			return -EINVAL;
		}
		x->in_pem = true;
		x->b64_len = 0;
		return 0;
	}
	if (!x->in_pem) {
		if (len == 0 || line[0] == '#')
			return 0;
		snprintf(msg, msg_len, "expected '# identity: NAME' or '%s'", begin);
		return -EINVAL;
	}
	if (len == sizeof(fin) - 1 && memcmp(line, fin, len) == 0) {
		rc = pem_end(cs, txn, x, msg, msg_len, fn, arg);
		*stored = rc == 0;
		return rc;
	}
	if (x->b64_len + len > sizeof(x->b64)) {
		snprintf(msg, msg_len, "the public key block is longer than %zu characters",
		         sizeof(x->b64));
		return -EINVAL;
	}
	memcpy(x->b64 + x->b64_len, line, len);
	x->b64_len += len;
	return 0;
}

static int certpolicy_csv(struct sg_cred *cs, MDB_txn *txn, const char *line, const char *end,
                          char *msg, size_t msg_len, sg_cred_revoked_fn *fn, void *arg)
{
	static const char shape[] = "identity[,backend[,key_lifetime[,state]]]";
	const char *s = line, *f;
	struct sg_cred_policy p, old;
	size_t n;
	int rc;

	n = sg_cred_csv_field(&s, end, &f);
	if (sg_cred_identity_check(f, n, msg, msg_len) != 0)
		return -EINVAL;
	rc = policy_fields(s, end, &p.backend, &p.key_lifetime, &p.flags, shape, msg, msg_len);
	if (rc != 0)
		return rc;
	if (fn != NULL && (p.flags & SG_CRED_F_DISABLED) &&
	    policy_get_txn(cs, txn, f, n, &old) == 0 && !(old.flags & SG_CRED_F_DISABLED))
		fn(arg, (const uint8_t *)f, n);
	return policy_put_txn(cs, txn, f, n, &p);
}

int cred_ext_line(struct sg_cred *cs, MDB_txn *txn, struct cred_ext_import *x, const char *line,
                  size_t len, bool first, uint64_t line_no, char *msg, size_t msg_len,
                  sg_cred_revoked_fn *fn, void *arg)
{
	const char *end = line + len;
	bool stored = false;
	int rc;

	if (len > 0 && line[len - 1] == '\r')
		end--;
	if (x->kind == SG_CRED_KIND_RPK &&
	    (x->in_pem || x->have_id ||
	     (end - line >= 5 && (memcmp(line, "-----", 5) == 0 ||
	                          (end - line >= 11 && memcmp(line, "# identity:", 11) == 0))))) {
		rc = rpk_pem(cs, txn, x, line, end, line_no, msg, msg_len, fn, arg, &stored);
		return rc != 0 ? rc : stored ? 1 : 0;
	}
	if (end == line || line[0] == '#')
		return 0;
	if (first) {
		const char *hdr =
		        x->kind == SG_CRED_KIND_RPK ? "identity,spki_base64" : "identity,backend";
		size_t hl = strlen(hdr);

		if ((size_t)(end - line) >= hl && memcmp(line, hdr, hl) == 0 &&
		    ((size_t)(end - line) == hl || line[hl] == ','))
			return 0; /* the header line */
	}
	rc = x->kind == SG_CRED_KIND_RPK
	             ? rpk_csv(cs, txn, line, end, msg, msg_len, fn, arg)
	             : certpolicy_csv(cs, txn, line, end, msg, msg_len, fn, arg);
	return rc != 0 ? rc : 1;
}

int cred_ext_end(const struct cred_ext_import *x, char *msg, size_t msg_len)
{
	if (x->in_pem) {
		snprintf(msg, msg_len, "the public key begun here has no END PUBLIC KEY line");
		return -EINVAL;
	}
	if (x->have_id) {
		snprintf(msg, msg_len, "'# identity:' with no public key after it");
		return -EINVAL;
	}
	return 0;
}
