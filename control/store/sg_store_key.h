/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session store's key: the AES-256-GCM key every stored session record
 * is sealed under (sg_store_rec.h), and its key id, which each record
 * carries so a record sealed under another key is refused by name rather
 * than as a forgery. Read once by the control plane at start; any thread
 * may call these (no shared state). docs/restart.md, "The store key".
 */
#ifndef STORMGATE_CONTROL_SG_STORE_KEY_H
#define STORMGATE_CONTROL_SG_STORE_KEY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_STORE_KEY_LEN 32 /* AES-256-GCM key bytes; also the key file's exact size */

/*
 * A store key. id is the first four bytes of
 * SHA-256("stormgate store key id" || key), big endian: it names the key
 * without revealing it. Wipe with sg_store_key_wipe() when done.
 */
struct sg_store_key {
	uint8_t key[SG_STORE_KEY_LEN];
	uint32_t id;
};

/*
 * Read the key from path, a regular file of exactly SG_STORE_KEY_LEN raw
 * bytes, mode 0600 or narrower, owned by this user. When path does not exist
 * it is created (O_EXCL, mode 0600) with a key from the CSPRNG (RAND_bytes)
 * and fsynced with its directory. Returns 0 with *key filled, or:
 *   -EPERM   the file is readable or writable by group or others, or owned by
 *            another user (the key would not be secret);
 *   -EINVAL  not a regular file, or not exactly SG_STORE_KEY_LEN bytes;
 *   -EIO     the CSPRNG failed;
 *   other -errno of open/read/write/fsync (e.g. -ENOENT: no such directory).
 * *key is wiped on every error.
 */
int sg_store_key_file(const char *path, struct sg_store_key *key);

/*
 * Read the key from the systemd credential name: the file
 * $CREDENTIALS_DIRECTORY/name (LoadCredential=, LoadCredentialEncrypted=),
 * exactly SG_STORE_KEY_LEN raw bytes. Returns 0, or:
 *   -ENOENT  $CREDENTIALS_DIRECTORY is not set (not started by systemd with a
 *            credential), or it holds no such credential;
 *   -EINVAL  name is empty or holds a '/', or the credential is not exactly
 *            SG_STORE_KEY_LEN bytes;
 *   other -errno of open/read.
 * No permission check: systemd makes the directory readable by the service
 * alone. *key is wiped on every error.
 */
int sg_store_key_credential(const char *name, struct sg_store_key *key);

/* Fill key->id from key->key. 0 or -EIO (libcrypto failed). */
int sg_store_key_set_id(struct sg_store_key *key);

/* Wipe the key (explicit_bzero). */
void sg_store_key_wipe(struct sg_store_key *key);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_STORE_KEY_H */
