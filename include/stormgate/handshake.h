/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DTLS 1.2 handshake server engine (RFC 6347): PSK (RFC 4279) and ECDHE-PSK
 * (RFC 5489, RFC 8442) with X25519 and secp256r1, stateless cookies
 * (RFC 6347 §4.2.1), extended master secret (RFC 7627), session tickets
 * (RFC 5077), connection IDs (RFC 9146), SNI (RFC 6066), record_size_limit
 * (RFC 8449) and max_fragment_length (RFC 6066 §4). No renegotiation.
 *
 * Transport-agnostic: the daemon feeds it the datagrams the data plane
 * punts (sg_hs_input) and the passing of time (sg_hs_tick); the engine
 * answers through callbacks (struct sg_hs_ops): datagrams to send, a PSK
 * lookup, CIDs, and the installation of a finished session. Time is an
 * argument, so the engine makes no system call of its own (OpenSSL's DRBG
 * and allocations aside) and tests drive it deterministically.
 *
 * Threads: an engine belongs to one thread (the control thread, or a
 * handshake thread of its own); no function is safe to call concurrently
 * on the same engine, and callbacks run on that thread, inside
 * sg_hs_input() / sg_hs_tick(). Engines on several threads may share their
 * cookie secrets and ticket keys (struct sg_hs_secrets, below), and nothing
 * else.
 *
 * Memory: fixed at creation. max_handshakes slots of state (under 2 KB each,
 * transcript hash and ECDHE key included) and linger_entries finished flights;
 * nothing exists for a client before it returns a valid cookie (when cookies
 * are on). See docs/handshake.md.
 */
#ifndef STORMGATE_HANDSHAKE_H
#define STORMGATE_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stormgate/common.h>
#include <stormgate/dtls.h>
#include <stormgate/record_types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sg_hs_engine;
struct sg_hs_secrets;
struct sg_hs_certs;
struct sg_rec_ctx;

/*
 * Who sent a datagram, as seen by the gateway. IPv4 addresses are
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d); addresses and ports in
 * network byte order. Same layout and convention as struct sg_sess_tuple.
 */
struct sg_hs_peer {
	uint8_t laddr[16]; /* local (gateway) address */
	uint8_t paddr[16]; /* peer (device) address */
	uint16_t lport;
	uint16_t pport;
};

/* Now, in two clocks: timers run on the monotonic one; tickets and session
 * lifetimes, which must survive a restart, on the wall clock. */
struct sg_hs_time {
	uint64_t mono_ms; /* CLOCK_MONOTONIC, milliseconds */
	uint64_t unix_s;  /* CLOCK_REALTIME, seconds */
	uint64_t mono_us; /* CLOCK_MONOTONIC, microseconds, for the latency histogram
	                     (struct sg_hs_stats); 0: mono_ms x 1000 */
};

/* Lengths. Our CIDs: what the session table issues (session_types.h). */
#define SG_HS_CID_MAX      16
#define SG_HS_PEER_CID_MAX 32 /* longer client CIDs: the extension is declined */
#define SG_HS_SNI_MAX      255
#define SG_HS_SUITES_MAX   32 /* a preference list: every ranked suite (16) and its 0 */
#define SG_HS_HINT_MAX     128

/*
 * Largest datagram sg_hs_input() takes: one record of the largest plaintext
 * (RFC 6347 §4.1: a record never spans datagrams; RFC 5246 §6.2.1: 2^14
 * bytes), which bounds every handshake message a client sends in the clear.
 * Longer datagrams are refused (-EMSGSIZE, counted as drop_malformed). The
 * engine's scratch holds a ClientHello of this size for the cookie MAC
 * (control/handshake/hs_priv.h asserts it at build time).
 */
#define SG_HS_DGRAM_MAX (SG_DTLS_HDR_LEN + SG_DTLS_MAX_PLAINTEXT)

/* ---- what the daemon provides ----------------------------------------------- */

/* struct sg_hs_cred.flags: per-device policy from the credential store. */
#define SG_HS_CRED_F_REQUIRE_EMS   0x01 /* refuse a handshake without RFC 7627 */
#define SG_HS_CRED_F_NO_TICKET     0x02 /* never issue (or accept) a session ticket */
#define SG_HS_CRED_F_REQUIRE_ECDHE 0x04 /* plain PSK refused: forward secrecy required */

/* A device's credential, as the PSK lookup returns it. */
struct sg_hs_cred {
	uint8_t psk[SG_TLS_PSK_MAX]; /* secret: the engine wipes its copy after use */
	uint16_t psk_len;            /* 1..SG_TLS_PSK_MAX */
	uint32_t flags;              /* SG_HS_CRED_F_* */
	uint32_t cred_ref;           /* credential store reference, passed to the result */
	uint32_t backend;            /* backend mapping, passed to the result */
	uint32_t lifetime_s;         /* session lifetime; 0: the engine's default */
	uint64_t user;               /* the caller's, opaque: kept with the handshake and
	                                handed back in struct sg_hs_result.user */
};

