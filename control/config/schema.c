/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schema: one table per section of struct sg_config, a row per key with
 * its kind, where it is stored (offset, size), its default and its range
 * (docs/config.md documents each row). Also what reads the tables whole:
 * defaults, the list of every key, the names of enum values. The walk
 * (walk.c) fills the fields; suites.c gives policy.suites its default.
 * Constant data; any thread.
 */
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_config.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/record_types.h>

#include "config_priv.h"

#define FLD(type, m) .off = offsetof(type, m), .size = sizeof(((type *)0)->m)
#define LST(type, m, cnt, n)                                                                       \
	.off = offsetof(type, m), .size = sizeof(((type *)0)->m[0]),                               \
	.count_off = offsetof(type, cnt), .max_items = (n)

static const char *const role_names[] = { "device", "backend", NULL };
static const char *const target_names[] = { "stderr", "syslog", NULL };
static const char *const cookie_names[] = { "under_load", "always", "never", NULL };
static const char *const backend_names[] = { "udp", "proxy", NULL };
static const char *const peer_move_names[] = { "verified", "unverified", NULL };
static const char *const client_auth_names[] = { "require", "optional", "none", NULL };
static const char *const cert_identity_names[] = { "cn", "san_uri", NULL };

static const struct cfg_key log_component_keys[] = {
	{ "main", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_MAIN]), .size = 4 },
	{ "cfg", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_CFG]), .size = 4 },
	{ "ctl", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_CTL]), .size = 4 },
	{ "cred", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_CRED]), .size = 4 },
	{ "dp", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_DP]), .size = 4 },
	{ "hs", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_HS]), .size = 4 },
	{ NULL },
};

static const struct cfg_key log_keys[] = {
	{ "level", K_LEVEL, FLD(struct sg_cfg_log, level), .def = RTE_LOG_INFO },
	{ "target", K_ENUM, FLD(struct sg_cfg_log, target), .names = target_names },
	{ "components", K_MAP, .off = 0, .sub = log_component_keys },
	{ "dpdk", K_LEVEL, FLD(struct sg_cfg_log, dpdk), .def = RTE_LOG_NOTICE },
	{ NULL },
};

static const struct cfg_key control_keys[] = {
	{ "socket", K_PATH, FLD(struct sg_cfg_control, socket), .min = 2,
	  .def_str = "/run/stormgate/control.sock" },
	{ "group", K_NAME, FLD(struct sg_cfg_control, group), .min = 0, .def_str = "" },
	{ "mode", K_MODE, FLD(struct sg_cfg_control, mode), .min = 0, .max = 0777, .def = 0660 },
	{ "max_clients", K_UINT, FLD(struct sg_cfg_control, max_clients), .min = 1, .max = 1024,
	  .def = 64 },
	{ "max_request", K_SIZE, FLD(struct sg_cfg_control, max_request), .min = 256,
	  .max = 1 << 20, .def = 65536 },
	{ "client_timeout", K_DURATION, FLD(struct sg_cfg_control, client_timeout), .min = 1,
	  .max = 86400, .def = 60 },
	{ "max_output", K_SIZE, FLD(struct sg_cfg_control, max_output), .min = 1 << 20,
	  .max = INT64_C(1) << 30, .def = 16 << 20 },
	{ NULL },
};

/*
 * 9464: the port OpenTelemetry's Prometheus exporter serves an application's
 * own /metrics on (the 9100-9999 exporter range is taken); loopback, since
 * the numbers are operational data and the endpoint has no authentication.
 */
static const struct cfg_key metrics_keys[] = {
	{ "listen", K_LISTEN, FLD(struct sg_cfg_metrics, listen), .def_str = "127.0.0.1:9464" },
	{ NULL },
};

static const struct cfg_key workers_keys[] = {
	{ "count", K_UINT, FLD(struct sg_cfg_workers, count), .min = 0, .max = RTE_MAX_LCORE - 1 },
	{ "lcores", K_LIST, K_UINT, LST(struct sg_cfg_workers, lcores, n_lcores, SG_CFG_LCORES_MAX),
	  .min = 0, .max = RTE_MAX_LCORE - 1 },
	{ "burst", K_UINT, FLD(struct sg_cfg_workers, burst), .min = 1, .max = SG_BURST_MAX,
	  .def = 32 },
	{ "idle_sleep_us", K_UINT, FLD(struct sg_cfg_workers, idle_sleep_us), .min = 0,
	  .max = 100000 },
	{ NULL },
};

