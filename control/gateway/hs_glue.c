/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake server (control/handshake) on the data plane: its set-up
 * from the config, the callbacks it answers through (PSK lookup in the
 * credential store, sending through the data plane, CIDs from the session
 * table, storm admission) and the install of a completed handshake's
 * session. Gateway thread. Writes struct gw_hs; inserts and replaces
 * sessions in the table (ends go through sess_end.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_random.h>

#include <openssl/rand.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>
#include <stormgate/proxy_v2.h>

#include "gw_priv.h"
#include "sg_log.h"

struct sg_hs_time gw_hs_now(void)
{
	struct timespec r;

	clock_gettime(CLOCK_REALTIME, &r);
	return (struct sg_hs_time){ .mono_ms = sg_mono_ms(), .unix_s = (uint64_t)r.tv_sec };
}

/*
 * Each session's lifetime is shortened by a random part of up to
 * key_lifetime_jitter percent, so devices that connected together (after a
 * restart, a storm) do not all re-handshake together when it ends.
 */
static uint32_t key_lifetime(const struct sg_gateway *gw, uint32_t cred_lifetime)
{
	uint64_t base = cred_lifetime ? cred_lifetime : gw->cfg.policy.key_lifetime;
	uint64_t spread = base * gw->cfg.policy.key_lifetime_jitter / 100;

	if (spread > 0)
		base -= rte_rand_max(spread + 1);
	return (uint32_t)RTE_MIN(base, (uint64_t)UINT32_MAX);
}

/*
 * The session store keeps each session's credential tag (sg_store_cred_tag()
 * of the PSK it was made with), so a restore never brings back a session
 * whose key changed while the daemon was down. The PSK is at hand only
 * here: its tag rides through the engine to the install in the two opaque
 * words the engine hands back in the result (cred_ref, backend), which the
 * gateway does not otherwise use. No second lookup, no per-handshake state.
 */
static void cred_tag_carry(const uint8_t *psk, size_t len, struct sg_hs_cred *cred)
{
	uint8_t tag[SG_SESSREG_TAG_LEN];

	sg_store_cred_tag(psk, len, tag);
	cred->cred_ref = sg_load_be32(tag);
	cred->backend = sg_load_be32(tag + 4);
	sg_wipe(tag, sizeof(tag));
}

/* The tag cred_tag_carry() sent through the engine; false when there is none. */
static bool cred_tag_of(const struct sg_hs_result *res, uint8_t tag[SG_SESSREG_TAG_LEN])
{
	sg_store_be32(tag, res->cred_ref);
	sg_store_be32(tag + 4, res->backend);
	return (res->cred_ref | res->backend) != 0;
}

/* RFC 4279 §2: the PSK of an identity, from the LMDB store; a disabled one is refused. */
static int hs_psk_lookup(void *ctx, const uint8_t *identity, size_t identity_len,
                         const uint8_t *sni, size_t sni_len, struct sg_hs_cred *cred)
{
	struct sg_gateway *gw = ctx;
	struct sg_cred_entry e;
	int rc;

	(void)sni;
	(void)sni_len;
	if (gw->cred == NULL)
		return -EIO;
	rc = sg_cred_get(gw->cred, identity, identity_len, &e);
	if (rc == -EINVAL)
		return -ENOENT; /* not an identity we could store: unknown, no oracle */
	if (rc != 0)
		return rc == -ENOENT ? -ENOENT : -EIO;
	if ((e.flags & SG_CRED_F_DISABLED) || e.psk_len > sizeof(cred->psk)) {
		sg_wipe(&e, sizeof(e));
		return -EACCES;
	}
	memset(cred, 0, sizeof(*cred));
	memcpy(cred->psk, e.psk, e.psk_len);
	cred->psk_len = (uint16_t)e.psk_len;
	cred->lifetime_s = key_lifetime(gw, e.key_lifetime);
	if (gw->store.st != NULL)
		cred_tag_carry(e.psk, e.psk_len, cred);
	sg_wipe(&e, sizeof(e));
	return 0;
}

/* Handshake flights and alerts go out through the data plane (worker 0's TX queue). */
static int hs_send(void *ctx, const struct sg_hs_peer *p, const uint8_t *data, size_t len)
{
	struct sg_gateway *gw = ctx;
	int v4 = sg_ip6_is_v4_mapped(p->paddr);

	if (len > UINT16_MAX)
		return -EMSGSIZE;
	return sg_dp_ctl_send_udp(gw->ports.dp, 0, v4 ? 4 : 6, v4 ? p->laddr + 12 : p->laddr,
	                          rte_be_to_cpu_16(p->lport), v4 ? p->paddr + 12 : p->paddr,
	                          rte_be_to_cpu_16(p->pport), data, (uint16_t)len);
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
static int attach_backend(struct sg_gateway *gw, uint64_t id, const uint8_t *identity,
                          uint8_t id_len)
{
	uint8_t token[SG_PP2_TOKEN_LEN];
	int rc;

	if (gw->cfg.backend.mode != SG_BACKEND_PROXY)
		return sg_dp_session_attach(gw->ports.dp, id, identity, id_len, NULL);
	rc = RAND_bytes(token, sizeof(token)) == 1 ? 0 : -EIO;
	if (rc == 0)
		rc = sg_dp_session_attach(gw->ports.dp, id, identity, id_len, token);
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
	same = same_identity(gw, id, res->identity, res->identity_len);
	if (!same) {
		sg_dp_session_detach(gw->ports.dp, id);
		rc = attach_backend(gw, id, res->identity, id_len);
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

	session_new(res, owner, &s);
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
		rc = attach_backend(gw, id, res->identity, id_len);
		if (rc != 0)
			gw_sess_end(gw, id, GW_END_UNINSTALLED, NULL);
	}
	if (rc == 0) {
		uint8_t tag[SG_SESSREG_TAG_LEN];

		gw->hs.installed++;
		gw_sess_track(gw, id, res->identity, res->identity_len,
		              cred_tag_of(res, tag) ? tag : NULL, res->ems ? SG_STORE_F_EMS : 0);
		gw_store_put(gw, id);
	} else {
		gw->hs.install_failed++;
	}
	return rc;
}

/*
 * ops.install: a handshake completed. Its tag is the worker that punted the
 * datagram completing it (gw_hs_input()), which owns the session: the
 * device's flow reaches it.
 */
static int hs_install(void *ctx, const struct sg_hs_result *res)
{
	struct sg_gateway *gw = ctx;

	return gw_hs_install(gw, res, (unsigned)res->tag);
}

int gw_hs_input(struct sg_gateway *gw, unsigned worker, const struct sg_hs_peer *peer,
                const uint8_t *dgram, uint16_t len)
{
	return sg_hs_input(gw->hs.engine, gw_hs_now(), peer, dgram, len, worker);
}

void gw_hs_tick(struct sg_gateway *gw)
{
	struct sg_hs_time t = gw_hs_now();

	if (t.mono_ms >= sg_hs_next_deadline(gw->hs.engine))
		sg_hs_tick(gw->hs.engine, t);
}

/* A CID for a handshake's ServerHello: its session will take the slot (gw_hs_install()). */
static int hs_cid_alloc(void *ctx, const struct sg_hs_peer *peer, uint8_t *cid)
{
	struct sg_gateway *gw = ctx;

	(void)peer;
	return sg_sess_cid_reserve(gw->ports.sessions, cid);
}

static void hs_cid_release(void *ctx, const uint8_t *cid)
{
	struct sg_gateway *gw = ctx;

	sg_sess_cid_release(gw->ports.sessions, cid);
}

/*
 * Storm admission of one new handshake from peer, asked by the engine once
 * the hello's cookie verified, a slot about to be taken (sg_admit.h): 0
 * admit, -EBUSY refuse.
 */
static int hs_admit(void *ctx, const struct sg_hs_peer *peer)
{
	struct sg_gateway *gw = ctx;

	return sg_admit_take_from(&gw->hs.admit, peer->paddr, sg_mono_ns()) == SG_ADMIT_OK ? 0
	                                                                                   : -EBUSY;
}

/* policy.handshake_rate and the per-source share to the limiter; buckets refilled. */
static void admission_apply(struct sg_gateway *gw, const struct sg_cfg_policy *p)
{
	sg_admit_set_rate(&gw->hs.admit, p->handshake_rate, sg_mono_ns());
	/* The config checked the ranges; the limiter checks them again. */
	if (sg_admit_set_sources(&gw->hs.admit, p->handshake_source_share,
	                         (uint8_t)p->handshake_source_prefix4,
	                         (uint8_t)p->handshake_source_prefix6) != 0)
		SG_LOG(CTL, ERR, "per-source admission: share or prefix out of range");
}

static enum sg_hs_cookie_policy cookie_policy(uint32_t mode)
{
	return mode == SG_COOKIE_ALWAYS  ? SG_HS_COOKIE_ALWAYS
	       : mode == SG_COOKIE_NEVER ? SG_HS_COOKIE_NEVER
	                                 : SG_HS_COOKIE_UNDER_LOAD;
}

/* The engine's configuration from ours. */
static void hs_config(struct sg_gateway *gw, struct sg_hs_config *hc)
{
	const struct sg_config *cfg = &gw->cfg;

	memset(hc, 0, sizeof(*hc));
	/* In-flight handshakes: four times the load at which cookies start. */
	hc->max_handshakes = RTE_MAX(1024u, cfg->policy.cookie_threshold * 4);
	/*
	 * Final flights kept after completion: a storm completes thousands a
	 * second, and a device whose flight was lost asks again 1 s, 3 s, 7 s
	 * later; a ring of max_handshakes entries was overwritten before it did.
	 */
	hc->linger_entries = cfg->policy.linger_entries;
	for (uint32_t i = 0; i < cfg->policy.n_suites && i < SG_HS_SUITES_MAX - 1; i++)
		hc->suites[i] = cfg->policy.suites[i];
	hc->cookie_policy = (uint8_t)cookie_policy(cfg->policy.cookie_mode);
	hc->cookie_threshold = cfg->policy.cookie_threshold;
	hc->tickets = 1;
	hc->session_lifetime_s = (uint32_t)RTE_MIN(cfg->policy.key_lifetime, (uint64_t)UINT32_MAX);
	hc->handshake_timeout_ms =
	        (uint32_t)RTE_MIN(cfg->sessions.handshake_timeout * 1000, (uint64_t)UINT32_MAX);
	hc->replay_window = (uint16_t)sg_sess_replay_window(gw->ports.sessions);
	hc->ops = (struct sg_hs_ops){
		.ctx = gw,
		.psk_lookup = hs_psk_lookup,
		.send = hs_send,
		.install = hs_install,
		.admit = hs_admit,
	};
	if (cfg->sessions.cid_length > 0) {
		/* RFC 9146: offered to clients that ask, from the session table's scheme. */
		hc->cid_len = (uint8_t)sg_sess_cid_len(gw->ports.sessions);
		hc->ops.cid_alloc = hs_cid_alloc;
		hc->ops.cid_release = hs_cid_release;
	}
}

int gw_hs_create(struct sg_gateway *gw)
{
	struct sg_hs_config hc;

	hs_config(gw, &hc);
	gw->hs.slots = hc.max_handshakes;
	gw->hs.engine = sg_hs_engine_create(&hc);
	if (gw->hs.engine == NULL) {
		SG_LOG(HS, ERR, "handshake server: %s", strerror(errno));
		return -errno;
	}
	SG_LOG(HS, INFO, "handshake server: %u in flight at most, cookies %s", hc.max_handshakes,
	       hc.cookie_policy == SG_HS_COOKIE_ALWAYS  ? "always"
	       : hc.cookie_policy == SG_HS_COOKIE_NEVER ? "never"
	                                                : "under load");
	gw->hs.admit_src = sg_admit_sources_create(NULL); /* a random key per process */
	if (gw->hs.admit_src == NULL) {
		SG_LOG(MAIN, ERR, "admission's source buckets: %s", strerror(errno));
		return -ENOMEM;
	}
	sg_admit_sources_attach(&gw->hs.admit, gw->hs.admit_src);
	admission_apply(gw, &gw->cfg.policy);
	return 0;
}

void gw_hs_destroy(struct sg_gateway *gw)
{
	sg_hs_engine_free(gw->hs.engine);
	gw->hs.engine = NULL;
	sg_admit_sources_attach(&gw->hs.admit, NULL);
	sg_admit_sources_destroy(gw->hs.admit_src);
	gw->hs.admit_src = NULL;
}

int gw_hs_policy(struct sg_gateway *gw, const struct sg_cfg_policy *p)
{
	const struct sg_cfg_policy *now = &gw->cfg.policy;
	struct sg_hs_policy hp;
	int rc;

	memset(&hp, 0, sizeof(hp));
	for (uint32_t i = 0; i < p->n_suites && i < SG_HS_SUITES_MAX - 1; i++)
		hp.suites[i] = p->suites[i];
	hp.cookie_policy = (uint8_t)cookie_policy(p->cookie_mode);
	hp.cookie_threshold = p->cookie_threshold;
	hp.session_lifetime_s = (uint32_t)RTE_MIN(p->key_lifetime, (uint64_t)UINT32_MAX);
	rc = sg_hs_policy_set(gw->hs.engine, &hp);
	if (rc != 0)
		return rc;
	if (p->handshake_rate != now->handshake_rate ||
	    p->handshake_source_share != now->handshake_source_share ||
	    p->handshake_source_prefix4 != now->handshake_source_prefix4 ||
	    p->handshake_source_prefix6 != now->handshake_source_prefix6)
		admission_apply(gw, p);
	return 0;
}

void gw_hs_admission(struct sg_gateway *gw, struct sg_gw_admission *a)
{
	const struct sg_cfg_policy *p = &gw->cfg.policy;
	struct sg_hs_stats st;
	uint64_t now = sg_mono_ns();

	sg_hs_stats_get(gw->hs.engine, &st);
	memset(a, 0, sizeof(*a));
	a->admit = gw->hs.admit;
	a->admit.src = NULL; /* the buckets stay the gateway's */
	a->available = sg_admit_available(&gw->hs.admit, now);
	a->in_flight = st.in_flight;
	a->max_handshakes = gw->hs.slots;
	a->cookie_threshold =
	        p->cookie_threshold ? p->cookie_threshold : RTE_MAX(gw->hs.slots / 4, 1u);
	/* Would a ClientHello without a cookie get a HelloVerifyRequest now (RFC 6347 §4.2.1)? */
	a->cookies_required =
	        p->cookie_mode == SG_COOKIE_ALWAYS ||
	        (p->cookie_mode != SG_COOKIE_NEVER && st.in_flight >= a->cookie_threshold);
}
