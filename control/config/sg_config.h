/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's configuration: one YAML file (docs/config.md documents every
 * key, its default and unit; deploy/stormgate.yaml is a complete sample).
 *
 * The parser is strict: every key is type- and range-checked, unknown and
 * duplicate keys are errors, and it reports every error it finds, each as
 * `file:line:column: message` (1-based, as compilers do), not just the first.
 *
 * The struct is plain data with fixed-size arrays: no pointers to free, safe
 * to copy, filled with defaults before parsing.
 *
 * Where it happens (docs/config.md, "Where keys are parsed"): yaml.c turns
 * the text into a tree of nodes (sg_cfg_tree.h), walk.c fills the struct
 * through the tables of schema.c with the value parsers of values.c
 * (sg_cfg_values.h), check.c applies the rules between keys, live.c sets
 * one key at run time, config.c holds loading and defaults together.
 */
#ifndef STORMGATE_CONTROL_SG_CONFIG_H
#define STORMGATE_CONTROL_SG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sg_cfg_values.h" /* struct sg_cfg_prefix, sg_cfg_endpoint; their parsers and printers */
#include "sg_log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SG_CFG_STR_MAX     256 /* strings (devargs, paths), including the NUL */
#define SG_CFG_NAME_MAX    32  /* names (port, group), including the NUL */
#define SG_CFG_SOCKET_MAX  108 /* sizeof(sockaddr_un.sun_path) */
#define SG_CFG_EAL_MAX     64  /* EAL arguments in the config */
#define SG_CFG_PORTS_MAX   8
#define SG_CFG_ADDRS_MAX   8  /* addresses per port */
#define SG_CFG_GW_MAX      2  /* next hops per port: one per family */
#define SG_CFG_POOL_MAX    2  /* backend source pool prefixes: one per family */
#define SG_CFG_SERVERS_MAX 16 /* backend servers */
#define SG_CFG_LCORES_MAX  64 /* explicit worker lcores */
#define SG_CFG_SUITES_MAX  16
#define SG_CFG_ERRORS_MAX  100 /* errors kept; one more line says how many were left out */

enum sg_port_role {
	SG_PORT_DEVICE = 0, /* faces the devices: DTLS records in, sealed replies out */
	SG_PORT_BACKEND,    /* faces the M2M application servers: plaintext */
	SG_PORT_ROLE_MAX
};

enum sg_cookie_mode {
	SG_COOKIE_UNDER_LOAD = 0, /* HelloVerifyRequest only above the load threshold */
	SG_COOKIE_ALWAYS,         /* RFC 6347 §4.2.1 stateless cookie on every handshake */
	SG_COOKIE_NEVER,
	SG_COOKIE_MODE_MAX
};

/* What a CID session does when its device shows up at a new address (RFC 9146 §6). */
enum sg_peer_move {
	SG_PEER_MOVE_VERIFIED = 0, /* only after a return routability check (RFC 9853) */
	SG_PEER_MOVE_UNVERIFIED,   /* sessions without rrc follow at once: trusted paths */
	SG_PEER_MOVE_MAX
};

enum sg_backend_mode {
	SG_BACKEND_UDP = 0, /* plaintext UDP to the servers, one flow per session */
	SG_BACKEND_PROXY,   /* plaintext with a proxy header naming the device identity */
	SG_BACKEND_MODE_MAX
};

struct sg_cfg_port {
	char name[SG_CFG_NAME_MAX];
	uint32_t role;                /* enum sg_port_role */
	char devargs[SG_CFG_STR_MAX]; /* "net_af_packet0,iface=veth0", a PCI address, ... */
	uint32_t rx_queues;           /* 0: one per worker lcore */
	uint32_t rx_desc;
	uint32_t tx_desc;
	uint32_t mtu; /* 0: leave the device's */
	bool promiscuous;
	uint32_t udp_port; /* device ports: DTLS server port */
	uint32_t n_addresses;
	struct sg_cfg_prefix addresses[SG_CFG_ADDRS_MAX];
	/* next hop (a router on one of the port's subnets) per family, for addresses off them */
	uint32_t n_gateways;
	struct sg_cfg_prefix gateway[SG_CFG_GW_MAX]; /* len 32 / 128 */
};