/* How a peer authenticated (struct sg_hs_result.auth, ops.cert_lookup). */
enum sg_hs_auth {
	SG_HS_AUTH_PSK = 0, /* a PSK identity (RFC 4279) */
	SG_HS_AUTH_X509,    /* an X.509 certificate verified against the CA bundle */
	SG_HS_AUTH_RPK,     /* a raw public key found in the credential store (RFC 7250) */
	SG_HS_AUTH_NONE,    /* ECDHE-ECDSA without a client certificate (client_auth optional) */
};

/* Length of the key a raw public key is found by: SHA-256 of its SubjectPublicKeyInfo DER. */
#define SG_HS_SPKI_HASH_LEN 32

struct sg_hs_result;

/*
 * Callbacks, all called on the engine's thread from inside sg_hs_input()
 * or sg_hs_tick(); pointers they receive are valid during the call only.
 */
struct sg_hs_ops {
	void *ctx; /* passed to every callback */

	/*
	 * Look up identity (the PSK identity of the ClientKeyExchange, RFC 4279
	 * §2) for a client that asked for server name sni (NULL when it sent
	 * none). Return 0 with cred filled, -ENOENT for an unknown identity,
	 * -EACCES when policy refuses this identity (e.g. this SNI), or another
	 * -errno when the store failed. Must not block long (an LMDB read).
	 */
	int (*psk_lookup)(void *ctx, const uint8_t *identity, size_t identity_len,
	                  const uint8_t *sni, size_t sni_len, struct sg_hs_cred *cred);

	/* Send one datagram to peer (through the data plane's TX). 0 or -errno (counted). */
	int (*send)(void *ctx, const struct sg_hs_peer *peer, const uint8_t *data, size_t len);

	/*
	 * A handshake completed: install the session (RFC 6347 §4.2.8: a device's
	 * previous session is replaced now, not before). The result holds keys:
	 * copy what is kept, never keep the pointer. 0, or -errno and the
	 * handshake fails with an internal_error alert.
	 */
	int (*install)(void *ctx, const struct sg_hs_result *res);

	/*
	 * Optional (NULL: no CIDs). Reserve one of our CIDs (RFC 9146), exactly
	 * the configured cid_len bytes, for a handshake about to send its
	 * ServerHello. 0 or -errno (the handshake goes on without a CID).
	 */
	int (*cid_alloc)(void *ctx, const struct sg_hs_peer *peer, uint8_t *cid);

	/* Give back a reserved CID whose handshake did not complete (never after install). */
	void (*cid_release)(void *ctx, const uint8_t *cid);

	/*
	 * Optional (NULL: every handshake admitted). Storm admission control:
	 * asked once per new handshake, right before it would take a slot, i.e.
	 * after the ClientHello's cookie verified (when cookies apply), so a
	 * hello with a forged cookie is never charged to anyone's budget.
	 * Return 0 to admit, or -EBUSY to drop the hello (counted as
	 * drop_admission; the client retransmits it on its timer).
	 */
	int (*admit)(void *ctx, const struct sg_hs_peer *peer);
	/*
	 * Optional (NULL: certificate clients get the defaults, raw public keys
	 * are refused). Policy of a client that authenticated with a
	 * certificate or a raw public key (ECDHE-ECDSA suites), after its
	 * chain or key verified and before its CertificateVerify is checked:
	 *   SG_HS_AUTH_X509: key is the certificate identity (subject CN or SAN
	 *     URI, tls.cert_identity), key_len bytes; -ENOENT: no policy entry,
	 *     the engine takes its defaults unless tls.require_policy;
	 *   SG_HS_AUTH_RPK: key is the SHA-256 of the SubjectPublicKeyInfo
	 *     (SG_HS_SPKI_HASH_LEN); fill identity (the store's name of that
	 *     key, at most SG_TLS_PSK_IDENTITY_MAX bytes) and *identity_len;
	 *     -ENOENT: unknown key, refused (bad_certificate).
	 * cred is filled as psk_lookup fills it, without a PSK (psk_len 0).
	 * -EACCES: policy refuses it (access_denied); another -errno: the store
	 * failed (internal_error). An LMDB read: must not block long.
	 */
	int (*cert_lookup)(void *ctx, enum sg_hs_auth kind, const uint8_t *key, size_t key_len,
	                   const uint8_t *sni, size_t sni_len, struct sg_hs_cred *cred,
	                   uint8_t *identity, uint16_t *identity_len);
};