/*
 * The handshake plane (docs/config.md, "handshake"): engines, one thread
 * each; the rules between these keys and the workers' are check_hs.c's.
 */
static const struct cfg_key handshake_keys[] = {
	{ "threads", K_UINT, FLD(struct sg_cfg_handshake, threads), .min = 1,
	  .max = SG_CFG_HS_THREADS_MAX, .def = 1 },
	{ "cpus", K_LIST, K_UINT, LST(struct sg_cfg_handshake, cpus, n_cpus, SG_CFG_HS_THREADS_MAX),
	  .min = 0, .max = CPU_SETSIZE - 1 },
	/* 0: sg_cfg_handshake_in_flight()'s auto value (Little's law, docs/config.md) */
	{ "in_flight", K_UINT, FLD(struct sg_cfg_handshake, in_flight), .min = 0,
	  .max = SG_CFG_HS_IN_FLIGHT_MAX },
	{ "burst", K_UINT, FLD(struct sg_cfg_handshake, burst), .min = 1, .max = 64, .def = 32 },
	{ "ecdhe_reuse", K_DURATION_MS, FLD(struct sg_cfg_handshake, ecdhe_reuse_ms), .min = 0,
	  .max = 10000 },
	{ "ecdhe_reuse_storm", K_DURATION_MS, FLD(struct sg_cfg_handshake, ecdhe_reuse_storm_ms),
	  .min = 0, .max = 10000 },
	{ NULL },
};

static const struct cfg_key mbufs_keys[] = {
	{ "count", K_UINT, FLD(struct sg_cfg_mbufs, count), .min = 1023, .max = 16777215,
	  .def = 8191 },
	/* rte_mempool wants cache * 1.5 <= count: 512 * 1.5 < 1023, the least count. */
	{ "cache", K_UINT, FLD(struct sg_cfg_mbufs, cache), .min = 0, .max = 512, .def = 256 },
	{ NULL },
};

static const struct cfg_key port_keys[] = {
	{ "name", K_NAME, FLD(struct sg_cfg_port, name), .required = 1, .min = 1 },
	{ "role", K_ENUM, FLD(struct sg_cfg_port, role), .required = 1, .names = role_names },
	{ "devargs", K_STR, FLD(struct sg_cfg_port, devargs), .required = 1, .min = 1 },
	{ "rx_queues", K_UINT, FLD(struct sg_cfg_port, rx_queues), .min = 0, .max = 64 },
	{ "rx_desc", K_UINT, FLD(struct sg_cfg_port, rx_desc), .min = 64, .max = 16384,
	  .def = 1024 },
	{ "tx_desc", K_UINT, FLD(struct sg_cfg_port, tx_desc), .min = 64, .max = 16384,
	  .def = 1024 },
	{ "mtu", K_UINT, FLD(struct sg_cfg_port, mtu), .min = 0, .max = 9600 },
	{ "promiscuous", K_BOOL, FLD(struct sg_cfg_port, promiscuous) },
	{ "udp_port", K_UINT, FLD(struct sg_cfg_port, udp_port), .min = 1, .max = 65535,
	  .def = 5684 /* RFC 7252 §12.7: coaps */ },
	{ "addresses", K_LIST, K_PREFIX,
	  LST(struct sg_cfg_port, addresses, n_addresses, SG_CFG_ADDRS_MAX) },
	/* next hop for addresses off the port's subnets, one per family (check.c) */
	{ "gateway", K_LIST, K_ADDR, LST(struct sg_cfg_port, gateway, n_gateways, SG_CFG_GW_MAX) },
	{ NULL },
};

static const struct cfg_key sessions_keys[] = {
	{ "capacity", K_UINT, FLD(struct sg_cfg_sessions, capacity), .min = 1024, .max = 100000000,
	  .def = 1000000 },
	{ "replay_window", K_UINT, FLD(struct sg_cfg_sessions, replay_window),
	  .min = SG_REPLAY_WINDOW_MIN, .max = SG_REPLAY_WINDOW_MAX, .step = 64,
	  .def = SG_REPLAY_WINDOW_DEFAULT },
	{ "cid_length", K_UINT, FLD(struct sg_cfg_sessions, cid_length), .min = 0, .max = 16 },
	{ "idle_timeout", K_DURATION, FLD(struct sg_cfg_sessions, idle_timeout), .min = 1,
	  .max = 30 * 86400, .def = 600 },
	{ "handshake_timeout", K_DURATION, FLD(struct sg_cfg_sessions, handshake_timeout), .min = 1,
	  .max = 600, .def = 60 },
	{ "peer_move", K_ENUM, FLD(struct sg_cfg_sessions, peer_move), .names = peer_move_names },
	/* not given: capacity / 16 (sg_cfg_sessions_cbc_capacity(); above capacity: check.c) */
	{ "cbc_capacity", K_UINT, FLD(struct sg_cfg_sessions, cbc_capacity), .min = 0,
	  .max = 100000000, .def = (int64_t)-1 /* SG_CFG_CBC_CAPACITY_AUTO */ },
	{ NULL },
};

