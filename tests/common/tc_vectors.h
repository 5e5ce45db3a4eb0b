/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test vector files of ../shared/testvectors (the SG_TESTVECTORS directory
 * tests/meson.build sets): Wycheproof JSON, parsed with jansson. A missing
 * or malformed file fails the running cmocka test. Any thread.
 */
#ifndef SG_TESTS_TC_VECTORS_H
#define SG_TESTS_TC_VECTORS_H

#include <jansson.h>

/*
 * The Wycheproof file name (e.g. "aes_gcm_test.json") of
 * $SG_TESTVECTORS/wycheproof, parsed. The caller json_decref()s it.
 */
json_t *tc_wycheproof_load(const char *name);

#endif /* SG_TESTS_TC_VECTORS_H */
