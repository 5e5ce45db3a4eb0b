/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store key from a 0600 file (made at first use) or from a systemd
 * credential. Called by the control plane at start; no shared state.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stormgate/bytes.h>
#include <stormgate/common.h>

#include "sg_store_key.h"

static const char key_id_label[] = "stormgate store key id";

int sg_store_key_set_id(struct sg_store_key *key)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -EIO;

	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, key_id_label, sizeof(key_id_label) - 1) == 1 &&
	    EVP_DigestUpdate(ctx, key->key, sizeof(key->key)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len >= 4) {
		key->id = sg_load_be32(md);
		rc = 0;
	}
	EVP_MD_CTX_free(ctx);
	sg_wipe(md, sizeof(md));
	return rc;
}

void sg_store_key_wipe(struct sg_store_key *key)
{
	sg_wipe(key, sizeof(*key));
}

/* Read exactly SG_STORE_KEY_LEN bytes from fd, which must hold no more. */
static int read_key(int fd, struct sg_store_key *key)
{
	uint8_t extra;
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(key->key)) {
		n = read(fd, key->key + got, sizeof(key->key) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EINVAL; /* short */
		got += (size_t)n;
	}
	do {
		n = read(fd, &extra, 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != 0)
		return -EINVAL; /* long */
	return sg_store_key_set_id(key);
}

/* fsync the directory holding path, so a new key file's name is durable. */
static int sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc = 0;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Make path with a fresh key. -EEXIST when another process made it first. */
static int create_key(const char *path, struct sg_store_key *key)
{
	size_t done = 0;
	ssize_t n;
	int fd, rc = 0;

	if (RAND_bytes(key->key, (int)sizeof(key->key)) != 1)
		return -EIO;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (rc == 0 && done < sizeof(key->key)) {
		n = write(fd, key->key + done, sizeof(key->key) - done);
		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n > 0)
			done += (size_t)n;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc == 0)
		rc = sync_dir(path);
	if (rc == 0)
		rc = sg_store_key_set_id(key);
	if (rc != 0)
		unlink(path); /* never leave a key file nobody can trust */
	return rc;
}

int sg_store_key_file(const char *path, struct sg_store_key *key)
{
	struct stat st;
	int fd, rc;

	memset(key, 0, sizeof(*key));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		rc = create_key(path, key);
		if (rc != -EEXIST)
			goto out;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (fstat(fd, &st) != 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL;
	else if ((st.st_mode & 077) != 0 || st.st_uid != geteuid())
		rc = -EPERM;
	else
		rc = read_key(fd, key);
	close(fd);
out:
	if (rc != 0)
		sg_store_key_wipe(key);
	return rc;
}

int sg_store_key_credential(const char *name, struct sg_store_key *key)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX];
	int fd, rc;

	memset(key, 0, sizeof(*key));
	if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL)
		return -EINVAL;
	if (dir == NULL || dir[0] == '\0')
		return -ENOENT;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = read_key(fd, key);
	close(fd);
	if (rc != 0)
		sg_store_key_wipe(key);
	return rc;
}
