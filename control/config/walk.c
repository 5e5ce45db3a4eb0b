/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schema walk: a node tree through the schema tables (schema.c) into
 * the fields of struct sg_config, one error per wrong node, at its
 * line:column. Scalars are read by the value parsers (values.c, suites.c);
 * the messages are said here, so every key of a kind speaks alike. Rules
 * between keys are check.c's. Any thread; writes only the struct it is given.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config_priv.h"
#include "sg_cfg_values.h"

/* K_STR, K_PATH, K_NAME: copied when they fit and read right. */
static void scalar_string(struct cfg_ctx *px, const struct cfg_key *k, enum cfg_kind kind,
                          const char *path, const struct sg_cfg_node *n, void *p, size_t size)
{
	const char *s = n->text;

	if (n->len + 1 > size) {
		cfg_err_at(px, n->line, n->col, "'%s' is too long (%zu bytes, at most %zu)", path,
		           n->len, size - 1);
	} else if ((int64_t)n->len < k->min) {
		cfg_err_at(px, n->line, n->col, "'%s' must not be empty", path);
	} else if (kind == K_NAME && !sg_cfg_name_valid(s)) {
		cfg_err_at(px, n->line, n->col,
		           "'%s' must contain only letters, digits, '_', '-' and '.', got '%s'",
		           path, s);
	} else if (!sg_cfg_printable(s)) {
		cfg_err_at(px, n->line, n->col, "'%s' contains control characters", path);
	} else if (kind == K_PATH && s[0] != '/') {
		cfg_err_at(px, n->line, n->col, "'%s' must be an absolute path, got '%s'", path, s);
	} else {
		memcpy(p, s, n->len + 1);
	}
}

/* K_ENUM: one of the key's names, stored as its index. */
static void scalar_enum(struct cfg_ctx *px, const struct cfg_key *k, const char *path,
                        const struct sg_cfg_node *n, void *p, size_t size)
{
	int i = sg_cfg_enum_parse(k->names, n->text);
	char list[256];

	if (i >= 0) {
		cfg_store_uint(p, size, (uint64_t)i);
		return;
	}
	sg_cfg_names_list(k->names, list, sizeof(list));
	cfg_err_at(px, n->line, n->col, "'%s' must be one of: %s; got '%s'", path, list, n->text);
}

/* K_LEVEL: an rte_log level name, stored as RTE_LOG_*. */
static void scalar_level(struct cfg_ctx *px, const char *path, const struct sg_cfg_node *n, void *p,
                         size_t size)
{
	uint32_t l = sg_log_level_parse(n->text);

	if (l == 0)
		cfg_err_at(px, n->line, n->col,
		           "'%s' must be one of: emerg, alert, crit, error, warning, notice, "
		           "info, debug; got '%s'",
		           path, n->text);
	else
		cfg_store_uint(p, size, l);
}

/* K_PREFIX, K_ADDR, K_ENDPOINT: an address with a prefix length, alone or with a UDP port. */
static void scalar_address(struct cfg_ctx *px, enum cfg_kind kind, const char *path,
                           const struct sg_cfg_node *n, void *p)
{
	const bool prefix = kind == K_PREFIX;
	const char *s = n->text;
	int rc;

	if (kind == K_ADDR) {
		if (sg_cfg_addr_parse(s, p) != 0)
			cfg_err_at(
			        px, n->line, n->col,
			        "'%s' must be an IPv4 or IPv6 address (198.18.0.2, fd00:5347::2), "
			        "got '%s'",
			        path, s);
		return;
	}
	rc = prefix ? sg_cfg_prefix_parse(s, p) : sg_cfg_endpoint_parse(s, p);
	if (rc == -ERANGE)
		cfg_err_at(px, n->line, n->col, "'%s': %s out of range%s in '%s'", path,
		           prefix ? "prefix length" : "UDP port", prefix ? "" : " 1..65535", s);
	else if (rc != 0)
		cfg_err_at(px, n->line, n->col, "'%s' must be %s, got '%s'", path,
		           prefix ? "an address with prefix length (198.18.1.1/24, "
		                    "fd00:5347:1::1/64)"
		                  : "ADDRESS:PORT (198.18.2.10:5683, [fd00:5347:2::10]:5683)",
		           s);
}

/* K_LISTEN: an address to listen on, or "" / off for none. */
static void scalar_listen(struct cfg_ctx *px, const char *path, const struct sg_cfg_node *n,
                          struct sg_cfg_listen *l)
{
	int rc;

