/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The poll-mode data plane: worker lcores that receive DTLS records from the
 * devices, find their sessions, open them in bursts and forward the
 * plaintext to the M2M application servers, and seal the servers' replies
 * back to the devices. Everything else is punted to the control plane over
 * one bounded ring; the control plane's answers go out through a TX queue of
 * its own. See docs/architecture.md and docs/dataplane.md.
 *
 * Threads:
 *   - sg_dp_worker_main() runs on each worker lcore (no syscalls, locks,
 *     allocation other than mbufs, or logging once it runs);
 *   - functions marked "control" run on the one control-plane thread;
 *   - sg_dp_create()/sg_dp_destroy() run on the main lcore with no worker
 *     running.
 * Ports are configured and started by the caller (the gateway); the data
 * plane only uses their queues: RX queue w (when the port has it) and TX
 * queue w of every port for worker w. The control plane's frames go through
 * a ring that worker 0 drains onto its own TX queue.
 */
#ifndef STORMGATE_DATAPLANE_H
#define STORMGATE_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <stormgate/common.h>
#include <stormgate/drop.h>
#include <stormgate/net.h>
#include <stormgate/proxy_v2.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mbuf;
struct rte_mempool;
struct sg_sess_table;

#define SG_DP_WORKERS_MAX   64
#define SG_DP_PORTS_MAX     2
#define SG_DP_HS_QUEUES_MAX 64 /* handshake queues: one per handshake engine */
#define SG_DP_CTL_TX_MAX    64 /* control-TX handles (sg_dp_ctl_tx_create()) */

/*
 * Port roles. Replies from the backend server (its address and UDP port as
 * the source) are taken only on a port with the backend role; elsewhere they
 * are SG_DROP_BACKEND_FORGED. A single port may carry both roles: that trusts
 * everyone who can send to it not to spoof the server (udp mode; proxy mode
 * still wants each session's token). docs/architecture.md, "Trust model".
 */
#define SG_DP_ROLE_DEVICE  0x01 /* devices' DTLS traffic arrives here */
#define SG_DP_ROLE_BACKEND 0x02 /* plaintext to and from the M2M servers */

enum sg_dp_backend_mode {
	SG_DP_BACKEND_UDP =
	        0, /* one backend source port per session: servers see one peer per device */
	SG_DP_BACKEND_PROXY, /* one port, a PROXY v2 header on every datagram names the device */
};

struct sg_dp_port_conf {
	uint16_t port_id;     /* DPDK port, configured with >= n_workers TX queues */
	uint8_t role;         /* SG_DP_ROLE_* */
	struct sg_net_if ifc; /* our MAC, VLAN and addresses on this port */
	/* Next hop for addresses off the port's subnets; all-zero: none (on-link only). */
	uint8_t gw4[4];
	uint8_t gw6[16];
	uint8_t prefix4; /* on-link IPv4 prefix length of ifc.ip4[0] (0: all on-link) */
	uint8_t prefix6; /* on-link IPv6 prefix length of ifc.ip6[0] (0: all on-link) */
};

/*
 * What a worker does when an authenticated CID record that is the session's
 * newest comes from another address or port (RFC 9146 §6: the receiver must
 * not move the session unless it makes sure the new address can receive).
 */
enum sg_dp_peer_move {
	/* The session moves only after a return routability check (RFC 9853)
	 * passes; a session that did not negotiate rrc stays where it is. */
	SG_DP_PEER_MOVE_VERIFIED = 0,
	/* Sessions without rrc move at once, as the newest record says (for
	 * paths where nobody can relay a device's records: anyone who can
	 * diverts its replies); sessions with rrc are still checked. */
	SG_DP_PEER_MOVE_UNVERIFIED,
};