/* A completed handshake, handed to ops.install. */
struct sg_hs_result {
	/* Epoch-1 SA: keys, IVs, tx_seq after our Finished, replay window with
	 * the client's Finished marked; sg_rec_sa_size_for(replay_window, sa->aead) bytes
	 * (a CBC SA's MAC line follows it: sg_rec_sa_mac()),
	 * owned by the engine and wiped after the call. */
	const struct sg_rec_sa *sa;
	struct sg_hs_peer peer;
	uint16_t suite;       /* IANA cipher suite */
	uint16_t group;       /* ECDHE NamedGroup (RFC 8422 §5.1.1), 0 for plain PSK */
	uint8_t resumed;      /* abbreviated handshake from a session ticket (RFC 5077) */
	uint8_t ems;          /* extended master secret in use (RFC 7627) */
	uint8_t cid_len;      /* our CID, in records the client sends (RFC 9146); 0: none */
	uint8_t peer_cid_len; /* the client's CID, in records we send; 0: none */
	uint8_t cid[SG_HS_CID_MAX];
	uint8_t peer_cid[SG_HS_PEER_CID_MAX];
	uint16_t max_plaintext; /* largest plaintext we may send (RFC 8449 §4 / RFC 6066 §4);
	                           the SA carries it too (sg_rec_sa_max_plaintext()) */
	uint8_t rrc;            /* return routability checks negotiated (RFC 9853 §3); the SA has
	                           SG_SA_F_RRC */
	/*
	 * Who the peer is: the PSK identity, the certificate identity (subject
	 * CN or SAN URI, tls.cert_identity) or the store's name of its raw public
	 * key, by auth (enum sg_hs_auth). Policy and the backend (the PROXY v2
	 * TLV) see this name whatever the kind.
	 */
	uint8_t auth; /* enum sg_hs_auth */
	uint16_t identity_len;
	uint8_t identity[SG_TLS_PSK_IDENTITY_MAX];
	uint16_t sni_len; /* 0: no server_name */
	uint8_t sni[SG_HS_SNI_MAX];
	uint32_t cred_ref; /* from the PSK lookup (resumption: looked up again) */
	uint32_t backend;
	uint64_t expires; /* end of the session's lifetime, Unix seconds */
	/*
	 * The caller's tag (sg_hs_input()) of the last datagram that advanced
	 * this handshake, i.e. the one that completed it: the datagram whose
	 * client Finished verified, or, when that Finished came before the key
	 * exchange and was kept (RFC 6347 §4.1.2.6), the datagram whose
	 * ClientKeyExchange let it be opened. Opaque to the engine.
	 */
	uint64_t tag;
	/* What psk_lookup put in struct sg_hs_cred.user for this handshake's PSK. */
	uint64_t user;
};

/* ---- configuration ------------------------------------------------------------ */

/* When a ClientHello must carry a valid cookie (RFC 6347 §4.2.1). */
enum sg_hs_cookie_policy {
	SG_HS_COOKIE_ALWAYS = 0, /* every handshake: no state before a return routability check */
	SG_HS_COOKIE_UNDER_LOAD, /* WireGuard's model: once cookie_threshold handshakes are in
	                            flight */
	SG_HS_COOKIE_NEVER,      /* tests and trusted networks only */
};

/* Zero fields take the documented default. */
struct sg_hs_config {
	uint32_t max_handshakes;           /* in-flight handshakes (slots); required */
	uint32_t linger_entries;           /* finished flights kept to answer a retransmitted
	                                      client Finished (RFC 6347 §4.2.4); 0: max_handshakes */
	uint16_t suites[SG_HS_SUITES_MAX]; /* server preference order, 0-terminated, of
	                                      ranked suites (suite.h); all 0: the default */
	uint8_t cookie_policy;             /* enum sg_hs_cookie_policy */
	uint8_t require_ems;               /* refuse clients without RFC 7627 */
	uint8_t tickets;                   /* issue and accept RFC 5077 session tickets */
	uint8_t cid_len;                   /* length of our CIDs (RFC 9146); 0: no CIDs */
	uint32_t cookie_threshold; /* UNDER_LOAD: in-flight handshakes before cookies; 0: max/4 */
	uint32_t
	        cookie_rotate_ms; /* cookie secret lifetime; a cookie lives 1-2 of them; 0: 30000 */
	uint32_t ticket_lifetime_s; /* ticket validity and lifetime hint; 0: 86400 */
	uint32_t ticket_rotate_s; /* ticket key lifetime; old key still accepted one more; 0: 43200
	                           */
	uint32_t session_lifetime_s; /* default session lifetime; 0: 86400 */
	uint16_t mtu;                /* largest datagram we send; 0: 1280 (RFC 8200 minimum) */
	uint16_t record_size_limit;  /* largest plaintext we accept (RFC 8449); 0: 2^14 */
	uint16_t replay_window;      /* bits, as the session table's (record_types.h); 0: default */
	uint8_t dummy_psk_len;       /* unknown identity: length of the random PSK; 0: 16 */
	uint8_t psk_hint_len;
	uint8_t psk_hint[SG_HS_HINT_MAX]; /* RFC 4279 §2 identity hint; empty: none sent */
	uint32_t rto_initial_ms; /* 0: SG_DTLS_RTO_INITIAL_MS (RFC 7925 §11 advises 9 s for IoT) */
	uint32_t rto_max_ms;     /* 0: SG_DTLS_RTO_MAX_MS */
	uint32_t handshake_timeout_ms; /* state freed after this; 0: 60000; at most 3600000 */
	uint32_t linger_ms;            /* finished flights kept this long; 0: 30000 */
	/* ECDHE: one ephemeral key pair per group serves every handshake for this
	 * long (forward secrecy per window, not per handshake); 0: a fresh key
	 * for each handshake (sg_hs_ecdhe_reuse_set() changes it); at most
	 * 60000. docs/handshake.md, "X25519: measured choice" */
	uint32_t ecdhe_reuse_ms;
	/*
	 * Cookie secrets and ticket keys shared by several engines (struct
	 * sg_hs_secrets, rotated by its owner, never by the engine; it must
	 * outlive the engine); NULL: the engine makes and rotates its own.
	 * cookie_rotate_ms and ticket_rotate_s are then the object's, not these.
	 */
	struct sg_hs_secrets *secrets;
	/*
	 * The gateway's certificate or raw public key, the client CA bundle,
	 * CRLs and the client-auth policy (struct sg_hs_certs, below), shared by
	 * engines and reloaded by its owner; it must outlive the engine. NULL:
	 * the ECDHE-ECDSA suites are never negotiated.
	 */
	struct sg_hs_certs *certs;
	struct sg_hs_ops ops; /* psk_lookup, send and install are required */
};

