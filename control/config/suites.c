/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration's only contact with the cipher-suite table: the default
 * of policy.suites, a suite's IANA name to its value and back. The table is
 * the handshake engine's (sg_hs_suites, handshake.h), so the daemon and the
 * engine cannot disagree on names or the default order. Any thread.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/handshake.h>

#include "config_priv.h"

/* The suites, their IANA names and the default order: the handshake engine's table
 * (sg_hs_suites, handshake.h), so the daemon and the engine cannot disagree. */
_Static_assert(SG_HS_N_SUITES <= SG_CFG_SUITES_MAX, "suite list fits");

void cfg_suites_default(struct sg_cfg_policy *p)
{
	for (size_t i = 0; i < SG_HS_N_SUITES; i++)
		p->suites[i] = sg_hs_suites[i].id;
	p->n_suites = SG_HS_N_SUITES;
}

int cfg_suite_parse(const char *name, uint16_t *id)
{
	for (size_t i = 0; i < SG_HS_N_SUITES; i++) {
		if (strcmp(name, sg_hs_suites[i].name) == 0) {
			*id = sg_hs_suites[i].id;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sg_suite_name(uint16_t suite)
{
	const struct sg_hs_suite *su = sg_hs_suite_find(suite);

	return su ? su->name : NULL;
}
