/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The value parsers and printers of the configuration (sg_cfg_values.h):
 * text in, a number or an address out, and back. They know nothing of keys,
 * trees or error messages; walk.c turns their -EINVAL and -ERANGE into
 * `file:line:column` errors. libc only; any thread; no state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sg_cfg_values.h"

int sg_cfg_int_parse(const char *s, int64_t *out)
{
	int base = 10, neg = 0;
	char *end;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		if (neg)
			return -EINVAL;
		base = s[1] == 'x' ? 16 : 8;
		s += 2;
	}
	if (*s == '\0' || !((*s >= '0' && *s <= '9') || (base == 16 && strchr("abcdefABCDEF", *s))))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v > (unsigned long long)INT64_MAX)
		return -ERANGE;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* The decimal number that starts s into *v and what follows it into *unit. */
static int number_then_unit(const char *s, int64_t *v, const char **unit)
{
	char num[32];
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n >= sizeof(num))
		return n == 0 ? -EINVAL : -ERANGE;
	memcpy(num, s, n);
	num[n] = '\0';
	if (sg_cfg_int_parse(num, v) != 0)
		return -ERANGE;
	*unit = s + n;
	return 0;
}

int sg_uint_parse(const char *s, uint64_t *out)
{
	const char *rest;
	int64_t v;
	int rc = number_then_unit(s, &v, &rest);

	if (rc != 0)
		return rc;
	if (*rest != '\0')
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

/*
 * The duration units, in milliseconds, largest first (the printers look for
 * the largest that divides a value). "ms" only in a millisecond duration.
 */
static const struct {
	const char *unit;
	int64_t ms;
} duration_units[] = {
	{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
};

/* s as a number with at most one unit of duration_units (bare: `bare_ms`), in ms / div. */
static int duration_parse(const char *s, int64_t bare_ms, int64_t div, uint64_t *out)
{
	const char *u;
	int64_t v, mul = 0;
	int rc = number_then_unit(s, &v, &u);

	if (rc != 0)
		return rc;
	if (u[0] == '\0')
		mul = bare_ms;
	for (size_t i = 0; mul == 0 && i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (strcmp(u, duration_units[i].unit) == 0)
			mul = duration_units[i].ms;
	if (mul == 0 || mul % div != 0)
		return -EINVAL;
	mul /= div;
	if (v > INT64_MAX / mul)
		return -ERANGE;
	*out = (uint64_t)(v * mul);
	return 0;
}

int sg_duration_parse(const char *s, uint64_t *seconds)
{
	return duration_parse(s, 1000, 1000, seconds);
}

int sg_duration_ms_parse(const char *s, uint64_t *ms)
{
	return duration_parse(s, 1, 1, ms);
}

int sg_size_parse(const char *s, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	const char *u;
	int64_t v;
	int rc = number_then_unit(s, &v, &u);

	if (rc != 0)
		return rc;
	if (*u == '\0' || strcmp(u, "B") == 0) {
		*bytes = (uint64_t)v;
		return 0;
	}
	/* strchr() finds the terminating NUL too: a space (0x20 & ~0x20 == 0) is no unit. */
	const char *pos = strchr(units, u[0] & ~0x20);
	if (pos == NULL || *pos == '\0' ||
	    !(u[1] == '\0' || strcmp(u + 1, "B") == 0 || strcmp(u + 1, "iB") == 0))
		return -EINVAL;
	int shift = 10 * (int)(pos - units + 1);
	if (v > (INT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)v << shift;
	return 0;
}

/* v (in units of `unit` ms) in the largest unit that divides it; "0<zero>" for 0. */
static char *duration_str(uint64_t v, uint64_t unit, const char *zero, char *buf, size_t len)
{
	const size_t n = sizeof(duration_units) / sizeof(duration_units[0]);

	for (size_t i = 0; v != 0 && i < n; i++) {
		uint64_t per = (uint64_t)duration_units[i].ms / unit;

		if ((uint64_t)duration_units[i].ms % unit == 0 && v % per == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", v / per, duration_units[i].unit);
			return buf;
		}
	}
	snprintf(buf, len, "0%s", zero);
	return buf;
}

char *sg_duration_str(uint64_t seconds, char *buf, size_t len)
{
	return duration_str(seconds, 1000, "s", buf, len);
}

char *sg_duration_ms_str(uint64_t ms, char *buf, size_t len)
{
	return duration_str(ms, 1, "ms", buf, len);
}

char *sg_size_str(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "TGMK";
	int shift = 40;

	for (const char *u = units; *u != '\0'; u++, shift -= 10) {
		if (bytes != 0 && bytes % (UINT64_C(1) << shift) == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", bytes >> shift, *u);
			return buf;
		}
	}
	snprintf(buf, len, "%" PRIu64, bytes);
	return buf;
}

int sg_cfg_mode_parse(const char *s, int64_t *out)
{
	char *end;

	errno = 0;
	unsigned long m = strtoul(s[0] == '0' && s[1] == 'o' ? s + 2 : s, &end, 8);
	if (!(*s >= '0' && *s <= '7' && *end == '\0' && errno == 0))
		return -EINVAL;
	*out = (int64_t)(m > 07777 ? 07777 + 1 : m);
	return 0;
}

int sg_cfg_bool_parse(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

int sg_cfg_enum_parse(const char *const *names, const char *s)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -EINVAL;
}

void sg_cfg_names_list(const char *const *names, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] != NULL && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
}

int sg_cfg_name_valid(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

int sg_cfg_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int sg_cfg_prefix_parse(const char *s, struct sg_cfg_prefix *p)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	int64_t len;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, ip, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, p->addr) == 1)
		p->family = AF_INET6;
	else
		return -EINVAL;
	if (sg_cfg_int_parse(slash + 1, &len) != 0 || slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	if (len < 0 || len > (p->family == AF_INET ? 32 : 128))
		return -ERANGE;
	p->len = (uint8_t)len;
	return 0;
}

int sg_cfg_addr_parse(const char *s, struct sg_cfg_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, s, p->addr) == 1) {
		p->family = AF_INET;
		p->len = 32;
	} else if (inet_pton(AF_INET6, s, p->addr) == 1) {
		p->family = AF_INET6;
		p->len = 128;
	} else {
		return -EINVAL;
	}
	return 0;
}