static const struct cfg_key credentials_keys[] = {
	{ "db", K_PATH, FLD(struct sg_cfg_credentials, db), .min = 2,
	  .def_str = "/var/lib/stormgate/credentials" },
	{ "map_size", K_SIZE, FLD(struct sg_cfg_credentials, map_size), .min = 1 << 20,
	  .max = INT64_C(1) << 40, .def = INT64_C(4) << 30 },
	{ NULL },
};

/* The session store (docs/restart.md): on by default, beside the credential store. */
static const struct cfg_key store_keys[] = {
	{ "enabled", K_BOOL, FLD(struct sg_cfg_store, enabled), .def = 1 },
	{ "path", K_PATH, FLD(struct sg_cfg_store, path), .min = 2, .def_str = "" },
	{ "key_file", K_PATH, FLD(struct sg_cfg_store, key_file), .min = 2, .def_str = "" },
	{ "map_size", K_SIZE, FLD(struct sg_cfg_store, map_size), .min = 1 << 20,
	  .max = INT64_C(1) << 40, .def = INT64_C(4) << 30 },
	/* milliseconds: a group commit (one fsync) at most this long after its first write */
	{ "commit_interval", K_UINT, FLD(struct sg_cfg_store, commit_interval), .min = 1,
	  .max = 10000, .def = 100 },
	/* bytes of writes waiting for the writer thread; beyond it writes are dropped, counted */
	{ "queue_max", K_SIZE, FLD(struct sg_cfg_store, queue_max), .min = 1 << 20,
	  .max = INT64_C(1) << 36, .def = INT64_C(256) << 20 },
	{ "seq_step", K_UINT, FLD(struct sg_cfg_store, seq_step), .min = 1, .max = 1 << 24,
	  .def = 1024 },
	{ "seq_interval", K_DURATION, FLD(struct sg_cfg_store, seq_interval), .min = 0,
	  .max = 86400, .def = 60 },
	{ "seq_margin", K_UINT, FLD(struct sg_cfg_store, seq_margin), .min = 0, .max = 1 << 30,
	  .def = 65536 },
	{ "replay_strict", K_BOOL, FLD(struct sg_cfg_store, replay_strict) },
	{ NULL },
};

static const struct cfg_key policy_keys[] = {
	{ "key_lifetime", K_DURATION, FLD(struct sg_cfg_policy, key_lifetime), .min = 10,
	  .max = 30 * 86400, .def = 86400 },
	{ "key_lifetime_jitter", K_UINT, FLD(struct sg_cfg_policy, key_lifetime_jitter), .min = 0,
	  .max = 50, .def = 10 },
	/* always: every new handshake proves its address first (docs/handshake.md, "Cookies"). */
	{ "cookie_mode", K_ENUM, FLD(struct sg_cfg_policy, cookie_mode), .names = cookie_names,
	  .def = SG_COOKIE_ALWAYS },
	{ "cookie_threshold", K_UINT, FLD(struct sg_cfg_policy, cookie_threshold), .min = 0,
	  .max = 10000000, .def = 1000 },
	/* Sized for a storm's completions within a device's retransmissions (docs/config.md). */
	{ "linger_entries", K_UINT, FLD(struct sg_cfg_policy, linger_entries), .min = 1024,
	  .max = 1 << 24, .def = 65536 },
	{ "suites", K_LIST, K_SUITE,
	  LST(struct sg_cfg_policy, suites, n_suites, SG_CFG_SUITES_MAX) },
	{ "handshake_rate", K_UINT, FLD(struct sg_cfg_policy, handshake_rate), .min = 0,
	  .max = 10000000 },
	/* Per-source fairness of admission (sg_admit.h; docs/config.md for the trade-off). */
	{ "handshake_source_share", K_UINT, FLD(struct sg_cfg_policy, handshake_source_share),
	  .min = 1, .max = 100, .def = 25 },
	{ "handshake_source_prefix4", K_UINT, FLD(struct sg_cfg_policy, handshake_source_prefix4),
	  .min = 8, .max = 32, .def = 24 },
	{ "handshake_source_prefix6", K_UINT, FLD(struct sg_cfg_policy, handshake_source_prefix6),
	  .min = 16, .max = 128, .def = 64 },
	{ "auth_failure_limit", K_UINT, FLD(struct sg_cfg_policy, auth_failure_limit), .min = 0,
	  .max = 1000000, .def = 0 },
	{ "rekey_grace", K_DURATION, FLD(struct sg_cfg_policy, rekey_grace), .min = 0, .max = 120,
	  .def = 30 },
	{ "idle_timeout", K_DURATION, FLD(struct sg_cfg_policy, idle_timeout), .min = 0,
	  .max = 30 * 86400, .def = 0 },
	{ NULL },
};

