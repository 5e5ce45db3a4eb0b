/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sequence floors from the workers (issue 15, docs/restart.md "Sequence
 * floors from the workers"): the session store keeps each session's write
 * sequence and receive top so a restarted gateway never seals under a
 * sequence number it used before (AEAD nonce reuse) and refuses what it
 * accepted before (replays). The worker owning a session marks it
 * (dp_floor_mark(), dp_priv.h) where its stages already hold the values:
 * a seal whose next write sequence reaches a multiple of the step, a burst
 * that moved the receive top across one, an authenticated record that is
 * the session's first in a new time window. At the end of the burst the
 * marked sessions' values go to the control thread in one punted mbuf (more
 * only when they do not fit). Runs on the worker lcores (dp_floor_init() on
 * the main lcore at create); touches only the worker's own state, its
 * mbufs and the punt ring; never waits.
 */
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_priv.h"

void dp_floor_init(struct dp_worker *w, const struct sg_dp_conf *conf)
{
	/* The step rounded down to a power of two: a crossing is then a mask test. */
	w->floor_mask = conf->seq_step == 0
	                        ? UINT64_MAX
	                        : (UINT64_C(1) << (31 - __builtin_clz(conf->seq_step))) - 1;
	w->win_start = 0; /* set with the clock (sg_dp_worker_poll) when seq_interval_s is on */
	w->n_floor = 0;
}

/* Fill m with floors [from, from + n) of the burst. */
static void floor_fill(const struct dp_worker *w, struct sg_dp_floor *f, unsigned from, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct sg_rec_sa *sa = w->floor_sa[from + i];

		f[i].session = w->floor_id[from + i];
		f[i].tx_seq = sg_rec_sa_tx_seq(sa);
		f[i].rx_top = sa->rx_top;
	}
}

void dp_floor_flush(struct dp_worker *w)
{
	struct sg_dp *dp = w->dp;
	unsigned done = 0;

	while (done < w->n_floor) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(dp->conf.pool);
		unsigned k = w->n_floor - done, fit;
		struct sg_dp_meta *meta;
		void *data;

		if (m == NULL)
			break;
		fit = rte_pktmbuf_tailroom(m) / sizeof(struct sg_dp_floor);
		if (k > fit)
			k = fit;
		data = k != 0 ? rte_pktmbuf_append(m, (uint16_t)(k * sizeof(struct sg_dp_floor)))
		              : NULL;
		if (data == NULL) { /* an mbuf too small for one floor: none will do */
			rte_pktmbuf_free(m);
			break;
		}
		floor_fill(w, data, done, k);
		meta = dp_meta(dp, m);
		meta->punt = SG_DP_PUNT_FLOORS;
		meta->port = 0;
		meta->worker = (uint8_t)w->idx;
		meta->session = 0;
		/* The ring takes it or not; the mbuf is the control thread's once taken. */
		if (rte_ring_mp_enqueue(dp->punt, m) != 0) {
			rte_pktmbuf_free(m);
			dp_count(&w->c.floors_dropped, k);
		} else {
			dp_count(&w->c.floors_posted, k);
			dp_count(&w->c.punt_by[SG_DP_PUNT_FLOORS], 1);
		}
		done += k;
	}
	if (done < w->n_floor)
		dp_count(&w->c.floors_dropped, w->n_floor - done);
	w->n_floor = 0;
}
