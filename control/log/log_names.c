/* SPDX-License-Identifier: Apache-2.0 */
/* Names of log components and levels: no DPDK calls, so stormctl links without EAL. */
#include <string.h>

#include <stormgate/common.h>

#include "sg_log.h"

static const char *const comp_names[SG_LOG_COMP_MAX] = {
	[SG_LOG_MAIN] = "main", [SG_LOG_CFG] = "cfg", [SG_LOG_CTL] = "ctl",
	[SG_LOG_CRED] = "cred", [SG_LOG_DP] = "dp",   [SG_LOG_HS] = "hs",
};

/* Index = RTE_LOG_* value (1..8); syslog priorities are the same order minus one. */
static const char *const level_names[] = {
	NULL, "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
};

const char *sg_log_comp_name(enum sg_log_comp comp)
{
	return (unsigned)comp < SG_LOG_COMP_MAX ? comp_names[comp] : "?";
}

const char *sg_log_level_name(uint32_t level)
{
	return level >= 1 && level < SG_ARRAY_SIZE(level_names) ? level_names[level] : NULL;
}

uint32_t sg_log_level_parse(const char *name)
{
	for (uint32_t l = 1; l < SG_ARRAY_SIZE(level_names); l++)
		if (strcmp(name, level_names[l]) == 0)
			return l;
	return 0;
}
