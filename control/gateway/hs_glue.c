/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake plane (control/hsplane: the engines on threads sg-hs-<i>)
 * on the data plane: its set-up from the config (the engines' share of
 * in-flight handshakes and of the admission rate, the cookie secrets and
 * ticket keys they share, rotated here), the owner's side of it each poll
 * (the install of each completed handshake's session from the engines'
 * FIFOs, records of no session handed back, CIDs reserved ahead and taken
 * back), the revocation guard at install (PSKs; certificate and raw public
 * key sessions too), live policy, and the plane's counters and latency
 * quantiles; the certificates themselves are tls.c's. Gateway thread.
 * Writes struct gw_hs; inserts and replaces sessions in the table (ends go
 * through sess_end.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_random.h>

#include <openssl/rand.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/proxy_v2.h>
#include <stormgate/suite.h>

#include "gw_priv.h"
#include "sg_log.h"

struct sg_hs_time gw_hs_now(void)
{
	struct timespec r;

	uint64_t ns = sg_mono_ns();

	clock_gettime(CLOCK_REALTIME, &r);
	return (struct sg_hs_time){ .mono_ms = ns / 1000000,
		                    .unix_s = (uint64_t)r.tv_sec,
		                    .mono_us = ns / 1000 };
}

/*
 * Each session's lifetime is shortened by a random part of up to
 * key_lifetime_jitter percent, so devices that connected together (after a
 * restart, a storm) do not all re-handshake together when it ends. The
 * engine made expires from the credential's lifetime or the policy's.
 */
static uint64_t jittered(const struct sg_gateway *gw, uint64_t expires)
{
	uint64_t now = (uint64_t)time(NULL);
	uint64_t spread =
	        expires > now ? (expires - now) * gw->cfg.policy.key_lifetime_jitter / 100 : 0;

	return spread > 0 ? expires - rte_rand_max(spread + 1) : expires;
}

/* The tag the engine's lookup carried (cred_ref, backend); false when there is none. */
static bool cred_tag_of(const struct sg_hs_result *res, uint8_t tag[SG_SESSREG_TAG_LEN])
{
	sg_store_be32(tag, res->cred_ref);
	sg_store_be32(tag + 4, res->backend);
	return (res->cred_ref | res->backend) != 0;
}

/*
 * The revocation guard of a certificate or raw public key session (its
 * lookup came before a credential change): a raw public key must still be
 * in the store, enabled, under the same identity (found by the first 8
 * bytes of its hash, which the lookup carried as the tag); a certificate
 * identity's policy must not have been disabled, nor removed when
 * tls.require_policy wants one. An anonymous client has nothing to lose.
 */
static bool cert_still_holds(struct sg_gateway *gw, const struct sg_hs_result *res)
{
	uint8_t tag[SG_SESSREG_TAG_LEN];
	struct sg_cred_policy p;
	int rc;

	if (res->auth == SG_HS_AUTH_NONE)
		return true;
	if (gw->cred == NULL)
		return false;
	if (res->auth == SG_HS_AUTH_RPK)
		return cred_tag_of(res, tag) &&
		       sg_cred_rpk_holds(gw->cred, tag, res->identity, res->identity_len) == 1;
	rc = sg_cred_policy_get(gw->cred, res->identity, res->identity_len, &p);
	if (rc == 0)
		return !(p.flags & SG_CRED_F_DISABLED);
	return rc == -ENOENT && !gw->cfg.tls.require_policy;
}

/*
 * The revocation guard: the handshake looked its PSK up before a
 * credential changed (sg_hsplane_lookup_stale()). Does the identity's
 * credential still hold the key it used (the same tag, not disabled)? One
 * LMDB read, only for installs that raced a change.
 */
static bool cred_still_holds(struct sg_gateway *gw, const struct sg_hs_result *res)
{
	uint8_t was[SG_SESSREG_TAG_LEN], now[SG_STORE_CRED_TAG_LEN];
	struct sg_cred_entry e;
	bool same;

	if (res->auth != SG_HS_AUTH_PSK)
		return cert_still_holds(gw, res);
	if (gw->cred == NULL || !cred_tag_of(res, was) ||
	    sg_cred_get(gw->cred, res->identity, res->identity_len, &e) != 0)
		return false;
	sg_store_cred_tag(e.psk, e.psk_len, now);
	same = !(e.flags & SG_CRED_F_DISABLED) && memcmp(now, was, sizeof(was)) == 0;
	sg_wipe(&e, sizeof(e));
	sg_wipe(now, sizeof(now));
	return same;
}

/* The handshake server's peer as the session table's 4-tuple (the same fields). */
static void peer_tuple(const struct sg_hs_peer *p, struct sg_sess_tuple *t)
{
	memcpy(t->laddr, p->laddr, 16);
	memcpy(t->paddr, p->paddr, 16);
	t->lport = p->lport;
	t->pport = p->pport;
}

/* Did session id authenticate as this identity (the identity index says)? */
static bool same_identity(const struct sg_gateway *gw, uint64_t id, const uint8_t *identity,
                          size_t len)
{
	size_t have;
	const uint8_t *p = sg_sessreg_identity(gw->end.reg, id, &have);

	return p != NULL && have == len && memcmp(p, identity, len) == 0;
}

/* End the sessions of this identity whose peer is at this address and port now. */
static void end_same_peer(struct sg_gateway *gw, const uint8_t *identity, size_t len,
                          const struct sg_sess_tuple *t)
{
	uint64_t ids[16];
	size_t n;

	n = RTE_MIN(sg_sessreg_find(gw->end.reg, identity, len, ids, RTE_DIM(ids)), RTE_DIM(ids));
	for (size_t i = 0; i < n; i++) {
		struct sg_sess_info in;

		if (sg_sess_get(gw->ports.sessions, ids[i], &in) != 0 ||
		    memcmp(&in.tuple, t, sizeof(*t)) != 0)
			continue;
		gw_sess_end(gw, ids[i], GW_END_REPLACED, NULL);
	}
}

/*
 * Give session id its backend side (sg_dp_session_attach()). proxy mode: with
 * a fresh token, 64 bits from OpenSSL's DRBG (a CSPRNG; rte_rand is not one),
 * which every reply of the server must echo in its PROXY header, so nobody who
 * can only spoof the server's address reaches the device. Our copy is wiped;
 * the data plane keeps its own. 0 or -errno.
 */
_Static_assert((int)SG_HS_AUTH_PSK == (int)SG_PP2_AUTH_PSK &&
                       (int)SG_HS_AUTH_X509 == (int)SG_PP2_AUTH_X509 &&
                       (int)SG_HS_AUTH_RPK == (int)SG_PP2_AUTH_RPK &&
                       (int)SG_HS_AUTH_NONE == (int)SG_PP2_AUTH_NONE,
               "the PROXY v2 TLV carries enum sg_hs_auth as it is");

static int attach_backend(struct sg_gateway *gw, uint64_t id, uint8_t auth, const uint8_t *identity,
                          uint8_t id_len)
{
	uint8_t token[SG_PP2_TOKEN_LEN];
	int rc;

	if (gw->cfg.backend.mode != SG_BACKEND_PROXY)
		return sg_dp_session_attach(gw->ports.dp, id, identity, id_len, NULL);
	rc = RAND_bytes(token, sizeof(token)) == 1 ? 0 : -EIO;
	if (rc == 0) /* enum sg_hs_auth and enum sg_pp2_auth have the same values */
		rc = sg_dp_session_attach_as(gw->ports.dp, id, auth, identity, id_len, token);
	sg_wipe(token, sizeof(token));
	return rc;
}

/*
 * The device handshook again from the address of its session id: the new
 * keys take over now (RFC 6347 §4.2.8). The same device under the same
 * identity keeps its backend side: in udp mode its source port, so the
 * application's state for it (CoAP observations, LwM2M registration)
 * survives the re-key. Another identity is another peer to the backend.
 */
static int replace_session(struct sg_gateway *gw, uint64_t id, const struct sg_hs_result *res,
                           uint8_t id_len)
{
	bool same;
	int rc = sg_sess_replace(gw->ports.sessions, id, res->sa);

	if (rc != 0)
		return rc;
	/* The same name authenticated another way (a PSK, then a certificate) is another peer. */
	same = same_identity(gw, id, res->identity, res->identity_len) &&
	       sg_sessreg_auth(gw->end.reg, id) == res->auth;
	if (!same) {
		sg_dp_session_detach(gw->ports.dp, id);
		rc = attach_backend(gw, id, res->auth, res->identity, id_len);
		if (rc != 0) {
			/* The new keys must not reach the backend under the old identity. */
			gw_sess_end(gw, id, GW_END_UNINSTALLED, NULL);
			return rc;
		}
	}
	gw->hs.replaced_in_place++;
	/*
	 * Records under the previous keys stay welcome for rekey_grace only when
	 * they are the same identity's: another identity's would reach the
	 * backend under the new one's name.
	 */
	if (same)
		gw_retire_later(gw, id);
	else
		sg_sess_retire_prev(gw->ports.sessions, id);
	return rc;
}

/* The table's record of a completed handshake's session. */
static void session_new(const struct sg_hs_result *res, unsigned owner, struct sg_sess_new *s)
{
	memset(s, 0, sizeof(*s));
	s->sa = res->sa;
	peer_tuple(&res->peer, &s->tuple);
	s->flags = SG_SESS_F_TUPLE;
	s->owner = (uint16_t)owner;
	s->suite = res->suite;
	/* identity and backend stay 0: cred_ref and backend carry the credential tag */
	s->expires = (uint32_t)RTE_MIN(res->expires, (uint64_t)UINT32_MAX);
	s->last_rx = (uint32_t)time(NULL); /* idle from now until its first record */
	if (res->peer_cid_len) {
		s->peer_cid = res->peer_cid;
		s->peer_cid_len = res->peer_cid_len;
	}
}

int gw_hs_install(struct sg_gateway *gw, const struct sg_hs_result *res, unsigned owner)
{
	struct sg_sess_table *t = gw->ports.sessions;
	uint8_t id_len = (uint8_t)RTE_MIN(res->identity_len, (uint16_t)SG_PP2_IDENTITY_MAX);
	struct sg_sess_new s;
	uint64_t id;
	int rc;

	if (sg_hsplane_lookup_stale(gw->hs.plane, res) && !cred_still_holds(gw, res)) {
		/* Its key was taken away while it ran: no session from it (RFC 4279 §2). */
		gw->hs.install_revoked++;
		gw->hs.install_failed++;
		return -EKEYREVOKED;
	}
	session_new(res, owner, &s);
	s.expires = (uint32_t)RTE_MIN(jittered(gw, res->expires), (uint64_t)UINT32_MAX);
	if (res->cid_len) {
		/*
		 * The slot hs_cid_alloc() reserved when ServerHello named this
		 * CID. Records find the session by CID, so it is not in the
		 * 4-tuple index and its peer may move (RFC 9146 §6: the worker
		 * follows it). It has a slot of its own, so it cannot take an
		 * earlier session's place: the device's sessions at this address
		 * and port end here instead (RFC 6347 §4.2.8), their records in
		 * flight lost.
		 */
		s.cid = res->cid;
		s.flags = SG_SESS_F_CID;
		end_same_peer(gw, res->identity, res->identity_len, &s.tuple);
	}
	/*
	 * Never waits for the workers: the table's deferred frees grow instead
	 * (SG_SESS_P_DEFER_GROW). Only out of memory can refuse a replace
	 * (-EAGAIN): the handshake then fails cleanly (install_failed, the
	 * engine's internal_error alert, its keys wiped, our Finished never
	 * sent, so a retransmitted client Finished finds no handshake and no
	 * session) and the device handshakes again.
	 */
	rc = sg_sess_insert(t, &s, &id, NULL);
	/*
	 * The device's session at this address (-EEXIST) is re-keyed in place;
	 * so it is when the table is full (-ENOSPC is told before a duplicate):
	 * a re-handshake needs no slot, and a full table is what a storm of
	 * re-handshakes with lagging workers looks like.
	 */
	if ((rc == -EEXIST || rc == -ENOSPC) && sg_sess_find_tuple(t, &s.tuple, &id) == 0) {
		rc = replace_session(gw, id, res, id_len);
	} else if (rc == 0) {
		rc = attach_backend(gw, id, res->auth, res->identity, id_len);
		if (rc != 0)
			gw_sess_end(gw, id, GW_END_UNINSTALLED, NULL);
	}
	if (rc == 0) {
		uint8_t tag[SG_SESSREG_TAG_LEN];

		gw->hs.installed++;
		gw_sess_track(gw, id, res->identity, res->identity_len,
		              cred_tag_of(res, tag) ? tag : NULL, res->ems ? SG_STORE_F_EMS : 0);
		/* `sessions list` says how it authenticated (a PSK, the default, costs nothing) */
		if (sg_sessreg_set_auth(gw->end.reg, id, res->auth) != 0)
			SG_LOG(CTL, WARNING,
			       "session of a %u-byte identity: its kind of "
			       "authentication not kept (out of memory)",
			       res->identity_len);
		gw_store_put(gw, id);
	} else {
		gw->hs.install_failed++;
	}
	return rc;
}

/*
 * The plane's sink: a completed handshake's session (worker: the one that
 * punted the datagram completing it, which owns the session: the device's
 * flow reaches it).
 */
static int sink_install(void *ctx, const struct sg_hs_result *res, unsigned worker)
{
	return gw_hs_install(ctx, res, worker);
}

/*
 * A record punted because its device had no session, in order behind the
 * installs before it: in an abbreviated handshake (RFC 5077 §3.1) the
 * device sends its Finished and its first record back to back, and the
 * worker met the record before the session was installed. If the session
 * exists now (by its 4-tuple, or by its CID for a tls12_cid record, RFC
 * 9146), the worker that punted it takes it back. True when it took m.
 */
static bool sink_record(void *ctx, struct rte_mbuf *m, const struct sg_hs_peer *peer,
                        const uint8_t *payload, uint16_t len)
{
	struct sg_gateway *gw = ctx;
	const struct sg_dp_meta *meta = sg_dp_meta(gw->ports.dp, m);
	unsigned cid_len = sg_sess_cid_len(gw->ports.sessions);
	struct sg_sess_tuple t;
	uint64_t id;
	int rc;

	if (payload[0] == SG_DTLS_CT_TLS12_CID) {
		rc = cid_len > 0 && len >= SG_DTLS_HDR_OFF_CID + cid_len
		             ? sg_sess_find_cid(gw->ports.sessions, payload + SG_DTLS_HDR_OFF_CID,
		                                &id)
		             : -ENOENT;
	} else {
		peer_tuple(peer, &t);
		rc = sg_sess_find_tuple(gw->ports.sessions, &t, &id);
	}
	if (rc != 0 || sg_dp_ctl_reinject(gw->ports.dp, m, meta->worker) != 0)
		return false;
	gw->punt.reinjected++;
	return true;
}

/* A CID for an engine's cache: its session will take the slot (gw_hs_install()). */
static int sink_cid_reserve(void *ctx, uint8_t *cid)
{
	struct sg_gateway *gw = ctx;

	return sg_sess_cid_reserve(gw->ports.sessions, cid);
}

static void sink_cid_release(void *ctx, const uint8_t *cid)
{
	struct sg_gateway *gw = ctx;

	sg_sess_cid_release(gw->ports.sessions, cid);
}

static enum sg_hs_cookie_policy cookie_policy(uint32_t mode)
{
	return mode == SG_COOKIE_ALWAYS  ? SG_HS_COOKIE_ALWAYS
	       : mode == SG_COOKIE_NEVER ? SG_HS_COOKIE_NEVER
	                                 : SG_HS_COOKIE_UNDER_LOAD;
}

/* policy.handshake_rate and the per-source share, for the engines to split. */
static struct sg_hsplane_admission admission_of(const struct sg_cfg_policy *p)
{
	return (struct sg_hsplane_admission){
		.rate = p->handshake_rate,
		.source_share = p->handshake_source_share,
		.prefix4 = (uint8_t)p->handshake_source_prefix4,
		.prefix6 = (uint8_t)p->handshake_source_prefix6,
	};
}

/* Every engine's configuration from ours (max_handshakes and ops are the plane's). */
static void hs_config(struct sg_gateway *gw, struct sg_hs_config *hc)
{
	const struct sg_config *cfg = &gw->cfg;

	memset(hc, 0, sizeof(*hc));
	/*
	 * Final flights kept after completion: a storm completes thousands a
	 * second, and a device whose flight was lost asks again 1 s, 3 s, 7 s
	 * later; a ring of max_handshakes entries was overwritten before it did.
	 * Each engine keeps its share.
	 */
	hc->linger_entries = cfg->policy.linger_entries / RTE_MAX(cfg->handshake.threads, 1u);
	for (uint32_t i = 0; i < cfg->policy.n_suites && i < SG_HS_SUITES_MAX - 1; i++)
		hc->suites[i] = cfg->policy.suites[i];
	hc->cookie_policy = (uint8_t)cookie_policy(cfg->policy.cookie_mode);
	hc->cookie_threshold = cfg->policy.cookie_threshold / RTE_MAX(cfg->handshake.threads, 1u);
	hc->tickets = 1;
	hc->session_lifetime_s = (uint32_t)RTE_MIN(cfg->policy.key_lifetime, (uint64_t)UINT32_MAX);
	hc->handshake_timeout_ms =
	        (uint32_t)RTE_MIN(cfg->sessions.handshake_timeout * 1000, (uint64_t)UINT32_MAX);
	hc->replay_window = (uint16_t)sg_sess_replay_window(gw->ports.sessions);
	hc->secrets = gw->hs.secrets;
	hc->certs = gw->tls.certs; /* NULL without a tls section: no ECDHE-ECDSA suite */
	/* RFC 9146: offered to clients that ask, from the session table's scheme. */
	if (cfg->sessions.cid_length > 0)
		hc->cid_len = (uint8_t)sg_sess_cid_len(gw->ports.sessions);
}

int gw_hs_create(struct sg_gateway *gw)
{
	const struct sg_cfg_handshake *h = &gw->cfg.handshake;
	struct sg_hsplane_conf pc = { 0 };
	struct sg_hsplane_sink sink = {
		.ctx = gw,
		.install = sink_install,
		.record = sink_record,
		.cid_reserve = sink_cid_reserve,
		.cid_release = sink_cid_release,
	};
	int rc;

	gw->hs.secrets = sg_hs_secrets_create(0, 0);
	if (gw->hs.secrets == NULL) {
		SG_LOG(HS, ERR, "handshake secrets: %s", strerror(errno));
		return -errno;
	}
	rc = gw_tls_create(gw); /* before the engines: they take it with their config */
	if (rc != 0)
		return rc;
	pc.engines = RTE_MAX(h->threads, 1u);
	pc.cpus = h->cpus;
	pc.n_cpus = h->n_cpus;
	pc.burst = h->burst;
	pc.in_flight = sg_cfg_handshake_in_flight(&gw->cfg);
	pc.dp = gw->ports.dp;
	pc.tx_port = 0;
	pc.cred = gw->cred;
	pc.ecdhe_reuse_ms = h->ecdhe_reuse_ms;
	pc.ecdhe_reuse_storm_ms = h->ecdhe_reuse_storm_ms;
	pc.admission = admission_of(&gw->cfg.policy);
	hs_config(gw, &pc.hs);
	gw->hs.slots = pc.in_flight;
	gw->hs.lat = calloc((GW_LAT_WINDOW + 1) * pc.engines, sizeof(gw->hs.lat[0]));
	if (gw->hs.lat == NULL)
		return -ENOMEM;
	gw->hs.plane = sg_hsplane_create(&pc, &sink);
	if (gw->hs.plane == NULL) {
		SG_LOG(HS, ERR, "handshake plane: %s", strerror(errno));
		return -errno;
	}
	rc = sg_hsplane_start(gw->hs.plane);
	if (rc != 0) {
		SG_LOG(HS, ERR, "handshake threads: %s", strerror(-rc));
		return rc;
	}
	SG_LOG(HS, INFO,
	       "handshake plane: %u engine%s (sg-hs-0..%u), %u in flight at most, cookies %s",
	       pc.engines, pc.engines > 1 ? "s" : "", pc.engines - 1, pc.in_flight,
	       pc.hs.cookie_policy == SG_HS_COOKIE_ALWAYS  ? "always"
	       : pc.hs.cookie_policy == SG_HS_COOKIE_NEVER ? "never"
	                                                   : "under load");
	return 0;
}

void gw_hs_stop(struct sg_gateway *gw)
{
	sg_hsplane_stop(gw->hs.plane);
}

void gw_hs_destroy(struct sg_gateway *gw)
{
	sg_hsplane_destroy(gw->hs.plane);
	gw->hs.plane = NULL;
	sg_hs_secrets_free(gw->hs.secrets);
	gw->hs.secrets = NULL;
	gw_tls_destroy(gw); /* after the engines that held it */
	free(gw->hs.lat);
	gw->hs.lat = NULL;
}

/* Once a second: each engine's latency histogram into the ring of snapshots. */
static void latency_tick(struct sg_gateway *gw, uint64_t now_ns)
{
	struct gw_hs *h = &gw->hs;
	unsigned n = sg_hsplane_engines(h->plane);

	if (now_ns < h->lat_next_ns)
		return;
	h->lat_next_ns = now_ns + 1000000000ull;
	h->lat_head = (h->lat_head + 1) % (GW_LAT_WINDOW + 1);
	for (unsigned i = 0; i < n; i++) {
		struct sg_hsplane_engine_stats st;

		if (sg_hsplane_engine_stats(h->plane, i, &st) == 0)
			memcpy(h->lat[h->lat_head * n + i], st.hs.latency, sizeof(st.hs.latency));
	}
	if (h->lat_n < GW_LAT_WINDOW + 1)
		h->lat_n++;
}

/*
 * Engine i's completions of the last 10 s into win (added): its histogram
 * now less the snapshot of 10 s ago (or the oldest kept; none yet: now).
 */
static void latency_window(const struct gw_hs *h, unsigned i, unsigned n,
                           const uint64_t now[SG_HS_LAT_BUCKETS], uint64_t win[SG_HS_LAT_BUCKETS])
{
	unsigned back = RTE_MIN(h->lat_n ? h->lat_n - 1 : 0, (unsigned)GW_LAT_WINDOW);
	const uint64_t *old =
	        h->lat[((h->lat_head + GW_LAT_WINDOW + 1 - back) % (GW_LAT_WINDOW + 1)) * n + i];

	for (unsigned b = 0; b < SG_HS_LAT_BUCKETS; b++)
		win[b] += h->lat_n > 1 && now[b] >= old[b] ? now[b] - old[b]
		          : h->lat_n > 1                   ? 0
		                                           : now[b];
}

void gw_hs_poll(struct sg_gateway *gw)
{
	struct sg_hs_time now = gw_hs_now();
	uint64_t now_ns = sg_mono_ns();

	sg_hs_secrets_tick(gw->hs.secrets, now);
	sg_hsplane_cred_set(gw->hs.plane, gw->cred);
	sg_hsplane_poll(gw->hs.plane);
	latency_tick(gw, now_ns);
	gw_tls_poll(gw, now_ns); /* the signing pool, off the engines */
}

void gw_hs_finished_again(struct sg_gateway *gw, const struct sg_hs_peer *peer)
{
	sg_hsplane_finished_again(gw->hs.plane, peer);
}

int gw_hs_policy(struct sg_gateway *gw, const struct sg_cfg_policy *p)
{
	unsigned n = sg_hsplane_engines(gw->hs.plane);
	struct sg_hsplane_admission adm = admission_of(p);
	struct sg_hs_policy hp;
	unsigned i = 0;

	memset(&hp, 0, sizeof(hp));
	for (uint32_t k = 0; k < p->n_suites && k < SG_HS_SUITES_MAX - 1; k++)
		hp.suites[k] = p->suites[k];
	hp.cookie_policy = (uint8_t)cookie_policy(p->cookie_mode);
	hp.cookie_threshold = p->cookie_threshold / n;
	if (p->cookie_threshold != 0 && hp.cookie_threshold == 0)
		hp.cookie_threshold = 1;
	hp.session_lifetime_s = (uint32_t)RTE_MIN(p->key_lifetime, (uint64_t)UINT32_MAX);
	/* What the engines would refuse, refused here (they apply it later, on their threads). */
	for (; i < SG_HS_SUITES_MAX && hp.suites[i] != 0; i++) {
		const struct sg_suite *su = sg_suite_find(hp.suites[i]);

		if (su == NULL || su->rank == 0)
			return -EINVAL;
	}
	if (hp.cookie_policy > SG_HS_COOKIE_NEVER)
		return -EINVAL;
	sg_hsplane_policy(gw->hs.plane, &hp, &adm);
	return 0;
}

void gw_hs_taken(struct sg_gateway *gw, uint64_t taken[SG_DP_PUNT_MAX])
{
	for (unsigned i = 0; i < sg_hsplane_engines(gw->hs.plane); i++) {
		struct sg_hsplane_engine_stats st;

		if (sg_hsplane_engine_stats(gw->hs.plane, i, &st) != 0)
			continue;
		taken[SG_DP_PUNT_HANDSHAKE] += st.taken[0];
		taken[SG_DP_PUNT_UNKNOWN] += st.taken[1];
	}
}

void gw_hs_counters(struct sg_gateway *gw, struct sg_hs_stats *hs, struct sg_gw_hsplane *v)
{
	unsigned n = sg_hsplane_engines(gw->hs.plane);
	uint64_t win_all[SG_HS_LAT_BUCKETS] = { 0 };
	struct sg_hsplane_totals t;

	memset(hs, 0, sizeof(*hs));
	if (v != NULL)
		memset(v, 0, sizeof(*v));
	for (unsigned i = 0; i < n; i++) {
		struct sg_hsplane_engine_stats st;

		if (sg_hsplane_engine_stats(gw->hs.plane, i, &st) != 0)
			continue;
		for (unsigned c = 0; c < SG_HS_C_MAX; c++)
			hs->c[c] += st.hs.c[c];
		for (unsigned b = 0; b < SG_HS_LAT_BUCKETS; b++)
			hs->latency[b] += st.hs.latency[b];
		hs->in_flight += st.hs.in_flight;
		hs->lingering += st.hs.lingering;
		hs->max_handshakes += st.hs.max_handshakes;
		if (v == NULL || i >= SG_GW_ENGINES_MAX)
			continue;
		v->engine[i].in_flight = st.hs.in_flight;
		v->engine[i].limit = st.hs.max_handshakes;
		v->engine[i].completed =
		        st.hs.c[SG_HS_C_COMPLETED_FULL] + st.hs.c[SG_HS_C_COMPLETED_RESUMED];
		v->engine[i].queue_full = sg_dp_hs_queue_full(gw->ports.dp, i);
		v->engine[i].fifo_full = st.fifo_full;
		v->ecdhe_reuse_on += st.ecdhe_reusing;
		{
			uint64_t win[SG_HS_LAT_BUCKETS] = { 0 };

			latency_window(&gw->hs, i, n, st.hs.latency, win);
			v->engine[i].p50_us = sg_hs_latency_quantile(win, 0.5);
			v->engine[i].p99_us = sg_hs_latency_quantile(win, 0.99);
			for (unsigned b = 0; b < SG_HS_LAT_BUCKETS; b++)
				win_all[b] += win[b];
		}
	}
	if (v == NULL)
		return;
	v->engines = RTE_MIN(n, (unsigned)SG_GW_ENGINES_MAX);
	v->in_flight = hs->in_flight;
	v->limit = hs->max_handshakes;
	memcpy(v->latency, hs->latency, sizeof(v->latency));
	v->p50_us_all = sg_hs_latency_quantile(hs->latency, 0.5);
	v->p99_us_all = sg_hs_latency_quantile(hs->latency, 0.99);
	/* The last 10 s of every engine. */
	v->p50_us = sg_hs_latency_quantile(win_all, 0.5);
	v->p99_us = sg_hs_latency_quantile(win_all, 0.99);
	sg_hsplane_totals(gw->hs.plane, &t);
	v->install_revoked = gw->hs.install_revoked;
	v->unknown_dropped = t.unknown_dropped;
}

void gw_hs_admission(struct sg_gateway *gw, struct sg_gw_admission *a)
{
	const struct sg_cfg_policy *p = &gw->cfg.policy;
	unsigned n = sg_hsplane_engines(gw->hs.plane);
	struct sg_hs_stats hs;

	memset(a, 0, sizeof(*a));
	gw_hs_counters(gw, &hs, NULL);
	/* The plane's limiter as one: the policy's rate, every engine's counts. */
	a->admit.rate = p->handshake_rate;
	a->admit.share = p->handshake_source_share;
	a->admit.prefix4 = (uint8_t)p->handshake_source_prefix4;
	a->admit.prefix6 = (uint8_t)p->handshake_source_prefix6;
	for (unsigned i = 0; i < n; i++) {
		struct sg_hsplane_engine_stats st;

		if (sg_hsplane_engine_stats(gw->hs.plane, i, &st) != 0)
			continue;
		a->admit.admitted += st.admitted;
		a->admit.refused += st.refused;
		a->admit.refused_rate += st.refused_rate;
		a->admit.refused_source += st.refused_source;
		a->available += st.available;
	}
	a->in_flight = hs.in_flight;
	a->max_handshakes = gw->hs.slots;
	a->cookie_threshold =
	        p->cookie_threshold ? p->cookie_threshold : RTE_MAX(gw->hs.slots / 4, 1u);
	/* Would a ClientHello without a cookie get a HelloVerifyRequest now (RFC 6347 §4.2.1)? */
	a->cookies_required =
	        p->cookie_mode == SG_COOKIE_ALWAYS ||
	        (p->cookie_mode != SG_COOKIE_NEVER && hs.in_flight >= a->cookie_threshold);
}
