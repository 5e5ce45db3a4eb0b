/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the engine's datagram input (record framing by the
 * record layer's parser, then the handshake state machine). The input is a
 * sequence of datagrams, each prefixed by a 2-byte length (so up to 64 KB,
 * past SG_HS_DGRAM_MAX: tests/fuzz.sh raises -max_len), all from one peer,
 * with a clock that moves between them so timers fire too. Two engines get
 * every datagram: one without cookies, so a hello reaches the full state
 * machine, and one that requires them, so every hello goes through the
 * cookie MAC. A third, without cookies, gets the same datagrams in bursts
 * of up to SG_HS_BURST_MAX through sg_hs_input_burst(), whose key exchanges
 * are prepared and derived together before the burst runs. Nothing any of
 * them is fed may crash it, leak, or leave a sanitizer report, and an
 * install carries the tag of the datagram that completed its handshake
 * (each datagram's tag: its offset in the input; in a burst, one of its
 * datagrams').
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stormgate/bytes.h>
#include <stormgate/handshake.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[16] = { 0x4a, 0x10, 0x2f, 0xe1, 0x7c, 0x33, 0x09, 0xb8,
	                         0x5d, 0x61, 0x92, 0xa4, 0x0e, 0xc7, 0x38, 0xf5 };

static int lookup(void *ctx, const uint8_t *identity, size_t identity_len, const uint8_t *sni,
                  size_t sni_len, struct sg_hs_cred *cred)
{
	(void)ctx;
	(void)sni;
	(void)sni_len;
	if (identity_len == 0 || identity[0] != 'd')
		return -ENOENT;
	memcpy(cred->psk, key, sizeof(key));
	cred->psk_len = sizeof(key);
	return 0;
}

static int sink(void *ctx, const struct sg_hs_peer *peer, const uint8_t *d, size_t len)
{
	(void)ctx;
	(void)peer;
	(void)d;
	(void)len;
	return 0;
}

/* ctx: the tag of the datagram being fed, which is the one completing a handshake. */
static int install(void *ctx, const struct sg_hs_result *res)
{
	if (res->tag != *(const uint64_t *)ctx)
		abort();
	return 0;
}

/* ctx: the burst's tags, [first, end): the completing datagram is one of them. */
static int install_burst(void *ctx, const struct sg_hs_result *res)
{
	const uint64_t *span = ctx;

	if (res->tag < span[0] || res->tag >= span[1])
		abort();
	return 0;
}

static int cid_alloc(void *ctx, const struct sg_hs_peer *peer, uint8_t *cid)
{
	(void)ctx;
	(void)peer;
	memset(cid, 0x5a, 8);
	return 0;
}

static void cid_release(void *ctx, const uint8_t *cid)
{
	(void)ctx;
	(void)cid;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t cookie_policy[3] = { SG_HS_COOKIE_NEVER, SG_HS_COOKIE_ALWAYS,
		                                  SG_HS_COOKIE_NEVER };
	static struct sg_hs_engine *e[3];
	static uint64_t tag, span[2];
	struct sg_hs_dgram burst[SG_HS_BURST_MAX];
	unsigned n = 0;
	struct sg_hs_peer peer = { .pport = 1, .lport = 2 };
	struct sg_hs_time now = { .mono_ms = 1000, .unix_s = 1700000000 };
	size_t off = 0;

	for (int i = 0; i < 3; i++) {
		struct sg_hs_config conf = {
			.max_handshakes = 4,
			.cookie_policy = cookie_policy[i],
			.tickets = 1,
			.cid_len = 8,
			.mtu = 256,
			.ops = { .ctx = &tag,
			         .psk_lookup = lookup,
			         .send = sink,
			         .install = install,
			         .cid_alloc = cid_alloc,
			         .cid_release = cid_release },
		};

		if (i == 2) {
			conf.ops.ctx = span;
			conf.ops.install = install_burst;
		}
		if (e[i] == NULL)
			e[i] = sg_hs_engine_create(&conf);
		if (e[i] == NULL)
			return 0;
	}
	while (off + 2 <= size) {
		size_t len = sg_load_be16(data + off);

		off += 2;
		if (len > size - off)
			len = size - off;
		tag = off;
		for (int i = 0; i < 2; i++)
			sg_hs_input(e[i], now, &peer, data + off, len, tag);
		if (n == 0)
			span[0] = off;
		burst[n++] = (struct sg_hs_dgram){
			.peer = peer, .data = data + off, .len = len, .tag = off
		};
		off += len;
		span[1] = off + 1;
		if (n == SG_HS_BURST_MAX) {
			sg_hs_input_burst(e[2], now, burst, n);
			n = 0;
		}
		now.mono_ms += 700;
		for (int i = 0; i < 2; i++)
			sg_hs_tick(e[i], now);
	}
	if (n > 0)
		sg_hs_input_burst(e[2], now, burst, n);
	/* Let every handshake of this input time out, so inputs do not interfere. */
	now.mono_ms += 3600 * 1000;
	for (int i = 0; i < 3; i++)
		sg_hs_tick(e[i], now);
	return 0;
}
