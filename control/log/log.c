/* SPDX-License-Identifier: Apache-2.0 */
/* rte_log types per component, levels from config, stderr or syslog target. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <sys/types.h>

#include <rte_log.h>

#include <stormgate/common.h>

#include "sg_log.h"

int sg_logtype[SG_LOG_COMP_MAX] = { RTE_LOGTYPE_USER1, RTE_LOGTYPE_USER1, RTE_LOGTYPE_USER1,
	                            RTE_LOGTYPE_USER1, RTE_LOGTYPE_USER1, RTE_LOGTYPE_USER1 };

static int registered;

int sg_log_init(void)
{
	char name[32];

	if (!registered) {
		for (int c = 0; c < SG_LOG_COMP_MAX; c++) {
			snprintf(name, sizeof(name), "sg.%s",
			         sg_log_comp_name((enum sg_log_comp)c));
			int t = rte_log_register_type_and_pick_level(name, RTE_LOG_INFO);
			if (t < 0)
				return -ENOSPC;
			sg_logtype[c] = t;
		}
		registered = 1;
	}
	/*
	 * DPDK 22.11's default stream writes to stdout and syslog at once; the
	 * daemon keeps stdout for the status line, so logs go to stderr.
	 */
	return rte_openlog_stream(stderr) == 0 ? 0 : -EIO;
}

/* fopencookie() write: one rte_log message -> one syslog record at its level. */
static ssize_t syslog_write(void *cookie, const char *buf, size_t size)
{
	int level = rte_log_cur_msg_loglevel();
	int prio = level >= 1 && level <= 8 ? level - 1 : LOG_INFO;
	size_t n = size;

	(void)cookie;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	syslog(prio, "%.*s", (int)n, buf);
	return (ssize_t)size;
}

static FILE *syslog_stream;

int sg_log_configure(uint32_t level, const uint32_t levels[SG_LOG_COMP_MAX], uint32_t dpdk_level,
                     enum sg_log_target target)
{
	int rc = sg_log_init();

	if (rc < 0)
		return rc;
	for (int c = 0; c < SG_LOG_COMP_MAX; c++) {
		uint32_t l = levels && levels[c] ? levels[c] : level;
		if (l >= RTE_LOG_EMERG && l <= RTE_LOG_DEBUG)
			rte_log_set_level(sg_logtype[c], l);
	}
	if (dpdk_level >= RTE_LOG_EMERG && dpdk_level <= RTE_LOG_DEBUG) {
		/* Patterns are remembered for PMDs rte_eal_init() loads later. */
		rte_log_set_level_pattern("lib.*", dpdk_level);
		rte_log_set_level_pattern("pmd.*", dpdk_level);
		rte_log_set_level_pattern("bus.*", dpdk_level);
		rte_log_set_level_pattern("user*", dpdk_level);
	}
	if (target == SG_LOG_TARGET_SYSLOG && syslog_stream == NULL) {
		cookie_io_functions_t io = { .write = syslog_write };

		openlog("stormgate", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		syslog_stream = fopencookie(NULL, "w", io);
		if (syslog_stream == NULL)
			return -errno;
		return rte_openlog_stream(syslog_stream) == 0 ? 0 : -EIO;
	}
	return 0;
}
