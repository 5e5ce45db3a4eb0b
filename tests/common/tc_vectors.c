/* SPDX-License-Identifier: Apache-2.0 */
/* Test vector files (tc_vectors.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "tc_vectors.h"

json_t *tc_wycheproof_load(const char *name)
{
	const char *dir = getenv("SG_TESTVECTORS");
	char path[1024];
	json_error_t err;
	json_t *root;

	if (dir == NULL)
		fail_msg("SG_TESTVECTORS is not set");
	snprintf(path, sizeof(path), "%s/wycheproof/%s", dir, name);
	root = json_load_file(path, 0, &err);
	if (root == NULL)
		fail_msg("%s: %s (line %d)", path, err.text, err.line);
	return root;
}