/* ---- counters ------------------------------------------------------------------- */

/*
 * Every datagram ends in exactly one of the outcome counters (up to
 * SG_HS_C_DGRAM_MAX); the rest count events and failures. Failures
 * (SG_HS_C_FAIL_*) each send the alert named in docs/handshake.md; an
 * unknown identity is counted apart from a wrong key, but the client sees
 * the same decrypt_error at the same step for both.
 */
enum sg_hs_counter {
	/* datagrams */
	SG_HS_C_DGRAM_HANDLED = 0,   /* advanced or answered a handshake */
	SG_HS_C_DROP_MALFORMED,      /* record framing broken, datagram over SG_HS_DGRAM_MAX */
	SG_HS_C_DROP_NO_STATE,       /* not a ClientHello and no handshake for this peer */
	SG_HS_C_DROP_UNEXPECTED,     /* stale or future message, wrong epoch, app data */
	SG_HS_C_DROP_FRAGMENTED_CH,  /* a fragmented ClientHello before any state exists */
	SG_HS_C_DROP_POOL_FULL,      /* valid cookie but every slot busy */
	SG_HS_C_DROP_COOKIE_BAD,     /* cookie that no secret made */
	SG_HS_C_DROP_COOKIE_EXPIRED, /* cookie from a secret already retired */
	SG_HS_C_DROP_ADMISSION,      /* a new handshake refused by ops.admit (storm admission) */
	/* Anyone who knows the client's address could have sent it: an epoch-0
	 * alert, or an epoch-1 record that does not authenticate, during or after
	 * a handshake (RFC 6347 §4.1.2.7: discarded, the handshake goes on). */
	SG_HS_C_DROP_UNAUTHENTICATED,
	/* A repeated hello or final flight beyond one resend per retransmission
	 * period, or a replayed record. */
	SG_HS_C_DROP_DUPLICATE,
	SG_HS_C_DGRAM_MAX,
	/* events */
	SG_HS_C_HVR_SENT = SG_HS_C_DGRAM_MAX, /* HelloVerifyRequest (stateless) */
	SG_HS_C_STARTED,                      /* slot taken */
	SG_HS_C_COMPLETED_FULL,
	SG_HS_C_COMPLETED_RESUMED,
	SG_HS_C_TICKET_ISSUED,
	SG_HS_C_TICKET_REJECTED,  /* unreadable, expired or unusable ticket: full handshake */
	SG_HS_C_RETRANSMIT_TIMER, /* flight resent on timer expiry (RFC 6347 §4.2.4) */
	SG_HS_C_RETRANSMIT_PEER,  /* flight resent because the client repeated its own */
	SG_HS_C_LINGER_RESENT,    /* final flight resent after completion */
	SG_HS_C_LINGER_SPENT,     /* ... not: its reserved sequence numbers were used up */
	SG_HS_C_TIMEOUT,          /* state freed after handshake_timeout_ms */
	SG_HS_C_REPLACED,         /* a new ClientHello from the same address replaced one */
	SG_HS_C_PEER_ALERT,       /* the client aborted with an alert */
	SG_HS_C_SEND_FAILED,      /* ops.send refused a datagram */
	/* A datagram not sent: it would take what went to an address that has
	 * not proven it receives past 3x what came from it (docs/handshake.md). */
	SG_HS_C_AMPLIFICATION_HELD,
	/* failures, each answered with an alert */
	SG_HS_C_FAIL_PROTOCOL_VERSION,   /* protocol_version: not DTLS 1.2 */
	SG_HS_C_FAIL_FALLBACK,           /* inappropriate_fallback (RFC 7507) */
	SG_HS_C_FAIL_NO_SUITE,           /* handshake_failure: no suite in common */
	SG_HS_C_FAIL_NO_GROUP,           /* handshake_failure: ECDHE-PSK without X25519/P-256 */
	SG_HS_C_FAIL_EMS_REQUIRED,       /* handshake_failure: policy wants RFC 7627 */
	SG_HS_C_FAIL_RENEGOTIATION,      /* handshake_failure: RFC 5746 §3.6 violated */
	SG_HS_C_FAIL_DECODE,             /* decode_error */
	SG_HS_C_FAIL_ILLEGAL_PARAMETER,  /* illegal_parameter */
	SG_HS_C_FAIL_UNEXPECTED_MESSAGE, /* unexpected_message */
	SG_HS_C_FAIL_UNKNOWN_IDENTITY,   /* decrypt_error at Finished (no oracle, RFC 4279 §2) */
	SG_HS_C_FAIL_POLICY,             /* decrypt_error at Finished: identity refused (-EACCES) */
	SG_HS_C_FAIL_BAD_FINISHED,       /* decrypt_error: wrong key (record or verify_data) */
	SG_HS_C_FAIL_CRED_STORE,         /* internal_error: lookup failed */
	SG_HS_C_FAIL_INSTALL,            /* internal_error: ops.install refused */
	SG_HS_C_FAIL_REVOKED,            /* decrypt_error: its PSK was replaced or removed since
	                                    the lookup (sg_hs_revoke) */
	SG_HS_C_FAIL_INTERNAL,           /* internal_error: crypto or allocation */
	/* certificates and raw public keys (ECDHE-ECDSA suites) */
	SG_HS_C_FAIL_NO_CERT,          /* handshake_failure: client_auth require, none sent */
	SG_HS_C_FAIL_BAD_CERT,         /* bad_certificate: unparsable, wrong key type, bad chain
	                                  signature, or a raw public key not in the store */
	SG_HS_C_FAIL_CERT_EXPIRED,     /* certificate_expired: outside its validity */
	SG_HS_C_FAIL_CERT_REVOKED,     /* certificate_revoked: on a CRL */
	SG_HS_C_FAIL_UNKNOWN_CA,       /* unknown_ca: no path to the CA bundle */
	SG_HS_C_FAIL_CERT_POLICY,      /* access_denied: cert_lookup refused (-EACCES) */
	SG_HS_C_FAIL_CERT_VERIFY,      /* decrypt_error: CertificateVerify signature wrong */
	SG_HS_C_FAIL_UNSUPPORTED_CERT, /* unsupported_certificate / handshake_failure: no
	                                  certificate type or signature scheme in common */
	SG_HS_C_COMPLETED_CERT,        /* full handshakes completed with ECDHE-ECDSA */
	SG_HS_C_SIGN_PRECOMPUTED,      /* ServerKeyExchange signed with a precomputed nonce */
	SG_HS_C_SIGN_INLINE,           /* ... signed with a nonce computed then (pool empty) */
	SG_HS_C_MAX
};

