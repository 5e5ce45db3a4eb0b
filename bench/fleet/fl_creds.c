/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's credentials (fl_creds.h), over OpenSSL's HMAC. Any thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stormgate/common.h>

#include "fl_creds.h"

unsigned sg_fl_identity(uint32_t n, char out[SG_FL_IDENTITY_MAX])
{
	return (unsigned)snprintf(out, SG_FL_IDENTITY_MAX, "fleet-%08u", n);
}

int sg_fl_psk(const char *seed, const char *identity, uint8_t psk[SG_FL_PSK_LEN])
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int rc = 0;

	if (HMAC(EVP_sha256(), seed, (int)strlen(seed), (const uint8_t *)identity, strlen(identity),
	         mac, &len) == NULL ||
	    len < SG_FL_PSK_LEN)
		rc = -EIO;
	else
		memcpy(psk, mac, SG_FL_PSK_LEN);
	sg_wipe(mac, sizeof(mac));
	return rc;
}

int sg_fl_write_creds(const char *path, const char *seed, uint32_t devices)
{
	static const char hex[] = "0123456789abcdef";
	char id[SG_FL_IDENTITY_MAX], line[SG_FL_IDENTITY_MAX + 2 * SG_FL_PSK_LEN + 4];
	uint8_t psk[SG_FL_PSK_LEN];
	int fd, rc = 0;
	FILE *f;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (f == NULL) {
		rc = -errno;
		close(fd);
		return rc;
	}
	fputs("identity,psk_hex\n", f);
	for (uint32_t n = 0; n < devices && rc == 0; n++) {
		unsigned l = sg_fl_identity(n, id);

		rc = sg_fl_psk(seed, id, psk);
		memcpy(line, id, l);
		line[l++] = ',';
		for (unsigned k = 0; k < SG_FL_PSK_LEN; k++) {
			line[l++] = hex[psk[k] >> 4];
			line[l++] = hex[psk[k] & 15];
		}
		line[l++] = '\n';
		if (rc == 0 && fwrite(line, 1, l, f) != l)
			rc = -EIO;
	}
	sg_wipe(psk, sizeof(psk));
	sg_wipe(line, sizeof(line));
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}
