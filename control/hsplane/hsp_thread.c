/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loop of one handshake thread `sg-hs-<i>`: commands from the owner
 * first (policy, revocation, a repeated Finished, ECDHE key reuse), then a
 * burst of its handshake queue (records of no session go to the owner in
 * order, the rest to the engine), the burst's messages onto the FIFO, the
 * engine's timers, the control-TX backlog, the stats snapshot; when a round
 * found nothing, a sleep that grows to 1 ms, cut short by the owner's
 * eventfd. Runs on the engine's thread only (hsp_publish() also on the
 * owner once the thread is gone). Frees every datagram it dequeued.
 */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/time.h>

#include "hsp_priv.h"
#include "sg_log.h"

/* Now in the engine's clocks (struct sg_hs_time). */
static struct sg_hs_time hsp_now(void)
{
	struct timespec m, r;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return (struct sg_hs_time){
		.mono_ms = (uint64_t)m.tv_sec * 1000 + (uint64_t)m.tv_nsec / 1000000,
		.unix_s = (uint64_t)r.tv_sec,
		.mono_us = (uint64_t)m.tv_sec * 1000000 + (uint64_t)m.tv_nsec / 1000,
	};
}

/* Admission refused a new handshake within the last second: a storm. */
static bool storming(const struct hsp_engine *e, uint64_t now_ns)
{
	return e->admit.last_refused_ns != 0 &&
	       now_ns - e->admit.last_refused_ns < HSP_STORM_WINDOW_NS;
}

/* ECDHE key reuse: the storm window while admission refuses, else the configured one. */
static void reuse_update(struct hsp_engine *e, uint64_t now_ns)
{
	uint32_t want =
	        e->reuse_storm_ms != 0 && storming(e, now_ns) ? e->reuse_storm_ms : e->reuse_ms;

	if (want != e->reuse_now && sg_hs_ecdhe_reuse_set(e->hs, want) == 0)
		e->reuse_now = want;
}

/* Does the identity's credential no longer hold (gone, or disabled)? For sg_hs_revoke(). */
static bool cred_gone(void *ctx, const uint8_t *identity, size_t len)
{
	struct hsp_engine *e = ctx;
	struct sg_cred *cs = __atomic_load_n(&e->p->cred, __ATOMIC_ACQUIRE);
	struct sg_cred_entry ce;
	bool gone;

	if (cs == NULL)
		return true;
	gone = sg_cred_get(cs, identity, len, &ce) != 0 || (ce.flags & SG_CRED_F_DISABLED);
	sg_wipe(&ce, sizeof(ce));
	return gone;
}

void hsp_admission(struct hsp_engine *e, const struct sg_hsplane_admission *a)
{
	unsigned n = e->p->n;

	/*
	 * An engine's share of the rate, rounded up; the per-source share is a
	 * percentage of it, so a source prefix (whose devices hash across the
	 * engines) keeps its share of the whole.
	 */
	sg_admit_set_rate(&e->admit, a->rate ? (a->rate + n - 1) / n : 0, sg_mono_ns());
	sg_admit_set_sources(&e->admit, a->source_share ? a->source_share : 100,
	                     a->prefix4 ? a->prefix4 : 32, a->prefix6 ? a->prefix6 : 128);
}

void hsp_cmd_apply(struct hsp_engine *e, const struct hsp_cmd *c)
{
	switch (c->kind) {
	case HSP_CMD_POLICY:
		sg_hs_policy_set(e->hs, &c->policy);
		hsp_admission(e, &c->adm);
		break;
	case HSP_CMD_REVOKE:
		sg_hs_revoke(e->hs, cred_gone, e);
		break;
	case HSP_CMD_FINISHED_AGAIN:
		sg_hs_finished_again(e->hs, hsp_now(), &c->peer);
		break;
	case HSP_CMD_FORGET:
		sg_hs_finished_forget(e->hs, &c->peer);
		break;
	case HSP_CMD_ECDHE_REUSE:
		e->reuse_ms = c->ms;
		e->reuse_storm_ms = c->storm_ms;
		reuse_update(e, sg_mono_ns());
		break;
	default:
		break;
	}
}

