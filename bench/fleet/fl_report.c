/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's report (fl_report.h), with jansson. Main lcore, once a second
 * and at the end.
 */
#include <errno.h>
#include <string.h>

#include "fl_report.h"

int sg_fl_report_open(struct sg_fl_report *r, const struct sg_fl_conf *conf)
{
	memset(r, 0, sizeof(*r));
	r->series = json_array();
	if (r->series == NULL)
		return -ENOMEM;
	if (conf->series != NULL) {
		r->series_f = fopen(conf->series, "we");
		if (r->series_f == NULL) {
			int rc = -errno;

			json_decref(r->series);
			r->series = NULL;
			return rc;
		}
	}
	return 0;
}

/* Round trips of the second: the bucket counts added since the last snapshot. */
static void second_hist(const struct sg_fl_snap *s, const struct sg_fl_snap *prev,
                        struct sg_fl_hist *h)
{
	h->n = s->rtt.n - prev->rtt.n;
	for (unsigned b = 0; b < SG_FL_HIST_BUCKETS; b++)
		h->bucket[b] = s->rtt.bucket[b] - prev->rtt.bucket[b];
}

void sg_fl_report_second(struct sg_fl_report *r, const struct sg_fl_snap *s, unsigned t)
{
	struct sg_fl_hist *h = &r->second;
	uint64_t hs = s->c.handshakes_completed - r->prev.c.handshakes_completed;
	json_t *o;

	second_hist(s, &r->prev, h);
	if (hs > r->peak_hs)
		r->peak_hs = hs;
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I}", "t", (json_int_t)t,
	              "connected", (json_int_t)s->connected, "handshakes_per_s", (json_int_t)hs,
	              "handshakes_completed", (json_int_t)s->c.handshakes_completed,
	              "handshakes_failed", (json_int_t)s->c.handshakes_failed, "retransmissions",
	              (json_int_t)s->c.retransmissions, "requests_per_s",
	              (json_int_t)(s->c.requests_sent - r->prev.c.requests_sent), "answers_per_s",
	              (json_int_t)(s->c.requests_answered - r->prev.c.requests_answered),
	              "rtt_p50_ms", sg_fl_hist_pct(h, 50) / 1000.0, "rtt_p99_ms",
	              sg_fl_hist_pct(h, 99) / 1000.0, "inflight", (json_int_t)s->inflight);
	r->prev = *s;
	if (o == NULL)
		return;
	if (r->series_f != NULL) {
		json_dumpf(o, r->series_f, JSON_COMPACT);
		fputc('\n', r->series_f);
		fflush(r->series_f);
	}
	json_array_append_new(r->series, o);
}

void sg_fl_report_progress(FILE *out, const struct sg_fl_snap *s, unsigned t)
{
	fprintf(out,
	        "\r%5us connected %u/%u inflight %u hs %llu ok %llu failed %llu retx %llu "
	        "req %llu ans %llu misdelivered %llu nonce_reuse %llu ",
	        t, s->connected, s->devices, s->inflight,
	        (unsigned long long)s->c.handshakes_started,
	        (unsigned long long)s->c.handshakes_completed,
	        (unsigned long long)s->c.handshakes_failed,
	        (unsigned long long)s->c.retransmissions, (unsigned long long)s->c.requests_sent,
	        (unsigned long long)s->c.requests_answered, (unsigned long long)s->c.misdelivered,
	        (unsigned long long)s->c.nonce_reuse);
	fflush(out);
}

/* Everything the spec's keys leave out: drops by reason, link loss, request retransmissions. */
static json_t *detail(const struct sg_fl_snap *s)
{
	json_t *d = json_object(), *drops = json_object();

	if (d == NULL || drops == NULL) {
		json_decref(d);
		json_decref(drops);
		return NULL;
	}
	for (unsigned k = 0; k < SG_FL_DROP_MAX; k++)
		json_object_set_new(drops, sg_fl_drop_name(k),
		                    json_integer((json_int_t)s->c.drops[k]));
	json_object_set_new(d, "drops", drops);
	json_object_set_new(d, "link_lost", json_integer((json_int_t)s->c.link_lost));
	json_object_set_new(d, "request_retransmissions",
	                    json_integer((json_int_t)s->c.request_retransmissions));
	json_object_set_new(d, "app_answers", json_integer((json_int_t)s->c.app_answers));
	json_object_set_new(d, "record_copies", json_integer((json_int_t)s->c.record_copies));
	json_object_set_new(d, "handshakes_resumed",
	                    json_integer((json_int_t)s->c.handshakes_resumed));
	json_object_set_new(d, "handshakes_cid", json_integer((json_int_t)s->c.handshakes_cid));
	json_object_set_new(d, "held", json_integer((json_int_t)s->held));
	return d;
}

json_t *sg_fl_report_final(struct sg_fl_report *r, const struct sg_fl_snap *s, double duration_s)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
#define SET_INT(k, v) json_object_set_new(o, k, json_integer((json_int_t)(v)))
	SET_INT("devices", s->devices);
	SET_INT("connected", s->connected);
	SET_INT("handshakes_started", s->c.handshakes_started);
	SET_INT("handshakes_completed", s->c.handshakes_completed);
	SET_INT("handshakes_failed", s->c.handshakes_failed);
	SET_INT("retransmissions", s->c.retransmissions);
	json_object_set_new(
	        o, "seconds_to_all_connected",
	        s->all_connected_ms < 0
	                ? json_null()
	                : json_real((double)(s->all_connected_ms - s->ready_ms) / 1000.0));
	SET_INT("peak_handshakes_per_s", r->peak_hs);
	SET_INT("requests_sent", s->c.requests_sent);
	SET_INT("requests_answered", s->c.requests_answered);
	SET_INT("requests_lost", s->c.requests_lost);
	SET_INT("misdelivered", s->c.misdelivered);
	json_object_set_new(o, "rtt_p50_ms", json_real(sg_fl_hist_pct(&s->rtt, 50) / 1000.0));
	json_object_set_new(o, "rtt_p99_ms", json_real(sg_fl_hist_pct(&s->rtt, 99) / 1000.0));
	SET_INT("nonce_reuse", s->c.nonce_reuse);
	SET_INT("rehandshakes", s->c.rehandshakes);
	SET_INT("alerts_received", s->c.alerts_received);
	json_object_set_new(o, "duration_s", json_real(duration_s));
#undef SET_INT
	json_object_set(o, "series", r->series);
	json_object_set_new(o, "detail", detail(s));
	return o;
}

void sg_fl_report_close(struct sg_fl_report *r)
{
	if (r->series_f != NULL)
		fclose(r->series_f);
	json_decref(r->series);
	r->series = NULL;
	r->series_f = NULL;
}
