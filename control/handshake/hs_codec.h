/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DTLS 1.2 handshake message codec (internal to sg_handshake; the unit tests
 * and the fuzz targets use it too).
 *
 * Parsers take a pointer and a length and read nothing outside them; they
 * never allocate and keep pointers into the caller's buffer (valid while
 * that buffer is). They return 0, or a negative errno: -EBADMSG for a
 * malformed message (decode_error, RFC 5246 §7.2.2) and -EINVAL for a
 * well-formed one whose value is forbidden (illegal_parameter).
 *
 * Writers append one whole message with its 12-byte DTLS handshake header
 * (RFC 6347 §4.2.2, unfragmented) to a struct sg_hs_wbuf; they return 0 or
 * -ENOSPC, and a failed write leaves the buffer as it was.
 *
 * Any thread; no state.
 */
#ifndef STORMGATE_CONTROL_HS_CODEC_H
#define STORMGATE_CONTROL_HS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stormgate/dtls.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- handshake message header (RFC 6347 §4.2.2) ------------------------- */

struct sg_hs_msg_hdr {
	uint8_t type;      /* HandshakeType (SG_TLS_HT_*) */
	uint32_t length;   /* length of the whole message body (24 bits) */
	uint16_t seq;      /* message_seq */
	uint32_t frag_off; /* fragment_offset */
	uint32_t frag_len; /* fragment_length; the fragment follows the header */
};

/*
 * Parse one handshake header at p[0..len) and check that its fragment lies
 * inside the message (frag_off + frag_len <= length) and inside the buffer.
 * Returns the bytes the header and fragment take (> 0), or -EBADMSG.
 */
int sg_hs_msg_hdr_parse(const uint8_t *p, size_t len, struct sg_hs_msg_hdr *h);

/* Write a 12-byte header describing an unfragmented message of body_len bytes. */
void sg_hs_msg_hdr_write(uint8_t *p, uint8_t type, uint32_t body_len, uint16_t seq);

/* Write a fragment header: type, length, seq, frag_off, frag_len. */
void sg_hs_frag_hdr_write(uint8_t *p, const struct sg_hs_msg_hdr *h);

/* ---- ClientHello (RFC 5246 §7.4.1.2, RFC 6347 §4.2.1) ------------------- */

/* Groups we can serve, as bits of sg_hs_client_hello.groups. */
#define SG_HS_GROUP_BIT_X25519 0x01
#define SG_HS_GROUP_BIT_P256   0x02

/* Signalling found in the ClientHello (sg_hs_client_hello.flags). */
#define SG_HS_CH_F_EXTENSIONS    0x0001 /* an extensions block was present */
#define SG_HS_CH_F_EMS           0x0002 /* extended_master_secret (RFC 7627 §5.1) */
#define SG_HS_CH_F_RENEG_INFO    0x0004 /* renegotiation_info extension (RFC 5746 §3.2) */
#define SG_HS_CH_F_RENEG_SCSV    0x0008 /* TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3) */
#define SG_HS_CH_F_FALLBACK_SCSV 0x0010 /* TLS_FALLBACK_SCSV (RFC 7507) */
#define SG_HS_CH_F_TICKET        0x0020 /* session_ticket extension (RFC 5077 §3.2) */
#define SG_HS_CH_F_CID           0x0040 /* connection_id extension (RFC 9146 §3) */
#define SG_HS_CH_F_SNI           0x0080 /* server_name with a host_name (RFC 6066 §3) */
#define SG_HS_CH_F_GROUPS        0x0100 /* supported_groups (RFC 8422 §5.1.1) */
#define SG_HS_CH_F_POINT_FORMATS 0x0200 /* ec_point_formats with uncompressed (§5.1.2) */
#define SG_HS_CH_F_MFL           0x0400 /* max_fragment_length (RFC 6066 §4) */
#define SG_HS_CH_F_RSL           0x0800 /* record_size_limit (RFC 8449 §4) */
#define SG_HS_CH_F_RRC           0x1000 /* rrc, empty (RFC 9853 §3) */
#define SG_HS_CH_F_ETM           0x8000 /* encrypt_then_mac, empty (RFC 7366 §2) */

/* Longest host_name we keep; RFC 1035 names are at most 253 octets. */
#define SG_HS_SNI_MAX 255

/*
 * What a ClientHello says about certificates (ECDHE-ECDSA suites), parsed by
 * hs_certcodec.c: the ECDSA schemes of signature_algorithms (RFC 5246
 * §7.4.1.4.1) and the certificate types of RFC 7250 §4.1, each as bits
 * (SG_HS_CT_BIT_*) with which of the two the client lists first.
 */
