/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration parser: libfyaml events -> a small tree with 1-based
 * line:column marks -> a table-driven schema walk that fills struct
 * sg_config and collects every error.
 *
 * Why events rather than fy_document: libfyaml 0.7 exposes no start mark for
 * mapping and sequence nodes and gives empty values no token at all, so
 * errors such as "missing required key" could not point at a line. The event
 * stream has a mark for each of them, and lets us see duplicate keys,
 * aliases and extra documents ourselves and report them all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfyaml.h>
#include <rte_config.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/record_types.h>
#include <stormgate/suite.h>

#include "sg_config.h"

#define CFG_FILE_MAX  (1u << 20) /* bytes; configs are a few KiB */
#define CFG_DEPTH_MAX 32         /* our schema is 4 levels deep */
#define PATH_LEN      128        /* dotted key paths in messages */

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */

struct cfg_err {
	int line, col; /* 1-based; 0 = no position */
	unsigned seq;  /* order found, to keep the sort stable */
	char *msg;
};

struct pctx {
	const char *file;
	struct cfg_err *errs;
	unsigned n_errs, cap_errs;
	unsigned count; /* including the ones not kept */
	int oom;
};

__attribute__((format(printf, 4, 5))) static void err_at(struct pctx *px, int line, int col,
                                                         const char *fmt, ...)
{
	va_list ap;
	char *msg;

	px->count++;
	if (px->n_errs >= SG_CFG_ERRORS_MAX)
		return;
	if (px->n_errs == px->cap_errs) {
		unsigned cap = px->cap_errs ? px->cap_errs * 2 : 16;
		struct cfg_err *e = realloc(px->errs, cap * sizeof(*e));
		if (e == NULL) {
			px->oom = 1;
			return;
		}
		px->errs = e;
		px->cap_errs = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0) {
		px->oom = 1;
		msg = NULL;
	}
	va_end(ap);
	if (msg == NULL)
		return;
	px->errs[px->n_errs] = (struct cfg_err){ line, col, px->n_errs, msg };
	px->n_errs++;
}

