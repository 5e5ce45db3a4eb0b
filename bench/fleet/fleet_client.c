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

/* The handshake failed with rc: the SA and the secrets go (the caller wipes hs on release). */
static int fail(struct sg_fc_dev *dev, struct sg_fc_hs *hs, int rc)
{
	dev->state = SG_FC_FAILED;
	dev->error = rc;
	sg_rec_sa_wipe(dev->sa, sg_rec_ctx_window_bits(hs->conf->rec));
	OPENSSL_cleanse(hs->master, sizeof(hs->master));
	return rc;
}

static int conf_ok(const struct sg_fc_conf *c)
{
	size_t id_len;

	if (c == NULL || c->rec == NULL || c->suites == NULL || c->n_suites == 0 ||
	    c->n_suites > SG_FC_SUITES_MAX || c->identity == NULL || c->psk == NULL ||
	    c->psk_len == 0 || c->psk_len > SG_TLS_PSK_MAX)
		return 0;
	id_len = strlen(c->identity);
	if (id_len == 0 || id_len > SG_TLS_PSK_IDENTITY_MAX)
		return 0;
	for (unsigned i = 0; i < c->n_suites; i++) {
		const struct sg_suite *s = sg_suite_find(c->suites[i]);

		if (s == NULL || s->rank == 0 || (s->kx != SG_KX_PSK && s->kx != SG_KX_ECDHE_PSK))
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
	/* RFC 5246 §7.4.1.2: 32 random bytes (no clock in the first four, as is usual now) */
	if (RAND_bytes(hs->client_random, SG_TLS_RANDOM_LEN) != 1)
		return -EIO;
	rc = sg_fc_client_hello(hs);
	if (rc == 0)
		rc = sg_fc_emit_flight(dev, hs, out, cap, out_len);
	dev->state = rc ? SG_FC_IDLE : SG_FC_WAIT_HELLO;
	return rc;
}

int sg_fc_input(struct sg_fc_dev *dev, struct sg_fc_hs *hs, const uint8_t *in, size_t len,
                uint8_t *out, size_t cap, size_t *out_len)
{
	struct sg_rec_hdr recs[FC_RECS_MAX];
	unsigned n;
	int rc = 0, resend = 0;

	*out_len = 0;
	if (dev->state < SG_FC_WAIT_HELLO || dev->state > SG_FC_WAIT_FINISHED)
		return 0;
	n = sg_rec_parse(in, len, 0, recs, FC_RECS_MAX);
	for (unsigned i = 0; i < n && rc == 0 && dev->state != SG_FC_DONE; i++)
		rc = sg_fc_on_record(dev, hs, in, &recs[i], out, cap, out_len, &resend);
	if (rc)
		return fail(dev, hs, rc);
	/* RFC 6347 §4.2.4: the server repeated its flight, so ours was lost */
	if (resend && *out_len == 0 && dev->state == SG_FC_WAIT_FINISHED) {
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
