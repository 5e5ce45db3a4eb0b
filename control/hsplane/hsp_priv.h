/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the files of the handshake plane share (not installed): one engine's
 * state, the messages of its FIFO to the owner thread, the commands the
 * owner posts to it. Who writes what is said field by field: "engine" for
 * the engine's thread only, "owner" for the owner thread only, and the
 * rings and atomics between them.
 */
#ifndef SG_HSP_PRIV_H
#define SG_HSP_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ring.h>

#include <stormgate/dataplane.h>
#include <stormgate/handshake.h>

#include "sg_admit.h"
#include "sg_hsplane.h"

/* Datagrams one install message carries (our final flight), and their bytes at most. */
#define HSP_FLIGHT_MAX   4
#define HSP_FLIGHT_BYTES 4096

#define HSP_FIFO_DEFAULT    512
#define HSP_CID_DEFAULT     256
#define HSP_CMD_RING        256
#define HSP_PUBLISH_MS      10   /* stats snapshot at least this often (<= 100 ms) */
#define HSP_SLEEP_MAX_US    1000 /* the longest idle sleep */
#define HSP_SLEEP_MIN_US    20
#define HSP_TX_HOLD         256           /* frames waiting in its TX backlog: take no datagrams */
#define HSP_STORM_WINDOW_NS 1000000000ull /* admission refused within this: a storm */

enum hsp_msg_kind {
	HSP_MSG_INSTALL = 0, /* a completed handshake and its final flight */
	HSP_MSG_RECORD,      /* a record of no session, in order behind the installs */
};

/*
 * One message of an engine's FIFO, from a fixed pool per engine: taken by
 * the engine (its free ring), filled, queued on the FIFO, served and wiped
 * by the owner, given back on the free ring. Never touched by both at once.
 */
struct hsp_msg {
	uint8_t kind; /* enum hsp_msg_kind */
	uint8_t n_out;
	uint16_t out_len[HSP_FLIGHT_MAX];
	uint16_t out_used;
	uint16_t payload_len;          /* HSP_MSG_RECORD */
	unsigned worker;               /* data-plane worker of the datagram */
	struct sg_hs_result res;       /* HSP_MSG_INSTALL; res.sa is sa below */
	struct rte_mbuf *m;            /* HSP_MSG_RECORD */
	const uint8_t *payload;        /* ... into m */
	struct sg_rec_sa *sa;          /* sa_size bytes, secret: wiped when served */
	uint8_t out[HSP_FLIGHT_BYTES]; /* the flight's datagrams, back to back */
};

enum hsp_cmd_kind {
	HSP_CMD_POLICY = 0,
	HSP_CMD_REVOKE,
	HSP_CMD_FINISHED_AGAIN,
	HSP_CMD_ECDHE_REUSE,
	HSP_CMD_FORGET, /* the owner refused peer's install: no Finished for it again */
};

/* A command of the owner to one engine (its ring holds copies). */
struct hsp_cmd {
	uint32_t kind;
	uint32_t ms, storm_ms;      /* HSP_CMD_ECDHE_REUSE */
	struct sg_hs_policy policy; /* HSP_CMD_POLICY */
	struct sg_hsplane_admission adm;
	struct sg_hs_peer peer; /* HSP_CMD_FINISHED_AGAIN, HSP_CMD_FORGET */
};

