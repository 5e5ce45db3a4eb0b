// SPDX-License-Identifier: Apache-2.0
// Data plane benchmarks (issue 5; docs/performance.md, "Data plane"): one
// worker's whole path, sg_dp_worker_poll() driven from this thread over two
// in-memory net_ring ports (devices, backend), public API only.
//
//   pipeline/<suite>/<payload>/<sessions>       uplink: device datagrams of one
//       DTLS 1.2 record (<payload> bytes of plaintext, no CID) go into the
//       device port's RX ring; the worker parses them, looks their sessions
//       up by 4-tuple, opens them, writes a PROXY v2 header and the backend
//       headers in front of the plaintext and sends them on the backend port
//   pipeline_seal/<suite>/<payload>/<sessions>  downlink: backend replies (a
//       PROXY v2 header naming the session, then <payload> bytes) go into the
//       backend port's RX ring; lookup by session id, seal, device headers,
//       TX on the device port
//   pipeline_seal_udp/<suite>/<payload>/<sessions>   the downlink in udp mode:
//       replies without a header to the session's own backend address and port,
//       mapped back to the session through the FIFO map of 8 listed addresses
//       (at most 8 x 64512 sessions)
//   pipeline_seal_pool/<suite>/<payload>/<sessions>  the same with a source
//       pool (198.19.128.0/17): the map by arithmetic (docs/dataplane.md,
//       "Backend source pool"), up to 10M sessions
//
// Every packet belongs to a session drawn at random from <sessions>. The
// uplink and pipeline_seal run in proxy mode at every session count, which
// keeps their columns comparable; the two udp downlinks measure the backend
// map (first suite, 64-byte payload: the map's cost does not depend on them). Frames are built
// outside the timed region, a pass of ~2 MB at a time with fresh random sessions (uplink records
// sealed by the device side of their session with its next sequence number, so none is a replay).
// The timed loop is the harness a NIC would replace plus the worker: allocate a burst of mbufs and
// copy the frames in (the NIC's DMA), enqueue them on the RX ring, one sg_dp_worker_poll(), dequeue
// and free what it sent; the harness part is reported apart as harness_time. Outside the timed
// region the first burst of every run is checked byte for byte (backend datagram and PROXY header,
// or the sealed record opened with the device's keys), and after it the worker's counters must show
// every packet forwarded.
#include <benchmark/benchmark.h>

#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stormgate/bytes.h>
#include <stormgate/dataplane.h>
#include <stormgate/proxy_v2.h>
#include <stormgate/record.h>
#include <stormgate/session.h>
#include <stormgate/suite.h>

#include "bench_util.h"

