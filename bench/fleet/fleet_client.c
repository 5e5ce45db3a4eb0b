/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's DTLS 1.2 client handshake: flights out, server datagrams in,
 * one device at a time (see fleet_client.h). Built from the RFCs, not from
 * the server engine: nothing of control/handshake/ is called or copied.
 * Owner thread of the device; no allocation except OpenSSL's inside ECDH.
 * This file is the API, the top of the client's stack (fc_priv.h): it calls
 * records in (fc_reassembly.c), our messages and records out.
 */
#include "fleet_client.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "fc_priv.h"

#define FC_RECS_MAX 32 /* records looked at per datagram */

/*
 * The handshake failed with rc: the SA and the secrets go (the caller wipes
 * hs on release), and so does a ticket we offered: a session ended by a
 * failure must not be resumed (RFC 5246 §7.2.2), and a rejected one is
 * useless.
 */
static int fail(struct sg_fc_dev *dev, struct sg_fc_hs *hs, int rc)
{
	dev->state = SG_FC_FAILED;
	dev->error = rc;
	sg_rec_sa_wipe(dev->sa, sg_rec_ctx_window_bits(hs->conf->rec));
	OPENSSL_cleanse(hs->master, sizeof(hs->master));
	if (hs->ticket_offered)
		sg_fc_ticket_wipe(hs->conf->ticket);
	return rc;
}

/* Our CID: at most SG_FC_CID_MAX bytes, and a non-empty one as long as the record context's. */
static int cid_ok(const struct sg_fc_conf *c)
{
	if (!c->use_cid)
		return 1;
	if (c->cid_len > SG_FC_CID_MAX || (c->cid_len && c->cid == NULL))
		return 0;
	return c->cid_len == 0 || c->cid_len == sg_rec_ctx_cid_len(c->rec);
}

static int conf_ok(const struct sg_fc_conf *c)
{
	size_t id_len;

	if (c == NULL || c->rec == NULL || c->suites == NULL || c->n_suites == 0 ||
	    c->n_suites > SG_FC_SUITES_MAX || c->identity == NULL || c->psk == NULL ||
	    c->psk_len == 0 || c->psk_len > SG_TLS_PSK_MAX)
		return 0;
	id_len = strlen(c->identity);
	if (id_len == 0 || id_len > SG_TLS_PSK_IDENTITY_MAX || !cid_ok(c) ||
	    (c->ticket && c->ticket->len > SG_FC_TICKET_MAX))
		return 0;
	for (unsigned i = 0; i < c->n_suites; i++) {
		if (!sg_fc_suite_spoken(sg_suite_find(c->suites[i])))
			return 0;
	}
	return 1;
}

int sg_fc_start(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const struct sg_fc_conf *conf,
                uint8_t *out, size_t cap, size_t *out_len)
{
	int rc;

	*out_len = 0;
	if (dev == NULL || dev->sa == NULL || hs == NULL || !conf_ok(conf))
		return -EINVAL;
	memset(hs, 0, sizeof(*hs));
	hs->conf = conf;
	dev->suite = 0;
	dev->ems = 0;
	dev->error = 0;
	dev->alert = 0;
	dev->resumed = 0;
	dev->cid = 0;
	dev->peer_cid_len = 0;
	/* RFC 5246 §7.4.1.2: 32 random bytes (no clock in the first four, as is usual now) */
	if (RAND_bytes(hs->client_random, SG_TLS_RANDOM_LEN) != 1)
		return -EIO;
	/* RFC 5077 §3.4: a session_id with the ticket, so the server's echo says "resumed" */
	if (conf->ticket && conf->ticket->len && sg_fc_offered(conf, conf->ticket->suite)) {
		hs->ticket_offered = 1;
		if (RAND_bytes(hs->session_id, sizeof(hs->session_id)) != 1)
			return -EIO;
	}
	rc = sg_fc_client_hello(hs);
	if (rc == 0)
		rc = sg_fc_emit_flight(dev, hs, out, cap, out_len);
	dev->state = rc ? SG_FC_IDLE : SG_FC_WAIT_HELLO;
	return rc;
}

/* Length of the CID in records to us: ours, when we offered one. */
static unsigned rx_cid_len(const struct sg_fc_conf *c)
{
	return c->use_cid ? c->cid_len : 0;
}

/*
 * After an abbreviated handshake our Finished went last: a datagram
 * repeating the server's hello flight (an epoch-0 handshake record) means
 * ours was lost, so it goes again (RFC 6347 §4.2.4), new records as ever.
 */
static int after_abbreviated(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *in,
                             size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	struct sg_rec_hdr recs[FC_RECS_MAX];
	unsigned n = sg_rec_parse(in, len, rx_cid_len(hs->conf), recs, FC_RECS_MAX);

	for (unsigned i = 0; i < n; i++)
		if (recs[i].status == SG_REC_OK && recs[i].epoch == 0 &&
		    recs[i].type == SG_DTLS_CT_HANDSHAKE)
			return sg_fc_emit_flight(dev, hs, out, cap, out_len);
	return 0;
}

int sg_fc_input(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *in, size_t len,
                uint8_t *out, size_t cap, size_t *out_len)
{
	struct sg_rec_hdr recs[FC_RECS_MAX];
	unsigned n;
	int rc = 0, resend = 0;

	*out_len = 0;
	if (dev->state == SG_FC_DONE && dev->resumed && hs->conf != NULL && hs->abbrev)
		return after_abbreviated(dev, hs, in, len, out, cap, out_len);
	if (dev->state < SG_FC_WAIT_HELLO || dev->state > SG_FC_WAIT_FINISHED)
		return 0;
	n = sg_rec_parse(in, len, rx_cid_len(hs->conf), recs, FC_RECS_MAX);
	for (unsigned i = 0; i < n && rc == 0 && dev->state != SG_FC_DONE; i++)
		rc = sg_fc_on_record(dev, hs, in, &recs[i], out, cap, out_len, &resend);
	if (rc)
		return fail(dev, hs, rc);
	/* RFC 6347 §4.2.4: the server repeated its flight, so our final one was lost */
	if (resend && *out_len == 0 && dev->state == SG_FC_WAIT_FINISHED && hs->flight_ccs) {
		rc = sg_fc_emit_flight(dev, hs, out, cap, out_len);
		if (rc)
			return fail(dev, hs, rc);
	}
	return 0;
}

int sg_fc_resend(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                 size_t *out_len)
{
	*out_len = 0;
	if (dev->state < SG_FC_WAIT_HELLO || dev->state > SG_FC_WAIT_FINISHED)
		return 0;
	return sg_fc_emit_flight(dev, hs, out, cap, out_len);
}

void sg_fc_hs_wipe(struct sg_fc_hs *hs)
{
	OPENSSL_cleanse(hs, sizeof(*hs));
}

const char *sg_fc_state_name(enum sg_fc_state state)
{
	static const char *const names[] = {
		[SG_FC_IDLE] = "idle",           [SG_FC_WAIT_HELLO] = "wait_hello",
		[SG_FC_WAIT_DONE] = "wait_done", [SG_FC_WAIT_FINISHED] = "wait_finished",
		[SG_FC_DONE] = "done",           [SG_FC_FAILED] = "failed",
	};

	if ((unsigned)state >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[state];
}
