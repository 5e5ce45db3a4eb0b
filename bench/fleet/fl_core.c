/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet core's frame: set-up and tear-down, frames in from both ports,
 * the poll loop, the devices' addresses, and the neighbours (ARP and NDP
 * answers for the router, device and application server addresses, and
 * the resolution of the gateway's MAC). Thread: the lcore that owns the
 * core; no allocation or system call after sg_fl_create().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/bytes.h>

#include "fl_priv.h"
#include "fl_rand.h"

static const char *const drop_names[SG_FL_DROP_MAX] = {
	[SG_FL_DROP_BAD_FRAME] = "bad_frame",     [SG_FL_DROP_NOT_OURS] = "not_ours",
	[SG_FL_DROP_NO_DEVICE] = "no_device",     [SG_FL_DROP_BAD_RECORD] = "bad_record",
	[SG_FL_DROP_AUTH_FAILED] = "auth_failed", [SG_FL_DROP_STALE] = "stale",
	[SG_FL_DROP_BAD_COAP] = "bad_coap",       [SG_FL_DROP_DUP_ANSWER] = "dup_answer",
	[SG_FL_DROP_APP_BAD] = "app_bad",         [SG_FL_DROP_NO_BUF] = "no_buf",
	[SG_FL_DROP_SEAL_FAILED] = "seal_failed",
};

const char *sg_fl_drop_name(enum sg_fl_drop d)
{
	return (unsigned)d < SG_FL_DROP_MAX ? drop_names[d] : "unknown";
}

#define SOLICIT_MS 250 /* ARP/NS for the gateway until it answers */
/*
 * And again this often once it has: a gateway that restarted may have another MAC
 * (memif draws one per process) and, without a next hop for the devices, asks for
 * nobody until it has something to send, so the fleet must look again.
 */
#define REFRESH_MS      2000
#define TIMERS_PER_POLL 4096 /* device timers handled per poll, so input is not starved */

size_t sg_fl_dev_bytes(void)
{
	return sizeof(struct sg_fl_dev);
}

size_t sg_fl_hs_bytes(void)
{
	return sizeof(struct sg_fl_hs);
}

_Static_assert(sizeof(struct sg_fl_dev) <= 256, "a device is at most 256 bytes (issue 14)");
_Static_assert(SG_FL_D_BACKOFF + 1 == SG_FL_STATES, "every device state is counted");

struct sg_fl_buf *sg_fl_buf_get(struct sg_fl *fl)
{
	struct sg_fl_buf *b = fl->io.alloc(fl->io.ctx);

	if (b == NULL)
		fl->c.drops[SG_FL_DROP_NO_BUF]++;
	return b;
}

void sg_fl_buf_put(struct sg_fl *fl, struct sg_fl_buf *b)
{
	fl->io.free(fl->io.ctx, b);
}

static void drop(struct sg_fl *fl, struct sg_fl_buf *b, enum sg_fl_drop why)
{
	fl->c.drops[why]++;
	sg_fl_buf_put(fl, b);
}

/* Device n's address (global index n). */
static void dev_addr(const struct sg_fl *fl, uint32_t n, uint8_t addr[16], uint16_t *port)
{
	uint32_t host = n / fl->conf->ports_per_addr;

	memcpy(addr, fl->dev_base, 16);
	if (fl->conf->family == 4)
		sg_store_be16(addr + 2, (uint16_t)host);
	else
		sg_store_be32(addr + 12, host);
	*port = (uint16_t)(SG_FL_PORT_BASE + n % fl->conf->ports_per_addr);
}

/* The local index of the device at addr (and port when port != 0), or SG_FL_NONE. */
static uint32_t dev_of(const struct sg_fl *fl, const uint8_t *addr, uint32_t port, bool any_port)
{
	uint64_t host, n;
	uint32_t ppa = fl->conf->ports_per_addr;

	if (fl->conf->family == 4) {
		if (memcmp(addr, fl->dev_base, 2) != 0)
			return SG_FL_NONE;
		host = sg_load_be16(addr + 2);
	} else {
		if (memcmp(addr, fl->dev_base, 12) != 0)
			return SG_FL_NONE;
		host = sg_load_be32(addr + 12);
	}
	if (any_port)
		port = SG_FL_PORT_BASE;
	if (port < SG_FL_PORT_BASE || port - SG_FL_PORT_BASE >= ppa)
		return SG_FL_NONE;
	n = host * ppa + (port - SG_FL_PORT_BASE);
	if (n < fl->first || n >= (uint64_t)fl->first + fl->count)
		return SG_FL_NONE;
	return (uint32_t)(n - fl->first);
}

