/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stormgate-memory: what N sessions cost the whole gateway in memory,
 * measured from the OS in a fresh process (one cold run, no heap reused from
 * an earlier iteration). Run by stormgate-bench's gateway_memory/<mode>/<n>
 * benchmarks (docs/performance.md), or by hand:
 *
 *   stormgate-memory --sessions N [--backend proxy|udp] [--order phased|interleaved]
 *
 * It builds the gateway's per-session structures as the daemon does
 * (control/gateway/: ports.c sessions_setup(), hs_glue.c gw_hs_install(),
 * sess_end.c gw_end_create()), with
 * the daemon's allocator (jemalloc, except in sanitizer builds):
 *   table     the session table (capacity N, spare SAs max(N/64, 256), one
 *             worker), N sessions inserted one at a time (sg_sess_insert), each
 *             with its 4-tuple (sessions.cid_length 0, the default);
 *   dataplane the data plane on two in-memory ports (net_ring), every session
 *             attached: proxy mode keeps its PSK identity per slot, udp mode
 *             its backend source port (8 addresses x 64512 ports at most);
 *   registry  the control plane's session registry (sessions by identity).
 * Each device has its own identity of identity_len bytes ("urn:imei:" and
 * 15 digits, 24 bytes, as LwM2M endpoint names go).
 *
 * Memory is the process's resident anonymous and shared memory (RssAnon +
 * RssShmem of /proc/self/status): what the sessions make resident; the code
 * pages the first calls fault in (RssFile) are not per-session memory and
 * not counted. phased (default) measures after each part, so each gets its
 * own figure; interleaved installs each session in all three in turn, as
 * handshakes do, and gives the total only.
 *
 * Prints one line of key=value pairs (bytes; *_per_session = bytes / N) and
 * exits 0, or says why on stderr and exits 1 (2: usage).
 *
 * Threads: one (the main thread is the control thread and owns every part).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stormgate/dataplane.h>
#include <stormgate/proxy_v2.h>
#include <stormgate/record.h>
#include <stormgate/session.h>

#include "bench_eal.h"
#include "sg_sessreg.h"

#define IDENTITY_LEN   24
#define UDP_ADDRS      SG_NET_IF_ADDRS_MAX /* backend addresses in udp mode */
#define UDP_PORTS      64512u              /* backend.source_port_count's maximum */
#define UDP_PORT_FIRST 1024u
#define N_MBUFS        1023u
#define RING_SIZE      256u

enum order { ORDER_PHASED = 0, ORDER_INTERLEAVED };

struct gw {
	struct sg_sess_table *tab;
	struct sg_dp *dp;
	struct sg_sessreg *reg;
	struct rte_mempool *pool;
	struct rte_ring *rings[4];
	uint16_t port[2];
	bool udp;
	uint32_t n;
	uint64_t *ids;
	struct sg_rec_sa *sa; /* scratch SA of one session, wiped after each insert */
};

/* RssAnon + RssShmem of this process, bytes; 0 if /proc cannot be read. */
static uint64_t resident(void)
{
	char line[256];
	uint64_t kb = 0, v;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssAnon: %" SCNu64, &v) == 1 ||
		    sscanf(line, "RssShmem: %" SCNu64, &v) == 1)
			kb += v;
	fclose(f);
	return kb * 1024;
}

static uint64_t rte_heap(void)
{
	struct rte_malloc_socket_stats st;

	if (rte_malloc_get_socket_stats(0, &st) != 0)
		return 0;
	return st.heap_allocsz_bytes;
}

static uint64_t mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* Device k: 198.18.x.y (65536 addresses, RFC 2544 space), port 1024 + k / 65536. */
static void device_tuple(struct sg_sess_tuple *t, uint32_t k)
{
	sg_sess_tuple_v4(t, htonl(0xC6130001u), htons(5684), htonl(0xC6120000u | (k & 0xffff)),
	                 htons((uint16_t)(1024 + (k >> 16))));
}

static void identity_of(uint32_t k, char out[IDENTITY_LEN + 1])
{
	snprintf(out, IDENTITY_LEN + 1, "urn:imei:%015" PRIu32, k);
}

