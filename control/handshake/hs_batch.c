/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Batched HMAC and TLS 1.2 PRF on one IPsec-MB manager: the lockstep rounds
 * and the choice of manager. See hs_batch.h. A leaf: calls IPsec-MB only.
 * The engine's thread only; owns the batch's manager and entries.
 */
/* IPsec-MB's pre-0.53 names (SHA1, SHA_256, ...) collide with OpenSSL's. */
#define NO_COMPAT_IMB_API_053

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>

#include <stormgate/common.h>

#include "hs_batch.h"

#define SEED_MAX 128 /* label + seeds, as sg_hs_prf() */
#define OUT_MAX  128

enum entry_kind { KIND_HMAC = 0, KIND_PRF = 1 };

/*
 * One queued HMAC or PRF. For a PRF, buf = A(i) ‖ label ‖ seed_a ‖ seed_b,
 * so P(i) = HMAC(buf) and A(i+1) = HMAC(buf[0..hl)) read the same copy of
 * A(i) while A(i+1) is written to a: the two are lanes of one round.
 */
struct entry {
	const struct sg_hs_hmac_key *k;
	uint8_t *out;
	const uint8_t *msg; /* KIND_HMAC: the message */
	uint32_t msg_len;
	uint16_t out_len;
	uint16_t done; /* PRF output bytes written */
	uint8_t kind;
	uint8_t hl; /* hash length */
	uint8_t seed_len;
	uint8_t tail; /* the last P(i) went to blk: copy its first bytes out */
	uint8_t step; /* the entry's next round: 0 is A(1) (or the HMAC) */
	/* Called once its output is complete (may queue more: they start next round). */
	void (*then)(struct sg_hs_batch *b, void *arg);
	void *arg;
	uint8_t buf[SG_HS_HASH_MAX_LEN + SEED_MAX];
	uint8_t a[SG_HS_HASH_MAX_LEN];
	uint8_t blk[SG_HS_HASH_MAX_LEN];
};

struct sg_hs_batch {
	IMB_MGR *mgr;
	void *mgr_mem; /* mgr lives here (wiped on free) */
	size_t mgr_size;
	enum sg_hs_batch_arch arch;
	unsigned n;
	int rc;                            /* the round's first failure */
	unsigned n_jobs[SG_HS_HASH_COUNT]; /* jobs of the round not yet run, by hash */
	IMB_JOB jobs[SG_HS_HASH_COUNT][IMB_MAX_BURST_SIZE];
	struct entry e[SG_HS_BATCH_MAX];
};

static const IMB_HASH_ALG hash_alg[SG_HS_HASH_COUNT] = {
	[SG_HS_SHA256] = IMB_AUTH_HMAC_SHA_256,
	[SG_HS_SHA384] = IMB_AUTH_HMAC_SHA_384,
};

static const char *const arch_names[] = {
	[SG_HS_BATCH_SSE] = "sse",
	[SG_HS_BATCH_AVX2] = "avx2",
	[SG_HS_BATCH_AVX512] = "avx512",
};

/* Initialise the manager for arch. 0 or -ENOTSUP. */
static int mgr_init(IMB_MGR *m, enum sg_hs_batch_arch arch)
{
	switch (arch) {
	case SG_HS_BATCH_SSE:
		init_mb_mgr_sse(m);
		break;
	case SG_HS_BATCH_AVX2:
		if ((m->features & IMB_CPUFLAGS_AVX2) != IMB_CPUFLAGS_AVX2)
			return -ENOTSUP;
		init_mb_mgr_avx2(m);
		break;
	case SG_HS_BATCH_AVX512:
		if ((m->features & IMB_CPUFLAGS_AVX512) != IMB_CPUFLAGS_AVX512)
			return -ENOTSUP;
		init_mb_mgr_avx512(m);
		break;
	default:
		return -ENOTSUP;
	}
	return imb_get_errno(m) == 0 ? 0 : -ENOTSUP;
}

/*
 * The best manager of this CPU, from the measurements in hs_batch.h: SSE
 * with SHA-NI (two lanes), else AVX-512 (16 lanes), else AVX2 (8), else SSE.
 */
static enum sg_hs_batch_arch best_arch(uint64_t features)
{
	if (features & IMB_FEATURE_SHANI)
		return SG_HS_BATCH_SSE;
	if ((features & IMB_CPUFLAGS_AVX512) == IMB_CPUFLAGS_AVX512)
		return SG_HS_BATCH_AVX512;
	if ((features & IMB_CPUFLAGS_AVX2) == IMB_CPUFLAGS_AVX2)
		return SG_HS_BATCH_AVX2;
	return SG_HS_BATCH_SSE;
}

