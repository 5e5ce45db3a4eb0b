/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet client's session tickets and abbreviated handshake (RFC 5077 for
 * TLS 1.2, as DTLS 1.2 uses it): the server's NewSessionTicket, resuming the
 * session a ticket stands for once the ServerHello echoed our session_id,
 * our ChangeCipherSpec and Finished after the server's, and the ticket kept
 * in the caller's slot (conf->ticket) when the handshake is done, and the
 * slot's wipe (sg_fc_ticket_wipe, fleet_client.h). Calls the
 * key exchange (fc_kx.c), records out and our messages. Owner thread of the
 * device; touches the device, the hs and the ticket slot.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include <stormgate/bytes.h>

#include "fc_priv.h"

void sg_fc_ticket_wipe(struct sg_fc_ticket *t)
{
	if (t != NULL)
		OPENSSL_cleanse(t, sizeof(*t));
}

/*
 * NewSessionTicket (RFC 5077 §3.3): ticket_lifetime_hint(4), then
 * ticket<0..2^16-1> and nothing after it. Kept in hs until the server's
 * Finished verifies; a ticket longer than a slot holds is not kept (the
 * handshake goes on, the next one is full).
 */
int sg_fc_new_session_ticket(struct sg_fc_hs *hs, const uint8_t *b, size_t n)
{
	size_t len;

	if (n < 6 || (len = sg_load_be16(b + 4)) != n - 6)
		return -EPROTO;
	hs->nst_seen = 1;
	hs->nst_lifetime = sg_load_be32(b);
	hs->nst_len = (uint16_t)(len <= SG_FC_TICKET_MAX ? len : 0);
	memcpy(hs->nst, b + 6, hs->nst_len);
	return 0;
}

/*
 * The server took our ticket (RFC 5077 §3.4: it echoed our session_id). The
 * session it resumes keeps its suite (RFC 5246 §7.4.1.3) and its kind of
 * master secret (RFC 7627 §5.3: an EMS session resumed without the
 * extension, or a non-EMS one with it, is aborted); the keys come from the
 * ticket's master secret and the new randoms (RFC 5246 §6.3).
 */
int sg_fc_resume(struct sg_fc_dev *dev, struct sg_fc_hs *hs)
{
	const struct sg_fc_ticket *t = hs->conf->ticket;

	if (hs->suite->id != t->suite || hs->ems != t->ems)
		return -EPROTO;
	memcpy(hs->master, t->master, sizeof(hs->master));
	return sg_fc_install_keys(dev, hs);
}

/*
 * Abbreviated handshake (RFC 5246 §7.3, figure 2), the server's Finished
 * verified and in the transcript: our ChangeCipherSpec and Finished are the
 * last flight, over every message before (with the server's Finished).
 */
int sg_fc_abbreviated_flight(struct sg_fc_dev *dev, struct sg_fc_hs *hs, uint8_t *out, size_t cap,
                             size_t *out_len)
{
	int rc;

	hs->flight_len = 0;
	hs->flight_epoch1 = 0;
	hs->flight_ccs = 1;
	rc = sg_fc_finished_mac(hs, SG_TLS_LABEL_CLIENT_FINISHED, sg_fc_msg_body(hs));
	if (rc == 0)
		rc = sg_fc_msg_end(hs, SG_TLS_HT_FINISHED, SG_TLS_VERIFY_DATA_LEN);
	return rc ? rc : sg_fc_emit_flight(dev, hs, out, cap, out_len);
}

/*
 * The handshake is done: a ticket the server issued goes into the slot with
 * the session it stands for (this handshake's master secret, suite, EMS; a
 * resumption keeps the session's). An empty or unkept one, or none after a
 * full handshake (ours was refused, or stands for an older session), leaves
 * the slot empty; an abbreviated handshake without a new one keeps it.
 */
void sg_fc_ticket_keep(struct sg_fc_hs *hs)
{
	struct sg_fc_ticket *t = hs->conf->ticket;

	if (t == NULL || (hs->abbrev && !hs->nst_seen))
		return;
	sg_fc_ticket_wipe(t);
	if (!hs->nst_seen || hs->nst_len == 0)
		return;
	t->len = hs->nst_len;
	t->suite = hs->suite->id;
	t->ems = hs->ems;
	t->lifetime = hs->nst_lifetime;
	memcpy(t->master, hs->master, sizeof(t->master));
	memcpy(t->ticket, hs->nst, hs->nst_len);
}