static int err_cmp(const void *a, const void *b)
{
	const struct cfg_err *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Sorted by position, formatted `file:line:column: message`, moved to out. */
static int errs_finish(struct pctx *px, struct sg_cfg_errors *out)
{
	unsigned extra = px->count > px->n_errs ? 1 : 0;
	int rc = 0;

	if (px->n_errs > 1)
		qsort(px->errs, px->n_errs, sizeof(*px->errs), err_cmp);
	out->lines = calloc(px->n_errs + extra + 1, sizeof(char *));
	if (out->lines == NULL)
		rc = -ENOMEM;
	for (unsigned i = 0; i < px->n_errs; i++) {
		struct cfg_err *e = &px->errs[i];
		char *l = NULL;
		int n;

		if (e->line > 0)
			n = asprintf(&l, "%s:%d:%d: %s", px->file, e->line, e->col, e->msg);
		else
			n = asprintf(&l, "%s: %s", px->file, e->msg);
		free(e->msg);
		if (n < 0 || out->lines == NULL) {
			free(n < 0 ? NULL : l);
			rc = -ENOMEM;
			continue;
		}
		out->lines[out->n_lines++] = l;
	}
	if (extra && out->lines != NULL) {
		char *l = NULL;
		if (asprintf(&l, "%s: %u more errors not shown", px->file,
		             px->count - px->n_errs) >= 0)
			out->lines[out->n_lines++] = l;
	}
	out->count = px->count;
	free(px->errs);
	px->errs = NULL;
	px->n_errs = px->cap_errs = 0;
	return rc ? rc : (px->oom ? -ENOMEM : 0);
}

void sg_cfg_errors_free(struct sg_cfg_errors *errs)
{
	if (errs == NULL)
		return;
	for (unsigned i = 0; i < errs->n_lines; i++)
		free(errs->lines[i]);
	free(errs->lines);
	*errs = (struct sg_cfg_errors){ 0 };
}

/* ---------------------------------------------------------------------- */
/* YAML tree                                                               */

enum cn_type {
	CN_SCALAR = 0,
	CN_MAP, /* kids: key0, value0, key1, value1, ... */
	CN_SEQ,
};

struct cn {
	enum cn_type type;
	int line, col; /* 1-based */
	int plain;     /* plain (unquoted) scalar */
	char *text;    /* scalars: NUL-terminated */
	size_t len;
	struct cn **kids;
	size_t n, cap;
};

static void cn_free(struct cn *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		cn_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static int cn_add(struct cn *parent, struct cn *kid)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct cn **k = realloc(parent->kids, cap * sizeof(*k));
		if (k == NULL)
			return -ENOMEM;
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

/* YAML 1.2 core schema null: empty plain scalar, ~, null. */
static int cn_is_null(const struct cn *n)
{
	return n == NULL ||
	       (n->type == CN_SCALAR && n->plain &&
	        (n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	         strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0));
}

/* Value of key `name` in mapping m, or NULL. */
static struct cn *cn_get(const struct cn *m, const char *name)
{
	if (m == NULL || m->type != CN_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->n; i += 2)
		if (m->kids[i]->type == CN_SCALAR && strcmp(m->kids[i]->text, name) == 0)
			return m->kids[i + 1];
	return NULL;
}

static struct cn *cn_item(const struct cn *s, size_t i)
{
	return s != NULL && s->type == CN_SEQ && i < s->n ? s->kids[i] : NULL;
}

static const char *type_name(const struct cn *n)
{
	if (cn_is_null(n))
		return "nothing";
	return n->type == CN_MAP ? "a mapping" : n->type == CN_SEQ ? "a list" : "a scalar";
}

/*
 * Build the tree of one YAML document. Returns 0 with *root (NULL for an
 * empty document), or -EINVAL after reporting the syntax error(s).
 */
static int yaml_tree(struct pctx *px, const char *text, size_t len, struct cn **root)
{
	struct fy_diag_cfg dcfg;
	struct fy_diag *diag = NULL;
	struct fy_parser *fyp = NULL;
	struct fy_event *ev;
	struct cn *stack[CFG_DEPTH_MAX];
	int depth = 0, docs = 0, line = 1, col = 1, rc = 0;
	struct cn *top = NULL;

	*root = NULL;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (diag == NULL)
		return -ENOMEM;
	fy_diag_set_collect_errors(diag, true);
	struct fy_parse_cfg pcfg = {
		.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE,
		.diag = diag,
	};
	fyp = fy_parser_create(&pcfg);
	if (fyp == NULL || fy_parser_set_string(fyp, text, len) != 0) {
		rc = -ENOMEM;
		goto out;
	}

	while (rc == 0 && (ev = fy_parser_parse(fyp)) != NULL) {
		const struct fy_mark *m = fy_event_start_mark(ev);
		struct cn *n = NULL;

		/* Empty values carry no mark: they sit where the previous token ended. */
		if (m != NULL) {
			line = m->line + 1;
			col = m->column + 1;
		}
		switch (ev->type) {
		case FYET_DOCUMENT_START:
			if (++docs > 1) {
				err_at(px, line, col,
				       "a second YAML document: a configuration is one document");
				rc = -EINVAL;
			}
			break;
		case FYET_ALIAS:
			/* The mark is past the '*': point at the alias itself. */
			err_at(px, line, col > 1 ? col - 1 : col, "YAML aliases are not supported");
			rc = -EINVAL;
			break;
		case FYET_MAPPING_START:
		case FYET_SEQUENCE_START:
		case FYET_SCALAR:
			n = calloc(1, sizeof(*n));
			if (n == NULL) {
				rc = -ENOMEM;
				break;
			}
			n->line = line;
			n->col = col;
			if (ev->type == FYET_SCALAR) {
				size_t tl = 0;
				const char *t = fy_token_get_text(ev->scalar.value, &tl);

				enum fy_scalar_style style =
				        fy_token_scalar_style(ev->scalar.value);

				n->type = CN_SCALAR;
				n->plain = style == FYSS_PLAIN;
				/* Quoted scalars are marked past the opening quote: point at it. */
				if ((style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED) &&
				    n->col > 1)
					n->col--;
				n->text = strndup(t ? t : "", t ? tl : 0);
				n->len = n->text ? strlen(n->text) : 0;
				if (n->text == NULL) {
					free(n);
					rc = -ENOMEM;
					break;
				}
				if (n->len != tl) {
					err_at(px, line, col, "NUL byte in a scalar");
					n->len = strlen(n->text);
				}
			} else {
				n->type = ev->type == FYET_MAPPING_START ? CN_MAP : CN_SEQ;
			}
			if (depth > 0 ? cn_add(stack[depth - 1], n) != 0 : top != NULL) {
				cn_free(n);
				rc = -ENOMEM;
				break;
			}
			if (depth == 0)
				top = n;
			if (n->type != CN_SCALAR) {
				if (depth == CFG_DEPTH_MAX) {
					err_at(px, line, col, "nested deeper than %d levels",
					       CFG_DEPTH_MAX);
					rc = -EINVAL;
					break;
				}
				stack[depth++] = n;
			}
			break;
		case FYET_MAPPING_END:
		case FYET_SEQUENCE_END:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		fy_parser_event_free(fyp, ev);
	}
	if (rc == 0 && fy_parser_get_stream_error(fyp)) {
		void *it = NULL;
		struct fy_diag_error *de;
		unsigned n = 0;

		while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
			if (de->type < FYET_ERROR)
				continue;
			err_at(px, de->line > 0 ? de->line : 1, de->column > 0 ? de->column : 1,
			       "%s", de->msg);
			n++;
		}
		if (n == 0)
			err_at(px, line, col, "YAML syntax error");
		rc = -EINVAL;
	}
out:
	if (fyp != NULL)
		fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	if (rc != 0)
		cn_free(top);
	else
		*root = top;
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Schema                                                                  */

enum kind {
	K_STR = 0, /* any printable string of min..max bytes */
	K_PATH,    /* absolute path */
	K_NAME,    /* [A-Za-z0-9_.-], 1..size-1 bytes */
	K_UINT,    /* integer in min..max (and a multiple of step) */
	K_BOOL,
	K_ENUM,     /* one of names[], stored as its index */
	K_LEVEL,    /* log level name, stored as RTE_LOG_* */
	K_SIZE,     /* bytes: integer or with K/M/G/T suffix (powers of 1024) */
	K_DURATION, /* seconds: integer or with s/m/h/d suffix */
	K_MODE,     /* octal permission bits */
	K_PREFIX,   /* struct sg_cfg_prefix */
	K_ENDPOINT, /* struct sg_cfg_endpoint */
	K_SUITE,    /* IANA cipher suite name, stored as its uint16_t value */
	K_MAP,      /* nested keys (sub) */
	K_LIST,     /* list of `elem` (sub for K_MAP items) */
};

struct key {
	const char *name;
	enum kind kind;
	enum kind elem; /* K_LIST: kind of the items */
	int required;
	size_t off;       /* in the parent struct */
	size_t size;      /* field size, or item size for lists */
	size_t count_off; /* K_LIST: uint32_t item count */
	uint32_t max_items;
	int64_t min, max, step;
	int64_t def;
	const char *def_str;
	const char *const *names; /* K_ENUM, NULL-terminated */
	const struct key *sub;    /* K_MAP, K_LIST of K_MAP */
};

#define FLD(type, m) .off = offsetof(type, m), .size = sizeof(((type *)0)->m)
#define LST(type, m, cnt, n)                                                                       \
	.off = offsetof(type, m), .size = sizeof(((type *)0)->m[0]),                               \
	.count_off = offsetof(type, cnt), .max_items = (n)

static const char *const role_names[] = { "device", "backend", NULL };
static const char *const target_names[] = { "stderr", "syslog", NULL };
static const char *const cookie_names[] = { "under_load", "always", "never", NULL };
static const char *const backend_names[] = { "udp", "proxy", NULL };
static const char *const peer_move_names[] = { "verified", "unverified", NULL };

/* The suites, their IANA names and the default order: the suite registry's ranked
 * rows (suite.h), so the daemon and the engine cannot disagree. */
_Static_assert(SG_SUITES_RANKED <= SG_CFG_SUITES_MAX, "suite list fits");

static const struct key log_component_keys[] = {
	{ "main", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_MAIN]), .size = 4 },
	{ "cfg", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_CFG]), .size = 4 },
	{ "ctl", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_CTL]), .size = 4 },
	{ "cred", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_CRED]), .size = 4 },
	{ "dp", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_DP]), .size = 4 },
	{ "hs", K_LEVEL, .off = offsetof(struct sg_cfg_log, components[SG_LOG_HS]), .size = 4 },
	{ NULL },
};

