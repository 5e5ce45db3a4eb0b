/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What fuzz_rec_input reads, shared with its seed generator: the first byte
 * chooses the suite and the framing, the rest is the input.
 */
#ifndef SG_FUZZ_REC_INPUT_H
#define SG_FUZZ_REC_INPUT_H

#include <stdint.h>
#include <string.h>

#include <stormgate/net.h>
#include <stormgate/record.h>

#define FZ_CID_LEN 8 /* our CID length in tls12_cid records */

/*
 * byte 0: bits 0-2 AEAD (mod SG_AEAD_MAX, CBC-SHA256 included), bit 3 CID
 * session (not with CBC, which takes none), bit 4 an Ethernet frame, bit 5
 * encrypt-then-MAC (CBC only)
 */
#define FZ_SEL_CID   0x08
#define FZ_SEL_FRAME 0x10
#define FZ_SEL_ETM   0x20

/* Room for an SA of the default window of any suite (CBC: its MAC line after it). */
struct fz_sa_room {
	struct sg_rec_sa sa;
	struct sg_rec_sa_mac mac;
};

static inline enum sg_aead fz_aead(uint8_t sel)
{
	return (enum sg_aead)((sel & 7) % SG_AEAD_MAX);
}

/* The gateway's interface the frames are addressed to. */
static inline void fz_if(struct sg_net_if *ifc)
{
	static const uint8_t mac[6] = { 0x02, 0x53, 0x47, 0x00, 0x00, 0x01 };
	static const uint8_t ip6[16] = {
		0xfd, 0x00, 0x53, 0x47, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
	};

	memset(ifc, 0, sizeof(*ifc));
	memcpy(ifc->mac, mac, 6);
	ifc->n_ip4 = 1;
	ifc->ip4[0][0] = 198, ifc->ip4[0][1] = 18, ifc->ip4[0][2] = 1, ifc->ip4[0][3] = 1;
	ifc->n_ip6 = 1;
	memcpy(ifc->ip6[0], ip6, 16);
}

/*
 * The session's keys as the gateway holds them (rx = client_write); the seed
 * generator seals with the mirror image. Fixed: the fuzzer needs seeds that
 * authenticate to reach the code after the tag check.
 */
static inline int fz_sa(struct fz_sa_room *room, uint8_t sel, int device_side)
{
	uint8_t k1[32], k2[32], iv1[12], iv2[12], m1[32], m2[32];
	int wide = sg_aead_wide(fz_aead(sel));
	struct sg_rec_sa_params p = {
		.aead = fz_aead(sel),
		.epoch = 1,
		.tx_seq = 1,
		.rx_seq = 1,
	};

	if (wide)
		p.flags = (sel & FZ_SEL_ETM) ? SG_SA_F_ETM : 0;
	else
		p.flags = (sel & FZ_SEL_CID) ? SG_SA_F_RX_CID | SG_SA_F_TX_CID : 0;
	for (unsigned i = 0; i < 32; i++) {
		m1[i] = (uint8_t)(0x20 + i);
		m2[i] = (uint8_t)(0xa0 + i);
	}
	p.rx_mac = device_side ? m2 : m1;
	p.tx_mac = device_side ? m1 : m2;

	for (unsigned i = 0; i < 32; i++) {
		k1[i] = (uint8_t)(0x10 + i);
		k2[i] = (uint8_t)(0x80 + i);
	}
	for (unsigned i = 0; i < 12; i++) {
		iv1[i] = (uint8_t)(0x40 + i);
		iv2[i] = (uint8_t)(0xc0 + i);
	}
	p.rx_key = device_side ? k2 : k1;
	p.rx_iv = device_side ? iv2 : iv1;
	p.tx_key = device_side ? k1 : k2;
	p.tx_iv = device_side ? iv1 : iv2;
	return sg_rec_sa_init(&room->sa, SG_REPLAY_WINDOW_DEFAULT, &p);
}

#endif /* SG_FUZZ_REC_INPUT_H */
