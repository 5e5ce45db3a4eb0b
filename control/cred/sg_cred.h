/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credential store: an LMDB database keyed by PSK identity (RFC 4279 §5.1),
 * each value the device's pre-shared key (its service-layer key) and its
 * policy. LMDB readers take no lock and never wait for the writer, so
 * handshake lookups proceed while an import runs; the data plane never
 * touches the store at all.
 *
 * Value layout (version 1, little endian, 8 + psk_len bytes):
 *   u8 version | u8 psk_len | u16 flags | u32 key_lifetime | psk[psk_len]
 *
 * CSV import format, one device per line (docs/config.md, "credentials"):
 *   identity,psk_hex[,key_lifetime[,state]]
 * identity: 1..128 bytes, no ',', '"' or control characters; psk_hex: 2..128
 * hex digits (1..64 bytes); key_lifetime: seconds, empty or 0 = the policy's;
 * state: enabled (default) or disabled. Blank lines, lines starting with '#'
 * and a header line "identity,psk_hex..." before the first record are
 * skipped. An import is one
 * transaction: all lines or none.
 *
 * Beside the PSKs, two more kinds of entry for the ECDHE-ECDSA suites
 * (docs/control.md, "Raw public keys and certificate policies"), each in a
 * named database of the same environment (names no PSK identity can take):
 *  - raw public keys (RFC 7250), keyed by the SHA-256 of the client's
 *    SubjectPublicKeyInfo DER: its identity (the name policy, the registry
 *    and the backend see) and policy. Value (version 1, little endian):
 *      u8 version | u8 identity_len | u16 flags | u32 key_lifetime |
 *      u32 backend | u8 spki_len | identity | spki
 *  - certificate-identity policies, keyed by the identity a client
 *    certificate carries (subject CN or SAN URI, tls.cert_identity):
 *      u8 version | u8 0 | u16 flags | u32 key_lifetime | u32 backend
 * Their CSV imports (struct sg_cred_import of another kind):
 *   rpk:        identity,spki_base64[,backend[,key_lifetime[,state]]]
 *               or PEM public keys, each after a "# identity: NAME" line
 *   certpolicy: identity[,backend[,key_lifetime[,state]]]
 * backend is a number kept with the entry and shown (0: none); the gateway
 * has one backend set today, so it selects nothing yet.
 */
#ifndef STORMGATE_CONTROL_SG_CRED_H
#define STORMGATE_CONTROL_SG_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_CRED_IDENTITY_MAX 128 /* bytes; RFC 4279 allows 2^16-1, devices use far less */
#define SG_CRED_PSK_MAX      64  /* bytes; RFC 4279 §5.3: up to 64 octets MUST be supported */
#define SG_CRED_LIFETIME_MIN 10
#define SG_CRED_LIFETIME_MAX (30 * 86400)

/* sg_cred_open() flags */
#define SG_CRED_CREATE 0x1 /* create the directory and database when missing */
#define SG_CRED_RDONLY 0x2

/* sg_cred_entry.flags */
#define SG_CRED_F_DISABLED 0x0001 /* identity known but refused */

/* One device's secret and policy. Holds key material: sg_cred_entry_wipe() it. */
struct sg_cred_entry {
	uint8_t psk[SG_CRED_PSK_MAX];
	uint32_t psk_len;      /* 1..SG_CRED_PSK_MAX */
	uint32_t key_lifetime; /* seconds, 0: policy.key_lifetime */
	uint32_t flags;        /* SG_CRED_F_* */
};

/* Outcome of an import; message names the first bad line. */
struct sg_cred_import_report {
	uint64_t lines;    /* lines read */
	uint64_t imported; /* credentials written (0 when the import failed) */
	uint64_t bad_line; /* 1-based line of the first error, 0: none */
	char message[160];
};

struct sg_cred;

