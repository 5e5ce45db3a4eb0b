/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The errors of one parse: collected as they are found (every one, not just
 * the first), then sorted by position and formatted `file:line:column:
 * message` (1-based, as compilers print them) into struct sg_cfg_errors.
 * Any thread; the list is the caller's (struct cfg_ctx on its stack).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "config_priv.h"

void cfg_err_at(struct cfg_ctx *px, int line, int col, const char *fmt, ...)
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

int cfg_errs_finish(struct cfg_ctx *px, struct sg_cfg_errors *out)
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

const char *cfg_errs_first(const struct cfg_ctx *px)
{
	for (unsigned i = 0; i < px->n_errs; i++)
		if (px->errs[i].seq == 0)
			return px->errs[i].msg;
	return NULL;
}

void cfg_errs_drop(struct cfg_ctx *px)
{
	for (unsigned i = 0; i < px->n_errs; i++)
		free(px->errs[i].msg);
	free(px->errs);
	px->errs = NULL;
	px->n_errs = px->cap_errs = 0;
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
