/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What management may read of the gateway, as copies: what it is made of,
 * its counters in one snapshot, and sessions one at a time (no keys). These
 * are the read half of management's seam (sg_gateway.h). Gateway thread;
 * writes nothing (an index entry of a session that is gone is dropped
 * through sess_end.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gw_priv.h"

const struct sg_config *sg_gateway_config(const struct sg_gateway *gw)
{
	return &gw->cfg;
}

void sg_gateway_describe(const struct sg_gateway *gw, struct sg_gw_desc *d)
{
	const struct gw_ports *ps = &gw->ports;

	memset(d, 0, sizeof(*d));
	d->info = gw->info;
	d->running = gw->running;
	d->uptime_ns = sg_mono_ns() - gw->status.start_ns;
	d->n_ports = ps->n_ports;
	for (unsigned i = 0; i < ps->n_ports; i++) {
		const struct gw_port *p = &ps->port[i];
		struct sg_gw_port *o = &d->ports[i];

		o->cfg = p->cfg;
		o->port_id = p->port_id;
		snprintf(o->dev_name, sizeof(o->dev_name), "%s", p->dev_name);
		o->driver = p->driver;
		o->nb_rxq = p->nb_rxq;
		o->nb_txq = p->nb_txq;
		o->nb_rxd = p->nb_rxd;
		o->nb_txd = p->nb_txd;
		o->mtu = p->mtu;
		memcpy(o->mac, p->mac.addr_bytes, sizeof(o->mac));
	}
	d->n_workers = ps->n_workers;
	for (unsigned w = 0; w < ps->n_workers && w < SG_DP_WORKERS_MAX; w++)
		d->lcore[w] = ps->lcore[w];
	d->max_handshakes = gw->hs.slots;
}

void sg_gateway_counters(struct sg_gateway *gw, struct sg_gw_counters *c)
{
	const struct gw_end *e = &gw->end;

	memset(c, 0, sizeof(*c));
	sg_sess_stats_get(gw->ports.sessions, &c->sessions);
	c->capacity = sg_sess_capacity(gw->ports.sessions);
	c->identities = sg_sessreg_identities(e->reg);
	c->killed = e->ended[GW_END_KILLED];
	c->expired = e->ended[GW_END_EXPIRED];
	c->idle = e->ended[GW_END_IDLE];
	c->forged = e->ended[GW_END_FORGED];
	c->ended_by_device = e->ended[GW_END_DEVICE];
	c->kill_alerts_sent = e->alerts_sent;
	c->closing = e->closing_len;
	c->revoked_ended = gw->sweep.revoked_ended;
	c->revocations_pending = gw->sweep.revoked_n - gw->sweep.revoked_head;
	gw_hs_counters(gw, &c->hs, &c->hsplane);
	c->installed = gw->hs.installed;
	/* A device's session replaced where it was, or ended for its new one (CID). */
	c->replaced = gw->hs.replaced_in_place + e->ended[GW_END_REPLACED];
	c->install_failed = gw->hs.install_failed;
	gw_hs_admission(gw, &c->admission);
	memcpy(c->punts_taken, gw->punt.taken, sizeof(c->punts_taken));
	gw_hs_taken(gw, c->punts_taken);
	c->punts_unserved = gw->punt.unserved;
	c->punts_reinjected = gw->punt.reinjected;
	sg_dp_ctl_counters(gw->ports.dp, &c->frames_sent, &c->frames_dropped);
	c->detach_deferred = sg_dp_ctl_detach_deferred(gw->ports.dp);
}

/* The identity and backend source of a session the table gave us. */
static void session_extra(struct sg_gateway *gw, struct sg_gw_session *s)
{
	const uint8_t *ident;
	size_t len = 0;

	ident = sg_sessreg_identity(gw->end.reg, s->info.id, &len);
	s->identity_len = ident != NULL ? (uint16_t)len : 0;
	if (ident != NULL)
		memcpy(s->identity, ident, len);
	s->auth = sg_sessreg_auth(gw->end.reg, s->info.id);
	s->has_bsource = sg_dp_session_bport(gw->ports.dp, s->info.id, &s->bfamily, s->baddr,
	                                     &s->bport) == 0;
}

int sg_gateway_session_get(struct sg_gateway *gw, uint64_t id, struct sg_gw_session *s)
{
	memset(s, 0, sizeof(*s));
	if (sg_sess_get(gw->ports.sessions, id, &s->info) != 0) {
		gw_sess_forget(gw, id); /* ended without the index knowing */
		return -ENOENT;
	}
	session_extra(gw, s);
	return 0;
}

int sg_gateway_session_next(struct sg_gateway *gw, uint64_t *cursor, struct sg_gw_session *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = sg_sess_next(gw->ports.sessions, cursor, &s->info);
	if (rc == 0)
		session_extra(gw, s);
	return rc;
}

size_t sg_gateway_sessions_of(struct sg_gateway *gw, const uint8_t *identity, size_t len,
                              uint64_t *ids, size_t max)
{
	return sg_sessreg_find(gw->end.reg, identity, len, ids, max);
}