struct sg_dp_conf {
	unsigned n_workers; /* 1..SG_DP_WORKERS_MAX */
	unsigned n_ports;   /* 1..SG_DP_PORTS_MAX */
	struct sg_dp_port_conf ports[SG_DP_PORTS_MAX];
	uint16_t dtls_port;      /* UDP port devices send DTLS to (CoAPs: 5684) */
	unsigned burst;          /* RX burst, 1..SG_BURST_MAX; 0: 32 */
	unsigned punt_ring_size; /* power of two; 0: 4096 */
	/*
	 * Handshake queues (issue 16, docs/hsplane.md): datagrams punted as
	 * SG_DP_PUNT_HANDSHAKE or SG_DP_PUNT_UNKNOWN go to queue
	 * sg_dp_hs_queue_of() of their client's address and port, each
	 * punt_ring_size deep, instead of the punt ring. 0: none, they stay
	 * on the punt ring (tests and tools that serve it alone).
	 */
	unsigned n_hs_queues;
	unsigned handoff_ring_size;     /* per worker, power of two; 0: 1024 */
	unsigned max_records_per_dgram; /* application records opened per datagram; 0: 8 */
	uint32_t auth_fail_limit; /* forgeries per key (0: RFC 9147 limits; never above them) */
	/* each worker wipes the keys its record layer keeps from past bursts (expanded
	 * schedules, cached GCM key data) this often, so no ended session's key lingers
	 * longer; 0: 10000 ms */
	uint32_t key_scrub_ms;
	enum sg_dp_peer_move peer_move; /* CID peers that move: see the enum */
	/* RFC 9853 §5.5 T: how long a path_challenge waits for its path_response;
	 * 0: SG_RRC_TIMEOUT_MS (1 s) */
	uint32_t rrc_timeout_ms;

	/* Backend (the M2M application servers). */
	enum sg_dp_backend_mode backend_mode;
	uint8_t backend_family;   /* 4 or 6 */
	uint8_t backend_addr[16]; /* the server */
	uint16_t backend_port;    /* its UDP port (CoAP: 5683) */
	/*
	 * Our addresses on the backend side (ifc of the backend-role port holds
	 * them too). udp mode: backend port index b is address b / ports_per_addr,
	 * port port_base + b % ports_per_addr, and sessions take free indexes in
	 * turn (the longest-unused first); proxy mode: address 0, port_base.
	 */
	uint8_t n_local;
	uint8_t local_addr[SG_NET_IF_ADDRS_MAX][16];
	uint16_t port_base;
	uint16_t ports_per_addr; /* udp mode: 1..65535 - port_base + 1 */
	/*
	 * udp mode: a pool of source addresses instead of local_addr, a prefix of
	 * the backend family (pool_len 0: none; IPv4 /8../32, IPv6 /96../128,
	 * host bits zero). Address i of the pool is pool_addr + i. The data plane
	 * adds the prefix to the backend-role port's ifc (pool4/pool6), so every
	 * address of it is answered in ARP and ND and taken as a destination.
	 * When the pool has a port for every session slot, a session's index is
	 * computed from its slot and generation, and a reply's session from its
	 * address and port, with no table between (docs/dataplane.md "Backend
	 * source pool"); else indexes are handed out in turn as above.
	 */
	uint8_t pool_len;
	uint8_t pool_addr[16];

	/*
	 * Sequence floors for the session store (issue 15, docs/restart.md): a
	 * worker posts a session's write sequence and receive top
	 * (SG_DP_PUNT_FLOORS) when a seal moves the write sequence across a
	 * multiple of seq_step, or an authenticated record moves the receive top
	 * across one, or (seq_interval_s) when an authenticated record is the
	 * session's first in a new window of that many seconds. seq_step is
	 * rounded down to a power of two (floors come as often or more often,
	 * so a restore that leaps by seq_step still covers every number used);
	 * 0: no floors at all, nor the time rule (the store is off). seq_interval_s
	 * 0: no time rule.
	 */
	uint32_t seq_step;
	uint32_t seq_interval_s;

	struct sg_sess_table *sessions; /* session table (owned by the caller) */
	struct rte_mempool *pool;       /* mbufs for copies and control-plane replies */
};

