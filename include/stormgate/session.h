/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session table: up to SG_SESS_CAPACITY_MAX DTLS 1.2 sessions, found by the
 * UDP 4-tuple or by the connection ID we issued (RFC 9146), lock-free for
 * the workers. Design, numbers and the rules below in docs/session-table.md.
 *
 * Threads:
 *   - one control-plane writer thread calls every function marked "writer";
 *     a second concurrent writer is refused with -EBUSY (counted), never
 *     allowed to corrupt the table;
 *   - worker threads call the functions marked "worker" with their own
 *     struct sg_sess_worker; they take no lock and never block;
 *   - functions marked "any thread" may be called from anywhere.
 * Reclamation: a deleted session, or the keys dropped by a replace, are
 * wiped and reused only after every registered worker has reported a
 * quiescent state (rte_rcu_qsbr) since; a worker must not keep a struct
 * sg_sess_ref (or anything reached through it) across its quiescent report.
 */
#ifndef STORMGATE_SESSION_H
#define STORMGATE_SESSION_H

#include <stdint.h>
#include <string.h>

#include <stormgate/session_types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sg_sess_table;
struct sg_sess_worker;

/* ---- 4-tuple helpers (any thread) ---- */

/* Fill k from IPv4 addresses and ports, all in network byte order. */
static inline void sg_sess_tuple_v4(struct sg_sess_tuple *k, uint32_t laddr, uint16_t lport,
                                    uint32_t paddr, uint16_t pport)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memcpy(k->laddr, mapped, sizeof(mapped));
	memcpy(k->laddr + 12, &laddr, 4);
	memcpy(k->paddr, mapped, sizeof(mapped));
	memcpy(k->paddr + 12, &paddr, 4);
	k->lport = lport;
	k->pport = pport;
}

/* Fill k from IPv6 addresses (16 bytes each) and ports in network byte order. */
static inline void sg_sess_tuple_v6(struct sg_sess_tuple *k, const uint8_t laddr[16],
                                    uint16_t lport, const uint8_t paddr[16], uint16_t pport)
{
	memcpy(k->laddr, laddr, 16);
	memcpy(k->paddr, paddr, 16);
	k->lport = lport;
	k->pport = pport;
}

/* The control-plane id of the session a lookup found. */
static inline uint64_t sg_sess_ref_id(const struct sg_sess_ref *r)
{
	return (uint64_t)r->sess->gen << 32 | r->slot;
}

/*
 * Prefetch both lines of a hit's current SA (keys, then replay window):
 * the first thing a worker does with a burst's lookup results, one stage
 * before it reads them. Worker.
 */
static inline void sg_sess_prefetch_sa(const struct sg_sess_ref *r)
{
	if (r->sa != NULL) {
		__builtin_prefetch(r->sa, 1);
		__builtin_prefetch((const uint8_t *)r->sa + SG_CACHE_LINE, 1);
	}
}

/*
 * The same for a record about to be opened: the SA's first line holds all an
 * AES-128 open needs (record_types.h); the record layer fetches the second
 * for longer keys itself.
 */
static inline void sg_sess_prefetch_sa_rx(const struct sg_sess_ref *r)
{
	if (r->sa != NULL)
		__builtin_prefetch(r->sa, 1);
}

/* ---- table (control plane) ---- */

/*
 * Create a table. Reserves virtual memory for capacity sessions (hugepage
 * backed where the kernel allows; pages become resident as sessions are
 * inserted) and, unless p->qsbr is given, a QSBR variable for
 * p->max_threads workers. Copies p and the CID key. Any thread, before the
 * workers start. Returns NULL with errno EINVAL (bad parameter) or ENOMEM.
 */
struct sg_sess_table *sg_sess_table_create(const struct sg_sess_params *p);

/*
 * Wipe every key held by the table and free it. Writer, after every worker
 * has been destroyed (sg_sess_worker_destroy). NULL is a no-op.
 */
void sg_sess_table_destroy(struct sg_sess_table *t);

/* The QSBR variable workers report to (the caller's, or the table's own). Any thread. */
struct rte_rcu_qsbr *sg_sess_table_qsbr(const struct sg_sess_table *t);

