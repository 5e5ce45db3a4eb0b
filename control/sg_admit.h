/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Storm admission control: a rate limit on new DTLS handshakes
 * (policy.handshake_rate), applied by the control plane to punted datagrams
 * before the handshake engine spends any state or CPU on them.
 *
 * What counts as a new handshake: a ClientHello that would make the engine
 * take a handshake slot, i.e. one that carries a cookie, or any ClientHello
 * while cookies are not required (RFC 6347 §4.2.1: a ClientHello without a
 * cookie is answered statelessly with a HelloVerifyRequest when they are).
 * A refused ClientHello is dropped and counted; the device retransmits it
 * when its timer fires (RFC 6347 §4.2.4.1), so a storm is spread over time
 * instead of overflowing the handshake slots.
 *
 * The limiter is GCRA (a token bucket in time units): one handshake every
 * 1/rate seconds, with a burst of one second's worth. No floating point,
 * no allocation; time is an argument (tests drive it).
 *
 * Threads: the control thread.
 */
#ifndef STORMGATE_CONTROL_SG_ADMIT_H
#define STORMGATE_CONTROL_SG_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sg_admit {
	uint32_t rate;     /* per second; 0: unlimited */
	uint64_t interval; /* ns per handshake */
	uint64_t tat;      /* theoretical arrival time of the next one, ns */
	uint64_t admitted; /* new handshakes let through */
	uint64_t refused;  /* ... and dropped over the rate */
	uint64_t last_refused_ns;
};

/* Set the rate (0: unlimited); the burst allowance starts full. */
void sg_admit_set_rate(struct sg_admit *a, uint32_t rate, uint64_t now_ns);

/* One new handshake at now_ns: true (admitted, counted) or false (refused, counted). */
bool sg_admit_take(struct sg_admit *a, uint64_t now_ns);

/* Handshakes that would be admitted right now (the bucket's tokens); rate when unlimited. */
uint64_t sg_admit_available(const struct sg_admit *a, uint64_t now_ns);

/* What a punted datagram is, as far as admission is concerned. */
enum sg_admit_kind {
	SG_ADMIT_OTHER = 0,    /* not a ClientHello: never limited */
	SG_ADMIT_HELLO,        /* ClientHello without a cookie */
	SG_ADMIT_HELLO_COOKIE, /* ClientHello with a cookie: would start a handshake */
};

/*
 * Look at the first record of a datagram: a DTLS 1.x handshake record of
 * epoch 0 whose message is a ClientHello starting at fragment offset 0
 * (RFC 6347 §4.1, §4.2.2), and the length of its cookie (§4.2.1). Reads
 * only; anything it cannot parse is SG_ADMIT_OTHER (the engine counts it).
 */
enum sg_admit_kind sg_admit_classify(const uint8_t *dgram, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_ADMIT_H */
