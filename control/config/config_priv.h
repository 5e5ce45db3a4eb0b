/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the files of config/ share (not installed, not for other rooms):
 * the error list of one parse (errors.c), lookups in the node tree
 * (tree.c), the YAML adapter (yaml.c), the schema tables (schema.c), the
 * config's view of the suite table (suites.c), the walk of a tree through
 * the schema (walk.c) and the rules between keys (check.c; check_addr.c for
 * addresses, check_hs.c for the handshake plane, check_tls.c for the tls
 * section, store_keys.c for the
 * session store's paths).
 *
 * Who calls whom, with no circle: config.c and live.c -> yaml.c, walk.c,
 * check.c, check_addr.c; check_addr.c -> check.c; check.c -> store_keys.c,
 * check_hs.c, check_tls.c;
 * overrides.c -> live.c; walk.c -> schema.c,
 * suites.c, values.c; everything -> errors.c, tree.c. Any thread; no global state but the constant
 * tables.
 */
#ifndef STORMGATE_CONTROL_CONFIG_PRIV_H
#define STORMGATE_CONTROL_CONFIG_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "sg_cfg_tree.h"
#include "sg_config.h"

#define CFG_PATH_LEN 128 /* dotted key paths in messages */

/* ---- the errors of one parse (errors.c) ---- */

struct cfg_err {
	int line, col; /* 1-based; 0 = no position */
	unsigned seq;  /* order found, to keep the sort stable */
	char *msg;
};

struct cfg_ctx {
	const char *file; /* the name error lines start with */
	struct cfg_err *errs;
	unsigned n_errs, cap_errs;
	unsigned count; /* including the ones not kept */
	int oom;
	/* warnings: a value that is allowed but deserves a second look (no failure) */
	struct cfg_err *warns;
	unsigned n_warns, cap_warns;
};

/* Record one error at line:col (0:0 for none); the first SG_CFG_ERRORS_MAX are kept. */
__attribute__((format(printf, 4, 5))) void cfg_err_at(struct cfg_ctx *px, int line, int col,
                                                      const char *fmt, ...);

/* Record one warning at line:col; at most SG_CFG_ERRORS_MAX are kept. */
__attribute__((format(printf, 4, 5))) void cfg_warn_at(struct cfg_ctx *px, int line, int col,
                                                       const char *fmt, ...);

/*
 * Sort the errors by position, format them `file:line:column: message` into
 * out and free them from px; the warnings likewise (`file:line:column:
 * warning: message`) into out->warnings. Returns 0 or -ENOMEM (also when an earlier
 * cfg_err_at() ran out of memory).
 */
int cfg_errs_finish(struct cfg_ctx *px, struct sg_cfg_errors *out);

/* The first error found (not the first by position), or NULL; px keeps it. */
const char *cfg_errs_first(const struct cfg_ctx *px);

/* Free the errors of px without formatting them. */
void cfg_errs_drop(struct cfg_ctx *px);

/* ---- the node tree (tree.c) ---- */

/* YAML 1.2 core schema null: no node, an empty plain scalar, ~, null. */
int cfg_node_is_null(const struct sg_cfg_node *n);
/* Value of key `name` in mapping m, or NULL (also when m is no mapping). */
const struct sg_cfg_node *cfg_node_get(const struct sg_cfg_node *m, const char *name);
/* Item i of sequence s, or NULL. */
const struct sg_cfg_node *cfg_node_item(const struct sg_cfg_node *s, size_t i);
/* "nothing", "a mapping", "a list" or "a scalar", for messages. */
const char *cfg_node_type_name(const struct sg_cfg_node *n);

/* ---- YAML (yaml.c) ---- */

/*
 * Build the tree of one YAML document (YAML 1.2, no aliases, one document).
 * Returns 0 with *root (NULL for an empty document), -EINVAL after reporting
 * the syntax error(s) to px, or -ENOMEM.
 */
int cfg_yaml_tree(struct cfg_ctx *px, const char *text, size_t len, struct sg_cfg_node **root);

/* ---- the schema (schema.c) ---- */

enum cfg_kind {
	K_STR = 0, /* any printable string of min..max bytes */
	K_PATH,    /* absolute path */
	K_NAME,    /* [A-Za-z0-9_.-], 1..size-1 bytes */
	K_UINT,    /* integer in min..max (and a multiple of step) */
	K_BOOL,
	K_ENUM,        /* one of names[], stored as its index */
	K_LEVEL,       /* log level name, stored as RTE_LOG_* */
	K_SIZE,        /* bytes: integer or with K/M/G/T suffix (powers of 1024) */
	K_DURATION,    /* seconds: integer or with s/m/h/d suffix */
	K_DURATION_MS, /* milliseconds: integer or with ms/s/m/h/d suffix */
	K_MODE,        /* octal permission bits */
	K_PREFIX,      /* struct sg_cfg_prefix */
	K_ADDR,        /* struct sg_cfg_prefix of one address (/32, /128) */
	K_ENDPOINT,    /* struct sg_cfg_endpoint */
	K_SUITE,       /* IANA cipher suite name, stored as its uint16_t value */
	K_LISTEN,      /* struct sg_cfg_listen: an endpoint, or "" / off; def_str the default */
	K_MAP,         /* nested keys (sub) */
	K_LIST,        /* list of `elem` (sub for K_MAP items) */
};

/* One key: a row of a schema table. */
struct cfg_key {
	const char *name;
	enum cfg_kind kind;
	enum cfg_kind elem; /* K_LIST: kind of the items */
	int required;
	size_t off;       /* in the parent struct */
	size_t size;      /* field size, or item size for lists */
	size_t count_off; /* K_LIST: uint32_t item count */
	uint32_t max_items;
	int64_t min, max, step;
	int64_t def;
	const char *def_str;
	const char *const *names;  /* K_ENUM, NULL-terminated */
	const struct cfg_key *sub; /* K_MAP, K_LIST of K_MAP */
};

/* The top-level keys of struct sg_config; NULL-name terminated like every table. */
extern const struct cfg_key cfg_root_keys[];

/* Set every field the keys describe (recursively) to its default. */
void cfg_apply_defaults(const struct cfg_key *keys, void *base);

/* Store v in an unsigned field of size 1, 2, 4 or 8 bytes. */
void cfg_store_uint(void *p, size_t size, uint64_t v);

/* Dotted key path for messages; a path longer than the buffer is cut, never overflows. */
__attribute__((format(printf, 3, 4))) void cfg_path_fmt(char *out, size_t len, const char *fmt,
                                                        ...);

/* ---- the suite table, as the config sees it (suites.c) ---- */

/* policy.suites by default: every suite, in the default order. */
void cfg_suites_default(struct sg_cfg_policy *p);
/* IANA name -> value; -EINVAL for a suite the engine does not serve. */
int cfg_suite_parse(const char *name, uint16_t *id);

/* ---- the schema walk (walk.c) ---- */

/* Fill the fields of base that the keys of mapping n name; report every error. */
void cfg_walk_map(struct cfg_ctx *px, const struct cfg_key *keys, const char *path,
                  const struct sg_cfg_node *n, void *base);
/* Fill the field of key k (in base) from node n, whatever the key's kind. */
void cfg_walk_value(struct cfg_ctx *px, const struct cfg_key *k, const char *path,
                    const struct sg_cfg_node *n, void *base);

/* ---- rules between keys (check.c) ---- */

/* Every rule that ties keys together, on a filled cfg; positions from root. */
void cfg_cross_checks(struct cfg_ctx *px, const struct sg_config *cfg,
                      const struct sg_cfg_node *root);

/* The address rules (check_addr.c): ports' gateways and the backend source pool. */
void cfg_check_addresses(struct cfg_ctx *px, const struct sg_config *cfg,
                         const struct sg_cfg_node *root);

/*
 * The handshake section's rules (check_hs.c): its CPUs (online, not a
 * worker's), in_flight against the engines and memory.
 */
void cfg_check_handshake(struct cfg_ctx *px, const struct sg_config *cfg,
                         const struct sg_cfg_node *root);

/* The store section's rules (store_keys.c): its paths apart from the credential store's. */
void cfg_check_store(struct cfg_ctx *px, const struct sg_config *cfg,
                     const struct sg_cfg_node *root);

/*
 * The tls section's rules (check_tls.c): a key with a certificate or raw
 * public key, files that have a use, a client_auth some client can meet.
 */
void cfg_check_tls(struct cfg_ctx *px, const struct sg_config *cfg, const struct sg_cfg_node *root);

/*
 * A suite listed twice in p->suites: one error per repeat, `'PATH[i]': 'NAME'
 * listed twice`, at the item of list (the suites' node) it came from.
 */
void cfg_check_suites_twice(struct cfg_ctx *px, const struct sg_cfg_policy *p, const char *path,
                            const struct sg_cfg_node *list);

#endif /* STORMGATE_CONTROL_CONFIG_PRIV_H */
