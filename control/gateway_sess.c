/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sessions.count / list / show / kill on the running gateway.
 *
 * list is paged: a page holds at most LIST_MAX sessions and examines at most
 * SCAN_MAX session slots, so one request costs the control thread a bounded
 * time however many millions of sessions there are; the answer's "next" is
 * the cursor of the following page (null at the end).
 *
 * kill takes the session out of the table (lookups stop at once), waits for
 * the workers' grace period, takes the session's last SA, seals a
 * close_notify alert with it (RFC 5246 §7.2.1) so the device knows to
 * handshake again, sends it through the data plane's control TX queue, and
 * wipes the keys.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_common.h>

#include <stormgate/dtls.h>

#include "gateway_priv.h"
#include "sg_alert.h"
#include "sg_cred.h"
#include "sg_log.h"

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

static json_t *session_json(struct sg_gateway *gw, const struct sg_sess_info *in)
{
	char peer[64], local[64], id[17];
	const uint8_t *ident;
	size_t ident_len = 0;
	const char *suite = sg_suite_name(in->suite);
	int64_t now = (int64_t)time(NULL);
	json_t *o;

	id_str(in->id, id);
	addr_str(in->tuple.paddr, in->tuple.pport, peer, sizeof(peer));
	addr_str(in->tuple.laddr, in->tuple.lport, local, sizeof(local));
	ident = sg_sessreg_identity(gw->reg, in->id, &ident_len);
	o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:i, s:i, s:I, s:I, s:i, s:I, s:i, s:b}", "id", id,
	              "peer", peer, "local", local, "identity",
	              ident ? identity_json(ident, ident_len) : json_null(), "suite",
	              suite ? suite : "?", "worker", in->owner, "epoch", in->epoch, "tx_seq",
	              (json_int_t)in->tx_seq, "rx_top", (json_int_t)in->rx_top, "rekeys",
	              in->rekeys, "expires", (json_int_t)in->expires, "auth_failures",
	              (int)in->auth_failures, "previous_keys", in->has_prev);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "expires_in_s",
	                    json_integer(in->expires ? (json_int_t)in->expires - now : 0));
	if (in->cid_len)
		json_object_set_new(o, "cid", hex_json(in->cid, in->cid_len));
	if (in->peer_cid_len)
		json_object_set_new(o, "peer_cid", hex_json(in->peer_cid, in->peer_cid_len));
	/* What the device negotiated for our records to it (RFC 8449 §4, RFC 9853 §3). */
	json_object_set_new(o, "max_plaintext", json_integer(in->max_plaintext));
	json_object_set_new(o, "rrc", json_boolean(in->rrc));
	{
		uint8_t fam, addr[16];
		uint16_t port;

		if (sg_dp_session_bport(gw->dp, in->id, &fam, addr, &port) == 0) {
			uint8_t m[16] = { [10] = 0xff, [11] = 0xff };
			char b[64];

			if (fam == 4)
				memcpy(m + 12, addr, 4);
			addr_str(fam == 4 ? m : addr, rte_cpu_to_be_16(port), b, sizeof(b));
			json_object_set_new(o, "backend_source", json_string(b));
		}
	}
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