struct sg_cfg_log {
	uint32_t level;                       /* RTE_LOG_* */
	uint32_t target;                      /* enum sg_log_target */
	uint32_t components[SG_LOG_COMP_MAX]; /* RTE_LOG_*, 0: use level */
	uint32_t dpdk;                        /* level of DPDK's own lib.* and pmd.* types */
};

struct sg_cfg_control {
	char socket[SG_CFG_SOCKET_MAX];
	char group[SG_CFG_NAME_MAX]; /* "": leave the daemon's group */
	uint32_t mode;               /* socket file permissions */
	uint32_t max_clients;
	uint32_t max_request;    /* bytes per request line */
	uint64_t client_timeout; /* seconds a client may stay idle */
	uint64_t max_output;     /* bytes of answers queued for one client */
};

/*
 * metrics.listen: where /metrics is served over HTTP. state says whether the
 * file set it (an address the operator asked for: failing to bind it stops
 * the start-up) or left the default (failing to bind it is a warning), or
 * turned it off ("" or off); addr is unused when off.
 */
enum sg_cfg_listen_state {
	SG_CFG_LISTEN_DEFAULT = 0, /* not in the file: the default address */
	SG_CFG_LISTEN_SET,         /* an address given in the file */
	SG_CFG_LISTEN_OFF,         /* "" or off: not served */
};

struct sg_cfg_listen {
	uint32_t state; /* enum sg_cfg_listen_state */
	struct sg_cfg_endpoint addr;
};

struct sg_cfg_metrics {
	struct sg_cfg_listen listen;
};

struct sg_cfg_workers {
	uint32_t count; /* 0: every worker lcore EAL was given */
	uint32_t n_lcores;
	uint32_t lcores[SG_CFG_LCORES_MAX];
	uint32_t burst;
	uint32_t idle_sleep_us; /* sleep when a whole poll round found nothing; 0: busy poll */
};

/*
 * The handshake plane (control/hsplane/, docs/hsplane.md): engines, one thread
 * each, and what they hold. Start-up only.
 */
struct sg_cfg_handshake {
	uint32_t threads; /* engines, one thread each (sg-hs-<i>): 1..SG_CFG_HS_THREADS_MAX */
	uint32_t n_cpus;
	uint32_t cpus[SG_CFG_LCORES_MAX]; /* CPU of thread i (pinned); none: EAL's control CPUs */
	uint32_t in_flight;               /* handshakes in flight, all engines; 0: auto
	                                     (sg_cfg_handshake_in_flight()) */
	uint32_t burst;                   /* datagrams an engine takes per round */
	uint32_t ecdhe_reuse_ms;          /* one ephemeral key per window; 0: one per handshake */
	uint32_t ecdhe_reuse_storm_ms;    /* ... while admission refuses handshakes; 0: never */
};

#define SG_CFG_HS_THREADS_MAX    64
#define SG_CFG_HS_IN_FLIGHT_MAX  4194304u /* handshake.in_flight: 8 GB of slots */
#define SG_CFG_HS_IN_FLIGHT_AUTO 1048576u /* the auto value's cap; above it: a warning */
#define SG_CFG_HS_SLOT_BYTES     2048u    /* about what one handshake in flight holds */

struct sg_cfg_mbufs {
	uint32_t count;
	uint32_t cache;
};

struct sg_cfg_sessions {
	uint64_t capacity;
	uint32_t replay_window; /* bits, RFC 6347 §4.1.2.6 */
	uint32_t cid_length;    /* RFC 9146 connection ID we assign; 0: no CID */
	uint64_t idle_timeout;  /* seconds */
	uint64_t handshake_timeout;
	uint32_t peer_move; /* enum sg_peer_move */
	/* sessions with CBC-SHA256 keys (a pool of wide SAs, docs/session-table.md); 0: CBC
	 * sessions refused; SG_CFG_CBC_CAPACITY_AUTO (not set): sg_cfg_sessions_cbc_capacity() */
	uint64_t cbc_capacity;
};

/* sessions.cbc_capacity not given: capacity / 16 (sg_cfg_sessions_cbc_capacity()). */
#define SG_CFG_CBC_CAPACITY_AUTO UINT64_MAX

struct sg_cfg_credentials {
	char db[SG_CFG_STR_MAX]; /* LMDB environment directory */
	uint64_t map_size;       /* bytes */
};

