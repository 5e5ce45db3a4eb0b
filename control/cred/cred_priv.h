/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credential store's handle and its one value decoder, shared by the
 * files of control/cred/ (cred.c: the store and its import; cred_reader.c:
 * many lookups in one read transaction). Any thread, as sg_cred.h says.
 */
#ifndef STORMGATE_CONTROL_CRED_PRIV_H
#define STORMGATE_CONTROL_CRED_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "sg_cred.h"

/*
 * The named databases of the other kinds of entry (SG_CRED_KIND_RPK,
 * _CERTPOLICY): their names start with a control character, which no PSK
 * identity may hold (sg_cred_identity_valid()), so the main database's PSK
 * keys never meet them.
 */
#define CRED_DB_RPK        "\001rpk"
#define CRED_DB_CERTPOLICY "\001certpolicy"

struct sg_cred {
	MDB_env *env;
	MDB_dbi dbi;                        /* the main database: PSKs */
	MDB_dbi kind_dbi[SG_CRED_KIND_MAX]; /* [SG_CRED_KIND_PSK] is dbi */
	bool has_kind[SG_CRED_KIND_MAX];    /* a read-only store may lack the newer ones */
	unsigned flags;
};

/* One import's state for the kinds other than PSK (cred_rpk.c): the PEM reader's. */
struct cred_ext_import {
	enum sg_cred_kind kind;
	bool in_pem;  /* between BEGIN PUBLIC KEY and END PUBLIC KEY */
	bool have_id; /* a "# identity:" line came for the next key */
	uint32_t id_len;
	uint8_t id[SG_CRED_IDENTITY_MAX];
	uint64_t pem_line; /* where the open block began, for the error */
	size_t b64_len;
	char b64[800]; /* the block's base64: an SPKI of SG_CRED_SPKI_READ_MAX bytes */
};

/*
 * One line (no newline) of an rpk or certpolicy import into txn; first: no
 * record came before (a header may be skipped). fn(arg, identity) hears an
 * identity whose entry the line replaces with another or disables. Returns
 * 1 (stored), 0 (skipped: blank, comment, header, inside a PEM block), or
 * -EINVAL with msg filled (a bad line), or LMDB's -errno.
 */
int cred_ext_line(struct sg_cred *cs, MDB_txn *txn, struct cred_ext_import *x, const char *line,
                  size_t len, bool first, uint64_t line_no, char *msg, size_t msg_len,
                  sg_cred_revoked_fn *fn, void *arg);

/* At the end of the input: -EINVAL with msg when a PEM block or identity was left open. */
int cred_ext_end(const struct cred_ext_import *x, char *msg, size_t msg_len);

/* Open (creating them when writable) the named databases of txn's environment. */
int cred_kinds_open(struct sg_cred *cs, MDB_txn *txn);

/* CSV fields shared by the importers (cred.c). */
size_t sg_cred_csv_field(const char **s, const char *end, const char **field);
/* key_lifetime field: 0 or SG_CRED_LIFETIME_MIN..MAX; -EINVAL with msg. */
int sg_cred_csv_lifetime(const char *f, size_t n, uint32_t *out, char *msg, size_t msg_len);
/* state field: "", enabled or disabled into *flags; -EINVAL with msg. */
int sg_cred_csv_state(const char *f, size_t n, uint32_t *flags, char *msg, size_t msg_len);

/*
 * identity's entry as txn sees it into out (identity already checked).
 * Returns 0, -ENOENT, -EBADMSG (a corrupt value) or LMDB's -errno; out is
 * left for the caller to wipe on error.
 */
int sg_cred_get_txn(MDB_txn *txn, MDB_dbi dbi, const void *identity, size_t id_len,
                    struct sg_cred_entry *out);

/* 1..SG_CRED_IDENTITY_MAX bytes, not NULL. */
bool sg_cred_identity_valid(const void *identity, size_t id_len);

#endif /* STORMGATE_CONTROL_CRED_PRIV_H */
