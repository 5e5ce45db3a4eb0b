/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the gateway shared by gateway.c and gateway_cmds.c only. */
#ifndef STORMGATE_CONTROL_GATEWAY_PRIV_H
#define STORMGATE_CONTROL_GATEWAY_PRIV_H

#include <stdint.h>

#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <stormgate/dataplane.h>
#include <stormgate/handshake.h>
#include <stormgate/record.h>
#include <stormgate/session.h>

#include "sg_admit.h"
#include "sg_gateway.h"
#include "sg_sessreg.h"

struct gw_port {
	const struct sg_cfg_port *cfg; /* in gw->cfg */
	uint16_t port_id;
	char dev_name[RTE_ETH_NAME_MAX_LEN];
	const char *driver;
	uint16_t nb_rxq, nb_txq, nb_rxd, nb_txd;
	uint16_t mtu;
	struct rte_ether_addr mac;
	int started;
	int dp_index; /* index in the data plane's ports, -1: not used by it */
};

/* One worker lcore: worker i of the data plane polls RX queue i of every port. */
struct gw_worker {
	unsigned lcore;
};

struct sg_gateway {
	struct sg_config cfg;
	struct sg_gateway_info info;
	struct rte_mempool *pool;
	unsigned n_ports;
	struct gw_port ports[SG_CFG_PORTS_MAX];
	unsigned n_workers;
	struct gw_worker workers[RTE_MAX_LCORE];
	struct sg_sess_table *sessions;
	struct sg_dp *dp;
	struct sg_hs_engine *hs;    /* DTLS 1.2 handshake server */
	uint8_t punt_worker;        /* worker that punted the datagram being handled */
	uint64_t hs_installed;      /* sessions installed by a completed handshake */
	uint64_t hs_replaced;       /* ... of which replaced a device's earlier session */
	uint64_t hs_install_failed; /* refused by the session table or the data plane */
	int running;
	int shutdown_requested;
	uint64_t start_ns;   /* CLOCK_MONOTONIC when the ports came up */
	uint64_t resolve_ns; /* last neighbour resolution round */
	struct sg_cred *cred;
	struct sg_ctl_server *ctl;
	/* punted packets the control plane took (by enum sg_dp_punt) */
	uint64_t punt_taken[SG_DP_PUNT_MAX];
	uint64_t punt_unserved;   /* punted datagrams nobody could take (not UDP any more) */
	uint64_t punt_reinjected; /* records handed back: their session was installed since */
	/*
	 * Sessions replaced by a new handshake keep their previous SA for
	 * policy.rekey_grace (records sealed before the device switched keys
	 * may still arrive); this FIFO retires them when it ends.
	 */
	struct gw_retire {
		uint64_t id;
		uint64_t at_ns;
	} * retire;
	uint32_t retire_head, retire_len, retire_cap;
	uint64_t retired_early; /* retired before their grace ended: the FIFO was full */
	/* previous status line, for rates */
	uint64_t last_ns;
	uint64_t last_rx[SG_CFG_PORTS_MAX];
	/*
	 * Management through the control socket (gateway_mgmt.c, gateway_sess.c,
	 * gateway_cred.c, gateway_stats.c). cfg.policy is the live policy.
	 */
	struct sg_sessreg *reg;     /* sessions by PSK identity */
	struct sg_rec_ctx *ctl_rec; /* the control thread's own: seals a killed session's alert */
	struct sg_rec_sa *kill_sa;  /* a killed session's last SA while its alert is sealed */
	uint64_t sess_killed;       /* sessions ended by `sessions kill` */
	uint64_t sess_expired;      /* sessions ended as their key lifetime ran out */
	uint64_t sess_idle;         /* sessions ended after policy.idle_timeout without records */
	uint64_t sess_forged;       /* sessions ended as their key reached its forgery limit */
	uint64_t expire_cursor;     /* where the lifetime sweep goes on (gw_sess_expire()) */
	uint64_t kill_alerts;       /* ... whose closing alert went out */
	uint64_t sess_ended;        /* sessions ended by the device's alert */
	struct sg_admit admit;      /* policy.handshake_rate, handshake_source_* */
	struct sg_admit_sources *admit_src; /* its per-source buckets */
	uint32_t hs_slots;                  /* handshakes the engine holds in flight at most */
	struct gw_import *import;           /* credential import in progress, NULL: none */
	uint64_t imports_done, imports_failed;
	/*
	 * Identities whose key was replaced or removed (credentials add
	 * --replace, remove, an import): their sessions still to end, a bounded
	 * number per poll (gw_cred_poll()): revoked[revoked_head..revoked_n).
	 */
	struct gw_ident *revoked;
	uint32_t revoked_head, revoked_n, revoked_cap;
	uint64_t revoked_ended; /* sessions ended because their credential changed */
};

