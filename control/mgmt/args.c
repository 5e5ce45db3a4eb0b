/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arguments of the control commands, checked the same way for every command:
 * identities (as a string or in hex), integers, and no unknown member. Any
 * thread (the command's); touches nothing but the arguments.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt_priv.h"

/* "identity": a string the credential store would take. Returns its length or -EINVAL. */
static int identity_string(json_t *s, uint8_t *out, struct sg_ctl_error *err)
{
	size_t n = json_string_length(s);
	char msg[160];

	if (!json_is_string(s)) {
		sg_ctl_fail(err, SG_CTL_EARGS, "\"identity\" must be a string");
		return -EINVAL;
	}
	if (sg_cred_identity_check(json_string_value(s), n, msg, sizeof(msg)) != 0) {
		sg_ctl_fail(err, SG_CTL_EARGS, "\"identity\": %s", msg);
		return -EINVAL;
	}
	memcpy(out, json_string_value(s), n);
	return (int)n;
}

/* "identity_hex": its bytes in hex. Returns the length or -EINVAL. */
static int identity_hex(json_t *h, uint8_t *out, struct sg_ctl_error *err)
{
	size_t n = json_string_length(h);
	const char *x = json_string_value(h);
	char msg[160];

	if (!json_is_string(h) || n == 0 || n % 2 || n / 2 > SG_CRED_IDENTITY_MAX) {
		sg_ctl_fail(err, SG_CTL_EARGS,
		            "\"identity_hex\" must be 2..%d hex digits, an even number",
		            2 * SG_CRED_IDENTITY_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i += 2) {
		unsigned v;

		if (sscanf(x + i, "%2x", &v) != 1 || !isxdigit((unsigned char)x[i]) ||
		    !isxdigit((unsigned char)x[i + 1])) {
			sg_ctl_fail(err, SG_CTL_EARGS,
			            "\"identity_hex\" has a non-hex character at digit %zu", i + 1);
			return -EINVAL;
		}
		out[i / 2] = (uint8_t)v;
	}
	if (sg_cred_identity_check(out, n / 2, msg, sizeof(msg)) != 0) {
		sg_ctl_fail(err, SG_CTL_EARGS, "\"identity_hex\": %s", msg);
		return -EINVAL;
	}
	return (int)(n / 2);
}

int mgmt_arg_identity(json_t *args, uint8_t *out, struct sg_ctl_error *err)
{
	json_t *s = json_object_get(args, "identity"), *h = json_object_get(args, "identity_hex");

	if (s != NULL && h != NULL) {
		sg_ctl_fail(err, SG_CTL_EARGS, "give \"identity\" or \"identity_hex\", not both");
		return -EINVAL;
	}
	if (s != NULL)
		return identity_string(s, out, err);
	if (h != NULL)
		return identity_hex(h, out, err);
	return 0;
}

int mgmt_arg_int(json_t *args, const char *key, json_int_t def, json_int_t min, json_int_t max,
                 json_int_t *out, struct sg_ctl_error *err)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL) {
		*out = def;
		return 0;
	}
	/* stormctl sends KEY=VALUE arguments as strings. */
	if (json_is_string(v)) {
		char *end;
		long long x = strtoll(json_string_value(v), &end, 10);

		if (json_string_value(v)[0] == '\0' || *end != '\0')
			goto bad;
		*out = x;
	} else if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else {
		goto bad;
	}
	if (*out >= min && *out <= max)
		return 0;
bad:
	sg_ctl_fail(err, SG_CTL_EARGS,
	            "\"%s\" must be an integer in %" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT,
	            key, min, max);
	return -EINVAL;
}

int mgmt_args_known(json_t *args, const char *const *names, struct sg_ctl_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(args, key, v)
	{
		size_t i;

		(void)v;
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (names[i] == NULL) {
			sg_ctl_fail(err, SG_CTL_EARGS, "unknown argument \"%.48s\"", key);
			return -EINVAL;
		}
	}
	return 0;
}
