/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway's certificate or raw public key, the client CA bundle and
 * CRLs (the `tls:` section; docs/config.md "tls"): the struct sg_hs_certs
 * loaded from the config at start, given to every engine (hs_glue.c puts it
 * in their struct sg_hs_config), reloaded by `stormctl tls reload`, and the
 * ECDSA signing pool refilled here, off the engines: each ServerKeyExchange
 * then costs the engine the cheap half of a signature (docs/certificates.md,
 * "Signing"). Gateway thread; writes struct gw_tls. The object outlives the
 * engines (freed after them).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw_priv.h"
#include "sg_log.h"

/*
 * A refill round every 2 ms of at most 32 nonces: one nonce is one
 * ECDSA_sign_setup() (a scalar multiplication, tens of µs), so a round is
 * about a millisecond of this thread at worst and up to 16000 nonces a
 * second, above what a storm of full ECDHE-ECDSA handshakes signs; when the
 * pool is full a round costs a lock and returns.
 */
#define TLS_REFILL_EVERY_NS 2000000ull
#define TLS_REFILL_BATCH    32u
#define TLS_EXPIRY_WARN_S   (14 * 86400) /* a certificate this close to its end is logged */

/* The loader's view of tls.* (paths point into gw->cfg, which outlives the call). */
static void certs_conf(const struct sg_cfg_tls *t, struct sg_hs_certs_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->cert_file = t->cert[0] ? t->cert : NULL;
	c->key_file = t->key[0] ? t->key : NULL;
	c->rpk_key_file = t->rpk_key[0] ? t->rpk_key : NULL;
	c->ca_file = t->ca[0] ? t->ca : NULL;
	c->crl_file = t->crl[0] ? t->crl : NULL;
	c->client_auth = t->client_auth == SG_TLS_CLIENT_AUTH_OPTIONAL ? SG_HS_CLIENT_AUTH_OPTIONAL
	                 : t->client_auth == SG_TLS_CLIENT_AUTH_NONE   ? SG_HS_CLIENT_AUTH_NONE
	                                                               : SG_HS_CLIENT_AUTH_REQUIRE;
	c->identity_from = t->cert_identity == SG_TLS_CERT_ID_SAN_URI ? SG_HS_CERT_ID_SAN_URI
	                                                              : SG_HS_CERT_ID_CN;
	c->rpk = t->rpk ? 1 : 0;
	c->require_policy = t->require_policy ? 1 : 0;
	c->sign_pool = t->sign_pool;
	c->verify_cache = t->verify_cache;
}

/* What the log says of a loaded set. */
static void log_loaded(struct sg_gateway *gw, const char *what)
{
	struct sg_hs_certs_info in;
	const struct sg_cfg_tls *t = &gw->cfg.tls;

	sg_hs_certs_info_get(gw->tls.certs, &in);
	SG_LOG(HS, INFO,
	       "tls %s: %s (%s), expires %lld, client auth %s, identity from %s, raw public "
	       "keys %s, CA %s, CRL %s, signing pool %u",
	       what, in.subject[0] ? in.subject : "raw public key only",
	       in.curve == SG_TLS_GROUP_SECP384R1 ? "P-384" : "P-256", (long long)in.not_after,
	       sg_tls_client_auth_name(t->client_auth), sg_tls_cert_identity_name(t->cert_identity),
	       t->rpk ? "on" : "off", t->ca[0] ? t->ca : "none", t->crl[0] ? t->crl : "none",
	       in.pool_size);
	/* Devices refuse an expired server certificate: say it while there is time to renew. */
	if (in.not_after != 0 && in.not_after < (int64_t)time(NULL) + TLS_EXPIRY_WARN_S)
		SG_LOG(HS, WARNING,
		       "tls: the certificate %s %lld (%s); renew it and `stormctl tls "
		       "reload`",
		       in.not_after < (int64_t)time(NULL) ? "expired at" : "expires at",
		       (long long)in.not_after, in.subject);
}

int gw_tls_create(struct sg_gateway *gw)
{
	struct sg_hs_certs_conf c;
	char err[256] = "";

	if (!sg_config_tls_enabled(&gw->cfg))
		return 0;
	certs_conf(&gw->cfg.tls, &c);
	gw->tls.certs = sg_hs_certs_create(&c, err, sizeof(err));
	if (gw->tls.certs == NULL) {
		int rc = errno ? -errno : -EINVAL;

		SG_LOG(HS, ERR, "tls: %s", err[0] ? err : strerror(-rc));
		return rc;
	}
	/* A first batch now: the first handshakes after start sign with it. */
	gw->tls.refilled += sg_hs_certs_refill(gw->tls.certs, TLS_REFILL_BATCH);
	log_loaded(gw, "loaded");
	return 0;
}

void gw_tls_destroy(struct sg_gateway *gw)
{
	sg_hs_certs_free(gw->tls.certs);
	gw->tls.certs = NULL;
}

void gw_tls_poll(struct sg_gateway *gw, uint64_t now_ns)
{
	if (gw->tls.certs == NULL || now_ns < gw->tls.refill_next_ns)
		return;
	gw->tls.refill_next_ns = now_ns + TLS_REFILL_EVERY_NS;
	gw->tls.refilled += sg_hs_certs_refill(gw->tls.certs, TLS_REFILL_BATCH);
}

void sg_gateway_tls(struct sg_gateway *gw, struct sg_gw_tls *t)
{
	memset(t, 0, sizeof(*t));
	t->enabled = gw->tls.certs != NULL;
	if (t->enabled)
		sg_hs_certs_info_get(gw->tls.certs, &t->info);
	t->refilled = gw->tls.refilled;
	t->reloads = gw->tls.reloads;
	t->reload_failed = gw->tls.reload_failed;
	t->reloaded_at = gw->tls.reloaded_at;
}

int sg_gateway_tls_reload(struct sg_gateway *gw, char *msg, size_t msg_len)
{
	struct sg_hs_certs_conf c;
	int rc;

	if (gw->tls.certs == NULL) {
		snprintf(msg, msg_len,
		         "no tls section (tls.cert or tls.rpk_key) at start: nothing to reload; "
		         "the ECDHE-ECDSA suites need a restart with one");
		return -ENOENT;
	}
	msg[0] = '\0';
	certs_conf(&gw->cfg.tls, &c);
	rc = sg_hs_certs_reload(gw->tls.certs, &c, msg, msg_len);
	if (rc != 0) {
		gw->tls.reload_failed++;
		SG_LOG(HS, WARNING, "tls reload refused, the loaded set stays: %s", msg);
		return rc;
	}
	gw->tls.reloads++;
	gw->tls.reloaded_at = (int64_t)time(NULL);
	gw->tls.refilled += sg_hs_certs_refill(gw->tls.certs, TLS_REFILL_BATCH);
	log_loaded(gw, "reloaded");
	return 0;
}