static const struct key log_keys[] = {
	{ "level", K_LEVEL, FLD(struct sg_cfg_log, level), .def = RTE_LOG_INFO },
	{ "target", K_ENUM, FLD(struct sg_cfg_log, target), .names = target_names },
	{ "components", K_MAP, .off = 0, .sub = log_component_keys },
	{ "dpdk", K_LEVEL, FLD(struct sg_cfg_log, dpdk), .def = RTE_LOG_NOTICE },
	{ NULL },
};

static const struct key control_keys[] = {
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

static const struct key workers_keys[] = {
	{ "count", K_UINT, FLD(struct sg_cfg_workers, count), .min = 0, .max = RTE_MAX_LCORE - 1 },
	{ "lcores", K_LIST, K_UINT, LST(struct sg_cfg_workers, lcores, n_lcores, SG_CFG_LCORES_MAX),
	  .min = 0, .max = RTE_MAX_LCORE - 1 },
	{ "burst", K_UINT, FLD(struct sg_cfg_workers, burst), .min = 1, .max = SG_BURST_MAX,
	  .def = 32 },
	{ "idle_sleep_us", K_UINT, FLD(struct sg_cfg_workers, idle_sleep_us), .min = 0,
	  .max = 100000 },
	{ NULL },
};

static const struct key mbufs_keys[] = {
	{ "count", K_UINT, FLD(struct sg_cfg_mbufs, count), .min = 1023, .max = 16777215,
	  .def = 8191 },
	/* rte_mempool wants cache * 1.5 <= count: 512 * 1.5 < 1023, the least count. */
	{ "cache", K_UINT, FLD(struct sg_cfg_mbufs, cache), .min = 0, .max = 512, .def = 256 },
	{ NULL },
};

static const struct key port_keys[] = {
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
	{ NULL },
};

static const struct key sessions_keys[] = {
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
	{ NULL },
};

static const struct key credentials_keys[] = {
	{ "db", K_PATH, FLD(struct sg_cfg_credentials, db), .min = 2,
	  .def_str = "/var/lib/stormgate/credentials" },
	{ "map_size", K_SIZE, FLD(struct sg_cfg_credentials, map_size), .min = 1 << 20,
	  .max = INT64_C(1) << 40, .def = INT64_C(4) << 30 },
	{ NULL },
};

static const struct key policy_keys[] = {
	{ "key_lifetime", K_DURATION, FLD(struct sg_cfg_policy, key_lifetime), .min = 10,
	  .max = 30 * 86400, .def = 86400 },
	{ "key_lifetime_jitter", K_UINT, FLD(struct sg_cfg_policy, key_lifetime_jitter), .min = 0,
	  .max = 50, .def = 10 },
	/* always: every new handshake proves its address first (docs/handshake.md, "Cookies"). */
	{ "cookie_mode", K_ENUM, FLD(struct sg_cfg_policy, cookie_mode), .names = cookie_names,
	  .def = SG_COOKIE_ALWAYS },
	{ "cookie_threshold", K_UINT, FLD(struct sg_cfg_policy, cookie_threshold), .min = 0,
	  .max = 10000000, .def = 1000 },
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

static const struct key backend_keys[] = {
	{ "mode", K_ENUM, FLD(struct sg_cfg_backend, mode), .names = backend_names },
	{ "port", K_NAME, FLD(struct sg_cfg_backend, port), .min = 0, .def_str = "" },
	{ "trust_device_network", K_BOOL, FLD(struct sg_cfg_backend, trust_device_network) },
	{ "servers", K_LIST, K_ENDPOINT,
	  LST(struct sg_cfg_backend, servers, n_servers, SG_CFG_SERVERS_MAX) },
	{ "source_port_first", K_UINT, FLD(struct sg_cfg_backend, source_port_first), .min = 1024,
	  .max = 65535, .def = 20000 },
	{ "source_port_count", K_UINT, FLD(struct sg_cfg_backend, source_port_count), .min = 1,
	  .max = 64512, .def = 40000 },
	{ NULL },
};

static const struct key root_keys[] = {
	{ "eal", K_LIST, K_STR, LST(struct sg_config, eal, n_eal, SG_CFG_EAL_MAX), .min = 1 },
	{ "log", K_MAP, .off = offsetof(struct sg_config, log), .sub = log_keys },
	{ "control", K_MAP, .off = offsetof(struct sg_config, control), .sub = control_keys },
	{ "workers", K_MAP, .off = offsetof(struct sg_config, workers), .sub = workers_keys },
	{ "mbufs", K_MAP, .off = offsetof(struct sg_config, mbufs), .sub = mbufs_keys },
	{ "ports", K_LIST, K_MAP, LST(struct sg_config, ports, n_ports, SG_CFG_PORTS_MAX),
	  .required = 1, .sub = port_keys },
	{ "sessions", K_MAP, .off = offsetof(struct sg_config, sessions), .sub = sessions_keys },
	{ "credentials", K_MAP, .off = offsetof(struct sg_config, credentials),
	  .sub = credentials_keys },
	{ "policy", K_MAP, .off = offsetof(struct sg_config, policy), .sub = policy_keys },
	{ "backend", K_MAP, .off = offsetof(struct sg_config, backend), .sub = backend_keys },
	{ NULL },
};

/* ---------------------------------------------------------------------- */
/* Defaults                                                                */

static void store_uint(void *p, size_t size, uint64_t v)
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

static void apply_defaults(const struct key *keys, void *base)
{
	for (const struct key *k = keys; k->name != NULL; k++) {
		char *p = (char *)base + k->off;

		switch (k->kind) {
		case K_MAP:
			apply_defaults(k->sub, p);
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
		case K_PREFIX:
		case K_ENDPOINT:
		case K_SUITE:
			break;
		default:
			store_uint(p, k->size, (uint64_t)k->def);
			break;
		}
	}
}

void sg_config_defaults(struct sg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	apply_defaults(root_keys, cfg);
	for (size_t i = 0; i < SG_SUITES_RANKED; i++)
		cfg->policy.suites[i] = sg_suites[i].id;
	cfg->policy.n_suites = SG_SUITES_RANKED;
}

/* ---------------------------------------------------------------------- */
/* Scalar conversion                                                       */

/* YAML 1.2 core integers: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. */
static int parse_int(const char *s, int64_t *out)
{
	int base = 10, neg = 0;
	char *end;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		if (neg)
			return -EINVAL;
		base = s[1] == 'x' ? 16 : 8;
		s += 2;
	}
	if (*s == '\0' || !((*s >= '0' && *s <= '9') || (base == 16 && strchr("abcdefABCDEF", *s))))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v > (unsigned long long)INT64_MAX)
		return -ERANGE;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* "4G", "512MiB", "64k", "1048576" -> bytes (binary multiples). */
static int parse_size(const char *s, int64_t *out)
{
	static const char units[] = "KMGT";
	char num[32];
	size_t n = strspn(s, "0123456789");
	int64_t v;

	if (n == 0 || n >= sizeof(num))
		return n == 0 ? -EINVAL : -ERANGE;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_int(num, &v) != 0)
		return -ERANGE;
	const char *u = s + n;
	if (*u == '\0' || strcmp(u, "B") == 0) {
		*out = v;
		return 0;
	}
	const char *pos = strchr(units, u[0] & ~0x20);
	if (pos == NULL || u[0] == '\0' ||
	    !(u[1] == '\0' || strcmp(u + 1, "B") == 0 || strcmp(u + 1, "iB") == 0))
		return -EINVAL;
	int shift = 10 * (int)(pos - units + 1);
	if (v > (INT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

/* "90", "90s", "15m", "24h", "7d" -> seconds. */
static int parse_duration(const char *s, int64_t *out)
{
	char num[32];
	size_t n = strspn(s, "0123456789");
	int64_t v, mul;

	if (n == 0 || n >= sizeof(num))
		return n == 0 ? -EINVAL : -ERANGE;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_int(num, &v) != 0)
		return -ERANGE;
	const char *u = s + n;
	if (u[0] == '\0' || strcmp(u, "s") == 0)
		mul = 1;
	else if (strcmp(u, "m") == 0)
		mul = 60;
	else if (strcmp(u, "h") == 0)
		mul = 3600;
	else if (strcmp(u, "d") == 0)
		mul = 86400;
	else
		return -EINVAL;
	if (v > INT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

static int parse_prefix(const char *s, struct sg_cfg_prefix *p)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	int64_t len;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, ip, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, p->addr) == 1)
		p->family = AF_INET6;
	else
		return -EINVAL;
	if (parse_int(slash + 1, &len) != 0 || slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	if (len < 0 || len > (p->family == AF_INET ? 32 : 128))
		return -ERANGE;
	p->len = (uint8_t)len;
	return 0;
}

static int parse_endpoint(const char *s, struct sg_cfg_endpoint *e)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *colon, *start = s;
	size_t n;
	int64_t port;

	memset(e, 0, sizeof(*e));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return -EINVAL;
		start = s + 1;
		n = (size_t)(close - start);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || strchr(s, ':') != colon)
			return -EINVAL;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, start, n);
	ip[n] = '\0';
	if (s[0] != '[' && inet_pton(AF_INET, ip, e->addr) == 1)
		e->family = AF_INET;
	else if (s[0] == '[' && inet_pton(AF_INET6, ip, e->addr) == 1)
		e->family = AF_INET6;
	else
		return -EINVAL;
	if (colon[1] < '0' || colon[1] > '9' || parse_int(colon + 1, &port) != 0)
		return -EINVAL;
	if (port < 1 || port > 65535)
		return -ERANGE;
	e->port = (uint16_t)port;
	return 0;
}

