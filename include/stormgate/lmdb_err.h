/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LMDB's return codes as -errno, for the stores built on it (the credential
 * store, the session store). Any thread.
 */
#ifndef STORMGATE_LMDB_ERR_H
#define STORMGATE_LMDB_ERR_H

#include <errno.h>

#include <lmdb.h>

/* LMDB returns errno values for system errors and its own negative codes. */
static inline int sg_mdb_errno(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		return -ENOSPC;
	case MDB_READERS_FULL:
		return -EAGAIN;
	case MDB_CORRUPTED:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_PAGE_NOTFOUND:
		return -EBADMSG;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

#endif /* STORMGATE_LMDB_ERR_H */