/* Why a packet was handed to the control plane (struct sg_dp_meta.punt). */
enum sg_dp_punt {
	SG_DP_PUNT_HANDSHAKE = 0, /* epoch-0 records: ClientHello, flights, alerts */
	SG_DP_PUNT_UNKNOWN,       /* application records of no known session */
	SG_DP_PUNT_ARP,           /* ARP about one of our addresses */
	SG_DP_PUNT_NDISC,         /* neighbour discovery for one of our addresses */
	SG_DP_PUNT_ALERT,         /* an authenticated alert from a session: data is its plaintext */
	SG_DP_PUNT_KEY_EXHAUSTED, /* notice: the session's key reached its forgery limit; empty */
	SG_DP_PUNT_FINISHED,      /* the device's Finished again, authenticated under the session's
	                             keys (our final flight was lost); data is its plaintext */
	SG_DP_PUNT_FLOORS,        /* sequence floors of one burst (sg_dp_conf.seq_step): data is
	                             data_len / sizeof(struct sg_dp_floor) of them; no session */
	SG_DP_PUNT_MAX
};

/*
 * One session's sequence floor (SG_DP_PUNT_FLOORS), host byte order: its
 * next write sequence number and its receive top (highest authenticated
 * sequence number + 1) as the owner worker left them at the end of a burst.
 * Posts are stateless and may be lost (counted floors_dropped); the next one
 * of the session carries a higher floor.
 */
struct sg_dp_floor {
	uint64_t session; /* id, gen << 32 | slot */
	uint64_t tx_seq;
	uint64_t rx_top;
};

/* Metadata a punted mbuf carries (an mbuf dynamic field). */
struct sg_dp_meta {
	uint64_t session; /* SG_DP_PUNT_ALERT, _KEY_EXHAUSTED, _FINISHED: session id */
	uint8_t punt;     /* enum sg_dp_punt */
	uint8_t port;     /* index in sg_dp_conf.ports */
	uint8_t worker;   /* worker that punted it */
};

/*
 * Per-worker counters, written by their worker only (relaxed stores), read
 * by the control plane. Packet outcome invariant, summed over workers once
 * the hand-off rings are drained:
 *   rx + reinjected == forwarded_up + forwarded_down + punted + consumed + dropped
 * where dropped is the sum of drop[] and reinjected the datagrams the control
 * plane handed back with sg_dp_ctl_reinject() (counted by the control plane:
 * such a datagram is counted twice, punted and then its new outcome).
 * handed_off counts packets moved to their session's worker (which then
 * counts their outcome). The rest count records and events, not packets.
 */
struct sg_dp_counters {
	uint64_t rx;
	uint64_t rx_bytes;
	uint64_t forwarded_up;   /* datagrams with >= 1 record opened and sent to the backend */
	uint64_t forwarded_down; /* backend datagrams sealed and sent to a device */
	uint64_t punted;
	uint64_t consumed; /* datagrams the worker acted on itself: a return routability
	                      message (RFC 9853) answered or accepted */
	uint64_t handed_off;
	uint64_t records_opened;
	uint64_t records_opened_prev; /* of those, with a re-keyed session's previous SA */
	uint64_t peer_moves;          /* CID sessions moved to a new address or port */
	/* CID peers that move (RFC 9146 §6) and return routability (RFC 9853): */
	uint64_t peer_moves_held;       /* newest authenticated records from a new address that
	                                   did not move their session (yet): no rrc, or a check */
	uint64_t rrc_challenges;        /* path_challenges sent to a new address */
	uint64_t rrc_responses_ok;      /* path_responses that passed a check: the session moved */
	uint64_t rrc_responses_refused; /* path_responses that answer no pending check */
	uint64_t rrc_timeouts;          /* checks that got no answer in time: no move */
	uint64_t rrc_evicted;           /* pending checks dropped for newer ones (table full) */
	uint64_t rrc_answered;          /* the devices' own path_challenges answered */
	uint64_t rrc_ignored;           /* path_drop, unknown or malformed RRC messages */
	uint64_t rrc_send_failed; /* RRC messages not sent: no mbuf, no neighbour, seal refused */
	uint64_t key_scrubs;      /* times the worker wiped its record layer's key scratch */
	uint64_t floors_posted;   /* sequence floors punted (SG_DP_PUNT_FLOORS; events) */
	uint64_t floors_dropped;  /* floors lost: no mbuf or a full punt ring (never waited for) */
	uint64_t records_sealed;
	uint64_t tx;
	uint64_t polls;
	uint64_t idle_polls;
	uint64_t drop[SG_DROP_MAX];
	uint64_t punt_by[SG_DP_PUNT_MAX];
} __attribute__((aligned(SG_CACHE_LINE)));