static int valid_name(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void names_list(const char *const *names, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] != NULL && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
}

/* One scalar of kind `kind` at p (field of `size` bytes). Reports errors itself. */
static void walk_scalar(struct pctx *px, const struct key *k, enum kind kind, const char *path,
                        const struct cn *n, void *p, size_t size)
{
	char list[256];
	int64_t v = 0;
	int rc;

	if (cn_is_null(n)) {
		err_at(px, n->line, n->col, "'%s' has no value", path);
		return;
	}
	if (n->type != CN_SCALAR) {
		err_at(px, n->line, n->col, "'%s' must be a scalar, got %s", path, type_name(n));
		return;
	}
	const char *s = n->text;

	switch (kind) {
	case K_STR:
	case K_PATH:
	case K_NAME:
		if (n->len + 1 > size) {
			err_at(px, n->line, n->col, "'%s' is too long (%zu bytes, at most %zu)",
			       path, n->len, size - 1);
		} else if ((int64_t)n->len < k->min) {
			err_at(px, n->line, n->col, "'%s' must not be empty", path);
		} else if (kind == K_NAME && !valid_name(s)) {
			err_at(px, n->line, n->col,
			       "'%s' must contain only letters, digits, '_', '-' and '.', got '%s'",
			       path, s);
		} else if (!printable(s)) {
			err_at(px, n->line, n->col, "'%s' contains control characters", path);
		} else if (kind == K_PATH && s[0] != '/') {
			err_at(px, n->line, n->col, "'%s' must be an absolute path, got '%s'", path,
			       s);
		} else {
			memcpy(p, s, n->len + 1);
		}
		return;
	case K_BOOL:
		if (n->plain && strcmp(s, "true") == 0)
			*(bool *)p = true;
		else if (n->plain && strcmp(s, "false") == 0)
			*(bool *)p = false;
		else
			err_at(px, n->line, n->col, "'%s' must be true or false, got '%s'", path,
			       s);
		return;
	case K_ENUM:
		for (size_t i = 0; k->names[i] != NULL; i++) {
			if (strcmp(s, k->names[i]) == 0) {
				store_uint(p, size, i);
				return;
			}
		}
		names_list(k->names, list, sizeof(list));
		err_at(px, n->line, n->col, "'%s' must be one of: %s; got '%s'", path, list, s);
		return;
	case K_LEVEL: {
		uint32_t l = sg_log_level_parse(s);
		if (l == 0)
			err_at(px, n->line, n->col,
			       "'%s' must be one of: emerg, alert, crit, error, warning, notice, "
			       "info, debug; got '%s'",
			       path, s);
		else
			store_uint(p, size, l);
		return;
	}
	case K_PREFIX:
		rc = parse_prefix(s, p);
		if (rc == -ERANGE)
			err_at(px, n->line, n->col, "'%s': prefix length out of range in '%s'",
			       path, s);
		else if (rc != 0)
			err_at(px, n->line, n->col,
			       "'%s' must be an address with prefix length (198.18.1.1/24, "
			       "fd00:5347:1::1/64), got '%s'",
			       path, s);
		return;
	case K_ENDPOINT:
		rc = parse_endpoint(s, p);
		if (rc == -ERANGE)
			err_at(px, n->line, n->col, "'%s': UDP port out of range 1..65535 in '%s'",
			       path, s);
		else if (rc != 0)
			err_at(px, n->line, n->col,
			       "'%s' must be ADDRESS:PORT (198.18.2.10:5683, "
			       "[fd00:5347:2::10]:5683), "
			       "got '%s'",
			       path, s);
		return;
	case K_SUITE: {
		const struct sg_suite *su = sg_suite_by_name(s);

		if (su != NULL && su->rank != 0) { /* one the handshake negotiates */
			*(uint16_t *)p = su->id;
			return;
		}
		err_at(px, n->line, n->col,
		       "'%s': unknown or unsupported cipher suite '%s' (see docs/config.md)", path,
		       s);
		return;
	}
	case K_UINT:
		if (!n->plain) {
			err_at(px, n->line, n->col, "'%s' must be an integer, got the string '%s'",
			       path, s);
			return;
		}
		rc = parse_int(s, &v);
		break;
	case K_SIZE:
		rc = parse_size(s, &v);
		break;
	case K_DURATION:
		rc = parse_duration(s, &v);
		break;
	case K_MODE: {
		/* Octal digits whatever YAML would make of a leading 0 (0660 is 660 in 1.2). */
		char *end;
		errno = 0;
		unsigned long m = strtoul(s[0] == '0' && s[1] == 'o' ? s + 2 : s, &end, 8);
		rc = (*s >= '0' && *s <= '7' && *end == '\0' && errno == 0) ? 0 : -EINVAL;
		v = (int64_t)(m > 07777 ? 07777 + 1 : m);
		break;
	}
	default:
		return;
	}
	if (rc == -EINVAL) {
		const char *what = kind == K_SIZE ? "a size in bytes (65536, 64K, 4G)"
		                   : kind == K_DURATION
		                           ? "a duration in seconds (90, 90s, 15m, 24h, 7d)"
		                   : kind == K_MODE ? "octal permission bits (0660)"
		                                    : "an integer";
		err_at(px, n->line, n->col, "'%s' must be %s, got '%s'", path, what, s);
		return;
	}
	if (rc == -ERANGE || v < k->min || v > k->max) {
		if (kind == K_MODE)
			err_at(px, n->line, n->col, "'%s' is %s, out of range 0..0777", path, s);
		else
			err_at(px, n->line, n->col,
			       "'%s' is %s, out of range %" PRId64 "..%" PRId64 "%s", path, s,
			       k->min, k->max,
			       kind == K_SIZE       ? " bytes"
			       : kind == K_DURATION ? " seconds"
			                            : "");
		return;
	}
	if (k->step > 1 && v % k->step != 0) {
		err_at(px, n->line, n->col, "'%s' is %s, not a multiple of %" PRId64, path, s,
		       k->step);
		return;
	}
	store_uint(p, size, (uint64_t)v);
}