	if (n->text[0] == '\0' || strcmp(n->text, "off") == 0) {
		memset(l, 0, sizeof(*l));
		l->state = SG_CFG_LISTEN_OFF;
		return;
	}
	rc = sg_cfg_endpoint_parse(n->text, &l->addr);
	if (rc == 0) {
		l->state = SG_CFG_LISTEN_SET;
		return;
	}
	if (rc == -ERANGE) {
		cfg_err_at(px, n->line, n->col, "'%s': TCP port out of range 1..65535 in '%s'",
		           path, n->text);
		return;
	}
	cfg_err_at(px, n->line, n->col,
	           "'%s' must be ADDRESS:PORT (127.0.0.1:9464, \"[::1]:9464\"), or off; got '%s'",
	           path, n->text);
}

/* K_UINT, K_SIZE, K_DURATION(_MS), K_MODE: a number in the key's range (and step). */
static void scalar_number(struct cfg_ctx *px, const struct cfg_key *k, enum cfg_kind kind,
                          const char *path, const struct sg_cfg_node *n, void *p, size_t size)
{
	const char *s = n->text;
	uint64_t u = 0;
	int64_t v = 0;
	int rc;

	if (kind == K_UINT && !n->plain) {
		cfg_err_at(px, n->line, n->col, "'%s' must be an integer, got the string '%s'",
		           path, s);
		return;
	}
	if (kind == K_SIZE || kind == K_DURATION || kind == K_DURATION_MS) {
		rc = kind == K_SIZE       ? sg_size_parse(s, &u)
		     : kind == K_DURATION ? sg_duration_parse(s, &u)
		                          : sg_duration_ms_parse(s, &u);
		v = (int64_t)u;
	} else {
		rc = kind == K_MODE ? sg_cfg_mode_parse(s, &v) : sg_cfg_int_parse(s, &v);
	}
	if (rc == -EINVAL) {
		const char *what =
		        kind == K_SIZE          ? "a size in bytes (65536, 64K, 4G)"
		        : kind == K_DURATION    ? "a duration in seconds (90, 90s, 15m, 24h, 7d)"
		        : kind == K_DURATION_MS ? "a duration in milliseconds (250, 250ms, 2s)"
		        : kind == K_MODE        ? "octal permission bits (0660)"
		                                : "an integer";
		cfg_err_at(px, n->line, n->col, "'%s' must be %s, got '%s'", path, what, s);
		return;
	}
	if (rc == -ERANGE || v < k->min || v > k->max) {
		if (kind == K_MODE)
			cfg_err_at(px, n->line, n->col, "'%s' is %s, out of range 0..0777", path,
			           s);
		else
			cfg_err_at(px, n->line, n->col,
			           "'%s' is %s, out of range %" PRId64 "..%" PRId64 "%s", path, s,
			           k->min, k->max,
			           kind == K_SIZE          ? " bytes"
			           : kind == K_DURATION    ? " seconds"
			           : kind == K_DURATION_MS ? " ms"
			                                   : "");
		return;
	}
	if (k->step > 1 && v % k->step != 0) {
		cfg_err_at(px, n->line, n->col, "'%s' is %s, not a multiple of %" PRId64, path, s,
		           k->step);
		return;
	}
	cfg_store_uint(p, size, (uint64_t)v);
}

/* One scalar of kind `kind` at p (field of `size` bytes). Reports errors itself. */
static void walk_scalar(struct cfg_ctx *px, const struct cfg_key *k, enum cfg_kind kind,
                        const char *path, const struct sg_cfg_node *n, void *p, size_t size)
{
	if (cfg_node_is_null(n)) {
		cfg_err_at(px, n->line, n->col, "'%s' has no value", path);
		return;
	}
	if (n->type != SG_CFG_SCALAR) {
		cfg_err_at(px, n->line, n->col, "'%s' must be a scalar, got %s", path,
		           cfg_node_type_name(n));
		return;
	}
	switch (kind) {
	case K_STR:
	case K_PATH:
	case K_NAME:
		scalar_string(px, k, kind, path, n, p, size);
		return;
	case K_BOOL:
		if (!n->plain || sg_cfg_bool_parse(n->text, p) != 0)
			cfg_err_at(px, n->line, n->col, "'%s' must be true or false, got '%s'",
			           path, n->text);
		return;
	case K_ENUM:
		scalar_enum(px, k, path, n, p, size);
		return;
	case K_LEVEL:
		scalar_level(px, path, n, p, size);
		return;
	case K_PREFIX:
	case K_ADDR:
	case K_ENDPOINT:
		scalar_address(px, kind, path, n, p);
		return;
	case K_LISTEN:
		scalar_listen(px, path, n, p);
		return;
	case K_SUITE:
		if (cfg_suite_parse(n->text, p) != 0)
			cfg_err_at(px, n->line, n->col,
			           "'%s': unknown or unsupported cipher suite '%s' (see "
			           "docs/config.md)",
			           path, n->text);
		return;
	case K_UINT:
	case K_SIZE:
	case K_DURATION:
	case K_DURATION_MS:
	case K_MODE:
		scalar_number(px, k, kind, path, n, p, size);
		return;
	default:
		return;
	}
}

