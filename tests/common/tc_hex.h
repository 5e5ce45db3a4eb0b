/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hex strings of test vectors and capture notes into bytes. A malformed
 * string fails the running cmocka test. Any thread; no state.
 */
#ifndef SG_TESTS_TC_HEX_H
#define SG_TESTS_TC_HEX_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decode hex (an even number of hex digits, no separators) into out, which
 * holds cap bytes. Returns the number of bytes written.
 */
size_t tc_unhex(const char *hex, uint8_t *out, size_t cap);

/*
 * The same into a new buffer of the string's length (at least 1 byte, so an
 * empty string gives a valid pointer), stored in *len when len is not NULL.
 * The caller frees it.
 */
uint8_t *tc_unhex_alloc(const char *hex, size_t *len);

#endif /* SG_TESTS_TC_HEX_H */
