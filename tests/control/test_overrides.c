/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live policy overrides management keeps and stores
 * (control/mgmt/overrides.h): a table of texts the store could hand back
 * (empty lines, CRLF, a key twice, the malformed ones refused whole); put,
 * replace, drop in order; and the text they write applied with
 * sg_config_apply_overrides() over the defaults gives the policy `policy
 * set` made, and loads back into the same overrides.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stormgate/dtls.h>

#include "overrides.h"
#include "sg_config.h"

static void test_load_rows(void **state)
{
	static char long_key[MGMT_OVR_KEY_MAX + 8], long_value[MGMT_OVR_VALUE_MAX + 8];
	static char many[MGMT_OVR_MAX * 16 + 16];
	static const struct {
		const char *what;
		const char *text;
		size_t len;              /* 0: strlen */
		int rc;                  /* mgmt_ovr_load()'s answer */
		const char *key, *value; /* a key and its value after, when rc > 0 */
	} rows[] = {
		{ "nothing", "", 0, 0, NULL, NULL },
		{ "one line", "cookie_mode=always\n", 0, 1, "cookie_mode", "always" },
		{ "no newline at the end", "cookie_mode=always\nkey_lifetime=1h", 0, 2,
		  "key_lifetime", "1h" },
		{ "empty lines and CRLF", "\n\r\ncookie_mode=never\r\n\n", 0, 1, "cookie_mode",
		  "never" },
		{ "a key twice: the later wins", "cookie_mode=always\ncookie_mode=never\n", 0, 1,
		  "cookie_mode", "never" },
		{ "'=' inside the value", "a=b=c\n", 0, 1, "a", "b=c" },
		{ "an empty value is kept (the config refuses it)", "a=\n", 0, 1, "a", "" },
		{ "a line without '='", "cookie_mode=always\nnonsense\n", 0, -EINVAL, NULL, NULL },
		{ "an empty key", "=always\n", 0, -EINVAL, NULL, NULL },
		{ "a NUL inside", "cookie_mode=al\0ways\n", 20, -EINVAL, NULL, NULL },
		{ "a key too long", long_key, 0, -EINVAL, NULL, NULL },
		{ "a value too long", long_value, 0, -EINVAL, NULL, NULL },
		{ "more keys than fit", many, 0, -ENOSPC, NULL, NULL },
	};
	struct mgmt_ovr *o = calloc(1, sizeof(*o));
	size_t off = 0;

	(void)state;
	assert_non_null(o);
	memset(long_key, 'k', sizeof(long_key) - 3);
	memcpy(long_key + sizeof(long_key) - 3, "=1", 3);
	memcpy(long_value, "a=", 2);
	memset(long_value + 2, 'v', sizeof(long_value) - 3);
	for (int i = 0; i <= MGMT_OVR_MAX; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "key%d=%d\n", i, i);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].text);

		print_message("%s\n", rows[i].what);
		mgmt_ovr_put(o, "left", "over"); /* a load replaces what was there */
		assert_int_equal(mgmt_ovr_load(o, rows[i].text, len), rows[i].rc);
		assert_int_equal(o->n, rows[i].rc > 0 ? (unsigned)rows[i].rc : 0);
		assert_null(mgmt_ovr_get(o, "left"));
		if (rows[i].key != NULL)
			assert_string_equal(mgmt_ovr_get(o, rows[i].key), rows[i].value);
	}
	free(o);
}

static void test_put_drop(void **state)
{
	struct mgmt_ovr *o = calloc(1, sizeof(*o));
	size_t len;
	char *text;

	(void)state;
	assert_non_null(o);
	assert_int_equal(mgmt_ovr_put(o, "cookie_mode", "never"), 0);
	assert_int_equal(mgmt_ovr_put(o, "key_lifetime", "1h"), 0);
	assert_int_equal(mgmt_ovr_put(o, "handshake_rate", "100"), 0);
	assert_int_equal(mgmt_ovr_put(o, "key_lifetime", "2h"), 0); /* replaced in place */
	assert_int_equal(mgmt_ovr_put(o, "", "1"), -EINVAL);
	assert_int_equal(mgmt_ovr_put(o, "a=b", "1"), -EINVAL);
	assert_int_equal(mgmt_ovr_put(o, "cookie_mode", "never\nkey_lifetime=5"), -EINVAL);
	assert_true(mgmt_ovr_drop(o, "cookie_mode"));
	assert_false(mgmt_ovr_drop(o, "cookie_mode"));
	assert_false(mgmt_ovr_drop(o, "suites"));
	text = mgmt_ovr_text(o, &len);
	assert_non_null(text);
	assert_string_equal(text, "key_lifetime=2h\nhandshake_rate=100\n");
	assert_int_equal(len, strlen(text));
	free(text);
	o->n = 0;
	text = mgmt_ovr_text(o, &len);
	assert_non_null(text);
	assert_string_equal(text, "");
	assert_int_equal(len, 0);
	free(text);
	free(o);
}

/* What `policy set` records, stored and applied at the next start, is that policy. */
static void test_applies_as_set(void **state)
{
	struct mgmt_ovr *o = calloc(1, sizeof(*o)), *back = calloc(1, sizeof(*back));
	struct sg_config *cfg = malloc(sizeof(*cfg));
	json_t *a, *b;
	char msg[256], *text;
	size_t len;

	(void)state;
	assert_true(o != NULL && back != NULL && cfg != NULL);
	sg_config_defaults(cfg);
	assert_int_not_equal(cfg->policy.cookie_mode, SG_COOKIE_NEVER);
	assert_int_equal(mgmt_ovr_put(o, "cookie_mode", "never"), 0);
	assert_int_equal(mgmt_ovr_put(o, "suites", "[TLS_PSK_WITH_AES_128_CCM_8]"), 0);
	assert_int_equal(mgmt_ovr_put(o, "key_lifetime", "1h"), 0);
	text = mgmt_ovr_text(o, &len);
	assert_non_null(text);
	assert_int_equal(sg_config_apply_overrides(cfg, text, len, msg, sizeof(msg)), 3);
	assert_int_equal(cfg->policy.cookie_mode, SG_COOKIE_NEVER);
	assert_int_equal(cfg->policy.n_suites, 1);
	assert_int_equal(cfg->policy.suites[0], SG_TLS_PSK_WITH_AES_128_CCM_8);
	assert_int_equal(cfg->policy.key_lifetime, 3600);
	assert_int_equal(mgmt_ovr_load(back, text, len), 3);
	a = mgmt_ovr_json(o);
	b = mgmt_ovr_json(back);
	assert_true(a != NULL && b != NULL && json_equal(a, b));
	assert_string_equal(json_string_value(json_object_get(a, "suites")),
	                    "[TLS_PSK_WITH_AES_128_CCM_8]");
	json_decref(a);
	json_decref(b);
	free(text);
	free(cfg);
	free(back);
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_rows),
		cmocka_unit_test(test_put_drop),
		cmocka_unit_test(test_applies_as_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