/*
 * The session store (docs/config.md, "store"; docs/restart.md): sessions
 * kept across a crash and a restart. An empty path or key_file is the
 * default beside the credential store (sg_config_store_paths()).
 */
struct sg_cfg_store {
	bool enabled;
	char path[SG_CFG_STR_MAX];     /* LMDB directory; "": <dir of credentials.db>/sessions */
	char key_file[SG_CFG_STR_MAX]; /* 0600 key file; "": <dir of credentials.db>/store.key */
	uint64_t map_size;             /* bytes */
	uint32_t commit_interval;      /* milliseconds: the window a new session is durable in */
	uint64_t queue_max;            /* bytes the writer thread's queue may hold */
	uint32_t seq_step;             /* floors posted every step records */
	uint64_t seq_interval;         /* seconds: ... or once per interval; 0: by step only */
	uint32_t seq_margin;           /* tx leap after a crash beyond floor + step */
	bool replay_strict;            /* after a crash refuse rx up to floor + step */
};

struct sg_cfg_policy {
	uint64_t key_lifetime;        /* seconds a session key may be used */
	uint32_t key_lifetime_jitter; /* percent, spreads re-handshakes of a fleet */
	uint32_t cookie_mode;         /* enum sg_cookie_mode */
	uint32_t cookie_threshold;    /* handshakes in progress that count as load */
	uint32_t linger_entries; /* completed handshakes' final flights kept (RFC 6347 §4.2.4) */
	uint32_t n_suites;
	uint16_t suites[SG_CFG_SUITES_MAX]; /* IANA cipher suite values, preference order */
	uint32_t handshake_rate;            /* new handshakes per second, 0: unlimited */
	uint32_t handshake_source_share;    /* percent of handshake_rate one source may take */
	uint32_t handshake_source_prefix4;  /* bits of an IPv4 source that make one source */
	uint32_t handshake_source_prefix6;  /* ... of an IPv6 source */
	uint32_t
	        auth_failure_limit; /* forgeries a key takes before its session ends; 0: RFC 9147 */
	uint64_t rekey_grace;  /* seconds a re-handshaked session still opens old-key records */
	uint64_t idle_timeout; /* seconds without an authenticated record before a session ends; 0:
	                          never */
};

struct sg_cfg_backend {
	uint32_t mode; /* enum sg_backend_mode */
	/* name of a backend port; "": the first port with role backend, else the device
	 * port, which trust_device_network must allow (sg_config_backend_port()) */
	char port[SG_CFG_NAME_MAX];
	/* the device network is trusted not to spoof the servers: the device port may
	 * take their replies when no port has the backend role */
	bool trust_device_network;
	uint32_t n_servers;
	struct sg_cfg_endpoint servers[SG_CFG_SERVERS_MAX];
	/* Our UDP source ports towards the servers: udp mode gives each session one
	 * (per backend address); proxy mode uses the first. */
	uint32_t source_port_first;
	uint32_t source_port_count;
	/* udp mode: our source addresses, a prefix per family on the backend port, instead
	 * of the port's own addresses (docs/config.md "backend") */
	uint32_t n_source_pool;
	struct sg_cfg_prefix source_pool[SG_CFG_POOL_MAX];
};

/* tls.client_auth: the order of enum sg_hs_client_auth (handshake.h), mapped in the gateway. */
enum sg_tls_client_auth {
	SG_TLS_CLIENT_AUTH_REQUIRE = 0, /* a client certificate or raw public key, or no session */
	SG_TLS_CLIENT_AUTH_OPTIONAL,    /* asked for; a client without one is anonymous */
	SG_TLS_CLIENT_AUTH_NONE,        /* not asked for: server authentication only */
	SG_TLS_CLIENT_AUTH_MAX
};

/* tls.cert_identity: which name of a client certificate is its identity. */
enum sg_tls_cert_identity {
	SG_TLS_CERT_ID_CN = 0,  /* subject commonName */
	SG_TLS_CERT_ID_SAN_URI, /* first subjectAltName URI */
	SG_TLS_CERT_ID_MAX
};

