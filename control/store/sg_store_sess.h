/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store meets the session table: a record made from a live
 * session (its info and current SA), and the restore driver that walks the
 * store at start and puts every session that verifies back into the table
 * at its old id, with its old CID, at the sequence floors the restart
 * allows (docs/restart.md, "Restore driver and benchmarks").
 *
 * Thread: the control plane (the gateway thread), before the workers start
 * (restore) or as the table's single writer (sg_store_rec_from_session()).
 * Library sg_store_sess (sg_store_sess_dep): sg_store with the session
 * table and the record layer.
 */
#ifndef STORMGATE_CONTROL_SG_STORE_SESS_H
#define STORMGATE_CONTROL_SG_STORE_SESS_H

#include <stdbool.h>
#include <stdint.h>

#include <stormgate/record.h>
#include <stormgate/session.h>

#include "sg_store.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sg_store_restore_params {
	uint64_t now;      /* Unix s: a record whose deadline passed is not restored (expired) */
	uint32_t seq_step; /* the step and margin the floors were written with (meta `floors`) */
	uint32_t seq_margin;
	bool exact;         /* meta `clean` was there: the floors are exact, no leap */
	bool strict;        /* store.replay_strict: after a crash, rx refuses up to floor + step */
	unsigned n_workers; /* owner = a hash of the tuple % n_workers (1 if 0) */
	/* Optional. The owner worker of a session with this tuple (< n_workers), instead of
	 * the hash: the gateway's is the RX queue the NIC's RSS will give it. */
	uint16_t (*owner)(void *arg, const struct sg_sess_tuple *tu);
	/* Optional. Non-zero: not restored, counted revoked (credential changed or gone). */
	int (*check)(void *arg, const struct sg_store_rec *rec);
	/* Optional. After each insert with its id; non-zero: deleted again, counted failed. */
	int (*restored)(void *arg, uint64_t id, const struct sg_store_rec *rec);
	/* Optional. Every ~65,536 records and at the end. */
	void (*progress)(void *arg, uint64_t seen, uint64_t restored);
	/* Optional. Each record that did not verify, before it is deleted: its slot and the
	 * refusal's -errno (sg_store_bad_of() names it). Not called for records kept. */
	void (*damaged)(void *arg, uint32_t slot, int err);
	void *arg;
};

struct sg_store_restore_result {
	uint64_t seen;      /* records walked */
	uint64_t restored;  /* in the table */
	uint64_t expired;   /* past their deadline */
	uint64_t revoked;   /* refused by check() */
	uint64_t failed;    /* refused by the table (slot taken, CID of another length...) or by
	                       restored() */
	uint64_t refused;   /* did not verify: the sum of the store's refused[] */
	uint64_t deleted;   /* records not restored and deleted from the store (open group) */
	uint64_t kept;      /* refused but kept: sealed under another key or a newer version */
	uint64_t ns;        /* wall time of the whole restore */
	uint64_t open_ns;   /* of which walking and opening records (and check()) */
	uint64_t insert_ns; /* of which inserting into the table (and restored()) */
};

/*
 * Walk st and insert every record that verifies, has not expired and
 * passes check() into t at exactly its old id (gen << 32 | slot,
 * SG_SESS_F_ID), with its stored CID (SG_SESS_F_CID) or 4-tuple
 * (SG_SESS_F_TUPLE), in bulks (sg_sess_insert_bulk). Sequences:
 *   exact: tx = the stored tx_seq, rx floor = the stored rx_top;
 *   crash: tx = tx_seq + seq_step + seq_margin (no write sequence used
 *          before the crash is used again), rx floor = rx_top, + seq_step
 *          when strict;
 * everything below the rx floor counts as seen (sg_rec_sa_restore_floors).
 * Damage is counted per reason in sg_store_stats() and in r->refused,
 * never fatal. Every key copy is wiped. t must be empty of these slots and
 * the workers not started.
 * Then every record not restored is deleted from st in the open group
 * (counted in r->deleted; durable at the caller's next commit): expired,
 * revoked, failed and damaged ones (damaged() told first), so the store
 * holds what the table holds and a credential given back its old key does
 * not bring a revoked session back. Kept (r->kept): records sealed under
 * another store key (key_id) or of a version this build does not read: not
 * damage, an operator's change that may be undone (docs/restart.md).
 * Returns 0 (r filled, whatever was refused), or -ENOMEM, or the backend's
 * -errno (r holds what was done until then).
 */
int sg_store_restore(struct sg_store *st, struct sg_sess_table *t,
                     const struct sg_store_restore_params *p, struct sg_store_restore_result *r);

/*
 * A record for session info and its current SA (sg_sess_get_sa()): rec is
 * zeroed, then filled from both (gen, flags, CIDs, tuple, suite, deadline,
 * last_rx; AEAD, epoch, SA flags, record limit, keys, IVs, a CBC SA's MAC
 * keys from its MAC line at info->replay_window; tx_seq and rx_top from the
 * SA). auth, identity, cred_tag, token and backend are the
 * caller's to set; EMS too. The caller wipes rec.
 */
void sg_store_rec_from_session(struct sg_store_rec *rec, const struct sg_sess_info *info,
                               const struct sg_rec_sa *sa);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_STORE_SESS_H */