void sg_fl_dev_send(struct sg_fl *fl, uint32_t i, struct sg_fl_buf *b, uint16_t len)
{
	struct sg_fl_dev *d = &fl->dev[i];
	uint8_t src[16];
	uint16_t sport;

	dev_addr(fl, fl->first + i, src, &sport);
	b->len =
	        sg_fl_udp_build(b->data, len, fl->gw_mac, fl->mac[SG_FL_PORT_DEV], fl->conf->family,
	                        src, sport, fl->conf->server, fl->conf->server_port, &b->off);
	b->dev = i;
	if (!sg_fl_delay_push(&fl->up, b, fl->now, d->rtt_ms / 2u))
		sg_fl_buf_put(fl, b);
}

void sg_fl_dev_announce(struct sg_fl *fl, uint32_t i)
{
	struct sg_fl_buf *b = sg_fl_buf_get(fl);
	uint8_t src[16];
	uint16_t sport;

	if (b == NULL)
		return;
	dev_addr(fl, fl->first + i, src, &sport);
	b->off = 0;
	if (fl->conf->family == 4)
		b->len = sg_fl_arp_build(b->data, 1, fl->mac[SG_FL_PORT_DEV], src, fl->gw_mac,
		                         fl->conf->server);
	else
		b->len = sg_fl_ndisc_build(b->data, 135, fl->mac[SG_FL_PORT_DEV], src, NULL, NULL,
		                           fl->conf->server);
	b->dev = i;
	if (!sg_fl_delay_push(&fl->up, b, fl->now, fl->dev[i].rtt_ms / 2u))
		sg_fl_buf_put(fl, b);
}

/* Whether addr is one we answer for on port: the router or a device, or the app server. */
static bool answers_for(const struct sg_fl *fl, enum sg_fl_port port, const uint8_t *addr)
{
	unsigned alen = fl->conf->family == 4 ? 4 : 16;

	if (port == SG_FL_PORT_APP)
		return memcmp(addr, fl->conf->app, alen) == 0;
	return memcmp(addr, fl->router, alen) == 0 || dev_of(fl, addr, 0, true) != SG_FL_NONE;
}

static void learn_gateway(struct sg_fl *fl, const uint8_t mac[6])
{
	memcpy(fl->gw_mac, mac, 6);
	if (!fl->gw_known) {
		fl->gw_known = true;
		fl->ready_ms = fl->now;
		sg_fl_dev_arrive_all(fl);
	}
}

/* RFC 826: learn the gateway from anything it says; answer requests for our addresses. */
static void arp_input(struct sg_fl *fl, enum sg_fl_port port, struct sg_fl_buf *b,
                      const struct sg_fl_rx *rx)
{
	uint8_t sha[6], spa[4], tpa[4];

	if (fl->conf->family != 4) {
		drop(fl, b, SG_FL_DROP_NOT_OURS);
		return;
	}
	memcpy(sha, rx->sha, 6);
	memcpy(spa, rx->spa, 4);
	memcpy(tpa, rx->tpa, 4);
	if (port == SG_FL_PORT_DEV && memcmp(spa, fl->conf->server, 4) == 0)
		learn_gateway(fl, sha);
	if (rx->op != 1 || !answers_for(fl, port, tpa)) {
		sg_fl_buf_put(fl, b);
		return;
	}
	b->len = sg_fl_arp_build(b->data + b->off, 2, fl->mac[port], tpa, sha, spa);
	fl->io.send(fl->io.ctx, port, b);
}

/* RFC 4861 §7.2.3-§7.2.5: the same for neighbour solicitations and advertisements. */
static void ndisc_input(struct sg_fl *fl, enum sg_fl_port port, struct sg_fl_buf *b,
                        const struct sg_fl_rx *rx)
{
	static const uint8_t unspec[16];
	uint8_t src[16], target[16], sha[6];

	if (fl->conf->family != 6 || rx->sha == NULL) {
		drop(fl, b, SG_FL_DROP_NOT_OURS);
		return;
	}
	memcpy(src, rx->src, 16);
	memcpy(target, rx->tpa, 16);
	memcpy(sha, rx->sha, 6);
	if (port == SG_FL_PORT_DEV &&
	    ((rx->op == 135 && memcmp(src, fl->conf->server, 16) == 0) ||
	     (rx->op == 136 && memcmp(target, fl->conf->server, 16) == 0)))
		learn_gateway(fl, sha);
	if (rx->op != 135 || memcmp(src, unspec, 16) == 0 || !answers_for(fl, port, target)) {
		sg_fl_buf_put(fl, b);
		return;
	}
	b->len = sg_fl_ndisc_build(b->data + b->off, 136, fl->mac[port], target, sha, src, target);
	fl->io.send(fl->io.ctx, port, b);
}

