/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cookie secrets and ticket keys shared by several engines (struct
 * sg_hs_secrets, include/stormgate/handshake.h), internal side: how an
 * engine refreshes its own copy. A leaf of sg_handshake beside hs_cookie.c
 * and hs_ticket.c (hs_priv.h lists the stack); it knows no engine.
 *
 * Threads: one owner thread (the gateway's) rotates and imports the
 * secrets, under the object's mutex, and then moves its generation (an
 * atomic, release). Each engine keeps a copy of the keys it uses (cookie
 * HMAC keys, ticket keys with their prepared HMAC states) in its own
 * struct, read without any lock on its thread; before each datagram it
 * loads the generation (acquire) and, only when it moved since its last
 * copy, takes the mutex and copies again (sg_hs_secrets_copy). Nothing
 * else is shared. docs/handshake.md, "Shared secrets".
 */
#ifndef STORMGATE_CONTROL_HS_SECRETS_H
#define STORMGATE_CONTROL_HS_SECRETS_H

#include <stdint.h>

#include <stormgate/handshake.h>

#include "hs_cookie.h"
#include "hs_ticket.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Copy s's cookie keys and ticket keys into the engine's cache (ck, tk,
 * wiped first), under s's mutex; returns the generation they belong to,
 * which the engine keeps to compare with sg_hs_secrets_gen(). The engine's
 * thread; any number of engines at once.
 */
uint64_t sg_hs_secrets_copy(const struct sg_hs_secrets *s, struct sg_hs_cookie_keys *ck,
                            struct sg_hs_ticket_keys *tk);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_HS_SECRETS_H */
