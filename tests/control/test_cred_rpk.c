/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credential store's raw public keys and certificate-identity policies
 * (cred_rpk.c): keys made at test time with OpenSSL (EC P-256 and P-384
 * taken; RSA, P-521 and garbage refused with their reason), put / get /
 * holds / list / delete by hash and by identity, counts per kind beside the
 * PSKs', and the streamed imports of both kinds: CSV and PEM, a table of bad
 * inputs that each fail at their line and leave the store as it was, the
 * same fed in pieces of every size, and the revocation callback.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sg_cred.h"
#include "tc_tmp.h"

struct fixture {
	char dir[64];
	char db[96];
	struct sg_cred *cs;
	/* keys made at test time: two P-256, one P-384 (SPKI DER and base64) */
	uint8_t spki[3][SG_CRED_SPKI_MAX];
	int spki_len[3];
	char b64[3][256];
	uint8_t hash[3][SG_CRED_SPKI_HASH_LEN];
};

static int key_spki(const char *curve, uint8_t *out, char *b64, uint8_t *hash)
{
	EVP_PKEY *k = EVP_EC_gen(curve);
	unsigned char *p = out;
	unsigned hl = 0;
	int n;

	if (k == NULL)
		return -1;
	n = i2d_PUBKEY(k, &p);
	EVP_PKEY_free(k);
	if (n <= 0 || n > SG_CRED_SPKI_MAX)
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, out, n);
	EVP_Digest(out, (size_t)n, hash, &hl, EVP_sha256(), NULL);
	return n;
}

static int setup(void **state)
{
	static const char *const curves[] = { "P-256", "P-256", "P-384" };
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tc_tmpdir(f->dir, sizeof(f->dir), "credrpk") != 0)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/db", f->dir);
	f->cs = sg_cred_open(f->db, 16u << 20, SG_CRED_CREATE);
	if (f->cs == NULL)
		return -1;
	for (int i = 0; i < 3; i++) {
		f->spki_len[i] = key_spki(curves[i], f->spki[i], f->b64[i], f->hash[i]);
		if (f->spki_len[i] < 0)
			return -1;
	}
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

static uint64_t count_of(struct sg_cred *cs, enum sg_cred_kind k)
{
	uint64_t n = 99;

	assert_int_equal(sg_cred_count_kind(cs, k, &n), 0);
	return n;
}

static struct sg_cred_rpk rpk_of(const struct fixture *f, int key, const char *identity)
{
	struct sg_cred_rpk r;
	char msg[160];

	memset(&r, 0, sizeof(r));
	memcpy(r.spki, f->spki[key], (size_t)f->spki_len[key]);
	r.spki_len = (uint32_t)f->spki_len[key];
	assert_int_equal(sg_cred_spki_check(r.spki, r.spki_len, r.spki_hash, msg, sizeof(msg)), 0);
	assert_memory_equal(r.spki_hash, f->hash[key], SG_CRED_SPKI_HASH_LEN);
	r.identity_len = (uint32_t)strlen(identity);
	memcpy(r.identity, identity, r.identity_len);
	return r;
}

