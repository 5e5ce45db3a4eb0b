/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live set: configuration keys changed in a running daemon (`stormctl
 * policy set`, control command policy.set). Which keys may change live, and
 * one key set at run time with the file's types, ranges and names, all or
 * nothing. The control thread calls it on a copy of the running config; no
 * state here, so any thread may.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/common.h>

#include "config_priv.h"

/*
 * Policy keys that `policy set` applies to the running daemon
 * (docs/config.md, "policy"); every other key is read at start-up only. The
 * gateway pushes them to the handshake engine and the admission limiter.
 */
static const char *const live_keys[] = {
	"policy.key_lifetime",
	"policy.key_lifetime_jitter",
	"policy.cookie_mode",
	"policy.cookie_threshold",
	"policy.suites",
	"policy.handshake_rate",
	"policy.handshake_source_share",
	"policy.handshake_source_prefix4",
	"policy.handshake_source_prefix6",
	"policy.rekey_grace",
	"policy.idle_timeout",
};

/*
 * The key at a dotted path and the offset in struct sg_config of the struct
 * that holds its field; NULL when there is none, or the path names a list
 * of mappings (not one value).
 */
static const struct cfg_key *key_find(const char *path, size_t *base_off)
{
	const struct cfg_key *keys = cfg_root_keys, *k = NULL;
	char part[CFG_PATH_LEN];
	size_t off = 0;

	while (*path != '\0') {
		size_t n = strcspn(path, ".");

		if (n == 0 || n >= sizeof(part) || keys == NULL)
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, part) == 0)
				break;
		if (k->name == NULL)
			return NULL;
		path += n;
		if (*path == '.') {
			path++;
			if (k->kind != K_MAP)
				return NULL;
			off += k->off;
			keys = k->sub;
		} else if (k->kind == K_MAP || (k->kind == K_LIST && k->elem == K_MAP)) {
			return NULL; /* a whole section or a list of mappings: not one value */
		}
	}
	*base_off = off;
	return k;
}

int sg_config_key_live(const char *path)
{
	size_t off;
	const struct cfg_key *k = key_find(path, &off);

	if (k == NULL || k->kind == K_MAP)
		return -ENOENT;
	for (size_t i = 0; i < SG_ARRAY_SIZE(live_keys); i++)
		if (strcmp(path, live_keys[i]) == 0)
			return 1;
	return 0;
}

void sg_config_live_keys(void (*fn)(const char *path, void *arg), void *arg)
{
	for (size_t i = 0; i < SG_ARRAY_SIZE(live_keys); i++)
		fn(live_keys[i], arg);
}

/* The rules the cross-checks apply to a file's suites: at least one, none twice. */
static void suites_check(struct cfg_ctx *px, const struct sg_cfg_policy *p, const char *path,
                         const struct sg_cfg_node *list)
{
	if (p->n_suites == 0)
		cfg_err_at(px, 0, 0, "'%s' must list at least one cipher suite", path);
	cfg_check_suites_twice(px, p, path, list);
}

int sg_config_set(struct sg_config *cfg, const char *path, const char *value, char *msg,
                  size_t msg_len)
{
	struct cfg_ctx px = { .file = path };
	struct sg_cfg_node *root = NULL;
	const struct cfg_key *k;
	struct sg_config *copy;
	size_t off;
	int rc;

	msg[0] = '\0';
	k = key_find(path, &off);
	if (k == NULL) {
		snprintf(msg, msg_len, "no configuration key '%s'", path);
		return -ENOENT;
	}
	copy = malloc(sizeof(*copy));
	if (copy == NULL)
		return -ENOMEM;
	*copy = *cfg;
	rc = cfg_yaml_tree(&px, value, strlen(value), &root);
	if (rc == 0 && root == NULL)
		cfg_err_at(&px, 1, 1, "'%s' has no value", path);
	else if (rc == 0)
		cfg_walk_value(&px, k, path, root, (char *)copy + off);
	if (px.count == 0 && k->kind == K_LIST && k->elem == K_SUITE)
		suites_check(&px, &copy->policy, path, root);
	sg_cfg_node_free(root);
	if (px.oom || rc == -ENOMEM) {
		rc = -ENOMEM;
	} else if (px.count > 0) {
		/* The first error, without a file position: the value is one line. */
		const char *first = cfg_errs_first(&px);

		if (first != NULL)
			snprintf(msg, msg_len, "%s", first);
		rc = -EINVAL;
	} else {
		*cfg = *copy;
		rc = 0;
	}
	cfg_errs_drop(&px);
	free(copy);
	return rc;
}