static void walk_map(struct pctx *px, const struct key *keys, const char *path, const struct cn *n,
                     void *base);

/* Dotted key path for messages; a path longer than the buffer is cut, never overflows. */
__attribute__((format(printf, 3, 4))) static void path_fmt(char *out, size_t len, const char *fmt,
                                                           ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(out, len, fmt, ap) < 0)
		out[0] = '\0';
	va_end(ap);
}

static void walk_value(struct pctx *px, const struct key *k, const char *path, const struct cn *n,
                       void *base)
{
	char *p = (char *)base + k->off;

	if (k->kind == K_MAP) {
		if (cn_is_null(n))
			return; /* "log:" with nothing under it: all defaults */
		if (n->type != CN_MAP) {
			err_at(px, n->line, n->col, "'%s' must be a mapping, got %s", path,
			       type_name(n));
			return;
		}
		walk_map(px, k->sub, path, n, p);
		return;
	}
	if (k->kind != K_LIST) {
		walk_scalar(px, k, k->kind, path, n, p, k->size);
		return;
	}

	uint32_t *count = (uint32_t *)((char *)base + k->count_off);
	*count = 0;
	if (cn_is_null(n))
		return;
	if (n->type != CN_SEQ) {
		err_at(px, n->line, n->col, "'%s' must be a list, got %s", path, type_name(n));
		return;
	}
	if (n->n > k->max_items)
		err_at(px, n->kids[k->max_items]->line, n->kids[k->max_items]->col,
		       "'%s' has %zu items, at most %u", path, n->n, k->max_items);
	for (size_t i = 0; i < n->n && i < k->max_items; i++) {
		const struct cn *item = n->kids[i];
		char ipath[PATH_LEN];
		void *ip = p + i * k->size;

		path_fmt(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (k->elem == K_MAP) {
			apply_defaults(k->sub, ip);
			if (item->type != CN_MAP) {
				err_at(px, item->line, item->col, "'%s' must be a mapping, got %s",
				       ipath, type_name(item));
				continue;
			}
			walk_map(px, k->sub, ipath, item, ip);
		} else {
			walk_scalar(px, k, k->elem, ipath, item, ip, k->size);
		}
	}
	*count = (uint32_t)(n->n < k->max_items ? n->n : k->max_items);
}

static void walk_map(struct pctx *px, const struct key *keys, const char *path, const struct cn *n,
                     void *base)
{
	const struct cn *seen[32] = { 0 };
	char kpath[PATH_LEN];

	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct cn *kn = n->kids[i], *vn = n->kids[i + 1];
		const struct key *k;
		size_t idx = 0;

		if (kn->type != CN_SCALAR) {
			err_at(px, kn->line, kn->col, "keys must be plain names, got %s",
			       type_name(kn));
			continue;
		}
		path_fmt(kpath, sizeof(kpath), "%s%s%s", path, path[0] ? "." : "", kn->text);
		for (k = keys; k->name != NULL; k++, idx++)
			if (strcmp(k->name, kn->text) == 0)
				break;
		if (k->name == NULL) {
			char known[256];
			size_t off = 0;

			known[0] = '\0';
			for (const struct key *q = keys; q->name != NULL && off < sizeof(known);
			     q++)
				off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s",
				                        q == keys ? "" : ", ", q->name);
			err_at(px, kn->line, kn->col, "unknown key '%s' (known here: %s)", kpath,
			       known);
			continue;
		}
		if (seen[idx] != NULL) {
			err_at(px, kn->line, kn->col, "duplicate key '%s' (first at line %d)",
			       kpath, seen[idx]->line);
			continue;
		}
		seen[idx] = kn;
		walk_value(px, k, kpath, vn, base);
	}
	size_t idx = 0;
	for (const struct key *k = keys; k->name != NULL; k++, idx++) {
		if (k->required && seen[idx] == NULL) {
			path_fmt(kpath, sizeof(kpath), "%s%s%s", path, path[0] ? "." : "", k->name);
			err_at(px, n->line, n->col, "missing required key '%s'", kpath);
		}
	}
}