/* Keys OpenSSL makes: which the store takes, and why it refuses the others. */
static void test_spki_check(void **state)
{
	struct fixture *f = *state;
	uint8_t der[600], hash[SG_CRED_SPKI_HASH_LEN];
	unsigned char *p = der;
	char msg[160];
	EVP_PKEY *k;
	int n;

	/* P-256 and P-384 in the canonical form: taken (setup checked the hash); one byte more is
	 * not */
	assert_int_equal(
	        sg_cred_spki_check(f->spki[2], (size_t)f->spki_len[2], hash, msg, sizeof(msg)), 0);
	memcpy(der, f->spki[0], (size_t)f->spki_len[0]);
	der[f->spki_len[0]] = 0;
	assert_int_equal(
	        sg_cred_spki_check(der, (size_t)f->spki_len[0] + 1, hash, msg, sizeof(msg)),
	        -EINVAL);
	assert_string_equal(msg, "not a SubjectPublicKeyInfo (DER) public key");
	/* the canonical form with its point moved off the curve: refused */
	memcpy(der, f->spki[0], (size_t)f->spki_len[0]);
	der[f->spki_len[0] - 1] ^= 1;
	assert_int_equal(sg_cred_spki_check(der, (size_t)f->spki_len[0], hash, msg, sizeof(msg)),
	                 -EINVAL);
	assert_string_equal(msg, "public key's point is not on its curve");
	/* a compressed point (not the canonical form: OpenSSL's decoder) is a P-256 key */
	{
		EVP_PKEY *ck = EVP_EC_gen("P-256");

		assert_non_null(ck);
		assert_int_equal(EVP_PKEY_set_utf8_string_param(ck, "point-format", "compressed"),
		                 1);
		p = der;
		n = i2d_PUBKEY(ck, &p);
		EVP_PKEY_free(ck);
		assert_int_equal(n, 59); /* the 33-byte point, not 65 */
		assert_int_equal(sg_cred_spki_check(der, (size_t)n, hash, msg, sizeof(msg)), 0);
	}
	/* P-521: not a curve we sign or verify with */
	k = EVP_EC_gen("P-521");
	assert_non_null(k);
	p = der;
	n = i2d_PUBKEY(k, &p);
	EVP_PKEY_free(k);
	assert_true(n > 0 && n <= SG_CRED_SPKI_MAX);
	assert_int_equal(sg_cred_spki_check(der, (size_t)n, hash, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "public key is not EC P-256 or P-384 (secp521r1)");
	/* Ed25519: not EC */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	p = der;
	n = i2d_PUBKEY(k, &p);
	EVP_PKEY_free(k);
	assert_int_equal(sg_cred_spki_check(der, (size_t)n, hash, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "public key is not EC P-256 or P-384 (ED25519)");
	/* garbage, empty, too long */
	memset(der, 0x30, 64);
	assert_int_equal(sg_cred_spki_check(der, 64, hash, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(sg_cred_spki_check(der, 0, hash, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(sg_cred_spki_check(der, SG_CRED_SPKI_READ_MAX + 1, hash, msg, sizeof(msg)),
	                 -EINVAL);
	/* RSA: named, though its DER is longer than any key we take */
	k = EVP_RSA_gen(2048);
	assert_non_null(k);
	p = der;
	n = i2d_PUBKEY(k, &p);
	EVP_PKEY_free(k);
	assert_true(n > SG_CRED_SPKI_MAX && n <= SG_CRED_SPKI_READ_MAX);
	assert_int_equal(sg_cred_spki_check(der, (size_t)n, hash, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "public key is not EC P-256 or P-384 (rsaEncryption)");
}

static int collect(void *arg, const struct sg_cred_rpk *r)
{
	struct sg_cred_rpk *out = arg;

	while (out->identity_len != 0)
		out++;
	*out = *r;
	return 0;
}

static void test_rpk_entries(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_rpk a = rpk_of(f, 0, "urn:dev:a"), b = rpk_of(f, 1, "urn:dev:b"),
	                   c = rpk_of(f, 2, "urn:dev:a"), got, listed[4];
	struct sg_cred_entry psk;
	unsigned removed;

	memset(&psk, 0, sizeof(psk));
	psk.psk_len = 16;
	assert_int_equal(sg_cred_put(f->cs, "dev-psk", 7, &psk), 0);
	a.key_lifetime = 3600;
	a.backend = 7;
	assert_int_equal(sg_cred_rpk_put(f->cs, &a), 0);
	assert_int_equal(sg_cred_rpk_put(f->cs, &b), 0);
	assert_int_equal(sg_cred_rpk_put(f->cs, &c), 0);
	/* counts per kind: the named databases are not PSK identities */
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_PSK), 1);
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_RPK), 3);
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_CERTPOLICY), 0);
	/* get by hash: every field back */
	assert_int_equal(sg_cred_rpk_get(f->cs, f->hash[0], &got), 0);
	assert_int_equal(got.identity_len, 9);
	assert_memory_equal(got.identity, "urn:dev:a", 9);
	assert_int_equal(got.key_lifetime, 3600);
	assert_int_equal(got.backend, 7);
	assert_int_equal(got.spki_len, (uint32_t)f->spki_len[0]);
	assert_memory_equal(got.spki, f->spki[0], got.spki_len);
	/* holds: the hash's first 8 bytes and the identity */
	assert_int_equal(sg_cred_rpk_holds(f->cs, f->hash[1], "urn:dev:b", 9), 1);
	assert_int_equal(sg_cred_rpk_holds(f->cs, f->hash[1], "urn:dev:a", 9), 0);
	b.flags = SG_CRED_F_DISABLED;
	assert_int_equal(sg_cred_rpk_put(f->cs, &b), 0);
	assert_int_equal(sg_cred_rpk_holds(f->cs, f->hash[1], "urn:dev:b", 9), 0);
	/* the list, in hash order, paged */
	memset(listed, 0, sizeof(listed));
	assert_int_equal(sg_cred_rpk_list(f->cs, NULL, 10, collect, listed), 3);
	for (int i = 0; i < 2; i++)
		assert_true(memcmp(listed[i].spki_hash, listed[i + 1].spki_hash, 32) < 0);
	memset(&listed[1], 0, sizeof(listed) - sizeof(listed[0]));
	assert_int_equal(sg_cred_rpk_list(f->cs, listed[0].spki_hash, 1, collect, &listed[1]), 1);
	assert_true(memcmp(listed[1].spki_hash, listed[0].spki_hash, 32) > 0);
	/* bad entries refused */
	got = a;
	got.identity_len = 0;
	assert_int_equal(sg_cred_rpk_put(f->cs, &got), -EINVAL);
	got = a;
	got.key_lifetime = 5;
	assert_int_equal(sg_cred_rpk_put(f->cs, &got), -EINVAL);
	got = a;
	got.flags = 0x80;
	assert_int_equal(sg_cred_rpk_put(f->cs, &got), -EINVAL);
	/* delete by identity: both of urn:dev:a's keys; then by hash */
	assert_int_equal(sg_cred_rpk_delete_identity(f->cs, "urn:dev:a", 9, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(sg_cred_rpk_get(f->cs, f->hash[0], &got), -ENOENT);
	assert_int_equal(sg_cred_rpk_get(f->cs, f->hash[2], &got), -ENOENT);
	assert_int_equal(sg_cred_rpk_delete(f->cs, f->hash[1]), 0);
	assert_int_equal(sg_cred_rpk_delete(f->cs, f->hash[1]), -ENOENT);
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_RPK), 0);
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_PSK), 1);
	/* a PSK identity may not be a named database's name */
	assert_int_equal(sg_cred_put(f->cs, "\001rpk", 4, &psk), -EINVAL);
}

