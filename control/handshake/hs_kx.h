/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's ClientKeyExchange (internal to sg_handshake; RFC 4279 §2,
 * RFC 5489 §2): its share checked, the identity's PSK and policy from the
 * credential store, then the key schedule; the client's Finished is
 * expected next (hs_finish.h). A burst prepares the key exchanges it
 * carries first, so that their key schedules run as one batch
 * (sg_hs_kx_prepare, sg_hs_kx_prepared_run); each is then taken in its
 * datagram's turn by sg_hs_on_client_kx, as it would be alone.
 *
 * Above hs_keys, hs_output, hs_linger and hs_slots; called by hs_engine
 * only (hs_priv.h lists the stack). The engine's thread only. Touches the
 * slot of the datagram's peer (identity, credential fields, keys, state)
 * and calls ops.psk_lookup.
 */
#ifndef STORMGATE_CONTROL_HS_KX_H
#define STORMGATE_CONTROL_HS_KX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stormgate/handshake.h>

#include "hs_codec.h"
#include "hs_keys.h"

struct sg_hs_engine;
struct hs_rx;
struct hs_slot;

/*
 * A key exchange a burst prepared before its datagram's turn: the message
 * parsed, the share's secret, the credential store's answer and the key
 * schedule, for one slot in one handshake (its server_random). Holds
 * secrets: wiped once taken or when the burst ends. About 1.3 KB; the
 * engine keeps SG_HS_BURST_MAX of them (not per slot).
 */
struct hs_kx_pre {
	const struct hs_slot *s;
	const uint8_t *body; /* the message, in the burst's datagram */
	size_t len;
	uint16_t seq;
	uint16_t id_flag; /* SF_UNKNOWN_ID or SF_POLICY, 0: the identity is good */
	int cred_rc;      /* the credential store failed: -errno */
	uint8_t server_random[SG_TLS_RANDOM_LEN];
	struct sg_hs_client_kx kx;
	struct sg_hs_cred cred;
	struct hs_derive d;
};

/* RFC 4279 §2 / RFC 5489 §2 for slot s (in HS_WAIT_CKE): the whole step. */
void sg_hs_on_client_kx(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                        const uint8_t *body, size_t len);

/*
 * Prepare the complete ClientKeyExchange (body, len; message_seq seq) of
 * slot s, without changing the slot or counting anything: parse, share,
 * credential lookup, premaster, inputs of the key schedule. False when it
 * cannot be prepared (a malformed message, a bad share): the datagram's
 * turn then takes the step as it would alone, and fails it the same way.
 */
bool sg_hs_kx_prepare(struct sg_hs_engine *e, const struct hs_slot *s, const uint8_t *body,
                      size_t len, uint16_t seq, struct hs_kx_pre *p);

/* The key schedules of p[0..n) (n <= SG_HS_BURST_MAX) as one batch. */
void sg_hs_kx_prepared_run(struct sg_hs_engine *e, struct hs_kx_pre *p, unsigned n);

#endif /* STORMGATE_CONTROL_HS_KX_H */
