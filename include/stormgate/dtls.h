/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DTLS 1.2 protocol constants used by the record layer, the handshake and the
 * data plane: one place, each with the RFC section it comes from.
 */
#ifndef STORMGATE_DTLS_H
#define STORMGATE_DTLS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ContentType (RFC 5246 §6.2.1, RFC 6347 §4.1; tls12_cid: RFC 9146 §4, IANA). */
#define SG_DTLS_CT_CHANGE_CIPHER_SPEC 20
#define SG_DTLS_CT_ALERT              21
#define SG_DTLS_CT_HANDSHAKE          22
#define SG_DTLS_CT_APPLICATION_DATA   23
#define SG_DTLS_CT_HEARTBEAT          24 /* RFC 6520; not supported */
#define SG_DTLS_CT_TLS12_CID          25 /* RFC 9146 §4: record carries a CID */
#define SG_DTLS_CT_RRC                27 /* RFC 9853 §4, §10.1: return_routability_check */

/*
 * Return routability check messages (RFC 9853 §4): msg_type(1) cookie(8),
 * sealed under the session's current keys. Types from the "TLS RRC Message
 * Types" registry (§10.3); unknown ones are parsed and ignored.
 */
#define SG_RRC_PATH_CHALLENGE 0
#define SG_RRC_PATH_RESPONSE  1
#define SG_RRC_PATH_DROP      2
#define SG_RRC_COOKIE_LEN     8 /* uint64 Cookie: 64 bits of entropy */
#define SG_RRC_MSG_LEN        (1 + SG_RRC_COOKIE_LEN)
/* RFC 9853 §5.5: T is 1 s when nothing is known of the path's round trip time. */
#define SG_RRC_TIMEOUT_MS 1000

/* ProtocolVersion on the wire: one's complement of the version (RFC 6347 §4.1). */
#define SG_DTLS_VERSION_1_0 0xfeff /* allowed in an initial ClientHello only */
#define SG_DTLS_VERSION_1_2 0xfefd

/*
 * DTLSPlaintext/DTLSCiphertext header (RFC 6347 §4.1): type(1) version(2)
 * epoch(2) sequence_number(6) length(2). With a CID (RFC 9146 §4) the CID
 * sits between sequence_number and length.
 */
#define SG_DTLS_HDR_LEN        13
#define SG_DTLS_HDR_OFF_TYPE   0
#define SG_DTLS_HDR_OFF_VER    1
#define SG_DTLS_HDR_OFF_EPOCH  3
#define SG_DTLS_HDR_OFF_SEQ    5
#define SG_DTLS_HDR_OFF_CID    11 /* RFC 9146 §4: cid[cid_length] */
#define SG_DTLS_HDR_LEN_CID(n) (SG_DTLS_HDR_LEN + (n))
#define SG_DTLS_CID_MAX        255 /* RFC 9146 §3: opaque cid<0..2^8-1> */

/* Sequence number space (RFC 6347 §4.1): 48 bits per epoch, must not wrap. */
#define SG_DTLS_SEQ_BITS 48
#define SG_DTLS_SEQ_MAX  ((UINT64_C(1) << SG_DTLS_SEQ_BITS) - 1)

/*
 * Record size limits. TLSPlaintext.length <= 2^14 (RFC 5246 §6.2.1);
 * TLSCiphertext.length <= 2^14 + 2048 (RFC 5246 §6.2.3), kept by DTLS
 * (RFC 6347 §4.1). A record over either limit is a record_overflow.
 */
#define SG_DTLS_MAX_PLAINTEXT  (1u << 14)
#define SG_DTLS_MAX_CIPHERTEXT ((1u << 14) + 2048)

/*
 * AEAD record protection (RFC 5246 §6.2.3.3): fragment = nonce_explicit ‖
 * aead-ciphered ‖ tag. GCM (RFC 5288 §3) and CCM (RFC 6655 §3) carry an
 * 8-byte explicit nonce after a 4-byte implicit salt (the write IV);
 * ChaCha20-Poly1305 (RFC 7905 §2) carries none and XORs the 64-bit sequence
 * number into a 12-byte write IV.
 */
