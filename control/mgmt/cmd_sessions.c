/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sessions.count / list / show / kill.
 *
 * list is paged: a page holds at most LIST_MAX sessions and examines at most
 * SCAN_MAX session slots, so one request costs a bounded time however many
 * millions of sessions there are; the answer's "next" is the cursor of the
 * following page (null at the end).
 *
 * kill ends the session the one way every session ends
 * (sg_gateway_end_session()): out of the table at once; its close_notify,
 * sealed under its last keys (RFC 5246 §7.2.1) so the device knows to
 * handshake again, follows once the workers let go of them.
 *
 * The gateway thread (SG_CTL_ON_OWNER rows: the control server's owner
 * queue brings them); reads and ends sessions through the gateway's seam
 * (sg_gateway.h) only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>

#include <stormgate/common.h>

#include "mgmt_priv.h"

#define LIST_DEFAULT 100
#define LIST_MAX     1000
#define SCAN_MAX     65536 /* slots examined per list page */
#define KILL_MAX     4096  /* sessions one `kill --identity` ends */

/* "198.18.1.2:5000" / "[fd00::2]:5000" of an address in the table's convention. */
static void addr_str(const uint8_t addr[16], uint16_t port_be, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sg_ip6_is_v4_mapped(addr)) {
		inet_ntop(AF_INET, addr + 12, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, rte_be_to_cpu_16(port_be));
	} else {
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, rte_be_to_cpu_16(port_be));
	}
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
	char buf[2 * 255 + 1];

	for (size_t i = 0; i < n && i < 255; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	buf[2 * (n < 255 ? n : 255)] = '\0';
	return json_string(buf);
}

/* An identity as a JSON string: itself when it is UTF-8, else its bytes in hex. */
static json_t *identity_json(const uint8_t *p, size_t n)
{
	json_t *s = json_stringn((const char *)p, n);

	return s != NULL ? s : json_pack("{s:o}", "hex", hex_json(p, n));
}

static void id_str(uint64_t id, char buf[17])
{
	snprintf(buf, 17, "%016" PRIx64, id);
}

/* What the device negotiated for our records, and where its plaintext comes from. */
static void session_extra_json(json_t *o, const struct sg_gw_session *s)
{
	const struct sg_sess_info *in = &s->info;

	if (in->cid_len)
		json_object_set_new(o, "cid", hex_json(in->cid, in->cid_len));
	if (in->peer_cid_len)
		json_object_set_new(o, "peer_cid", hex_json(in->peer_cid, in->peer_cid_len));
	/* RFC 8449 §4, RFC 9853 §3 */
	json_object_set_new(o, "max_plaintext", json_integer(in->max_plaintext));
	json_object_set_new(o, "rrc", json_boolean(in->rrc));
	if (s->has_bsource) {
		uint8_t m[16] = { [10] = 0xff, [11] = 0xff };
		char b[64];

		if (s->bfamily == 4)
			memcpy(m + 12, s->baddr, 4);
		addr_str(s->bfamily == 4 ? m : s->baddr, rte_cpu_to_be_16(s->bport), b, sizeof(b));
		json_object_set_new(o, "backend_source", json_string(b));
	}
}

/* How a session's identity authenticated (enum sg_hs_auth). */
static const char *auth_name(uint8_t auth)
{
	static const char *const names[] = {
		[SG_HS_AUTH_PSK] = "psk",
		[SG_HS_AUTH_X509] = "x509",
		[SG_HS_AUTH_RPK] = "rpk",
		[SG_HS_AUTH_NONE] = "none",
	};

	return auth < SG_ARRAY_SIZE(names) && names[auth] ? names[auth] : "?";
}

static json_t *session_json(const struct sg_gw_session *s)
{
	const struct sg_sess_info *in = &s->info;
	char peer[64], local[64], id[17];
	const char *suite = sg_suite_name(in->suite);
	int64_t now = (int64_t)time(NULL);
	json_t *o;

	id_str(in->id, id);
	addr_str(in->tuple.paddr, in->tuple.pport, peer, sizeof(peer));
	addr_str(in->tuple.laddr, in->tuple.lport, local, sizeof(local));
	o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:i, s:i, s:I, s:I, s:i, s:I, s:i, s:b}", "id", id,
	              "peer", peer, "local", local, "identity",
	              s->identity_len ? identity_json(s->identity, s->identity_len) : json_null(),
	              "suite", suite ? suite : "?", "worker", in->owner, "epoch", in->epoch,
	              "tx_seq", (json_int_t)in->tx_seq, "rx_top", (json_int_t)in->rx_top, "rekeys",
	              in->rekeys, "expires", (json_int_t)in->expires, "auth_failures",
	              (int)in->auth_failures, "previous_keys", in->has_prev);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "expires_in_s",
	                    json_integer(in->expires ? (json_int_t)in->expires - now : 0));
	json_object_set_new(o, "auth", json_string(auth_name(s->auth)));
	session_extra_json(o, s);
	return o;
}