/* What an import (or a count) is about. */
enum sg_cred_kind {
	SG_CRED_KIND_PSK = 0,    /* identity -> PSK and policy */
	SG_CRED_KIND_RPK,        /* SPKI SHA-256 -> identity and policy */
	SG_CRED_KIND_CERTPOLICY, /* certificate identity -> policy */
	SG_CRED_KIND_MAX
};

#define SG_CRED_SPKI_HASH_LEN 32  /* SHA-256 */
#define SG_CRED_SPKI_MAX      160 /* DER of an EC P-256 (91 B) or P-384 (120 B) key */
#define SG_CRED_SPKI_READ_MAX 600 /* DER read to tell a key of another kind (RSA) by name */

/* A raw public key's entry. No secret in it. */
struct sg_cred_rpk {
	uint8_t spki_hash[SG_CRED_SPKI_HASH_LEN];
	uint8_t identity[SG_CRED_IDENTITY_MAX];
	uint32_t identity_len;
	uint32_t flags;        /* SG_CRED_F_* */
	uint32_t key_lifetime; /* seconds, 0: policy.key_lifetime */
	uint32_t backend;      /* kept and shown (sg_cred.h head) */
	uint32_t spki_len;
	uint8_t spki[SG_CRED_SPKI_MAX]; /* SubjectPublicKeyInfo DER */
};

/* A certificate identity's policy. */
struct sg_cred_policy {
	uint32_t flags;        /* SG_CRED_F_* */
	uint32_t key_lifetime; /* seconds, 0: policy.key_lifetime */
	uint32_t backend;
};

/*
 * Open (or with SG_CRED_CREATE create) the store in directory `path` with a
 * memory map of map_size bytes (the largest the database may grow to).
 * Returns the handle or NULL with errno. The handle may be shared by
 * threads: transactions are not tied to threads (MDB_NOTLS).
 */
struct sg_cred *sg_cred_open(const char *path, uint64_t map_size, unsigned flags);

/* Close; NULL is fine. No transaction may be running. */
void sg_cred_close(struct sg_cred *cs);

/*
 * Insert or replace one identity. The PSK is copied into the database page
 * directly (no intermediate copy). Returns 0, -EINVAL (bad lengths or
 * lifetime), -EROFS, -ENOSPC (map full), -EIO. Any thread; writers serialise.
 */
int sg_cred_put(struct sg_cred *cs, const void *identity, size_t id_len,
                const struct sg_cred_entry *e);

/*
 * Look up an identity into *out (caller owns it and must wipe it). Returns 0,
 * -ENOENT, -EINVAL, -EBADMSG (corrupt value), -EIO; on error *out is zeroed.
 * Any thread; never waits for a writer.
 */
int sg_cred_get(struct sg_cred *cs, const void *identity, size_t id_len, struct sg_cred_entry *out);

/*
 * A reader: many lookups in one LMDB read transaction, for a walk that
 * checks many identities (the restore checks every stored session's: one
 * sg_cred_get() opens and ends a transaction each time, most of its cost).
 * The snapshot is renewed every renew_every gets (0: SG_CRED_READER_RENEW),
 * so a long walk neither pins the pages an import frees for long nor reads
 * credentials older than renew_every gets. Readers never wait for a writer.
 * One thread at a time per reader; any thread. End it before sg_cred_close().
 */
#define SG_CRED_READER_RENEW 4096
struct sg_cred_reader;

/* Returns the reader (its transaction open) or NULL with errno (ENOMEM, or LMDB's reason). */
struct sg_cred_reader *sg_cred_reader_begin(struct sg_cred *cs, unsigned renew_every);

/*
 * sg_cred_get() in r's snapshot (renewed first when renew_every gets ran in
 * it). Same returns; on error *out is zeroed. A failed renewal is -errno
 * and the next get tries again.
 */
int sg_cred_reader_get(struct sg_cred_reader *r, const void *identity, size_t id_len,
                       struct sg_cred_entry *out);

/* End the transaction and free r. NULL is fine. */
void sg_cred_reader_end(struct sg_cred_reader *r);