struct sg_hs_batch *sg_hs_batch_create(enum sg_hs_batch_arch arch)
{
	struct sg_hs_batch *b = aligned_alloc(SG_CACHE_LINE, (sizeof(*b) + SG_CACHE_LINE - 1) &
	                                                             ~(size_t)(SG_CACHE_LINE - 1));
	int err = ENOMEM;

	if (b == NULL)
		goto fail;
	memset(b, 0, sizeof(*b));
	/* Our own allocation, so the whole manager can be wiped before it is freed. */
	b->mgr_size = imb_get_mb_mgr_size();
	b->mgr_mem = aligned_alloc(SG_CACHE_LINE, (b->mgr_size + SG_CACHE_LINE - 1) &
	                                                  ~(size_t)(SG_CACHE_LINE - 1));
	if (b->mgr_mem == NULL)
		goto fail_batch;
	/* features: what the CPU has (detected here), before any init. */
	b->mgr = imb_set_pointers_mb_mgr(b->mgr_mem, 0, 1);
	if (b->mgr == NULL)
		goto fail_mgr;
	if (arch == SG_HS_BATCH_BEST)
		arch = best_arch(b->mgr->features);
	if (mgr_init(b->mgr, arch) < 0) {
		err = ENOTSUP;
		goto fail_mgr;
	}
	b->arch = arch;
	return b;

fail_mgr:
	free(b->mgr_mem);
fail_batch:
	free(b);
fail:
	errno = err;
	return NULL;
}

/* Wipe the copies of the first n entries (seeds, chain values, blocks). */
static void entries_wipe(struct sg_hs_batch *b, unsigned n)
{
	sg_wipe(b->e, n * sizeof(b->e[0]));
}

void sg_hs_batch_free(struct sg_hs_batch *b)
{
	if (b == NULL)
		return;
	entries_wipe(b, b->n);
	/* The manager's lanes may hold HMAC states derived from secrets. */
	imb_clear_mem(b->mgr_mem, b->mgr_size);
	free(b->mgr_mem);
	sg_wipe(b, sizeof(*b));
	free(b);
}

const char *sg_hs_batch_arch_name(const struct sg_hs_batch *b)
{
	return arch_names[b->arch];
}

unsigned sg_hs_batch_count(const struct sg_hs_batch *b)
{
	return b->n;
}

int sg_hs_batch_hmac(struct sg_hs_batch *b, const struct sg_hs_hmac_key *k, const uint8_t *msg,
                     size_t len, uint8_t *out)
{
	struct entry *x;

	/* IPsec-MB refuses an empty HMAC message (as sg_hs_hmac()). */
	if (len == 0 || len > UINT32_MAX)
		return -EINVAL;
	if (b->n == SG_HS_BATCH_MAX)
		return -ENOSPC;
	x = &b->e[b->n++];
	x->kind = KIND_HMAC;
	x->k = k;
	x->step = 0;
	x->then = NULL;
	x->msg = msg;
	x->msg_len = (uint32_t)len;
	x->out = out;
	x->hl = (uint8_t)sg_hs_hash_len((enum sg_hs_hash)k->hash);
	return 0;
}

int sg_hs_batch_prf(struct sg_hs_batch *b, const struct sg_hs_hmac_key *k, const char *label,
                    const uint8_t *seed_a, size_t len_a, const uint8_t *seed_b, size_t len_b,
                    uint8_t *out, size_t out_len)
{
	return sg_hs_batch_prf_then(b, k, label, seed_a, len_a, seed_b, len_b, out, out_len, NULL,
	                            NULL);
}

int sg_hs_batch_prf_then(struct sg_hs_batch *b, const struct sg_hs_hmac_key *k, const char *label,
                         const uint8_t *seed_a, size_t len_a, const uint8_t *seed_b, size_t len_b,
                         uint8_t *out, size_t out_len,
                         void (*then)(struct sg_hs_batch *b, void *arg), void *arg)
{
	size_t label_len = strlen(label), seed_len = label_len + len_a + len_b;
	struct entry *x;
	uint8_t *seed;

	if (seed_len > SEED_MAX || seed_len == 0 || out_len > OUT_MAX || out_len == 0)
		return -EINVAL;
	if (b->n == SG_HS_BATCH_MAX)
		return -ENOSPC;
	x = &b->e[b->n++];
	x->kind = KIND_PRF;
	x->k = k;
	x->step = 0;
	x->then = then;
	x->arg = arg;
	x->out = out;
	x->out_len = (uint16_t)out_len;
	x->done = 0;
	x->hl = (uint8_t)sg_hs_hash_len((enum sg_hs_hash)k->hash);
	x->seed_len = (uint8_t)seed_len;
	seed = x->buf + x->hl;
	memcpy(seed, label, label_len);
	if (len_a)
		memcpy(seed + label_len, seed_a, len_a);
	if (len_b)
		memcpy(seed + label_len + len_a, seed_b, len_b);
	return 0;
}