namespace
{

constexpr unsigned kBurst = 32;         // RX burst of the worker (sg_dp_conf.burst default)
constexpr size_t kPoolBytes = 2u << 20; // frames of one pass (see Frames)
constexpr unsigned kSealGroup = 128;    // device-side seal burst while building frames
constexpr unsigned kRing = 1024;        // net_ring RX/TX ring size
constexpr unsigned kMbufs = 8191;       // mbuf pool (a burst in flight, plus per-lcore cache)
constexpr unsigned kMbufCache = 256;    // per-lcore mempool cache, as DPDK apps use
constexpr unsigned kL2L4 = 14 + 20 + 8; // Ethernet + IPv4 + UDP
constexpr uint16_t kDtlsPort = 5684, kCoapPort = 5683, kProxyPort = 20000;

// Addresses from 198.18.0.0/15 (RFC 2544 benchmarking). Devices sit behind a
// router on the device side (one neighbour entry for all of them).
const uint8_t kGwMac[6] = { 0x02, 0x53, 0x47, 0, 0, 0x01 };
const uint8_t kRouterMac[6] = { 0x02, 0x53, 0x47, 0, 0, 0x02 };
const uint8_t kServerMac[6] = { 0x02, 0x53, 0x47, 0, 0, 0x03 };
const uint8_t kGwDev4[4] = { 198, 19, 0, 1 };
const uint8_t kRouter4[4] = { 198, 19, 0, 254 };
const uint8_t kGwBack4[4] = { 198, 19, 1, 1 };
const uint8_t kServer4[4] = { 198, 19, 1, 2 };

using sgbench::kSuites;
using sgbench::SuiteInfo;

// The sessions' cipher suite: the PSK suite of that AEAD in the registry (suite.h).
uint16_t psk_suite(sg_aead aead)
{
	for (const sg_suite &su : sg_suites)
		if (su.aead == aead && su.kx == SG_KX_PSK)
			return su.id;
	abort();
}
const unsigned kPayloads[] = { 64, 256, 1024 };
const size_t kSessions[] = { 1, 1000, 1000000, 10000000 };

// The backend side: proxy mode, or udp mode over 8 listed addresses (FIFO map) or a pool.
enum class Backend { Proxy, UdpList, UdpPool };
const size_t kUdpListSessions[] = { 1000, 500000 };
const size_t kUdpPoolSessions[] = { 1000, 500000, 1000000, 10000000 };
constexpr uint16_t kUdpPortFirst = 1024, kUdpPorts = 64512;
const uint8_t kPool4[4] = { 198, 19, 128, 0 }; // /17: 32768 addresses
constexpr uint8_t kPoolLen = 17;

// Device k: 198.18.x.y (65536 addresses), source port 1024 + k / 65536.
void device_addr(size_t k, uint8_t a[4], uint16_t *port)
{
	a[0] = 198;
	a[1] = 18;
	sg_store_be16(a + 2, uint16_t(k));
	*port = uint16_t(1024 + (k >> 16));
}

uint8_t plain_byte(size_t k, unsigned j)
{
	return uint8_t(k * 131 + j);
}

void identity_of(size_t k, char *buf, size_t cap)
{
	snprintf(buf, cap, "device-%zu", k);
}

// Session k's proxy token (the daemon draws it from a CSPRNG; a benchmark needs it known).
void token_of(size_t k, uint8_t out[SG_PP2_TOKEN_LEN])
{
	uint64_t x = (uint64_t(k) + 1) * 0x9e3779b97f4a7c15ull;

	memcpy(out, &x, SG_PP2_TOKEN_LEN);
}

// ---- ports: created once, kept for the process ----

struct Ports {
	rte_mempool *pool = nullptr;
	rte_ring *rx[2] = {}, *tx[2] = {}; // [0]: device port, [1]: backend port
	uint16_t id[2] = {};
};

Ports g_ports;

int ring_port(unsigned i, const char *name)
{
	char rn[RTE_RING_NAMESIZE];
	rte_eth_conf conf;
	int port;

	snprintf(rn, sizeof(rn), "%s_rx", name);
	g_ports.rx[i] = rte_ring_create(rn, kRing, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(rn, sizeof(rn), "%s_tx", name);
	g_ports.tx[i] = rte_ring_create(rn, kRing, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (g_ports.rx[i] == nullptr || g_ports.tx[i] == nullptr)
		return -ENOMEM;
	port = rte_eth_from_rings(name, &g_ports.rx[i], 1, &g_ports.tx[i], 1, SOCKET_ID_ANY);
	if (port < 0)
		return -ENODEV;
	g_ports.id[i] = uint16_t(port);
	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(g_ports.id[i], 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(g_ports.id[i], 0, 128, SOCKET_ID_ANY, nullptr, g_ports.pool) !=
	            0 ||
	    rte_eth_tx_queue_setup(g_ports.id[i], 0, 128, SOCKET_ID_ANY, nullptr) != 0 ||
	    rte_eth_dev_start(g_ports.id[i]) != 0)
		return -EIO;
	return 0;
}

bool ports_up()
{
	static int state = 0; // 0: not tried, 1: up, -1: failed

	if (state == 0) {
		state = -1;
		if (!sgbench::eal_up())
			return false;
		g_ports.pool = rte_pktmbuf_pool_create("sgb_pool", kMbufs, kMbufCache, 0,
		                                       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
		if (g_ports.pool != nullptr && ring_port(0, "sgb_dev") == 0 &&
		    ring_port(1, "sgb_be") == 0)
			state = 1;
	}
	return state == 1;
}

void ports_down()
{
	for (unsigned i = 0; i < 2; i++) {
		if (g_ports.rx[i] == nullptr)
			continue;
		rte_eth_dev_stop(g_ports.id[i]);
		rte_eth_dev_close(g_ports.id[i]);
		rte_ring_free(g_ports.rx[i]);
		rte_ring_free(g_ports.tx[i]);
	}
	rte_mempool_free(g_ports.pool);
}

// Free whatever a ring holds (left by a run that stopped on an error).
void drain(rte_ring *r)
{
	rte_mbuf *m[kBurst];
	unsigned n;

	while ((n = rte_ring_dequeue_burst(r, (void **)m, kBurst, nullptr)) != 0)
		rte_pktmbuf_free_bulk(m, n);
}

// ---- the gateway: session table and data plane for one suite and session count ----

struct Gateway {
	sg_aead aead;
	size_t n;
	Backend be;
	sg_sess_table *tab = nullptr;
	sg_dp *dp = nullptr;
	std::vector<uint64_t> ids; // session id of device k
	uint64_t rng;
	uint64_t dev_seq = 1; // device side: next write sequence number, every session

	Gateway(sg_aead a, size_t count, Backend b)
	    : aead(a), n(count), be(b), rng(count * 7 + unsigned(a))
	{
	}

	size_t draw()
	{
		return n == 1 ? 0 : size_t(sgbench::splitmix(rng) % n);
	}

	// Table, data plane, then every session inserted (groups of 32, the
	// restore path) and attached with its PSK identity. 0 or -errno.
	int build(unsigned suite_iana)
	{
		sg_sess_params sp;
		sg_dp_conf c;

		memset(&sp, 0, sizeof(sp));
		sp.capacity = uint32_t(n);
		sp.max_threads = 1;
		tab = sg_sess_table_create(&sp);
		if (tab == nullptr)
			return -errno;

		memset(&c, 0, sizeof(c));
		c.n_workers = 1;
		c.n_ports = 2;
		for (unsigned p = 0; p < 2; p++) {
			c.ports[p].port_id = g_ports.id[p];
			memcpy(c.ports[p].ifc.mac, kGwMac, 6);
			c.ports[p].ifc.n_ip4 = 1;
			c.ports[p].prefix4 = 24;
		}
		c.ports[0].role = SG_DP_ROLE_DEVICE;
		memcpy(c.ports[0].ifc.ip4[0], kGwDev4, 4);
		memcpy(c.ports[0].gw4, kRouter4, 4);
		c.ports[1].role = SG_DP_ROLE_BACKEND;
		memcpy(c.ports[1].ifc.ip4[0], kGwBack4, 4);
		c.dtls_port = kDtlsPort;
		c.burst = kBurst;
		c.backend_mode = SG_DP_BACKEND_PROXY;
		c.backend_family = 4;
		memcpy(c.backend_addr, kServer4, 4);
		c.backend_port = kCoapPort;
		c.n_local = 1;
		memcpy(c.local_addr[0], kGwBack4, 4);
		c.port_base = kProxyPort;
		c.ports_per_addr = 1;
		if (be != Backend::Proxy)
			udp_backend(c);
		c.sessions = tab;
		c.pool = g_ports.pool;
		dp = sg_dp_create(&c);
		if (dp == nullptr)
			return -errno;
		if (sg_dp_neigh_set(dp, 0, 4, kRouter4, kRouterMac) != 0 ||
		    sg_dp_neigh_set(dp, 1, 4, kServer4, kServerMac) != 0)
			return -ENOSPC;
		int rc = insert_all(suite_iana);
		if (rc == 0)
			sg_dp_worker_online(dp, 0);
		return rc;
	}

	// udp mode: 8 listed addresses 198.19.1.1.. on the backend port, or the pool.
	void udp_backend(sg_dp_conf &c)
	{
		c.backend_mode = SG_DP_BACKEND_UDP;
		c.port_base = kUdpPortFirst;
		c.ports_per_addr = kUdpPorts;
		if (be == Backend::UdpPool) {
			c.pool_len = kPoolLen;
			memcpy(c.pool_addr, kPool4, 4);
			return;
		}
		c.n_local = SG_NET_IF_ADDRS_MAX;
		c.ports[1].ifc.n_ip4 = SG_NET_IF_ADDRS_MAX;
		for (unsigned a = 0; a < SG_NET_IF_ADDRS_MAX; a++) {
			memcpy(c.local_addr[a], kGwBack4, 4);
			c.local_addr[a][3] = uint8_t(kGwBack4[3] + 10 + a);
			memcpy(c.ports[1].ifc.ip4[a], c.local_addr[a], 4);
		}
	}

	int insert_all(unsigned suite_iana)
	{
		constexpr unsigned G = 32;
		const size_t sa_size = sg_rec_sa_size(sg_sess_replay_window(tab));
		auto *sas = static_cast<uint8_t *>(aligned_alloc(SG_CACHE_LINE, G * sa_size));
		sg_sess_new s[G];
		int rcs[G];
		int rc = 0;

		if (sas == nullptr)
			return -ENOMEM;
		ids.resize(n);
		for (size_t k = 0; k < n && rc == 0; k += G) {
			unsigned m = unsigned(n - k < G ? n - k : G);

			for (unsigned i = 0; i < m; i++) {
				auto *sa = reinterpret_cast<sg_rec_sa *>(sas + i * sa_size);
				sgbench::Keys keys;
				sg_rec_sa_params p;
				uint8_t a[4];
				uint16_t port;
				uint32_t l, r;

				sgbench::session_keys(k + i, aead, keys);
				p = sgbench::sa_params(aead, keys, false);
				p.tx_seq = 1;
				p.rx_seq = 1;
				sg_rec_sa_init(sa, sg_sess_replay_window(tab), &p);
				sg_wipe(&keys, sizeof(keys));
				device_addr(k + i, a, &port);
				memcpy(&l, kGwDev4, 4);
				memcpy(&r, a, 4);
				memset(&s[i], 0, sizeof(s[i]));
				s[i].sa = sa;
				sg_sess_tuple_v4(&s[i].tuple, l, htons(kDtlsPort), r, htons(port));
				s[i].flags = SG_SESS_F_TUPLE;
				s[i].owner = 0;
				s[i].suite = uint16_t(suite_iana);
				s[i].identity = uint32_t(k + i);
			}
			if (sg_sess_insert_bulk(tab, s, m, &ids[k], nullptr, rcs) != m) {
				for (unsigned i = 0; i < m && rc == 0; i++)
					rc = rcs[i];
				break;
			}
			for (unsigned i = 0; i < m && rc == 0; i++) {
				char ident[32];
				uint8_t token[SG_PP2_TOKEN_LEN];

				identity_of(k + i, ident, sizeof(ident));
				token_of(k + i, token);
				rc = sg_dp_session_attach(dp, ids[k + i], (const uint8_t *)ident,
				                          uint8_t(strlen(ident)), token);
			}
		}
		sg_wipe(sas, G * sa_size);
		free(sas);
		return rc;
	}

	~Gateway()
	{
		if (dp != nullptr) {
			sg_dp_worker_offline(dp, 0);
			for (unsigned i = 0; i < 2; i++) {
				drain(g_ports.rx[i]);
				drain(g_ports.tx[i]);
			}
			sg_dp_destroy(dp);
		}
		sg_sess_table_destroy(tab);
	}
};

std::unique_ptr<Gateway> g_gw;

void teardown_at_exit()
{
	g_gw.reset();
	ports_down();
}

// The gateway for (suite, sessions): built on first use, kept while the
// following benchmarks use the same pair (only one at a time: 10M sessions
// take ~2.4 GB of session table plus their identities).
Gateway *gateway(const SuiteInfo &s, size_t n, Backend be, std::string &err)
{
	static bool registered;

	if (g_gw && g_gw->aead == s.aead && g_gw->n == n && g_gw->be == be)
		return g_gw.get();
	g_gw.reset();
	if (!ports_up()) {
		err = "EAL or net_ring ports failed";
		return nullptr;
	}
	if (!registered) {
		atexit(teardown_at_exit); // after EAL's handler: runs before rte_eal_cleanup
		registered = true;
	}
	g_gw.reset(new Gateway(s.aead, n, be));
	int rc = g_gw->build(psk_suite(s.aead));
	if (rc != 0) {
		err = std::string("gateway set-up: ") + strerror(-rc);
		g_gw.reset();
		return nullptr;
	}
	return g_gw.get();
}

// ---- frames ----

// Ethernet, IPv4 and UDP headers in front of len bytes of payload at f + kL2L4.
void udp4_headers(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, const uint8_t *src,
                  uint16_t sport, const uint8_t *dst, uint16_t dport, uint16_t len)
{
	auto *eth = reinterpret_cast<rte_ether_hdr *>(f);
	auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + 1);
	auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);

	memcpy(&eth->dst_addr, dmac, 6);
	memcpy(&eth->src_addr, smac, 6);
	eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = htons(uint16_t(sizeof(*ip) + sizeof(*udp) + len));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	memcpy(&ip->src_addr, src, 4);
	memcpy(&ip->dst_addr, dst, 4);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = htons(sport);
	udp->dst_port = htons(dport);
	udp->dgram_len = htons(uint16_t(sizeof(*udp) + len));
	sg_net_udp_set_cksum(4, src, dst, reinterpret_cast<uint8_t *>(udp),
	                     uint16_t(sizeof(*udp) + len));
}

// A pass of frames, each of a random session; refilled with new sessions.
// About kPoolBytes of them, so that the frames the harness copies into mbufs
// are in cache, as a NIC's DMA leaves received packets (DDIO, or the cache
// lines a PMD touches first), not streamed from DRAM: a multiple of kSealGroup.
struct Frames {
	size_t stride, count;
	std::vector<uint8_t> buf;
	std::vector<uint16_t> len;
	std::vector<uint32_t> sess;

	explicit Frames(size_t max_len)
	    : stride((max_len + 63) & ~size_t(63)),
	      count(std::max<size_t>(kPoolBytes / stride / kSealGroup, 1) * kSealGroup),
	      buf(count * stride), len(count), sess(count)
	{
	}

	uint8_t *frame(size_t i)
	{
		return buf.data() + i * stride;
	}
};

// Device datagrams, one record each, sealed by the device side of their
// session (client_write keys) with the next sequence number: never a replay.
bool refill_uplink(Gateway &gw, Frames &fr, unsigned payload, sg_rec_ctx *dev_ctx, sg_rec_sa *cli)
{
	const unsigned head = sg_rec_seal_headroom(gw.aead, 0, 0);
	sg_rec_seal_op ops[kSealGroup];

	for (size_t base = 0; base < fr.count; base += kSealGroup) {
		for (unsigned j = 0; j < kSealGroup; j++) {
			size_t i = base + j, k = gw.draw();
			uint8_t *rec = fr.frame(i) + kL2L4;

			fr.sess[i] = uint32_t(k);
			for (unsigned b = 0; b < payload; b++)
				rec[head + b] = plain_byte(k, b);
			ops[j].buf = rec;
			ops[j].buf_len = uint32_t(fr.stride - kL2L4);
			ops[j].pt_off = head;
			ops[j].pt_len = payload;
		}
		if (!sgbench::seal_as_devices(dev_ctx, cli, gw.aead, &fr.sess[base], ops,
		                              kSealGroup, gw.dev_seq))
			return false;
		for (unsigned j = 0; j < kSealGroup; j++) {
			size_t i = base + j;
			uint8_t a[4];
			uint16_t port;

			if (ops[j].rec_off != 0)
				return false;
			device_addr(fr.sess[i], a, &port);
			udp4_headers(fr.frame(i), kGwMac, kRouterMac, a, port, kGwDev4, kDtlsPort,
			             uint16_t(ops[j].rec_len));
			fr.len[i] = uint16_t(kL2L4 + ops[j].rec_len);
		}
	}
	return true;
}

// udp mode: the server's replies, the payload alone, to the session's backend address and
// port (sg_dp_session_bport(), outside the timed region).
bool refill_downlink_udp(Gateway &gw, Frames &fr, unsigned payload)
{
	for (size_t i = 0; i < fr.count; i++) {
		size_t k = gw.draw();
		uint8_t *f = fr.frame(i), addr[16], fam;
		uint16_t port;

		if (sg_dp_session_bport(gw.dp, gw.ids[k], &fam, addr, &port) != 0 ||
		    kL2L4 + payload > fr.stride)
			return false;
		for (unsigned b = 0; b < payload; b++)
			f[kL2L4 + b] = plain_byte(k, b);
		udp4_headers(f, kGwMac, kServerMac, kServer4, kCoapPort, addr, port,
		             uint16_t(payload));
		fr.sess[i] = uint32_t(k);
		fr.len[i] = uint16_t(kL2L4 + payload);
	}
	return true;
}

// The server's replies: a PROXY v2 header naming the session, then the payload.
bool refill_downlink(Gateway &gw, Frames &fr, unsigned payload)
{
	if (gw.be != Backend::Proxy)
		return refill_downlink_udp(gw, fr, payload);
	for (size_t i = 0; i < fr.count; i++) {
		size_t k = gw.draw();
		uint8_t *f = fr.frame(i), *pl = f + kL2L4;
		sg_pp2_info info;
		int hl;

		memset(&info, 0, sizeof(info));
		info.family = 4;
		device_addr(k, info.src, &info.sport);
		memcpy(info.dst, kGwDev4, 4);
		info.dport = kDtlsPort;
		info.has_session = true;
		info.session = gw.ids[k];
		token_of(k, info.token);
		hl = sg_pp2_encode(pl, uint32_t(fr.stride - kL2L4), &info);
		if (hl < 0 || kL2L4 + unsigned(hl) + payload > fr.stride)
			return false;
		for (unsigned b = 0; b < payload; b++)
			pl[hl + b] = plain_byte(k, b);
		udp4_headers(f, kGwMac, kServerMac, kServer4, kCoapPort, kGwBack4, kProxyPort,
		             uint16_t(hl + payload));
		fr.sess[i] = uint32_t(k);
		fr.len[i] = uint16_t(kL2L4 + unsigned(hl) + payload);
	}
	return true;
}

// ---- checks of what the worker sent (outside the timed region) ----

struct Udp4 {
	const uint8_t *dmac, *src, *dst, *payload;
	uint16_t sport, dport, len;
};

Udp4 parse_udp4(const rte_mbuf *m)
{
	const auto *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(f + sizeof(rte_ether_hdr));
	const auto *udp = reinterpret_cast<const rte_udp_hdr *>(ip + 1);
	Udp4 u;

	u.dmac = f;
	u.src = reinterpret_cast<const uint8_t *>(&ip->src_addr);
	u.dst = reinterpret_cast<const uint8_t *>(&ip->dst_addr);
	u.sport = ntohs(udp->src_port);
	u.dport = ntohs(udp->dst_port);
	u.payload = reinterpret_cast<const uint8_t *>(udp + 1);
	u.len = uint16_t(ntohs(udp->dgram_len) - sizeof(*udp));
	return u;
}

bool same_plaintext(const uint8_t *p, unsigned len, size_t k, unsigned payload)
{
	if (len != payload)
		return false;
	for (unsigned b = 0; b < payload; b++)
		if (p[b] != plain_byte(k, b))
			return false;
	return true;
}

// Backend datagram from our proxy port, PROXY header naming device k and its identity.
const char *check_uplink(const Gateway &gw, const rte_mbuf *m, size_t k, unsigned payload)
{
	Udp4 u = parse_udp4(m);
	sg_pp2_info info;
	char ident[32];
	uint8_t a[4], token[SG_PP2_TOKEN_LEN];
	uint16_t port;
	int hl;

	if (memcmp(u.dmac, kServerMac, 6) != 0 || memcmp(u.dst, kServer4, 4) != 0 ||
	    memcmp(u.src, kGwBack4, 4) != 0 || u.dport != kCoapPort || u.sport != kProxyPort)
		return "backend datagram: wrong addresses";
	hl = sg_pp2_decode(u.payload, u.len, &info);
	device_addr(k, a, &port);
	identity_of(k, ident, sizeof(ident));
	token_of(k, token);
	if (hl < 0 || !info.has_session || info.session != gw.ids[k] ||
	    memcmp(info.token, token, SG_PP2_TOKEN_LEN) != 0 || memcmp(info.src, a, 4) != 0 ||
	    info.sport != port || info.identity_len != strlen(ident) ||
	    memcmp(info.identity, ident, strlen(ident)) != 0)
		return "PROXY v2 header does not name the device";
	if (!same_plaintext(u.payload + hl, u.len - unsigned(hl), k, payload))
		return "backend datagram: wrong plaintext";
	return nullptr;
}

// Record to device k that opens with the device's keys (server_write) into the reply.
const char *check_downlink(const Gateway &gw, const rte_mbuf *m, size_t k, unsigned payload,
                           sg_rec_ctx *dev_ctx, sg_rec_sa *dev_sa)
{
	Udp4 u = parse_udp4(m);
	sgbench::Keys keys;
	sg_rec_sa_params p;
	sg_rec_hdr h;
	sg_rec_open_op op;
	uint8_t a[4];
	uint16_t port;

	device_addr(k, a, &port);
	if (memcmp(u.dmac, kRouterMac, 6) != 0 || memcmp(u.dst, a, 4) != 0 ||
	    memcmp(u.src, kGwDev4, 4) != 0 || u.dport != port || u.sport != kDtlsPort)
		return "device datagram: wrong addresses";
	if (sg_rec_parse(u.payload, u.len, 0, &h, 1) != 1 || h.status != SG_REC_OK)
		return "device datagram: not one DTLS record";
	sgbench::session_keys(k, gw.aead, keys);
	p = sgbench::sa_params(gw.aead, keys, true);
	sg_rec_sa_init(dev_sa, SG_REPLAY_WINDOW_DEFAULT, &p);
	sg_wipe(&keys, sizeof(keys));
	memset(&op, 0, sizeof(op));
	op.rec = const_cast<uint8_t *>(u.payload);
	op.rec_len = h.len;
	op.sa = dev_sa;
	if (sg_rec_open_burst(dev_ctx, &op, 1) != 1 || op.type != SG_DTLS_CT_APPLICATION_DATA)
		return "sealed record does not open with the device's keys";
	if (!same_plaintext(op.rec + op.pt_off, op.pt_len, k, payload))
		return "sealed record: wrong plaintext";
	return nullptr;
}

std::string drop_summary(const sg_dp_counters &a, const sg_dp_counters &b)
{
	std::string s;

	for (unsigned r = 0; r < SG_DROP_MAX; r++)
		if (b.drop[r] != a.drop[r])
			s += std::string(" ") + sg_drop_name(sg_drop(r)) + "=" +
			     std::to_string(b.drop[r] - a.drop[r]);
	if (b.punted != a.punted)
		s += " punted=" + std::to_string(b.punted - a.punted);
	return s;
}

// ---- the benchmark ----

// What a run needs besides the gateway: the device side's record layer.
struct DeviceSide {
	sg_rec_ctx *ctx = sg_rec_ctx_create(nullptr);
	sg_rec_sa *sa = static_cast<sg_rec_sa *>(
	        aligned_alloc(SG_CACHE_LINE, kSealGroup *sg_rec_sa_size(SG_REPLAY_WINDOW_DEFAULT)));

	~DeviceSide()
	{
		if (sa != nullptr)
			sg_wipe(sa, kSealGroup * sg_rec_sa_size(SG_REPLAY_WINDOW_DEFAULT));
		free(sa);
		sg_rec_ctx_free(ctx);
	}
};

// One burst in: fresh mbufs holding frames [pos, pos + kBurst), enqueued on rx.
bool inject(Frames &fr, size_t pos, rte_ring *rx)
{
	rte_mbuf *m[kBurst];

	if (rte_pktmbuf_alloc_bulk(g_ports.pool, m, kBurst) != 0)
		return false;
	for (unsigned j = 0; j < kBurst; j++) {
		memcpy(rte_pktmbuf_mtod(m[j], uint8_t *), fr.frame(pos + j), fr.len[pos + j]);
		m[j]->data_len = fr.len[pos + j];
		m[j]->pkt_len = fr.len[pos + j];
	}
	if (rte_ring_sp_enqueue_burst(rx, (void **)m, kBurst, nullptr) != kBurst) {
		rte_pktmbuf_free_bulk(m, kBurst);
		return false;
	}
	return true;
}

// A run's figures: packets, time per packet, and the harness's share of it (harness: TSC
// cycles spent allocating, copying, enqueueing and freeing).
void report(benchmark::State &state, uint64_t sent, uint64_t harness, Backend be)
{
	state.SetItemsProcessed(int64_t(sent));
	state.counters["pkt_time"] = benchmark::Counter(
	        double(sent), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
	// Seconds per packet spent allocating, copying, enqueueing and freeing.
	state.counters["harness_time"] =
	        sent ? double(harness) / double(rte_get_tsc_hz()) / double(sent) : 0;
	state.SetLabel(be == Backend::Proxy     ? "proxy, 4-tuple"
	               : be == Backend::UdpList ? "udp, 8 addresses (FIFO map)"
	                                        : "udp, source pool (arithmetic map)");
}

// Whether the worker forwarded (counters c1 - c0) and sent out (got) every one of the sent
// packets; else err says how many and why not.
bool all_forwarded(const sg_dp_counters &c0, const sg_dp_counters &c1, bool uplink, uint64_t sent,
                   uint64_t got, std::string &err)
{
	uint64_t fwd =
	        uplink ? c1.forwarded_up - c0.forwarded_up : c1.forwarded_down - c0.forwarded_down;

	if (fwd == sent && got == sent)
		return true;
	err = "forwarded " + std::to_string(fwd) + " of " + std::to_string(sent) + " (sent out " +
	      std::to_string(got) + "):" + drop_summary(c0, c1);
	return false;
}

// The first burst of fr through the worker, its output checked packet by packet: nullptr
// when every packet came out as it should, else what went wrong.
const char *first_burst(Gateway &gw, Frames &fr, DeviceSide &dev, unsigned payload, bool uplink)
{
	const unsigned port_in = uplink ? 0 : 1, port_out = uplink ? 1 : 0;
	rte_mbuf *out[2 * kBurst];
	unsigned k;

	if (!inject(fr, 0, g_ports.rx[port_in]))
		return "building frames failed";
	sg_dp_worker_poll(gw.dp, 0);
	k = rte_ring_sc_dequeue_burst(g_ports.tx[port_out], (void **)out, 2 * kBurst, nullptr);
	const char *bad = k == kBurst ? nullptr : "first burst: not every packet forwarded";
	for (unsigned j = 0; j < k && bad == nullptr; j++)
		bad = uplink ? check_uplink(gw, out[j], fr.sess[j], payload)
		             : check_downlink(gw, out[j], fr.sess[j], payload, dev.ctx, dev.sa);
	rte_pktmbuf_free_bulk(out, k);
	return bad;
}

void bm_pipeline(benchmark::State &state, const SuiteInfo &suite, unsigned payload, size_t sessions,
                 bool uplink, Backend be)
{
	static std::string err; // SkipWithError keeps the pointer
	Gateway *gw = gateway(suite, sessions, be, err);
	const unsigned port_in = uplink ? 0 : 1, port_out = uplink ? 1 : 0;
	DeviceSide dev;
	std::unique_ptr<Frames> fr;
	rte_mbuf *out[2 * kBurst];
	sg_dp_counters c0, c1;
	uint64_t sent = 0, got = 0, harness = 0;
	size_t pos = 0;
	unsigned k;
	bool ok;

	if (gw == nullptr || dev.ctx == nullptr || dev.sa == nullptr) {
		state.SkipWithError(gw == nullptr ? err.c_str() : "device side: no memory");
		return;
	}
	// Uplink: one record (header, explicit nonce, tag of 16 at most); downlink: PROXY header.
	fr.reset(new Frames(
	        kL2L4 + payload +
	        (uplink ? SG_DTLS_HDR_LEN + SG_DTLS_AEAD_EXPLICIT_LEN + 16 : SG_PP2_MAX_LEN)));
	auto refill = [&]() {
		return uplink ? refill_uplink(*gw, *fr, payload, dev.ctx, dev.sa)
		              : refill_downlink(*gw, *fr, payload);
	};

	// Left by a run that stopped on an error: out of this one's counts.
	for (unsigned i = 0; i < 2; i++) {
		drain(g_ports.rx[i]);
		drain(g_ports.tx[i]);
	}
	const char *bad =
	        refill() ? first_burst(*gw, *fr, dev, payload, uplink) : "building frames failed";
	if (bad != nullptr) {
		state.SkipWithError(bad);
		return;
	}
	pos = kBurst;

	sg_dp_counters_get(gw->dp, 0, &c0);
	for (auto _ : state) {
		if (pos == fr->count) {
			state.PauseTiming();
			ok = refill();
			state.ResumeTiming();
			if (!ok) {
				state.SkipWithError("building frames failed");
				break;
			}
			pos = 0;
		}
		uint64_t t0 = rte_rdtsc();
		if (!inject(*fr, pos, g_ports.rx[port_in])) {
			state.SkipWithError("no mbuf or RX ring full");
			break;
		}
		uint64_t t1 = rte_rdtsc();
		sg_dp_worker_poll(gw->dp, 0);
		uint64_t t2 = rte_rdtsc();
		k = rte_ring_sc_dequeue_burst(g_ports.tx[port_out], (void **)out, 2 * kBurst,
		                              nullptr);
		rte_pktmbuf_free_bulk(out, k);
		harness += (t1 - t0) + (rte_rdtsc() - t2);
		pos += kBurst;
		sent += kBurst;
		got += k;
	}
	sg_dp_counters_get(gw->dp, 0, &c1);
	if (!all_forwarded(c0, c1, uplink, sent, got, err))
		state.SkipWithError(err.c_str());
	report(state, sent, harness, be);
}

int register_all()
{
	// Suite, then session count, then payload: each gateway is built once.
	for (const SuiteInfo &s : kSuites)
		for (size_t n : kSessions)
			for (unsigned p : kPayloads)
				for (bool up : { true, false })
					benchmark::RegisterBenchmark(
					        ((up ? "pipeline/" : "pipeline_seal/") +
					         std::string(s.name) + "/" + std::to_string(p) +
					         "/" + std::to_string(n))
					                .c_str(),
					        bm_pipeline, s, p, n, up, Backend::Proxy)
					        ->Unit(benchmark::kMicrosecond);
	// The udp downlink's backend map: the listed addresses' FIFO, then the pool's arithmetic.
	for (size_t n : kUdpListSessions)
		benchmark::RegisterBenchmark(("pipeline_seal_udp/" + std::string(kSuites[0].name) +
		                              "/64/" + std::to_string(n))
		                                     .c_str(),
		                             bm_pipeline, kSuites[0], 64u, n, false,
		                             Backend::UdpList)
		        ->Unit(benchmark::kMicrosecond);
	for (size_t n : kUdpPoolSessions)
		benchmark::RegisterBenchmark(("pipeline_seal_pool/" + std::string(kSuites[0].name) +
		                              "/64/" + std::to_string(n))
		                                     .c_str(),
		                             bm_pipeline, kSuites[0], 64u, n, false,
		                             Backend::UdpPool)
		        ->Unit(benchmark::kMicrosecond);
	return 0;
}

const int registered = register_all();

} // namespace