/*
 * Completed handshakes by latency: from the datagram that took the slot (a
 * ClientHello with a valid cookie, or a resuming one) to the one that
 * completed it (install), in µs of struct sg_hs_time.mono_us, in log-scale
 * buckets, two per power of two: upper edges 1, 2, 3, 4, 6, 8, 12, 16, ...
 * (sg_hs_latency_bucket_le()), the last open-ended. docs/handshake.md,
 * "Latency".
 */
#define SG_HS_LAT_BUCKETS 64

struct sg_hs_stats {
	uint64_t c[SG_HS_C_MAX];
	uint32_t in_flight;                  /* slots in use now */
	uint32_t lingering;                  /* finished flights kept now */
	uint32_t max_handshakes;             /* slots: the in-flight limit */
	uint64_t latency[SG_HS_LAT_BUCKETS]; /* completed (full and resumed), since creation */
};

/* Upper edge of latency bucket i, in µs (UINT64_MAX for the last). Any thread. */
uint64_t sg_hs_latency_bucket_le(unsigned i);

/*
 * The q-quantile (0 < q <= 1) of a latency histogram, in µs: the upper edge
 * of the bucket it falls in (UINT64_MAX: the open last bucket); 0 when the
 * histogram is empty, hist is NULL or q is out of range. Any thread.
 */
uint64_t sg_hs_latency_quantile(const uint64_t hist[SG_HS_LAT_BUCKETS], double q);

/* ---- shared secrets ------------------------------------------------------------------ */

/*
 * Cookie secrets (RFC 6347 §4.2.1) and session ticket keys (RFC 5077) that
 * several engines share (struct sg_hs_config.secrets), so a client's next
 * flight or its ticket is good at any of them. One owner thread rotates
 * and imports; engines read it concurrently (an atomic generation; a copy
 * under a mutex only when it moved, before their next datagram). Rotation
 * periods as in struct sg_hs_config (0: the defaults). Created with fresh
 * keys as of time 0: the first tick rotates both. Returns NULL with errno
 * ENOMEM or EIO (no randomness). Any thread; then the owner's.
 */
struct sg_hs_secrets *sg_hs_secrets_create(uint32_t cookie_rotate_ms, uint32_t ticket_rotate_s);