struct sg_dp;

/*
 * Make the data plane for conf (copied): punt ring, hand-off rings,
 * neighbour table, one record-layer context and session-table worker per
 * worker. Returns NULL with errno EINVAL (bad conf) or ENOMEM. Main lcore.
 */
struct sg_dp *sg_dp_create(const struct sg_dp_conf *conf);

/* Free everything; the workers must have returned. Frees punted mbufs left. NULL is fine. */
void sg_dp_destroy(struct sg_dp *dp);

/*
 * Worker loop for worker index (struct sg_dp *, index) until sg_dp_stop().
 * Launch with rte_eal_remote_launch(sg_dp_worker_main, sg_dp_worker_arg(dp, w), lcore).
 */
int sg_dp_worker_main(void *arg);
void *sg_dp_worker_arg(struct sg_dp *dp, unsigned worker);

/*
 * Run one poll iteration of worker w (RX from its queues and hand-off ring,
 * process, TX, report a quiescent state). Returns the number of packets it
 * took in. For tests and benchmarks that drive a worker from their own
 * thread: bracket the polls with sg_dp_worker_online()/offline() (the
 * session table's readers must be online while they hold references).
 */
unsigned sg_dp_worker_poll(struct sg_dp *dp, unsigned worker);
void sg_dp_worker_online(struct sg_dp *dp, unsigned worker);
void sg_dp_worker_offline(struct sg_dp *dp, unsigned worker);

/* Ask every worker loop to return. Any thread. */
void sg_dp_stop(struct sg_dp *dp);

/* Counters of worker w (a consistent-enough copy of relaxed reads). Control. */
void sg_dp_counters_get(const struct sg_dp *dp, unsigned worker, struct sg_dp_counters *c);

/* Sum of every worker's counters. Control. */
void sg_dp_counters_sum(const struct sg_dp *dp, struct sg_dp_counters *c);

/* The metadata of a punted mbuf. */
struct sg_dp_meta *sg_dp_meta(const struct sg_dp *dp, struct rte_mbuf *m);

/* Take up to n punted mbufs; the caller frees them. Control. */
unsigned sg_dp_punt_dequeue(struct sg_dp *dp, struct rte_mbuf **pkts, unsigned n);

/*
 * The handshake queue of a client (paddr: IPv4-mapped IPv6, pport in network
 * byte order, as struct sg_hs_peer): a hash keyed with a random word drawn
 * at sg_dp_create(), so every datagram of one client (its retransmissions,
 * its later flights, its first records) reaches the same queue, and nobody
 * outside can aim many clients at one. The workers and the control plane
 * both use this one function. 0 when there are no handshake queues. Any thread.
 */
unsigned sg_dp_hs_queue_of(const struct sg_dp *dp, const uint8_t paddr[16], uint16_t pport);

/* Handshake queues made (sg_dp_conf.n_hs_queues). Any thread. */
unsigned sg_dp_hs_queues(const struct sg_dp *dp);

/*
 * Take up to n datagrams of handshake queue q (each a multi-producer,
 * single-consumer ring: one thread dequeues a queue); the caller frees them.
 * 0 for a queue that does not exist. The queue's one consumer thread.
 */
unsigned sg_dp_hs_dequeue(struct sg_dp *dp, unsigned q, struct rte_mbuf **pkts, unsigned n);

/*
 * Datagrams dropped because handshake queue q was full (summed over the
 * workers; each also counted as SG_DROP_HS_QUEUE_FULL in its worker's
 * drops). Relaxed reads. Any thread.
 */
