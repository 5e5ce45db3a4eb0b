/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's sans-I/O core: a range of devices and the application server,
 * driven by the caller with received frames and the time, sending frames
 * through struct sg_fl_io (fl_buf.h). One struct sg_fl per lcore: it owns
 * its devices, handshake pool, timers, delay lines and record context, and
 * shares nothing, so devices can be split across lcores (today the main
 * lcore runs one core with every device).
 *
 *   sg_fl_create()    devices [first, first + count) of conf
 *   sg_fl_input()     frames received on a port (the core owns them after)
 *   sg_fl_poll()      timers, delay lines, neighbour resolution; call often
 *   sg_fl_snapshot()  counters for the report and the live line
 *
 * Threads: one lcore per struct sg_fl; sg_fl_snapshot() on the same lcore.
 */
#ifndef STORMGATE_FL_CORE_H
#define STORMGATE_FL_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "fl_buf.h"
#include "fl_hist.h"
#include "fl_opts.h"

/* Why a received or emitted datagram went nowhere: one counter each. */
enum sg_fl_drop {
	SG_FL_DROP_BAD_FRAME = 0, /* malformed Ethernet/IP/UDP (lengths, checksums) */
	SG_FL_DROP_NOT_OURS,      /* well-formed, but for no address or port of ours */
	SG_FL_DROP_NO_DEVICE,     /* to a device address outside the fleet */
	SG_FL_DROP_BAD_RECORD,    /* a record that does not parse, or of a type we never get */
	SG_FL_DROP_AUTH_FAILED,   /* a record of the session that does not open */
	SG_FL_DROP_STALE,         /* for a device that is not in that state any more */
	SG_FL_DROP_BAD_COAP,      /* a plaintext that is not our CoAP answer */
	SG_FL_DROP_DUP_ANSWER,    /* an answer to a request already answered (a retransmission's) */
	SG_FL_DROP_APP_BAD,       /* to the application server, not a request of ours */
	SG_FL_DROP_NO_BUF,        /* the packet pool was empty */
	SG_FL_DROP_SEAL_FAILED,   /* the record layer refused to seal */
	SG_FL_DROP_MAX
};

/* Stable label of a drop reason ("bad_frame"), or "unknown". */
const char *sg_fl_drop_name(enum sg_fl_drop d);

struct sg_fl_counters {
	uint64_t handshakes_started;
	uint64_t handshakes_completed;
	uint64_t handshakes_failed;
	uint64_t handshakes_resumed; /* abbreviated (RFC 5077), of the completed */
	uint64_t handshakes_cid;     /* with connection IDs negotiated (RFC 9146) */
	uint64_t retransmissions;    /* handshake flights resent */
	uint64_t requests_sent;
	uint64_t requests_answered;
	uint64_t requests_lost; /* no answer after MAX_RETRANSMIT retransmissions */
	uint64_t request_retransmissions;
	uint64_t misdelivered; /* an answer naming another device */
	uint64_t nonce_reuse;
	uint64_t record_copies; /* byte-identical copies of the gateway's handshake records */
	uint64_t rehandshakes;  /* sessions the gateway ended, or that stopped answering */
	uint64_t alerts_received;
	uint64_t app_answers; /* answers the application server sent */
	uint64_t link_lost;   /* datagrams the emulated loss dropped (both ways) */
	uint64_t drops[SG_FL_DROP_MAX];
};

struct sg_fl_snap {
	struct sg_fl_counters c;
	uint32_t devices;
	uint32_t connected; /* devices with a session */
	uint32_t inflight;  /* handshakes in progress */
	uint64_t held;      /* datagrams in the delay lines */
	int64_t ready_ms;   /* when the gateway's MAC was known and devices began; -1: not yet */
	int64_t all_connected_ms; /* when connected first reached devices; -1: not yet */
	struct sg_fl_hist rtt;    /* request round trips, µs, since the start */
};

struct sg_fl;

/*
 * A core for devices [first, first + count) of conf (alive as long as the
 * core), sending through io, with mac[port] its MAC address on each port,
 * link-emulation draws seeded by seed, at time now_us (the caller's
 * monotonic µs; sg_fl_poll() and sg_fl_input() take the same clock).
 * Returns NULL with errno ENOMEM or EINVAL. Owner lcore.
 */
struct sg_fl *sg_fl_create(const struct sg_fl_conf *conf, const struct sg_fl_io *io,
                           const uint8_t mac[SG_FL_PORT_MAX][6], uint32_t first, uint32_t count,
                           uint64_t seed, uint64_t now_us);

/* Wipe every key and handshake, free the buffers held and the core. NULL is a no-op. */
void sg_fl_free(struct sg_fl *fl);

/* Take n frames received on port: each is answered, held or freed (counted). */
void sg_fl_input(struct sg_fl *fl, enum sg_fl_port port, struct sg_fl_buf **bufs, unsigned n,
                 uint64_t now_us);

/*
 * Run what is due at now_us: neighbour resolution of the gateway (devices
 * start once its MAC is known), device timers, datagrams the delay lines
 * release. Returns how many events it handled (0: idle).
 */
unsigned sg_fl_poll(struct sg_fl *fl, uint64_t now_us);

/* Whether the gateway's MAC address is known (the devices started). */
bool sg_fl_ready(const struct sg_fl *fl);

/* Counters and state now. */
void sg_fl_snapshot(const struct sg_fl *fl, struct sg_fl_snap *s);

/*
 * How many devices are in each state (idle, queued, handshake, up, backoff: the
 * labels of sg_fl_state_name()), into counts[SG_FL_STATES]. Walks every device:
 * for the final report, not once a second.
 */
#define SG_FL_STATES 5
void sg_fl_states(const struct sg_fl *fl, uint32_t counts[SG_FL_STATES]);
const char *sg_fl_state_name(unsigned state);

/* Bytes of one device's state (outside a handshake), and of one handshake's. */
size_t sg_fl_dev_bytes(void);
size_t sg_fl_hs_bytes(void);

#endif /* STORMGATE_FL_CORE_H */
