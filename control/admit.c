/* SPDX-License-Identifier: Apache-2.0 */
/* Storm admission control: GCRA rate limit and ClientHello classification. */
#include <stormgate/dtls.h>

#include "sg_admit.h"

#define NS_PER_S 1000000000ull

void sg_admit_set_rate(struct sg_admit *a, uint32_t rate, uint64_t now_ns)
{
	a->rate = rate;
	a->interval = rate ? NS_PER_S / rate : 0;
	if (a->interval == 0 && rate != 0)
		a->interval = 1;
	a->tat = now_ns;
}

/* The bucket holds one second: a handshake is admitted while tat stays within it. */
bool sg_admit_take(struct sg_admit *a, uint64_t now_ns)
{
	uint64_t tat;

	if (a->rate == 0) {
		a->admitted++;
		return true;
	}
	tat = a->tat > now_ns ? a->tat : now_ns;
	if (tat + a->interval > now_ns + NS_PER_S) {
		a->refused++;
		a->last_refused_ns = now_ns;
		return false;
	}
	a->tat = tat + a->interval;
	a->admitted++;
	return true;
}

uint64_t sg_admit_available(const struct sg_admit *a, uint64_t now_ns)
{
	uint64_t tat;

	if (a->rate == 0)
		return 0;
	tat = a->tat > now_ns ? a->tat : now_ns;
	return (now_ns + NS_PER_S - tat) / a->interval;
}

static uint32_t be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

enum sg_admit_kind sg_admit_classify(const uint8_t *dgram, size_t len)
{
	/* Record header (13), handshake header (12), client_version (2), random (32). */
	enum { BODY = SG_DTLS_HDR_LEN + SG_DTLS_HS_HDR_LEN, SID = BODY + 2 + 32 };
	size_t rec_len, frag_len, off;

	if (dgram == NULL || len < SID + 1)
		return SG_ADMIT_OTHER;
	if (dgram[0] != SG_DTLS_CT_HANDSHAKE || dgram[1] != 0xfe || dgram[3] != 0 || dgram[4] != 0)
		return SG_ADMIT_OTHER; /* not epoch 0 of DTLS: a session's record */
	rec_len = (size_t)dgram[11] << 8 | dgram[12];
	if (dgram[SG_DTLS_HDR_LEN] != SG_TLS_HT_CLIENT_HELLO ||
	    be24(dgram + SG_DTLS_HDR_LEN + 6) != 0)
		return SG_ADMIT_OTHER;
	frag_len = be24(dgram + SG_DTLS_HDR_LEN + 9);
	/* The bytes of the ClientHello this datagram really carries. */
	if (rec_len > len - SG_DTLS_HDR_LEN)
		rec_len = len - SG_DTLS_HDR_LEN;
	if (rec_len < SG_DTLS_HS_HDR_LEN)
		return SG_ADMIT_OTHER;
	if (frag_len > rec_len - SG_DTLS_HS_HDR_LEN)
		frag_len = rec_len - SG_DTLS_HS_HDR_LEN;
	off = SID;
	if (off + 1 > BODY + frag_len)
		return SG_ADMIT_HELLO;
	off += 1 + dgram[off]; /* session_id<0..32> */
	if (off + 1 > BODY + frag_len)
		return SG_ADMIT_HELLO;
	return dgram[off] ? SG_ADMIT_HELLO_COOKIE : SG_ADMIT_HELLO; /* cookie<0..2^8-1> */
}