/* Wipe and free, after every engine that uses it was freed. NULL: no-op. The owner thread. */
void sg_hs_secrets_free(struct sg_hs_secrets *s);

/* Rotate what is due at now. The owner thread. Returns the rotations done (0 for NULL). */
unsigned sg_hs_secrets_tick(struct sg_hs_secrets *s, struct sg_hs_time now);

/* Changes whenever one of the exports below would change (never 0; NULL: 0). Any thread. */
uint64_t sg_hs_secrets_gen(const struct sg_hs_secrets *s);

/*
 * As sg_hs_ticket_keys_export() / _import() and the cookie functions below,
 * plus -EINVAL for a NULL argument. An import moves the generation. The
 * owner thread.
 */
int sg_hs_secrets_ticket_export(const struct sg_hs_secrets *s, uint8_t *buf, size_t cap);
int sg_hs_secrets_ticket_import(struct sg_hs_secrets *s, const uint8_t *buf, size_t len);
int sg_hs_secrets_cookie_export(const struct sg_hs_secrets *s, uint8_t *buf, size_t cap);
int sg_hs_secrets_cookie_import(struct sg_hs_secrets *s, const uint8_t *buf, size_t len);

/* ---- functions ------------------------------------------------------------------------ */

/*
 * Create an engine: allocates every slot and the linger table, an IPsec-MB
 * manager, the OpenSSL contexts, fresh cookie and ticket keys (or a copy of
 * conf.secrets'). Copies conf.
 * Returns NULL with errno EINVAL (bad conf: no slots, missing callback,
 * a suite the engine does not negotiate, cid_len over SG_HS_CID_MAX, handshake_timeout_ms over
 * 3600000) or ENOMEM. Any thread; the
 * engine then belongs to the thread that uses it.
 */
struct sg_hs_engine *sg_hs_engine_create(const struct sg_hs_config *conf);

/* Wipe every secret (keys, cookies, tickets, handshake state) and free. NULL: no-op. */
void sg_hs_engine_free(struct sg_hs_engine *e);

/*
 * Consume one datagram from peer (it may hold several records). Replies go
 * out through ops.send, a completed handshake through ops.install, before
 * this returns. tag is the caller's, opaque to the engine (the gateway
 * passes the worker that punted the datagram): it is kept with the
 * handshake when the datagram advances it (takes a slot, adds to the key
 * exchange, keeps an early Finished, or verifies the client's Finished),
 * and the install of the handshake it completes carries it in
 * struct sg_hs_result.tag. Does not keep dgram, nor any key in the engine's
 * record context once it returns. Returns 0, -EINVAL for a NULL argument,
 * or -EMSGSIZE for a datagram over SG_HS_DGRAM_MAX; what happened to the
 * datagram is counted (enum sg_hs_counter; -EINVAL counts nothing, the
 * engine may not exist).
 */
int sg_hs_input(struct sg_hs_engine *e, struct sg_hs_time now, const struct sg_hs_peer *peer,
                const uint8_t *dgram, size_t len, uint64_t tag);

/*
 * Run timers due at now: retransmit flights (RFC 6347 §4.2.4.1, doubling up
 * to rto_max_ms), free handshakes older than handshake_timeout_ms and
 * finished flights older than linger_ms, rotate the cookie and ticket keys
 * (the engine's own; shared ones are rotated by sg_hs_secrets_tick()).
 * Returns the number of timers handled.
 */
unsigned sg_hs_tick(struct sg_hs_engine *e, struct sg_hs_time now);

/* One punted datagram for sg_hs_input_burst(). */
struct sg_hs_dgram {
	struct sg_hs_peer peer;
	const uint8_t *data;
	size_t len;
	uint64_t tag;
};

#define SG_HS_BURST_MAX 64

/*
 * Consume n datagrams (n <= SG_HS_BURST_MAX) as n calls of sg_hs_input()
 * in order would (the same datagrams sent, installs and counters), with the
 * key derivations of the handshakes they advance batched across them
 * (IPsec-MB multi-buffer HMAC; docs/handshake.md, "Batched key
 * derivation"). Returns 0 or -EINVAL (NULL, n over the max).
 */
int sg_hs_input_burst(struct sg_hs_engine *e, struct sg_hs_time now, const struct sg_hs_dgram *d,
                      unsigned n);

/*
 * The engine's own record context (it seals and opens the Finished messages,
 * alerts and tickets with it), for tests that check what it keeps between
 * calls (sg_rec_ctx_holds()). The engine's thread.
 */
const struct sg_rec_ctx *sg_hs_engine_rec_ctx(const struct sg_hs_engine *e);

/* Monotonic ms of the next timer (UINT64_MAX if none): when to call sg_hs_tick(). */
uint64_t sg_hs_next_deadline(const struct sg_hs_engine *e);

