/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store section of the configuration: where the session store and its
 * key live when the file does not say (beside the credential store), and
 * the rule that ties them to the credential store's path. Any thread; no
 * state.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_priv.h"

/* base, or <dir of credentials.db>/name when base is empty. */
static int store_path(const struct sg_config *cfg, const char *base, const char *name, char *out,
                      size_t len)
{
	const char *db = cfg->credentials.db;
	const char *slash = strrchr(db, '/');
	size_t dir_len = slash != NULL ? (size_t)(slash - db) : 0;
	int n;

	if (base[0] != '\0')
		n = snprintf(out, len, "%s", base);
	else
		n = snprintf(out, len, "%.*s/%s", (int)dir_len, db, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int sg_config_store_paths(const struct sg_config *cfg, char *path, size_t path_len, char *key_file,
                          size_t key_len)
{
	int rc = store_path(cfg, cfg->store.path, "sessions", path, path_len);

	if (rc == 0)
		rc = store_path(cfg, cfg->store.key_file, "store.key", key_file, key_len);
	return rc;
}

/*
 * The session store is its own LMDB environment (docs/restart.md): it may
 * not be the credential store's directory, and its key file is neither.
 */
void cfg_check_store(struct cfg_ctx *px, const struct sg_config *cfg,
                     const struct sg_cfg_node *root)
{
	const struct sg_cfg_node *store = cfg_node_get(root, "store");
	const struct sg_cfg_node *pn = cfg_node_get(store, "path");
	const struct sg_cfg_node *kn = cfg_node_get(store, "key_file");
	char path[SG_CFG_STR_MAX], key[SG_CFG_STR_MAX];

	if (sg_config_store_paths(cfg, path, sizeof(path), key, sizeof(key)) != 0) {
		cfg_err_at(px, store ? store->line : 0, store ? store->col : 0,
		           "'store.path': the default beside 'credentials.db' is too long; set "
		           "'store.path' and 'store.key_file'");
		return;
	}
	if (strcmp(path, cfg->credentials.db) == 0)
		cfg_err_at(px, pn ? pn->line : 0, pn ? pn->col : 0,
		           "'store.path' is '%s', the credential store's directory: the session "
		           "store needs its own",
		           path);
	if (strcmp(key, path) == 0 || strcmp(key, cfg->credentials.db) == 0)
		cfg_err_at(px, kn ? kn->line : 0, kn ? kn->col : 0,
		           "'store.key_file' is '%s', a store's directory: the key is a file of "
		           "its own",
		           key);
}
