/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration's front door: defaults, a file or text or tree in,
 * struct sg_config and every error out. The work is done by the other files
 * of config/ (config_priv.h says who does what); this one holds them
 * together. Main lcore at start-up (and --check-config); any thread may
 * call it, there is no global state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_priv.h"

#define CFG_FILE_MAX (1u << 20) /* bytes; configs are a few KiB */

void sg_config_defaults(struct sg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg_apply_defaults(cfg_root_keys, cfg);
	cfg_suites_default(&cfg->policy);
}

/* The whole document: a mapping of the top-level keys, then the rules between them. */
static void from_tree(struct cfg_ctx *px, const struct sg_cfg_node *root, struct sg_config *cfg)
{
	if (root == NULL) {
		cfg_err_at(px, 1, 1, "missing required key 'ports'");
	} else if (root->type != SG_CFG_MAP) {
		if (!cfg_node_is_null(root))
			cfg_err_at(px, root->line, root->col,
			           "the configuration must be a mapping of keys, got %s",
			           cfg_node_type_name(root));
		else
			cfg_err_at(px, root->line, root->col, "missing required key 'ports'");
	} else {
		cfg_walk_map(px, cfg_root_keys, "", root, cfg);
		cfg_cross_checks(px, cfg, root);
		cfg_check_addresses(px, cfg, root);
	}
}

/*
 * Hand the errors of px to errs; cfg gets parsed when there were none.
 * rc: -ENOMEM when building the tree ran out of memory.
 */
static int finish(struct cfg_ctx *px, int rc, const struct sg_config *parsed, struct sg_config *cfg,
                  struct sg_cfg_errors *errs)
{
	if (rc == -ENOMEM || px->oom) {
		cfg_errs_finish(px, errs);
		return -ENOMEM;
	}
	rc = px->count ? -EINVAL : 0;
	if (cfg_errs_finish(px, errs) != 0)
		return -ENOMEM;
	if (rc == 0)
		*cfg = *parsed;
	return rc;
}

int sg_config_parse(struct sg_config *cfg, const char *name, const char *text, size_t len,
                    struct sg_cfg_errors *errs)
{
	struct cfg_ctx px = { .file = name };
	struct sg_cfg_node *root = NULL;
	struct sg_config parsed;
	int rc;

	*errs = (struct sg_cfg_errors){ 0 };
	sg_config_defaults(&parsed);
	rc = cfg_yaml_tree(&px, text, len, &root);
	if (rc == 0)
		from_tree(&px, root, &parsed);
	sg_cfg_node_free(root);
	return finish(&px, rc, &parsed, cfg, errs);
}

int sg_config_parse_tree(struct sg_config *cfg, const char *name, const struct sg_cfg_node *root,
                         struct sg_cfg_errors *errs)
{
	struct cfg_ctx px = { .file = name };
	struct sg_config parsed;

	*errs = (struct sg_cfg_errors){ 0 };
	sg_config_defaults(&parsed);
	from_tree(&px, root, &parsed);
	return finish(&px, 0, &parsed, cfg, errs);
}

/* The whole file into a NUL-terminated buffer (the caller frees *text). */
static int read_file(struct cfg_ctx *px, int fd, char **text, size_t *len)
{
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cfg_err_at(px, 0, 0, "not a regular file");
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > CFG_FILE_MAX) {
		cfg_err_at(px, 0, 0, "larger than %u bytes", CFG_FILE_MAX);
		return -EFBIG;
	}
	*text = malloc((size_t)st.st_size + 1);
	if (*text == NULL)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = n < 0 ? -errno : -EIO;

			cfg_err_at(px, 0, 0, "cannot read: %s", strerror(-rc));
			free(*text);
			*text = NULL;
			return rc;
		}
		got += (size_t)n;
	}
	(*text)[got] = '\0';
	*len = got;
	return 0;
}

int sg_config_load(struct sg_config *cfg, const char *path, struct sg_cfg_errors *errs)
{
	struct cfg_ctx px = { .file = path };
	char *text = NULL;
	size_t len = 0;
	int fd, rc;

	*errs = (struct sg_cfg_errors){ 0 };
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		cfg_err_at(&px, 0, 0, "cannot open: %s", strerror(-rc));
		goto fail;
	}
	rc = read_file(&px, fd, &text, &len);
	close(fd);
	if (rc != 0)
		goto fail;
	rc = sg_config_parse(cfg, path, text, len, errs);
	free(text);
	for (unsigned i = 0; rc == 0 && i < errs->n_warnings; i++)
		SG_LOG(CFG, WARNING, "%s", errs->warnings[i]);
	return rc;

fail:
	if (cfg_errs_finish(&px, errs) != 0)
		return -ENOMEM;
	return rc == -ENOMEM ? rc : -EINVAL;
}