/* Rules that tie keys together; positions come from the tree. */
static void cross_checks(struct pctx *px, const struct sg_config *cfg, const struct cn *root)
{
	const struct cn *ports = cn_get(root, "ports");
	const struct cn *workers = cn_get(root, "workers");
	int devices = 0;

	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		const struct sg_cfg_port *p = &cfg->ports[i];
		const struct cn *item = cn_item(ports, i);

		const struct cn *nn = cn_get(item, "name");
		const struct cn *dn = cn_get(item, "devargs");

		devices += p->role == SG_PORT_DEVICE;
		for (uint32_t j = 0; j < i && nn != NULL && p->name[0]; j++) {
			if (strcmp(p->name, cfg->ports[j].name) == 0) {
				err_at(px, nn->line, nn->col,
				       "'ports[%u].name': port name '%s' already used by ports[%u]",
				       i, p->name, j);
				break;
			}
		}
		for (uint32_t j = 0; j < i && dn != NULL && p->devargs[0]; j++) {
			if (strcmp(p->devargs, cfg->ports[j].devargs) == 0) {
				err_at(px, dn->line, dn->col,
				       "'ports[%u].devargs': device '%s' already used by ports[%u]",
				       i, p->devargs, j);
				break;
			}
		}
	}
	if (cfg->sessions.cid_length > 0 && cfg->sessions.cid_length < 8) {
		const struct cn *c = cn_get(cn_get(root, "sessions"), "cid_length");

		err_at(px, c ? c->line : 0, c ? c->col : 0,
		       "'sessions.cid_length' is %u: 0 (no CIDs) or 8..16 (a CID carries a slot, "
		       "a nonce and a keyed check)",
		       cfg->sessions.cid_length);
	}
	if (ports != NULL && cfg->n_ports > 0 && devices == 0)
		err_at(px, ports->line, ports->col, "'ports' has no port with role 'device'");
	if (ports != NULL && cfg->n_ports == 0 && (cn_is_null(ports) || ports->type == CN_SEQ))
		err_at(px, ports->line, ports->col, "'ports' must list at least one port");

	if (cfg->workers.count != 0 && cfg->workers.n_lcores != 0) {
		const struct cn *l = cn_get(workers, "lcores");
		err_at(px, l->line, l->col,
		       "'workers.lcores' and 'workers.count' are mutually exclusive");
	}
	for (uint32_t i = 0; i < cfg->workers.n_lcores; i++)
		for (uint32_t j = 0; j < i; j++)
			if (cfg->workers.lcores[i] == cfg->workers.lcores[j]) {
				const struct cn *l = cn_item(cn_get(workers, "lcores"), i);
				err_at(px, l->line, l->col,
				       "'workers.lcores[%u]': lcore %u listed twice", i,
				       cfg->workers.lcores[i]);
			}

	const struct cn *pol = cn_get(root, "policy");
	for (uint32_t i = 0; i < cfg->policy.n_suites; i++)
		for (uint32_t j = 0; j < i; j++)
			if (cfg->policy.suites[i] == cfg->policy.suites[j]) {
				const struct cn *s = cn_item(cn_get(pol, "suites"), i);
				if (s != NULL)
					err_at(px, s->line, s->col,
					       "'policy.suites[%u]': '%s' listed twice", i,
					       sg_suite_name(cfg->policy.suites[i]));
			}
	const struct cn *suites_n = cn_get(pol, "suites");
	if (suites_n != NULL && !cn_is_null(suites_n) && suites_n->type == CN_SEQ &&
	    suites_n->n == 0)
		err_at(px, suites_n->line, suites_n->col,
		       "'policy.suites' must list at least one cipher suite");

	if (cfg->backend.source_port_first + cfg->backend.source_port_count - 1 > 65535) {
		const struct cn *c = cn_get(cn_get(root, "backend"), "source_port_count");

		if (c == NULL)
			c = cn_get(cn_get(root, "backend"), "source_port_first");
		if (c != NULL)
			err_at(px, c->line, c->col,
			       "'backend.source_port_first' + 'source_port_count' - 1 is %u, past "
			       "port 65535",
			       cfg->backend.source_port_first + cfg->backend.source_port_count - 1);
	}

	/*
	 * The servers' replies are told from the devices' datagrams by their source
	 * address and port, which anyone on the device network can write (no BCP 38
	 * upstream): the device port takes them only when the config says that
	 * network is trusted (docs/architecture.md, "Trust model").
	 */
	if (cfg->backend.port[0] == '\0' && cfg->backend.n_servers > 0 &&
	    !cfg->backend.trust_device_network && sg_config_backend_port(cfg) < 0) {
		const struct cn *sv = cn_get(cn_get(root, "backend"), "servers");

		err_at(px, sv ? sv->line : 0, sv ? sv->col : 0,
		       "'backend.servers': no port has role 'backend', so the device port would "
		       "take the servers' replies, which anyone on the device network can forge: "
		       "add a port with role 'backend' to reach them through, or set "
		       "'backend.trust_device_network: true' if only trusted hosts can send to "
		       "the device port");
	}

	if (cfg->backend.port[0] != '\0') {
		const struct cn *bp = cn_get(cn_get(root, "backend"), "port");
		uint32_t i;

		for (i = 0; i < cfg->n_ports; i++)
			if (strcmp(cfg->ports[i].name, cfg->backend.port) == 0)
				break;
		if (bp == NULL)
			return;
		if (i == cfg->n_ports)
			err_at(px, bp->line, bp->col, "'backend.port': no port named '%s'",
			       cfg->backend.port);
		else if (cfg->ports[i].role != SG_PORT_BACKEND)
			err_at(px, bp->line, bp->col,
			       "'backend.port': port '%s' has role '%s', not 'backend'",
			       cfg->backend.port, sg_port_role_name(cfg->ports[i].role));
	}
}

