/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration as a tree of nodes with 1-based line:column marks: what
 * a file format gives the schema walk. yaml.c builds it from YAML (the only
 * code that knows libfyaml); a later format, or a test, may build one with
 * these functions and hand it to sg_config_parse_tree(), which applies the
 * same schema, defaults, cross-checks and `file:line:column` errors as
 * sg_config_parse().
 *
 * A tree is plain heap memory owned by whoever built it. Any thread; no
 * global state.
 */
#ifndef STORMGATE_CONTROL_SG_CFG_TREE_H
#define STORMGATE_CONTROL_SG_CFG_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "sg_config.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sg_cfg_node_type {
	SG_CFG_SCALAR = 0,
	SG_CFG_MAP, /* kids: key0, value0, key1, value1, ... (keys are scalars) */
	SG_CFG_SEQ,
};

struct sg_cfg_node {
	enum sg_cfg_node_type type;
	int line, col; /* 1-based; where the node starts, for error lines */
	bool plain;    /* a plain (unquoted) scalar: only those are integers, booleans, null */
	char *text;    /* scalars: NUL-terminated */
	size_t len;    /* scalars: strlen(text) */
	struct sg_cfg_node **kids;
	size_t n, cap;
};

/* An empty mapping or sequence at line:col. NULL with errno EINVAL (type) or ENOMEM. */
struct sg_cfg_node *sg_cfg_node_new(enum sg_cfg_node_type type, int line, int col);

/*
 * A scalar holding a copy of text[0..len) at line:col; the copy ends at the
 * first NUL byte, if any (node->len then differs from len). NULL with errno
 * ENOMEM.
 */
struct sg_cfg_node *sg_cfg_scalar_new(const char *text, size_t len, bool plain, int line, int col);

/*
 * Append kid to a mapping or sequence, which then owns it. Returns 0,
 * -EINVAL (parent a scalar, kid NULL) or -ENOMEM; on error kid stays the
 * caller's.
 */
int sg_cfg_node_add(struct sg_cfg_node *parent, struct sg_cfg_node *kid);

/* Free a node and everything under it; NULL is a no-op. */
void sg_cfg_node_free(struct sg_cfg_node *n);

/*
 * Fill cfg from a tree, exactly as sg_config_parse() does from YAML text
 * (root NULL is an empty document). `name` is the file name of the error
 * lines; errs as for sg_config_parse(). Returns 0, -EINVAL (errors; cfg is
 * untouched) or -ENOMEM. The tree stays the caller's.
 */
int sg_config_parse_tree(struct sg_config *cfg, const char *name, const struct sg_cfg_node *root,
                         struct sg_cfg_errors *errs);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_CFG_TREE_H */
