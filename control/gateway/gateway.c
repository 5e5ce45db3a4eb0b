/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway's life: create its parts in order (ports and data plane,
 * handshake glue, ending and retiring), start and stop the workers, the poll
 * that runs the gateway thread's share of the work, and destroy in reverse.
 * Also the configuration and the live policy it runs with. Main lcore for
 * create/start/stop/destroy; the gateway thread for the rest. Writes the
 * top of struct sg_gateway (cfg, info, running, attachments).
 */
#include <errno.h>
#include <time.h>

#include <rte_launch.h>
#include <rte_malloc.h>

#include "gw_priv.h"
#include "sg_log.h"

struct sg_gateway *sg_gateway_create(const struct sg_config *cfg,
                                     const struct sg_gateway_info *info)
{
	struct sg_gateway *gw;
	int rc;

	gw = rte_zmalloc("sg_gateway", sizeof(*gw), RTE_CACHE_LINE_SIZE);
	if (gw == NULL) {
		SG_LOG(MAIN, ERR, "out of DPDK memory for the gateway");
		errno = ENOMEM;
		return NULL;
	}
	gw->cfg = *cfg;
	gw->info = *info;
	/* The store first: its CID key goes to the table, its live overrides to the policy. */
	rc = gw_store_open(gw);
	if (rc == 0)
		rc = gw_ports_create(gw);
	if (rc == 0)
		rc = gw_end_create(gw);
	/* The handshake threads last: installs reach a gateway that is complete. */
	if (rc == 0)
		rc = gw_hs_create(gw);
	if (rc != 0) {
		sg_gateway_destroy(gw);
		errno = -rc;
		return NULL;
	}
	gw_status_start(gw);
	return gw;
}

int sg_gateway_start(struct sg_gateway *gw)
{
	/* Stored sessions back before any worker reads a record (the credential store is attached).
	 */
	int rc = gw_store_restore(gw);

	if (rc != 0)
		return rc;
	gw_store_writer_start(gw); /* the store's writes off this thread from now on */
	for (unsigned i = 0; i < gw->ports.n_workers; i++) {
		unsigned lcore = gw->ports.lcore[i];

		rc = rte_eal_remote_launch(sg_dp_worker_main, sg_dp_worker_arg(gw->ports.dp, i),
		                           lcore);

		if (rc != 0) {
			SG_LOG(MAIN, ERR, "launch on lcore %u: %s", lcore, rte_strerror(-rc));
			sg_gateway_stop(gw);
			return rc;
		}
		gw->running = 1;
		SG_LOG(DP, INFO, "lcore %u runs worker %u", lcore, i);
	}
	return 0;
}

void sg_gateway_stop(struct sg_gateway *gw)
{
	/*
	 * The engines first, their installs done while the workers still send
	 * the flights: no session a device completed is missing from the
	 * clean stop's save (docs/hsplane.md, "Stop").
	 */
	gw_hs_stop(gw);
	if (!gw->running)
		return;
	sg_dp_stop(gw->ports.dp);
	rte_eal_mp_wait_lcore();
	gw->running = 0;
}

void sg_gateway_destroy(struct sg_gateway *gw)
{
	if (gw == NULL)
		return;
	sg_gateway_stop(gw);
	gw_store_close(gw);
	/* What ending holds of the table first, the handshakes, then the data plane and ports. */
	gw_hs_destroy(gw); /* the engines stopped above: their CIDs back in the table */
	gw_sweep_destroy(gw);
	if (gw->ports.sessions != NULL)
		gw_end_destroy(gw);
	gw_ports_destroy(gw);
	rte_free(gw);
}

void sg_gateway_attach(struct sg_gateway *gw, struct sg_cred *cred, struct sg_ctl_server *ctl)
{
	gw->cred = cred;
	gw->ctl = ctl;
	if (gw->hs.plane != NULL)
		sg_hsplane_cred_set(gw->hs.plane, cred); /* the engines' lookups from now on */
}

unsigned sg_gateway_n_ports(const struct sg_gateway *gw)
{
	return gw->ports.n_ports;
}

unsigned sg_gateway_n_workers(const struct sg_gateway *gw)
{
	return gw->ports.n_workers;
}

void sg_gateway_poll(struct sg_gateway *gw)
{
	uint64_t now = sg_mono_ns();

	gw_punt_poll(gw);
	gw_hs_poll(gw);                   /* the engines' installs and their flights */
	sg_dp_ctl_tx_retry(gw->ports.dp); /* flights that waited for worker 0's ring */
	gw_sweep_poll(gw, (uint64_t)time(NULL));
	gw_ports_poll(gw, now);
	gw_retire_poll(gw, now);
	gw_store_poll(gw, now);
}

int sg_gateway_policy_set(struct sg_gateway *gw, const struct sg_cfg_policy *p)
{
	int rc = gw_hs_policy(gw, p);

	if (rc == 0)
		gw->cfg.policy = *p;
	return rc;
}
