/* SPDX-License-Identifier: Apache-2.0 */
/* Test sessions' SAs (tc_sa.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tc_sa.h"

/* splitmix64 (Steele, Lea, Flood 2014): a deterministic stream, not for secrets. */
static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void tc_fill(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(splitmix(&x) >> 56);
}

void tc_keys_make(struct tc_keys *k, uint64_t seed)
{
	tc_fill(k->client_key, sizeof(k->client_key), seed * 4 + 1);
	tc_fill(k->server_key, sizeof(k->server_key), seed * 4 + 2);
	tc_fill(k->client_iv, sizeof(k->client_iv), seed * 4 + 3);
	tc_fill(k->server_iv, sizeof(k->server_iv), seed * 4 + 4);
	/* Seeds of their own: unlike another session's keys. */
	tc_fill(k->client_mac, sizeof(k->client_mac), (seed * 4 + 1) | UINT64_C(1) << 63);
	tc_fill(k->server_mac, sizeof(k->server_mac), (seed * 4 + 2) | UINT64_C(1) << 63);
}

struct sg_rec_sa *tc_sa_alloc(unsigned window)
{
	size_t sz = sg_rec_sa_size_max(window);
	struct sg_rec_sa *sa = aligned_alloc(SG_CACHE_LINE, sz);

	assert_non_null(sa);
	memset(sa, 0, sz);
	return sa;
}

void tc_sa_free(struct sg_rec_sa *sa, unsigned window)
{
	if (sa == NULL)
		return;
	sg_rec_sa_wipe(sa, window);
	free(sa);
}

void tc_sa_pair(struct sg_rec_sa *gw, struct sg_rec_sa *dev, unsigned window,
                const struct sg_rec_sa_params *p, const struct tc_keys *k)
{
	struct sg_rec_sa_params q = *p;

	q.rx_key = k->client_key;
	q.rx_iv = k->client_iv;
	q.rx_mac = k->client_mac;
	q.tx_key = k->server_key;
	q.tx_iv = k->server_iv;
	q.tx_mac = k->server_mac;
	if (gw != NULL)
		assert_int_equal(sg_rec_sa_init(gw, window, &q), 0);
	if (dev == NULL)
		return;
	q.rx_key = k->server_key;
	q.rx_iv = k->server_iv;
	q.rx_mac = k->server_mac;
	q.tx_key = k->client_key;
	q.tx_iv = k->client_iv;
	q.tx_mac = k->client_mac;
	assert_int_equal(sg_rec_sa_init(dev, window, &q), 0);
}
