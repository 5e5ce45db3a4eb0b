/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node tree a file format hands to the schema walk (sg_cfg_tree.h):
 * building and freeing nodes, and the lookups the walk and the cross-checks
 * use. Any thread; a tree belongs to whoever built it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_priv.h"

static struct sg_cfg_node *node_alloc(enum sg_cfg_node_type type, int line, int col)
{
	struct sg_cfg_node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->type = type;
	n->line = line;
	n->col = col;
	return n;
}

struct sg_cfg_node *sg_cfg_node_new(enum sg_cfg_node_type type, int line, int col)
{
	if (type != SG_CFG_MAP && type != SG_CFG_SEQ) {
		errno = EINVAL;
		return NULL;
	}
	return node_alloc(type, line, col);
}

struct sg_cfg_node *sg_cfg_scalar_new(const char *text, size_t len, bool plain, int line, int col)
{
	struct sg_cfg_node *n = node_alloc(SG_CFG_SCALAR, line, col);

	if (n == NULL)
		return NULL;
	n->plain = plain;
	n->text = strndup(text ? text : "", text ? len : 0);
	if (n->text == NULL) {
		free(n);
		errno = ENOMEM;
		return NULL;
	}
	n->len = strlen(n->text);
	return n;
}

int sg_cfg_node_add(struct sg_cfg_node *parent, struct sg_cfg_node *kid)
{
	if (parent->type == SG_CFG_SCALAR || kid == NULL)
		return -EINVAL;
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct sg_cfg_node **k = realloc(parent->kids, cap * sizeof(*k));
		if (k == NULL)
			return -ENOMEM;
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

void sg_cfg_node_free(struct sg_cfg_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		sg_cfg_node_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

int cfg_node_is_null(const struct sg_cfg_node *n)
{
	return n == NULL ||
	       (n->type == SG_CFG_SCALAR && n->plain &&
	        (n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	         strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0));
}

const struct sg_cfg_node *cfg_node_get(const struct sg_cfg_node *m, const char *name)
{
	if (m == NULL || m->type != SG_CFG_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->n; i += 2)
		if (m->kids[i]->type == SG_CFG_SCALAR && strcmp(m->kids[i]->text, name) == 0)
			return m->kids[i + 1];
	return NULL;
}

const struct sg_cfg_node *cfg_node_item(const struct sg_cfg_node *s, size_t i)
{
	return s != NULL && s->type == SG_CFG_SEQ && i < s->n ? s->kids[i] : NULL;
}

const char *cfg_node_type_name(const struct sg_cfg_node *n)
{
	if (cfg_node_is_null(n))
		return "nothing";
	return n->type == SG_CFG_MAP ? "a mapping" : n->type == SG_CFG_SEQ ? "a list" : "a scalar";
}
