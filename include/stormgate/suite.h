/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cipher-suite registry: every DTLS 1.2 cipher suite Stormgate knows, one
 * row each, with what every part needs of it: the record layer (its AEAD and
 * that AEAD's forgery limit), the handshake engine (PRF hash, key exchange,
 * whether it negotiates it and in which default order), the configuration
 * (policy.suites: names, default list) and whoever prints a session.
 *
 * One table (sg_suites, dataplane/record/suite.c, in sg_record: the lowest
 * library that needs it), read by all of them; nobody keeps a mapping of its
 * own. The IANA values are protocol constants and stay in dtls.h.
 *
 * Data and lookups only: no allocation, no system call. Any thread.
 */
#ifndef STORMGATE_SUITE_H
#define STORMGATE_SUITE_H

#include <stdint.h>

#include <stormgate/dtls.h>
#include <stormgate/record_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a suite's premaster secret is made. */
enum sg_suite_kx {
	SG_KX_PSK = 0,     /* RFC 4279 §2 */
	SG_KX_ECDHE_PSK,   /* RFC 5489 §2, RFC 8442 */
	SG_KX_ECDHE_ECDSA, /* RFC 8422: certificates or raw public keys (RFC 7250) */
};

/* The hash of a suite's PRF, Finished and transcript (RFC 5246 §5, §7.4.9). */
enum sg_prf_hash {
	SG_PRF_SHA256 = 0,
	SG_PRF_SHA384, /* the _SHA384 suites (RFC 5487 §3) */
};

/* One cipher suite. */
struct sg_suite {
	const char *name; /* IANA name ("TLS_PSK_WITH_AES_128_CCM_8") */
	uint16_t id;      /* IANA value (dtls.h) */
	uint8_t aead;     /* enum sg_aead protecting its records */
	uint8_t prf;      /* enum sg_prf_hash */
	uint8_t kx;       /* enum sg_suite_kx */
	uint8_t tag_len;  /* tag bytes per record (RFC 6655 §4: 8 for CCM_8) */
	/*
	 * Place in the default server preference, 1 first; 0: the handshake
	 * engine does not negotiate the suite (the record layer still protects
	 * its records). The rank is the row's position: rows 0 .. RANKED - 1
	 * hold ranks 1 .. RANKED.
	 */
	uint8_t rank;
	/*
	 * RFC 9147 §4.5.3 integrity limit: records that may fail authentication
	 * under one key before it must be retired, i.e. the forgeries a key
	 * survives (saturated to 2^32 - 1). The same for every suite of an AEAD.
	 */
	uint32_t integrity_limit;
};

#define SG_SUITES_N      16 /* rows */
#define SG_SUITES_RANKED 16 /* rows the handshake engine negotiates: the first ones */

/*
 * Every suite: first the SG_SUITES_RANKED the handshake negotiates, in the
 * default server preference (ECDHE-PSK before PSK for forward secrecy, then
 * ECDHE-ECDSA; within each kind the CCM_8 suite last, because its 8-byte tag
 * lets 2^7 forged records exhaust a key where CCM takes 2^23.5 and GCM /
 * ChaCha20-Poly1305 2^36; the CBC-SHA256 suites last of all:
 * docs/handshake.md, "Suites and their order"), then the suites only the
 * record layer serves (rank 0; none today).
 */
extern const struct sg_suite sg_suites[SG_SUITES_N];

/* The row of IANA value id, or NULL. Any thread. */
const struct sg_suite *sg_suite_find(uint16_t id);

/* The row of IANA name name ("TLS_PSK_WITH_AES_128_CCM_8"), or NULL (NULL too). Any thread. */
const struct sg_suite *sg_suite_by_name(const char *name);

/*
 * RFC 9147 §4.5.3 integrity limit of an AEAD (its suites' integrity_limit):
 * the default of struct sg_rec_ctx_conf.auth_fail_limit. 2^32 - 1 for an
 * AEAD no suite uses. Any thread.
 */
uint32_t sg_aead_integrity_limit(enum sg_aead aead);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_SUITE_H */