/* A K_LIST key: its items (at most max_items) and their count. */
static void walk_list(struct cfg_ctx *px, const struct cfg_key *k, const char *path,
                      const struct sg_cfg_node *n, void *base)
{
	uint32_t *count = (uint32_t *)((char *)base + k->count_off);
	char *p = (char *)base + k->off;

	*count = 0;
	if (cfg_node_is_null(n))
		return;
	if (n->type != SG_CFG_SEQ) {
		cfg_err_at(px, n->line, n->col, "'%s' must be a list, got %s", path,
		           cfg_node_type_name(n));
		return;
	}
	if (n->n > k->max_items)
		cfg_err_at(px, n->kids[k->max_items]->line, n->kids[k->max_items]->col,
		           "'%s' has %zu items, at most %u", path, n->n, k->max_items);
	for (size_t i = 0; i < n->n && i < k->max_items; i++) {
		const struct sg_cfg_node *item = n->kids[i];
		char ipath[CFG_PATH_LEN];
		void *ip = p + i * k->size;

		cfg_path_fmt(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (k->elem == K_MAP) {
			cfg_apply_defaults(k->sub, ip);
			if (item->type != SG_CFG_MAP) {
				cfg_err_at(px, item->line, item->col,
				           "'%s' must be a mapping, got %s", ipath,
				           cfg_node_type_name(item));
				continue;
			}
			cfg_walk_map(px, k->sub, ipath, item, ip);
		} else {
			walk_scalar(px, k, k->elem, ipath, item, ip, k->size);
		}
	}
	*count = (uint32_t)(n->n < k->max_items ? n->n : k->max_items);
}

void cfg_walk_value(struct cfg_ctx *px, const struct cfg_key *k, const char *path,
                    const struct sg_cfg_node *n, void *base)
{
	char *p = (char *)base + k->off;

	if (k->kind == K_MAP) {
		if (cfg_node_is_null(n))
			return; /* "log:" with nothing under it: all defaults */
		if (n->type != SG_CFG_MAP) {
			cfg_err_at(px, n->line, n->col, "'%s' must be a mapping, got %s", path,
			           cfg_node_type_name(n));
			return;
		}
		cfg_walk_map(px, k->sub, path, n, p);
	} else if (k->kind == K_LIST) {
		walk_list(px, k, path, n, base);
	} else {
		walk_scalar(px, k, k->kind, path, n, p, k->size);
	}
}

/* "a, b, c": the keys of one table, for "unknown key" messages. */
static void keys_known(const struct cfg_key *keys, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (const struct cfg_key *q = keys; q->name != NULL && off < len; q++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", q == keys ? "" : ", ",
		                        q->name);
}

void cfg_walk_map(struct cfg_ctx *px, const struct cfg_key *keys, const char *path,
                  const struct sg_cfg_node *n, void *base)
{
	const struct sg_cfg_node *seen[32] = { 0 };
	char kpath[CFG_PATH_LEN];

	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct sg_cfg_node *kn = n->kids[i], *vn = n->kids[i + 1];
		const struct cfg_key *k;
		size_t idx = 0;

		if (kn->type != SG_CFG_SCALAR) {
			cfg_err_at(px, kn->line, kn->col, "keys must be plain names, got %s",
			           cfg_node_type_name(kn));
			continue;
		}
		cfg_path_fmt(kpath, sizeof(kpath), "%s%s%s", path, path[0] ? "." : "", kn->text);
		for (k = keys; k->name != NULL; k++, idx++)
			if (strcmp(k->name, kn->text) == 0)
				break;
		if (k->name == NULL) {
			char known[256];

			keys_known(keys, known, sizeof(known));
			cfg_err_at(px, kn->line, kn->col, "unknown key '%s' (known here: %s)",
			           kpath, known);
			continue;
		}
		if (seen[idx] != NULL) {
			cfg_err_at(px, kn->line, kn->col, "duplicate key '%s' (first at line %d)",
			           kpath, seen[idx]->line);
			continue;
		}
		seen[idx] = kn;
		cfg_walk_value(px, k, kpath, vn, base);
	}
	size_t idx = 0;
	for (const struct cfg_key *k = keys; k->name != NULL; k++, idx++) {
		if (k->required && seen[idx] == NULL) {
			cfg_path_fmt(kpath, sizeof(kpath), "%s%s%s", path, path[0] ? "." : "",
			             k->name);
			cfg_err_at(px, n->line, n->col, "missing required key '%s'", kpath);
		}
	}
}
