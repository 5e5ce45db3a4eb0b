/* SPDX-License-Identifier: Apache-2.0 */
/* The data plane's configuration in the tests (dp_net.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dp_net.h"

void dp_test_port(struct sg_dp_port_conf *p, uint16_t port_id, uint8_t role, const uint8_t mac[6],
                  const uint8_t *ip4, const uint8_t *ip6, uint8_t prefix4)
{
	p->port_id = port_id;
	p->role = role;
	memcpy(p->ifc.mac, mac, 6);
	if (ip4 != NULL) {
		p->ifc.n_ip4 = 1;
		memcpy(p->ifc.ip4[0], ip4, 4);
	}
	if (ip6 != NULL) {
		p->ifc.n_ip6 = 1;
		memcpy(p->ifc.ip6[0], ip6, 16);
	}
	p->prefix4 = prefix4;
}

void dp_test_backend(struct sg_dp_conf *c, enum sg_dp_backend_mode mode, const uint8_t be4[4],
                     const uint8_t local4[4], uint16_t ports_per_addr)
{
	c->backend_mode = mode;
	c->backend_family = 4;
	memcpy(c->backend_addr, be4, 4);
	c->backend_port = COAP_PORT;
	c->n_local = 1;
	memcpy(c->local_addr[0], local4, 4);
	c->port_base = BPORT0;
	c->ports_per_addr = ports_per_addr;
}

void dp_test_attach(struct sg_dp *dp, enum sg_dp_backend_mode mode, uint64_t id, unsigned i,
                    const uint8_t *token, const uint8_t local4[4], uint16_t *bport)
{
	char ident[32];
	uint8_t fam, a[16];

	snprintf(ident, sizeof(ident), "device-%u", i);
	assert_int_equal(
	        sg_dp_session_attach(dp, id, (const uint8_t *)ident, (uint8_t)strlen(ident), token),
	        0);
	if (mode != SG_DP_BACKEND_UDP)
		return;
	assert_int_equal(sg_dp_session_bport(dp, id, &fam, a, bport), 0);
	assert_int_equal(fam, 4);
	assert_memory_equal(a, local4, 4);
}
