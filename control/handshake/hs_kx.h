/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client's ClientKeyExchange (internal to sg_handshake; RFC 4279 §2,
 * RFC 5489 §2): its share checked, the identity's PSK and policy from the
 * credential store, then the key schedule; the client's Finished is
 * expected next (hs_finish.h).
 *
 * Above hs_keys, hs_output, hs_linger and hs_slots; called by hs_engine
 * only (hs_priv.h lists the stack). The engine's thread only. Touches the
 * slot of the datagram's peer (identity, credential fields, keys, state)
 * and calls ops.psk_lookup.
 */
#ifndef STORMGATE_CONTROL_HS_KX_H
#define STORMGATE_CONTROL_HS_KX_H

#include <stddef.h>
#include <stdint.h>

struct sg_hs_engine;
struct hs_rx;
struct hs_slot;

/*
 * A ClientKeyExchange (body, len) for slot s in state HS_WAIT_CKE. A share
 * that does not parse or is off the curve is dropped and the slot waits on
 * (RFC 6347 §4.1.2.7); otherwise the keys are derived (x->kx_here) and the
 * slot waits for the client's Finished. Secrets are wiped on every path.
 */
void sg_hs_on_client_kx(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s,
                        const uint8_t *body, size_t len);

#endif /* STORMGATE_CONTROL_HS_KX_H */
