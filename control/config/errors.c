/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The errors of one parse: collected as they are found (every one, not just
 * the first), then sorted by position and formatted `file:line:column:
 * message` (1-based, as compilers print them) into struct sg_cfg_errors;
 * its warnings beside them, `file:line:column: warning: message`.
 * Any thread; the list is the caller's (struct cfg_ctx on its stack).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "config_priv.h"

/* Append a message at line:col to the list *list (n, cap); 0, or -1 out of memory. */
static int list_add(struct cfg_err **list, unsigned *n, unsigned *cap, int line, int col,
                    const char *fmt, va_list ap)
{
	char *msg;

	if (*n == *cap) {
		unsigned c = *cap ? *cap * 2 : 16;
		struct cfg_err *e = realloc(*list, c * sizeof(*e));

		if (e == NULL)
			return -1;
		*list = e;
		*cap = c;
	}
	if (vasprintf(&msg, fmt, ap) < 0)
		return -1;
	(*list)[*n] = (struct cfg_err){ line, col, *n, msg };
	(*n)++;
	return 0;
}

void cfg_err_at(struct cfg_ctx *px, int line, int col, const char *fmt, ...)
{
	va_list ap;

	px->count++;
	if (px->n_errs >= SG_CFG_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	if (list_add(&px->errs, &px->n_errs, &px->cap_errs, line, col, fmt, ap) != 0)
		px->oom = 1;
	va_end(ap);
}

void cfg_warn_at(struct cfg_ctx *px, int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (px->n_warns >= SG_CFG_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	if (list_add(&px->warns, &px->n_warns, &px->cap_warns, line, col, fmt, ap) != 0)
		px->oom = 1;
	va_end(ap);
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

/*
 * Sort list by position and format it into *lines (n_out of them, room for
 * extra more), `file:line:column: <tag>message`; frees the list's messages.
 * Returns 0 or -ENOMEM.
 */
static int format_list(const char *file, struct cfg_err *list, unsigned n, unsigned extra,
                       const char *tag, char ***lines, unsigned *n_out)
{
	int rc = 0;

	if (n > 1)
		qsort(list, n, sizeof(*list), err_cmp);
	*lines = calloc(n + extra + 1, sizeof(char *));
	if (*lines == NULL)
		rc = -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		struct cfg_err *e = &list[i];
		char *l = NULL;
		int len;

		if (e->line > 0)
			len = asprintf(&l, "%s:%d:%d: %s%s", file, e->line, e->col, tag, e->msg);
		else
			len = asprintf(&l, "%s: %s%s", file, tag, e->msg);
		free(e->msg);
		if (len < 0 || *lines == NULL) {
			free(len < 0 ? NULL : l);
			rc = -ENOMEM;
			continue;
		}
		(*lines)[(*n_out)++] = l;
	}
	return rc;
}

int cfg_errs_finish(struct cfg_ctx *px, struct sg_cfg_errors *out)
{
	unsigned extra = px->count > px->n_errs ? 1 : 0;
	int rc = format_list(px->file, px->errs, px->n_errs, extra, "", &out->lines, &out->n_lines);

	if (extra && out->lines != NULL) {
		char *l = NULL;
		if (asprintf(&l, "%s: %u more errors not shown", px->file,
		             px->count - px->n_errs) >= 0)
			out->lines[out->n_lines++] = l;
	}
	if (format_list(px->file, px->warns, px->n_warns, 0, "warning: ", &out->warnings,
	                &out->n_warnings) != 0)
		rc = -ENOMEM;
	out->count = px->count;
	free(px->errs);
	free(px->warns);
	px->errs = px->warns = NULL;
	px->n_errs = px->cap_errs = px->n_warns = px->cap_warns = 0;
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
	for (unsigned i = 0; i < px->n_warns; i++)
		free(px->warns[i].msg);
	free(px->errs);
	free(px->warns);
	px->errs = px->warns = NULL;
	px->n_errs = px->cap_errs = px->n_warns = px->cap_warns = 0;
}

void sg_cfg_errors_free(struct sg_cfg_errors *errs)
{
	if (errs == NULL)
		return;
	for (unsigned i = 0; i < errs->n_lines; i++)
		free(errs->lines[i]);
	for (unsigned i = 0; i < errs->n_warnings; i++)
		free(errs->warnings[i]);
	free(errs->lines);
	free(errs->warnings);
	*errs = (struct sg_cfg_errors){ 0 };
}