/* A session id argument: 16 hex digits as list and show print them (fewer are fine). */
static int parse_id(json_t *args, uint64_t *id, struct sg_ctl_error *err)
{
	json_t *v = json_object_get(args, "id");
	const char *s;
	char *end;

	if (!json_is_string(v)) {
		sg_ctl_fail(
		        err, SG_CTL_EARGS,
		        "\"id\" (a session id string, as `sessions list` shows it) is required");
		return -EINVAL;
	}
	s = json_string_value(v);
	errno = 0;
	*id = strtoull(s, &end, 16);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || strlen(s) > 16 || s[0] == '-' ||
	    s[0] == '+' || s[0] == ' ') {
		sg_ctl_fail(err, SG_CTL_EARGS, "\"id\" must be up to 16 hex digits, got '%.40s'",
		            s);
		return -EINVAL;
	}
	return 0;
}

/* "198.18.1.2", "198.18.1.2:5000", "fd00::2", "[fd00::2]:5000" -> mapped address, port (0: any). */
static int parse_addr(const char *s, uint8_t addr[16], uint16_t *port)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *p = NULL, *start = s;
	size_t n;

	memset(addr, 0, 16);
	*port = 0;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -EINVAL;
		start = s + 1;
		n = (size_t)(close - start);
		p = close[1] == ':' ? close + 2 : NULL;
	} else if (strchr(s, ':') != NULL && strchr(s, ':') == strrchr(s, ':')) {
		n = (size_t)(strchr(s, ':') - s); /* IPv4 with a port */
		p = s + n + 1;
	} else {
		n = strlen(s);
	}
	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, start, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, addr + 12) == 1) {
		addr[10] = addr[11] = 0xff;
	} else if (inet_pton(AF_INET6, ip, addr) != 1) {
		return -EINVAL;
	}
	if (p != NULL) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (*p < '0' || *p > '9' || *end != '\0' || v == 0 || v > 65535)
			return -EINVAL;
		*port = rte_cpu_to_be_16((uint16_t)v);
	}
	return 0;
}

json_t *mgmt_cmd_sessions_count(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_mgmt *m = ctx;
	struct sg_gw_counters c;
	static const char *const names[] = { NULL };

	if (mgmt_args_known(args, names, err) != 0)
		return NULL;
	sg_gateway_counters(m->gw, &c);
	return json_pack("{s:I, s:I, s:I}", "sessions", (json_int_t)c.sessions.live, "capacity",
	                 (json_int_t)c.capacity, "identities", (json_int_t)c.identities);
}

/* Sessions of one identity (the gateway's index, checked against the table). */
static int list_identity(struct sg_mgmt *m, const uint8_t *ident, size_t len, json_int_t from,
                         json_int_t limit, json_t *rows, json_int_t *next)
{
	size_t total = sg_gateway_sessions_of(m->gw, ident, len, NULL, 0), want, n;
	uint64_t *ids;

	*next = -1;
	if ((size_t)from >= total)
		return 0;
	want = (size_t)(from + limit) < total ? (size_t)(from + limit) : total;
	ids = malloc(sizeof(*ids) * want);
	if (ids == NULL)
		return -ENOMEM;
	n = sg_gateway_sessions_of(m->gw, ident, len, ids, want);
	if (n > want) {
		*next = from + limit;
		n = want;
	}
	for (size_t i = (size_t)from; i < n; i++) {
		struct sg_gw_session s;

		/* Ended without the index knowing: skipped (the next page may shift by one). */
		if (sg_gateway_session_get(m->gw, ids[i], &s) == 0)
			json_array_append_new(rows, session_json(&s));
	}
	free(ids);
	return 0;
}

/* A page of the whole table, or of the sessions at one address (and port). */
static int list_table(struct sg_mgmt *m, const uint8_t *addr, uint16_t port, json_int_t cursor,
                      json_int_t limit, json_t *rows, json_int_t *next, json_int_t *scanned)
{
	uint64_t cur = (uint64_t)cursor;
	struct sg_gw_session s;
	int rc = 0;

	while (json_array_size(rows) < (size_t)limit && *scanned < SCAN_MAX) {
		uint64_t before = cur;

		rc = sg_gateway_session_next(m->gw, &cur, &s);
		if (rc != 0)
			break;
		*scanned += (json_int_t)(cur - before);
		if (addr != NULL && (memcmp(s.info.tuple.paddr, addr, 16) != 0 ||
		                     (port != 0 && s.info.tuple.pport != port)))
			continue;
		json_array_append_new(rows, session_json(&s));
	}
	*next = rc == 0 ? (json_int_t)cur : -1;
	return rc == -ENOENT ? 0 : rc;
}