static const struct cfg_key backend_keys[] = {
	{ "mode", K_ENUM, FLD(struct sg_cfg_backend, mode), .names = backend_names },
	{ "port", K_NAME, FLD(struct sg_cfg_backend, port), .min = 0, .def_str = "" },
	{ "trust_device_network", K_BOOL, FLD(struct sg_cfg_backend, trust_device_network) },
	{ "servers", K_LIST, K_ENDPOINT,
	  LST(struct sg_cfg_backend, servers, n_servers, SG_CFG_SERVERS_MAX) },
	{ "source_port_first", K_UINT, FLD(struct sg_cfg_backend, source_port_first), .min = 1024,
	  .max = 65535, .def = 20000 },
	{ "source_port_count", K_UINT, FLD(struct sg_cfg_backend, source_port_count), .min = 1,
	  .max = 64512, .def = 40000 },
	/* udp mode: source addresses as prefixes, one per family (check.c) */
	{ "source_pool", K_LIST, K_PREFIX,
	  LST(struct sg_cfg_backend, source_pool, n_source_pool, SG_CFG_POOL_MAX) },
	{ NULL },
};

/*
 * Certificates and raw public keys (docs/config.md, "tls"); the rules between
 * these keys are check_tls.c's. The files themselves are loaded by the
 * gateway at start (sg_hs_certs_create()), where a bad one stops the start.
 */
static const struct cfg_key tls_keys[] = {
	{ "cert", K_PATH, FLD(struct sg_cfg_tls, cert), .min = 2, .def_str = "" },
	{ "key", K_PATH, FLD(struct sg_cfg_tls, key), .min = 2, .def_str = "" },
	{ "rpk_key", K_PATH, FLD(struct sg_cfg_tls, rpk_key), .min = 2, .def_str = "" },
	{ "ca", K_PATH, FLD(struct sg_cfg_tls, ca), .min = 2, .def_str = "" },
	{ "crl", K_PATH, FLD(struct sg_cfg_tls, crl), .min = 2, .def_str = "" },
	{ "client_auth", K_ENUM, FLD(struct sg_cfg_tls, client_auth), .names = client_auth_names },
	{ "cert_identity", K_ENUM, FLD(struct sg_cfg_tls, cert_identity),
	  .names = cert_identity_names },
	{ "rpk", K_BOOL, FLD(struct sg_cfg_tls, rpk), .def = 1 },
	{ "require_policy", K_BOOL, FLD(struct sg_cfg_tls, require_policy) },
	/* about 100 B each (k^-1 and r of P-256): 1024 cover a second of a storm's signing */
	{ "sign_pool", K_UINT, FLD(struct sg_cfg_tls, sign_pool), .min = 1, .max = 1 << 20,
	  .def = 1024 },
	{ "verify_cache", K_UINT, FLD(struct sg_cfg_tls, verify_cache), .min = 1, .max = 1 << 24,
	  .def = 4096 },
	{ NULL },
};