static void test_cert_policies(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_policy p = { .flags = 0, .key_lifetime = 600, .backend = 2 }, got;

	assert_int_equal(sg_cred_policy_put(f->cs, "CN-dev-1", 8, &p), 0);
	assert_int_equal(sg_cred_policy_get(f->cs, "CN-dev-1", 8, &got), 0);
	assert_int_equal(got.key_lifetime, 600);
	assert_int_equal(got.backend, 2);
	assert_int_equal(got.flags, 0);
	assert_int_equal(sg_cred_policy_get(f->cs, "CN-dev-2", 8, &got), -ENOENT);
	/* the PSK of the same name is another entry */
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_PSK), 0);
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_CERTPOLICY), 1);
	p.key_lifetime = 1;
	assert_int_equal(sg_cred_policy_put(f->cs, "CN-dev-1", 8, &p), -EINVAL);
	assert_int_equal(sg_cred_policy_put(f->cs, "", 0, &got), -EINVAL);
	assert_int_equal(sg_cred_policy_delete(f->cs, "CN-dev-1", 8), 0);
	assert_int_equal(sg_cred_policy_delete(f->cs, "CN-dev-1", 8), -ENOENT);
}

/* A read-only store sees the entries; its writers refuse. */
static void test_rdonly(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_rpk a = rpk_of(f, 0, "urn:dev:a"), got;
	struct sg_cred *ro;

	assert_int_equal(sg_cred_rpk_put(f->cs, &a), 0);
	ro = sg_cred_open(f->db, 16u << 20, SG_CRED_RDONLY);
	assert_non_null(ro);
	assert_int_equal(sg_cred_rpk_get(ro, f->hash[0], &got), 0);
	assert_int_equal(sg_cred_rpk_put(ro, &a), -EROFS);
	assert_null(sg_cred_import_begin_kind(ro, SG_CRED_KIND_RPK));
	sg_cred_close(ro);
}

