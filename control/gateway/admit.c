/* SPDX-License-Identifier: Apache-2.0 */
/* Storm admission control: global and per-source GCRA limits (sg_admit.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stormgate/common.h>
#include <stormgate/time.h>

#include "sg_admit.h"

struct sg_admit_sources {
	EVP_CIPHER_CTX *prf;            /* AES-128-ECB under the random key: the bucket hash */
	uint64_t tat[SG_ADMIT_SOURCES]; /* each bucket's theoretical arrival time, ns */
};

void sg_admit_set_rate(struct sg_admit *a, uint32_t rate, uint64_t now_ns)
{
	a->rate = rate;
	a->interval = rate ? SG_NS_PER_SEC / rate : 0;
	if (a->interval == 0 && rate != 0)
		a->interval = 1;
	a->tat = now_ns;
	if (a->share != 0)
		sg_admit_set_sources(a, a->share, a->prefix4, a->prefix6);
}

/*
 * GCRA: would one more at now conform, with tolerance ns of burst? The
 * bucket is full when tat is in the past.
 */
static bool gcra_conforms(uint64_t tat, uint64_t interval, uint64_t tolerance, uint64_t now)
{
	uint64_t t = tat > now ? tat : now;

	return t + interval <= now + tolerance;
}

static void gcra_charge(uint64_t *tat, uint64_t interval, uint64_t now)
{
	*tat = (*tat > now ? *tat : now) + interval;
}

static void refuse(struct sg_admit *a, uint64_t now_ns, uint64_t *why)
{
	a->refused++;
	(*why)++;
	a->last_refused_ns = now_ns;
}

/* The bucket holds one second: a handshake is admitted while tat stays within it. */
bool sg_admit_take(struct sg_admit *a, uint64_t now_ns)
{
	if (a->rate == 0) {
		a->admitted++;
		return true;
	}
	if (!gcra_conforms(a->tat, a->interval, SG_NS_PER_SEC, now_ns)) {
		refuse(a, now_ns, &a->refused_rate);
		return false;
	}
	gcra_charge(&a->tat, a->interval, now_ns);
	a->admitted++;
	return true;
}

uint64_t sg_admit_available(const struct sg_admit *a, uint64_t now_ns)
{
	uint64_t tat;

	if (a->rate == 0)
		return 0;
	tat = a->tat > now_ns ? a->tat : now_ns;
	return (now_ns + SG_NS_PER_SEC - tat) / a->interval;
}

struct sg_admit_sources *sg_admit_sources_create(const uint8_t *key)
{
	struct sg_admit_sources *s = calloc(1, sizeof(*s));
	uint8_t k[16];
	int ok;

	if (s == NULL)
		return NULL;
	if (key != NULL)
		memcpy(k, key, sizeof(k));
	else if (RAND_bytes(k, sizeof(k)) != 1)
		goto fail;
	s->prf = EVP_CIPHER_CTX_new();
	ok = s->prf != NULL && EVP_EncryptInit_ex(s->prf, EVP_aes_128_ecb(), NULL, k, NULL) == 1 &&
	     EVP_CIPHER_CTX_set_padding(s->prf, 0) == 1;
	sg_wipe(k, sizeof(k));
	if (!ok)
		goto fail;
	return s;
fail:
	sg_wipe(k, sizeof(k));
	sg_admit_sources_destroy(s);
	errno = EIO;
	return NULL;
}

void sg_admit_sources_destroy(struct sg_admit_sources *s)
{
	if (s == NULL)
		return;
	EVP_CIPHER_CTX_free(s->prf); /* it wipes the expanded key */
	free(s);
}

void sg_admit_sources_attach(struct sg_admit *a, struct sg_admit_sources *s)
{
	a->src = s;
}

int sg_admit_set_sources(struct sg_admit *a, uint32_t share, uint8_t prefix4, uint8_t prefix6)
{
	uint64_t per_s;

	if (share < 1 || share > 100 || prefix4 < 1 || prefix4 > 32 || prefix6 < 1 || prefix6 > 128)
		return -EINVAL;
	if (a->src != NULL && (prefix4 != a->prefix4 || prefix6 != a->prefix6))
		memset(a->src->tat, 0, sizeof(a->src->tat));
	a->share = share;
	a->prefix4 = prefix4;
	a->prefix6 = prefix6;
	/* share percent of rate per second, as ns per handshake: 1e9 * 100 / (rate * share). */
	per_s = (uint64_t)a->rate * share;
	a->src_interval = per_s ? SG_NS_PER_SEC * 100 / per_s : 0;
	if (a->src_interval == 0 && per_s != 0)
		a->src_interval = 1;
	/* A burst of one second of the share, and never less than one handshake. */
	a->src_tolerance = a->src_interval > SG_NS_PER_SEC ? a->src_interval : SG_NS_PER_SEC;
	return 0;
}

/* addr with every bit past its prefix cleared (IPv4-mapped: prefix4 of the last 4 bytes). */
static void source_prefix(const struct sg_admit *a, const uint8_t addr[16], uint8_t out[16])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	unsigned bits = memcmp(addr, mapped, 12) == 0 ? 96u + a->prefix4 : a->prefix6;

	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits > 8 * i ? bits - 8 * i : 0;

		out[i] = keep >= 8 ? addr[i] : (uint8_t)(addr[i] & (0xff00u >> keep));
	}
}

uint32_t sg_admit_source_bucket(const struct sg_admit *a, const uint8_t addr[16])
{
	uint8_t in[16], out[16];
	int len = 0;

	if (a->src == NULL)
		return 0;
	source_prefix(a, addr, in);
	/* ECB on one block: a keyed pseudorandom permutation of the prefix. */
	if (EVP_EncryptUpdate(a->src->prf, out, &len, in, sizeof(in)) != 1 || len != 16)
		return 0; /* cannot happen with AES-128 and a whole block; one bucket, not a crash
		           */
	return ((uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
	        (uint32_t)out[3] << 24) &
	       (SG_ADMIT_SOURCES - 1);
}

enum sg_admit_verdict sg_admit_take_from(struct sg_admit *a, const uint8_t addr[16],
                                         uint64_t now_ns)
{
	uint64_t *stat;

	if (a->rate == 0 || a->src == NULL || a->share >= 100)
		return sg_admit_take(a, now_ns) ? SG_ADMIT_OK : SG_ADMIT_REFUSED_RATE;
	stat = &a->src->tat[sg_admit_source_bucket(a, addr)];
	/* Charged to both or to neither: a source refused by its share costs the rest nothing. */
	if (!gcra_conforms(*stat, a->src_interval, a->src_tolerance, now_ns)) {
		refuse(a, now_ns, &a->refused_source);
		return SG_ADMIT_REFUSED_SOURCE;
	}
	if (!gcra_conforms(a->tat, a->interval, SG_NS_PER_SEC, now_ns)) {
		refuse(a, now_ns, &a->refused_rate);
		return SG_ADMIT_REFUSED_RATE;
	}
	gcra_charge(stat, a->src_interval, now_ns);
	gcra_charge(&a->tat, a->interval, now_ns);
	a->admitted++;
	return SG_ADMIT_OK;
}
