/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session registry: the control plane's cold record of which PSK identity
 * (RFC 4279 §5.1) each installed session authenticated with, indexed both
 * ways, so `sessions list --identity X`, `sessions kill --identity X` and
 * `sessions show ID` cost one hash lookup, not a walk over millions of
 * sessions. The session table keeps only what workers need; this keeps the
 * rest (architecture: handshake and policy state live in control/).
 *
 * Memory: 16 bytes per session slot (allocated zeroed, so pages are touched
 * only as slots are used) plus one small block per distinct identity; with
 * the session store on, 9 more per slot for the credential tag of each
 * session (the store keeps it in the session's record: a credential that
 * changed while the daemon was down is not restored) and the record's
 * flags the table does not keep (EMS).
 * Session ids are the session table's (generation << 32 | slot): a slot
 * reused by a new session replaces the old record, so a missed delete never
 * leaves a wrong answer behind, only a stale id the caller checks against the
 * table.
 *
 * Threads: the gateway thread only (it installs and ends sessions); no locks.
 */
#ifndef STORMGATE_CONTROL_SG_SESSREG_H
#define STORMGATE_CONTROL_SG_SESSREG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_SESSREG_IDENTITY_MAX 128 /* as the credential store's identities */
#define SG_SESSREG_TAG_LEN      8   /* a session's credential tag (sg_store_cred_tag()) */

struct sg_sessreg;

/* A registry for session slots 0..capacity-1. NULL with errno EINVAL or ENOMEM. */
struct sg_sessreg *sg_sessreg_create(uint32_t capacity);

/* Free everything. NULL is fine. */
void sg_sessreg_destroy(struct sg_sessreg *r);

/*
 * Record that session id authenticated as identity (0..SG_SESSREG_IDENTITY_MAX
 * bytes, copied; 0: an anonymous client, tls.client_auth optional, which no
 * identity's list holds). Replaces what the slot held (an earlier session,
 * or the same one re-keyed under another identity). Returns 0, -EINVAL (slot
 * out of range, bad length) or -ENOMEM (the slot is then empty).
 */
int sg_sessreg_add(struct sg_sessreg *r, uint64_t id, const void *identity, size_t len);

/* Forget session id. Returns 0, or -ENOENT when the slot holds another id or none. */
int sg_sessreg_del(struct sg_sessreg *r, uint64_t id);

/* The identity of session id (valid until the next add or del; *len 0: anonymous), or NULL. */
const uint8_t *sg_sessreg_identity(const struct sg_sessreg *r, uint64_t id, size_t *len);

/*
 * Sessions of an identity: up to max ids into ids (most recent first).
 * Returns how many it has in all (may exceed max).
 */
size_t sg_sessreg_find(const struct sg_sessreg *r, const void *identity, size_t len, uint64_t *ids,
                       size_t max);

/*
 * Keep session id's credential tag (SG_SESSREG_TAG_LEN bytes, not all zero)
 * until its slot is deleted or added again. The tags' memory is made at the
 * first call. Returns 0, -ENOENT (the slot holds another id or none) or
 * -ENOMEM.
 */
int sg_sessreg_set_tag(struct sg_sessreg *r, uint64_t id, const uint8_t *tag);

/* Session id's credential tag (valid until its slot changes), or NULL: none kept. */
const uint8_t *sg_sessreg_tag(const struct sg_sessreg *r, uint64_t id);

/*
 * Keep session id's store record flags that the session table does not
 * keep (SG_STORE_F_EMS: extended master secret, RFC 7627) beside its tag
 * (a session without a tag too: a certificate's), until its slot is deleted
 * or added again. Returns 0, -ENOENT (the slot holds another id or none) or
 * -ENOMEM.
 */
int sg_sessreg_set_store_flags(struct sg_sessreg *r, uint64_t id, uint8_t flags);

/* Session id's store flags, 0 when none. */
uint8_t sg_sessreg_store_flags(const struct sg_sessreg *r, uint64_t id);

/*
 * Keep how session id's identity authenticated (enum sg_hs_auth: 0 a PSK,
 * then X.509, raw public key, none) until its slot is deleted or added
 * again; the memory is made at the first kind that is not 0. Returns 0,
 * -ENOENT (the slot holds another id or none) or -ENOMEM.
 */
int sg_sessreg_set_auth(struct sg_sessreg *r, uint64_t id, uint8_t auth);

/* Session id's kind of authentication; 0 (PSK) when none was set. */
uint8_t sg_sessreg_auth(const struct sg_sessreg *r, uint64_t id);

/* Sessions and distinct identities recorded. */
uint64_t sg_sessreg_sessions(const struct sg_sessreg *r);
uint64_t sg_sessreg_identities(const struct sg_sessreg *r);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_SESSREG_H */
