/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live policy overrides as the session store keeps them (docs/restart.md):
 * `key=value` lines, each a key of the live set without "policy.", applied
 * over a loaded configuration at start, all or nothing. Any thread; no
 * state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_priv.h"

#define OVR_LINE_MAX 512 /* "policy." + key + "=" + a flow list of every suite */

/* One line (no newline, NUL-terminated, may be changed) onto cfg. 0 or -errno, msg set. */
static int apply_line(struct sg_config *cfg, char *line, unsigned no, char *msg, size_t msg_len)
{
	char *eq = strchr(line, '=');
	char path[CFG_PATH_LEN], why[256];
	int n, rc;

	if (eq == NULL || eq == line) {
		snprintf(msg, msg_len, "line %u: '%s' is not key=value", no, line);
		return -EINVAL;
	}
	*eq = '\0';
	n = snprintf(path, sizeof(path), "policy.%s", line);
	if (n < 0 || (size_t)n >= sizeof(path) || sg_config_key_live(path) != 1) {
		snprintf(msg, msg_len, "line %u: '%s' is not a live policy key", no, line);
		return -EINVAL;
	}
	rc = sg_config_set(cfg, path, eq + 1, why, sizeof(why));
	if (rc == -ENOMEM)
		return rc;
	if (rc != 0) {
		snprintf(msg, msg_len, "line %u: %s", no, why);
		return -EINVAL;
	}
	return 0;
}

int sg_config_apply_overrides(struct sg_config *cfg, const char *text, size_t len, char *msg,
                              size_t msg_len)
{
	struct sg_config *copy = malloc(sizeof(*copy));
	char line[OVR_LINE_MAX];
	unsigned no = 0;
	int applied = 0, rc = 0;
	size_t i = 0;

	msg[0] = '\0';
	if (copy == NULL)
		return -ENOMEM;
	*copy = *cfg;
	while (i < len && rc == 0) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = (nl != NULL ? (size_t)(nl - text) : len) - i;

		no++;
		if (n >= sizeof(line) || memchr(text + i, '\0', n) != NULL) {
			snprintf(msg, msg_len, "line %u: too long or not text", no);
			rc = -EINVAL;
		} else if (n > 0) {
			memcpy(line, text + i, n);
			line[n] = '\0';
			rc = apply_line(copy, line, no, msg, msg_len);
			applied += rc == 0;
		}
		i += n + 1;
	}
	if (rc == 0)
		*cfg = *copy;
	free(copy);
	return rc != 0 ? rc : applied;
}