static int import_kind(struct sg_cred *cs, enum sg_cred_kind kind, const char *text, size_t piece,
                       struct sg_cred_import_report *rep)
{
	struct sg_cred_import *im = sg_cred_import_begin_kind(cs, kind);
	size_t len = strlen(text);
	int rc = 0;

	assert_non_null(im);
	for (size_t off = 0; rc == 0 && off < len; off += piece)
		rc = sg_cred_import_feed(im, text + off, off + piece > len ? len - off : piece);
	if (rc != 0) {
		*rep = *sg_cred_import_progress(im);
		sg_cred_import_abort(im);
		return rc;
	}
	return sg_cred_import_commit(im, rep);
}

/* The three keys as a CSV (two of them) and a PEM file (the third). */
static void good_files(const struct fixture *f, char *csv, size_t csv_len, char *pem,
                       size_t pem_len)
{
	snprintf(csv, csv_len,
	         "identity,spki_base64,backend,key_lifetime,state\n"
	         "# a comment\n"
	         "urn:dev:a,%s\n"
	         "urn:dev:b,%s,3,86400,disabled\r\n",
	         f->b64[0], f->b64[1]);
	/* PEM: 64-character lines, as openssl writes them */
	{
		size_t n = strlen(f->b64[2]), o;

		o = (size_t)snprintf(pem, pem_len,
		                     "# identity: urn:dev:c\n-----BEGIN PUBLIC KEY-----\n");
		for (size_t i = 0; i < n; i += 64)
			o += (size_t)snprintf(pem + o, pem_len - o, "%.*s\n", 64, f->b64[2] + i);
		snprintf(pem + o, pem_len - o, "-----END PUBLIC KEY-----\n");
	}
}

static void test_import_rpk(void **state)
{
	struct fixture *f = *state;
	char csv[1024], pem[1024];
	struct sg_cred_import_report rep;
	struct sg_cred_rpk got;

	good_files(f, csv, sizeof(csv), pem, sizeof(pem));
	/* pieces of every size from 1: lines and PEM blocks cut anywhere */
	for (size_t piece = 1; piece <= 64; piece += 7) {
		assert_int_equal(import_kind(f->cs, SG_CRED_KIND_RPK, csv, piece, &rep), 0);
		assert_int_equal(rep.imported, 2);
		assert_int_equal(rep.lines, 4);
		assert_int_equal(import_kind(f->cs, SG_CRED_KIND_RPK, pem, piece, &rep), 0);
		assert_int_equal(rep.imported, 1);
	}
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_RPK), 3);
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_PSK), 0);
	assert_int_equal(sg_cred_rpk_get(f->cs, f->hash[1], &got), 0);
	assert_int_equal(got.backend, 3);
	assert_int_equal(got.key_lifetime, 86400);
	assert_int_equal(got.flags, SG_CRED_F_DISABLED);
	assert_int_equal(sg_cred_rpk_get(f->cs, f->hash[2], &got), 0);
	assert_int_equal(got.identity_len, 9);
	assert_memory_equal(got.identity, "urn:dev:c", 9);
}