/* A datagram from the gateway to a device: held for the device's downlink delay. */
static void dev_udp_input(struct sg_fl *fl, struct sg_fl_buf *b, const struct sg_fl_rx *rx)
{
	unsigned alen = fl->conf->family == 4 ? 4 : 16;
	uint32_t i;

	if (memcmp(rx->src, fl->conf->server, alen) != 0 || rx->sport != fl->conf->server_port) {
		drop(fl, b, SG_FL_DROP_NOT_OURS);
		return;
	}
	i = dev_of(fl, rx->dst, rx->dport, false);
	if (i == SG_FL_NONE) {
		drop(fl, b, SG_FL_DROP_NO_DEVICE);
		return;
	}
	if (!fl->gw_known)
		learn_gateway(fl, rx->src_mac);
	b->dev = i;
	b->l4_off = rx->l4_off;
	b->l4_len = rx->l4_len;
	if (!sg_fl_delay_push(&fl->down, b, fl->now, fl->dev[i].rtt_ms - fl->dev[i].rtt_ms / 2u))
		sg_fl_buf_put(fl, b);
}

static void input_one(struct sg_fl *fl, enum sg_fl_port port, struct sg_fl_buf *b)
{
	unsigned alen = fl->conf->family == 4 ? 4 : 16;
	struct sg_fl_rx rx;
	enum sg_fl_kind k = sg_fl_parse(b->data + b->off, b->len, &rx);

	if (k == SG_FL_K_ARP) {
		arp_input(fl, port, b, &rx);
	} else if (k == SG_FL_K_NDISC) {
		ndisc_input(fl, port, b, &rx);
	} else if (k != SG_FL_K_UDP || rx.family != fl->conf->family) {
		drop(fl, b, k == SG_FL_K_BAD ? SG_FL_DROP_BAD_FRAME : SG_FL_DROP_NOT_OURS);
	} else if (port == SG_FL_PORT_DEV) {
		dev_udp_input(fl, b, &rx);
	} else if (memcmp(rx.dst, fl->conf->app, alen) == 0 && rx.dport == fl->conf->app_port) {
		sg_fl_app_input(fl, b, &rx);
	} else {
		drop(fl, b, SG_FL_DROP_NOT_OURS);
	}
}

static void set_now(struct sg_fl *fl, uint64_t now_us)
{
	if (now_us > fl->now_us) {
		fl->now_us = now_us;
		fl->now = (uint32_t)((now_us - fl->t0_us) / 1000);
	}
}

void sg_fl_input(struct sg_fl *fl, enum sg_fl_port port, struct sg_fl_buf **bufs, unsigned n,
                 uint64_t now_us)
{
	set_now(fl, now_us);
	for (unsigned k = 0; k < n; k++)
		input_one(fl, port, bufs[k]);
	sg_fl_dev_flush(fl);
}

/* ARP request or neighbour solicitation for the gateway's address, from the router's. */
static void solicit_gateway(struct sg_fl *fl)
{
	static const uint8_t zero[6];
	struct sg_fl_buf *b;

	if (fl->now < fl->next_solicit)
		return;
	fl->next_solicit = fl->now + (fl->gw_known ? REFRESH_MS : SOLICIT_MS);
	b = sg_fl_buf_get(fl);
	if (b == NULL)
		return;
	b->off = 0;
	if (fl->conf->family == 4)
		b->len = sg_fl_arp_build(b->data, 1, fl->mac[SG_FL_PORT_DEV], fl->router, zero,
		                         fl->conf->server);
	else
		b->len = sg_fl_ndisc_build(b->data, 135, fl->mac[SG_FL_PORT_DEV], fl->router, NULL,
		                           NULL, fl->conf->server);
	fl->io.send(fl->io.ctx, SG_FL_PORT_DEV, b);
}

