/* SPDX-License-Identifier: Apache-2.0 */
/* Test sessions' SAs (tc_sa.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tc_sa.h"

struct sg_rec_sa *tc_sa_alloc(unsigned window)
{
	size_t sz = sg_rec_sa_size(window);
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
	q.tx_key = k->server_key;
	q.tx_iv = k->server_iv;
	if (gw != NULL)
		assert_int_equal(sg_rec_sa_init(gw, window, &q), 0);
	if (dev == NULL)
		return;
	q.rx_key = k->server_key;
	q.rx_iv = k->server_iv;
	q.tx_key = k->client_key;
	q.tx_iv = k->client_iv;
	assert_int_equal(sg_rec_sa_init(dev, window, &q), 0);
}