/*
 * Certificates and raw public keys for the ECDHE-ECDSA suites (docs/config.md,
 * "tls"). Without cert or rpk_key (no `tls:` section) those suites are never
 * negotiated and PSK works as before. Paths are read at start and at
 * `stormctl tls reload`; "" is unset.
 */
struct sg_cfg_tls {
	char cert[SG_CFG_STR_MAX];    /* PEM: our certificate, then its chain, leaf first */
	char key[SG_CFG_STR_MAX];     /* PEM: its private key (EC P-256 or P-384) */
	char rpk_key[SG_CFG_STR_MAX]; /* PEM: a public key offered as our raw public key */
	char ca[SG_CFG_STR_MAX];      /* PEM: CAs client certificates must chain to */
	char crl[SG_CFG_STR_MAX];     /* PEM: CRLs of those CAs */
	uint32_t client_auth;         /* enum sg_tls_client_auth */
	uint32_t cert_identity;       /* enum sg_tls_cert_identity */
	bool rpk;                     /* offer and accept raw public keys (RFC 7250) */
	bool require_policy;          /* a certificate identity without a policy entry is refused */
	uint32_t sign_pool;           /* precomputed ECDSA nonces kept ready */
	uint32_t verify_cache;        /* client certificates whose chain verified, kept */
};

struct sg_config {
	uint32_t n_eal;
	char eal[SG_CFG_EAL_MAX][SG_CFG_STR_MAX];
	struct sg_cfg_log log;
	struct sg_cfg_control control;
	struct sg_cfg_metrics metrics;
	struct sg_cfg_workers workers;
	struct sg_cfg_handshake handshake;
	struct sg_cfg_mbufs mbufs;
	uint32_t n_ports;
	struct sg_cfg_port ports[SG_CFG_PORTS_MAX];
	struct sg_cfg_sessions sessions;
	struct sg_cfg_credentials credentials;
	struct sg_cfg_store store;
	struct sg_cfg_policy policy;
	struct sg_cfg_backend backend;
	struct sg_cfg_tls tls;
};

/* Errors of one parse: formatted lines `file:line:column: message`. */
struct sg_cfg_errors {
	unsigned count;   /* errors found (may exceed the lines kept) */
	unsigned n_lines; /* lines kept, at most SG_CFG_ERRORS_MAX + 1 */
	char **lines;
	/* `file:line:column: warning: message`: allowed, but worth a look (also when
	 * the parse succeeds; sg_config_load() logs them) */
	unsigned n_warnings;
	char **warnings;
};

/* Fill cfg with every default (docs/config.md). Any thread. */
void sg_config_defaults(struct sg_config *cfg);

/*
 * Parse YAML text into cfg (which starts from the defaults). `name` is the
 * file name used in error lines. Every error is appended to errs (caller
 * owns it, release with sg_cfg_errors_free()). Returns 0, -EINVAL when the
 * text has errors (cfg is then unspecified), -ENOMEM. Any thread; no global
 * state.
 */
int sg_config_parse(struct sg_config *cfg, const char *name, const char *text, size_t len,
                    struct sg_cfg_errors *errs);

/*
 * Read and parse a file (at most 1 MiB); I/O errors are reported in errs too.
 * When it succeeds, each warning is also logged (sg.cfg, warning).
 */
int sg_config_load(struct sg_config *cfg, const char *path, struct sg_cfg_errors *errs);

/*
 * Set one key of a loaded configuration, with the file's types, ranges and
 * names: path is a dotted key ("policy.key_lifetime"; not inside a list of
 * mappings), value its YAML text: a scalar ("12h", "always", "5000") or a
 * flow list ("[TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CCM]"). On
 * error nothing changes and msg says why. Rules between keys are not
 * rechecked, except that a list of suites may not be empty or repeat one.
 * Returns 0, -ENOENT (no such key), -EINVAL (bad value) or -ENOMEM.
 * Any thread.
 */
int sg_config_set(struct sg_config *cfg, const char *path, const char *value, char *msg,
                  size_t msg_len);

/*
 * May the key at a dotted path ("policy.cookie_mode") be set in a running
 * daemon? Returns 1 (the live set: `policy set` applies it), 0 (a key read
 * at start-up only) or -ENOENT (no such key). Any thread.
 */
int sg_config_key_live(const char *path);

/* Call fn once for every key of the live set, with its dotted path. Any thread. */
void sg_config_live_keys(void (*fn)(const char *path, void *arg), void *arg);

