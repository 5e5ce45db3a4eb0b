/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A credential changed: what management asks of the gateway thread
 * (gw_calls.h) so no session or handshake keeps a key the operator took
 * away (issue 12). Each function runs on the management thread, hands its
 * job to the gateway thread and waits for it; the jobs call the gateway's
 * seam (sg_gateway.h) there, in the one order: the handshakes in flight
 * that looked the old key up fail first (they would install a session made
 * with it), then the identity's sessions end.
 *
 *  - credentials.add --replace / remove: one identity, up to REVOKE_NOW of
 *    its sessions before the answer, the rest in the background;
 *  - --keep-sessions: only how many it has;
 *  - a committed import: the set of identities whose key it took, handled a
 *    bounded number per poll of the gateway thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "gw_calls.h"
#include "mgmt_priv.h"
#include "sg_log.h"

/* Sessions of a replaced or removed credential ended before the request answers. */
#define REVOKE_NOW 4096

/*
 * Identities of a committed import looked up (and queued when they have
 * sessions) per poll of the gateway thread: a session registry lookup each,
 * well under a millisecond for the lot.
 */
#define REVOKE_SCAN_PER_POLL 2048

struct one_job {
	struct sg_gateway *gw;
	const uint8_t *identity;
	size_t len;
	bool end; /* end them (else only count them) */
	/* out */
	size_t ended, left;
	unsigned alerts;
};

/* Gateway thread: one identity's handshakes fail, its sessions end (or are counted). */
static int one_step(void *arg)
{
	struct one_job *j = arg;

	if (!j->end) {
		j->left = sg_gateway_sessions_of(j->gw, j->identity, j->len, NULL, 0);
		return MGMT_CALL_DONE;
	}
	/*
	 * Handshakes that looked the old key up already would install a session
	 * made with it after this: they fail now (the device starts again and
	 * meets the new key).
	 */
	sg_gateway_revoke_handshakes(j->gw);
	j->ended = sg_gateway_revoke_sessions(j->gw, j->identity, j->len, REVOKE_NOW, &j->alerts,
	                                      &j->left);
	return MGMT_CALL_DONE;
}

int mgmt_revoke_identity(struct sg_mgmt *m, const uint8_t *identity, size_t len, json_t *result)
{
	struct one_job j = { .gw = m->gw, .identity = identity, .len = len, .end = true };
	int rc = mgmt_call(&m->calls, one_step, &j);

	if (rc != 0)
		return rc;
	json_object_set_new(result, "sessions_killed", json_integer((json_int_t)j.ended));
	json_object_set_new(result, "alerts_sent", json_integer((json_int_t)j.alerts));
	json_object_set_new(result, "sessions_left", json_integer((json_int_t)j.left));
	json_object_set_new(result, "sessions_kept", json_false());
	return 0;
}

int mgmt_keep_sessions(struct sg_mgmt *m, const uint8_t *identity, size_t len, json_t *result)
{
	struct one_job j = { .gw = m->gw, .identity = identity, .len = len, .end = false };
	int rc = mgmt_call(&m->calls, one_step, &j);

	if (rc != 0)
		return rc;
	json_object_set_new(result, "sessions_killed", json_integer(0));
	json_object_set_new(result, "sessions_left", json_integer((json_int_t)j.left));
	json_object_set_new(result, "sessions_kept", json_true());
	return 0;
}

struct set_job {
	struct sg_gateway *gw;
	const struct mgmt_idset *set;
	bool handshakes_done;
	size_t cursor; /* in the set's walk */
	/* out */
	uint64_t with_sessions;
};

/*
 * Gateway thread, one poll's share: first the handshakes in flight are told
 * (sg_gateway_revoke_handshakes(): the engines fail those whose credential
 * is gone, the install guard those whose key changed), then each identity
 * with sessions is queued for the background sweep (64 sessions per poll,
 * sweep.c), REVOKE_SCAN_PER_POLL identities per poll.
 */
static int set_step(void *arg)
{
	struct set_job *j = arg;
	const uint8_t *id;
	size_t len, left;

	if (!j->handshakes_done) {
		sg_gateway_revoke_handshakes(j->gw);
		j->handshakes_done = true;
		return MGMT_CALL_AGAIN;
	}
	for (unsigned n = 0; n < REVOKE_SCAN_PER_POLL; n++) {
		id = mgmt_idset_next(j->set, &j->cursor, &len);
		if (id == NULL)
			return MGMT_CALL_DONE;
		left = 0;
		sg_gateway_revoke_sessions(j->gw, id, len, 0, NULL, &left);
		j->with_sessions += left > 0;
	}
	return MGMT_CALL_AGAIN;
}

int mgmt_revoke_set(struct sg_mgmt *m, const struct mgmt_idset *set, uint64_t *with_sessions)
{
	struct set_job j = { .gw = m->gw, .set = set };
	int rc;

	*with_sessions = 0;
	if (set->n == 0)
		return 0;
	rc = mgmt_call(&m->calls, set_step, &j);
	*with_sessions = j.with_sessions;
	return rc;
}