/* Length of the CIDs this table issues. Any thread. */
unsigned sg_sess_cid_len(const struct sg_sess_table *t);

/*
 * Copy the 16-byte CID key to key (secret: the caller seals it into the
 * checkpoint so a restarted node decodes the CIDs devices still use, and
 * wipes its copy). Writer.
 */
void sg_sess_cid_key(const struct sg_sess_table *t, uint8_t key[16]);

/*
 * Insert a session. Copies s->sa (the caller keeps and wipes its copy) and
 * the peer CID. With SG_SESS_F_CID, issues a fresh CID, or, if s->cid is
 * set, takes the slot that CID names: one sg_sess_cid_reserve() held for it,
 * or a free one (restore after restart). With SG_SESS_F_ID the session gets
 * exactly the id s->id (restore: the free slot it names, -EEXIST if that
 * slot is held; a CID in s->cid must name the same slot, -EINVAL if not). On
 * success stores the session id in *id and, if cid is not NULL, our CID
 * (sg_sess_cid_len() bytes) in cid. Writer.
 * Returns 0, -ENOSPC (table, SA reserve, CBC pool or index full; a full table
 * is told before a duplicate 4-tuple), -EEXIST (4-tuple or restored CID in use),
 * -EINVAL or -EBUSY; each refusal is counted. Never waits.
 */
int sg_sess_insert(struct sg_sess_table *t, const struct sg_sess_new *s, uint64_t *id,
                   uint8_t *cid);

/*
 * Insert n sessions (restore from a checkpoint, mass re-attach): as
 * sg_sess_insert() for each s[i] (SG_SESS_F_ID and restored CIDs alike), in order, with the index
 * buckets of several sessions fetched at once. ids[i] gets each id, cids (if not NULL) n *
 * sg_sess_cid_len() bytes of CIDs, rcs[i] 0 or the -errno sg_sess_insert() would return. Writer.
 * Returns the number inserted.
 */
unsigned sg_sess_insert_bulk(struct sg_sess_table *t, const struct sg_sess_new *s, unsigned n,
                             uint64_t *ids, uint8_t *cids, int *rcs);

/*
 * Reserve a slot and write the CID (sg_sess_cid_len() bytes) a session in it
 * will have, before the session exists: a handshake tells the client its CID
 * in ServerHello (RFC 9146) and installs the session only after Finished.
 * The slot is not findable until sg_sess_insert() with s->cid = this CID and
 * SG_SESS_F_CID takes it; sg_sess_cid_release() gives it back if the
 * handshake fails. Writer. Returns 0, -ENOSPC (table full), -EBUSY or -EIO.
 */
int sg_sess_cid_reserve(struct sg_sess_table *t, uint8_t *cid);

/* Give back a reservation sg_sess_insert() did not take. Writer. Returns 0 or -ENOENT. */
int sg_sess_cid_release(struct sg_sess_table *t, const uint8_t *cid);

/*
 * Re-key: sa (sg_rec_sa_size_for(window, sa->aead) bytes, copied: the suite
 * may change, the keys take their pool) becomes the session's current SA
 * in one atomic store; the old current SA is kept as the
 * previous one, so records sealed under it are still accepted (RFC 6347
 * §4.1 lets a receiver keep old epochs' keys); the SA previous to that is
 * wiped after a grace period. Writer.
 * Returns 0, -ENOENT (stale id), -ENOSPC (SA reserve empty, or cbc_full),
 * -EINVAL, -EAGAIN or -EBUSY.
 */
int sg_sess_replace(struct sg_sess_table *t, uint64_t id, const struct sg_rec_sa *sa);

/*
 * Stop accepting the previous SA of a session (policy: some time after a
 * replace); it is wiped after a grace period. Writer.
 * Returns 0 (also when there was none), -ENOENT, -EAGAIN or -EBUSY.
 */
int sg_sess_retire_prev(struct sg_sess_table *t, uint64_t id);

/*
 * Delete a session: lookups stop finding it at once; its slot and SAs are
 * wiped and reused after a grace period. Writer. Never waits: -EAGAIN here,
 * in sg_sess_replace(), sg_sess_retire_prev() and sg_sess_delete_hold()
 * means the deferred-free queue is full of frees the workers still hold
 * (counted defer_full; nothing changed): with SG_SESS_P_DEFER_GROW only when
 * growing it found no memory.
 * Returns 0, -ENOENT (stale id), -EAGAIN or -EBUSY.
 */
