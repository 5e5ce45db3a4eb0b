/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The end of a handshake (internal to sg_handshake): epoch-1 records of the
 * client (its Finished or alert; one kept when it overtook the key
 * exchange, RFC 6347 §4.1.2.6), the Finished verified (RFC 5246 §7.4.9), our
 * final flight sealed and kept in the linger table, the session installed.
 *
 * Above hs_flights, hs_keys, hs_output, hs_linger and hs_slots; called by
 * hs_engine only (hs_priv.h lists the stack). The engine's thread only.
 * Touches the slot of the datagram's peer, the engine's record context,
 * scratch and result SA, and calls ops.install.
 */
#ifndef STORMGATE_CONTROL_HS_FINISH_H
#define STORMGATE_CONTROL_HS_FINISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stormgate/handshake.h>

struct sg_hs_engine;
struct hs_rx;
struct hs_slot;

/*
 * An epoch-1 record (raw: header and fragment) for slot s: the client's
 * Finished, or its alert. kx_here: it came in the datagram whose
 * ClientKeyExchange derived the keys.
 */
void sg_hs_on_epoch1(struct sg_hs_engine *e, struct hs_rx *x, struct hs_slot *s, const uint8_t *raw,
                     size_t rec_len, bool kx_here);

/* What a failed Finished is counted as (the same alert for all, no oracle). */
enum sg_hs_counter sg_hs_finished_failure(const struct hs_slot *s);

#endif /* STORMGATE_CONTROL_HS_FINISH_H */
