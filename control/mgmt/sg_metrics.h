/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus text exposition format (version 0.0.4) of the daemon's `stats`
 * result: `stormctl metrics` prints it, for a node exporter's textfile
 * collector or any scraper that runs a command. Every family has its HELP
 * and TYPE lines; counters end in _total; labels name the worker, drop
 * reason, punt kind, handshake event... (docs/control.md lists them).
 */
#ifndef STORMGATE_CONTROL_SG_METRICS_H
#define STORMGATE_CONTROL_SG_METRICS_H

#include <stdio.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Write the metrics of stats (a `stats` result) to out. Members missing
 * from stats are left out (an older daemon). Returns 0, -EINVAL when stats
 * is not an object, -EIO when writing failed. Any thread.
 */
int sg_metrics_prometheus(const json_t *stats, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* STORMGATE_CONTROL_SG_METRICS_H */