int sg_cfg_endpoint_parse(const char *s, struct sg_cfg_endpoint *e)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *colon, *start = s;
	size_t n;
	int64_t port;

	memset(e, 0, sizeof(*e));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return -EINVAL;
		start = s + 1;
		n = (size_t)(close - start);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || strchr(s, ':') != colon)
			return -EINVAL;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, start, n);
	ip[n] = '\0';
	if (s[0] != '[' && inet_pton(AF_INET, ip, e->addr) == 1)
		e->family = AF_INET;
	else if (s[0] == '[' && inet_pton(AF_INET6, ip, e->addr) == 1)
		e->family = AF_INET6;
	else
		return -EINVAL;
	if (colon[1] < '0' || colon[1] > '9' || sg_cfg_int_parse(colon + 1, &port) != 0)
		return -EINVAL;
	if (port < 1 || port > 65535)
		return -ERANGE;
	e->port = (uint16_t)port;
	return 0;
}

int sg_cfg_endpoint_loopback(const struct sg_cfg_endpoint *e)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	if (e->family == AF_INET)
		return e->addr[0] == 127;
	return e->family == AF_INET6 && memcmp(e->addr, v6_loopback, sizeof(v6_loopback)) == 0;
}

char *sg_cfg_prefix_str(const struct sg_cfg_prefix *p, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (inet_ntop(p->family, p->addr, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, len, "%s/%u", ip, p->len);
	return buf;
}

char *sg_cfg_endpoint_str(const struct sg_cfg_endpoint *e, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (inet_ntop(e->family, e->addr, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, len, e->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, e->port);
	return buf;
}
