/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine's pool of large reassembly buffers (a leaf of sg_handshake):
 * see hs_bigmsg.h. The engine's thread only; owns the buffers, lends them
 * by slot index.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/common.h>

#include "hs_bigmsg.h"

#define NO_OWNER UINT32_MAX

struct bigmsg {
	uint32_t owner; /* slot index, NO_OWNER: free */
	uint32_t length;
	uint32_t have;
	uint16_t seq;
	uint8_t type;
	uint8_t active;
	uint64_t last_ms;
	uint8_t *buf;    /* cap bytes */
	uint8_t *bitmap; /* cap / 8 bytes, rounded up */
};

struct hs_bigmsg_pool {
	unsigned n;
	uint32_t cap;
	struct bigmsg m[];
};

struct hs_bigmsg_pool *sg_hs_bigmsg_create(unsigned n, uint32_t cap)
{
	struct hs_bigmsg_pool *p = calloc(1, sizeof(*p) + n * sizeof(p->m[0]));

	if (p == NULL)
		return NULL;
	p->n = n;
	p->cap = cap;
	for (unsigned i = 0; i < n; i++) {
		p->m[i].owner = NO_OWNER;
		p->m[i].buf = calloc(1, cap);
		p->m[i].bitmap = calloc(1, (cap + 7) / 8);
		if (p->m[i].buf == NULL || p->m[i].bitmap == NULL) {
			sg_hs_bigmsg_free(p);
			return NULL;
		}
	}
	return p;
}

/* Forget the message in m, wiping what it held. */
static void reset(const struct hs_bigmsg_pool *p, struct bigmsg *m)
{
	if (m->have)
		sg_wipe(m->buf, p->cap);
	memset(m->bitmap, 0, (p->cap + 7) / 8);
	m->length = m->have = 0;
	m->seq = 0;
	m->type = 0;
	m->active = 0;
}

void sg_hs_bigmsg_free(struct hs_bigmsg_pool *p)
{
	if (p == NULL)
		return;
	for (unsigned i = 0; i < p->n; i++) {
		if (p->m[i].buf)
			sg_wipe(p->m[i].buf, p->cap);
		free(p->m[i].buf);
		free(p->m[i].bitmap);
	}
	free(p);
}

static struct bigmsg *find(const struct hs_bigmsg_pool *p, uint32_t owner)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->m[i].owner == owner)
			return (struct bigmsg *)&p->m[i];
	return NULL;
}

/* A buffer for owner: its own, a free one, or the one idle longest if idle long enough. */
static struct bigmsg *lend(struct hs_bigmsg_pool *p, uint32_t owner, uint64_t now_ms)
{
	struct bigmsg *m = find(p, owner), *idle = NULL;

	if (m != NULL)
		return m;
	for (unsigned i = 0; i < p->n; i++) {
		m = &p->m[i];
		if (m->owner == NO_OWNER) {
			idle = m;
			break;
		}
		if (now_ms - m->last_ms >= HS_BIGMSG_IDLE_MS &&
		    (idle == NULL || m->last_ms < idle->last_ms))
			idle = m;
	}
	if (idle == NULL)
		return NULL;
	reset(p, idle);
	idle->owner = owner;
	return idle;
}

/* The fragment's bytes into m: 1 whole, 0 not yet, -EBADMSG when they disagree. */
static int put(struct bigmsg *m, const struct sg_hs_msg_hdr *h, const uint8_t *frag)
{
	if (!m->active) {
		m->active = 1;
		m->type = h->type;
		m->length = h->length;
		m->seq = h->seq;
	} else if (h->type != m->type || h->length != m->length || h->seq != m->seq) {
		return -EBADMSG; /* RFC 6347 §4.2.3: fragments of a message share these */
	}
	for (uint32_t i = 0; i < h->frag_len; i++) {
		uint32_t at = h->frag_off + i;
		uint8_t bit = (uint8_t)(1u << (at & 7));

		if (m->bitmap[at >> 3] & bit) {
			if (m->buf[at] != frag[i])
				return -EBADMSG; /* a repeated byte must be the same */
			continue;
		}
		m->bitmap[at >> 3] |= bit;
		m->buf[at] = frag[i];
		m->have++;
	}
	return m->have == m->length ? 1 : 0;
}

int sg_hs_bigmsg_add(struct hs_bigmsg_pool *p, uint32_t owner, uint64_t now_ms,
                     const struct sg_hs_msg_hdr *h, const uint8_t *frag, const uint8_t **body)
{
	struct bigmsg *m;
	int rc;

	if (h->length > p->cap || h->frag_off > h->length || h->frag_len > h->length - h->frag_off)
		return -EMSGSIZE;
	m = lend(p, owner, now_ms);
	if (m == NULL)
		return -ENOBUFS;
	m->last_ms = now_ms;
	rc = put(m, h, frag);
	if (rc == -EBADMSG) {
		/* One side is forged and nothing says which: start over from the newest. */
		reset(p, m);
		rc = put(m, h, frag);
	}
	if (rc == 1)
		*body = m->buf;
	return rc;
}

bool sg_hs_bigmsg_holds(const struct hs_bigmsg_pool *p, uint32_t owner)
{
	return p != NULL && find(p, owner) != NULL;
}

void sg_hs_bigmsg_release(struct hs_bigmsg_pool *p, uint32_t owner)
{
	struct bigmsg *m = p ? find(p, owner) : NULL;

	if (m == NULL)
		return;
	reset(p, m);
	m->owner = NO_OWNER;
}

unsigned sg_hs_bigmsg_in_use(const struct hs_bigmsg_pool *p)
{
	unsigned n = 0;

	for (unsigned i = 0; p != NULL && i < p->n; i++)
		n += p->m[i].owner != NO_OWNER;
	return n;
}
