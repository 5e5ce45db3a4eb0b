/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libfyaml adapter: one YAML document -> the tree of sg_cfg_tree.h,
 * each node with its 1-based line:column. The only file of config/ that
 * includes libfyaml; everything after it reads the tree.
 *
 * Why events rather than fy_document: libfyaml 0.7 exposes no start mark for
 * mapping and sequence nodes and gives empty values no token at all, so
 * errors such as "missing required key" could not point at a line. The event
 * stream has a mark for each of them, and lets us see duplicate keys,
 * aliases and extra documents ourselves and report them all.
 *
 * Any thread; the parser and its diagnostics live for one call.
 */
#include <errno.h>
#include <stdbool.h>

#include <libfyaml.h>

#include "config_priv.h"

#define CFG_DEPTH_MAX 32 /* our schema is 4 levels deep */

/* The tree being built from the event stream. */
struct yaml_build {
	struct cfg_ctx *px;
	struct sg_cfg_node *stack[CFG_DEPTH_MAX]; /* open mappings and sequences */
	struct sg_cfg_node *top;
	int depth, docs;
	int line, col; /* of the last event that had a mark */
};

/* A scalar node of a FYET_SCALAR event; NULL when out of memory. */
static struct sg_cfg_node *scalar_node(struct yaml_build *b, struct fy_event *ev)
{
	size_t tl = 0;
	const char *t = fy_token_get_text(ev->scalar.value, &tl);
	enum fy_scalar_style style = fy_token_scalar_style(ev->scalar.value);
	struct sg_cfg_node *n = sg_cfg_scalar_new(t, tl, style == FYSS_PLAIN, b->line, b->col);

	if (n == NULL)
		return NULL;
	/* Quoted scalars are marked past the opening quote: point at it. */
	if ((style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED) && n->col > 1)
		n->col--;
	if (n->len != tl)
		cfg_err_at(b->px, b->line, b->col, "NUL byte in a scalar");
	return n;
}

/* A mapping, sequence or scalar starts: attach it to the open node (or make it the root). */
static int node_event(struct yaml_build *b, struct fy_event *ev)
{
	struct sg_cfg_node *n;

	if (ev->type == FYET_SCALAR)
		n = scalar_node(b, ev);
	else
		n = sg_cfg_node_new(ev->type == FYET_MAPPING_START ? SG_CFG_MAP : SG_CFG_SEQ,
		                    b->line, b->col);
	if (n == NULL)
		return -ENOMEM;
	if (b->depth > 0 ? sg_cfg_node_add(b->stack[b->depth - 1], n) != 0 : b->top != NULL) {
		sg_cfg_node_free(n);
		return -ENOMEM;
	}
	if (b->depth == 0)
		b->top = n;
	if (n->type != SG_CFG_SCALAR) {
		if (b->depth == CFG_DEPTH_MAX) {
			cfg_err_at(b->px, b->line, b->col, "nested deeper than %d levels",
			           CFG_DEPTH_MAX);
			return -EINVAL;
		}
		b->stack[b->depth++] = n;
	}
	return 0;
}

static int one_event(struct yaml_build *b, struct fy_event *ev)
{
	const struct fy_mark *m = fy_event_start_mark(ev);

	/* Empty values carry no mark: they sit where the previous token ended. */
	if (m != NULL) {
		b->line = m->line + 1;
		b->col = m->column + 1;
	}
	switch (ev->type) {
	case FYET_DOCUMENT_START:
		if (++b->docs > 1) {
			cfg_err_at(b->px, b->line, b->col,
			           "a second YAML document: a configuration is one document");
			return -EINVAL;
		}
		return 0;
	case FYET_ALIAS:
		/* The mark is past the '*': point at the alias itself. */
		cfg_err_at(b->px, b->line, b->col > 1 ? b->col - 1 : b->col,
		           "YAML aliases are not supported");
		return -EINVAL;
	case FYET_MAPPING_START:
	case FYET_SEQUENCE_START:
	case FYET_SCALAR:
		return node_event(b, ev);
	case FYET_MAPPING_END:
	case FYET_SEQUENCE_END:
		if (b->depth > 0)
			b->depth--;
		return 0;
	default:
		return 0;
	}
}

/* libfyaml's own messages of a stream error, each at its position. */
static void syntax_errors(struct yaml_build *b, struct fy_diag *diag)
{
	void *it = NULL;
	struct fy_diag_error *de;
	unsigned n = 0;

	while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
		if (de->type < FYET_ERROR)
			continue;
		cfg_err_at(b->px, de->line > 0 ? de->line : 1, de->column > 0 ? de->column : 1,
		           "%s", de->msg);
		n++;
	}
	if (n == 0)
		cfg_err_at(b->px, b->line, b->col, "YAML syntax error");
}

int cfg_yaml_tree(struct cfg_ctx *px, const char *text, size_t len, struct sg_cfg_node **root)
{
	struct yaml_build b = { .px = px, .line = 1, .col = 1 };
	struct fy_diag_cfg dcfg;
	struct fy_diag *diag;
	struct fy_parser *fyp;
	struct fy_event *ev;
	int rc = 0;

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
		rc = one_event(&b, ev);
		fy_parser_event_free(fyp, ev);
	}
	if (rc == 0 && fy_parser_get_stream_error(fyp)) {
		syntax_errors(&b, diag);
		rc = -EINVAL;
	}
out:
	if (fyp != NULL)
		fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	if (rc != 0)
		sg_cfg_node_free(b.top);
	else
		*root = b.top;
	return rc;
}