uint64_t gw_now_ns(void);

/* "10 Gbps", "100 Mbps", "unknown" (rte_eth_link_speed_to_str() is experimental in 22.11). */
const char *gw_speed_str(uint32_t mbps, char *buf, size_t len);

/* ---- management (control socket commands); all on the control thread ---- */

/* Create / free what management needs (registry, control record context). */
int gw_mgmt_init(struct sg_gateway *gw);
void gw_mgmt_fini(struct sg_gateway *gw);

/* A session was installed (or replaced) by a handshake under identity / ended by its device. */
void gw_sess_installed(struct sg_gateway *gw, uint64_t id, const uint8_t *identity, size_t len);
void gw_sess_ended(struct sg_gateway *gw, uint64_t id);
/*
 * End up to max sessions of identity, each with a close_notify (the one
 * end-session path, as `sessions kill`); alerts counts the alerts sent,
 * left what the identity still has; rows (NULL: none) gets {id, alert} per
 * ended session. Returns how many ended.
 */
size_t gw_sess_end_identity(struct sg_gateway *gw, const uint8_t *identity, size_t len, size_t max,
                            unsigned *alerts, size_t *left, json_t *rows);

/* A worker found the session's receive key at its forgery limit: end the session. */
void gw_sess_forgery_limit(struct sg_gateway *gw, uint64_t id);

/* The traffic counters of one worker or all, as `stats` and `status` show them;
 * drops by reason (all, or the non-zero ones); punts by kind. */
json_t *gw_traffic_json(const struct sg_dp_counters *c);
json_t *gw_drops_json(const uint64_t *drop, int nonzero_only);
json_t *gw_punts_json(const uint64_t punts[SG_DP_PUNT_MAX]);

/* End the sessions whose key lifetime is over, a bounded slice of the table per call. */
void gw_sess_expire(struct sg_gateway *gw, uint64_t now_unix);

/* The lifetime a new session gets: the credential's or policy.key_lifetime, less jitter. */
uint32_t gw_key_lifetime(struct sg_gateway *gw, uint32_t cred_lifetime);

/*
 * Storm admission of one new handshake from peer (sg_hs_ops.admit: its
 * cookie verified, a slot about to be taken): 0 admit, -EBUSY refuse.
 */
int gw_admit_peer(struct sg_gateway *gw, const struct sg_hs_peer *peer);

/* Admission state for stats: rate, tokens, admitted, refused, cookies. */
json_t *gw_admission_json(struct sg_gateway *gw);

/* Stable label of a punt kind ("handshake"). */
const char *gw_punt_name(unsigned punt);

/* Command handlers (gateway_sess.c, gateway_cred.c, gateway_mgmt.c, gateway_stats.c). */
json_t *gw_cmd_stats(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_sessions_count(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_sessions_list(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_sessions_show(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_sessions_kill(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_cred_add(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_cred_remove(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_cred_import(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_cred_count(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_cred_show(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_policy_get(void *ctx, json_t *args, struct sg_ctl_error *err);
json_t *gw_cmd_policy_set(void *ctx, json_t *args, struct sg_ctl_error *err);

/*
 * Argument helpers of the commands. gw_arg_identity: "identity" (a string)
 * or "identity_hex" (its bytes in hex, for identities that are not UTF-8),
 * checked as the credential store's identities into out (SG_CRED_IDENTITY_MAX
 * bytes); returns its length, 0 when neither is given, -EINVAL (err filled)
 * when malformed. gw_args_known: -EINVAL (err filled) for a member of args
 * not in names (NULL-terminated), so a typo never widens a kill.
 */
int gw_arg_identity(json_t *args, uint8_t *out, struct sg_ctl_error *err);
int gw_args_known(json_t *args, const char *const *names, struct sg_ctl_error *err);

/* An import's client went away: abort it. */
void gw_cred_client_closed(struct sg_gateway *gw, uint64_t client);

/* An identity, as the credential store keeps it. */
struct gw_ident {
	uint8_t len;
	uint8_t bytes[SG_SESSREG_IDENTITY_MAX];
};

/*
 * A session was installed under identity: when a credential import that
 * replaces that identity's key is running (the handshake read the key the
 * import replaces), its sessions are ended once the import commits.
 */
void gw_cred_session_installed(struct sg_gateway *gw, const uint8_t *identity, size_t len);

/* End sessions of revoked credentials: at most GW_REVOKE_PER_POLL per call. Each poll. */
void gw_cred_poll(struct sg_gateway *gw);

/* Free what the credential commands hold (pending revocations). */
void gw_cred_fini(struct sg_gateway *gw);

#endif /* STORMGATE_CONTROL_GATEWAY_PRIV_H */