/*
 * Datagrams the delay lines release now: down into the devices first (what
 * they answer joins the uplink at once), then up to the gateway.
 */
static unsigned release(struct sg_fl *fl)
{
	struct sg_fl_buf *b, *batch[SG_BURST_MAX];
	unsigned n = 0, total = 0;

	while ((b = sg_fl_delay_pop(&fl->down, fl->now)) != NULL) {
		__builtin_prefetch(&fl->dev[b->dev].sa); /* what the open reads */
		__builtin_prefetch(&fl->dev[b->dev].fc);
		batch[n++] = b;
		if (n == SG_BURST_MAX) {
			sg_fl_dev_input(fl, batch, n);
			total += n;
			n = 0;
		}
	}
	if (n != 0)
		sg_fl_dev_input(fl, batch, n);
	total += n;
	sg_fl_dev_flush(fl);
	while ((b = sg_fl_delay_pop(&fl->up, fl->now)) != NULL) {
		fl->io.send(fl->io.ctx, SG_FL_PORT_DEV, b);
		total++;
	}
	return total;
}

unsigned sg_fl_poll(struct sg_fl *fl, uint64_t now_us)
{
	uint32_t due[64];
	unsigned n, work = 0;

	set_now(fl, now_us);
	solicit_gateway(fl);
	if (!fl->gw_known)
		return 0;
	do {
		n = sg_fl_wheel_expire(&fl->wheel, fl->now, due, SG_ARRAY_SIZE(due));
		for (unsigned k = 0; k < n; k++)
			sg_fl_dev_timer(fl, due[k]);
		work += n;
	} while (n == SG_ARRAY_SIZE(due) && work < TIMERS_PER_POLL);
	sg_fl_dev_drain_queue(fl);
	sg_fl_dev_flush(fl); /* the requests of this tick, before the delay lines release */
	return work + release(fl);
}

bool sg_fl_ready(const struct sg_fl *fl)
{
	return fl->gw_known;
}

void sg_fl_snapshot(const struct sg_fl *fl, struct sg_fl_snap *s)
{
	s->c = fl->c;
	s->c.link_lost = fl->up.lost + fl->down.lost;
	s->devices = fl->count;
	s->connected = fl->connected;
	s->inflight = fl->hs_used;
	s->held = fl->up.held + fl->down.held;
	s->ready_ms = fl->ready_ms;
	s->all_connected_ms = fl->all_connected_ms;
	s->rtt = fl->rtt;
}

void sg_fl_states(const struct sg_fl *fl, uint32_t counts[SG_FL_STATES])
{
	for (unsigned k = 0; k < SG_FL_STATES; k++)
		counts[k] = 0;
	for (uint32_t i = 0; i < fl->count; i++)
		if (fl->dev[i].state < SG_FL_STATES)
			counts[fl->dev[i].state]++;
}

const char *sg_fl_state_name(unsigned state)
{
	static const char *const names[SG_FL_STATES] = {
		[SG_FL_D_IDLE] = "idle", [SG_FL_D_QUEUED] = "queued",   [SG_FL_D_HS] = "handshake",
		[SG_FL_D_UP] = "up",     [SG_FL_D_BACKOFF] = "backoff",
	};

	return state < SG_FL_STATES ? names[state] : "unknown";
}

/* The addresses of the topology (docs/fleet.md): router x.x.0.2, devices from 198.19.0.0. */
static void addresses(struct sg_fl *fl)
{
	static const uint8_t router4[4] = { 198, 18, 0, 2 }, base4[4] = { 198, 19, 0, 0 };
	static const uint8_t router6[16] = { 0xfd, 0, 0x53, 0x47, [15] = 2 };
	static const uint8_t base6[16] = { 0xfd, 0, 0x53, 0x47, [11] = 1 };

	memset(fl->router, 0, 16);
	memset(fl->dev_base, 0, 16);
	if (fl->conf->family == 4) {
		memcpy(fl->router, router4, 4);
		memcpy(fl->dev_base, base4, 4);
	} else {
		memcpy(fl->router, router6, 16);
		memcpy(fl->dev_base, base6, 16);
	}
}

