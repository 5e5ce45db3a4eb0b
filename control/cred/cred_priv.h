/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The credential store's handle and its one value decoder, shared by the
 * files of control/cred/ (cred.c: the store and its import; cred_reader.c:
 * many lookups in one read transaction). Any thread, as sg_cred.h says.
 */
#ifndef STORMGATE_CONTROL_CRED_PRIV_H
#define STORMGATE_CONTROL_CRED_PRIV_H

#include <stddef.h>

#include <lmdb.h>

#include "sg_cred.h"

struct sg_cred {
	MDB_env *env;
	MDB_dbi dbi;
	unsigned flags;
};

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
