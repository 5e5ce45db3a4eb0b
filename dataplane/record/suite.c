/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cipher-suite registry (suite.h): the one table of suites, their AEADs,
 * PRF hashes, key exchanges, limits and default order. Data and lookups
 * only; any thread.
 */
#include <string.h>

#include <stormgate/suite.h>

/*
 * What a suite takes from its AEAD: the AEAD, its tag length and its RFC 9147
 * §4.5.3 integrity limit (dtls.h), so the rows of one AEAD cannot disagree.
 */
#define AEAD(a, tag, limit)                                                                        \
	.aead = SG_AEAD_##a, .tag_len = (tag), .integrity_limit = SG_DTLS_INTEGRITY_LIMIT_##limit
#define AEAD_CCM_8   AEAD(AES_128_CCM_8, SG_DTLS_AEAD_CCM8_TAG_LEN, CCM_8)
#define AEAD_CCM     AEAD(AES_128_CCM, SG_DTLS_AEAD_TAG_LEN, CCM)
#define AEAD_GCM_128 AEAD(AES_128_GCM, SG_DTLS_AEAD_TAG_LEN, GCM)
#define AEAD_GCM_256 AEAD(AES_256_GCM, SG_DTLS_AEAD_TAG_LEN, GCM)
#define AEAD_CHACHA  AEAD(CHACHA20_POLY1305, SG_DTLS_AEAD_TAG_LEN, CHACHA)
/* Not an AEAD: AES-128-CBC and HMAC-SHA256; "tag" is the MAC. */
#define AEAD_CBC_SHA256 AEAD(AES_128_CBC_SHA256, SG_DTLS_CBC_MAC_LEN, CBC)

/* Row pos of the table: name and value come from one token (dtls.h). */
#define ROW(pos, r, n, aead_, prf_, kx_)                                                           \
	[pos] = { .name = "TLS_" #n,                                                               \
		  .id = SG_TLS_##n,                                                                \
		  AEAD_##aead_,                                                                    \
		  .prf = SG_PRF_##prf_,                                                            \
		  .kx = SG_KX_##kx_,                                                               \
		  .rank = (r) }
/*
 * A negotiated suite of rank r: the rank puts the row at position r - 1, so
 * the order is written once (a rank used twice is a build error,
 * -Woverride-init; a rank left out, a row without a name, which the tests
 * refuse).
 */
#define RANKED(r, ...) ROW((r)-1, r, __VA_ARGS__)
/* A suite the record layer serves and the handshake does not negotiate: row RANKED + i. */
#define RECORD_ONLY(i, ...) ROW(SG_SUITES_RANKED + (i), 0, __VA_ARGS__)

/*
 * Kind first: ECDHE-PSK (forward secrecy, RFC 8442 / RFC 7905), then PSK,
 * then certificates and raw public keys (ECDHE-ECDSA, RFC 8422: negotiated
 * only when the gateway has a certificate or key, docs/certificates.md): a
 * client offering both kinds keeps the credential it was given for this
 * service. Within a kind, CCM leads: a device that has AES-CCM for the RFC
 * 7925 §4.2 suite (CCM_8) has it for CCM too, and CCM's 16-byte tag raises
 * the forgery limit of a key from 2^7 to 2^23.5 records (RFC 9147 §4.5.3), so
 * spoofing a device's address can no longer end its session with 128
 * packets. CCM_8 comes last of the AEADs: a device offering only it still
 * gets it. The CBC-SHA256 suites (LwM2M 1.0/1.1 servers must offer them)
 * come last of all: MAC-then-encrypt needs a constant-time check
 * (docs/record-layer.md, "CBC"), and an AEAD is always better.
 */
const struct sg_suite sg_suites[SG_SUITES_N] = {
	RANKED(1, ECDHE_PSK_WITH_AES_128_CCM_SHA256, CCM, SHA256, ECDHE_PSK),
	RANKED(2, ECDHE_PSK_WITH_AES_128_GCM_SHA256, GCM_128, SHA256, ECDHE_PSK),
	RANKED(3, ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, CHACHA, SHA256, ECDHE_PSK),
	RANKED(4, ECDHE_PSK_WITH_AES_128_CCM_8_SHA256, CCM_8, SHA256, ECDHE_PSK),
	RANKED(5, PSK_WITH_AES_128_CCM, CCM, SHA256, PSK),
	RANKED(6, PSK_WITH_AES_128_GCM_SHA256, GCM_128, SHA256, PSK),
	RANKED(7, PSK_WITH_AES_256_GCM_SHA384, GCM_256, SHA384, PSK),
	RANKED(8, PSK_WITH_CHACHA20_POLY1305_SHA256, CHACHA, SHA256, PSK),
	RANKED(9, PSK_WITH_AES_128_CCM_8, CCM_8, SHA256, PSK),
	RANKED(10, ECDHE_ECDSA_WITH_AES_128_CCM, CCM, SHA256, ECDHE_ECDSA),
	RANKED(11, ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, GCM_128, SHA256, ECDHE_ECDSA),
	RANKED(12, ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, GCM_256, SHA384, ECDHE_ECDSA),
	RANKED(13, ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, CHACHA, SHA256, ECDHE_ECDSA),
	RANKED(14, ECDHE_ECDSA_WITH_AES_128_CCM_8, CCM_8, SHA256, ECDHE_ECDSA),
	RANKED(15, ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, CBC_SHA256, SHA256, ECDHE_ECDSA),
	RANKED(16, PSK_WITH_AES_128_CBC_SHA256, CBC_SHA256, SHA256, PSK),
};

#undef ROW
#undef RANKED
#undef RECORD_ONLY
#undef AEAD
#undef AEAD_CCM_8
#undef AEAD_CCM
#undef AEAD_GCM_128
#undef AEAD_GCM_256
#undef AEAD_CHACHA
#undef AEAD_CBC_SHA256

const struct sg_suite *sg_suite_find(uint16_t id)
{
	for (unsigned i = 0; i < SG_SUITES_N; i++)
		if (sg_suites[i].id == id)
			return &sg_suites[i];
	return NULL;
}

const struct sg_suite *sg_suite_by_name(const char *name)
{
	for (unsigned i = 0; name != NULL && i < SG_SUITES_N; i++)
		if (strcmp(sg_suites[i].name, name) == 0)
			return &sg_suites[i];
	return NULL;
}

uint32_t sg_aead_integrity_limit(enum sg_aead aead)
{
	for (unsigned i = 0; i < SG_SUITES_N; i++)
		if (sg_suites[i].aead == aead)
			return sg_suites[i].integrity_limit;
	return UINT32_MAX;
}