static int create_parts(struct sg_fl *fl, uint64_t seed)
{
	unsigned cid = fl->conf->cid ? SG_FL_CID_LEN : 0;
	struct sg_rec_ctx_conf rc = { .window_bits = SG_FL_WINDOW, .cid_len = cid };
	struct sg_rec_ctx_conf rc_hs = { .window_bits = SG_FL_WINDOW,
		                         .cid_len = cid,
		                         .flags = SG_REC_CTX_F_LATENCY };
	size_t dev_bytes = (size_t)fl->count * sizeof(*fl->dev);
	uint32_t one_way = (fl->conf->rtt_max_ms + 1) / 2;

	if (posix_memalign((void **)&fl->dev, SG_CACHE_LINE, dev_bytes) != 0)
		return -ENOMEM;
	memset(fl->dev, 0, dev_bytes);
	fl->hs = calloc(fl->conf->max_inflight, sizeof(*fl->hs));
	fl->cid_len = cid;
	if (fl->conf->resume) {
		fl->tickets = calloc(fl->count, sizeof(*fl->tickets));
		if (fl->tickets == NULL)
			return -ENOMEM;
	}
	fl->rec = sg_rec_ctx_create(&rc);
	fl->rec_hs = sg_rec_ctx_create(&rc_hs);
	if (fl->hs == NULL || fl->rec == NULL || fl->rec_hs == NULL)
		return -ENOMEM;
	if (sg_fl_wheel_init(&fl->wheel, fl->dev, sizeof(*fl->dev), offsetof(struct sg_fl_dev, tl),
	                     0) != 0 ||
	    sg_fl_delay_init(&fl->up, one_way, fl->conf->loss_ppm, seed ^ 0x5555, 0) != 0 ||
	    sg_fl_delay_init(&fl->down, one_way, fl->conf->loss_ppm, seed ^ 0xaaaa, 0) != 0)
		return -ENOMEM;
	return 0;
}

struct sg_fl *sg_fl_create(const struct sg_fl_conf *conf, const struct sg_fl_io *io,
                           const uint8_t mac[SG_FL_PORT_MAX][6], uint32_t first, uint32_t count,
                           uint64_t seed, uint64_t now_us)
{
	struct sg_fl *fl;

	if (count == 0 || (uint64_t)first + count > conf->devices || conf->max_inflight == 0 ||
	    conf->rtt_max_ms > SG_FL_RTT_MAX_MS) {
		errno = EINVAL;
		return NULL;
	}
	fl = calloc(1, sizeof(*fl));
	if (fl == NULL)
		return NULL;
	fl->conf = conf;
	fl->io = *io;
	fl->first = first;
	fl->count = count;
	fl->rng = seed | 1;
	fl->t0_us = fl->now_us = now_us;
	fl->ready_ms = fl->all_connected_ms = -1;
	fl->req_interval_ms = sg_fl_req_interval_ms(conf);
	memcpy(fl->mac, mac, sizeof(fl->mac));
	addresses(fl);
	if (create_parts(fl, seed) != 0) {
		sg_fl_free(fl);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t k = 0; k < conf->max_inflight; k++)
		fl->hs[k].next = k + 1 < conf->max_inflight ? k + 1 : SG_FL_NONE;
	fl->queue_head = fl->queue_tail = SG_FL_NONE;
	for (uint32_t i = 0; i < count; i++) {
		fl->dev[i].fc.sa = &fl->dev[i].sa;
		fl->dev[i].hs = SG_FL_NONE;
		fl->dev[i].rtt_ms =
		        (uint16_t)sg_fl_rand_range(&fl->rng, conf->rtt_min_ms, conf->rtt_max_ms);
	}
	return fl;
}

static void drain_delay(struct sg_fl *fl, struct sg_fl_delay *d)
{
	struct sg_fl_buf *b;

	if (d->head == NULL)
		return;
	while ((b = sg_fl_delay_pop(d, UINT32_MAX - 1)) != NULL)
		sg_fl_buf_put(fl, b);
	sg_fl_delay_fini(d);
}

void sg_fl_free(struct sg_fl *fl)
{
	if (fl == NULL)
		return;
	if (fl->dev != NULL && fl->hs != NULL)
		sg_fl_dev_release_all(fl);
	drain_delay(fl, &fl->up);
	drain_delay(fl, &fl->down);
	sg_fl_wheel_fini(&fl->wheel);
	sg_rec_ctx_free(fl->rec);
	sg_rec_ctx_free(fl->rec_hs);
	free(fl->hs);
	free(fl->tickets);
	free(fl->dev);
	free(fl);
}
