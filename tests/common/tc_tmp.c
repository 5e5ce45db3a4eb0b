/* SPDX-License-Identifier: Apache-2.0 */
/* Temporary directories of tests (tc_tmp.h). */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tc_tmp.h"

#define TMP_PREFIX "/tmp/sg-"

int tc_tmpdir(char *dir, size_t size, const char *name)
{
	int n = snprintf(dir, size, TMP_PREFIX "%s-XXXXXX", name);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return mkdtemp(dir) != NULL ? 0 : -errno;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -errno;
}

int tc_rmtree(const char *dir)
{
	if (strncmp(dir, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 || strstr(dir, "/..") != NULL)
		return -EINVAL;
	int rc = nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);

	return rc == -1 ? -errno : rc;
}