const struct cfg_key cfg_root_keys[] = {
	{ "eal", K_LIST, K_STR, LST(struct sg_config, eal, n_eal, SG_CFG_EAL_MAX), .min = 1 },
	{ "log", K_MAP, .off = offsetof(struct sg_config, log), .sub = log_keys },
	{ "control", K_MAP, .off = offsetof(struct sg_config, control), .sub = control_keys },
	{ "metrics", K_MAP, .off = offsetof(struct sg_config, metrics), .sub = metrics_keys },
	{ "workers", K_MAP, .off = offsetof(struct sg_config, workers), .sub = workers_keys },
	{ "handshake", K_MAP, .off = offsetof(struct sg_config, handshake), .sub = handshake_keys },
	{ "mbufs", K_MAP, .off = offsetof(struct sg_config, mbufs), .sub = mbufs_keys },
	{ "ports", K_LIST, K_MAP, LST(struct sg_config, ports, n_ports, SG_CFG_PORTS_MAX),
	  .required = 1, .sub = port_keys },
	{ "sessions", K_MAP, .off = offsetof(struct sg_config, sessions), .sub = sessions_keys },
	{ "credentials", K_MAP, .off = offsetof(struct sg_config, credentials),
	  .sub = credentials_keys },
	{ "store", K_MAP, .off = offsetof(struct sg_config, store), .sub = store_keys },
	{ "policy", K_MAP, .off = offsetof(struct sg_config, policy), .sub = policy_keys },
	{ "backend", K_MAP, .off = offsetof(struct sg_config, backend), .sub = backend_keys },
	{ "tls", K_MAP, .off = offsetof(struct sg_config, tls), .sub = tls_keys },
	{ NULL },
};

void cfg_store_uint(void *p, size_t size, uint64_t v)
{
	switch (size) {
	case 1:
		*(uint8_t *)p = (uint8_t)v;
		break;
	case 2:
		*(uint16_t *)p = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)p = (uint32_t)v;
		break;
	default:
		*(uint64_t *)p = v;
		break;
	}
}

void cfg_apply_defaults(const struct cfg_key *keys, void *base)
{
	for (const struct cfg_key *k = keys; k->name != NULL; k++) {
		char *p = (char *)base + k->off;

		switch (k->kind) {
		case K_MAP:
			cfg_apply_defaults(k->sub, p);
			break;
		case K_LIST:
			*(uint32_t *)((char *)base + k->count_off) = 0;
			break;
		case K_STR:
		case K_PATH:
		case K_NAME:
			snprintf(p, k->size, "%s", k->def_str ? k->def_str : "");
			break;
		case K_BOOL:
			*(bool *)p = k->def != 0;
			break;
		case K_LISTEN: {
			struct sg_cfg_listen *l = (struct sg_cfg_listen *)(void *)p;

			l->state = SG_CFG_LISTEN_DEFAULT;
			if (sg_cfg_endpoint_parse(k->def_str, &l->addr) != 0)
				l->state = SG_CFG_LISTEN_OFF;
			break;
		}
		case K_PREFIX:
		case K_ADDR:
		case K_ENDPOINT:
		case K_SUITE:
			break;
		default:
			cfg_store_uint(p, k->size, (uint64_t)k->def);
			break;
		}
	}
}

void cfg_path_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(out, len, fmt, ap) < 0)
		out[0] = '\0';
	va_end(ap);
}

static void keys_walk(const struct cfg_key *keys, const char *prefix,
                      void (*fn)(const char *path, void *arg), void *arg)
{
	char path[CFG_PATH_LEN];

	for (const struct cfg_key *k = keys; k->name != NULL; k++) {
		cfg_path_fmt(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", k->name);
		if (k->kind == K_MAP) {
			keys_walk(k->sub, path, fn, arg);
		} else if (k->kind == K_LIST && k->elem == K_MAP) {
			fn(path, arg);
			strncat(path, "[]", sizeof(path) - strlen(path) - 1);
			keys_walk(k->sub, path, fn, arg);
		} else {
			fn(path, arg);
		}
	}
}

void sg_config_keys(void (*fn)(const char *path, void *arg), void *arg)
{
	keys_walk(cfg_root_keys, "", fn, arg);
}

const char *sg_port_role_name(uint32_t role)
{
	return role < SG_PORT_ROLE_MAX ? role_names[role] : "?";
}

const char *sg_cookie_mode_name(uint32_t mode)
{
	return mode < SG_COOKIE_MODE_MAX ? cookie_names[mode] : "?";
}

const char *sg_backend_mode_name(uint32_t mode)
{
	return mode < SG_BACKEND_MODE_MAX ? backend_names[mode] : "?";
}

const char *sg_peer_move_name(uint32_t mode)
{
	return mode < SG_PEER_MOVE_MAX ? peer_move_names[mode] : "?";
}

const char *sg_tls_client_auth_name(uint32_t mode)
{
	return mode < SG_TLS_CLIENT_AUTH_MAX ? client_auth_names[mode] : "?";
}

const char *sg_tls_cert_identity_name(uint32_t mode)
{
	return mode < SG_TLS_CERT_ID_MAX ? cert_identity_names[mode] : "?";
}
