/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the fleet core (fl_core.h): the device, the pooled handshake and
 * the per-lcore state, shared by its files, a stack top first:
 *   fl_core.c   set-up, frames in, polling, the link layer, neighbours
 *   fl_dev.c    a device: handshakes, timers, requests and answers
 *   fl_app.c    the application server
 * Thread: the lcore that owns the struct sg_fl.
 */
#ifndef STORMGATE_FL_PRIV_H
#define STORMGATE_FL_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <stormgate/common.h>
#include <stormgate/record.h>

#include "fl_core.h"
#include "fl_creds.h"
#include "fl_delay.h"
#include "fl_frame.h"
#include "fl_nonce.h"
#include "fl_wheel.h"
#include "fleet_client.h"

#define SG_FL_WINDOW    64    /* the devices' replay window: sg_rec_sa_size(64) = 128 bytes */
#define SG_FL_PORT_BASE 10000 /* device i's UDP port: base + i % ports_per_addr */
#define SG_FL_CID_LEN   4     /* --cid: our CID, the device's number (big-endian) */

/* Where a device is. */
enum sg_fl_dev_state {
	SG_FL_D_IDLE = 0, /* before its arrival (timer: arrival) */
	SG_FL_D_QUEUED,   /* waiting for a handshake slot (in the queue, no timer) */
	SG_FL_D_HS,       /* handshaking (timer: retransmission or give-up) */
	SG_FL_D_UP,       /* a session (timer: next request, or its retransmission) */
	SG_FL_D_BACKOFF,  /* its handshake failed (timer: the retry) */
};

/*
 * One device: 256 bytes, the SA first (two cache lines), then everything
 * else in the other two. Outside a handshake this is all a device keeps.
 */
struct sg_fl_dev {
	struct sg_rec_sa sa;   /* its session's keys (SG_FL_WINDOW) */
	struct sg_fc_dev fc;   /* the client handshake's per-device part */
	struct sg_fl_tlink tl; /* its timer (or the slot queue's links) */
	struct sg_fl_nonce tx; /* nonce check of the records it sent under this key */
	struct sg_fl_nonce rx; /* and of the gateway's */
	uint32_t hs;           /* handshake pool entry, SG_FL_NONE outside one */
	uint32_t req;          /* number of the current (or last) request */
	uint32_t req_sent_us;  /* when the current request was first sent (low 32 bits) */
	uint32_t next_req;     /* tick of the next request */
	uint32_t req_due;      /* tick its retransmission (or give-up) is due; 0: none */
	uint32_t req_to;       /* its current timeout, ms (doubles, RFC 7252 §4.2) */
	uint16_t mid;          /* CoAP message id of the current request */
	uint16_t rtt_ms;       /* the device's emulated round trip */
	uint8_t state;         /* enum sg_fl_dev_state */
	uint8_t req_out;       /* a request is waiting for its answer */
	uint8_t req_retx;      /* its retransmissions so far */
	uint16_t fin_seq1;     /* the server's Finished record of this key: its sequence + 1 */
	uint32_t fin_fp;       /* and its fingerprint (sg_fl_fingerprint()) */
} __attribute__((aligned(SG_CACHE_LINE)));

/* A handshake in progress, from the pool of --max-inflight. */
struct sg_fl_hs {
	struct sg_fc_hs fc;
	struct sg_fc_conf conf; /* fc.conf points here */
	char identity[SG_FL_IDENTITY_MAX];
	uint8_t psk[SG_FL_PSK_LEN];
	uint32_t dev;     /* device index (local) */
	uint32_t next;    /* free list */
	uint32_t rto;     /* current timeout, ms */
	uint32_t rto_due; /* tick of the next retransmission; after a resumption, the release */
	uint32_t give_up; /* tick the handshake is abandoned */
	uint8_t cid[SG_FL_CID_LEN]; /* --cid: conf.cid points here */
};

struct sg_fl {
	const struct sg_fl_conf *conf;
	struct sg_fl_io io;
	struct sg_rec_ctx *rec;    /* the devices' data, in bursts (multi-buffer) */
	struct sg_rec_ctx *rec_hs; /* the handshakes' Finished records, one at a time */
	struct sg_fl_dev *dev;     /* count devices, cache-aligned */
	uint32_t first, count;
	struct sg_fl_hs *hs;          /* conf->max_inflight entries */
	struct sg_fc_ticket *tickets; /* --resume: one per device (a side pool), else NULL */
	unsigned cid_len;             /* --cid: SG_FL_CID_LEN, else 0 */
	uint32_t hs_free;             /* free list head */
	uint32_t hs_used;
	uint32_t queue_head, queue_tail; /* devices waiting for a slot (through tl.next) */
	struct sg_fl_wheel wheel;
	struct sg_fl_delay up, down; /* devices -> gateway, gateway -> devices */
	uint64_t rng;
	uint64_t t0_us; /* creation */
	uint32_t now;   /* ms since t0 */
	uint64_t now_us;
	double req_interval_ms; /* per device; 0: no requests */
	/* the link layer */
	uint8_t mac[SG_FL_PORT_MAX][6];
	uint8_t gw_mac[6];
	bool gw_known;
	uint32_t next_solicit; /* tick of the next ARP/NS for the gateway */
	uint8_t router[16];    /* our address on the device link */
	uint8_t dev_base[16];  /* device 0's address */
	/* outcomes */
	struct sg_fl_counters c;
	uint32_t connected;
	int64_t ready_ms;
	int64_t all_connected_ms;
	struct sg_fl_hist rtt;
	/* requests waiting to be sealed together (fl_dev.c) */
	unsigned n_out;
	struct sg_rec_seal_op out[SG_BURST_MAX];
	struct sg_fl_buf *out_buf[SG_BURST_MAX];
	uint32_t out_dev[SG_BURST_MAX];
};

/* fl_core.c: send a device's UDP payload (at b->data + SG_FL_HDR_ROOM, len bytes) up the link. */
void sg_fl_dev_send(struct sg_fl *fl, uint32_t i, struct sg_fl_buf *b, uint16_t len);
/* fl_core.c: device i resolves the gateway from its own address (--announce): ARP or NS. */
void sg_fl_dev_announce(struct sg_fl *fl, uint32_t i);
/* A buffer from the pool, counted when there is none. */
struct sg_fl_buf *sg_fl_buf_get(struct sg_fl *fl);
void sg_fl_buf_put(struct sg_fl *fl, struct sg_fl_buf *b);

/* fl_dev.c */
void sg_fl_dev_timer(struct sg_fl *fl, uint32_t i);
void sg_fl_dev_input(struct sg_fl *fl, struct sg_fl_buf **bufs, unsigned n);
void sg_fl_dev_arrive_all(struct sg_fl *fl);
void sg_fl_dev_release_all(struct sg_fl *fl);
void sg_fl_dev_flush(struct sg_fl *fl);       /* seal and send the requests waiting */
void sg_fl_dev_drain_queue(struct sg_fl *fl); /* start queued handshakes while slots are free */

/* fl_app.c: answer a request that reached the application server (b: owned). */
void sg_fl_app_input(struct sg_fl *fl, struct sg_fl_buf *b, const struct sg_fl_rx *rx);

#endif /* STORMGATE_FL_PRIV_H */
