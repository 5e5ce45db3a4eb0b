/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PROXY protocol version 2 (HAProxy's proxy-protocol.txt §2.2) for the
 * backend `proxy` mode: every plaintext datagram to the M2M application
 * server starts with a header naming the device (its address and port), the
 * gateway address it reached, and the identity it authenticated with, so one
 * backend port serves millions of sessions; the server's replies carry the
 * same header (at least its UNIQUE_ID TLV) to name the device they are for.
 *
 * TLVs we send:
 *   PP2_TYPE_SSL (0x20): client = PP2_CLIENT_SSL, verify = 0 (the DTLS
 *     handshake authenticated the device), sub-TLV PP2_SUBTYPE_SSL_VERSION
 *     "DTLSv1.2";
 *   PP2_TYPE_UNIQUE_ID (0x05), 16 bytes: the session's 8-byte handle (its
 *     slot and generation, guessable) followed by the session's 8-byte token
 *     (64 random bits the control plane drew when it attached the session).
 *     A reply must carry both: the handle finds the session without a
 *     4-tuple lookup, the token proves the sender read a datagram of that
 *     session, so nobody who can only spoof the server's address reaches a
 *     device (docs/architecture.md, "Trust model");
 *   SG_PP2_TYPE_PSK_IDENTITY (0xE0, the custom range PP2_TYPE_MIN_CUSTOM..
 *     MAX_CUSTOM, 0xE0..0xEF): the identity the device authenticated with
 *     (CM9: the application must know which device authenticated): its PSK
 *     identity, its certificate's identity (subject CN or first SAN URI,
 *     tls.cert_identity) or the store's name of its raw public key;
 *   SG_PP2_TYPE_AUTH (0xE1, custom), 1 byte: how it authenticated (enum
 *     sg_pp2_auth), sent for every kind but a PSK, so a PSK session's header
 *     is what it always was. With a certificate or a raw public key, the
 *     PP2_TYPE_SSL client field also has PP2_CLIENT_CERT_CONN and
 *     PP2_CLIENT_CERT_SESS (the client presented a certificate on this
 *     connection and session; verify 0: it verified). The spec's
 *     PP2_SUBTYPE_SSL_CN is not sent: the identity may be a SAN URI, and
 *     0xE0 carries it whatever it is.
 *
 * Thread: any; no state, no allocation.
 */
#ifndef STORMGATE_PROXY_V2_H
#define STORMGATE_PROXY_V2_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_PP2_SIG_LEN           12
#define SG_PP2_HDR_LEN           16 /* signature, version/command, family/transport, length */
#define SG_PP2_TYPE_UNIQUE_ID    0x05
#define SG_PP2_TYPE_SSL          0x20
#define SG_PP2_SUBTYPE_SSL_VER   0x21
#define SG_PP2_TYPE_PSK_IDENTITY 0xE0 /* the identity, whatever its kind */
#define SG_PP2_TYPE_AUTH         0xE1 /* 1 byte: enum sg_pp2_auth; absent: PSK */
#define SG_PP2_CLIENT_CERT_CONN  0x02 /* PP2_TYPE_SSL client: certificate on this connection */
#define SG_PP2_CLIENT_CERT_SESS  0x04 /* ... and on this session */
#define SG_PP2_IDENTITY_MAX      128  /* longest PSK identity we accept (LwM2M) */
#define SG_PP2_TOKEN_LEN         8    /* a session's token: 64 random bits */
#define SG_PP2_UNIQUE_ID_LEN     (8 + SG_PP2_TOKEN_LEN) /* session handle, then token */
/* Largest header we emit: IPv6 addresses, SSL TLV, unique id, longest identity. */
#define SG_PP2_MAX_LEN                                                                             \
	(SG_PP2_HDR_LEN + 36 + (3 + 5 + 3 + 8) + (3 + SG_PP2_UNIQUE_ID_LEN) +                      \
	 (3 + SG_PP2_IDENTITY_MAX) + (3 + 1))

/* How the device authenticated (the values of enum sg_hs_auth, handshake.h). */
enum sg_pp2_auth {
	SG_PP2_AUTH_PSK = 0, /* a PSK identity */
	SG_PP2_AUTH_X509,    /* an X.509 certificate that verified against our CAs */
	SG_PP2_AUTH_RPK,     /* a raw public key (RFC 7250) found in our store */
	SG_PP2_AUTH_NONE,    /* no client credential (tls.client_auth optional) */
	SG_PP2_AUTH_MAX
};

struct sg_pp2_info {
	uint8_t family;  /* 4 or 6 */
	uint8_t src[16]; /* the device */
	uint8_t dst[16]; /* the gateway address the device reached */
	uint16_t sport;  /* host byte order */
	uint16_t dport;
	/* PP2_TYPE_UNIQUE_ID of SG_PP2_UNIQUE_ID_LEN bytes: session handle and token */
	bool has_session;
	uint64_t session;
	uint8_t token[SG_PP2_TOKEN_LEN];
	uint8_t auth;            /* enum sg_pp2_auth */
	uint8_t identity_len;    /* 0: none */
	const uint8_t *identity; /* encode: the identity; decode: points into the buffer */
};

/*
 * Write the header for info into buf (cap bytes). Returns its length, or
 * -ENOSPC when cap is too small, -EINVAL for a bad family, auth or an
 * identity longer than SG_PP2_IDENTITY_MAX.
 */
int sg_pp2_encode(uint8_t *buf, uint32_t cap, const struct sg_pp2_info *info);

/*
 * Parse the header at the start of a datagram of len bytes. Returns the
 * header length (the payload follows it), or -EINVAL when there is no valid
 * v2 PROXY header for a UDP datagram over IPv4 or IPv6 (bad signature,
 * version, command, family, transport, lengths, or a malformed TLV; an
 * SG_PP2_TYPE_AUTH of another length than 1 or an unknown value).
 * Unknown TLVs are skipped, and so is a PP2_TYPE_UNIQUE_ID of another length
 * than ours (has_session stays false: it names no session of ours). The
 * token is returned as read; the caller compares it (in constant time).
 */
int sg_pp2_decode(const uint8_t *buf, uint32_t len, struct sg_pp2_info *info);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_PROXY_V2_H */