struct hsp_engine {
	struct sg_hsplane *p;
	unsigned idx;
	struct sg_hs_engine *hs; /* engine */
	struct sg_dp_ctl_tx *tx; /* engine: its control TX */
	unsigned tx_waiting;     /* engine: frames in its backlog after the last round */
	struct sg_admit admit;   /* engine */
	struct sg_admit_sources *admit_src;
	uint32_t slots;
	/* the FIFO to the owner and the pool of its messages */
	struct rte_ring *fifo; /* SP engine, SC owner */
	struct rte_ring *free; /* SP owner, SC engine */
	struct hsp_msg *msgs;  /* pool */
	unsigned n_msgs;
	size_t sa_size;  /* sg_rec_sa_size_max(window): a CBC SA's MAC line fits */
	unsigned window; /* the engines' replay window (bits; 0: the default) */
	uint8_t *sa_mem;
	/* free messages the engine took from the pool ahead (back-pressure: hsp_thread.c) */
	struct hsp_msg *stash[SG_HS_BURST_MAX];
	unsigned n_stash;
	/* messages of the current burst, in order, queued on the FIFO when it ends */
	struct hsp_msg *out[SG_HS_BURST_MAX * 2];
	unsigned n_outq;
	/* CIDs: reserved by the owner for the engine, released by the engine to the owner */
	struct rte_ring *cids;     /* SP owner, SC engine; elements of SG_HS_CID_MAX bytes */
	struct rte_ring *released; /* SP engine, SC owner */
	unsigned cid_target;
	uint64_t cids_put;   /* owner: CIDs it put in the cache */
	uint64_t cids_taken; /* atomic: written by the engine, read by the owner */
	/* commands */
	struct rte_ring *cmds; /* SP owner, SC engine; struct hsp_cmd elements */
	int efd;               /* eventfd: the owner wakes the engine after a command */
	/* ECDHE reuse: the configured window, the storm window, the one now (engine) */
	uint32_t reuse_ms, reuse_storm_ms, reuse_now;
	/* counters (engine), published in the snapshot */
	uint64_t installs, fifo_full, records, cid_empty, cid_lost, rounds, idle;
	uint64_t held_back;   /* rounds that took fewer datagrams: the pool was short */
	uint64_t taken[2];    /* datagrams taken: SG_DP_PUNT_HANDSHAKE, SG_DP_PUNT_UNKNOWN */
	uint64_t cmd_dropped; /* owner: commands the ring refused */
	/* the snapshot: engine writes, owner reads, under mu */
	pthread_mutex_t mu;
	struct sg_hsplane_engine_stats snap;
	uint64_t publish_ms; /* engine: the next snapshot is due */
	/* the thread */
	pthread_t tid;
	bool started;
};

struct sg_hsplane {
	struct sg_hsplane_conf conf; /* cpus copied into cpus[] */
	uint32_t cpus[SG_HSPLANE_ENGINES_MAX];
	struct sg_hsplane_sink sink;
	unsigned n;
	struct hsp_engine *e[SG_HSPLANE_ENGINES_MAX];
	struct sg_cred *cred; /* atomic: set by the owner, read by the engines */
	uint64_t cred_gen;    /* atomic: moved by the owner, read before each lookup */
	int stop;             /* atomic: the threads return */
	bool running, stopped;
	struct sg_hsplane_totals t; /* owner */
};

/* hsp_ops.c: the engine's callbacks (struct sg_hs_ops) and its burst's messages. */
void hsp_ops(struct hsp_engine *e, struct sg_hs_ops *ops);
/* Queue the burst's messages on the FIFO, in order (engine). */
void hsp_out_flush(struct hsp_engine *e);
/* Top the engine's stash of free messages up to n (engine); returns how many it holds. */
unsigned hsp_stash(struct hsp_engine *e, unsigned n);
/* A record of no session for the owner, in order (engine); false: not taken (freed). */
bool hsp_record(struct hsp_engine *e, struct rte_mbuf *m, const uint8_t *payload, uint16_t len,
                unsigned worker);
/* Wipe a served message and give it back to the pool (owner). */
void hsp_msg_done(struct hsp_engine *e, struct hsp_msg *msg);

/* hsp_thread.c: the loop of thread `sg-hs-<i>` (arg: struct hsp_engine *). */
void *hsp_thread_main(void *arg);
/* Engine e's share of the plane's admission (engine, or the owner before it runs). */
void hsp_admission(struct hsp_engine *e, const struct sg_hsplane_admission *a);
/* Apply a command (engine). */
void hsp_cmd_apply(struct hsp_engine *e, const struct hsp_cmd *c);
/* Publish the engine's stats snapshot now (engine; the owner after the thread stopped). */
void hsp_publish(struct hsp_engine *e, uint64_t now_ms);

#endif /* SG_HSP_PRIV_H */