/* tmpl with every "%s" replaced by key (formats from a table are not literals). */
static void subst(char *out, size_t len, const char *tmpl, const char *key)
{
	size_t o = 0;

	for (const char *p = tmpl; *p != '\0' && o + 1 < len; p++) {
		if (p[0] == '%' && p[1] == 's') {
			o += (size_t)snprintf(out + o, len - o, "%s", key);
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o < len ? o : len - 1] = '\0';
}

/* Each bad input fails at its line, with its reason, and stores nothing. */
static void test_import_rpk_bad(void **state)
{
	static const struct {
		const char *name;
		const char *text; /* %s: a good key's base64 */
		uint64_t line;
		const char *message;
	} rows[] = {
		{ "no key", "urn:dev:x\n", 1,
		  "missing spki_base64 (identity,spki_base64[,backend[,key_lifetime[,state]]])" },
		{ "not base64", "urn:dev:x,@@@@\n", 1,
		  "the key is not base64 (RFC 4648, padded) of at most 600 bytes" },
		{ "not a key", "urn:dev:x,MDAwMDAwMDA=\n", 1,
		  "not a SubjectPublicKeyInfo (DER) public key" },
		{ "bad lifetime", "urn:dev:ok,%s\nurn:dev:x,%s,0,5\n", 2,
		  "key_lifetime must be 0 or 10..2592000 seconds" },
		{ "bad backend", "urn:dev:x,%s,-1\n", 1, "backend must be a number (0: none)" },
		{ "bad state", "urn:dev:x,%s,0,0,off\n", 1,
		  "state must be 'enabled' or 'disabled'" },
		{ "too many fields", "urn:dev:x,%s,0,0,enabled,1\n", 1,
		  "too many fields (identity,spki_base64[,backend[,key_lifetime[,state]]])" },
		{ "bad identity", "urn\"dev,%s\n", 1,
		  "identity has a control character, '\"' or ',' at byte 4" },
		{ "PEM without identity",
		  "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", 1,
		  "a public key without a '# identity: NAME' line before it" },
		{ "PEM never ended", "# identity: urn:dev:x\n-----BEGIN PUBLIC KEY-----\n%s\n", 1,
		  "the public key begun here has no END PUBLIC KEY line" },
		{ "identity without key", "urn:dev:ok,%s\n# identity: urn:dev:x\n", 2,
		  "'# identity:' with no public key after it" },
		{ "two identities", "# identity: a\n# identity: b\n", 2,
		  "a second '# identity:' line before its key" },
		{ "PEM garbage",
		  "# identity: a\n-----BEGIN PUBLIC KEY-----\nAAAA\n"
		  "-----END PUBLIC KEY-----\n",
		  4, "not a SubjectPublicKeyInfo (DER) public key" },
	};
	struct fixture *f = *state;
	struct sg_cred_import_report rep;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[1024];

		print_message("# %s\n", rows[i].name);
		subst(text, sizeof(text), rows[i].text, f->b64[0]);
		memset(&rep, 0, sizeof(rep));
		assert_int_equal(import_kind(f->cs, SG_CRED_KIND_RPK, text, 5, &rep), -EINVAL);
		assert_int_equal(rep.bad_line, rows[i].line);
		assert_string_equal(rep.message, rows[i].message);
		assert_int_equal(rep.imported, 0);
		assert_int_equal(count_of(f->cs, SG_CRED_KIND_RPK), 0);
	}
}