static int ring_port(struct gw *g, unsigned i, const char *name)
{
	char rn[RTE_RING_NAMESIZE];
	struct rte_eth_conf conf;
	int port;

	snprintf(rn, sizeof(rn), "%s_rx", name);
	g->rings[2 * i] =
	        rte_ring_create(rn, RING_SIZE, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(rn, sizeof(rn), "%s_tx", name);
	g->rings[2 * i + 1] =
	        rte_ring_create(rn, RING_SIZE, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (g->rings[2 * i] == NULL || g->rings[2 * i + 1] == NULL)
		return -ENOMEM;
	port = rte_eth_from_rings(name, &g->rings[2 * i], 1, &g->rings[2 * i + 1], 1,
	                          SOCKET_ID_ANY);
	if (port < 0)
		return -ENODEV;
	g->port[i] = (uint16_t)port;
	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(g->port[i], 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(g->port[i], 0, 64, SOCKET_ID_ANY, NULL, g->pool) != 0 ||
	    rte_eth_tx_queue_setup(g->port[i], 0, 64, SOCKET_ID_ANY, NULL) != 0)
		return -EIO;
	return 0;
}

/* The fixed part: mbuf pool, ports, scratch. Not per session, not counted. */
static int base_up(struct gw *g)
{
	g->pool = rte_pktmbuf_pool_create("sgmem_pool", N_MBUFS, 64, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                                  SOCKET_ID_ANY);
	if (g->pool == NULL)
		return -ENOMEM;
	if (ring_port(g, 0, "sgmem_dev") != 0 || ring_port(g, 1, "sgmem_be") != 0)
		return -ENODEV;
	g->ids = calloc(g->n, sizeof(*g->ids));
	g->sa = aligned_alloc(SG_CACHE_LINE, sg_rec_sa_size(SG_REPLAY_WINDOW_DEFAULT));
	if (g->ids == NULL || g->sa == NULL)
		return -ENOMEM;
	/*
	 * Make them resident now, so that they are in the base and not in the
	 * table's part (not with zeros: the compiler drops a zero memset after
	 * calloc, and the pages would first be touched by the inserts).
	 */
	memset(g->ids, 0xff, (size_t)g->n * sizeof(*g->ids));
	memset(g->sa, 0xff, sg_rec_sa_size(SG_REPLAY_WINDOW_DEFAULT));
	return 0;
}

/* As dataplane_setup(): the table with the daemon's parameters. */
static int table_create(struct gw *g)
{
	struct sg_sess_params sp;

	memset(&sp, 0, sizeof(sp));
	sp.capacity = g->n;
	sp.max_threads = 1;
	sp.sa_reserve = g->n / 64 > 256 ? g->n / 64 : 256;
	g->tab = sg_sess_table_create(&sp);
	return g->tab == NULL ? -errno : 0;
}

/* As dataplane_setup(): one worker, devices on port 0, the backend on port 1. */
static int dp_create(struct gw *g)
{
	static const uint8_t mac[6] = { 0x02, 0x53, 0x47, 0, 0, 0x01 };
	struct sg_dp_conf c;

	memset(&c, 0, sizeof(c));
	c.n_workers = 1;
	c.n_ports = 2;
	for (unsigned p = 0; p < 2; p++) {
		c.ports[p].port_id = g->port[p];
		memcpy(c.ports[p].ifc.mac, mac, 6);
		c.ports[p].prefix4 = 24;
	}
	c.ports[0].role = SG_DP_ROLE_DEVICE;
	c.ports[0].ifc.n_ip4 = 1;
	memcpy(c.ports[0].ifc.ip4[0], (const uint8_t[]){ 198, 19, 0, 1 }, 4);
	c.ports[1].role = SG_DP_ROLE_BACKEND;
	c.dtls_port = 5684;
	c.backend_mode = g->udp ? SG_DP_BACKEND_UDP : SG_DP_BACKEND_PROXY;
	c.backend_family = 4;
	memcpy(c.backend_addr, (const uint8_t[]){ 198, 19, 1, 254 }, 4);
	c.backend_port = 5683;
	c.n_local = g->udp ? UDP_ADDRS : 1;
	c.ports[1].ifc.n_ip4 = c.n_local;
	for (unsigned a = 0; a < c.n_local; a++) {
		const uint8_t ip[4] = { 198, 19, 1, (uint8_t)(1 + a) };

		memcpy(c.local_addr[a], ip, 4);
		memcpy(c.ports[1].ifc.ip4[a], ip, 4);
	}
	c.port_base = g->udp ? UDP_PORT_FIRST : 20000;
	c.ports_per_addr = g->udp ? UDP_PORTS : 1;
	c.sessions = g->tab;
	c.pool = g->pool;
	g->dp = sg_dp_create(&c);
	return g->dp == NULL ? -errno : 0;
}

static int reg_create(struct gw *g)
{
	g->reg = sg_sessreg_create(sg_sess_capacity(g->tab));
	return g->reg == NULL ? -errno : 0;
}

/* Session k into the table (as hs_install(): one sg_sess_insert, its 4-tuple). */
static int insert(struct gw *g, uint32_t k)
{
	uint8_t key[32], iv[12];
	struct sg_rec_sa_params p;
	struct sg_sess_new s;
	int rc;

	for (unsigned i = 0; i < 32; i += 8) {
		uint64_t r = mix((uint64_t)k << 8 | i);

		memcpy(key + i, &r, 8);
	}
	memcpy(iv, key + 20, 12);
	memset(&p, 0, sizeof(p));
	p.aead = SG_AEAD_AES_128_CCM_8;
	p.epoch = 1;
	p.rx_key = p.tx_key = key;
	p.rx_iv = p.tx_iv = iv;
	p.tx_seq = 1;
	p.rx_seq = 1;
	rc = sg_rec_sa_init(g->sa, SG_REPLAY_WINDOW_DEFAULT, &p);
	sg_wipe(key, sizeof(key));
	sg_wipe(iv, sizeof(iv));
	if (rc != 0)
		return rc;
	memset(&s, 0, sizeof(s));
	s.sa = g->sa;
	device_tuple(&s.tuple, k);
	s.flags = SG_SESS_F_TUPLE;
	s.suite = 0xC0A8;
	s.identity = k;
	s.expires = 2000000000u;
	s.last_rx = 1700000000u;
	rc = sg_sess_insert(g->tab, &s, &g->ids[k], NULL);
	sg_rec_sa_wipe(g->sa, SG_REPLAY_WINDOW_DEFAULT);
	return rc;
}

static int attach(struct gw *g, uint32_t k)
{
	char ident[IDENTITY_LEN + 1];
	uint8_t token[SG_PP2_TOKEN_LEN];

	identity_of(k, ident);
	/* proxy mode keeps a per-session token beside the identity (random in the daemon) */
	for (unsigned i = 0; i < sizeof(token); i++)
		token[i] = (uint8_t)(k >> (8 * (i % 4)));
	return sg_dp_session_attach(g->dp, g->ids[k], (const uint8_t *)ident, IDENTITY_LEN, token);
}

static int reg_add(struct gw *g, uint32_t k)
{
	char ident[IDENTITY_LEN + 1];

	identity_of(k, ident);
	return sg_sessreg_add(g->reg, g->ids[k], ident, IDENTITY_LEN);
}

static void gw_down(struct gw *g)
{
	sg_sessreg_destroy(g->reg);
	sg_dp_destroy(g->dp);
	sg_sess_table_destroy(g->tab);
	for (unsigned i = 0; i < 2; i++)
		if (g->rings[2 * i] != NULL) {
			rte_eth_dev_stop(g->port[i]);
			rte_eth_dev_close(g->port[i]);
		}
	for (unsigned i = 0; i < 4; i++)
		rte_ring_free(g->rings[i]);
	rte_mempool_free(g->pool);
	if (g->sa != NULL)
		sg_rec_sa_wipe(g->sa, SG_REPLAY_WINDOW_DEFAULT);
	free(g->sa);
	free(g->ids);
}

static void print_part(const char *name, uint64_t bytes, uint32_t n)
{
	printf(" %s_bytes=%" PRIu64 " %s_per_session=%.1f", name, bytes, name,
	       (double)bytes / (double)n);
}

/*
 * The parts of the gateway a session lives in, in the order the daemon makes
 * them: each made once (its name when that fails: "create" in interleaved
 * order), then every session added to it (add_what when that fails).
 */
static const struct part {
	const char *name;
	int (*create)(struct gw *g);
	const char *add_what;
	int (*add)(struct gw *g, uint32_t k);
} parts[] = {
	{ "table", table_create, "insert", insert },
	{ "dataplane", dp_create, "attach", attach },
	{ "registry", reg_create, "registry", reg_add },
};
#define N_PARTS (sizeof(parts) / sizeof(parts[0]))

/* Every part made, then each session installed in all of them in turn, as handshakes do. */
static int run_interleaved(struct gw *g, const char **what)
{
	int rc = 0;

	*what = "create";
	for (unsigned p = 0; p < N_PARTS && rc == 0; p++)
		rc = parts[p].create(g);
	for (uint32_t k = 0; k < g->n && rc == 0; k++)
		for (unsigned p = 0; p < N_PARTS && rc == 0; p++) {
			rc = parts[p].add(g, k);
			*what = parts[p].add_what;
		}
	return rc;
}

/*
 * Each part made and filled with every session before the next, resident
 * memory after each (mem[p]) and the rte_malloc heap (heap[p]).
 */
static int run_phased(struct gw *g, uint64_t mem[N_PARTS], uint64_t heap[N_PARTS],
                      const char **what)
{
	for (unsigned p = 0; p < N_PARTS; p++) {
		int rc;

		*what = parts[p].name;
		rc = parts[p].create(g);
		for (uint32_t k = 0; k < g->n && rc == 0; k++)
			rc = parts[p].add(g, k);
		if (rc != 0)
			return rc;
		mem[p] = resident();
		heap[p] = rte_heap();
	}
	return 0;
}

static int run(struct gw *g, enum order order)
{
	uint64_t m0, mem[N_PARTS], heap[N_PARTS];
	const char *what = "base";
	int rc;

	rc = base_up(g);
	if (rc != 0)
		goto fail;
	m0 = resident();
	if (order == ORDER_INTERLEAVED) {
		rc = run_interleaved(g, &what);
		if (rc != 0)
			goto fail;
		mem[N_PARTS - 1] = resident();
		printf("sessions=%" PRIu32 " backend=%s order=interleaved identity_len=%u "
		       "base_bytes=%" PRIu64,
		       g->n, g->udp ? "udp" : "proxy", IDENTITY_LEN, m0);
		print_part("total", mem[N_PARTS - 1] - m0, g->n);
		printf("\n");
		return 0;
	}
	rc = run_phased(g, mem, heap, &what);
	if (rc != 0)
		goto fail;
	printf("sessions=%" PRIu32 " backend=%s order=phased identity_len=%u base_bytes=%" PRIu64,
	       g->n, g->udp ? "udp" : "proxy", IDENTITY_LEN, m0);
	for (unsigned p = 0; p < N_PARTS; p++)
		print_part(parts[p].name, mem[p] - (p ? mem[p - 1] : m0), g->n);
	print_part("total", mem[N_PARTS - 1] - m0, g->n);
	/* rte_malloc'd by the data plane (per worker, fixed): within dataplane_bytes once touched.
	 */
	printf(" dataplane_rte_heap_bytes=%" PRIu64 "\n", heap[1] - heap[0]);
	return 0;

fail:
	fprintf(stderr, "stormgate-memory: %s: %s\n", what, strerror(-rc));
	return -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: stormgate-memory --sessions N [--backend proxy|udp] "
	                "[--order phased|interleaved]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "sessions", required_argument, NULL, 'n' },
		                              { "backend", required_argument, NULL, 'b' },
		                              { "order", required_argument, NULL, 'o' },
		                              { NULL, 0, NULL, 0 } };
	struct gw g;
	enum order order = ORDER_PHASED;
	unsigned long long n = 0;
	char *end;
	int c, rc;

	memset(&g, 0, sizeof(g));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			n = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || n == 0 || n > SG_SESS_CAPACITY_MAX)
				return usage();
			break;
		case 'b':
			if (strcmp(optarg, "udp") != 0 && strcmp(optarg, "proxy") != 0)
				return usage();
			g.udp = strcmp(optarg, "udp") == 0;
			break;
		case 'o':
			if (strcmp(optarg, "phased") != 0 && strcmp(optarg, "interleaved") != 0)
				return usage();
			order = strcmp(optarg, "phased") == 0 ? ORDER_PHASED : ORDER_INTERLEAVED;
			break;
		default:
			return usage();
		}
	}
	if (n == 0 || optind != argc)
		return usage();
	if (g.udp && n > (unsigned long long)UDP_ADDRS * UDP_PORTS) {
		/* docs/config.md, backend.source_port_count: sessions <= ports x addresses */
		fprintf(stderr,
		        "stormgate-memory: udp mode serves at most %u sessions (%u addresses x %u "
		        "source ports)\n",
		        UDP_ADDRS * UDP_PORTS, UDP_ADDRS, UDP_PORTS);
		return 2;
	}
	g.n = (uint32_t)n;
	/* EAL (bench_eal.h); nothing per session lives in its memory. */
	rc = sg_bench_eal_init("stormgate-memory", "sgmem", 256) < 0 ? -rte_errno : 0;
	if (rc != 0) {
		fprintf(stderr, "stormgate-memory: EAL: %s\n", strerror(-rc));
		return 1;
	}
	rc = run(&g, order);
	gw_down(&g);
	sg_bench_eal_fini();
	return rc == 0 ? 0 : 1;
}
