/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration's only contact with the cipher-suite registry: the
 * default of policy.suites, a suite's IANA name to its value and back. The
 * registry (suite.h) holds the one default order, so the daemon, the engine
 * and the record layer cannot disagree. Only ranked suites (the ones the
 * handshake negotiates) have a name here. Any thread.
 */
#include <errno.h>
#include <string.h>

#include <stormgate/suite.h>

#include "config_priv.h"

_Static_assert(SG_SUITES_RANKED <= SG_CFG_SUITES_MAX, "suite list fits");

void cfg_suites_default(struct sg_cfg_policy *p)
{
	for (size_t i = 0; i < SG_SUITES_RANKED; i++)
		p->suites[i] = sg_suites[i].id;
	p->n_suites = SG_SUITES_RANKED;
}

int cfg_suite_parse(const char *name, uint16_t *id)
{
	const struct sg_suite *su = sg_suite_by_name(name);

	if (su == NULL || su->rank == 0) /* not one the handshake negotiates */
		return -EINVAL;
	*id = su->id;
	return 0;
}

const char *sg_suite_name(uint16_t suite)
{
	const struct sg_suite *su = sg_suite_find(suite);

	return su != NULL && su->rank != 0 ? su->name : NULL;
}