int sg_config_parse(struct sg_config *cfg, const char *name, const char *text, size_t len,
                    struct sg_cfg_errors *errs)
{
	struct pctx px = { .file = name };
	struct cn *root = NULL;
	struct sg_config parsed;
	int rc;

	*errs = (struct sg_cfg_errors){ 0 };
	sg_config_defaults(&parsed);
	rc = yaml_tree(&px, text, len, &root);
	if (rc == 0) {
		if (root == NULL) {
			err_at(&px, 1, 1, "missing required key 'ports'");
		} else if (root->type != CN_MAP) {
			if (!cn_is_null(root))
				err_at(&px, root->line, root->col,
				       "the configuration must be a mapping of keys, got %s",
				       type_name(root));
			else
				err_at(&px, root->line, root->col, "missing required key 'ports'");
		} else {
			walk_map(&px, root_keys, "", root, &parsed);
			cross_checks(&px, &parsed, root);
		}
	}
	cn_free(root);
	if (rc == -ENOMEM || px.oom) {
		errs_finish(&px, errs);
		return -ENOMEM;
	}
	rc = px.count ? -EINVAL : 0;
	if (errs_finish(&px, errs) != 0)
		return -ENOMEM;
	if (rc == 0)
		*cfg = parsed;
	return rc;
}

