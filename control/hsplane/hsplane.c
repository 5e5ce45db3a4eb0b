/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake plane's owner side: make the engines and their rings,
 * start and stop their threads, drain their FIFOs (install, then the final
 * flight; records handed back or freed), keep their CID caches full, post
 * commands, read their snapshots. The owner thread only (the gateway
 * thread; the main lcore at start and stop). Writes struct sg_hsplane and
 * the owner fields of each struct hsp_engine.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <rte_byteorder.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <stormgate/common.h>
#include <stormgate/record.h>
#include <stormgate/time.h>

#include "hsp_priv.h"

#define DEFAULT_BURST 32

static unsigned pow2_above(unsigned v)
{
	unsigned p = 1;

	while (p <= v)
		p <<= 1;
	return p;
}

static void engine_free(struct hsp_engine *e)
{
	if (e == NULL)
		return;
	sg_hs_engine_free(e->hs);
	sg_dp_ctl_tx_free(e->tx);
	sg_admit_sources_attach(&e->admit, NULL);
	sg_admit_sources_destroy(e->admit_src);
	if (e->msgs != NULL)
		for (unsigned i = 0; i < e->n_msgs; i++)
			rte_pktmbuf_free(e->msgs[i].m);
	if (e->sa_mem != NULL)
		sg_wipe(e->sa_mem, e->sa_size * e->n_msgs);
	free(e->sa_mem);
	free(e->msgs);
	rte_ring_free(e->fifo);
	rte_ring_free(e->free);
	rte_ring_free(e->cids);
	rte_ring_free(e->released);
	rte_ring_free(e->cmds);
	if (e->efd >= 0)
		close(e->efd);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

/* The rings of engine e, named after it and the plane (rte_ring names are global). */
static struct rte_ring *ring(struct sg_hsplane *p, const char *what, unsigned i, unsigned esize,
                             unsigned count, unsigned flags)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "hs%s%u_%p", what, i, (void *)p);
	return rte_ring_create_elem(name, esize, count, SOCKET_ID_ANY, flags);
}

/* Engine i: its engine (slots of its share), pool, FIFO, caches, commands. 0 or -errno. */
static int engine_create(struct sg_hsplane *p, unsigned i, uint32_t slots)
{
	const unsigned spsc = RING_F_SP_ENQ | RING_F_SC_DEQ;
	unsigned fifo = p->conf.fifo ? p->conf.fifo : HSP_FIFO_DEFAULT;
	struct sg_hs_config hc = p->conf.hs;
	struct hsp_engine *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -ENOMEM;
	p->e[i] = e;
	e->p = p;
	e->idx = i;
	e->efd = -1;
	pthread_mutex_init(&e->mu, NULL);
	e->slots = slots;
	e->reuse_ms = p->conf.ecdhe_reuse_ms;
	e->reuse_storm_ms = p->conf.ecdhe_reuse_storm_ms;
	e->n_msgs = fifo;
	e->window = hc.replay_window;
	e->sa_size = RTE_ALIGN_CEIL(sg_rec_sa_size_max(hc.replay_window), SG_CACHE_LINE);
	e->msgs = calloc(fifo, sizeof(*e->msgs));
	e->sa_mem = aligned_alloc(SG_CACHE_LINE, e->sa_size * fifo);
	e->fifo = ring(p, "f", i, sizeof(void *), fifo + 1, spsc | RING_F_EXACT_SZ);
	e->free = ring(p, "p", i, sizeof(void *), fifo + 1, spsc | RING_F_EXACT_SZ);
	e->cmds = ring(p, "c", i, sizeof(struct hsp_cmd), HSP_CMD_RING, spsc);
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->msgs == NULL || e->sa_mem == NULL || e->fifo == NULL || e->free == NULL ||
	    e->cmds == NULL || e->efd < 0)
		return -ENOMEM;
	for (unsigned k = 0; k < fifo; k++) {
		e->msgs[k].sa = (struct sg_rec_sa *)(e->sa_mem + k * e->sa_size);
		RTE_VERIFY(rte_ring_sp_enqueue(e->free, &e->msgs[k]) == 0);
	}
	if (hc.cid_len > 0) {
		e->cid_target = p->conf.cid_cache ? p->conf.cid_cache : HSP_CID_DEFAULT;
		e->cids = ring(p, "i", i, SG_HS_CID_MAX, e->cid_target + 1, spsc | RING_F_EXACT_SZ);
		/* every slot may release its CID before the owner polls */
		e->released =
		        ring(p, "r", i, SG_HS_CID_MAX, pow2_above(slots + e->cid_target), spsc);
		if (e->cids == NULL || e->released == NULL)
			return -ENOMEM;
	}
	e->tx = sg_dp_ctl_tx_create(p->conf.dp);
	e->admit_src = sg_admit_sources_create(NULL); /* a random key per engine */
	if (e->tx == NULL || e->admit_src == NULL)
		return -ENOMEM;
	sg_admit_sources_attach(&e->admit, e->admit_src);
	hc.max_handshakes = slots;
	hsp_ops(e, &hc.ops);
	e->hs = sg_hs_engine_create(&hc);
	if (e->hs == NULL)
		return -errno;
	/* Admission and key reuse now, before any datagram (the thread is not running). */
	hsp_admission(e, &p->conf.admission);
	if (e->reuse_ms != 0)
		hsp_cmd_apply(e, &(struct hsp_cmd){ .kind = HSP_CMD_ECDHE_REUSE,
		                                    .ms = e->reuse_ms,
		                                    .storm_ms = e->reuse_storm_ms });
	hsp_publish(e, 0);
	return 0;
}