void hsp_publish(struct hsp_engine *e, uint64_t now_ms)
{
	struct sg_hsplane_engine_stats s;

	memset(&s, 0, sizeof(s));
	if (e->hs != NULL)
		sg_hs_stats_get(e->hs, &s.hs);
	s.admitted = e->admit.admitted;
	s.refused = e->admit.refused;
	s.refused_rate = e->admit.refused_rate;
	s.refused_source = e->admit.refused_source;
	s.available = sg_admit_available(&e->admit, sg_mono_ns());
	s.taken[0] = e->taken[0];
	s.taken[1] = e->taken[1];
	s.installs = e->installs;
	s.held_back = e->held_back;
	s.fifo_full = e->fifo_full;
	s.records = e->records;
	s.cid_empty = e->cid_empty;
	s.cid_lost = e->cid_lost;
	s.rounds = e->rounds;
	s.idle = e->idle;
	s.ecdhe_reusing = e->reuse_now != 0;
	s.published_ms = now_ms;
	pthread_mutex_lock(&e->mu);
	s.cmd_dropped = e->snap.cmd_dropped; /* the owner's, kept in the snapshot */
	e->snap = s;
	pthread_mutex_unlock(&e->mu);
	e->publish_ms = now_ms + HSP_PUBLISH_MS;
}

/*
 * The engine's share of a burst, in order: sg_hs_input_burst() handles the
 * n datagrams as n calls of sg_hs_input() would, with the key derivations
 * of the key exchanges among them batched (docs/handshake.md, "Batched key
 * derivation").
 */
static void feed(struct hsp_engine *e, struct sg_hs_time now, const struct sg_hs_dgram *d,
                 unsigned n)
{
	if (n > 0)
		sg_hs_input_burst(e->hs, now, d, n);
}

/*
 * One burst of the handshake queue. Records of no session whose first
 * record is application data or tls12_cid (RFC 9146) go to the owner, in
 * order behind the installs of the datagrams before them (the owner hands
 * them back once their session exists): the datagrams before such a record
 * are fed first. The rest is the engine's.
 */
static unsigned burst(struct hsp_engine *e, struct sg_hs_time now)
{
	struct sg_hsplane *p = e->p;
	struct rte_mbuf *m[SG_HS_BURST_MAX], *fed[SG_HS_BURST_MAX];
	struct sg_hs_dgram d[SG_HS_BURST_MAX];
	/*
	 * Back-pressure: each datagram may need one message (an install, a
	 * record), so take no more than the pool has free. While the gateway
	 * thread is behind, datagrams wait in the handshake queue (a full one
	 * drops them, counted, and the clients retransmit) instead of failing
	 * handshakes that completed.
	 */
	unsigned room = hsp_stash(e, p->conf.burst);
	unsigned n = sg_dp_hs_dequeue(p->conf.dp, e->idx, m, RTE_MIN(p->conf.burst, room)), k = 0;

	e->held_back += room < p->conf.burst;

	for (unsigned i = 0; i < n; i++) {
		const struct sg_dp_meta *meta = sg_dp_meta(p->conf.dp, m[i]);
		struct sg_hs_dgram *x = &d[k];
		uint16_t len;

		e->taken[meta->punt == SG_DP_PUNT_UNKNOWN]++;
		if (sg_dp_punt_udp(p->conf.dp, m[i], x->peer.laddr, x->peer.paddr, &x->peer.lport,
		                   &x->peer.pport, &x->data, &len) != 0) {
			rte_pktmbuf_free(m[i]);
			continue;
		}
		x->len = len;
		x->tag = meta->worker;
		if (meta->punt == SG_DP_PUNT_UNKNOWN && len >= SG_DTLS_HDR_LEN &&
		    (x->data[0] == SG_DTLS_CT_APPLICATION_DATA ||
		     x->data[0] == SG_DTLS_CT_TLS12_CID)) {
			const uint8_t *rec = x->data;

			feed(e, now, d, k); /* the installs before it first */
			rte_pktmbuf_free_bulk(fed, k);
			k = 0;
			if (!hsp_record(e, m[i], rec, len, meta->worker))
				rte_pktmbuf_free(m[i]);
			continue;
		}
		fed[k++] = m[i];
	}
	feed(e, now, d, k);
	rte_pktmbuf_free_bulk(fed, k);
	hsp_out_flush(e);
	return n;
}