uint64_t sg_dp_hs_queue_full(const struct sg_dp *dp, unsigned q);

/*
 * Answer or learn from a punted ARP / neighbour-discovery packet: replies
 * for our addresses go out through the control TX queue, the sender's
 * link-layer address updates the neighbour table (replies are queued for
 * worker 0 to send, like every frame of the control plane). Consumes m. Control.
 * Returns 0 when answered or learned, -EINVAL when there was nothing to do.
 */
int sg_dp_ctl_neighbour(struct sg_dp *dp, struct rte_mbuf *m);

/*
 * Send a UDP datagram from our address on port index port to a peer (the
 * control plane's handshake flights and alerts): builds Ethernet, IPv4 or
 * IPv6 and UDP headers, resolves the next hop from the neighbour table
 * (soliciting it when unknown: the datagram is then dropped and -EHOSTUNREACH
 * returned, like a host with an incomplete ARP entry), and queues it for
 * worker 0 to send; while worker 0's ring is full it waits, in order, in a
 * bounded backlog that sg_dp_ctl_tx_retry() moves on (-ENOBUFS only when
 * that is full too). Control. Returns 0 or -errno.
 */
int sg_dp_ctl_send_udp(struct sg_dp *dp, unsigned port, uint8_t family, const uint8_t *src,
                       uint16_t sport, const uint8_t *dst, uint16_t dport, const uint8_t *payload,
                       uint16_t len);

/*
 * The UDP 4-tuple and payload of a punted datagram (SG_DP_PUNT_HANDSHAKE or
 * SG_DP_PUNT_UNKNOWN), in the session table's convention: IPv4 as
 * IPv4-mapped IPv6, ports in network byte order; *payload points into m.
 * Control. Returns 0, or -EINVAL when m holds no such datagram.
 */
int sg_dp_punt_udp(const struct sg_dp *dp, struct rte_mbuf *m, uint8_t laddr[16], uint8_t paddr[16],
                   uint16_t *lport, uint16_t *pport, const uint8_t **payload, uint16_t *len);

/*
 * Hand a punted datagram back to the data plane: one punted as
 * SG_DP_PUNT_UNKNOWN whose session the control plane has installed since
 * (a device may send its first record right behind its Finished, before it
 * hears from us again, in an abbreviated handshake, RFC 5077 §3.1). It goes
 * to worker `worker`'s hand-off ring and runs through every stage again, so
 * it is counted twice: punted, then its new outcome. Control. Returns 0 (m
 * taken), -EINVAL (no such worker) or -ENOBUFS (ring full; m stays the
 * caller's).
 */
int sg_dp_ctl_reinject(struct sg_dp *dp, struct rte_mbuf *m, unsigned worker);

/* Set a static neighbour (ip: 4 or 16 bytes by family). Control. Returns 0 or -ENOSPC. */
int sg_dp_neigh_set(struct sg_dp *dp, unsigned port, uint8_t family, const uint8_t *ip,
                    const uint8_t mac[6]);

/*
 * Ask for the link-layer addresses the data plane needs and does not have:
 * the ports' gateways and the backend server's next hop (ARP request or
 * neighbour solicitation). Call it periodically (once a second). Control.
 * Returns how many solicitations were sent.
 */
int sg_dp_ctl_resolve(struct sg_dp *dp);

/*
 * Have the next hop towards ip (4 or 16 bytes by family) on port index port
 * resolved: an ARP request or neighbour solicitation when the neighbour
 * table does not know it, at most one a second per next hop. For peers a
 * process learned before a restart (restored sessions), whose devices do
 * not ask again while their own cache is fresh. Control. Returns 1 when a
 * solicitation was queued, 0 when known or asked within the second,
 * -EINVAL (bad port or family) or the send's -errno.
 */
int sg_dp_ctl_solicit(struct sg_dp *dp, unsigned port, uint8_t family, const uint8_t *ip);