/*
 * Ticket keys, to survive a restart (tickets devices hold stay valid): export
 * writes the current and previous key with their creation times (secret:
 * the caller stores it where only the daemon can read it, and wipes buf);
 * import replaces the engine's keys. Export returns the bytes written or
 * -ENOSPC; import returns 0 or -EINVAL (malformed blob). SG_HS_TICKET_KEYS_LEN
 * bytes always suffice.
 */
#define SG_HS_TICKET_KEYS_LEN 128
int sg_hs_ticket_keys_export(const struct sg_hs_engine *e, uint8_t *buf, size_t cap);
int sg_hs_ticket_keys_import(struct sg_hs_engine *e, const uint8_t *buf, size_t len);

/*
 * Cookie secrets, to survive a restart (a client that got a
 * HelloVerifyRequest just before it completes its handshake after it):
 * export writes the current and previous secret with their generation
 * bytes (secret, as the ticket keys above); import replaces the engine's
 * secrets, and the imported current one makes cookies for one more full
 * rotation period from the next sg_hs_tick(). Export returns the bytes
 * written or -ENOSPC; import returns 0, -EINVAL (malformed blob; the
 * engine's secrets unchanged) or -EIO. SG_HS_COOKIE_SECRETS_LEN bytes
 * always suffice. The engine's thread.
 */
#define SG_HS_COOKIE_SECRETS_LEN 80
int sg_hs_cookie_secrets_export(const struct sg_hs_engine *e, uint8_t *buf, size_t cap);
int sg_hs_cookie_secrets_import(struct sg_hs_engine *e, const uint8_t *buf, size_t len);

/*
 * A counter that changes whenever what the two exports above return
 * changes (a rotation in sg_hs_tick(), an import): a caller that keeps the
 * secrets elsewhere compares it after each tick and exports again when it
 * moved. Starts at 0 at creation. The engine's thread.
 *
 * With shared secrets (conf.secrets), the four functions above and this
 * one act on the shared object, as sg_hs_secrets_*() do: only its owner's
 * thread may call them (the generation: any thread), and the engine's copy
 * follows before its next datagram.
 */
uint64_t sg_hs_secrets_generation(const struct sg_hs_engine *e);

/* Copy the counters. */
void sg_hs_stats_get(const struct sg_hs_engine *e, struct sg_hs_stats *st);

/* Stable label of a counter ("fail_unknown_identity"), or "unknown". Any thread. */
const char *sg_hs_counter_name(enum sg_hs_counter c);

/*
 * The client of a completed full handshake sent its Finished again and the
 * data plane authenticated it under the installed session's keys (they are
 * the handshake's epoch-1 keys; the record was fresh in the session's replay
 * window): a record the engine cannot open itself once the session holds it,
 * e.g. a tls12_cid one (RFC 9146). Our final flight was lost: it goes again
 * from the flights kept after completion (RFC 6347 §4.2.4), in new records
 * (our Finished sealed anew under a sequence number reserved for it before
 * the session was installed), at most once per rto_initial_ms. Returns 0
 * (resent, counted as linger_resent), -ENOENT (no flight kept for peer),
 * -EAGAIN (resent too recently), -ENOSPC (resent as often as it will be,
 * counted as linger_spent) or -EINVAL. The engine's thread.
 */
int sg_hs_finished_again(struct sg_hs_engine *e, struct sg_hs_time now,
                         const struct sg_hs_peer *peer);

/*
 * The owner of the engine refused the install of peer's completed
 * handshake after ops.install accepted it (a caller that installs later,
 * on another thread, and found the credential changed or the table full):
 * forget the flight kept for peer, so a repeated Finished gets no Finished
 * of ours with no session behind it; the client's retransmissions then
 * run out and it handshakes again. Returns 0, -ENOENT (nothing kept for
 * peer) or -EINVAL. The engine's thread.
 */
int sg_hs_finished_forget(struct sg_hs_engine *e, const struct sg_hs_peer *peer);

/*
 * A credential changed (replaced, removed or disabled): fail every handshake
 * in flight that has named its PSK identity already (its key exchange, or
 * the ticket it resumes, was looked up) and for which match(ctx, identity,
 * len) is true, with a decrypt_error alert, as a wrong key would: its keys
 * come from a PSK the operator took away, so it must not install a session
 * that outlives the change. Handshakes that have not named an identity yet
 * look it up afresh when they do. Certificate and raw public key handshakes
 * are not matched (match knows PSK identities): the owner's guard at install
 * (ops.install, sg_hs_result.user) checks them. Returns how many were failed
 * (counted as fail_credential_revoked). The engine's thread; match runs on it.
 */
unsigned sg_hs_revoke(struct sg_hs_engine *e,
                      bool (*match)(void *ctx, const uint8_t *identity, size_t len), void *ctx);

/* ---- certificates and raw public keys ------------------------------------------- */

/* struct sg_hs_certs_conf.client_auth */
enum sg_hs_client_auth {
	SG_HS_CLIENT_AUTH_REQUIRE = 0, /* CertificateRequest; no certificate: handshake_failure */
	SG_HS_CLIENT_AUTH_OPTIONAL,    /* CertificateRequest; none: an anonymous-client session */
	SG_HS_CLIENT_AUTH_NONE,        /* no CertificateRequest (server authentication only) */
};

