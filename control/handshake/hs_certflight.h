/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Our side of an ECDHE-ECDSA handshake (internal to sg_handshake; RFC 8422,
 * RFC 7250, docs/certificates.md): whether a ClientHello can have a
 * certificate suite with the loaded set (signature scheme, certificate
 * types, the curve of our key), what the ServerHello echoes of it, and the
 * messages of flight 4 between the ServerHello and the ServerHelloDone:
 * Certificate (our chain or raw public key, the set's shared bytes),
 * ServerKeyExchange (ECDHE parameters signed once per handshake with
 * hs_cert_sign(); the signature is kept in the slot so a retransmission
 * sends the same bytes) and CertificateRequest (client_auth).
 *
 * Above hs_slots and the certificate leaf (hs_cert.h); called by hs_hello
 * (the choice) and hs_flights (the messages) (hs_priv.h lists the stack).
 * The engine's thread only. Touches the slot it is given (its certificate
 * fields), the engine's flight buffer and its sign counters.
 */
#ifndef STORMGATE_CONTROL_HS_CERTFLIGHT_H
#define STORMGATE_CONTROL_HS_CERTFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include <stormgate/handshake.h>

#include "hs_cert.h"
#include "hs_codec.h"

struct sg_hs_engine;
struct hs_slot;

/* The engine's flight buffer: ServerHello .. ServerHelloDone with the longest chain. */
#define HS_CERT_FLIGHT_MAX (SG_TLS_CERT_CHAIN_MAX + 2048)

/*
 * Can this hello have a certificate suite with set? Sets *cflags (CF_* of
 * hs_slots.h: which certificate types, whether a CertificateRequest goes)
 * and returns 0; or returns the counter of the reason it cannot:
 * SG_HS_C_FAIL_UNSUPPORTED_CERT (no ECDSA scheme of our key's hash in
 * signature_algorithms, no certificate type in common, our key's curve
 * not among the client's groups, or client_auth require with no client
 * type we accept). Raw public keys from clients are accepted only when the
 * engine can look them up (rpk_lookup: ops.cert_lookup is set).
 */
int sg_hs_cert_choose(const struct hs_cert_set *set, const struct sg_hs_client_hello *ch,
                      bool rpk_lookup, uint8_t *cflags);

/* The ServerHello's RFC 7250 echoes for slot s (sh filled by the caller otherwise). */
void sg_hs_cert_server_hello(const struct hs_slot *s, struct sg_hs_server_hello *sh);

/* Messages of s's flight 4 between ServerHello and ServerHelloDone (2 or 3). */
unsigned sg_hs_cert_flight_msgs_n(const struct hs_slot *s);

/*
 * Append Certificate, ServerKeyExchange and, when asked, CertificateRequest
 * to w, from message_seq *seq on (advanced). The first time, sign the
 * ServerKeyExchange (RFC 8422 §5.4: the hash of client_random ‖
 * server_random ‖ ServerECDHParams) and keep the signature in the slot.
 * 0, -ENOSPC, -ESTALE (our ECDHE key is gone: the client's key exchange
 * came, a resend would be of no use) or -EIO (signing failed).
 */
int sg_hs_cert_flight_msgs(struct sg_hs_engine *e, struct hs_slot *s, struct sg_hs_wbuf *w,
                           uint16_t *seq);

#endif /* STORMGATE_CONTROL_HS_CERTFLIGHT_H */