/*
 * Give a session installed in the session table its backend side, before the
 * device can send records on it (before our Finished goes out): udp mode
 * binds the next free backend source port (the longest-unused one, so a late
 * reply from the server rarely meets a new device); proxy mode keeps the
 * PSK identity for the PROXY v2 TLV and the session's token: token
 * (SG_PP2_TOKEN_LEN bytes, copied; the caller draws them from a CSPRNG and
 * wipes its copy) goes with the session id in every datagram's UNIQUE_ID TLV,
 * and a reply without it is SG_DROP_BACKEND_FORGED. udp mode ignores
 * identity and token (may be NULL). Control. Returns 0, -ENOSPC (no free
 * backend port), -EEXIST, -EINVAL (bad slot, identity too long, proxy mode
 * without a token) or -ENOMEM.
 */
int sg_dp_session_attach(struct sg_dp *dp, uint64_t session, const uint8_t *identity,
                         uint8_t identity_len, const uint8_t *token);

/*
 * sg_dp_session_attach() of an identity that authenticated as auth (enum
 * sg_pp2_auth; sg_dp_session_attach() is SG_PP2_AUTH_PSK): proxy mode names
 * the kind in the PROXY v2 header (proxy_v2.h, SG_PP2_TYPE_AUTH). Same
 * returns; -EINVAL for an unknown auth too. Control.
 */
int sg_dp_session_attach_as(struct sg_dp *dp, uint64_t session, uint8_t auth,
                            const uint8_t *identity, uint8_t identity_len, const uint8_t *token);

/*
 * Undo sg_dp_session_attach() when the session is deleted (the identity and
 * token are wiped and freed after an RCU grace period; sg_dp_ctl_reclaim()
 * frees them). Never waits for the workers: when they lag, the queue of
 * identities waiting grows (counted, sg_dp_ctl_detach_deferred()) up to four
 * per session slot. Control. Returns 0, -ENOENT, or, at that bound or out of
 * memory, -ENOSPC / -ENOMEM with the session still attached.
 */
int sg_dp_session_detach(struct sg_dp *dp, uint64_t session);

/*
 * udp mode: the backend-side address and port a session's datagrams come
 * from. Control. Returns 0, -ENOENT (not attached) or -ENOTSUP (proxy mode).
 */
int sg_dp_session_bport(const struct sg_dp *dp, uint64_t session, uint8_t *family, uint8_t addr[16],
                        uint16_t *port);

/*
 * Checkpoint: a session's backend side as sg_dp_session_restore() takes it
 * back after a restart (issue 15). udp mode: *backend gets the backend port
 * index the session is bound to (address index * ports_per_addr + port
 * offset; with a direct-mapped pool it also names the slot's attach cycle),
 * token (if not NULL) zeros; proxy mode: *backend 0, token the session's
 * SG_PP2_TOKEN_LEN bytes (secret: the caller seals and wipes it). Control.
 * Returns 0 or -ENOENT (not attached, or attached to another session of the slot).
 */
int sg_dp_session_backend(const struct sg_dp *dp, uint64_t session, uint32_t *backend,
                          uint8_t token[SG_PP2_TOKEN_LEN]);

/*
 * Restore: attach exactly the binding a checkpoint recorded to a session
 * restored into the table at its old id, so the backend server sees the
 * same peer (udp mode: that backend port index, backend, as
 * sg_dp_session_backend() gave it; identity and token are ignored) or gets
 * the same token (proxy mode: token and identity as in
 * sg_dp_session_attach(); backend is ignored). Before the workers start
 * (or before the session is published). Control. Returns 0, -EEXIST (the
 * slot is attached, or udp mode's port is bound to another session),
 * -EINVAL (bad slot, a port index this configuration does not have or, with
 * a direct-mapped pool, one of another slot; proxy mode without a token;
 * identity too long) or -ENOMEM. After -EINVAL (the backend configuration
 * changed across the restart) sg_dp_session_attach() gives a fresh binding.
 */
int sg_dp_session_restore(struct sg_dp *dp, uint64_t session, const uint8_t *identity,
                          uint8_t identity_len, const uint8_t *token, uint32_t backend);