struct sg_hsplane *sg_hsplane_create(const struct sg_hsplane_conf *conf,
                                     const struct sg_hsplane_sink *sink)
{
	struct sg_hsplane *p;
	int rc = 0;

	if (conf == NULL || sink == NULL || sink->install == NULL || sink->record == NULL ||
	    conf->engines == 0 || conf->engines > SG_HSPLANE_ENGINES_MAX || conf->dp == NULL ||
	    sg_dp_hs_queues(conf->dp) < conf->engines || conf->burst > SG_HS_BURST_MAX ||
	    conf->n_cpus > SG_HSPLANE_ENGINES_MAX ||
	    (conf->hs.cid_len > 0 && (sink->cid_reserve == NULL || sink->cid_release == NULL))) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->conf = *conf;
	if (p->conf.burst == 0)
		p->conf.burst = DEFAULT_BURST;
	if (conf->n_cpus)
		memcpy(p->cpus, conf->cpus, conf->n_cpus * sizeof(p->cpus[0]));
	p->conf.cpus = p->cpus;
	p->sink = *sink;
	p->n = conf->engines;
	p->cred = conf->cred;
	for (unsigned i = 0; i < p->n && rc == 0; i++) {
		/* Evenly, the first ones taking what the division leaves. */
		uint32_t slots = conf->in_flight / p->n + (i < conf->in_flight % p->n);

		rc = engine_create(p, i, slots ? slots : 1);
	}
	if (rc != 0) {
		sg_hsplane_destroy(p);
		errno = -rc;
		return NULL;
	}
	p->stopped = false;
	sg_hsplane_poll(p); /* the CID caches filled */
	return p;
}

/* Pin thread i to its CPU when the configuration names one. */
static int pin(struct sg_hsplane *p, unsigned i)
{
	cpu_set_t set;

	if (i >= p->conf.n_cpus)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(p->cpus[i], &set);
	return -pthread_setaffinity_np(p->e[i]->tid, sizeof(set), &set);
}

int sg_hsplane_start(struct sg_hsplane *p)
{
	int rc = 0;

	if (p->running || p->stopped)
		return -EALREADY;
	__atomic_store_n(&p->stop, 0, __ATOMIC_RELEASE);
	p->running = true;
	for (unsigned i = 0; i < p->n && rc == 0; i++) {
		char name[RTE_MAX_THREAD_NAME_LEN];
		struct hsp_engine *e = p->e[i];

		snprintf(name, sizeof(name), "sg-hs-%u", (uint8_t)i); /* i < 64 */
		/* A DPDK control thread: EAL's control CPUs, never a worker lcore. */
		rc = -rte_ctrl_thread_create(&e->tid, name, NULL, hsp_thread_main, e);
		if (rc == 0) {
			e->started = true;
			rc = pin(p, i);
		}
	}
	if (rc != 0)
		sg_hsplane_stop(p);
	return rc;
}

