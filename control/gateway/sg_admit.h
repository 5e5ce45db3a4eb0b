/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storm admission control: a rate limit on new DTLS handshakes
 * (policy.handshake_rate) with per-source fairness
 * (policy.handshake_source_share), asked by the handshake engine through
 * sg_hs_ops.admit right before a new handshake would take a slot.
 *
 * What is charged: a handshake that proved its address. The engine asks
 * only after the ClientHello's cookie verified (RFC 6347 §4.2.1; one HMAC),
 * so a hello with a forged or stale cookie is never charged to anyone's
 * budget and a host that floods them cannot stop other devices' handshakes
 * (issue 12 item 3). Under cookie_mode under_load or never, hellos without
 * a cookie are asked about too: their source is not proved, which is one of
 * the costs of those modes (docs/handshake.md, "Cookies").
 * A refused ClientHello is dropped and counted (drop_admission); the device
 * retransmits it when its timer fires (RFC 6347 §4.2.4.1), so a storm is
 * spread over time instead of overflowing the handshake slots.
 *
 * Two limits, both GCRA (a token bucket in time units; no floating point,
 * no allocation on the way; time is an argument, tests drive it):
 *  - global: one handshake every 1/rate seconds, a burst of one second's
 *    worth;
 *  - per source: the source's prefix (/24 of IPv4, /64 of IPv6 by default:
 *    what one subscriber or one site typically holds) hashed into an array
 *    of SG_ADMIT_SOURCES small buckets, each allowing share percent of the
 *    rate, with a burst of one second of it (at least one handshake). The
 *    hash is AES-128 of the masked prefix under a key drawn at random per
 *    process: a pseudorandom permutation, so without the key nobody can
 *    choose addresses that land in one bucket (to starve a victim's prefix)
 *    or spread over many (the bucket of a prefix is the same for all its
 *    addresses anyway). Two prefixes sharing a bucket (a birthday collision
 *    among the active ones) share one share: never more than the share per
 *    bucket is admitted. share 100 turns the per-source limit off.
 * A handshake is charged to both buckets or to neither: refused by the
 * source's share (refused_source) or by the global rate (refused_rate).
 *
 * Threads: one at a time per struct (the gateway thread, inside the handshake engine).
 */
#ifndef STORMGATE_CONTROL_SG_ADMIT_H
#define STORMGATE_CONTROL_SG_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_ADMIT_SOURCES 65536 /* source buckets (power of two): 512 KiB */

struct sg_admit_sources;

struct sg_admit {
	uint32_t rate;           /* per second; 0: unlimited */
	uint64_t interval;       /* ns per handshake */
	uint64_t tat;            /* theoretical arrival time of the next one, ns */
	uint64_t admitted;       /* new handshakes let through */
	uint64_t refused;        /* ... and dropped: refused_rate + refused_source */
	uint64_t refused_rate;   /* ... over the global rate */
	uint64_t refused_source; /* ... over their source's share */
	uint64_t last_refused_ns;
	/* per-source fairness; NULL: none (sg_admit_sources_attach()) */
	struct sg_admit_sources *src;
	uint32_t share;           /* percent of rate one source bucket may take, 1..100 */
	uint8_t prefix4, prefix6; /* bits of the source address that make its prefix */
	uint64_t src_interval;    /* ns per handshake of one source */
	uint64_t src_tolerance;   /* burst of one source, ns */
};

/* Why sg_admit_take_from() said no. */
enum sg_admit_verdict {
	SG_ADMIT_OK = 0,
	SG_ADMIT_REFUSED_RATE,   /* the global rate */
	SG_ADMIT_REFUSED_SOURCE, /* the source's share */
};

/* Set the rate (0: unlimited); the burst allowance starts full. */
void sg_admit_set_rate(struct sg_admit *a, uint32_t rate, uint64_t now_ns);

/* One new handshake at now_ns, global rate only: true (admitted, counted) or false (refused). */
bool sg_admit_take(struct sg_admit *a, uint64_t now_ns);

/* Handshakes that would be admitted right now (the bucket's tokens); 0 when unlimited. */
uint64_t sg_admit_available(const struct sg_admit *a, uint64_t now_ns);

/*
 * The source buckets: created with key (16 bytes; NULL: drawn from the
 * kernel's random source), all full. NULL with errno (ENOMEM, or EIO when
 * no randomness or no AES). Free with sg_admit_sources_destroy() (NULL fine).
 */
struct sg_admit_sources *sg_admit_sources_create(const uint8_t *key);
void sg_admit_sources_destroy(struct sg_admit_sources *s);

/* Give a the source buckets (owned by the caller, outliving a); NULL detaches. */
void sg_admit_sources_attach(struct sg_admit *a, struct sg_admit_sources *s);

/*
 * Per-source policy: share (1..100 % of the rate per source bucket; 100:
 * no per-source limit), prefix4 (1..32) and prefix6 (1..128). Call after
 * sg_admit_set_rate() (the share is of the rate). A change of prefix
 * lengths refills every bucket (they now count other groups of addresses).
 * Returns 0 or -EINVAL.
 */
int sg_admit_set_sources(struct sg_admit *a, uint32_t share, uint8_t prefix4, uint8_t prefix6);

/* The bucket of a source address (16 bytes, IPv4 as IPv4-mapped IPv6), for tests. */
uint32_t sg_admit_source_bucket(const struct sg_admit *a, const uint8_t addr[16]);

/*
 * One new handshake from addr (16 bytes, IPv4 as IPv4-mapped IPv6) at
 * now_ns: both limits, counted. Without source buckets, or with share 100,
 * the global rate alone.
 */
enum sg_admit_verdict sg_admit_take_from(struct sg_admit *a, const uint8_t addr[16],
                                         uint64_t now_ns);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_ADMIT_H */
