/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-fleet's ports and mbufs (fl_port.h). Main lcore; after init no
 * allocation or system call (the PMDs' own aside).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_cycles.h>

#include "fl_port.h"

#define MBUF_CACHE 256

unsigned sg_fl_mbufs(const struct sg_fl_conf *conf)
{
	double req = conf->req_total > 0 ? conf->req_total : conf->req_rate * conf->devices;
	double held = 3.0 * conf->max_inflight + req * (conf->rtt_max_ms / 1000.0) * 2.0;
	uint64_t n = (uint64_t)held + SG_FL_PORT_MAX * (SG_FL_RX_DESC + SG_FL_TX_DESC) +
	             4 * SG_FL_BURST + MBUF_CACHE;
	uint64_t pow = 8192;

	if (conf->mbufs != 0)
		return conf->mbufs;
	while (pow < n + 1 && pow < (UINT64_C(1) << 24))
		pow <<= 1;
	return (unsigned)(pow - 1);
}

static int port_init(struct sg_fl_ports *p, enum sg_fl_port which, uint16_t id)
{
	struct rte_eth_conf ec = { 0 };
	struct rte_ether_addr mac;
	int rc;

	rc = rte_eth_dev_configure(id, 1, 1, &ec);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(id, 0, SG_FL_RX_DESC,
		                            (unsigned)rte_eth_dev_socket_id(id), NULL, p->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(id, 0, SG_FL_TX_DESC,
		                            (unsigned)rte_eth_dev_socket_id(id), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(id);
	if (rc == 0)
		rc = rte_eth_macaddr_get(id, &mac);
	if (rc != 0) {
		fprintf(stderr, "stormgate-fleet: port %u: %s\n", id, strerror(-rc));
		return rc;
	}
	/* frames to any device address or the router come to this MAC; be open to them all */
	rte_eth_promiscuous_enable(id);
	memcpy(p->mac[which], mac.addr_bytes, 6);
	p->port[which] = id;
	p->n_ports++;
	return 0;
}

/* Wait (up to 5 s) for both links: a memif client is up once the server accepted it. */
static int links_wait(const struct sg_fl_ports *p)
{
	for (unsigned ms = 0; ms < 5000; ms += 10) {
		struct rte_eth_link l0, l1;

		rte_eth_link_get_nowait(p->port[0], &l0);
		rte_eth_link_get_nowait(p->port[1], &l1);
		if (l0.link_status && l1.link_status)
			return 0;
		rte_delay_us_sleep(10000);
	}
	fprintf(stderr, "stormgate-fleet: the links did not come up in 5 s (is the server up?)\n");
	return -ETIMEDOUT;
}

int sg_fl_ports_init(struct sg_fl_ports *p, const struct sg_fl_conf *conf)
{
	unsigned n = sg_fl_mbufs(conf);
	uint16_t priv = RTE_ALIGN(sizeof(struct sg_fl_buf), RTE_MBUF_PRIV_ALIGN);
	int rc;

	memset(p, 0, sizeof(*p));
	if (rte_eth_dev_count_avail() < SG_FL_PORT_MAX) {
		fprintf(stderr,
		        "stormgate-fleet: needs 2 ports (devices, application server), "
		        "EAL has %u: give two --vdev\n",
		        rte_eth_dev_count_avail());
		return -ENODEV;
	}
	/* 2 KB of data: af_packet refuses smaller (its default frame holds 2016 bytes) */
	p->pool = rte_pktmbuf_pool_create("fleet", n, MBUF_CACHE, priv, RTE_MBUF_DEFAULT_BUF_SIZE,
	                                  (int)rte_socket_id());
	if (p->pool == NULL) {
		fprintf(stderr, "stormgate-fleet: %u mbufs: %s (give EAL more memory, -m)\n", n,
		        rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rc = port_init(p, SG_FL_PORT_DEV, 0);
	if (rc == 0)
		rc = port_init(p, SG_FL_PORT_APP, 1);
	return rc == 0 ? links_wait(p) : rc;
}

static struct sg_fl_buf *buf_of(struct rte_mbuf *m)
{
	struct sg_fl_buf *b = rte_mbuf_to_priv(m);

	b->handle = m;
	b->data = rte_pktmbuf_mtod(m, uint8_t *);
	b->off = 0;
	b->len = m->data_len;
	b->cap = (uint16_t)(m->buf_len - m->data_off);
	return b;
}

static struct sg_fl_buf *io_alloc(void *ctx)
{
	struct sg_fl_ports *p = ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);

	return m == NULL ? NULL : buf_of(m);
}

static void io_free(void *ctx, struct sg_fl_buf *b)
{
	(void)ctx;
	rte_pktmbuf_free(b->handle);
}

/* Send what port has queued; what the ring does not take waits for the next flush. */
static void flush_port(struct sg_fl_ports *p, enum sg_fl_port port)
{
	unsigned n = p->n_tx[port];
	uint16_t sent = rte_eth_tx_burst(p->port[port], 0, p->tx[port], (uint16_t)n);

	if (sent < n)
		memmove(p->tx[port], p->tx[port] + sent, (n - sent) * sizeof(p->tx[port][0]));
	p->n_tx[port] = n - sent;
}

static void io_send(void *ctx, enum sg_fl_port port, struct sg_fl_buf *b)
{
	struct sg_fl_ports *p = ctx;
	struct rte_mbuf *m = b->handle;

	m->data_off = (uint16_t)(m->data_off + b->off);
	m->data_len = m->pkt_len = b->len;
	if (p->n_tx[port] == SG_FL_BURST)
		flush_port(p, port);
	if (p->n_tx[port] == SG_FL_BURST) { /* the ring stays full: a counted drop */
		rte_pktmbuf_free(m);
		p->tx_dropped++;
		return;
	}
	p->tx[port][p->n_tx[port]++] = m;
}

struct sg_fl_io sg_fl_ports_io(struct sg_fl_ports *p)
{
	return (struct sg_fl_io){ .ctx = p, .alloc = io_alloc, .free = io_free, .send = io_send };
}

unsigned sg_fl_ports_rx(struct sg_fl_ports *p, enum sg_fl_port port, struct sg_fl_buf **bufs)
{
	struct rte_mbuf *m[SG_FL_BURST];
	uint16_t n = rte_eth_rx_burst(p->port[port], 0, m, SG_FL_BURST);
	unsigned k = 0;

	for (uint16_t j = 0; j < n; j++) {
		if (m[j]->nb_segs != 1) { /* our frames are small: a chain is nobody's */
			p->rx_segmented++;
			rte_pktmbuf_free(m[j]);
			continue;
		}
		bufs[k++] = buf_of(m[j]);
	}
	return k;
}

void sg_fl_ports_watch(struct sg_fl_ports *p)
{
	for (unsigned k = 0; k < p->n_ports; k++) {
		struct rte_eth_link l;

		if (rte_eth_link_get_nowait(p->port[k], &l) != 0 || l.link_status)
			continue;
		rte_eth_dev_stop(p->port[k]);
		if (rte_eth_dev_start(p->port[k]) == 0)
			p->restarts++;
	}
}

void sg_fl_ports_flush(struct sg_fl_ports *p)
{
	for (unsigned port = 0; port < SG_FL_PORT_MAX; port++)
		if (p->n_tx[port] != 0)
			flush_port(p, port);
}

void sg_fl_ports_fini(struct sg_fl_ports *p)
{
	for (unsigned k = 0; k < SG_FL_PORT_MAX; k++) {
		rte_pktmbuf_free_bulk(p->tx[k], p->n_tx[k]);
		p->n_tx[k] = 0;
	}
	for (unsigned k = 0; k < p->n_ports; k++) {
		rte_eth_dev_stop(p->port[k]);
		rte_eth_dev_close(p->port[k]);
	}
	p->n_ports = 0;
	rte_mempool_free(p->pool);
	p->pool = NULL;
}