#define SG_DTLS_AEAD_NONCE_LEN      12
#define SG_DTLS_AEAD_SALT_LEN       4
#define SG_DTLS_AEAD_EXPLICIT_LEN   8
#define SG_DTLS_AEAD_TAG_LEN        16
#define SG_DTLS_AEAD_CCM8_TAG_LEN   8    /* RFC 6655 §4: AES_128_CCM_8 */
#define SG_DTLS_AAD_LEN             13   /* RFC 5246 §6.2.3.3: seq_num type version length */
#define SG_DTLS_AAD_CID_FIXED_LEN   23   /* RFC 9146 §5: AAD without the cid bytes */
#define SG_DTLS_AAD_SEQ_PLACEHOLDER 0xff /* RFC 9146 §5: seq_num_placeholder byte */

/* TLS extension carrying the CID (RFC 9146 §3). */
#define SG_TLS_EXT_CONNECTION_ID 54

/* Cipher suites served by the record layer (IANA TLS Cipher Suites registry);
 * what each one is made of, and the default order: the registry, suite.h. */
#define SG_TLS_PSK_WITH_AES_128_CCM_8                    0xc0a8 /* RFC 6655 */
#define SG_TLS_PSK_WITH_AES_128_CCM                      0xc0a4 /* RFC 6655 */
#define SG_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8            0xc0ae /* RFC 7251 */
#define SG_TLS_PSK_WITH_AES_128_GCM_SHA256               0x00a8 /* RFC 5487 */
#define SG_TLS_PSK_WITH_AES_256_GCM_SHA384               0x00a9 /* RFC 5487 */
#define SG_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256       0xc02b /* RFC 5289 */
#define SG_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256         0xccab /* RFC 7905 */
#define SG_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256   0xccac /* RFC 7905 */
#define SG_TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256         0xd001 /* RFC 8442 */
#define SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256       0xd003 /* RFC 8442 */
#define SG_TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256         0xd005 /* RFC 8442 */
#define SG_TLS_ECDHE_ECDSA_WITH_AES_128_CCM              0xc0ac /* RFC 7251 */
#define SG_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384       0xc02c /* RFC 5289 */
#define SG_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 0xcca9 /* RFC 7905 */
#define SG_TLS_PSK_WITH_AES_128_CBC_SHA256               0x00ae /* RFC 5487 */
#define SG_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256       0xc023 /* RFC 5289 */

/*
 * CBC record protection (RFC 5246 §6.2.3.2, TLS 1.1+ explicit IV): fragment =
 * IV ‖ E(content ‖ MAC ‖ padding ‖ padding_length), or with encrypt_then_mac
 * (RFC 7366 §3) IV ‖ E(content ‖ padding ‖ padding_length) ‖ MAC. HMAC-SHA256
 * over the 13 bytes of seq_num type version length, then the content (or, EtM,
 * the IV and ciphertext). The key block holds the two MAC keys first and no
 * write IVs (RFC 5246 §6.3).
 */
#define SG_DTLS_CBC_BLOCK       16
#define SG_DTLS_CBC_IV_LEN      16
#define SG_DTLS_CBC_MAC_LEN     32 /* HMAC-SHA256 */
#define SG_DTLS_CBC_MAC_KEY_LEN 32
#define SG_DTLS_CBC_PAD_MAX     256 /* padding plus its length byte */

/*
 * AEAD integrity limits: forged records an endpoint may see under one key
 * before it must stop using it (RFC 9147 §4.5.3). DTLS 1.2 sets none, but the
 * analysis applies to its records alike; CCM_8's short tag makes its limit
 * tiny. Values above 2^32 - 1 saturate to it.
 */
#define SG_DTLS_INTEGRITY_LIMIT_CCM_8  (UINT32_C(1) << 7)   /* 2^7 */
#define SG_DTLS_INTEGRITY_LIMIT_CCM    UINT32_C(11863283)   /* 2^23.5, rounded down */
#define SG_DTLS_INTEGRITY_LIMIT_GCM    UINT32_C(0xffffffff) /* 2^36, saturated */
#define SG_DTLS_INTEGRITY_LIMIT_CHACHA UINT32_C(0xffffffff) /* 2^36, saturated */
/* HMAC-SHA256 with a 256-bit tag: no forgery limit worth a number. */
#define SG_DTLS_INTEGRITY_LIMIT_CBC UINT32_C(0xffffffff)

/* ===== Handshake (RFC 5246 §7, RFC 6347 §4.2-4.3, RFC 4279, RFC 5489) =====
 * Owned by the handshake server (control/handshake/); the extension,
 * group and alert numbers are IANA's TLS registries. */

/* Handshake message header: msg_type(1) length(3) message_seq(2)
 * fragment_offset(3) fragment_length(3) (RFC 6347 §4.2.2). */