/* Every released CID back to the table; the cache topped up to its target (owner). */
static void cids_poll(struct sg_hsplane *p, struct hsp_engine *e, bool refill)
{
	uint8_t c[SG_HS_CID_MAX];

	if (e->cids == NULL)
		return;
	while (rte_ring_sc_dequeue_elem(e->released, c, sizeof(c)) == 0) {
		p->sink.cid_release(p->sink.ctx, c);
		p->t.cids_returned++;
	}
	/* In the cache: what the owner put less what the engine took (its atomic count). */
	while (refill &&
	       e->cids_put - __atomic_load_n(&e->cids_taken, __ATOMIC_RELAXED) < e->cid_target) {
		memset(c, 0, sizeof(c));
		if (p->sink.cid_reserve(p->sink.ctx, c) != 0)
			break; /* the table is full: handshakes go on without a CID */
		RTE_VERIFY(rte_ring_sp_enqueue_elem(e->cids, c, sizeof(c)) == 0);
		e->cids_put++;
		p->t.cids_reserved++;
	}
}

/* Post c to engine e and wake it; a full ring loses it (counted). Owner. */
static void post(struct hsp_engine *e, const struct hsp_cmd *c)
{
	struct hsp_cmd copy = *c; /* the ring's API takes no const */
	uint64_t one = 1;

	if (e->p->stopped)
		return;
	if (rte_ring_sp_enqueue_elem(e->cmds, &copy, sizeof(copy)) != 0) {
		pthread_mutex_lock(&e->mu);
		e->snap.cmd_dropped++;
		pthread_mutex_unlock(&e->mu);
		return;
	}
	(void)!write(e->efd, &one, sizeof(one));
}

/* Send a served install's final flight, now that its session is published (owner). */
static void flight_send(struct sg_hsplane *p, const struct hsp_msg *m)
{
	const struct sg_hs_peer *pe = &m->res.peer;
	unsigned off = 0;

	for (unsigned k = 0; k < m->n_out; k++) {
		sg_dp_ctl_send_mapped(p->conf.dp, NULL, p->conf.tx_port, pe->laddr, pe->lport,
		                      pe->paddr, pe->pport, m->out + off, m->out_len[k]);
		off += m->out_len[k];
	}
}

/* One message of engine e's FIFO, served (owner). */
static void serve(struct sg_hsplane *p, struct hsp_engine *e, struct hsp_msg *m)
{
	if (m->kind == HSP_MSG_INSTALL) {
		if (p->sink.install(p->sink.ctx, &m->res, m->worker) == 0) {
			p->t.installed++;
			flight_send(p, m);
		} else {
			/* Its Finished never leaves: nor may the engine's kept copy. */
			p->t.install_failed++;
			post(e, &(struct hsp_cmd){ .kind = HSP_CMD_FORGET, .peer = m->res.peer });
		}
	} else {
		struct sg_hs_peer peer;
		const uint8_t *pl;
		uint16_t len;

		if (sg_dp_punt_udp(p->conf.dp, m->m, peer.laddr, peer.paddr, &peer.lport,
		                   &peer.pport, &pl, &len) == 0 &&
		    p->sink.record(p->sink.ctx, m->m, &peer, pl, len)) {
			p->t.records_back++;
		} else {
			rte_pktmbuf_free(m->m);
			p->t.unknown_dropped++;
		}
	}
	hsp_msg_done(e, m);
}

unsigned sg_hsplane_poll(struct sg_hsplane *p)
{
	unsigned total = 0;

	for (unsigned i = 0; i < p->n; i++) {
		struct hsp_engine *e = p->e[i];
		struct hsp_msg *m[32];
		unsigned n;

		do {
			n = rte_ring_sc_dequeue_burst(e->fifo, (void **)m, RTE_DIM(m), NULL);
			for (unsigned k = 0; k < n; k++)
				serve(p, e, m[k]);
			total += n;
		} while (n == RTE_DIM(m));
		cids_poll(p, e, !p->stopped);
	}
	return total;
}

