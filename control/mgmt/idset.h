/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A set of PSK identities (1..SG_CRED_IDENTITY_MAX bytes each): the
 * identities a credential import takes a key from, collected line by line
 * on the management thread and handed whole to the gateway thread at the
 * commit (revoke.c). The bytes live in one growing arena (a length byte,
 * then the identity), found again through an open-addressing table of
 * offsets, so a million identities cost their bytes plus about 9 bytes
 * each. Not thread-safe: one thread at a time, handed over whole.
 */
#ifndef STORMGATE_CONTROL_IDSET_H
#define STORMGATE_CONTROL_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mgmt_idset {
	uint8_t *arena; /* len, bytes[len], len, bytes[len], ... */
	size_t used, cap;
	uint32_t *slots;  /* 0: free, else 1 + the entry's offset in the arena */
	uint32_t n_slots; /* a power of two, or 0 */
	uint32_t n;       /* identities in the set */
};

/* An empty set needs no set-up: a zeroed struct is one. */

/*
 * Add identity (1..SG_CRED_IDENTITY_MAX bytes, copied). Returns 0, 1 when
 * it was in the set already, -EINVAL (length), or -ENOMEM (the set is
 * unchanged; the arena is limited to 4 GiB).
 */
int mgmt_idset_add(struct mgmt_idset *s, const uint8_t *identity, size_t len);

/* Is identity in the set? */
bool mgmt_idset_has(const struct mgmt_idset *s, const uint8_t *identity, size_t len);

/*
 * Walk the set in the order the identities were added: *cursor 0 first.
 * Returns the next identity (its length in *len) or NULL at the end.
 */
const uint8_t *mgmt_idset_next(const struct mgmt_idset *s, size_t *cursor, size_t *len);

/* Free what the set holds; it is empty again. */
void mgmt_idset_clear(struct mgmt_idset *s);

#endif /* STORMGATE_CONTROL_IDSET_H */
