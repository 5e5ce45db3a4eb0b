/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EC SubjectPublicKeyInfo: the curves' groups and the canonical encoding
 * (sg_spki.h). Any thread: the groups are made under pthread_once, then
 * only read.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include <stormgate/dtls.h>

#include "sg_spki.h"

static pthread_once_t groups_once = PTHREAD_ONCE_INIT;
static EC_GROUP *groups[2]; /* P-256, P-384 */

static void groups_init(void)
{
	groups[0] = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	groups[1] = EC_GROUP_new_by_curve_name(NID_secp384r1);
}

const EC_GROUP *sg_spki_group(uint16_t curve)
{
	pthread_once(&groups_once, groups_init);
	if (curve == SG_TLS_GROUP_SECP256R1)
		return groups[0];
	if (curve == SG_TLS_GROUP_SECP384R1)
		return groups[1];
	return NULL;
}

/* The headers of RFC 5480's form, up to the point: SEQUENCE { SEQUENCE { id-ecPublicKey,
 * the curve's OID }, BIT STRING (0 unused bits) }. */
static const uint8_t hdr_p256[] = { 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
	                            0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
	                            0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00 };
static const uint8_t hdr_p384[] = { 0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
	                            0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
	                            0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00 };

int sg_spki_canonical(const uint8_t *der, size_t len, uint16_t *curve, size_t *point_off)
{
	const uint8_t *hdr;
	size_t hl;
	uint16_t c;
	const EC_GROUP *g;
	EC_POINT *pt;
	int ok;

	if (der != NULL && len == sizeof(hdr_p256) + 65) {
		hdr = hdr_p256, hl = sizeof(hdr_p256), c = SG_TLS_GROUP_SECP256R1;
	} else if (der != NULL && len == sizeof(hdr_p384) + 97) {
		hdr = hdr_p384, hl = sizeof(hdr_p384), c = SG_TLS_GROUP_SECP384R1;
	} else {
		return 0;
	}
	if (memcmp(der, hdr, hl) != 0 || der[hl] != POINT_CONVERSION_UNCOMPRESSED)
		return 0;
	g = sg_spki_group(c);
	pt = g != NULL ? EC_POINT_new(g) : NULL;
	if (pt == NULL)
		return 0;
	ok = EC_POINT_oct2point(g, pt, der + hl, len - hl, NULL) == 1;
	EC_POINT_free(pt);
	ERR_clear_error();
	if (!ok)
		return -1;
	*curve = c;
	*point_off = hl;
	return 1;
}
