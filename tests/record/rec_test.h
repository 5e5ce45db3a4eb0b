/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers for the record layer: an independent DTLS 1.2 record
 * protection written from the RFCs over OpenSSL EVP (the peer the library
 * must interoperate with), and deterministic keys (struct tc_keys and SA
 * allocation: tests/common/tc_sa.h).
 */
#ifndef SG_TEST_REC_TEST_H
#define SG_TEST_REC_TEST_H

#include <stddef.h>
#include <stdint.h>

#include <stormgate/record.h>

#include "tc_sa.h"

/*
 * Initialise sa (allocated with tc_sa_alloc()) as the server (rx = client_write)
 * or, with client != 0, as the client. Returns sg_rec_sa_init()'s result.
 */
int rt_sa_init(struct sg_rec_sa *sa, unsigned window, enum sg_aead aead, const struct tc_keys *k,
               int client, uint16_t epoch, uint8_t flags, uint64_t tx_seq);

/*
 * One AEAD operation with OpenSSL EVP. Returns 0, or -1 when enc == 0 and
 * the tag does not verify (out is then unspecified).
 */
int rt_evp_aead(enum sg_aead aead, int enc, const uint8_t *key, const uint8_t nonce[12],
                const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                uint8_t *tag);

/* Record parameters for the OpenSSL peer. */
struct rt_rec {
	enum sg_aead aead;
	const uint8_t *key;     /* write key of the sending side */
	const uint8_t *iv;      /* write IV of the sending side; CBC: the record's explicit IV */
	const uint8_t *mac_key; /* CBC: MAC key of the sending side */
	int etm;                /* CBC: encrypt-then-MAC (RFC 7366) */
	unsigned cbc_bad;       /* CBC: RT_CBC_BAD_*, corrupted before encryption */
	uint16_t epoch;
	uint64_t seq;
	uint8_t type; /* content type */
	int cid;      /* tls12_cid record (RFC 9146) */
	const uint8_t *cid_bytes;
	unsigned cid_len;
	unsigned pad_len; /* CID: zero padding; CBC: padding_length (pad_len + 1 bytes) */
};

/* What a CBC record of rt_evp_seal_record() gets wrong on purpose (rt_rec.cbc_bad). */
#define RT_CBC_BAD_PAD_BYTE 1 /* the first padding byte differs from padding_length */
#define RT_CBC_BAD_PAD_LEN  2 /* padding_length 255, more than the record holds */
#define RT_CBC_BAD_MAC      3 /* the MAC's first byte flipped (MtE: inside the encryption) */

/*
 * Protect pt into a DTLS 1.2 record at out (room: len + 13 + cid_len + 8 + 1 +
 * pad + 16; CBC: len + 13 + 16 + 32 + pad + 1) with OpenSSL; returns the record
 * length (0: OpenSSL failed, or CBC padding that leaves no block multiple).
 */
size_t rt_evp_seal_record(const struct rt_rec *r, const uint8_t *pt, size_t len, uint8_t *out);

/*
 * Open the record at rec (rec_len bytes) with OpenSSL; r gives aead, key, iv
 * and cid_len (cid: expect tls12_cid). Returns the plaintext length written
 * to pt and the content type in *type, or -1.
 */
long rt_evp_open_record(const struct rt_rec *r, const uint8_t *rec, size_t rec_len, uint8_t *pt,
                        uint8_t *type);

/*
 * Whether ctx holds key, or any 16-byte round key of its AES encryption
 * schedule (AES-128, or AES-256 for SG_AEAD_AES_256_GCM; round 0 is the key
 * itself), or for ChaCha20-Poly1305 the raw key: what no context may keep
 * after a wipe (sg_rec_ctx_holds()). The schedules come from IPsec-MB's key
 * expansion, the layout the record layer stores.
 */
int rt_ctx_holds_key(const struct sg_rec_ctx *ctx, enum sg_aead aead, const uint8_t *key);

#endif /* SG_TEST_REC_TEST_H */
