/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificate messages of an ECDHE-ECDSA handshake (RFC 8422, RFC 5246
 * §7.4, RFC 7250), internal to sg_handshake: writers for what the server
 * sends (Certificate, the signed ServerKeyExchange, CertificateRequest) and
 * strict, bounded parsers for what the client sends (Certificate, the
 * ECDHE ClientKeyExchange, CertificateVerify). A leaf beside hs_codec.c, with
 * its contract: parsers read nothing outside (p, len), keep pointers into
 * the caller's buffer and return 0, -EBADMSG (decode_error) or -EINVAL;
 * writers append one whole message with its 12-byte header, 0 or -ENOSPC,
 * and a failed write leaves the buffer as it was. The ClientHello and
 * ServerHello extensions of certificates are declared in hs_codec.h.
 *
 * Any thread; no state.
 */
#ifndef STORMGATE_CONTROL_HS_CERTCODEC_H
#define STORMGATE_CONTROL_HS_CERTCODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_codec.h"

/* ServerECDHParams (RFC 8422 §5.4): curve_type, NamedGroup, point<1..255>. */
#define SG_HS_ECDH_PARAMS_MAX (4 + 255)

/* Write ServerECDHParams for group and point at p; returns its length (4 + point_len). */
size_t sg_hs_ecdh_params_put(uint8_t *p, uint16_t group, const uint8_t *point, uint8_t point_len);

/*
 * Certificate (RFC 5246 §7.4.2, RFC 7250 §3): body is the whole message
 * body, its 3-byte list length included (hs_cert_body()).
 */
int sg_hs_write_certificate(struct sg_hs_wbuf *w, uint16_t seq, const uint8_t *body, size_t len);

/*
 * ServerKeyExchange of ECDHE_ECDSA (RFC 8422 §5.4): params (ServerECDHParams,
 * as sg_hs_ecdh_params_put() wrote them), then the digitally-signed element
 * (RFC 5246 §4.7): SignatureAndHashAlgorithm scheme, opaque signature<0..2^16-1>.
 */
int sg_hs_write_server_kx_signed(struct sg_hs_wbuf *w, uint16_t seq, const uint8_t *params,
                                 size_t params_len, uint16_t scheme, const uint8_t *sig,
                                 size_t sig_len);

/*
 * CertificateRequest (RFC 5246 §7.4.4, RFC 8422 §5.5): certificate_types
 * {ecdsa_sign}, supported_signature_algorithms {scheme}, no
 * certificate_authorities.
 */
int sg_hs_write_certificate_request(struct sg_hs_wbuf *w, uint16_t seq, uint16_t scheme);

/*
 * A client's Certificate body: *list, *list_len: the certificate_list
 * without its 3-byte length (empty: no certificate). rpk: RFC 7250 §3, one
 * SubjectPublicKeyInfo; else each ASN.1Cert<1..2^24-1> must fill the list
 * exactly. 0 or -EBADMSG.
 */
int sg_hs_certificate_parse(const uint8_t *body, size_t len, bool rpk, const uint8_t **list,
                            size_t *list_len);

/* ClientKeyExchange of ECDHE_ECDSA (RFC 8422 §5.7): opaque point<1..2^8-1>. 0 or -EBADMSG. */
int sg_hs_client_kx_ecdhe_parse(const uint8_t *body, size_t len, const uint8_t **point,
                                uint8_t *point_len);

/*
 * CertificateVerify (RFC 5246 §7.4.8): SignatureAndHashAlgorithm, opaque
 * signature<0..2^16-1> (not empty). 0 or -EBADMSG.
 */
int sg_hs_cert_verify_parse(const uint8_t *body, size_t len, uint16_t *scheme, const uint8_t **sig,
                            uint16_t *sig_len);

#endif /* STORMGATE_CONTROL_HS_CERTCODEC_H */
