/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network of the in-process data-plane tests (RFC 2544 benchmark space
 * 198.18.0.0/15): the gateway's MAC and addresses on its device and backend
 * ports, the devices' MAC, the backend server; and the data plane's
 * configuration built from them. Each test keeps its own IPv6 address and
 * what else it varies. Any thread; no state.
 */
#ifndef SG_TESTS_DP_NET_H
#define SG_TESTS_DP_NET_H

#include <stdint.h>

#include <stormgate/dataplane.h>

#define DTLS_PORT 5684  /* CoAPs */
#define COAP_PORT 5683  /* the backend server's */
#define BPORT0    20000 /* the gateway's first backend source port */

static const uint8_t GW_MAC[6] = { 0x02, 0x53, 0x47, 0, 0, 0x01 };
static const uint8_t DEV_MAC[6] = { 0x02, 0x53, 0x47, 0, 0, 0x02 };
static const uint8_t BE_MAC[6] = { 0x02, 0x53, 0x47, 0, 0, 0x03 };
static const uint8_t GW4[4] = { 198, 18, 1, 1 };  /* the gateway, device side */
static const uint8_t GWB4[4] = { 198, 18, 2, 1 }; /* the gateway, backend side */
static const uint8_t BE4[4] = { 198, 18, 2, 2 };  /* the backend server */

/*
 * Port p of a data plane: ethdev port_id with roles role (SG_DP_ROLE_*), our
 * MAC mac and our addresses ip4 and ip6 (NULL: none of that family), on-link
 * IPv4 prefix prefix4 (0: all on-link).
 */
void dp_test_port(struct sg_dp_port_conf *p, uint16_t port_id, uint8_t role, const uint8_t mac[6],
                  const uint8_t *ip4, const uint8_t *ip6, uint8_t prefix4);

/*
 * The backend of c: mode, the server be4:COAP_PORT over IPv4, one local
 * address local4 the gateway sends to it from, source ports from BPORT0,
 * ports_per_addr of them.
 */
void dp_test_backend(struct sg_dp_conf *c, enum sg_dp_backend_mode mode, const uint8_t be4[4],
                     const uint8_t local4[4], uint16_t ports_per_addr);

/*
 * Attach the new session id of test device i to dp as the control plane
 * does: PSK identity "device-<i>" and the given token (SG_PP2_TOKEN_LEN
 * bytes). In udp mode its backend source port goes to *bport, checked to be
 * one of local4 (IPv4). Failures fail the running cmocka test.
 */
void dp_test_attach(struct sg_dp *dp, enum sg_dp_backend_mode mode, uint64_t id, unsigned i,
                    const uint8_t *token, const uint8_t local4[4], uint16_t *bport);

#endif /* SG_TESTS_DP_NET_H */