void sg_hsplane_stop(struct sg_hsplane *p)
{
	if (p == NULL || p->stopped)
		return;
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < p->n; i++) {
		struct hsp_engine *e = p->e[i];
		uint64_t one = 1;

		if (e == NULL || !e->started)
			continue;
		(void)!write(e->efd, &one, sizeof(one));
		pthread_join(e->tid, NULL);
		e->started = false;
	}
	p->running = false;
	p->stopped = true;
	/* The engines are the owner's now: freed (secrets wiped; CIDs held go to their rings). */
	for (unsigned i = 0; i < p->n; i++) {
		struct hsp_engine *e = p->e[i];
		uint8_t c[SG_HS_CID_MAX];

		if (e == NULL)
			continue;
		hsp_publish(e, sg_mono_ms());
		sg_hs_engine_free(e->hs);
		e->hs = NULL;
		while (e->cids != NULL && rte_ring_sc_dequeue_elem(e->cids, c, sizeof(c)) == 0) {
			p->sink.cid_release(p->sink.ctx, c);
			p->t.cids_returned++;
		}
	}
	sg_hsplane_poll(p); /* the installs handed over, then the released CIDs */
}

void sg_hsplane_destroy(struct sg_hsplane *p)
{
	if (p == NULL)
		return;
	sg_hsplane_stop(p);
	for (unsigned i = 0; i < SG_HSPLANE_ENGINES_MAX; i++)
		engine_free(p->e[i]);
	free(p);
}

void sg_hsplane_cred_set(struct sg_hsplane *p, struct sg_cred *cred)
{
	__atomic_store_n(&p->cred, cred, __ATOMIC_RELEASE);
}

static void post_all(struct sg_hsplane *p, const struct hsp_cmd *c)
{
	for (unsigned i = 0; i < p->n; i++)
		post(p->e[i], c);
}

uint64_t sg_hsplane_cred_revoked(struct sg_hsplane *p)
{
	uint64_t g = __atomic_add_fetch(&p->cred_gen, 1, __ATOMIC_ACQ_REL);

	post_all(p, &(struct hsp_cmd){ .kind = HSP_CMD_REVOKE });
	return g;
}

bool sg_hsplane_lookup_stale(const struct sg_hsplane *p, const struct sg_hs_result *res)
{
	return res->user < __atomic_load_n(&p->cred_gen, __ATOMIC_ACQUIRE);
}

void sg_hsplane_policy(struct sg_hsplane *p, const struct sg_hs_policy *hp,
                       const struct sg_hsplane_admission *adm)
{
	struct hsp_cmd c = { .kind = HSP_CMD_POLICY, .policy = *hp, .adm = *adm };

	p->conf.admission = *adm;
	post_all(p, &c);
}

void sg_hsplane_finished_again(struct sg_hsplane *p, const struct sg_hs_peer *peer)
{
	unsigned q = sg_dp_hs_queue_of(p->conf.dp, peer->paddr, peer->pport);

	if (q < p->n)
		post(p->e[q], &(struct hsp_cmd){ .kind = HSP_CMD_FINISHED_AGAIN, .peer = *peer });
}

void sg_hsplane_ecdhe_reuse(struct sg_hsplane *p, uint32_t ms, uint32_t storm_ms)
{
	p->conf.ecdhe_reuse_ms = ms;
	p->conf.ecdhe_reuse_storm_ms = storm_ms;
	post_all(p,
	         &(struct hsp_cmd){ .kind = HSP_CMD_ECDHE_REUSE, .ms = ms, .storm_ms = storm_ms });
}

unsigned sg_hsplane_engines(const struct sg_hsplane *p)
{
	return p->n;
}

int sg_hsplane_engine_stats(const struct sg_hsplane *p, unsigned i,
                            struct sg_hsplane_engine_stats *st)
{
	struct hsp_engine *e;

	if (i >= p->n)
		return -EINVAL;
	e = p->e[i];
	pthread_mutex_lock(&e->mu);
	*st = e->snap;
	pthread_mutex_unlock(&e->mu);
	st->hs.max_handshakes = e->slots;
	return 0;
}

void sg_hsplane_totals(const struct sg_hsplane *p, struct sg_hsplane_totals *t)
{
	*t = p->t;
}
