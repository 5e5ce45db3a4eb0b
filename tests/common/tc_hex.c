/* SPDX-License-Identifier: Apache-2.0 */
/* Hex decoding for the tests (tc_hex.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tc_hex.h"

size_t tc_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t len = strlen(hex), n = len / 2;

	if (len % 2 != 0 || n > cap)
		fail_msg("hex string of %zu digits for %zu bytes: \"%.40s\"", len, cap, hex);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

uint8_t *tc_unhex_alloc(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	n = tc_unhex(hex, p, n);
	if (len != NULL)
		*len = n;
	return p;
}