static void test_import_certpolicy(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_import_report rep;
	struct sg_cred_policy got;
	static const char good[] = "identity,backend,key_lifetime,state\n"
	                           "urn:imei:1\n"
	                           "urn:imei:2,1,3600\n"
	                           "urn:imei:3,,,disabled\n";

	assert_int_equal(import_kind(f->cs, SG_CRED_KIND_CERTPOLICY, good, 3, &rep), 0);
	assert_int_equal(rep.imported, 3);
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_CERTPOLICY), 3);
	assert_int_equal(sg_cred_policy_get(f->cs, "urn:imei:2", 10, &got), 0);
	assert_int_equal(got.backend, 1);
	assert_int_equal(got.key_lifetime, 3600);
	assert_int_equal(sg_cred_policy_get(f->cs, "urn:imei:3", 10, &got), 0);
	assert_int_equal(got.flags, SG_CRED_F_DISABLED);
	/* all or nothing: a bad third line leaves the three above as they were */
	assert_int_equal(import_kind(f->cs, SG_CRED_KIND_CERTPOLICY,
	                             "urn:imei:4\nurn:imei:2,0,60\nurn:imei:5,x\n", 4, &rep),
	                 -EINVAL);
	assert_int_equal(rep.bad_line, 3);
	assert_string_equal(rep.message, "backend must be a number (0: none)");
	assert_int_equal(count_of(f->cs, SG_CRED_KIND_CERTPOLICY), 3);
	assert_int_equal(sg_cred_policy_get(f->cs, "urn:imei:2", 10, &got), 0);
	assert_int_equal(got.key_lifetime, 3600);
}

struct revoked {
	unsigned n;
	char last[SG_CRED_IDENTITY_MAX + 1];
};

static void note(void *arg, const uint8_t *identity, size_t len)
{
	struct revoked *r = arg;

	r->n++;
	snprintf(r->last, sizeof(r->last), "%.*s", (int)len, (const char *)identity);
}

/* What an import takes away: a key moved to another identity or disabled, a policy disabled. */
static void test_import_revokes(void **state)
{
	struct fixture *f = *state;
	struct sg_cred_import_report rep;
	struct revoked rv = { 0 };
	struct sg_cred_import *im;
	char line[512];

	snprintf(line, sizeof(line), "urn:dev:a,%s\n", f->b64[0]);
	assert_int_equal(import_kind(f->cs, SG_CRED_KIND_RPK, line, 512, &rep), 0);
	/* the same key, same identity: nothing taken */
	im = sg_cred_import_begin_kind(f->cs, SG_CRED_KIND_RPK);
	sg_cred_import_on_revoke(im, note, &rv);
	assert_int_equal(sg_cred_import_feed(im, line, strlen(line)), 0);
	assert_int_equal(rv.n, 0);
	/* moved to urn:dev:z: urn:dev:a loses it */
	snprintf(line, sizeof(line), "urn:dev:z,%s\n", f->b64[0]);
	assert_int_equal(sg_cred_import_feed(im, line, strlen(line)), 0);
	assert_int_equal(rv.n, 1);
	assert_string_equal(rv.last, "urn:dev:a");
	/* disabled: urn:dev:z (the earlier line of this import) loses it */
	snprintf(line, sizeof(line), "urn:dev:z,%s,0,0,disabled\n", f->b64[0]);
	assert_int_equal(sg_cred_import_feed(im, line, strlen(line)), 0);
	assert_int_equal(rv.n, 2);
	assert_string_equal(rv.last, "urn:dev:z");
	assert_int_equal(sg_cred_import_commit(im, &rep), 0);

	assert_int_equal(import_kind(f->cs, SG_CRED_KIND_CERTPOLICY, "cn-1\n", 64, &rep), 0);
	im = sg_cred_import_begin_kind(f->cs, SG_CRED_KIND_CERTPOLICY);
	sg_cred_import_on_revoke(im, note, &rv);
	assert_int_equal(sg_cred_import_feed(im, "cn-1,0,0,disabled\ncn-2,0,0,disabled\n", 36), 0);
	assert_int_equal(rv.n, 3); /* cn-2 had nothing to lose */
	assert_string_equal(rv.last, "cn-1");
	sg_cred_import_abort(im);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spki_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpk_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_rpk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_rpk_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_certpolicy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_revokes, setup, teardown),
	};

	return cmocka_run_group_tests_name("cred_rpk", tests, NULL, NULL);
}
