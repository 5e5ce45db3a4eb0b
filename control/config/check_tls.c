/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tls section's rules (docs/config.md, "tls"), checked once every key is
 * read: a private key with a certificate or raw public key and only then,
 * CA and CRL files only where they have a use, a client_auth that some
 * client can meet. The files are not opened here: the gateway loads them at
 * start (sg_hs_certs_create()), and a bad file stops the start with its
 * name. Any thread; reads the config and the tree.
 */
#include <stdbool.h>

#include "config_priv.h"

bool sg_config_tls_enabled(const struct sg_config *cfg)
{
	return cfg->tls.cert[0] != '\0' || cfg->tls.rpk_key[0] != '\0';
}

/* An error at key name of the tls section (or at the section when the key is absent). */
static void tls_err(struct cfg_ctx *px, const struct sg_cfg_node *tls, const char *name,
                    const char *msg)
{
	const struct sg_cfg_node *n = cfg_node_get(tls, name);

	if (n == NULL)
		n = tls;
	cfg_err_at(px, n ? n->line : 0, n ? n->col : 0, "'tls.%s': %s", name, msg);
}

void cfg_check_tls(struct cfg_ctx *px, const struct sg_config *cfg, const struct sg_cfg_node *root)
{
	const struct sg_cfg_node *tls = cfg_node_get(root, "tls");
	const struct sg_cfg_tls *t = &cfg->tls;
	bool on = sg_config_tls_enabled(cfg);

	if (tls == NULL)
		return;
	if (on && t->key[0] == '\0')
		tls_err(px, tls, "key",
		        "missing: the private key of 'tls.cert' or 'tls.rpk_key' is required");
	if (!on) {
		/* Every other key only shapes what a certificate or raw public key does. */
		if (t->key[0] != '\0')
			tls_err(px, tls, "key",
			        "has no use without 'tls.cert' or 'tls.rpk_key' (set one: the "
			        "ECDHE-ECDSA suites need our certificate or raw public key)");
		if (t->ca[0] != '\0')
			tls_err(px, tls, "ca",
			        "has no use without 'tls.cert' or 'tls.rpk_key': client "
			        "certificates are asked for only in ECDHE-ECDSA handshakes");
		return;
	}
	if (t->cert[0] == '\0' && !t->rpk)
		tls_err(px, tls, "rpk",
		        "false with only 'tls.rpk_key': a raw public key is all we could offer");
	if (t->crl[0] != '\0' && t->ca[0] == '\0')
		tls_err(px, tls, "crl",
		        "has no use without 'tls.ca': CRLs revoke certificates of those CAs");
	if (t->client_auth == SG_TLS_CLIENT_AUTH_REQUIRE && t->ca[0] == '\0' && !t->rpk)
		tls_err(px, tls, "client_auth",
		        "'require' with neither 'tls.ca' nor 'tls.rpk: true': no client "
		        "could authenticate; set 'tls.ca', enable 'tls.rpk', or choose "
		        "'optional' or 'none'");
	if (t->client_auth == SG_TLS_CLIENT_AUTH_NONE && t->require_policy)
		tls_err(px, tls, "require_policy",
		        "has no use with 'tls.client_auth: none': no client identity to look up");
}