json_t *mgmt_cmd_sessions_list(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "identity", "identity_hex", "addr",
		                             "cursor",   "limit",        NULL };
	struct sg_mgmt *m = ctx;
	uint8_t ident[SG_CRED_IDENTITY_MAX], addr[16];
	uint16_t port = 0;
	json_int_t limit, cursor, next = -1, scanned = 0;
	json_t *rows, *a = json_object_get(args, "addr");
	int ilen, rc;

	if (mgmt_args_known(args, names, err) != 0)
		return NULL;
	ilen = mgmt_arg_identity(args, ident, err);
	if (ilen < 0 || mgmt_arg_int(args, "limit", LIST_DEFAULT, 1, LIST_MAX, &limit, err) != 0 ||
	    mgmt_arg_int(args, "cursor", 0, 0, UINT32_MAX, &cursor, err) != 0)
		return NULL;
	if (a != NULL && (!json_is_string(a) || parse_addr(json_string_value(a), addr, &port) != 0))
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "\"addr\" must be an address, optionally with its port: "
		                   "198.18.1.2, 198.18.1.2:5000, [fd00::2]:5000");
	if (a != NULL && ilen > 0)
		return sg_ctl_fail(err, SG_CTL_EARGS,
		                   "filter by \"identity\" or by \"addr\", not both");
	rows = json_array();
	if (rows == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	if (ilen > 0)
		rc = list_identity(m, ident, (size_t)ilen, cursor, limit, rows, &next);
	else
		rc = list_table(m, a != NULL ? addr : NULL, port, cursor, limit, rows, &next,
		                &scanned);
	if (rc != 0) {
		json_decref(rows);
		return sg_ctl_fail(err, SG_CTL_EFAILED, "session table: %s", strerror(-rc));
	}
	return json_pack("{s:o, s:o, s:I}", "sessions", rows, "next",
	                 next >= 0 ? json_integer(next) : json_null(), "scanned",
	                 (json_int_t)scanned);
}

json_t *mgmt_cmd_sessions_show(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "id", NULL };
	struct sg_mgmt *m = ctx;
	struct sg_gw_session s;
	uint64_t id;
	json_t *o;

	if (mgmt_args_known(args, names, err) != 0 || parse_id(args, &id, err) != 0)
		return NULL;
	if (sg_gateway_session_get(m->gw, id, &s) != 0)
		return sg_ctl_fail(err, SG_CTL_ENOTFOUND, "no session %016" PRIx64, id);
	o = session_json(&s);
	return o ? o : sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
}

static json_t *killed_row(uint64_t id, bool alert)
{
	char s[17];

	id_str(id, s);
	return json_pack("{s:s, s:b}", "id", s, "alert", alert);
}

/* kill --id: one session. Returns 0 or -1 with err set. */
static int kill_one(struct sg_mgmt *m, json_t *args, json_t *killed, unsigned *alerts,
                    struct sg_ctl_error *err)
{
	uint64_t id;
	bool alert = false;
	int rc;

	if (parse_id(args, &id, err) != 0)
		return -1;
	rc = sg_gateway_end_session(m->gw, id, &alert);
	if (rc == -ENOENT) {
		sg_ctl_fail(err, SG_CTL_ENOTFOUND, "no session %016" PRIx64, id);
		return -1;
	}
	if (rc != 0) {
		sg_ctl_fail(err, SG_CTL_EFAILED, "session %016" PRIx64 ": %s", id, strerror(-rc));
		return -1;
	}
	*alerts += alert;
	json_array_append_new(killed, killed_row(id, alert));
	return 0;
}

/* kill --identity: up to KILL_MAX of its sessions; *left: how many it still has. */
static int kill_identity(struct sg_mgmt *m, const uint8_t *ident, size_t len, json_t *killed,
                         unsigned *alerts, size_t *left)
{
	struct sg_gw_ended *out = malloc(sizeof(*out) * KILL_MAX);
	size_t n;

	if (out == NULL)
		return -ENOMEM;
	n = sg_gateway_end_identity(m->gw, ident, len, KILL_MAX, out, left);
	for (size_t i = 0; i < n; i++) {
		*alerts += out[i].alert;
		json_array_append_new(killed, killed_row(out[i].id, out[i].alert));
	}
	free(out);
	return 0;
}

json_t *mgmt_cmd_sessions_kill(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "id", "identity", "identity_hex", NULL };
	struct sg_mgmt *m = ctx;
	uint8_t ident[SG_CRED_IDENTITY_MAX];
	json_t *killed;
	size_t left = 0;
	unsigned alerts = 0;
	int ilen;

	if (mgmt_args_known(args, names, err) != 0)
		return NULL;
	ilen = mgmt_arg_identity(args, ident, err);
	if (ilen < 0)
		return NULL;
	if ((ilen > 0) == (json_object_get(args, "id") != NULL))
		return sg_ctl_fail(
		        err, SG_CTL_EARGS,
		        "give the session's \"id\", or an \"identity\" to end all of its "
		        "sessions");
	killed = json_array();
	if (killed == NULL)
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	if (ilen == 0 && kill_one(m, args, killed, &alerts, err) != 0) {
		json_decref(killed);
		return NULL;
	}
	if (ilen > 0 && kill_identity(m, ident, (size_t)ilen, killed, &alerts, &left) != 0) {
		json_decref(killed);
		return sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
	}
	return json_pack("{s:I, s:I, s:o, s:b}", "killed", (json_int_t)json_array_size(killed),
	                 "alerts_sent", (json_int_t)alerts, "sessions", killed, "more", left > 0);
}
