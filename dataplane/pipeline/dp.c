/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Data plane set-up and the control plane's side of it: the punt ring, the
 * handshake queues, the neighbour table and the control TX queue with its
 * per-thread handles (the sessions' backend side is backend.c's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_random.h>
#include <rte_mbuf_dyn.h>

#include <stormgate/bytes.h>
#include <stormgate/time.h>

#include "dp_priv.h"

#define DEFAULT_BURST        32
#define DEFAULT_PUNT_RING    4096
#define DEFAULT_HANDOFF_RING 1024
#define DEFAULT_KEY_SCRUB_MS 10000
#define DEFAULT_MAX_RECORDS  8

static const struct rte_mbuf_dynfield meta_desc = {
	.name = "stormgate_dp_meta",
	.size = sizeof(struct sg_dp_meta),
	.align = __alignof__(struct sg_dp_meta),
};

static bool pow2(unsigned v)
{
	return v && (v & (v - 1)) == 0;
}

/* The udp-mode source pool: a prefix of the backend family, host bits zero, at most 2^32
 * addresses (an index is 32 bits). */
static int check_pool(const struct sg_dp_conf *c)
{
	unsigned bits = c->backend_family == 4 ? 32 : 128;
	uint8_t net[16] = { 0 };

	if (c->backend_mode != SG_DP_BACKEND_UDP || c->pool_len > bits ||
	    c->pool_len < (c->backend_family == 4 ? 8 : 96))
		return -EINVAL;
	memcpy(net, c->pool_addr, c->pool_len / 8);
	if (c->pool_len % 8)
		net[c->pool_len / 8] =
		        c->pool_addr[c->pool_len / 8] & (uint8_t)(0xff << (8 - c->pool_len % 8));
	return memcmp(net, c->pool_addr, 16) == 0 ? 0 : -EINVAL;
}

/* The pool's addresses are the backend port's own: ARP, ND and destinations (net.h). */
static void pool_to_ifc(struct sg_dp_conf *c)
{
	for (unsigned p = 0; p < c->n_ports && c->pool_len != 0; p++) {
		struct sg_net_if *ifc = &c->ports[p].ifc;

		if (!(c->ports[p].role & SG_DP_ROLE_BACKEND))
			continue;
		if (c->backend_family == 4) {
			ifc->pool4_len = c->pool_len;
			memcpy(ifc->pool4, c->pool_addr, 4);
		} else {
			ifc->pool6_len = c->pool_len;
			memcpy(ifc->pool6, c->pool_addr, 16);
		}
	}
}

static int check_conf(struct sg_dp_conf *c)
{
	unsigned roles = 0;

	if (c->burst == 0)
		c->burst = DEFAULT_BURST;
	if (c->punt_ring_size == 0)
		c->punt_ring_size = DEFAULT_PUNT_RING;
	if (c->handoff_ring_size == 0)
		c->handoff_ring_size = DEFAULT_HANDOFF_RING;
	if (c->key_scrub_ms == 0)
		c->key_scrub_ms = DEFAULT_KEY_SCRUB_MS;
	if (c->max_records_per_dgram == 0)
		c->max_records_per_dgram = DEFAULT_MAX_RECORDS;
	if (c->rrc_timeout_ms == 0)
		c->rrc_timeout_ms = SG_RRC_TIMEOUT_MS;
	if (c->peer_move != SG_DP_PEER_MOVE_VERIFIED && c->peer_move != SG_DP_PEER_MOVE_UNVERIFIED)
		return -EINVAL;
	if (c->n_workers == 0 || c->n_workers > SG_DP_WORKERS_MAX || c->n_ports == 0 ||
	    c->n_ports > SG_DP_PORTS_MAX || c->burst > SG_BURST_MAX ||
	    c->burst * c->max_records_per_dgram > DP_OPS_MAX || !pow2(c->punt_ring_size) ||
	    !pow2(c->handoff_ring_size) || c->sessions == NULL || c->pool == NULL ||
	    c->n_hs_queues > SG_DP_HS_QUEUES_MAX)
		return -EINVAL;
	for (unsigned p = 0; p < c->n_ports; p++)
		roles |= c->ports[p].role;
	if (roles != (SG_DP_ROLE_DEVICE | SG_DP_ROLE_BACKEND))
		return -EINVAL;
	if (c->backend_family != 4 && c->backend_family != 6)
		return -EINVAL;
	/* Without a server (backend_port 0) nothing is forwarded and no local address is needed. */
	if ((c->n_local == 0 && c->pool_len == 0 && c->backend_port != 0) ||
	    c->n_local > SG_NET_IF_ADDRS_MAX || c->port_base == 0)
		return -EINVAL;
	if (c->pool_len != 0 && check_pool(c) != 0)
		return -EINVAL;
	if (c->backend_mode == SG_DP_BACKEND_UDP &&
	    (c->ports_per_addr == 0 || (uint32_t)c->port_base + c->ports_per_addr - 1 > 65535))
		return -EINVAL;
	if (c->backend_mode != SG_DP_BACKEND_UDP && c->backend_mode != SG_DP_BACKEND_PROXY)
		return -EINVAL;
	return 0;
}

static void worker_free(struct dp_worker *w)
{
	if (w == NULL)
		return;
	sg_sess_worker_destroy(w->sw);
	sg_rec_ctx_free(w->rec);
	dp_rrc_wipe(&w->rrc);
	rte_ring_free(w->handoff);
	rte_free(w->keep);
	rte_free(w);
}

/* The ports' roles, RX queue counts and neighbour tables: 0, -EINVAL (a port without a TX
 * queue for every worker) or -ENOMEM. */
static int dp_ports_init(struct sg_dp *dp)
{
	dp->dev_port = dp->backend_port = -1;
	for (unsigned p = 0; p < dp->conf.n_ports; p++) {
		struct rte_eth_dev_info info;

		if (dp->conf.ports[p].role & SG_DP_ROLE_DEVICE)
			dp->dev_port = (int8_t)p;
		if (dp->conf.ports[p].role & SG_DP_ROLE_BACKEND)
			dp->backend_port = (int8_t)p;
		if (rte_eth_dev_info_get(dp->conf.ports[p].port_id, &info) != 0 ||
		    info.nb_tx_queues < dp->conf.n_workers)
			return -EINVAL; /* every worker needs a TX queue of its own */
		dp->nb_rxq[p] = info.nb_rx_queues;
		dp->neigh[p] = calloc(1, sizeof(*dp->neigh[p]));
		if (dp->neigh[p] == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* Worker i: its hand-off ring, record context (conf rc), session reader, buffer of kept
 * records and return routability state. 0 or -errno; sg_dp_destroy() frees a part made. */
static int dp_worker_create(struct sg_dp *dp, unsigned i, const struct sg_rec_ctx_conf *rc)
{
	char name[RTE_RING_NAMESIZE];
	struct dp_worker *w = rte_zmalloc("sg_dp_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);

	if (w == NULL)
		return -ENOMEM;
	dp->w[i] = w;
	w->dp = dp;
	w->idx = i;
	snprintf(name, sizeof(name), "sg_ho_%u_%p", i, (void *)dp);
	w->handoff =
	        rte_ring_create(name, dp->conf.handoff_ring_size, SOCKET_ID_ANY, RING_F_SC_DEQ);
	w->rec = sg_rec_ctx_create(rc);
	w->sw = sg_sess_worker_create(dp->conf.sessions, i);
	w->keep_cap = dp->conf.burst * rte_pktmbuf_data_room_size(dp->conf.pool);
	w->keep = rte_malloc("sg_dp_keep", w->keep_cap, RTE_CACHE_LINE_SIZE);
	w->scrub_at = dp->tsc0 + dp->scrub_tsc;
	dp_floor_init(w, &dp->conf);
	if (dp_rrc_init(&w->rrc) != 0)
		return -EIO;
	if (w->handoff == NULL || w->rec == NULL || w->sw == NULL || w->keep == NULL)
		return -(errno ? errno : ENOMEM);
	return 0;
}

/*
 * The rings between the planes: the punt ring, the control-TX ring (and the
 * control thread's own handle on it), the handshake queues. 0 or -ENOMEM;
 * sg_dp_destroy() frees a part made.
 */
static int dp_rings_create(struct sg_dp *dp)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "sg_punt_%p", (void *)dp);
	dp->punt = rte_ring_create(name, dp->conf.punt_ring_size, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (dp->punt == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "sg_ctltx_%p", (void *)dp);
	/*
	 * Producers in RTS mode (relaxed tail sync): the gateway thread and
	 * every handshake thread send here, and none of them is a pinned lcore.
	 * In the classic multi-producer mode a producer preempted between its
	 * reservation and its commit makes every other one spin on the tail for
	 * its whole time slice (lock-waiter preemption: a storm on an
	 * overcommitted machine burned seconds of CPU so); in RTS mode the others
	 * go on, only the consumer waits. Enqueue and dequeue through the
	 * generic functions (DP_MP_RING_FLAGS).
	 */
	dp->ctl_txr = rte_ring_create(name, DP_CTL_TX_RING, SOCKET_ID_ANY, DP_MP_RING_FLAGS);
	dp->ctl = calloc(1, sizeof(*dp->ctl));
	if (dp->ctl_txr == NULL || dp->ctl == NULL)
		return -ENOMEM;
	dp->ctl->dp = dp;
	dp->hs_key = (uint32_t)rte_rand();
	for (unsigned q = 0; q < dp->conf.n_hs_queues; q++) {
		snprintf(name, sizeof(name), "sg_hsq_%u_%p", q, (void *)dp);
		/* RTS producers too: every worker enqueues (see the control-TX ring). */
		dp->hsq[q] = rte_ring_create(name, dp->conf.punt_ring_size, SOCKET_ID_ANY,
		                             DP_MP_RING_FLAGS);
		if (dp->hsq[q] == NULL)
			return -ENOMEM;
		dp->n_hsq = q + 1;
	}
	return 0;
}

struct sg_dp *sg_dp_create(const struct sg_dp_conf *conf)
{
	struct sg_dp *dp;
	struct sg_rec_ctx_conf rc;
	int err;

	dp = calloc(1, sizeof(*dp));
	if (dp == NULL)
		return NULL;
	dp->conf = *conf;
	if (check_conf(&dp->conf) != 0) {
		err = -EINVAL;
		goto fail;
	}
	pool_to_ifc(&dp->conf);
	err = dp_ports_init(dp);
	if (err != 0)
		goto fail;
	dp->meta_off = rte_mbuf_dynfield_register(&meta_desc);
	if (dp->meta_off < 0) {
		err = -rte_errno;
		goto fail;
	}
	dp->cid_len = sg_sess_cid_len(dp->conf.sessions);
	dp->window_bits = sg_sess_replay_window(dp->conf.sessions);
	dp->capacity = sg_sess_capacity(dp->conf.sessions);

	err = dp_rings_create(dp);
	if (err != 0)
		goto fail;
	err = dp_backend_maps(dp);
	if (err != 0)
		goto fail;

	memset(&rc, 0, sizeof(rc));
	rc.window_bits = dp->window_bits;
	rc.cid_len = dp->cid_len;
	for (unsigned a = 0; a < SG_AEAD_MAX; a++)
		/* Lower than RFC 9147's limit if configured so, never higher (0: RFC 9147's). */
		rc.auth_fail_limit[a] =
		        RTE_MIN(dp->conf.auth_fail_limit, sg_aead_integrity_limit((enum sg_aead)a));
	dp->unix0 = (uint64_t)time(NULL);
	dp->tsc0 = rte_rdtsc();
	dp->tsc_hz = rte_get_tsc_hz();
	dp->scrub_tsc = dp->conf.key_scrub_ms * dp->tsc_hz / 1000;
	dp->rrc_tsc = dp->conf.rrc_timeout_ms * dp->tsc_hz / 1000;
	for (unsigned i = 0; i < dp->conf.n_workers && err == 0; i++)
		err = dp_worker_create(dp, i, &rc);
	if (err != 0)
		goto fail;
	return dp;

fail:
	sg_dp_destroy(dp);
	errno = -err;
	return NULL;
}

void sg_dp_destroy(struct sg_dp *dp)
{
	struct rte_mbuf *m;

	if (dp == NULL)
		return;
	for (unsigned i = 0; i < SG_DP_WORKERS_MAX; i++) {
		if (dp->w[i] == NULL)
			continue;
		while (dp->w[i]->handoff && rte_ring_dequeue(dp->w[i]->handoff, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		for (unsigned p = 0; p < SG_DP_PORTS_MAX; p++)
			for (unsigned k = 0; k < dp->w[i]->tx[p].n; k++)
				rte_pktmbuf_free(dp->w[i]->tx[p].m[k]);
		worker_free(dp->w[i]);
	}
	while (dp->punt && rte_ring_dequeue(dp->punt, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(dp->punt);
	for (unsigned q = 0; q < SG_DP_HS_QUEUES_MAX; q++) {
		while (dp->hsq[q] && rte_ring_dequeue(dp->hsq[q], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(dp->hsq[q]);
	}
	while (dp->ctl_txr && rte_ring_dequeue(dp->ctl_txr, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	for (unsigned h = 0; h < SG_DP_CTL_TX_MAX; h++)
		sg_dp_ctl_tx_free(dp->ctl_h[h]);
	sg_dp_ctl_tx_free(dp->ctl);
	rte_ring_free(dp->ctl_txr);
	dp_backend_free(dp);
	for (unsigned p = 0; p < SG_DP_PORTS_MAX; p++)
		free(dp->neigh[p]);
	free(dp);
}

void *sg_dp_worker_arg(struct sg_dp *dp, unsigned worker)
{
	return worker < dp->conf.n_workers ? dp->w[worker] : NULL;
}

void sg_dp_stop(struct sg_dp *dp)
{
	__atomic_store_n(&dp->stop, 1, __ATOMIC_RELAXED);
}

void sg_dp_counters_get(const struct sg_dp *dp, unsigned worker, struct sg_dp_counters *c)
{
	const uint64_t *src = (const uint64_t *)&dp->w[worker]->c;
	uint64_t *dst = (uint64_t *)c;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < offsetof(struct sg_dp_counters, punt_by) / 8 + SG_DP_PUNT_MAX; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void sg_dp_counters_sum(const struct sg_dp *dp, struct sg_dp_counters *sum)
{
	uint64_t *dst = (uint64_t *)sum;

	memset(sum, 0, sizeof(*sum));
	for (unsigned w = 0; w < dp->conf.n_workers; w++) {
		struct sg_dp_counters c;
		const uint64_t *src;

		sg_dp_counters_get(dp, w, &c);
		src = (const uint64_t *)&c;
		for (size_t i = 0;
		     i < offsetof(struct sg_dp_counters, punt_by) / 8 + SG_DP_PUNT_MAX; i++)
			dst[i] += src[i];
	}
}

struct sg_dp_meta *sg_dp_meta(const struct sg_dp *dp, struct rte_mbuf *m)
{
	return dp_meta(dp, m);
}

unsigned sg_dp_punt_dequeue(struct sg_dp *dp, struct rte_mbuf **pkts, unsigned n)
{
	return rte_ring_sc_dequeue_burst(dp->punt, (void **)pkts, n, NULL);
}

unsigned sg_dp_hs_queue_of(const struct sg_dp *dp, const uint8_t paddr[16], uint16_t pport)
{
	return dp_hs_queue(dp, paddr, pport);
}

unsigned sg_dp_hs_queues(const struct sg_dp *dp)
{
	return dp->n_hsq;
}

unsigned sg_dp_hs_dequeue(struct sg_dp *dp, unsigned q, struct rte_mbuf **pkts, unsigned n)
{
	if (q >= dp->n_hsq)
		return 0;
	return rte_ring_dequeue_burst(dp->hsq[q], (void **)pkts, n, NULL);
}

uint64_t sg_dp_hs_queue_full(const struct sg_dp *dp, unsigned q)
{
	uint64_t n = 0;

	if (q >= SG_DP_HS_QUEUES_MAX)
		return 0;
	for (unsigned w = 0; w < dp->conf.n_workers; w++)
		n += __atomic_load_n(&dp->w[w]->hsq_full[q], __ATOMIC_RELAXED);
	return n;
}

/* ---- control-plane transmission ---- */

/* A handle's counter: its thread the only writer, the control thread a reader. */
static void tx_count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static uint64_t tx_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void sg_dp_ctl_counters(const struct sg_dp *dp, uint64_t *sent, uint64_t *dropped)
{
	*sent = tx_read(&dp->ctl->sent);
	*dropped = tx_read(&dp->ctl->dropped);
	for (unsigned h = 0; h < SG_DP_CTL_TX_MAX; h++)
		if (dp->ctl_h[h] != NULL) {
			*sent += tx_read(&dp->ctl_h[h]->sent);
			*dropped += tx_read(&dp->ctl_h[h]->dropped);
		}
}

uint64_t sg_dp_ctl_deferred(const struct sg_dp *dp)
{
	uint64_t n = tx_read(&dp->ctl->deferred);

	for (unsigned h = 0; h < SG_DP_CTL_TX_MAX; h++)
		if (dp->ctl_h[h] != NULL)
			n += tx_read(&dp->ctl_h[h]->deferred);
	return n;
}

struct sg_dp_ctl_tx *sg_dp_ctl_tx_create(struct sg_dp *dp)
{
	struct sg_dp_ctl_tx *tx;
	unsigned h = 0;

	if (dp == NULL) {
		errno = EINVAL;
		return NULL;
	}
	while (h < SG_DP_CTL_TX_MAX && dp->ctl_h[h] != NULL)
		h++;
	if (h == SG_DP_CTL_TX_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	tx = calloc(1, sizeof(*tx));
	if (tx == NULL)
		return NULL;
	tx->dp = dp;
	dp->ctl_h[h] = tx;
	return tx;
}

void sg_dp_ctl_tx_free(struct sg_dp_ctl_tx *tx)
{
	struct sg_dp *dp;

	if (tx == NULL)
		return;
	dp = tx->dp;
	for (; tx->bl_len > 0; tx->bl_len--, tx->bl_head = (tx->bl_head + 1) % DP_CTL_BACKLOG)
		rte_pktmbuf_free(tx->backlog[tx->bl_head]);
	for (unsigned h = 0; h < SG_DP_CTL_TX_MAX; h++)
		if (dp->ctl_h[h] == tx) {
			/* what it sent stays in the sums: the control thread's own counts take it
			 */
			tx_count(&dp->ctl->sent, tx_read(&tx->sent));
			tx_count(&dp->ctl->dropped, tx_read(&tx->dropped));
			tx_count(&dp->ctl->deferred, tx_read(&tx->deferred));
			dp->ctl_h[h] = NULL;
		}
	free(tx);
}

unsigned sg_dp_ctl_tx_retry_on(struct sg_dp_ctl_tx *tx)
{
	struct sg_dp *dp = tx->dp;

	while (tx->bl_len > 0 && rte_ring_enqueue(dp->ctl_txr, tx->backlog[tx->bl_head]) == 0) {
		tx->bl_head = (tx->bl_head + 1) % DP_CTL_BACKLOG;
		tx->bl_len--;
		tx_count(&tx->sent, 1);
	}
	return tx->bl_len;
}

unsigned sg_dp_ctl_tx_retry(struct sg_dp *dp)
{
	return sg_dp_ctl_tx_retry_on(dp->ctl);
}

/*
 * Queue a frame of the control plane for worker 0, which sends it on its own
 * TX queue: ports need no queue of the control plane's (many PMDs, such as
 * net_af_packet with one queue pair, have too few). While the ring is full
 * the frame waits in the sending thread's backlog, behind those already
 * there (flights keep their order); only a full backlog drops it.
 */
static int ctl_tx(struct sg_dp_ctl_tx *tx, unsigned port, struct rte_mbuf *m)
{
	struct sg_dp *dp = tx->dp;

	dp_meta(dp, m)->port = (uint8_t)port;
	if (sg_dp_ctl_tx_retry_on(tx) == 0 && rte_ring_enqueue(dp->ctl_txr, m) == 0) {
		tx_count(&tx->sent, 1);
		return 0;
	}
	if (tx->bl_len == DP_CTL_BACKLOG) {
		rte_pktmbuf_free(m);
		tx_count(&tx->dropped, 1);
		return -ENOBUFS;
	}
	tx->backlog[(tx->bl_head + tx->bl_len) % DP_CTL_BACKLOG] = m;
	tx->bl_len++;
	tx_count(&tx->deferred, 1);
	return 0;
}

/* Broadcast an ARP request or multicast a neighbour solicitation for ip. */
static int solicit(struct sg_dp_ctl_tx *tx, unsigned port, uint8_t family, const uint8_t *ip)
{
	struct sg_dp *dp = tx->dp;
	const struct sg_dp_port_conf *pc = &dp->conf.ports[port];
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->conf.pool);
	uint8_t *f;
	unsigned l2 = 14 + (pc->ifc.vlan ? 4 : 0);

	if (m == NULL)
		return -ENOMEM;
	if ((family == 4 && pc->ifc.n_ip4 == 0) || (family == 6 && pc->ifc.n_ip6 == 0)) {
		rte_pktmbuf_free(m);
		return -EADDRNOTAVAIL;
	}
	f = rte_pktmbuf_mtod(m, uint8_t *);
	memset(f, 0, 128);
	memcpy(f + 6, pc->ifc.mac, 6);
	if (pc->ifc.vlan) {
		f[12] = 0x81;
		sg_store_be16(f + 14, pc->ifc.vlan);
	}
	if (family == 4) {
		uint8_t *a = f + l2;

		memset(f, 0xff, 6);
		f[l2 - 2] = 0x08;
		f[l2 - 1] = 0x06;
		a[1] = 1;    /* Ethernet */
		a[2] = 0x08; /* IPv4 */
		a[4] = 6;
		a[5] = 4;
		a[7] = 1; /* request (RFC 826) */
		memcpy(a + 8, pc->ifc.mac, 6);
		memcpy(a + 14, pc->ifc.ip4[0], 4);
		memcpy(a + 24, ip, 4);
		m->data_len = m->pkt_len = (uint16_t)RTE_MAX(l2 + 28, 60u);
	} else {
		/* RFC 4861 §7.2.2: to the solicited-node group, with our link-layer address. */
		uint8_t group[16] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };
		uint8_t *ip6 = f + l2, *icmp = ip6 + 40;
		uint16_t csum;
		uint32_t sum;

		memcpy(group + 13, ip + 13, 3);
		f[0] = f[1] = 0x33;
		memcpy(f + 2, group + 12, 4);
		f[l2 - 2] = 0x86;
		f[l2 - 1] = 0xdd;
		ip6[0] = 0x60;
		ip6[5] = 32;
		ip6[6] = 58;
		ip6[7] = 255;
		memcpy(ip6 + 8, pc->ifc.ip6[0], 16);
		memcpy(ip6 + 24, group, 16);
		icmp[0] = 135;
		memcpy(icmp + 8, ip, 16);
		icmp[24] = 1; /* source link-layer address */
		icmp[25] = 1;
		memcpy(icmp + 26, pc->ifc.mac, 6);
		{
			uint8_t ph[40] = { 0 };

			memcpy(ph, ip6 + 8, 32);
			ph[35] = 32;
			ph[39] = 58;
			sum = __rte_raw_cksum(ph, 40, 0);
		}
		csum = (uint16_t)~__rte_raw_cksum_reduce(__rte_raw_cksum(icmp, 32, sum));
		memcpy(icmp + 2, &csum, 2);
		m->data_len = m->pkt_len = (uint16_t)(l2 + 40 + 32);
	}
	return ctl_tx(tx, port, m);
}

/*
 * At most one solicitation a second per next hop: neighbours are learned only
 * from ARP and ND (RFC 826, RFC 4861 §7.2.2 asks no more than one per
 * RetransTimer either), so a flood of hellos from spoofed, unresolvable
 * on-link sources must not become a flood of broadcasts. A hashed slot
 * shared by two next hops only delays one of them by a second.
 */
static bool solicit_due(struct sg_dp_ctl_tx *tx, unsigned port, uint8_t family, const uint8_t *ip)
{
	uint32_t h = rte_hash_crc(ip, family == 4 ? 4 : 16, port * 2u + family);
	struct dp_solicited *sl = &tx->solicited[h & (DP_SOLICITED_SLOTS - 1)];
	uint64_t now = sg_mono_ns();

	if (sl->key == h && now - sl->at_ns < 1000000000ull)
		return false;
	sl->key = h;
	sl->at_ns = now;
	return true;
}

int sg_dp_ctl_send_udp(struct sg_dp *dp, unsigned port, uint8_t family, const uint8_t *src,
                       uint16_t sport, const uint8_t *dst, uint16_t dport, const uint8_t *payload,
                       uint16_t len)
{
	return sg_dp_ctl_tx_send_udp(dp->ctl, port, family, src, sport, dst, dport, payload, len);
}

int sg_dp_ctl_send_mapped(struct sg_dp *dp, struct sg_dp_ctl_tx *tx, unsigned port,
                          const uint8_t laddr[16], uint16_t lport, const uint8_t paddr[16],
                          uint16_t pport, const uint8_t *payload, uint16_t len)
{
	int v4 = sg_ip6_is_v4_mapped(paddr);

	return sg_dp_ctl_tx_send_udp(tx != NULL ? tx : dp->ctl, port, v4 ? 4 : 6,
	                             v4 ? laddr + 12 : laddr, rte_be_to_cpu_16(lport),
	                             v4 ? paddr + 12 : paddr, rte_be_to_cpu_16(pport), payload,
	                             len);
}

int sg_dp_ctl_tx_send_udp(struct sg_dp_ctl_tx *tx, unsigned port, uint8_t family,
                          const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport,
                          const uint8_t *payload, uint16_t len)
{
	struct sg_dp *dp = tx->dp;
	const struct sg_dp_port_conf *pc;
	const uint8_t *nh;
	struct rte_mbuf *m;
	uint8_t mac[6];
	unsigned hl;

	if (port >= dp->conf.n_ports || (family != 4 && family != 6))
		return -EINVAL;
	pc = &dp->conf.ports[port];
	nh = dp_next_hop(pc, family, dst);
	if (dp_neigh_lookup(dp->neigh[port], family, nh, mac) != 0) {
		if (solicit_due(tx, port, family, nh))
			solicit(tx, port, family, nh);
		tx_count(&tx->dropped, 1);
		return -EHOSTUNREACH;
	}
	hl = dp_hdr_len(pc, family);
	m = rte_pktmbuf_alloc(dp->conf.pool);
	if (m == NULL)
		return -ENOMEM;
	if (rte_pktmbuf_tailroom(m) < hl + len) {
		rte_pktmbuf_free(m);
		return -EMSGSIZE;
	}
	memcpy(rte_pktmbuf_mtod(m, uint8_t *) + hl, payload, len);
	dp_build_udp(pc, rte_pktmbuf_mtod(m, uint8_t *), mac, family, src, sport, dst, dport, len);
	m->data_len = m->pkt_len = (uint16_t)(hl + len);
	return ctl_tx(tx, port, m);
}

int sg_dp_ctl_neighbour(struct sg_dp *dp, struct rte_mbuf *m)
{
	const struct sg_dp_meta *meta = dp_meta(dp, m);
	unsigned port = meta->port;
	const struct sg_dp_port_conf *pc;
	struct sg_pkt pkt;
	enum sg_net_kind kind;
	uint8_t ip[16], mac[6], *f;
	uint32_t out;
	int rc = -EINVAL;

	if (port >= dp->conf.n_ports)
		goto done;
	pc = &dp->conf.ports[port];
	f = rte_pktmbuf_mtod(m, uint8_t *);
	kind = sg_net_parse(&pc->ifc, f, m->data_len, &pkt);
	if (kind != SG_NET_ARP && kind != SG_NET_NDISC)
		goto done;
	if (sg_net_neighbour(kind, f, m->data_len, &pkt, ip, mac)) {
		dp_neigh_update(dp->neigh[port], pkt.family, ip, mac, false, sg_mono_ns());
		rc = 0;
	}
	if (kind == SG_NET_ARP)
		out = sg_net_arp_reply(&pc->ifc, f, m->data_len, &pkt);
	else
		out = sg_net_ndisc_reply(&pc->ifc, f, m->data_len,
		                         (uint32_t)(m->buf_len - m->data_off), &pkt);
	if (out != 0) {
		m->data_len = m->pkt_len = (uint16_t)out;
		return ctl_tx(dp->ctl, port, m);
	}
done:
	rte_pktmbuf_free(m);
	return rc;
}

int sg_dp_punt_udp(const struct sg_dp *dp, struct rte_mbuf *m, uint8_t laddr[16], uint8_t paddr[16],
                   uint16_t *lport, uint16_t *pport, const uint8_t **payload, uint16_t *len)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const struct sg_dp_meta *meta = dp_meta(dp, m);
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	struct sg_pkt pkt;

	if (meta->port >= dp->conf.n_ports ||
	    sg_net_parse(&dp->conf.ports[meta->port].ifc, f, m->data_len, &pkt) != SG_NET_UDP)
		return -EINVAL;
	if (pkt.family == 4) {
		memcpy(laddr, mapped, 12);
		memcpy(laddr + 12, pkt.dst, 4);
		memcpy(paddr, mapped, 12);
		memcpy(paddr + 12, pkt.src, 4);
	} else {
		memcpy(laddr, pkt.dst, 16);
		memcpy(paddr, pkt.src, 16);
	}
	*lport = rte_cpu_to_be_16(pkt.dport);
	*pport = rte_cpu_to_be_16(pkt.sport);
	*payload = f + pkt.payload_off;
	*len = pkt.payload_len;
	return 0;
}

int sg_dp_ctl_reinject(struct sg_dp *dp, struct rte_mbuf *m, unsigned worker)
{
	if (worker >= dp->conf.n_workers)
		return -EINVAL;
	/* The hand-off ring is multi-producer: workers and this thread may all add to it. */
	return rte_ring_mp_enqueue(dp->w[worker]->handoff, m) == 0 ? 0 : -ENOBUFS;
}

int sg_dp_neigh_set(struct sg_dp *dp, unsigned port, uint8_t family, const uint8_t *ip,
                    const uint8_t mac[6])
{
	if (port >= dp->conf.n_ports || (family != 4 && family != 6))
		return -EINVAL;
	return dp_neigh_update(dp->neigh[port], family, ip, mac, true, sg_mono_ns());
}

int sg_dp_ctl_solicit(struct sg_dp *dp, unsigned port, uint8_t family, const uint8_t *ip)
{
	const uint8_t *nh;
	uint8_t mac[6];
	int rc;

	if (port >= dp->conf.n_ports || (family != 4 && family != 6))
		return -EINVAL;
	nh = dp_next_hop(&dp->conf.ports[port], family, ip);
	if (dp_neigh_lookup(dp->neigh[port], family, nh, mac) == 0 ||
	    !solicit_due(dp->ctl, port, family, nh))
		return 0;
	rc = solicit(dp->ctl, port, family, nh);
	return rc == 0 ? 1 : rc;
}

int sg_dp_ctl_resolve(struct sg_dp *dp)
{
	uint8_t mac[6];
	int asked = 0;

	for (unsigned p = 0; p < dp->conf.n_ports; p++) {
		const struct sg_dp_port_conf *pc = &dp->conf.ports[p];
		static const uint8_t zero[16];

		if (memcmp(pc->gw4, zero, 4) != 0 && dp_neigh_lookup(dp->neigh[p], 4, pc->gw4, mac))
			asked += solicit(dp->ctl, p, 4, pc->gw4) == 0;
		if (memcmp(pc->gw6, zero, 16) != 0 &&
		    dp_neigh_lookup(dp->neigh[p], 6, pc->gw6, mac))
			asked += solicit(dp->ctl, p, 6, pc->gw6) == 0;
	}
	if (dp->conf.backend_port != 0) { /* no server configured: nothing to resolve */
		const struct sg_dp_port_conf *bp = &dp->conf.ports[dp->backend_port];
		const uint8_t *nh = dp_next_hop(bp, dp->conf.backend_family, dp->conf.backend_addr);

		if (dp_neigh_lookup(dp->neigh[dp->backend_port], dp->conf.backend_family, nh, mac))
			asked += solicit(dp->ctl, (unsigned)dp->backend_port,
			                 dp->conf.backend_family, nh) == 0;
	}
	return asked;
}

void sg_dp_worker_online(struct sg_dp *dp, unsigned worker)
{
	sg_sess_worker_online(dp->w[worker]->sw);
}

void sg_dp_worker_offline(struct sg_dp *dp, unsigned worker)
{
	sg_sess_worker_offline(dp->w[worker]->sw);
}