/* struct sg_hs_certs_conf.identity_from: which name of a client certificate is its identity. */
enum sg_hs_cert_identity {
	SG_HS_CERT_ID_CN = 0,  /* subject commonName */
	SG_HS_CERT_ID_SAN_URI, /* first subjectAltName URI (oneM2M, LwM2M endpoint URNs) */
};

/* Zero fields take the documented default; paths are read at create and reload only. */
struct sg_hs_certs_conf {
	const char *cert_file; /* PEM: our certificate, then its chain (leaf first); NULL: none */
	const char *key_file;  /* PEM: its private key (EC P-256 or P-384); required with either */
	/* PEM: a bare public key offered as our raw public key (RFC 7250); NULL: the
	 * certificate's key. Neither cert_file nor rpk_key_file: no ECDHE-ECDSA at all. */
	const char *rpk_key_file;
	const char *ca_file;    /* PEM: CAs client certificates must chain to; NULL: no X.509
	                           client certificates (raw public keys may still be accepted) */
	const char *crl_file;   /* PEM: CRLs checked for every client certificate; NULL: none */
	uint8_t client_auth;    /* enum sg_hs_client_auth */
	uint8_t identity_from;  /* enum sg_hs_cert_identity */
	uint8_t rpk;            /* accept and offer raw public keys (RFC 7250): 1 */
	uint8_t require_policy; /* an X.509 identity without a cert_lookup entry is refused */
	uint32_t sign_pool;     /* precomputed ECDSA nonces kept ready; 0: 1024 */
	uint32_t verify_cache;  /* client certificates whose chain verified, kept to skip the
	                           chain on their next handshake; 0: 4096 */
};

/*
 * Load the configured certificate, key, CA bundle and CRLs. NULL on error
 * with a message naming the file and the problem in err (a key that does not
 * match the certificate, an unsupported curve, an unreadable file, a CRL
 * that does not parse). The owner thread.
 */
struct sg_hs_certs *sg_hs_certs_create(const struct sg_hs_certs_conf *conf, char *err,
                                       size_t err_len);

/*
 * Load conf again and switch every engine to it, handshake by handshake
 * (one in flight finishes with what it started with). All or nothing: on
 * error (-errno, message in err) the loaded set stays. The owner thread.
 */
int sg_hs_certs_reload(struct sg_hs_certs *c, const struct sg_hs_certs_conf *conf, char *err,
                       size_t err_len);

/*
 * Precompute up to max ECDSA nonces (k^-1, r) for the signing pool, off the
 * engines' threads (the gateway's tick). Returns how many it added. The
 * owner thread, or any one thread at a time.
 */
unsigned sg_hs_certs_refill(struct sg_hs_certs *c, unsigned max);

/* What a stats reader shows (any thread). */
struct sg_hs_certs_info {
	uint64_t generation; /* reloads + 1 */
	uint32_t pool_ready; /* precomputed nonces available */
	uint32_t pool_size;
	uint32_t cache_entries; /* verified client certificates cached */
	uint64_t cache_hits;
	uint64_t cache_misses;
	int64_t not_after; /* our certificate's expiry (Unix s); 0: raw public key only */
	char subject[128]; /* our certificate's subject, one line */
	uint16_t curve;    /* SG_TLS_GROUP_SECP256R1 or _SECP384R1 of our key */
};
void sg_hs_certs_info_get(const struct sg_hs_certs *c, struct sg_hs_certs_info *info);

/* Free after every engine that uses it was freed. NULL: no-op. The owner thread. */
void sg_hs_certs_free(struct sg_hs_certs *c);

/* What an operator may change on a running engine (sg_hs_policy_set). */
struct sg_hs_policy {
	uint16_t suites[SG_HS_SUITES_MAX]; /* server preference, 0-terminated; all 0: default */
	uint8_t cookie_policy;             /* enum sg_hs_cookie_policy */
	uint32_t cookie_threshold;         /* UNDER_LOAD: in-flight handshakes; 0: max/4 */
	uint32_t session_lifetime_s;       /* default session lifetime; 0: 86400 */
};

/*
 * Apply a new policy to a running engine: the next ClientHello sees it;
 * handshakes in flight keep the suite they negotiated. Nothing changes on
 * error. Returns 0, or -EINVAL (NULL, a suite the engine does not negotiate:
 * rank 0 or unknown (suite.h), unknown cookie policy).
 * The engine's thread.
 */
int sg_hs_policy_set(struct sg_hs_engine *e, const struct sg_hs_policy *p);

/*
 * Reuse one ephemeral ECDHE key pair per group for ms (0: a fresh key per
 * handshake, the default): handshakes started from now on take the current
 * pair. Returns 0 or -EINVAL (ms over 60000). The engine's thread.
 */
int sg_hs_ecdhe_reuse_set(struct sg_hs_engine *e, uint32_t ms);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_HANDSHAKE_H */
