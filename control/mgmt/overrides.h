/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live policy overrides (docs/control.md, "policy"; docs/restart.md):
 * the keys `policy set` changed over the configuration file, each with its
 * value as the file would spell it ("cookie_mode" -> "always", "suites" ->
 * "[TLS_PSK_WITH_AES_128_CCM_8]"), in the order they were first set. Their
 * text form, one `key=value` line each, is what the session store keeps and
 * what sg_config_apply_overrides() applies over the file at the next start.
 * Not thread-safe: the gateway thread's (the policy commands run there).
 */
#ifndef STORMGATE_CONTROL_OVERRIDES_H
#define STORMGATE_CONTROL_OVERRIDES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Live keys are few (sg_config_live_keys()); a value is at most a list of every suite. */
#define MGMT_OVR_MAX       24
#define MGMT_OVR_KEY_MAX   48
#define MGMT_OVR_VALUE_MAX 448 /* a line stays within sg_config_apply_overrides()'s 512 */

struct mgmt_ovr {
	unsigned n;
	struct {
		char key[MGMT_OVR_KEY_MAX];     /* without "policy." */
		char value[MGMT_OVR_VALUE_MAX]; /* one line, as the file spells it */
	} e[MGMT_OVR_MAX];
};

/* An empty set needs no set-up: a zeroed struct is one. */

/*
 * Replace o with the overrides of text (len bytes, `key=value` lines;
 * empty lines skipped; a later line of a key replaces its value). Keys and
 * values are kept as they are: the caller applied the same text with
 * sg_config_apply_overrides(), which checks them. Returns the number of
 * overrides, or -EINVAL (a line without '=', an empty key, a key or value
 * too long, a NUL) or -ENOSPC (too many); o is then empty.
 */
int mgmt_ovr_load(struct mgmt_ovr *o, const char *text, size_t len);

/* Set key to value (a new key goes last). 0, -EINVAL (empty, too long, '=' in key, newline),
 * -ENOSPC. */
int mgmt_ovr_put(struct mgmt_ovr *o, const char *key, const char *value);

/* Drop key: true when it was there. */
bool mgmt_ovr_drop(struct mgmt_ovr *o, const char *key);

/* The value of key, or NULL. */
const char *mgmt_ovr_get(const struct mgmt_ovr *o, const char *key);

/*
 * The text form (malloc'd, NUL-terminated, *len without the NUL; "" for
 * none), or NULL when out of memory.
 */
char *mgmt_ovr_text(const struct mgmt_ovr *o, size_t *len);

/* {"key": "value", ...} in order, or NULL when out of memory. */
json_t *mgmt_ovr_json(const struct mgmt_ovr *o);

#endif /* STORMGATE_CONTROL_OVERRIDES_H */
