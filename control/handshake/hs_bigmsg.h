/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Large handshake messages reassembled from fragments (RFC 6347 §4.2.3),
 * internal to sg_handshake: a client's Certificate (a chain of up to
 * SG_TLS_CERT_CHAIN_MAX bytes) does not fit a slot's reassembly buffer, and
 * a slot stays under 2 KB, so each engine with certificates keeps a small,
 * bounded pool of large buffers, lent to the handshakes whose messages
 * need one, by slot index. When every buffer is lent, one idle for
 * HS_BIGMSG_IDLE_MS is taken back (its handshake's client retransmits);
 * otherwise the fragment is refused and the handshake waits for the
 * client's retransmission. A leaf: no engine, no callbacks.
 *
 * The engine's thread only; the pool belongs to one engine.
 */
#ifndef STORMGATE_CONTROL_HS_BIGMSG_H
#define STORMGATE_CONTROL_HS_BIGMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_codec.h"

#define HS_BIGMSG_BUFFERS 8    /* per engine */
#define HS_BIGMSG_IDLE_MS 1000 /* a lent buffer this idle may be taken back */

struct hs_bigmsg_pool;

/* A pool of n buffers of cap bytes each (and their bitmaps), all allocated now. NULL: ENOMEM. */
struct hs_bigmsg_pool *sg_hs_bigmsg_create(unsigned n, uint32_t cap);

/* Wipe and free. NULL: no-op. */
void sg_hs_bigmsg_free(struct hs_bigmsg_pool *p);

/*
 * Add fragment (h, frag) of owner's message at now_ms, into the buffer
 * owner holds or a free one. Fragments may come in any order, overlap and
 * repeat; one that disagrees with the message in progress (type, length,
 * seq, bytes) starts it over from itself. Returns 1 when the message is
 * whole (*body: its h->length bytes, valid until released or the owner's
 * next add), 0 while incomplete, -EMSGSIZE (longer than cap) or -ENOBUFS
 * (every buffer lent and busy).
 */
int sg_hs_bigmsg_add(struct hs_bigmsg_pool *p, uint32_t owner, uint64_t now_ms,
                     const struct sg_hs_msg_hdr *h, const uint8_t *frag, const uint8_t **body);

/* Whether owner holds a buffer (a message in progress or whole). */
bool sg_hs_bigmsg_holds(const struct hs_bigmsg_pool *p, uint32_t owner);

/* Give back owner's buffer, wiped (none held: no-op). NULL p: no-op. */
void sg_hs_bigmsg_release(struct hs_bigmsg_pool *p, uint32_t owner);

/* Buffers lent now (for tests and stats). */
unsigned sg_hs_bigmsg_in_use(const struct hs_bigmsg_pool *p);

#endif /* STORMGATE_CONTROL_HS_BIGMSG_H */
