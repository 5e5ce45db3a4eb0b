/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging for the whole daemon goes through DPDK's rte_log: one registered
 * log type per component (sg.main, sg.cfg, sg.ctl, sg.cred, sg.dp, sg.hs), so
 * levels can be set per component from the config or with EAL
 * --log-level=sg.ctl:debug, and DPDK's own messages share the same stream.
 *
 * Nothing is logged per packet: worker lcores log only during set-up and
 * tear-down (see docs/config.md, "log").
 */
#ifndef STORMGATE_CONTROL_SG_LOG_H
#define STORMGATE_CONTROL_SG_LOG_H

#include <stdint.h>

#include <rte_log.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Components with their own log type (and level). Names: sg_log_comp_name(). */
enum sg_log_comp {
	SG_LOG_MAIN = 0, /* sg.main: daemon life cycle, EAL, ports */
	SG_LOG_CFG,      /* sg.cfg: configuration */
	SG_LOG_CTL,      /* sg.ctl: control socket */
	SG_LOG_CRED,     /* sg.cred: credential store */
	SG_LOG_DP,       /* sg.dp: data plane set-up (never per packet) */
	SG_LOG_HS,       /* sg.hs: DTLS handshake */
	SG_LOG_COMP_MAX
};

enum sg_log_target {
	SG_LOG_TARGET_STDERR = 0, /* plain lines on stderr (the journal under systemd) */
	SG_LOG_TARGET_SYSLOG,     /* syslog(3), facility daemon, priority from the level */
};

/* Registered rte_log type of each component; filled by sg_log_init(). */
extern int sg_logtype[SG_LOG_COMP_MAX];

/*
 * Log one line: SG_LOG(CTL, INFO, "client %d closed", fd). The component name
 * is prefixed and a newline appended.
 */
#define SG_LOG(comp, lvl, fmt, ...) SG_LOG_AT(comp, RTE_LOG_##lvl, fmt, ##__VA_ARGS__)

/* The same with a level chosen at run time (an RTE_LOG_* value). */
#define SG_LOG_AT(comp, level, fmt, ...)                                                           \
	rte_log(level, sg_logtype[SG_LOG_##comp], "stormgate: %s: " fmt "\n",                      \
	        sg_log_comp_name(SG_LOG_##comp), ##__VA_ARGS__)

/* Short name of a component ("ctl"), or "?" when out of range. Any thread. */
const char *sg_log_comp_name(enum sg_log_comp comp);

/*
 * Register the log types (idempotent) at level info and send rte_log output
 * to stderr. Call from the main thread before anything logs, before
 * rte_eal_init() so DPDK's messages follow the same stream. Returns 0 or
 * -errno.
 */
int sg_log_init(void);

/*
 * Apply levels and target. levels[c] is an RTE_LOG_* level, 0 = use
 * `level`; dpdk_level (0 = leave DPDK's own) applies to lib.* and pmd.*
 * types, including PMDs loaded later by rte_eal_init(). Main thread, before
 * worker lcores start. Returns 0 or -errno.
 */
int sg_log_configure(uint32_t level, const uint32_t levels[SG_LOG_COMP_MAX], uint32_t dpdk_level,
                     enum sg_log_target target);

/*
 * Level name <-> RTE_LOG_* value: "emerg" (1) .. "debug" (8). Returns the
 * name or NULL; the parser returns the level or 0 for an unknown name.
 */
const char *sg_log_level_name(uint32_t level);
uint32_t sg_log_level_parse(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_LOG_H */
