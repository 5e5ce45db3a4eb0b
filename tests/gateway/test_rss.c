/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RX queue RSS gives a device's datagrams, as the restore computes it
 * for a restored session's owner (control/gateway/rss.c): Microsoft's RSS
 * verification vectors (Toeplitz over IPv4 and IPv6 addresses, with and
 * without the ports, under the key of the specification), the hash types
 * the port reports choosing the fields, and the redirection table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <rte_ethdev.h>

#include <stormgate/session.h>

#include "sg_rss.h"

static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* "Verifying the RSS Hash Calculation": destination (the gateway), source (the device). */
static const struct {
	const char *dst, *src;
	uint16_t dport, sport;
	uint32_t l3, l4; /* the hash over the addresses; with the ports too */
} vectors[] = {
	{ "161.142.100.80", "66.9.149.187", 1766, 2794, 0x323e8fc2, 0x51ccc178 },
	{ "65.69.140.83", "199.92.111.2", 4739, 14230, 0xd718262a, 0xc626b0ea },
	{ "12.22.207.184", "24.19.198.95", 38024, 12898, 0xd2d0a5de, 0x5c2b394a },
	{ "3ffe:2501:200:3::1", "3ffe:2501:200:1fff::7", 1766, 2794, 0x2cc18cd5, 0x40207d3d },
};

static void tuple_of(unsigned i, struct sg_sess_tuple *tu)
{
	uint8_t d[16], s[16];
	uint32_t d4, s4;

	if (inet_pton(AF_INET, vectors[i].dst, &d4) == 1) {
		assert_int_equal(inet_pton(AF_INET, vectors[i].src, &s4), 1);
		sg_sess_tuple_v4(tu, d4, htons(vectors[i].dport), s4, htons(vectors[i].sport));
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, vectors[i].dst, d), 1);
	assert_int_equal(inet_pton(AF_INET6, vectors[i].src, s), 1);
	sg_sess_tuple_v6(tu, d, htons(vectors[i].dport), s, htons(vectors[i].sport));
}

static void test_vectors(void **state)
{
	struct sg_gw_rss r;
	struct sg_sess_tuple tu;

	(void)state;
	memset(&r, 0, sizeof(r));
	memcpy(r.key, ms_key, sizeof(ms_key));
	for (unsigned i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		tuple_of(i, &tu);
		r.hf = RTE_ETH_RSS_IP; /* addresses only */
		assert_int_equal(sg_gw_rss_hash(&r, &tu), vectors[i].l3);
		r.hf = RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP; /* and the ports */
		assert_int_equal(sg_gw_rss_hash(&r, &tu), vectors[i].l4);
		/* only the other family's types: not hashed */
		r.hf = i < 3 ? RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_UDP
		             : RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP;
		assert_int_equal(sg_gw_rss_hash(&r, &tu), 0);
	}
}

/* The queue: the redirection table's entry at hash % its size; none: queue 0. */
static void test_reta(void **state)
{
	struct sg_gw_rss r;
	struct sg_sess_tuple tu;

	(void)state;
	memset(&r, 0, sizeof(r));
	memcpy(r.key, ms_key, sizeof(ms_key));
	r.hf = RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP;
	tuple_of(0, &tu);
	assert_int_equal(sg_gw_rss_queue(&r, &tu), 0);
	r.reta_size = 128;
	for (unsigned i = 0; i < r.reta_size; i++)
		r.reta[i] = (uint16_t)(i % 3);
	for (unsigned i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		tuple_of(i, &tu);
		assert_int_equal(sg_gw_rss_queue(&r, &tu), (vectors[i].l4 % 128) % 3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_reta),
	};

	return cmocka_run_group_tests_name("rss", tests, NULL, NULL);
}
