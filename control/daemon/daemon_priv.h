/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The running daemon, shared by the files of control/daemon/ only:
 * stormgate.c (the command line), run.c (bring-up and teardown), loop.c
 * (the gateway thread's loop). Main lcore (the gateway thread).
 */
#ifndef STORMGATE_CONTROL_DAEMON_PRIV_H
#define STORMGATE_CONTROL_DAEMON_PRIV_H

#include <stdint.h>

#include "sg_config.h"
#include "sg_cred.h"
#include "sg_ctl.h"
#include "sg_gateway.h"
#include "sg_mgmt.h"

#define EXIT_USAGE 2

/* How the daemon was asked to run (the command line). */
struct run_opts {
	const char *config;
	int64_t duration_s; /* 0: until stopped */
	int status;         /* -1: when stdout is a TTY */
	int n_over;
	char **over;
	const char *argv0;
};

/* What runs, made by run.c in this order and freed in the reverse. */
struct daemon {
	const struct sg_config *cfg;
	const struct run_opts *o;
	struct sg_cred *cred;
	struct sg_gateway *gw;
	struct sg_mgmt *mgmt;
	struct sg_ctl_owner *owner; /* the gateway thread's commands (sg_ctl.h) */
	struct sg_ctl_server *ctl;  /* served by the management thread */
	int sfd;                    /* signalfd: SIGINT, SIGTERM */
	int show, tty;              /* the status line, and whether stdout is a terminal */
};

/* Bring the daemon up on cfg, run it until stopped, tear it down. Returns the exit status. */
int daemon_run(const struct sg_config *cfg, const struct run_opts *o);

/*
 * The gateway thread's loop (loop.c): runs until --duration, `shutdown`, a
 * signal or a failure. Returns why it stopped.
 */
const char *daemon_loop(struct daemon *d);

/*
 * Stop the management thread, serving what it still asks meanwhile (its
 * answers, `shutdown`'s among them, may wait for the gateway thread).
 * After the workers stopped and the sessions were saved.
 */
void daemon_stop_mgmt(struct daemon *d);

/* The status line, rewritten in place on a terminal (final: ends it). */
void daemon_show_status(struct daemon *d, int final);

#endif /* STORMGATE_CONTROL_DAEMON_PRIV_H */