/* Remove an identity. Returns 0, -ENOENT, -EINVAL, -EROFS, -EIO. Any thread. */
int sg_cred_delete(struct sg_cred *cs, const void *identity, size_t id_len);

/* Number of identities stored. Returns 0 or -EIO. Any thread. */
int sg_cred_count(struct sg_cred *cs, uint64_t *count);

/*
 * Import a CSV stream (format above) in one transaction: either every line
 * is stored or nothing changes. Reads line by line (no whole-file buffer)
 * and wipes each line after use. Returns 0, -EINVAL (a bad line: rep has
 * its number and why), -ENOSPC, -EIO. rep is always filled. Any thread.
 */
int sg_cred_import_csv(struct sg_cred *cs, FILE *in, struct sg_cred_import_report *rep);

/* sg_cred_import_csv() on a file; -errno when it cannot be opened. */
int sg_cred_import_file(struct sg_cred *cs, const char *csv_path,
                        struct sg_cred_import_report *rep);

/*
 * The same import fed in pieces (the control socket streams a file in
 * chunks): begin opens the one write transaction, feed takes any bytes
 * (lines may be cut anywhere between calls), commit stores everything or,
 * after a bad line, nothing. While an import runs, readers (handshake
 * lookups) see the store as it was before; another writer of this process
 * must not start (LMDB allows one write transaction: it would wait for
 * this one), of another process waits. Every handle ends with exactly one
 * commit or abort, which free it. One thread at a time per handle.
 */
struct sg_cred_import;

/* Returns the import or NULL with errno (EROFS, or LMDB's reason). */
struct sg_cred_import *sg_cred_import_begin(struct sg_cred *cs);

/*
 * Parse and store the complete lines of buf. Returns 0, or -EINVAL (a bad
 * line: sg_cred_import_progress() says which and why; the import can only
 * be aborted now), -ENOSPC, -EIO.
 */
int sg_cred_import_feed(struct sg_cred_import *im, const char *buf, size_t len);

/*
 * Who must hear that an import takes an identity's key away: fn(arg,
 * identity, len) runs for each line that gives an identity another key than
 * it had (in the store, or on an earlier line), or disables it, once the line
 * is stored in the import's transaction (not yet committed). Set it before
 * the first feed. Sessions made with the old key are the caller's to end
 * (issue 12: replacing a key ends the identity's sessions).
 */
typedef void sg_cred_revoked_fn(void *arg, const uint8_t *identity, size_t len);
void sg_cred_import_on_revoke(struct sg_cred_import *im, sg_cred_revoked_fn *fn, void *arg);

/*
 * Would committing the import take identity's committed key away (another
 * key, or disabled)? For a session made during the import: handshakes read
 * the committed store until the commit. The import's thread only.
 */
bool sg_cred_import_revokes(struct sg_cred_import *im, const void *identity, size_t len);

/* Lines read and the first bad one so far (imported stays 0 until commit). */
const struct sg_cred_import_report *sg_cred_import_progress(const struct sg_cred_import *im);

/*
 * The last line (even without a newline) is parsed, then everything is
 * committed; rep says how many were stored, or which line failed (nothing
 * stored). Frees im. Returns 0 or -errno.
 */
int sg_cred_import_commit(struct sg_cred_import *im, struct sg_cred_import_report *rep);

/* Drop everything fed so far and free im. NULL is fine. */
void sg_cred_import_abort(struct sg_cred_import *im);

/*
 * The rules of the CSV's identity field (1..SG_CRED_IDENTITY_MAX bytes, no
 * control character, '"' or ','), for identities given another way.
 * Returns 0 or -EINVAL with msg filled. Any thread.
 */
int sg_cred_identity_check(const void *identity, size_t len, char *msg, size_t msg_len);

/*
 * Decode n hex digits (2..2 * SG_CRED_PSK_MAX, even) into e->psk and
 * e->psk_len. Returns 0, or -EINVAL with msg filled and e untouched. Any thread.
 */
int sg_cred_psk_from_hex(const char *hex, size_t n, struct sg_cred_entry *e, char *msg,
                         size_t msg_len);