/* Sleep up to us µs, or until the owner writes the eventfd (a command). */
static void idle_sleep(struct hsp_engine *e, unsigned us)
{
	struct pollfd pfd = { .fd = e->efd, .events = POLLIN };
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)us * 1000 };
	uint64_t v;

	if (ppoll(&pfd, 1, &ts, NULL) > 0 && (pfd.revents & POLLIN))
		(void)!read(e->efd, &v, sizeof(v));
}

void *hsp_thread_main(void *arg)
{
	struct hsp_engine *e = arg;
	struct sg_hsplane *p = e->p;
	unsigned sleep_us = HSP_SLEEP_MIN_US;
	/*
	 * An lcore id of its own gives the thread a mempool cache: every mbuf
	 * it allocates (flights) or frees (the datagrams it took) otherwise
	 * goes through the pool's shared ring, whose classic mode makes every
	 * other user spin while one is preempted mid-operation. With more
	 * threads than cores (2 engines, a worker and a fleet on 2) that spin
	 * stalled a storm for seconds (docs/hsplane.md). Without a free id the
	 * thread goes on uncached, as it did.
	 */
	bool registered = rte_thread_register() == 0;

	if (!registered)
		SG_LOG(HS, WARNING, "sg-hs-%u: no free lcore id (%s): its mbufs go uncached",
		       e->idx, rte_strerror(rte_errno));
	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		struct sg_hs_time now = hsp_now();
		struct hsp_cmd c;
		unsigned work = 0;

		while (rte_ring_sc_dequeue_elem(e->cmds, &c, sizeof(c)) == 0) {
			hsp_cmd_apply(e, &c);
			work++;
		}
		/* Frames that waited for worker 0's ring first: while many wait, the
		 * engine takes no new datagrams (they would only add to them). */
		e->tx_waiting = sg_dp_ctl_tx_retry_on(e->tx);
		if (e->tx_waiting < HSP_TX_HOLD)
			work += burst(e, now);
		if (now.mono_ms >= sg_hs_next_deadline(e->hs))
			sg_hs_tick(e->hs, now);
		if (e->reuse_storm_ms != 0)
			reuse_update(e, now.mono_ms * 1000000);
		e->rounds++;
		/* After a round that did something (a copy under the mutex), else every 10 ms. */
		if (work != 0 || now.mono_ms >= e->publish_ms)
			hsp_publish(e, now.mono_ms);
		if (work != 0 && e->tx_waiting == 0) {
			sleep_us = HSP_SLEEP_MIN_US;
			continue;
		}
		if (work != 0 || e->tx_waiting != 0) {
			/*
			 * Worker 0's ring is full: yield to it rather than spin on it (on
			 * a machine with few cores, a spinning sender starves the one
			 * thread that drains it).
			 */
			sleep_us = HSP_SLEEP_MIN_US;
			idle_sleep(e, sleep_us);
			continue;
		}
		e->idle++;
		idle_sleep(e, sleep_us);
		sleep_us = sleep_us * 2 > HSP_SLEEP_MAX_US ? HSP_SLEEP_MAX_US : sleep_us * 2;
	}
	hsp_publish(e, hsp_now().mono_ms);
	if (registered)
		rte_thread_unregister();
	return NULL;
}