/*
 * sg_dp_session_restore() of a session whose identity authenticated as auth
 * (enum sg_pp2_auth; sg_dp_session_restore() is SG_PP2_AUTH_PSK): proxy mode
 * names the kind in the PROXY v2 header again. Same returns; -EINVAL for an
 * unknown auth too (proxy mode). Control.
 */
int sg_dp_session_restore_as(struct sg_dp *dp, uint64_t session, uint8_t auth,
                             const uint8_t *identity, uint8_t identity_len, const uint8_t *token,
                             uint32_t backend);

/*
 * After the restores: udp mode without a direct-mapped pool rebuilds its
 * order of free backend ports (ascending; every port no restored session
 * holds) once, rather than per restore. An attach before it does it
 * itself. Control.
 */
void sg_dp_restore_done(struct sg_dp *dp);

/* Free what sg_dp_session_detach() deferred, when its grace period ended. Control. */
unsigned sg_dp_ctl_reclaim(struct sg_dp *dp);

/*
 * How many detaches queued their identity beyond the nominal 65536 waiting
 * for a grace period (the workers lagged) instead of waiting. Control.
 */
uint64_t sg_dp_ctl_detach_deferred(const struct sg_dp *dp);

/*
 * Control TX for one more sending thread (a handshake engine's): frames go
 * on the same multi-producer ring worker 0 drains, and wait, in order, in
 * the handle's own bounded backlog while it is full. The handle belongs to
 * the thread that sends with it; create and free it on the control thread
 * (which sums its counters into sg_dp_ctl_counters()), free it once its
 * thread stopped sending. NULL with errno EINVAL (no dp) / ENOSPC
 * (SG_DP_CTL_TX_MAX handles) / ENOMEM.
 */
struct sg_dp_ctl_tx;
struct sg_dp_ctl_tx *sg_dp_ctl_tx_create(struct sg_dp *dp);

/* Frees the frames still in its backlog (counted dropped). NULL: no-op. Control. */
void sg_dp_ctl_tx_free(struct sg_dp_ctl_tx *tx);

/*
 * sg_dp_ctl_send_udp() from our address and port laddr/lport to paddr/pport
 * as the session table keeps them (IPv4 as IPv4-mapped IPv6, ports in
 * network byte order), through handle tx (the handle's thread), or with tx
 * NULL through the control thread's own (control).
 */
int sg_dp_ctl_send_mapped(struct sg_dp *dp, struct sg_dp_ctl_tx *tx, unsigned port,
                          const uint8_t laddr[16], uint16_t lport, const uint8_t paddr[16],
                          uint16_t pport, const uint8_t *payload, uint16_t len);

/* sg_dp_ctl_send_udp() through handle tx. The handle's thread. */
int sg_dp_ctl_tx_send_udp(struct sg_dp_ctl_tx *tx, unsigned port, uint8_t family,
                          const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport,
                          const uint8_t *payload, uint16_t len);

/* sg_dp_ctl_tx_retry() for handle tx: how many frames still wait. The handle's thread. */
unsigned sg_dp_ctl_tx_retry_on(struct sg_dp_ctl_tx *tx);

/*
 * Counters of the control plane's own sending (the control thread's and
 * every handle's): frames queued for worker 0, and dropped (no neighbour,
 * ring and backlog full). Control.
 */
void sg_dp_ctl_counters(const struct sg_dp *dp, uint64_t *sent, uint64_t *dropped);

/* Control-plane frames that waited in the backlog for room in worker 0's ring. Control. */
uint64_t sg_dp_ctl_deferred(const struct sg_dp *dp);

/*
 * Move the control plane's frames waiting in the backlog onto worker 0's
 * ring, oldest first, as far as it has room. Call it every poll of the
 * control thread (sg_dp_ctl_send_udp() calls it too). Control. Returns how
 * many still wait.
 */
unsigned sg_dp_ctl_tx_retry(struct sg_dp *dp);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_DATAPLANE_H */