/*
 * Run the queued jobs of hash h as one burst (IPsec-MB's hash burst API:
 * the jobs are ours, not the manager's queue, and the call returns with
 * them done; about 15 ns an HMAC less than submit and flush here). A
 * failure is kept in b->rc.
 */
static void run_jobs(struct sg_hs_batch *b, unsigned h)
{
	unsigned n = b->n_jobs[h], done;

	if (n == 0)
		return;
	b->n_jobs[h] = 0;
	/* Unchecked: what IPsec-MB would refuse is refused when queued. */
	done = IMB_SUBMIT_HASH_BURST_NOCHECK(b->mgr, b->jobs[h], n, hash_alg[h]);
	for (unsigned i = 0; i < n; i++)
		if (done != n || b->jobs[h][i].status != IMB_STATUS_COMPLETED)
			b->rc = -EIO;
}

/* Queue one HMAC job of the round (a full burst of its hash runs at once). */
static void submit(struct sg_hs_batch *b, const struct sg_hs_hmac_key *k, const uint8_t *msg,
                   size_t len, uint8_t *out, unsigned hl)
{
	IMB_JOB *job = &b->jobs[k->hash][b->n_jobs[k->hash]++];

	job->src = msg;
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = len;
	job->auth_tag_output = out;
	job->auth_tag_output_len_in_bytes = hl;
	job->u.HMAC._hashed_auth_key_xor_ipad = k->ipad;
	job->u.HMAC._hashed_auth_key_xor_opad = k->opad;
	job->hash_alg = hash_alg[k->hash];
	if (b->n_jobs[k->hash] == IMB_MAX_BURST_SIZE)
		run_jobs(b, k->hash);
}

/*
 * Queue the jobs of entry x's next step: step 0 is A(1) (or the HMAC);
 * step i > 0 is P(i), and A(i+1) when more output follows. Returns the
 * jobs queued (0: x is done).
 */
static unsigned round_jobs(struct sg_hs_batch *b, struct entry *x)
{
	unsigned hl = x->hl, r = x->step;
	size_t left;

	if (x->kind == KIND_HMAC) {
		if (r > 0)
			return 0;
		submit(b, x->k, x->msg, x->msg_len, x->out, hl);
		return 1;
	}
	if (r == 0) {
		/* RFC 5246 §5: A(1) = HMAC(secret, seed). */
		submit(b, x->k, x->buf + hl, x->seed_len, x->a, hl);
		return 1;
	}
	left = (size_t)x->out_len - x->done;
	if (left == 0)
		return 0;
	memcpy(x->buf, x->a, hl);
	/* P(i) = HMAC(secret, A(i) ‖ seed), straight into out when a whole block fits. */
	x->tail = left < hl;
	submit(b, x->k, x->buf, hl + x->seed_len, x->tail ? x->blk : x->out + x->done, hl);
	if (left <= hl)
		return 1;
	/* A(i+1) = HMAC(secret, A(i)), from the copy in buf while a is written. */
	submit(b, x->k, x->buf, hl, x->a, hl);
	return 2;
}

/* After a round: account what x's step produced; true when x just completed. */
static bool round_done(struct entry *x)
{
	size_t left = (size_t)x->out_len - x->done;
	unsigned r = x->step;

	if (x->kind == KIND_HMAC) {
		x->step = 1;
		return r == 0;
	}
	if (left == 0)
		return false;
	x->step++;
	if (r == 0)
		return false;
	if (x->tail) {
		memcpy(x->out + x->done, x->blk, left);
		x->done = x->out_len;
	} else {
		x->done = (uint16_t)(x->done + x->hl);
	}
	return x->done == x->out_len;
}

int sg_hs_batch_run(struct sg_hs_batch *b)
{
	int rc;

	b->rc = 0;
	while (b->rc == 0) {
		unsigned sent = 0, n = b->n;

		for (unsigned i = 0; i < n; i++)
			sent += round_jobs(b, &b->e[i]);
		/* The round's lanes run now; the next round needs their outputs. */
		for (unsigned h = 0; h < SG_HS_HASH_COUNT; h++)
			run_jobs(b, h);
		if (sent == 0)
			break;
		/* A continuation queued here joins the next round (b->n grows). */
		for (unsigned i = 0; i < n && b->rc == 0; i++)
			if (round_done(&b->e[i]) && b->e[i].then != NULL)
				b->e[i].then(b, b->e[i].arg);
	}
	rc = b->rc;
	if (rc < 0) {
		/* No partial secret is left to use. */
		for (unsigned i = 0; i < b->n; i++) {
			struct entry *x = &b->e[i];

			sg_wipe(x->out, x->kind == KIND_PRF ? x->out_len : x->hl);
		}
	}
	entries_wipe(b, b->n);
	b->n = 0;
	return rc;
}
