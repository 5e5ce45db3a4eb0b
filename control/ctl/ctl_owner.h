/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's side of the owner queue (ctl_owner.c; the owner's side is
 * public, sg_ctl.h). Private to control/ctl/: the server's thread calls
 * these, the owner's thread only sg_ctl_owner_poll().
 */
#ifndef STORMGATE_CONTROL_CTL_OWNER_H
#define STORMGATE_CONTROL_CTL_OWNER_H

#include <stdint.h>

#include <jansson.h>

#include "sg_ctl.h"

/* The client whose request the calling thread runs now (sg_ctl_server_client()). */
extern _Thread_local uint64_t ctl_current_client;

/* Tie the queue to one server. 0, or -EBUSY when another server has it. */
int ctl_owner_bind(struct sg_ctl_owner *ow);

/*
 * Queue a parsed request for the owner's thread, with the ctx its handler
 * gets, for client (the server's pointer, opaque here) whose id is
 * client_id. Takes req (zeroed) and returns 0, or -ENOBUFS when depth
 * commands are in flight (req untouched).
 */
int ctl_owner_submit(struct sg_ctl_owner *ow, struct sg_ctl_req *req, void *ctx, void *client,
                     uint64_t client_id);

/*
 * Take the oldest answer back: 1 with *client (NULL when forgotten) and
 * *resp (a new reference, NULL when out of memory), 0 when none waits.
 */
int ctl_owner_reap(struct sg_ctl_owner *ow, void **client, json_t **resp);

/* The client is gone: its command still runs, its answer comes back with client NULL. */
void ctl_owner_forget(struct sg_ctl_owner *ow, const void *client);

/* An eventfd that polls readable when answers wait (the server's epoll set). */
int ctl_owner_answer_fd(const struct sg_ctl_owner *ow);

/*
 * The server is going: requests not yet taken are dropped unrun, waiting
 * answers freed, and the owner's thread frees the answers it still makes.
 */
void ctl_owner_unbind(struct sg_ctl_owner *ow);

#endif /* STORMGATE_CONTROL_CTL_OWNER_H */