void sg_cfg_errors_free(struct sg_cfg_errors *errs);

/*
 * Call fn once for every configuration key with its dotted path ("log.level",
 * "ports[].devargs"), for documentation checks. Any thread.
 */
void sg_config_keys(void (*fn)(const char *path, void *arg), void *arg);

/*
 * Index in cfg->ports of the port the backend servers are reached through:
 * the one backend.port names, else the first with role backend; -1 when
 * there is none and the device port carries the backend (a valid
 * configuration then has backend.trust_device_network, or no servers).
 * Any thread.
 */
int sg_config_backend_port(const struct sg_config *cfg);

/*
 * How many sessions the backend side carries in udp mode: one source port
 * per session and address, so the addresses of the first server's family
 * (the source pool's prefix of that family, else the backend port's
 * addresses of it) times backend.source_port_count. Fills *addrs and
 * *sessions and returns 0; -ENOTSUP in proxy mode (one port carries every
 * session), -ENOENT without servers. Any thread.
 */
int sg_config_backend_capacity(const struct sg_config *cfg, uint64_t *addrs, uint64_t *sessions);

/*
 * The session store's directory and key file: store.path and store.key_file,
 * or when empty "sessions" and "store.key" in the directory that holds
 * credentials.db. Returns 0 or -ENAMETOOLONG. Any thread.
 */
int sg_config_store_paths(const struct sg_config *cfg, char *path, size_t path_len, char *key_file,
                          size_t key_len);

/*
 * Apply live policy overrides (text of `key=value` lines, each a live key
 * without "policy.", the value as the file spells it; empty lines are
 * skipped) onto cfg: every line through sg_config_set(), all or nothing.
 * Returns the number of lines applied, or -EINVAL with msg naming the bad
 * line (nothing changed), -ENOMEM. The caller logs each applied line. Any
 * thread.
 */
int sg_config_apply_overrides(struct sg_config *cfg, const char *text, size_t len, char *msg,
                              size_t msg_len);

/*
 * Handshakes in flight across every engine (docs/config.md, "handshake"):
 * handshake.in_flight, or when 0 the auto value max(4 x
 * policy.cookie_threshold, 2 s x policy.handshake_rate (when set), 16384 x
 * handshake.threads), at most SG_CFG_HS_IN_FLIGHT_AUTO. By Little's law the
 * handshakes in flight are the rate times the time each holds a slot (about
 * a device's round trip): 2 s of the admitted rate, or 16384 per engine.
 * The hsplane splits it evenly. Any thread.
 */
uint32_t sg_cfg_handshake_in_flight(const struct sg_config *cfg);

/* Does the config load a certificate or a raw public key (tls.cert or tls.rpk_key)? */
bool sg_config_tls_enabled(const struct sg_config *cfg);

/*
 * Sessions that may have CBC-SHA256 keys (docs/config.md, "sessions"):
 * sessions.cbc_capacity, or when not given sessions.capacity / 16 (at least
 * 1); 0 refuses CBC sessions (the handshake's install fails, counted
 * cbc_full). Any thread.
 */
uint64_t sg_cfg_sessions_cbc_capacity(const struct sg_config *cfg);

/* Names for printing. Return "?" when out of range. */
const char *sg_port_role_name(uint32_t role);
const char *sg_cookie_mode_name(uint32_t mode);
const char *sg_backend_mode_name(uint32_t mode);
const char *sg_peer_move_name(uint32_t mode);
const char *sg_tls_client_auth_name(uint32_t mode);
const char *sg_tls_cert_identity_name(uint32_t mode);
/* IANA name of a cipher suite value ("TLS_PSK_WITH_AES_128_CCM_8"), or NULL. */
const char *sg_suite_name(uint16_t suite);

/* 1 when devargs names a PCI device ("0000:01:00.0,..." or "01:00.0"), else a vdev. */
int sg_devargs_is_pci(const char *devargs);

/*
 * The ethdev name DPDK gives the device of devargs: the part before the
 * first ',' ("net_af_packet0"), PCI addresses with the 0000: domain added.
 * Returns 0 or -ENAMETOOLONG.
 */
int sg_devargs_name(const char *devargs, char *name, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_CONFIG_H */
