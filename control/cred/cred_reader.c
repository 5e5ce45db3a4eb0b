/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Many credential lookups in one LMDB read transaction (sg_cred.h,
 * "reader"), renewed every so many gets: mdb_txn_reset() lets the pages
 * the snapshot pinned go, mdb_txn_renew() takes the newest snapshot in the
 * same reader slot, cheaper than a new transaction. Any thread, one at a
 * time per reader; touches only the credential store, read-only.
 */
#include <errno.h>
#include <stdlib.h>

#include <stormgate/lmdb_err.h>

#include "cred_priv.h"
#include "sg_cred.h"

struct sg_cred_reader {
	struct sg_cred *cs;
	MDB_txn *txn;
	unsigned renew_every;
	unsigned gets; /* in this snapshot */
	bool reset;    /* txn was reset and its renewal failed: renew before the next get */
};

struct sg_cred_reader *sg_cred_reader_begin(struct sg_cred *cs, unsigned renew_every)
{
	struct sg_cred_reader *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		return NULL;
	r->cs = cs;
	r->renew_every = renew_every ? renew_every : SG_CRED_READER_RENEW;
	rc = sg_mdb_errno(mdb_txn_begin(cs->env, NULL, MDB_RDONLY, &r->txn));
	if (rc != 0) {
		free(r);
		errno = -rc;
		return NULL;
	}
	return r;
}

/* A fresh snapshot in the same transaction handle. 0 or LMDB's -errno. */
static int renew(struct sg_cred_reader *r)
{
	int rc;

	if (!r->reset)
		mdb_txn_reset(r->txn);
	rc = sg_mdb_errno(mdb_txn_renew(r->txn));
	r->reset = rc != 0;
	if (rc == 0)
		r->gets = 0;
	return rc;
}

int sg_cred_reader_get(struct sg_cred_reader *r, const void *identity, size_t id_len,
                       struct sg_cred_entry *out)
{
	int rc = 0;

	sg_cred_entry_wipe(out);
	if (!sg_cred_identity_valid(identity, id_len))
		return -EINVAL;
	if (r->reset || r->gets >= r->renew_every)
		rc = renew(r);
	if (rc == 0) {
		r->gets++;
		rc = sg_cred_get_txn(r->txn, r->cs->dbi, identity, id_len, out);
	}
	if (rc != 0)
		sg_cred_entry_wipe(out);
	return rc;
}

void sg_cred_reader_end(struct sg_cred_reader *r)
{
	if (r == NULL)
		return;
	mdb_txn_abort(r->txn);
	free(r);
}
