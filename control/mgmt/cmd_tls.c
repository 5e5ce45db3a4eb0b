/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates and raw public keys (docs/control.md, "tls", "Raw public
 * keys and certificate policies"): `tls` (what is loaded: subject, expiry,
 * curve, the signing pool, the verified-chain cache, the tls.* settings, the
 * store's raw public keys and policies), `tls.reload` (cert, key, CA, CRL
 * again from their files, all or nothing), and the raw public keys of the
 * credential store one at a time: `rpk.add`, `rpk.remove`, `rpk.list` (the
 * streamed imports are import.c's, kinds rpk and certpolicy).
 *
 * tls and tls.reload run on the gateway thread (the owner of struct
 * sg_hs_certs: a reload reads the files there, once); rpk.* on the
 * management thread, the credential store's writer, as credentials.*: a key
 * taken away (removed, moved to another identity, disabled) ends its
 * identity's sessions through revoke.c unless asked to keep them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>

#include "mgmt_priv.h"
#include "sg_log.h"

#define RPK_LIST_DEFAULT 100
#define RPK_LIST_MAX     1000

static void hex_of(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Exactly 2 * n hex digits into out: 0 or -EINVAL. */
static int hex_to(const char *s, uint8_t *out, size_t n)
{
	if (s == NULL || strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;

		if (v < 0)
			return -EINVAL;
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
	}
	return 0;
}

static void b64_of(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
		             (i + 2 < n ? in[i + 2] : 0);

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

static const char *curve_name(uint16_t curve)
{
	return curve == SG_TLS_GROUP_SECP384R1   ? "P-384"
	       : curve == SG_TLS_GROUP_SECP256R1 ? "P-256"
	                                         : "none";
}

static json_t *path_or_null(const char *p)
{
	return p[0] ? json_string(p) : json_null();
}

json_t *mgmt_tls_json(struct sg_mgmt *m)
{
	struct sg_gw_tls t;
	const struct sg_hs_certs_info *in = &t.info;

	sg_gateway_tls(m->gw, &t);
	return json_pack("{s:b, s:I, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	                 "enabled", t.enabled, "generation", (json_int_t)in->generation, "subject",
	                 in->subject, "not_after", (json_int_t)in->not_after, "curve",
	                 curve_name(in->curve), "pool_ready", (json_int_t)in->pool_ready,
	                 "pool_size", (json_int_t)in->pool_size, "pool_refilled",
	                 (json_int_t)t.refilled, "cache_entries", (json_int_t)in->cache_entries,
	                 "cache_hits", (json_int_t)in->cache_hits, "cache_misses",
	                 (json_int_t)in->cache_misses, "reloads", (json_int_t)t.reloads,
	                 "reload_failed", (json_int_t)t.reload_failed, "reloaded_at",
	                 (json_int_t)t.reloaded_at);
}

json_t *mgmt_cmd_tls(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_mgmt *m = ctx;
	const struct sg_cfg_tls *c = &sg_gateway_config(m->gw)->tls;
	uint64_t rpks = 0, policies = 0;
	json_t *r;

	if (json_object_size(args) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS, "tls takes no arguments");
	r = mgmt_tls_json(m);
	if (r == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	if (m->cred != NULL) {
		sg_cred_count_kind(m->cred, SG_CRED_KIND_RPK, &rpks);
		sg_cred_count_kind(m->cred, SG_CRED_KIND_CERTPOLICY, &policies);
	}
	json_object_set_new(r, "config",
	                    json_pack("{s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:b, s:b, s:I, s:I}",
	                              "cert", path_or_null(c->cert), "key", path_or_null(c->key),
	                              "rpk_key", path_or_null(c->rpk_key), "ca",
	                              path_or_null(c->ca), "crl", path_or_null(c->crl),
	                              "client_auth", sg_tls_client_auth_name(c->client_auth),
	                              "cert_identity", sg_tls_cert_identity_name(c->cert_identity),
	                              "rpk", c->rpk, "require_policy", c->require_policy,
	                              "sign_pool", (json_int_t)c->sign_pool, "verify_cache",
	                              (json_int_t)c->verify_cache));
	json_object_set_new(r, "store",
	                    json_pack("{s:I, s:I}", "raw_public_keys", (json_int_t)rpks,
	                              "cert_policies", (json_int_t)policies));
	return r;
}

json_t *mgmt_cmd_tls_reload(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_mgmt *m = ctx;
	char msg[256];
	int rc;

	if (json_object_size(args) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS, "tls.reload takes no arguments");
	rc = sg_gateway_tls_reload(m->gw, msg, sizeof(msg));
	if (rc == -ENOENT)
		return sg_ctl_fail(err, SG_CTL_ECONFLICT, "%s", msg);
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "%s; the loaded certificates stay", msg);
	return mgmt_tls_json(m);
}

/* A key's entry as JSON (never anything secret: there is none). */
static json_t *rpk_json(const struct sg_cred_rpk *r)
{
	char hash[2 * SG_CRED_SPKI_HASH_LEN + 1], spki[(SG_CRED_SPKI_MAX + 2) / 3 * 4 + 1];

	hex_of(r->spki_hash, sizeof(r->spki_hash), hash);
	b64_of(r->spki, r->spki_len, spki);
	return json_pack("{s:s%, s:s, s:s, s:I, s:I, s:s}", "identity", (const char *)r->identity,
	                 (size_t)r->identity_len, "spki_sha256", hash, "spki", spki, "key_lifetime",
	                 (json_int_t)r->key_lifetime, "backend", (json_int_t)r->backend, "state",
	                 (r->flags & SG_CRED_F_DISABLED) ? "disabled" : "enabled");
}

/* rpk.add's policy fields: key_lifetime, backend, state. 0, or -1 with err set. */
static int rpk_policy_args(json_t *args, struct sg_cred_rpk *r, struct sg_ctl_error *err)
{
	json_int_t lifetime = 0, backend = 0;
	json_t *st = json_object_get(args, "state");

	if (mgmt_arg_int(args, "key_lifetime", 0, 0, SG_CRED_LIFETIME_MAX, &lifetime, err) != 0 ||
	    mgmt_arg_int(args, "backend", 0, 0, UINT32_MAX, &backend, err) != 0)
		return -1;
	if (lifetime != 0 && lifetime < SG_CRED_LIFETIME_MIN) {
		sg_ctl_fail(err, SG_CTL_EARGS,
		            "\"key_lifetime\" must be 0 (the policy's) or %d..%d seconds",
		            SG_CRED_LIFETIME_MIN, SG_CRED_LIFETIME_MAX);
		return -1;
	}
	r->key_lifetime = (uint32_t)lifetime;
	r->backend = (uint32_t)backend;
	if (st != NULL) {
		const char *v = json_string_value(st);

		if (v != NULL && strcmp(v, "disabled") == 0) {
			r->flags = SG_CRED_F_DISABLED;
		} else if (v == NULL || strcmp(v, "enabled") != 0) {
			sg_ctl_fail(err, SG_CTL_EARGS,
			            "\"state\" must be \"enabled\" or \"disabled\"");
			return -1;
		}
	}
	return 0;
}

/* The SPKI of args' "spki" (base64 DER) into r, checked and hashed. 0 or -1 with err set. */
static int rpk_key_arg(json_t *args, struct sg_cred_rpk *r, struct sg_ctl_error *err)
{
	json_t *k = json_object_get(args, "spki");
	uint8_t buf[SG_CRED_SPKI_READ_MAX + 3];
	size_t n = json_string_length(k);
	char msg[160];
	ssize_t got;

	if (!json_is_string(k)) {
		sg_ctl_fail(err, SG_CTL_EARGS,
		            "\"spki\" (the SubjectPublicKeyInfo DER in base64) is required");
		return -1;
	}
	got = n / 4 * 3 <= sizeof(buf) ? mgmt_b64_decode(json_string_value(k), n, buf) : -EINVAL;
	if (got <= 0) {
		sg_ctl_fail(err, SG_CTL_EARGS, "\"spki\" is not base64 of at most %d bytes",
		            SG_CRED_SPKI_READ_MAX);
		return -1;
	}
	if (sg_cred_spki_check(buf, (size_t)got, r->spki_hash, msg, sizeof(msg)) != 0) {
		sg_ctl_fail(err, SG_CTL_EARGS, "\"spki\": %s", msg);
		return -1;
	}
	memcpy(r->spki, buf, (size_t)got); /* an EC P-256 or P-384 key: it fits */
	r->spki_len = (uint32_t)got;
	return 0;
}

/* The start of every rpk.* that writes: an open store, no import holding it, known args. */
static int rpk_write_request(struct sg_mgmt *m, json_t *args, const char *const *names,
                             struct sg_ctl_error *err)
{
	if (m->cred == NULL) {
		mgmt_no_store(err);
		return -1;
	}
	if (m->import != NULL) {
		mgmt_import_busy(err);
		return -1;
	}
	return mgmt_args_known(args, names, err) != 0 ? -1 : 0;
}

/* The sessions of identity after its key went away: ended, or counted when keep. */
static json_t *rpk_sessions_after(struct sg_mgmt *m, const uint8_t *identity, size_t len, bool keep,
                                  json_t *r, struct sg_ctl_error *err)
{
	int rc = keep ? mgmt_keep_sessions(m, identity, len, r)
	              : mgmt_revoke_identity(m, identity, len, r);

	if (rc == 0)
		return r;
	json_decref(r);
	return sg_ctl_fail(err, SG_CTL_EFAILED,
	                   "the credential store changed, but the gateway thread has stopped: the "
	                   "identity's sessions end with it");
}

json_t *mgmt_cmd_rpk_add(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "identity",     "identity_hex",  "spki",
		                             "key_lifetime", "backend",       "state",
		                             "replace",      "keep_sessions", NULL };
	struct sg_mgmt *m = ctx;
	json_t *rp = json_object_get(args, "replace"),
	       *keep = json_object_get(args, "keep_sessions");
	struct sg_cred_rpk r, old;
	bool existed, revokes;
	int len, rc;
	json_t *res;

	memset(&r, 0, sizeof(r));
	if (rpk_write_request(m, args, names, err) != 0)
		return NULL;
	len = mgmt_arg_identity(args, r.identity, err);
	if (len == 0)
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"identity\" (or \"identity_hex\") is required");
	if (len < 0 || rpk_key_arg(args, &r, err) != 0 || rpk_policy_args(args, &r, err) != 0)
		return NULL;
	if ((rp != NULL && !json_is_boolean(rp)) || (keep != NULL && !json_is_boolean(keep)))
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"replace\" and \"keep_sessions\" must be true or false");
	r.identity_len = (uint32_t)len;
	existed = sg_cred_rpk_get(m->cred, r.spki_hash, &old) == 0;
	if (existed && !json_is_true(rp))
		return sg_ctl_fail(err, SG_CTL_ECONFLICT,
		                   "this key is in the store already, as '%.*s' (\"replace\": true "
		                   "to change it)",
		                   (int)old.identity_len, (const char *)old.identity);
	/* The key moves to another identity, or is disabled: the old identity loses it. */
	revokes =
	        existed && (old.identity_len != r.identity_len ||
	                    memcmp(old.identity, r.identity, r.identity_len) != 0 ||
	                    ((r.flags & SG_CRED_F_DISABLED) && !(old.flags & SG_CRED_F_DISABLED)));
	rc = sg_cred_rpk_put(m->cred, &r);
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	SG_LOG(CRED, INFO, "raw public key %s on the control socket (%d-byte identity)",
	       existed ? "replaced" : "added", len);
	res = rpk_json(&r);
	if (res == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	json_object_set_new(res, "added", json_boolean(!existed));
	json_object_set_new(res, "replaced", json_boolean(existed));
	if (!revokes)
		return res;
	return rpk_sessions_after(m, old.identity, old.identity_len, json_is_true(keep), res, err);
}

json_t *mgmt_cmd_rpk_remove(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "identity", "identity_hex", "spki_sha256",
		                             "keep_sessions", NULL };
	struct sg_mgmt *m = ctx;
	json_t *keep = json_object_get(args, "keep_sessions"),
	       *hash_arg = json_object_get(args, "spki_sha256"), *res;
	uint8_t ident[SG_CRED_IDENTITY_MAX], hash[SG_CRED_SPKI_HASH_LEN];
	unsigned removed = 0;
	int len, rc;

	if (rpk_write_request(m, args, names, err) != 0)
		return NULL;
	if (keep != NULL && !json_is_boolean(keep))
		return sg_ctl_fail(err, SG_CTL_EARGS, "\"keep_sessions\" must be true or false");
	len = mgmt_arg_identity(args, ident, err);
	if (len < 0)
		return NULL;
	if ((len > 0) == (hash_arg != NULL))
		return sg_ctl_fail(
		        err, SG_CTL_EARGS,
		        "one of \"identity\" (every key of it) or \"spki_sha256\" (one key, "
		        "64 hex digits) is required");
	if (hash_arg != NULL) {
		struct sg_cred_rpk r;

		if (hex_to(json_string_value(hash_arg), hash, sizeof(hash)) != 0)
			return sg_ctl_fail(err, SG_CTL_EARGS,
			                   "\"spki_sha256\" must be 64 hex digits");
		rc = sg_cred_rpk_get(m->cred, hash, &r);
		if (rc == 0)
			rc = sg_cred_rpk_delete(m->cred, hash);
		if (rc == 0) {
			removed = 1;
			len = (int)r.identity_len;
			memcpy(ident, r.identity, r.identity_len);
		}
	} else {
		rc = sg_cred_rpk_delete_identity(m->cred, ident, (size_t)len, &removed);
		if (rc == 0 && removed == 0)
			rc = -ENOENT;
	}
	if (rc == -ENOENT)
		return sg_ctl_fail(err, SG_CTL_ENOTFOUND, "no such raw public key");
	if (rc != 0)
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	SG_LOG(CRED, INFO, "%u raw public key%s removed on the control socket", removed,
	       removed == 1 ? "" : "s");
	res = json_pack("{s:I, s:s%}", "removed", (json_int_t)removed, "identity",
	                (const char *)ident, (size_t)len);
	if (res == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	return rpk_sessions_after(m, ident, (size_t)len, json_is_true(keep), res, err);
}

static int list_one(void *arg, const struct sg_cred_rpk *r)
{
	json_t *keys = arg;

	return json_array_append_new(keys, rpk_json(r)) == 0 ? 0 : -1;
}

json_t *mgmt_cmd_rpk_list(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "after", "limit", NULL };
	struct sg_mgmt *m = ctx;
	json_t *after = json_object_get(args, "after"), *keys, *next = NULL;
	uint8_t from[SG_CRED_SPKI_HASH_LEN];
	json_int_t limit;
	uint64_t count = 0;
	size_t n;
	int rc;

	if (m->cred == NULL)
		return mgmt_no_store(err);
	if (mgmt_args_known(args, names, err) != 0 ||
	    mgmt_arg_int(args, "limit", RPK_LIST_DEFAULT, 1, RPK_LIST_MAX, &limit, err) != 0)
		return NULL;
	if (after != NULL && hex_to(json_string_value(after), from, sizeof(from)) != 0)
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"after\" must be a key's spki_sha256 (64 hex digits)");
	keys = json_array();
	if (keys == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	rc = sg_cred_rpk_list(m->cred, after != NULL ? from : NULL, (unsigned)limit, list_one,
	                      keys);
	if (rc < 0) {
		json_decref(keys);
		return sg_ctl_fail(err, SG_CTL_EFAILED, "credential store: %s", strerror(-rc));
	}
	sg_cred_count_kind(m->cred, SG_CRED_KIND_RPK, &count);
	n = json_array_size(keys);
	if (n == (size_t)limit) /* maybe more: the last one's hash is where the next page starts */
		next = json_object_get(json_array_get(keys, n - 1), "spki_sha256");
	return json_pack("{s:o, s:I, s:O}", "keys", keys, "count", (json_int_t)count, "next",
	                 next != NULL ? next : json_null());
}