int sg_sess_delete(struct sg_sess_table *t, uint64_t id);

/*
 * Delete a session and take its current SA for one last record (the
 * control plane seals a closing alert with it): as sg_sess_delete(), then
 * waits for a grace period (blocks like sg_sess_reclaim(t, 1), about one
 * burst of each online worker) so no worker holds the SA any more, copies
 * it (keys and the write sequence its owner left) into sa
 * (sg_rec_sa_size_for(window, its aead) bytes: give sg_rec_sa_size_max(window)
 * unless every session is AEAD), and wipes the table's copy. The caller
 * now owns the SA's last write sequence numbers and must sg_rec_sa_wipe()
 * its copy. Writer. Returns 0, -ENOENT (stale id), -EAGAIN or -EBUSY.
 */
int sg_sess_delete_take(struct sg_sess_table *t, uint64_t id, struct sg_rec_sa *sa);

/*
 * The same without waiting, for ending many sessions at once: as
 * sg_sess_delete(), but the current SA is neither wiped nor reused until
 * sg_sess_take_held() hands it over; *held names it. Writer. Returns 0,
 * -ENOENT (stale id), -EAGAIN or -EBUSY.
 */
int sg_sess_delete_hold(struct sg_sess_table *t, uint64_t id, struct sg_sess_held *held);

/*
 * Once every worker has reported a quiescent state since the
 * sg_sess_delete_hold() that made held (checked, never waited for): copy the
 * SA (keys and the write sequence its owner left) into sa, unless sa is NULL
 * (sg_rec_sa_size_for(window, its aead) bytes: sg_rec_sa_size_max(window)
 * holds any), and wipe and free the table's copy; held is then spent. Holds made in turn
 * come due in turn. Every hold must be taken before sg_sess_table_destroy()
 * (once the workers are gone, every hold is due). The caller of a copy must
 * sg_rec_sa_wipe() it. Writer. Returns 0, -EAGAIN (a worker may still use the
 * SA: held stays valid, try later), -EINVAL or -EBUSY.
 */
int sg_sess_take_held(struct sg_sess_table *t, const struct sg_sess_held *held,
                      struct sg_rec_sa *sa);

/*
 * Move a session to another worker. The new owner may write the replay
 * window and write sequence only after a grace period has passed since this
 * call (the old owner may be inside a burst). Writer. Returns 0, -ENOENT or -EBUSY.
 */
int sg_sess_set_owner(struct sg_sess_table *t, uint64_t id, uint16_t owner);

/*
 * Finish the deferred frees whose grace period has ended: wipe their keys
 * and return slots and SAs to the free lists. With wait, first waits for
 * every online worker to pass a quiescent state (so the call may block as
 * long as a worker's burst: tools and tests only; the gateway thread calls
 * it with 0). Writer. Returns the number of frees done.
 */
unsigned sg_sess_reclaim(struct sg_sess_table *t, int wait);

/* Find the session of a 4-tuple / of one of our CIDs. Writer. Returns 0 or -ENOENT. */
int sg_sess_find_tuple(struct sg_sess_table *t, const struct sg_sess_tuple *k, uint64_t *id);
int sg_sess_find_cid(struct sg_sess_table *t, const uint8_t *cid, uint64_t *id);

/* Copy the state of a session (no keys). Writer. Returns 0 or -ENOENT. */
int sg_sess_get(struct sg_sess_table *t, uint64_t id, struct sg_sess_info *info);

/*
 * Copy the current SA of a session (the struct's two lines: keys, IVs, and
 * the sequence words tx_word, rx_top and auth_failures, each read
 * atomically while the owner worker may advance them; the replay bits
 * beyond the struct are not copied) into sa, and for a CBC session its MAC
 * line too, at sg_rec_sa_mac(sa, window): sa must hold
 * sg_rec_sa_size_max(window) bytes unless the session is known to be AEAD
 * (then sizeof(struct sg_rec_sa)). A checkpoint of the session (issue 15). The caller owns the
 * copy's key material and must sg_rec_sa_wipe() it. Writer. Returns 0, -ENOENT (stale id), -EINVAL
 * or -EBUSY.
 */
