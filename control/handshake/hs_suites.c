/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cipher suites the handshake engine serves and their default server
 * preference (handshake.h). Data only, no dependency: sg_config links it to
 * name and order policy.suites, so the daemon's default and the engine's
 * cannot drift apart.
 */
#include <stormgate/handshake.h>

/* Name and value from one token, so they cannot disagree (IANA, dtls.h). */
#define SUITE(n, aead, sha384, ecdhe)                                                              \
	{                                                                                          \
		"TLS_" #n, SG_TLS_##n, aead, sha384, ecdhe                                         \
	}

/*
 * Kind first: ECDHE-PSK (forward secrecy, RFC 8442 / RFC 7905), then PSK.
 * Within a kind, CCM leads: a device that has AES-CCM for the RFC 7925 §4.2
 * suite (CCM_8) has it for CCM too, and CCM's 16-byte tag raises the forgery
 * limit of a key from 2^7 to 2^23.5 records (RFC 9147 §4.5.3), so spoofing a
 * device's address can no longer end its session with 128 packets. CCM_8
 * comes last: a device offering only it still gets it.
 */
const struct sg_hs_suite sg_hs_suites[SG_HS_N_SUITES] = {
	SUITE(ECDHE_PSK_WITH_AES_128_CCM_SHA256, SG_AEAD_AES_128_CCM, 0, 1),
	SUITE(ECDHE_PSK_WITH_AES_128_GCM_SHA256, SG_AEAD_AES_128_GCM, 0, 1),
	SUITE(ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, SG_AEAD_CHACHA20_POLY1305, 0, 1),
	SUITE(ECDHE_PSK_WITH_AES_128_CCM_8_SHA256, SG_AEAD_AES_128_CCM_8, 0, 1),
	SUITE(PSK_WITH_AES_128_CCM, SG_AEAD_AES_128_CCM, 0, 0),
	SUITE(PSK_WITH_AES_128_GCM_SHA256, SG_AEAD_AES_128_GCM, 0, 0),
	SUITE(PSK_WITH_AES_256_GCM_SHA384, SG_AEAD_AES_256_GCM, 1, 0),
	SUITE(PSK_WITH_CHACHA20_POLY1305_SHA256, SG_AEAD_CHACHA20_POLY1305, 0, 0),
	SUITE(PSK_WITH_AES_128_CCM_8, SG_AEAD_AES_128_CCM_8, 0, 0),
};

#undef SUITE

const struct sg_hs_suite *sg_hs_suite_find(uint16_t id)
{
	for (unsigned i = 0; i < SG_HS_N_SUITES; i++)
		if (sg_hs_suites[i].id == id)
			return &sg_hs_suites[i];
	return NULL;
}
