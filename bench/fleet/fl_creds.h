/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's credentials (docs/fleet.md, "Credentials"): device n is
 * identity fleet-%08u with PSK the first 16 bytes of HMAC-SHA256(seed,
 * identity), derived when needed, so the fleet keeps no key per device;
 * and the CSV the daemon imports (docs/config.md, "Credential CSV").
 * Any thread.
 */
#ifndef STORMGATE_FL_CREDS_H
#define STORMGATE_FL_CREDS_H

#include <stdint.h>

#define SG_FL_IDENTITY_MAX 16 /* "fleet-%08u" and its NUL, up to 10M devices */
#define SG_FL_PSK_LEN      16

/* Device n's identity into out; returns its length. */
unsigned sg_fl_identity(uint32_t n, char out[SG_FL_IDENTITY_MAX]);

/* Device's PSK for identity under seed. Returns 0 or -EIO. The caller wipes psk. */
int sg_fl_psk(const char *seed, const char *identity, uint8_t psk[SG_FL_PSK_LEN]);

/* Write devices identity,psk_hex lines to path (mode 0600). Returns 0 or -errno. */
int sg_fl_write_creds(const char *path, const char *seed, uint32_t devices);

#endif /* STORMGATE_FL_CREDS_H */
