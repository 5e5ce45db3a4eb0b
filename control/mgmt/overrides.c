/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live policy overrides and their `key=value` text. See overrides.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overrides.h"

static int find(const struct mgmt_ovr *o, const char *key)
{
	for (unsigned i = 0; i < o->n; i++)
		if (strcmp(o->e[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* key and value (klen, vlen bytes, not NUL-terminated) into o, replacing key's value. */
static int put_n(struct mgmt_ovr *o, const char *key, size_t klen, const char *value, size_t vlen)
{
	char k[MGMT_OVR_KEY_MAX];
	int i;

	if (klen == 0 || klen >= MGMT_OVR_KEY_MAX || vlen >= MGMT_OVR_VALUE_MAX ||
	    memchr(key, '=', klen) != NULL || memchr(key, '\n', klen) != NULL ||
	    memchr(key, '\0', klen) != NULL || memchr(value, '\n', vlen) != NULL ||
	    memchr(value, '\0', vlen) != NULL)
		return -EINVAL;
	memcpy(k, key, klen);
	k[klen] = '\0';
	i = find(o, k);
	if (i < 0) {
		if (o->n == MGMT_OVR_MAX)
			return -ENOSPC;
		i = (int)o->n++;
		memcpy(o->e[i].key, k, klen + 1);
	}
	memcpy(o->e[i].value, value, vlen);
	o->e[i].value[vlen] = '\0';
	return 0;
}

int mgmt_ovr_load(struct mgmt_ovr *o, const char *text, size_t len)
{
	size_t off = 0;
	int rc = 0;

	o->n = 0;
	while (off < len && rc == 0) {
		const char *line = text + off, *nl = memchr(line, '\n', len - off), *eq;
		size_t n = nl != NULL ? (size_t)(nl - line) : len - off;

		off += n + (nl != NULL);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		eq = memchr(line, '=', n);
		if (eq == NULL)
			rc = -EINVAL;
		else
			rc = put_n(o, line, (size_t)(eq - line), eq + 1,
			           n - (size_t)(eq - line) - 1);
	}
	if (rc < 0) {
		o->n = 0;
		return rc;
	}
	return (int)o->n;
}

int mgmt_ovr_put(struct mgmt_ovr *o, const char *key, const char *value)
{
	return put_n(o, key, strlen(key), value, strlen(value));
}

bool mgmt_ovr_drop(struct mgmt_ovr *o, const char *key)
{
	int i = find(o, key);

	if (i < 0)
		return false;
	memmove(&o->e[i], &o->e[i + 1], (o->n - (unsigned)i - 1) * sizeof(o->e[0]));
	o->n--;
	return true;
}

const char *mgmt_ovr_get(const struct mgmt_ovr *o, const char *key)
{
	int i = find(o, key);

	return i < 0 ? NULL : o->e[i].value;
}

char *mgmt_ovr_text(const struct mgmt_ovr *o, size_t *len)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	if (f == NULL)
		return NULL;
	for (unsigned i = 0; i < o->n; i++)
		fprintf(f, "%s=%s\n", o->e[i].key, o->e[i].value);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	*len = n;
	return out;
}

json_t *mgmt_ovr_json(const struct mgmt_ovr *o)
{
	json_t *r = json_object();

	for (unsigned i = 0; r != NULL && i < o->n; i++)
		if (json_object_set_new(r, o->e[i].key, json_string(o->e[i].value)) != 0) {
			json_decref(r);
			return NULL;
		}
	return r;
}
