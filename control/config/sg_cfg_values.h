/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Values as the configuration spells them, from and to text: durations
 * ("90s", "15m", "24h", "7d"; in milliseconds "250ms", "2s"), sizes
 * ("64K", "512MiB", "4G"), YAML 1.2 core integers, octal modes, names,
 * addresses with a prefix length and endpoints (docs/config.md, "Value
 * types"); and the plain decimal numbers of command-line options.
 *
 * This is the project's one parser and printer of durations and sizes, and
 * its one parser of a number or an endpoint given on a command line.
 * libc only (no DPDK, no libfyaml): a program that must not link those
 * (stormctl, the credential store) reaches it through sg_cfgval_dep. Every
 * function is pure: any thread, no state. Parsers return 0, -EINVAL (not
 * the form) or -ERANGE (the form, but too large); on error *out is
 * unspecified.
 */
#ifndef STORMGATE_CONTROL_SG_CFG_VALUES_H
#define STORMGATE_CONTROL_SG_CFG_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An IPv4 or IPv6 address with prefix length: "198.18.1.1/24" (a lone address: /32, /128). */
struct sg_cfg_prefix {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t len;    /* prefix length */
	uint8_t addr[16];
};

/* An IPv4 or IPv6 address with UDP port: "198.18.2.10:5683", "[fd00:5347:2::10]:5683". */
struct sg_cfg_endpoint {
	uint8_t family;
	uint16_t port;
	uint8_t addr[16];
};

/* Buffer sizes that hold any sg_duration_str() and sg_size_str() output. */
#define SG_DURATION_STR_MAX 24
#define SG_SIZE_STR_MAX     24

/*
 * "90", "90s", "15m", "24h", "7d" -> seconds (decimal digits, then at most
 * one unit). At most INT64_MAX.
 */
int sg_duration_parse(const char *s, uint64_t *seconds);

/*
 * seconds -> text sg_duration_parse() reads back to the same value, in the
 * largest unit that divides it ("7d", "24h", "15m", "90s", "0s"). Returns buf.
 */
char *sg_duration_str(uint64_t seconds, char *buf, size_t len);

/*
 * A duration in milliseconds: "250", "250ms", "2s", "1m" (a bare number is
 * milliseconds; the units of sg_duration_parse() and "ms"). At most INT64_MAX.
 */
int sg_duration_ms_parse(const char *s, uint64_t *ms);

/* ms -> text sg_duration_ms_parse() reads back, in the largest unit that divides it. */
char *sg_duration_ms_str(uint64_t ms, char *buf, size_t len);

/*
 * "1048576", "64K", "512M", "4G", "1T" -> bytes: binary multiples, the unit in
 * either case, optionally followed by "B" or "iB" ("64KiB", "4GB"); "B" alone
 * too. At most INT64_MAX.
 */
int sg_size_parse(const char *s, uint64_t *bytes);

/*
 * bytes -> text sg_size_parse() reads back to the same value, in the largest
 * binary unit that divides it ("4G", "16M", "64K", "1000"). Returns buf.
 */
char *sg_size_str(uint64_t bytes, char *buf, size_t len);

/*
 * Decimal digits alone, no sign, space or unit ("1024", "007") -> the
 * number: a count or a whole number of seconds on a command line. At most
 * INT64_MAX.
 */
int sg_uint_parse(const char *s, uint64_t *out);

/* YAML 1.2 core integers: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. */
int sg_cfg_int_parse(const char *s, int64_t *out);

/*
 * Octal permission bits ("0660", "0o640", "660"), whatever YAML would make
 * of a leading 0. A value past 07777 is stored as 010000, which no range
 * takes. Returns 0 or -EINVAL.
 */
int sg_cfg_mode_parse(const char *s, int64_t *out);

/* "true" -> true, "false" -> false; anything else -EINVAL. */
int sg_cfg_bool_parse(const char *s, bool *out);

/* Index of s in the NULL-terminated names, or -EINVAL. */
int sg_cfg_enum_parse(const char *const *names, const char *s);

/* "a, b, c" of the NULL-terminated names into buf (cut at len). */
void sg_cfg_names_list(const char *const *names, char *buf, size_t len);

/* 1 when s holds only [A-Za-z0-9_.-] (a port or group name), else 0. */
int sg_cfg_name_valid(const char *s);

/* 1 when s holds no control character (below 0x20, 0x7f), else 0. */
int sg_cfg_printable(const char *s);

/* "198.18.1.1/24", "fd00:5347:1::1/64"; -ERANGE: the prefix length. */
int sg_cfg_prefix_parse(const char *s, struct sg_cfg_prefix *p);

/* "198.18.0.2", "fd00:5347::2": one address, stored with the full prefix length (32, 128). */
int sg_cfg_addr_parse(const char *s, struct sg_cfg_prefix *p);

/* "198.18.2.10:5683", "[fd00:5347:2::10]:5683"; -ERANGE: the port (1..65535). */
int sg_cfg_endpoint_parse(const char *s, struct sg_cfg_endpoint *e);

/* 1 when e is a loopback address (127.0.0.0/8, ::1), else 0. */
int sg_cfg_endpoint_loopback(const struct sg_cfg_endpoint *e);

/* Format "198.18.1.1/24" into buf; returns buf. */
char *sg_cfg_prefix_str(const struct sg_cfg_prefix *p, char *buf, size_t len);
/* Format "198.18.2.10:5683" / "[fd00::1]:5683" into buf; returns buf. */
char *sg_cfg_endpoint_str(const struct sg_cfg_endpoint *e, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_CFG_VALUES_H */