/* ---- raw public keys and certificate policies ---------------------------------- */

/*
 * Check a SubjectPublicKeyInfo DER (up to SG_CRED_SPKI_READ_MAX bytes): an
 * EC key on P-256 or P-384 (so at most SG_CRED_SPKI_MAX bytes), nothing
 * after it (OpenSSL parses it); hash gets its SHA-256. Returns 0 or -EINVAL
 * with msg filled (another kind of key is named). Any thread.
 */
int sg_cred_spki_check(const uint8_t *der, size_t len, uint8_t hash[SG_CRED_SPKI_HASH_LEN],
                       char *msg, size_t msg_len);

/*
 * Insert or replace a raw public key (r->spki checked, r->spki_hash its
 * SHA-256: sg_cred_spki_check()). 0, -EINVAL (bad fields), -EROFS, -ENOSPC,
 * -EIO. Any thread; writers serialise.
 */
int sg_cred_rpk_put(struct sg_cred *cs, const struct sg_cred_rpk *r);

/* The key whose SPKI hashes to hash into *out: 0, -ENOENT, -EBADMSG, -EIO. Any thread. */
int sg_cred_rpk_get(struct sg_cred *cs, const uint8_t hash[SG_CRED_SPKI_HASH_LEN],
                    struct sg_cred_rpk *out);

/*
 * An enabled key of identity whose hash starts with the 8 bytes prefix
 * (what a session keeps of it)? 1 yes, 0 no, -errno when the store failed.
 * Any thread.
 */
int sg_cred_rpk_holds(struct sg_cred *cs, const uint8_t prefix[8], const void *identity,
                      size_t id_len);

/* Remove the key of hash: 0, -ENOENT, -EROFS, -EIO. Any thread. */
int sg_cred_rpk_delete(struct sg_cred *cs, const uint8_t hash[SG_CRED_SPKI_HASH_LEN]);

/*
 * Remove every key of identity (a walk of every key: an operator's command,
 * not a device's). *removed says how many. 0 (also when none), -EROFS, -EIO.
 */
int sg_cred_rpk_delete_identity(struct sg_cred *cs, const void *identity, size_t id_len,
                                unsigned *removed);

/*
 * Call fn for each key in hash order, starting after `after` (NULL: from the
 * first), until fn returns non-zero or max keys were given. Returns how many
 * were given, or -errno. One read transaction; any thread.
 */
int sg_cred_rpk_list(struct sg_cred *cs, const uint8_t *after, unsigned max,
                     int (*fn)(void *arg, const struct sg_cred_rpk *r), void *arg);

/* Insert or replace identity's certificate policy. 0, -EINVAL, -EROFS, -ENOSPC, -EIO. */
int sg_cred_policy_put(struct sg_cred *cs, const void *identity, size_t id_len,
                       const struct sg_cred_policy *p);

/* identity's certificate policy: 0, -ENOENT, -EINVAL, -EBADMSG, -EIO. Any thread. */
int sg_cred_policy_get(struct sg_cred *cs, const void *identity, size_t id_len,
                       struct sg_cred_policy *out);

/* Remove it: 0, -ENOENT, -EINVAL, -EROFS, -EIO. */
int sg_cred_policy_delete(struct sg_cred *cs, const void *identity, size_t id_len);

/* Entries of one kind. 0 or -errno. Any thread. */
int sg_cred_count_kind(struct sg_cred *cs, enum sg_cred_kind kind, uint64_t *count);

/*
 * sg_cred_import_begin() for an import of kind (the CSV or PEM formats of the
 * head comment); the rest of the import API is the same for every kind. The
 * revocation callback hears an identity whose key or policy a line replaces
 * or disables.
 */
struct sg_cred_import *sg_cred_import_begin_kind(struct sg_cred *cs, enum sg_cred_kind kind);

/* Zero an entry so no key material stays in memory. */
void sg_cred_entry_wipe(struct sg_cred_entry *e);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_CRED_H */
