/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sealed envelope every stored value shares (session records and meta
 * records), private to control/store/:
 *   u8 version | u32 key_id | u16 body_len | nonce[12] | body[body_len] | tag[16]
 * (version: the body's, the caller's to choose and check: 1 for meta
 * records, 1 or 2 for session records, sg_store_rec.h). AES-256-GCM under the store key; the AAD is
 * the 7 header bytes followed by what the value is bound to (a session record: its slot, u32 big
 * endian; a meta record: "meta:" and its name), so a value moved to another place, re-labelled or
 * cut does not open. Control plane; a sealer belongs to one thread.
 */
#ifndef STORMGATE_CONTROL_STORE_SEAL_H
#define STORMGATE_CONTROL_STORE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "sg_store_rec.h"

/* Sealed bytes of a body of len bytes. */
#define SG_STORE_SEALED_LEN(len) (SG_STORE_REC_HDR + SG_STORE_REC_NONCE + (len) + SG_STORE_REC_TAG)

/*
 * Seal len bytes of body (len <= UINT16_MAX) as a value of this version
 * (1..SG_STORE_REC_VERSION) bound to bind into out (cap bytes). Returns the sealed length, -ENOBUFS
 * (cap too small), -EINVAL (len) or -EIO (libcrypto); out is wiped on -EIO. A nonce is used once,
 * even when the seal fails.
 */
int sg_store_seal(struct sg_store_sealer *s, unsigned version, const uint8_t *bind, size_t bind_len,
                  const uint8_t *body, size_t len, uint8_t *out, size_t cap);

/*
 * Open the len bytes at in, bound to bind, into body (cap bytes), with s's
 * key (its nonce is not used); a version above max_version (or 0) is not
 * read, and *version (unless NULL) gets the value's. Returns
 * the body's length or the -errno of an enum sg_store_bad reason
 * (-ENODATA, -EPROTONOSUPPORT, -EKEYREJECTED, -EMSGSIZE, -EBADMSG), checked
 * in that order, or -ENOBUFS when the body does not fit cap, -EIO
 * (libcrypto). body is wiped on every failure: nothing unauthenticated is
 * left in it.
 */
int sg_store_unseal(struct sg_store_sealer *s, unsigned max_version, const uint8_t *bind,
                    size_t bind_len, const uint8_t *in, size_t len, uint8_t *body, size_t cap,
                    unsigned *version);

#endif /* STORMGATE_CONTROL_STORE_SEAL_H */
