/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's one-line live status and the ports' and workers' totals;
 * while the restore runs at start, the line tells its progress instead.
 * Gateway thread (the status line); reads the ports, the data plane's
 * counters and the session store's, writes struct gw_status.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>

#include "gw_priv.h"

void gw_status_start(struct sg_gateway *gw)
{
	gw->status.start_ns = gw->status.last_ns = sg_mono_ns();
}

const char *sg_gw_speed_str(uint32_t mbps, char *buf, size_t len)
{
	if (mbps == RTE_ETH_SPEED_NUM_NONE || mbps == RTE_ETH_SPEED_NUM_UNKNOWN)
		snprintf(buf, len, "unknown");
	else if (mbps >= 1000 && mbps % 1000 == 0)
		snprintf(buf, len, "%u Gbps", mbps / 1000);
	else
		snprintf(buf, len, "%u Mbps", mbps);
	return buf;
}

void sg_gateway_port_totals(const struct sg_gateway *gw, unsigned port, struct sg_gw_port_totals *t)
{
	struct rte_eth_stats st;

	memset(t, 0, sizeof(*t));
	if (port >= gw->ports.n_ports || rte_eth_stats_get(gw->ports.port[port].port_id, &st) != 0)
		return;
	t->rx_packets = st.ipackets;
	t->rx_bytes = st.ibytes;
}

void sg_gateway_dp_counters(const struct sg_gateway *gw, int w, struct sg_dp_counters *c)
{
	if (w < 0)
		sg_dp_counters_sum(gw->ports.dp, c);
	else
		sg_dp_counters_get(gw->ports.dp, (unsigned)w, c);
}

void sg_gateway_dp_totals(const struct sg_gateway *gw, struct sg_dp_counters *c)
{
	sg_dp_counters_sum(gw->ports.dp, c);
}

/* " dev0 up 10 Gbps rx 12 (+4/s) |" for each port; returns the new offset. */
static size_t ports_line(struct sg_gateway *gw, double dt, char *buf, size_t len, size_t off)
{
	for (unsigned i = 0; i < gw->ports.n_ports && off < len; i++) {
		const struct gw_port *p = &gw->ports.port[i];
		struct sg_gw_port_totals t;
		struct rte_eth_link link;
		char speed[32];

		sg_gateway_port_totals(gw, i, &t);
		memset(&link, 0, sizeof(link));
		rte_eth_link_get_nowait(p->port_id, &link);
		off += (size_t)snprintf(
		        buf + off, len - off, " %s %s%s rx %" PRIu64 " (+%.0f/s) |", p->cfg->name,
		        link.link_status ? "up " : "down",
		        link.link_status ? sg_gw_speed_str(link.link_speed, speed, sizeof(speed))
		                         : "",
		        t.rx_packets,
		        dt > 0 ? (double)(t.rx_packets - gw->status.last_rx[i]) / dt : 0.0);
		gw->status.last_rx[i] = t.rx_packets;
	}
	return off;
}

/* " (reason n, reason n, reason n)": the three most frequent drop reasons. */
static size_t drops_line(struct sg_dp_counters *c, char *buf, size_t len, size_t off)
{
	for (unsigned k = 0; k < 3 && off < len; k++) {
		unsigned best = SG_DROP_MAX;

		for (unsigned r = 0; r < SG_DROP_MAX; r++)
			if (c->drop[r] && (best == SG_DROP_MAX || c->drop[r] > c->drop[best]))
				best = r;
		if (best == SG_DROP_MAX)
			break;
		off += (size_t)snprintf(buf + off, len - off, "%s%s %" PRIu64, k ? ", " : " (",
		                        sg_drop_name((enum sg_drop)best), c->drop[best]);
		c->drop[best] = 0;
	}
	return off;
}

void sg_gateway_on_progress(struct sg_gateway *gw, void (*fn)(void *arg, bool done), void *arg)
{
	gw->status.on_progress = fn;
	gw->status.progress_arg = arg;
}

void gw_status_restore(struct sg_gateway *gw, uint64_t seen, uint64_t back, uint64_t ns, bool done)
{
	struct gw_status *s = &gw->status;

	s->restore = done ? GW_RESTORE_DONE : GW_RESTORE_RUNNING;
	s->restore_seen = seen;
	s->restore_back = back;
	s->restore_ns = ns;
	if (s->on_progress != NULL)
		s->on_progress(s->progress_arg, done);
	if (done)
		s->restore = GW_RESTORE_NONE; /* the daemon's loop prints the usual line next */
}

/* The status line while the restore runs (the ports are not up yet). */
static void restore_line(const struct gw_status *s, uint64_t now, char *buf, size_t len)
{
	uint64_t up = (now - s->start_ns) / SG_NS_PER_SEC;

	if (s->restore == GW_RESTORE_RUNNING)
		snprintf(buf, len,
		         "[%5" PRIu64 "s] store: restoring, %" PRIu64 " records read, %" PRIu64
		         " sessions back",
		         up, s->restore_seen, s->restore_back);
	else
		snprintf(buf, len,
		         "[%5" PRIu64 "s] store: restored %" PRIu64 " sessions of %" PRIu64
		         " records in %.3f s",
		         up, s->restore_back, s->restore_seen, (double)s->restore_ns / 1e9);
}

void sg_gateway_status_line(struct sg_gateway *gw, char *buf, size_t len)
{
	uint64_t now = sg_mono_ns();
	double dt = (double)(now - gw->status.last_ns) / 1e9;
	struct sg_dp_counters c;
	uint64_t dropped = 0;
	size_t off;

	if (gw->status.restore != GW_RESTORE_NONE) {
		restore_line(&gw->status, now, buf, len);
		return;
	}
	sg_dp_counters_sum(gw->ports.dp, &c);
	off = (size_t)snprintf(buf, len, "[%5" PRIu64 "s]",
	                       (now - gw->status.start_ns) / SG_NS_PER_SEC);
	off = ports_line(gw, dt, buf, len, off);
	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		dropped += c.drop[r];
	if (off < len)
		off += (size_t)snprintf(buf + off, len - off,
		                        " fwd %" PRIu64 "/%" PRIu64 " punted %" PRIu64
		                        " | dropped %" PRIu64,
		                        c.forwarded_up, c.forwarded_down, c.punted, dropped);
	off = drops_line(&c, buf, len, off);
	if (dropped && off < len)
		off += (size_t)snprintf(buf + off, len - off, ")");
	if (gw->store.st != NULL && off < len) {
		struct sg_store_stats st;

		sg_store_stats(gw->store.st, &st);
		off += (size_t)snprintf(buf + off, len - off,
		                        " | store %" PRIu64 " (+%" PRIu64 " pending)",
		                        st.be.records, st.be.pending);
	}
	if (gw->ctl != NULL && off < len)
		snprintf(buf + off, len - off, " | ctl clients %u", sg_ctl_server_clients(gw->ctl));
	gw->status.last_ns = now;
}