int sg_config_load(struct sg_config *cfg, const char *path, struct sg_cfg_errors *errs)
{
	struct pctx px = { .file = path };
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	int fd, rc;

	*errs = (struct sg_cfg_errors){ 0 };
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		err_at(&px, 0, 0, "cannot open: %s", strerror(-rc));
		goto fail;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		err_at(&px, 0, 0, "not a regular file");
		goto fail_fd;
	}
	if ((uint64_t)st.st_size > CFG_FILE_MAX) {
		rc = -EFBIG;
		err_at(&px, 0, 0, "larger than %u bytes", CFG_FILE_MAX);
		goto fail_fd;
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		rc = -ENOMEM;
		goto fail_fd;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			err_at(&px, 0, 0, "cannot read: %s", strerror(-rc));
			goto fail_text;
		}
		got += (size_t)n;
	}
	text[got] = '\0';
	close(fd);
	rc = sg_config_parse(cfg, path, text, got, errs);
	free(text);
	return rc;

fail_text:
	free(text);
fail_fd:
	close(fd);
fail:
	if (errs_finish(&px, errs) != 0)
		return -ENOMEM;
	return rc == -ENOMEM ? rc : -EINVAL;
}

/* ---------------------------------------------------------------------- */
/* One key at run time                                                     */

/* The key at a dotted path and the struct that holds its field (inside cfg). */
static const struct key *key_find(const char *path, struct sg_config *cfg, void **base)
{
	const struct key *keys = root_keys, *k = NULL;
	char part[PATH_LEN];
	void *b = cfg;

	while (*path != '\0') {
		size_t n = strcspn(path, ".");

		if (n == 0 || n >= sizeof(part) || keys == NULL)
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, part) == 0)
				break;
		if (k->name == NULL)
			return NULL;
		path += n;
		if (*path == '.') {
			path++;
			if (k->kind != K_MAP)
				return NULL;
			b = (char *)b + k->off;
			keys = k->sub;
		} else if (k->kind == K_MAP || (k->kind == K_LIST && k->elem == K_MAP)) {
			return NULL; /* a whole section or a list of mappings: not one value */
		}
	}
	*base = b;
	return k;
}

int sg_config_set(struct sg_config *cfg, const char *path, const char *value, char *msg,
                  size_t msg_len)
{
	struct pctx px = { .file = path };
	struct sg_config *copy;
	const struct key *k;
	struct cn *root = NULL;
	void *base;
	int rc;

	msg[0] = '\0';
	copy = malloc(sizeof(*copy));
	if (copy == NULL)
		return -ENOMEM;
	*copy = *cfg;
	k = key_find(path, copy, &base);
	if (k == NULL) {
		snprintf(msg, msg_len, "no configuration key '%s'", path);
		free(copy);
		return -ENOENT;
	}
	rc = yaml_tree(&px, value, strlen(value), &root);
	if (rc == 0 && root == NULL)
		err_at(&px, 1, 1, "'%s' has no value", path);
	else if (rc == 0)
		walk_value(&px, k, path, root, base);
	cn_free(root);
	/* The rules cross_checks() applies to a file's suites. */
	if (px.count == 0 && k->kind == K_LIST && k->elem == K_SUITE) {
		const struct sg_cfg_policy *p = &copy->policy;

		if (p->n_suites == 0)
			err_at(&px, 0, 0, "'%s' must list at least one cipher suite", path);
		for (uint32_t i = 0; i < p->n_suites; i++)
			for (uint32_t j = 0; j < i; j++)
				if (p->suites[i] == p->suites[j])
					err_at(&px, 0, 0, "'%s[%u]': '%s' listed twice", path, i,
					       sg_suite_name(p->suites[i]));
	}
	if (px.oom) {
		rc = -ENOMEM;
	} else if (px.count > 0) {
		/* The first error, without a file position: the value is one line. */
		for (unsigned i = 0; i < px.n_errs; i++)
			if (px.errs[i].seq == 0)
				snprintf(msg, msg_len, "%s", px.errs[i].msg);
		rc = -EINVAL;
	} else {
		*cfg = *copy;
		rc = 0;
	}
	for (unsigned i = 0; i < px.n_errs; i++)
		free(px.errs[i].msg);
	free(px.errs);
	free(copy);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Introspection and printing                                              */

static void keys_walk(const struct key *keys, const char *prefix,
                      void (*fn)(const char *path, void *arg), void *arg)
{
	char path[PATH_LEN];

	for (const struct key *k = keys; k->name != NULL; k++) {
		path_fmt(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", k->name);
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
	keys_walk(root_keys, "", fn, arg);
}

const char *sg_port_role_name(uint32_t role)
{
	return role < SG_PORT_ROLE_MAX ? role_names[role] : "?";
}

const char *sg_cookie_mode_name(uint32_t mode)
{
	return mode < SG_COOKIE_MODE_MAX ? cookie_names[mode] : "?";
}

int sg_config_backend_port(const struct sg_config *cfg)
{
	for (uint32_t i = 0; i < cfg->n_ports; i++) {
		if (cfg->backend.port[0] != '\0'
		            ? strcmp(cfg->ports[i].name, cfg->backend.port) == 0
		            : cfg->ports[i].role == SG_PORT_BACKEND)
			return (int)i;
	}
	return -1;
}

const char *sg_backend_mode_name(uint32_t mode)
{
	return mode < SG_BACKEND_MODE_MAX ? backend_names[mode] : "?";
}

const char *sg_peer_move_name(uint32_t mode)
{
	return mode < SG_PEER_MOVE_MAX ? peer_move_names[mode] : "?";
}

const char *sg_suite_name(uint16_t suite)
{
	const struct sg_suite *su = sg_suite_find(suite);

	return su != NULL && su->rank != 0 ? su->name : NULL;
}

char *sg_cfg_prefix_str(const struct sg_cfg_prefix *p, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (inet_ntop(p->family, p->addr, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, len, "%s/%u", ip, p->len);
	return buf;
}

char *sg_cfg_endpoint_str(const struct sg_cfg_endpoint *e, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (inet_ntop(e->family, e->addr, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, len, e->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, e->port);
	return buf;
}