int gw_arg_identity(json_t *args, uint8_t *out, struct sg_ctl_error *err)
{
	json_t *s = json_object_get(args, "identity"), *h = json_object_get(args, "identity_hex");
	char msg[160];

	if (s != NULL && h != NULL) {
		sg_ctl_fail(err, SG_CTL_EARGS, "give \"identity\" or \"identity_hex\", not both");
		return -EINVAL;
	}
	if (s != NULL) {
		size_t n = json_string_length(s);

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
	if (h != NULL) {
		size_t n = json_string_length(h);
		const char *x = json_string_value(h);

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
				            "\"identity_hex\" has a non-hex character at digit %zu",
				            i + 1);
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

static int int_arg(json_t *args, const char *key, json_int_t def, json_int_t min, json_int_t max,
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

int gw_args_known(json_t *args, const char *const *names, struct sg_ctl_error *err)
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

json_t *gw_cmd_sessions_count(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	struct sg_gateway *gw = ctx;
	struct sg_sess_stats st;
	static const char *const names[] = { NULL };

	if (gw_args_known(args, names, err) != 0)
		return NULL;
	sg_sess_stats_get(gw->sessions, &st);
	return json_pack("{s:I, s:I, s:I}", "sessions", (json_int_t)st.live, "capacity",
	                 (json_int_t)sg_sess_capacity(gw->sessions), "identities",
	                 (json_int_t)sg_sessreg_identities(gw->reg));
}

/* Sessions of one identity (the registry's list, checked against the table). */
static int list_identity(struct sg_gateway *gw, const uint8_t *ident, size_t len, json_int_t from,
                         json_int_t limit, json_t *rows, json_int_t *next)
{
	size_t total = sg_sessreg_find(gw->reg, ident, len, NULL, 0), want, n;
	uint64_t *ids;

	*next = -1;
	if ((size_t)from >= total)
		return 0;
	want = (size_t)(from + limit) < total ? (size_t)(from + limit) : total;
	ids = malloc(sizeof(*ids) * want);
	if (ids == NULL)
		return -ENOMEM;
	n = sg_sessreg_find(gw->reg, ident, len, ids, want);
	if (n > want) {
		*next = from + limit;
		n = want;
	}
	for (size_t i = (size_t)from; i < n; i++) {
		struct sg_sess_info in;

		if (sg_sess_get(gw->sessions, ids[i], &in) != 0) {
			/* Ended without telling us: forget it (the next page may shift by one). */
			sg_sessreg_del(gw->reg, ids[i]);
			continue;
		}
		json_array_append_new(rows, session_json(gw, &in));
	}
	free(ids);
	return 0;
}

json_t *gw_cmd_sessions_list(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "identity", "identity_hex", "addr",
		                             "cursor",   "limit",        NULL };
	struct sg_gateway *gw = ctx;
	uint8_t ident[SG_CRED_IDENTITY_MAX], addr[16];
	uint16_t port = 0;
	json_int_t limit, cursor, next = -1, scanned = 0;
	json_t *rows, *a = json_object_get(args, "addr");
	int ilen, rc = 0;

	if (gw_args_known(args, names, err) != 0)
		return NULL;
	ilen = gw_arg_identity(args, ident, err);
	if (ilen < 0 || int_arg(args, "limit", LIST_DEFAULT, 1, LIST_MAX, &limit, err) != 0 ||
	    int_arg(args, "cursor", 0, 0, UINT32_MAX, &cursor, err) != 0)
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
	if (ilen > 0) {
		rc = list_identity(gw, ident, (size_t)ilen, cursor, limit, rows, &next);
	} else {
		uint64_t cur = (uint64_t)cursor;
		struct sg_sess_info in;

		while (json_array_size(rows) < (size_t)limit && scanned < SCAN_MAX) {
			uint64_t before = cur;

			rc = sg_sess_next(gw->sessions, &cur, &in);
			if (rc != 0)
				break;
			scanned += (json_int_t)(cur - before);
			if (a != NULL && (memcmp(in.tuple.paddr, addr, 16) != 0 ||
			                  (port != 0 && in.tuple.pport != port)))
				continue;
			json_array_append_new(rows, session_json(gw, &in));
		}
		next = rc == 0 ? (json_int_t)cur : -1;
		rc = rc == -ENOENT ? 0 : rc;
	}
	if (rc != 0) {
		json_decref(rows);
		return sg_ctl_fail(err, SG_CTL_EFAILED, "session table: %s", strerror(-rc));
	}
	return json_pack("{s:o, s:o, s:I}", "sessions", rows, "next",
	                 next >= 0 ? json_integer(next) : json_null(), "scanned",
	                 (json_int_t)scanned);
}

json_t *gw_cmd_sessions_show(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "id", NULL };
	struct sg_gateway *gw = ctx;
	struct sg_sess_info in;
	uint64_t id;
	json_t *o;

	if (gw_args_known(args, names, err) != 0 || parse_id(args, &id, err) != 0)
		return NULL;
	if (sg_sess_get(gw->sessions, id, &in) != 0)
		return sg_ctl_fail(err, SG_CTL_ENOTFOUND, "no session %016" PRIx64, id);
	o = session_json(gw, &in);
	return o ? o : sg_ctl_fail(err, SG_CTL_EINTERNAL, "out of memory");
}

/* The close_notify of a killed session, sealed under its last SA, out through worker 0. */
static int send_close(struct sg_gateway *gw, const struct sg_sess_info *in)
{
	uint8_t buf[SG_ALERT_BUF_LEN];
	const struct sg_sess_tuple *t = &in->tuple;
	int v4 = sg_ip6_is_v4_mapped(t->paddr);
	uint32_t off, len;
	int rc;

	rc = sg_alert_seal(gw->ctl_rec, gw->kill_sa, in->peer_cid, in->peer_cid_len,
	                   SG_TLS_ALERT_WARNING, SG_TLS_ALERT_CLOSE_NOTIFY, buf, sizeof(buf), &off,
	                   &len);
	if (rc == 0)
		rc = sg_dp_ctl_send_udp(gw->dp, 0, v4 ? 4 : 6, v4 ? t->laddr + 12 : t->laddr,
		                        rte_be_to_cpu_16(t->lport), v4 ? t->paddr + 12 : t->paddr,
		                        rte_be_to_cpu_16(t->pport), buf + off, (uint16_t)len);
	return rc;
}

enum end_why { END_KILLED, END_SWEPT, END_FORGERIES };

/*
 * End one session: its keys wiped, a close_notify sealed under them so the
 * device handshakes again. why: a kill on the socket, the lifetime sweep (its
 * key lifetime ran out, else it was idle), or its receive key reached its
 * forgery limit. Returns 0 (*alerted: the device was told) or -errno.
 */
static int end_session(struct sg_gateway *gw, uint64_t id, enum end_why why, int *alerted)
{
	unsigned window = sg_sess_replay_window(gw->sessions);
	struct sg_sess_info in;
	uint64_t *count;
	const char *what;
	uint32_t level;
	int rc;

	*alerted = 0;
	rc = sg_sess_get(gw->sessions, id, &in);
	if (rc != 0)
		return rc;
	rc = sg_sess_delete_take(gw->sessions, id, gw->kill_sa);
	if (rc == -EAGAIN) {
		sg_sess_reclaim(gw->sessions, 1);
		rc = sg_sess_delete_take(gw->sessions, id, gw->kill_sa);
	}
	if (rc != 0)
		return rc;
	sg_dp_session_detach(gw->dp, id);
	sg_sessreg_del(gw->reg, id);
	switch (why) {
	case END_SWEPT:
		if (in.expires != 0 && in.expires <= (uint64_t)time(NULL)) {
			count = &gw->sess_expired, what = "key lifetime over",
			level = RTE_LOG_DEBUG;
		} else {
			count = &gw->sess_idle, what = "idle", level = RTE_LOG_DEBUG;
		}
		break;
	case END_FORGERIES:
		count = &gw->sess_forged, what = "its key reached the forgery limit";
		level = RTE_LOG_NOTICE;
		break;
	default:
		count = &gw->sess_killed, what = "killed on the control socket",
		level = RTE_LOG_INFO;
		break;
	}
	(*count)++;
	rc = send_close(gw, &in);
	sg_rec_sa_wipe(gw->kill_sa, window);
	if (rc == 0) {
		gw->kill_alerts++;
		*alerted = 1;
	} else {
		SG_LOG(CTL, NOTICE, "session %016" PRIx64 " ended; its close_notify not sent: %s",
		       id, strerror(-rc));
	}
	SG_LOG_AT(CTL, level, "session %016" PRIx64 ": %s", id, what);
	return 0;
}

static int kill_one(struct sg_gateway *gw, uint64_t id, int *alerted)
{
	return end_session(gw, id, END_KILLED, alerted);
}

size_t gw_sess_end_identity(struct sg_gateway *gw, const uint8_t *identity, size_t len, size_t max,
                            unsigned *alerts, size_t *left, json_t *rows)
{
	uint64_t ids[256];
	size_t done = 0, n = 0;
	int a;

	while (done < max) {
		size_t want = RTE_MIN(max - done, SG_ARRAY_SIZE(ids));

		n = sg_sessreg_find(gw->reg, identity, len, ids, want);
		if (n == 0)
			break;
		for (size_t i = 0; i < n && i < want; i++) {
			/* Ended or replaced since (not deleted from the registry yet): forget it.
			 */
			if (kill_one(gw, ids[i], &a) != 0) {
				sg_sessreg_del(gw->reg, ids[i]);
				continue;
			}
			*alerts += (unsigned)a;
			done++;
			if (rows != NULL) {
				char sid[17];

				id_str(ids[i], sid);
				json_array_append_new(
				        rows, json_pack("{s:s, s:b}", "id", sid, "alert", a));
			}
		}
	}
	*left = sg_sessreg_find(gw->reg, identity, len, NULL, 0);
	return done;
}

/* RFC 9147 §4.5.3: a key past its forgery limit opens nothing more; the device re-keys. */
void gw_sess_forgery_limit(struct sg_gateway *gw, uint64_t id)
{
	int a;

	end_session(gw, id, END_FORGERIES, &a); /* -ENOENT: an earlier notice ended it */
}

/*
 * CM13: a session key lives as long as policy (key_lifetime, shortened by
 * jitter per session) says; policy.idle_timeout also ends sessions that had
 * no authenticated record for that long (devices gone without a goodbye).
 * Each call looks at EXPIRE_SLOTS slots of the table and ends those, so a table of
 * capacity C is swept every C / EXPIRE_SLOTS polls (10M slots: ~20 s at one
 * poll a millisecond) at a bounded cost per poll.
 */
#define EXPIRE_SLOTS 512
#define EXPIRE_MAX   32

void gw_sess_expire(struct sg_gateway *gw, uint64_t now_unix)
{
	uint64_t ids[EXPIRE_MAX];
	unsigned n;
	int a;

	n = sg_sess_expired(gw->sessions, &gw->expire_cursor, EXPIRE_SLOTS,
	                    (uint32_t)RTE_MIN(now_unix, (uint64_t)UINT32_MAX),
	                    (uint32_t)RTE_MIN(gw->cfg.policy.idle_timeout, (uint64_t)UINT32_MAX),
	                    ids, EXPIRE_MAX);
	for (unsigned i = 0; i < n; i++)
		end_session(gw, ids[i], END_SWEPT, &a);
}

json_t *gw_cmd_sessions_kill(void *ctx, json_t *args, struct sg_ctl_error *err)
{
	static const char *const names[] = { "id", "identity", "identity_hex", NULL };
	struct sg_gateway *gw = ctx;
	uint8_t ident[SG_CRED_IDENTITY_MAX];
	json_t *killed;
	uint64_t id;
	size_t left = 0;
	unsigned alerts = 0;
	int ilen, rc, a;

	if (gw_args_known(args, names, err) != 0)
		return NULL;
	ilen = gw_arg_identity(args, ident, err);
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
	if (ilen == 0) {
		if (parse_id(args, &id, err) != 0)
			goto fail;
		rc = kill_one(gw, id, &a);
		if (rc == -ENOENT) {
			sg_ctl_fail(err, SG_CTL_ENOTFOUND, "no session %016" PRIx64, id);
			goto fail;
		}
		if (rc != 0) {
			sg_ctl_fail(err, SG_CTL_EFAILED, "session %016" PRIx64 ": %s", id,
			            strerror(-rc));
			goto fail;
		}
		char s[17];

		alerts += (unsigned)a;
		id_str(id, s);
		json_array_append_new(killed, json_pack("{s:s, s:b}", "id", s, "alert", a));
	} else {
		gw_sess_end_identity(gw, ident, (size_t)ilen, KILL_MAX, &alerts, &left, killed);
	}
	return json_pack("{s:I, s:I, s:o, s:b}", "killed", (json_int_t)json_array_size(killed),
	                 "alerts_sent", (json_int_t)alerts, "sessions", killed, "more", left > 0);
fail:
	json_decref(killed);
	return NULL;
}