#define SG_HS_CHC_F_SIG_ALGS          0x01 /* signature_algorithms present */
#define SG_HS_CHC_F_CLIENT_CT         0x02 /* client_certificate_type present */
#define SG_HS_CHC_F_SERVER_CT         0x04 /* server_certificate_type present */
#define SG_HS_CHC_F_P384              0x08 /* supported_groups lists secp384r1 */
#define SG_HS_SCHEME_BIT_ECDSA_SHA256 0x01
#define SG_HS_SCHEME_BIT_ECDSA_SHA384 0x02
#define SG_HS_CT_BIT_X509             0x01
#define SG_HS_CT_BIT_RPK              0x02

struct sg_hs_ch_cert {
	uint8_t flags;     /* SG_HS_CHC_F_* */
	uint8_t schemes;   /* SG_HS_SCHEME_BIT_* offered */
	uint8_t client_ct; /* SG_HS_CT_BIT_* the client can send */
	uint8_t server_ct; /* SG_HS_CT_BIT_* the client can take */
	uint8_t client_rpk_first;
	uint8_t server_rpk_first;
};

struct sg_hs_client_hello {
	uint16_t version;      /* client_version: highest the client supports */
	const uint8_t *random; /* SG_TLS_RANDOM_LEN bytes */
	const uint8_t *session_id;
	uint8_t session_id_len;
	const uint8_t *cookie;
	uint8_t cookie_len;
	uint32_t cookie_off;   /* offset of the cookie length byte in the body */
	const uint8_t *suites; /* cipher_suites: suites_len / 2 big-endian values */
	uint16_t suites_len;
	uint16_t flags;        /* SG_HS_CH_F_* */
	uint8_t groups;        /* SG_HS_GROUP_BIT_* offered */
	uint8_t mfl;           /* max_fragment_length code 1..4 */
	uint8_t reneg_len;     /* renegotiated_connection length (0 on an initial hello) */
	uint16_t rsl;          /* record_size_limit value */
	const uint8_t *ticket; /* session_ticket contents (may be empty) */
	uint16_t ticket_len;
	const uint8_t *cid; /* the CID the client wants in records sent to it */
	uint8_t cid_len;
	const uint8_t *sni; /* host_name */
	uint16_t sni_len;
	struct sg_hs_ch_cert cert; /* the certificate extensions (hs_certcodec.h) */
};

/*
 * Parse a ClientHello body (the reassembled message without its header).
 * Checks every length, that the compression methods include null, that
 * the extensions we interpret are well formed and not repeated, and the
 * values RFC 6066 §4, RFC 8449 §4 and RFC 8422 §5.1.2 forbid (-EINVAL).
 * Returns 0, -EBADMSG or -EINVAL.
 */
int sg_hs_client_hello_parse(const uint8_t *body, size_t len, struct sg_hs_client_hello *ch);

/*
 * The ClientHello extensions of certificates (hs_certcodec.c): if type is
 * signature_algorithms or a certificate-type extension (RFC 7250 §3), parse
 * data[0..n) into ch->cert; other types: 0, untouched. A repeated one,
 * or a malformed one: -EBADMSG. Called by sg_hs_client_hello_parse().
 */
int sg_hs_cert_ext_parse(uint16_t type, const uint8_t *d, uint16_t n,
                         struct sg_hs_client_hello *ch);

/* True if the ClientHello offers suite (one pass over cipher_suites). */
bool sg_hs_client_hello_has_suite(const struct sg_hs_client_hello *ch, uint16_t suite);

/* ---- ClientKeyExchange (RFC 4279 §2, RFC 5489 §2), Finished, alert ------ */

struct sg_hs_client_kx {
	const uint8_t *identity; /* psk_identity */
	uint16_t identity_len;
	const uint8_t *point; /* ECDHE-PSK: ecdh_Yc, NULL for plain PSK */
	uint8_t point_len;
};

/* Parse a ClientKeyExchange body; ecdhe selects the ECDHE-PSK form. */
int sg_hs_client_kx_parse(const uint8_t *body, size_t len, bool ecdhe, struct sg_hs_client_kx *kx);

/* A Finished body is exactly verify_data (RFC 5246 §7.4.9): 0 or -EBADMSG. */
int sg_hs_finished_parse(const uint8_t *body, size_t len, const uint8_t **verify_data);

/* ---- writers --------------------------------------------------------------- */

struct sg_hs_wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
};

/* HelloVerifyRequest (RFC 6347 §4.2.1): server_version, cookie. */
int sg_hs_write_hello_verify_request(struct sg_hs_wbuf *w, uint16_t seq, uint16_t version,
                                     const uint8_t *cookie, uint8_t cookie_len);