#define SG_DTLS_HS_HDR_LEN 12

/* HandshakeType (RFC 5246 §7.4; hello_verify_request RFC 6347 §4.3.2;
 * new_session_ticket RFC 5077 §3.3). */
#define SG_TLS_HT_HELLO_REQUEST        0
#define SG_TLS_HT_CLIENT_HELLO         1
#define SG_TLS_HT_SERVER_HELLO         2
#define SG_TLS_HT_HELLO_VERIFY_REQUEST 3
#define SG_TLS_HT_NEW_SESSION_TICKET   4
#define SG_TLS_HT_CERTIFICATE          11
#define SG_TLS_HT_SERVER_KEY_EXCHANGE  12
#define SG_TLS_HT_CERTIFICATE_REQUEST  13
#define SG_TLS_HT_SERVER_HELLO_DONE    14
#define SG_TLS_HT_CERTIFICATE_VERIFY   15
#define SG_TLS_HT_CLIENT_KEY_EXCHANGE  16
#define SG_TLS_HT_FINISHED             20

/* Fixed sizes (RFC 5246 §7.4.1.2, §7.4.9, §8.1; RFC 6347 §4.2.1). */
#define SG_TLS_RANDOM_LEN        32
#define SG_TLS_SESSION_ID_MAX    32
#define SG_DTLS_COOKIE_MAX       255 /* RFC 6347 §4.3.2: cookie<0..2^8-1> */
#define SG_TLS_VERIFY_DATA_LEN   12
#define SG_TLS_MASTER_SECRET_LEN 48
#define SG_TLS_COMPRESSION_NULL  0
#define SG_TLS_CCS_VALUE         1 /* ChangeCipherSpec.type change_cipher_spec(1) */

/* PSK sizes every implementation must support (RFC 4279 §5.3); ours are the maxima. */
#define SG_TLS_PSK_IDENTITY_MAX 128
#define SG_TLS_PSK_MAX          64

/* Signalling cipher suite values (RFC 5746 §3.3, RFC 7507 §2). */
#define SG_TLS_EMPTY_RENEGOTIATION_INFO_SCSV 0x00ff
#define SG_TLS_FALLBACK_SCSV                 0x5600

/* ExtensionType (IANA; the RFC defining each). */
#define SG_TLS_EXT_SERVER_NAME            0      /* RFC 6066 §3 */
#define SG_TLS_EXT_MAX_FRAGMENT_LENGTH    1      /* RFC 6066 §4 */
#define SG_TLS_EXT_SUPPORTED_GROUPS       10     /* RFC 8422 §5.1.1 */
#define SG_TLS_EXT_EC_POINT_FORMATS       11     /* RFC 8422 §5.1.2 */
#define SG_TLS_EXT_SIGNATURE_ALGORITHMS   13     /* RFC 5246 §7.4.1.4.1 */
#define SG_TLS_EXT_ENCRYPT_THEN_MAC       22     /* RFC 7366; meaningless for AEAD */
#define SG_TLS_EXT_EXTENDED_MASTER_SECRET 23     /* RFC 7627 §5.1 */
#define SG_TLS_EXT_RECORD_SIZE_LIMIT      28     /* RFC 8449 §4 */
#define SG_TLS_EXT_SESSION_TICKET         35     /* RFC 5077 §3.2 */
#define SG_TLS_EXT_RRC                    61     /* RFC 9853 §3, §10.2: empty, with a CID */
#define SG_TLS_EXT_RENEGOTIATION_INFO     0xff01 /* RFC 5746 §3.2 */
/* SG_TLS_EXT_CONNECTION_ID (54, RFC 9146 §3) is defined above. */

#define SG_TLS_SNI_HOST_NAME 0 /* NameType host_name (RFC 6066 §3) */

/* MaxFragmentLength codes 1..4 mean 2^9..2^12 bytes (RFC 6066 §4). */
#define SG_TLS_MFL_MIN 1
#define SG_TLS_MFL_MAX 4

/* record_size_limit below 64 is an illegal_parameter (RFC 8449 §4). */
#define SG_TLS_RECORD_SIZE_LIMIT_MIN 64

/* NamedGroup (RFC 8422 §5.1.1) and ECPointFormat / ECCurveType (§5.1.2, §5.4). */
#define SG_TLS_GROUP_SECP256R1       23
#define SG_TLS_GROUP_SECP384R1       24
#define SG_TLS_GROUP_X25519          29
#define SG_TLS_EC_POINT_UNCOMPRESSED 0
#define SG_TLS_EC_CURVE_NAMED        3

