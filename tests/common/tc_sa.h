/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Security associations of test sessions, for the tests of the record layer,
 * the data plane, the gateway glue and the benchmarks' baselines: keys,
 * allocation, and both ends of one session (the gateway's and the device's
 * mirror image). Failures fail
 * the running cmocka test. Any thread; no state.
 */
#ifndef SG_TESTS_TC_SA_H
#define SG_TESTS_TC_SA_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/record.h>

/* Keys, IVs and (CBC-SHA256) MAC keys of both directions of one test session. */
struct tc_keys {
	uint8_t client_key[32], server_key[32];
	uint8_t client_iv[12], server_iv[12];
	uint8_t client_mac[32], server_mac[32];
};

/* len bytes of a deterministic pattern of seed (splitmix64), for payloads and keys. */
void tc_fill(uint8_t *p, size_t len, uint64_t seed);

/* Keys and IVs of test session seed: a fixed function of seed, other for every seed. */
void tc_keys_make(struct tc_keys *k, uint64_t seed);

/* A zeroed, cache-aligned SA for window bits, wide enough for any suite
 * (sg_rec_sa_size_max()); free it with tc_sa_free(). */
struct sg_rec_sa *tc_sa_alloc(unsigned window);

/* Wipe (sg_rec_sa_wipe()) and free an SA of tc_sa_alloc(); NULL is fine. */
void tc_sa_free(struct sg_rec_sa *sa, unsigned window);

/*
 * Both ends of one session with window bits, from p (AEAD, epoch, sequence
 * numbers, flags, limits; its keys are not read) and k: gw as the gateway
 * holds it (rx = client_write, tx = server_write, RFC 5246 §6.3), dev as the
 * device does (the mirror image); either may be NULL. Each is initialised by
 * sg_rec_sa_init(), which must accept it.
 */
void tc_sa_pair(struct sg_rec_sa *gw, struct sg_rec_sa *dev, unsigned window,
                const struct sg_rec_sa_params *p, const struct tc_keys *k);

#endif /* SG_TESTS_TC_SA_H */