int sg_sess_get_sa(struct sg_sess_table *t, uint64_t id, struct sg_rec_sa *sa);

/*
 * Iterate: start with *cursor = 0; each call copies the next live session
 * into info and advances *cursor. Writer. Returns 0, or -ENOENT at the end.
 */
int sg_sess_next(struct sg_sess_table *t, uint64_t *cursor, struct sg_sess_info *info);

/*
 * Key lifetimes and idle sessions: scan up to max_slots slots from *cursor
 * (start at 0) and store in ids the ids of live sessions whose expires (Unix
 * seconds, not 0) is at or before now, or, with idle_s set, whose last_rx
 * (Unix seconds: their start, then their last authenticated record) is
 * idle_s or more before now; at most max_ids of them. *cursor moves on and
 * wraps to 0 after the last slot, so calls spread over time sweep the table
 * forever at a bounded cost each. Writer. Returns how many ids it stored.
 */
unsigned sg_sess_expired(struct sg_sess_table *t, uint64_t *cursor, uint32_t max_slots,
                         uint32_t now, uint32_t idle_s, uint64_t *ids, unsigned max_ids);

/* Read the table counters (each one atomically, not all as one snapshot). Any thread. */
void sg_sess_stats_get(const struct sg_sess_table *t, struct sg_sess_stats *st);

/* ---- workers (data plane) ---- */

/*
 * Register worker thread_id (< max_threads of the QSBR variable) and make
 * its lookup context (holds an IPsec-MB manager for CID decoding). Control
 * thread, before the worker starts. Returns NULL with errno EINVAL or ENOMEM.
 */
struct sg_sess_worker *sg_sess_worker_create(struct sg_sess_table *t, unsigned thread_id);

/* Unregister and free a worker's context. Control thread, after the worker stopped. */
void sg_sess_worker_destroy(struct sg_sess_worker *w);

/*
 * A worker starts (online) or stops (offline, e.g. before sleeping)
 * holding references; and reports a quiescent state after each burst, when
 * it holds no struct sg_sess_ref. Worker, on its own context.
 */
void sg_sess_worker_online(struct sg_sess_worker *w);
void sg_sess_worker_offline(struct sg_sess_worker *w);
void sg_sess_quiescent(struct sg_sess_worker *w);

/*
 * Look up n sessions by 4-tuple (keys[i]) / by our CID (cids[i] points to
 * sg_sess_cid_len() bytes: the CID of a tls12_cid record, RFC 9146 §4), with
 * prefetching across the burst. refs[i] gets the SAs and hot line or a miss
 * reason. Does not touch the SAs (see sg_sess_prefetch_sa()). Worker, online.
 * Returns the number of hits.
 */
unsigned sg_sess_lookup_tuple_bulk(struct sg_sess_worker *w, const struct sg_sess_tuple *keys,
                                   unsigned n, struct sg_sess_ref *refs);
unsigned sg_sess_lookup_cid_bulk(struct sg_sess_worker *w, const uint8_t *const *cids, unsigned n,
                                 struct sg_sess_ref *refs);

/*
 * The peer's CID to put in records sent on this session (length
 * s->peer_cid_len). s from a lookup on this table. Worker or writer.
 */
const uint8_t *sg_sess_peer_cid(const struct sg_sess_table *t, const struct sg_sess *s);

/* ---- for the data plane ---- */

/* Number of session slots and the replay window (bits) of every SA. Any thread. */
uint32_t sg_sess_capacity(const struct sg_sess_table *t);
unsigned sg_sess_replay_window(const struct sg_sess_table *t);

/*
 * Look up n sessions by session id (gen << 32 | slot, as sg_sess_insert()
 * returned and sg_sess_ref_id() gives): a backend reply names its session by
 * id. A stale id (the slot was freed or reused since) is a miss with reason
 * SG_SESS_MISS_CID_CHECK. Worker, online. Returns the number of hits.
 */
unsigned sg_sess_lookup_id_bulk(struct sg_sess_worker *w, const uint64_t *ids, unsigned n,
                                struct sg_sess_ref *refs);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_SESSION_H */
