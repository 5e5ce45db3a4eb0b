/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Temporary directories of tests that need files or sockets: made under
 * /tmp with the test's name, removed whole at teardown. Any thread; no state.
 */
#ifndef SG_TESTS_TC_TMP_H
#define SG_TESTS_TC_TMP_H

#include <stddef.h>

/*
 * A new empty directory /tmp/sg-<name>-XXXXXX (mkdtemp(3)); its path goes to
 * dir (size bytes). 0 or -errno.
 */
int tc_tmpdir(char *dir, size_t size, const char *name);

/*
 * Remove dir and everything under it (links are removed, not followed). Only
 * a directory tc_tmpdir() made: anything else is refused with -EINVAL.
 * 0 or -errno of the first removal that failed.
 */
int tc_rmtree(const char *dir);

#endif /* SG_TESTS_TC_TMP_H */
