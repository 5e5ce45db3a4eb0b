/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the session table tests. */
#ifndef SG_SESS_TEST_H
#define SG_SESS_TEST_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include <stormgate/session.h>

/* splitmix64: a deterministic stream for test keys (not for secrets). */
static inline uint64_t st_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * The SA of test session k at version v: every key byte is a function of
 * (k, v), so a reader can tell whose keys it got and whether they were
 * wiped under it.
 */
static inline void st_sa(struct sg_rec_sa *sa, uint32_t k, uint16_t v)
{
	memset(sa, 0, sizeof(*sa));
	sa->aead = SG_AEAD_AES_128_GCM;
	sa->epoch = v;
	for (unsigned i = 0; i < 32; i += 8) {
		uint64_t r = st_mix((uint64_t)k << 20 | (uint64_t)v << 4 | i);

		memcpy(sa->rx_key + i, &r, 8);
		r = ~r;
		memcpy(sa->tx_key + i, &r, 8);
	}
	memcpy(sa->rx_key, &k, 4); /* readable owner */
	memcpy(sa->rx_iv, &k, 4);
}

/* Does sa hold exactly the keys of session k at its epoch? */
static inline int st_sa_ok(const struct sg_rec_sa *sa, uint32_t k)
{
	struct sg_rec_sa want;

	st_sa(&want, k, sa->epoch);
	return sa->aead == want.aead && memcmp(sa->rx_key, want.rx_key, 32) == 0 &&
	       memcmp(sa->tx_key, want.tx_key, 32) == 0 && memcmp(sa->rx_iv, want.rx_iv, 12) == 0;
}

/* The session number a (non-wiped) test SA belongs to. */
static inline uint32_t st_sa_owner(const struct sg_rec_sa *sa)
{
	uint32_t k;

	memcpy(&k, sa->rx_key, 4);
	return k;
}

/* 4-tuple of test session k: IPv4 198.18.x.y peers, or IPv6 fd00:5347::/64. */
static inline void st_tuple(struct sg_sess_tuple *t, uint32_t k, int v6)
{
	if (v6) {
		uint8_t l[16] = { 0xfd, 0x00, 0x53, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
		uint8_t p[16] = { 0xfd, 0x00, 0x53, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

		p[8] = 0x02;
		memcpy(p + 12, &k, 4);
		sg_sess_tuple_v6(t, l, htons(5684), p, htons((uint16_t)(1024 + (k % 50000))));
	} else {
		uint32_t peer = htonl(0xC6120000u | (k & 0x1ffff)); /* 198.18.0.0/15 */

		sg_sess_tuple_v4(t, htonl(0xC6120001u), htons(5684), peer,
		                 htons((uint16_t)(1024 + (k >> 17) % 60000)));
	}
}

static inline struct sg_sess_new st_new(const struct sg_rec_sa *sa, uint32_t k, int v6,
                                        uint8_t flags)
{
	struct sg_sess_new n;

	memset(&n, 0, sizeof(n));
	n.sa = sa;
	st_tuple(&n.tuple, k, v6);
	n.flags = flags;
	n.owner = (uint16_t)(k % 3);
	n.suite = 0xC0A8; /* TLS_PSK_WITH_AES_128_CCM_8 */
	n.identity = k;
	n.backend = k % 7;
	n.expires = 2000000000u;
	n.last_rx = 900;
	return n;
}

#endif /* SG_SESS_TEST_H */