/* What the server puts in its ServerHello (RFC 5246 §7.4.1.3) and its extensions. */
struct sg_hs_server_hello {
	uint16_t version;
	const uint8_t *random; /* SG_TLS_RANDOM_LEN bytes */
	const uint8_t *session_id;
	uint8_t session_id_len;
	uint16_t suite;
	uint16_t flags;     /* SG_HS_CH_F_* for the extensions to echo: EMS,
	                       RENEG_INFO, TICKET, CID, SNI, POINT_FORMATS, MFL, RSL, RRC,
	                       ETM (a CBC suite only, RFC 7366 §3) */
	uint8_t mfl;        /* echoed max_fragment_length code */
	uint16_t rsl;       /* our record_size_limit */
	const uint8_t *cid; /* our CID for records the client sends us */
	uint8_t cid_len;
	/* RFC 7250 §4.2: the certificate types chosen, echoed; SG_TLS_CERT_TYPE_* + 1, 0: none */
	uint8_t server_ct;
	uint8_t client_ct;
};

int sg_hs_write_server_hello(struct sg_hs_wbuf *w, uint16_t seq,
                             const struct sg_hs_server_hello *sh);

/* The ServerHello's certificate-type extensions (RFC 7250 §4.2, hs_certcodec.c): their
 * bytes, and written at p (that many bytes); returns the end. */
size_t sg_hs_cert_sh_ext_len(const struct sg_hs_server_hello *sh);
uint8_t *sg_hs_cert_sh_ext_put(uint8_t *p, const struct sg_hs_server_hello *sh);

/*
 * ServerKeyExchange: psk_identity_hint (RFC 4279 §2), followed for
 * ECDHE-PSK by ServerECDHParams (RFC 5489 §2, RFC 8422 §5.4) when point is
 * not NULL. No signature: PSK authenticates.
 */
int sg_hs_write_server_kx(struct sg_hs_wbuf *w, uint16_t seq, const uint8_t *hint,
                          uint16_t hint_len, uint16_t group, const uint8_t *point,
                          uint8_t point_len);

int sg_hs_write_server_hello_done(struct sg_hs_wbuf *w, uint16_t seq);

int sg_hs_write_finished(struct sg_hs_wbuf *w, uint16_t seq,
                         const uint8_t verify_data[SG_TLS_VERIFY_DATA_LEN]);

/* NewSessionTicket (RFC 5077 §3.3): ticket_lifetime_hint, ticket. */
int sg_hs_write_new_session_ticket(struct sg_hs_wbuf *w, uint16_t seq, uint32_t lifetime_hint,
                                   const uint8_t *ticket, uint16_t ticket_len);

/* ---- reassembly (RFC 6347 §4.2.3) ------------------------------------------ */

/*
 * One handshake message being reassembled from fragments into a buffer the
 * caller owns (at most SG_HS_REASM_MAX bytes, so a byte bitmap is cheap).
 * Fragments may come in any order, overlap and repeat; overlapping bytes
 * must agree with what was already received, or the message is refused.
 */
#define SG_HS_REASM_MAX 256

struct sg_hs_reasm {
	uint8_t *buf;    /* message body, cap bytes */
	uint16_t cap;    /* <= SG_HS_REASM_MAX */
	uint16_t have;   /* bytes received so far */
	uint32_t length; /* message length from the first fragment */
	uint16_t seq;    /* message_seq being reassembled */
	uint8_t type;
	uint8_t active; /* a message is in progress */
	uint8_t bitmap[SG_HS_REASM_MAX / 8];
};

/* Start empty with buf of cap bytes. */
void sg_hs_reasm_init(struct sg_hs_reasm *r, uint8_t *buf, uint16_t cap);

/*
 * Add one fragment (header h, bytes frag). Returns 1 when the message is
 * complete (body in r->buf, r->length bytes), 0 while incomplete, -EBADMSG
 * when the fragment disagrees with the message in progress (type, length,
 * or bytes already received), -EMSGSIZE when the message exceeds cap.
 */
int sg_hs_reasm_add(struct sg_hs_reasm *r, const struct sg_hs_msg_hdr *h, const uint8_t *frag);

/* Forget the message in progress (the buffer is wiped). */
void sg_hs_reasm_reset(struct sg_hs_reasm *r);

/* Forget the message in progress but leave the buffer as it is (its bytes
 * are still being read, or the buffer is about to be reused). */
void sg_hs_reasm_forget(struct sg_hs_reasm *r);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_HS_CODEC_H */