/* AlertLevel and AlertDescription (RFC 5246 §7.2; RFC 4279 §2, RFC 5746 §3.6,
 * RFC 6066 §3, RFC 7507 §2). */
#define SG_TLS_ALERT_WARNING                1
#define SG_TLS_ALERT_FATAL                  2
#define SG_TLS_ALERT_CLOSE_NOTIFY           0
#define SG_TLS_ALERT_UNEXPECTED_MESSAGE     10
#define SG_TLS_ALERT_BAD_RECORD_MAC         20
#define SG_TLS_ALERT_RECORD_OVERFLOW        22
#define SG_TLS_ALERT_HANDSHAKE_FAILURE      40
#define SG_TLS_ALERT_ILLEGAL_PARAMETER      47
#define SG_TLS_ALERT_DECODE_ERROR           50
#define SG_TLS_ALERT_DECRYPT_ERROR          51
#define SG_TLS_ALERT_PROTOCOL_VERSION       70
#define SG_TLS_ALERT_INSUFFICIENT_SECURITY  71
#define SG_TLS_ALERT_INTERNAL_ERROR         80
#define SG_TLS_ALERT_INAPPROPRIATE_FALLBACK 86
#define SG_TLS_ALERT_NO_RENEGOTIATION       100
#define SG_TLS_ALERT_UNSUPPORTED_EXTENSION  110
#define SG_TLS_ALERT_UNRECOGNIZED_NAME      112
#define SG_TLS_ALERT_UNKNOWN_PSK_IDENTITY   115
/* Certificates (RFC 5246 §7.2.2) */
#define SG_TLS_ALERT_BAD_CERTIFICATE         42
#define SG_TLS_ALERT_UNSUPPORTED_CERTIFICATE 43
#define SG_TLS_ALERT_CERTIFICATE_REVOKED     44
#define SG_TLS_ALERT_CERTIFICATE_EXPIRED     45
#define SG_TLS_ALERT_CERTIFICATE_UNKNOWN     46
#define SG_TLS_ALERT_UNKNOWN_CA              48
#define SG_TLS_ALERT_ACCESS_DENIED           49

/* Certificates and raw public keys (RFC 5246 §7.4.2, §7.4.4, §7.4.8; RFC 8422
 * §5.4, §5.8; RFC 7250). */
#define SG_TLS_EXT_CLIENT_CERTIFICATE_TYPE 19 /* RFC 7250 §3 */
#define SG_TLS_EXT_SERVER_CERTIFICATE_TYPE 20 /* RFC 7250 §3 */
#define SG_TLS_CERT_TYPE_X509              0  /* RFC 7250 §3 CertificateType */
#define SG_TLS_CERT_TYPE_RPK               2
#define SG_TLS_CLIENT_CERT_ECDSA_SIGN      64 /* RFC 8422 §5.5 ClientCertificateType */
#define SG_TLS_HASH_SHA256                 4  /* RFC 5246 §7.4.1.4.1 HashAlgorithm */
#define SG_TLS_HASH_SHA384                 5
#define SG_TLS_SIG_ECDSA                   3      /* SignatureAlgorithm */
#define SG_TLS_SIGSCHEME_ECDSA_SHA256      0x0403 /* hash << 8 | signature */
#define SG_TLS_SIGSCHEME_ECDSA_SHA384      0x0503
#define SG_TLS_CERT_CHAIN_MAX              16384 /* our chain and a client's: bytes */

/* PRF labels (RFC 5246 §8.1, §6.3, §7.4.9; RFC 7627 §4). */
#define SG_TLS_LABEL_MASTER_SECRET          "master secret"
#define SG_TLS_LABEL_EXTENDED_MASTER_SECRET "extended master secret"
#define SG_TLS_LABEL_KEY_EXPANSION          "key expansion"
#define SG_TLS_LABEL_CLIENT_FINISHED        "client finished"
#define SG_TLS_LABEL_SERVER_FINISHED        "server finished"

/* Retransmission timer (RFC 6347 §4.2.4.1: start at 1 s, double, at least
 * 60 s cap); RFC 7925 §11 recommends a 9 s start on constrained networks. */
#define SG_DTLS_RTO_INITIAL_MS     1000
#define SG_DTLS_RTO_INITIAL_IOT_MS 9000
#define SG_DTLS_RTO_MAX_MS         60000

/* ===== end of Handshake ===== */

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_DTLS_H */
