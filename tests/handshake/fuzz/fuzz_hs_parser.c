/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the handshake message parsers. The input is read as a
 * handshake record fragment (RFC 6347 §4.2.2): each message header is
 * parsed, each body fed to the ClientHello, ClientKeyExchange (both forms)
 * and Finished parsers, to those of the ECDHE-ECDSA messages (Certificate
 * as X.509 and as a raw public key, the ECDHE ClientKeyExchange,
 * CertificateVerify; hs_certcodec.h) and to the certificate leaf's raw
 * public key parser, and every fragment to the reassembler. The
 * ClientHello parser reads the certificate extensions too
 * (signature_algorithms, RFC 7250 certificate types). Any crash or
 * sanitizer report is a bug; the parsers must also be self-consistent
 * (whatever they return points inside the input).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hs_cert.h"
#include "hs_certcodec.h"
#include "hs_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(const uint8_t *base, size_t size, const uint8_t *p, size_t n)
{
	if (n && (p < base || p + n > base + size))
		abort();
}

/* The ECDHE-ECDSA messages' parsers over one body; what they return lies inside it. */
static void cert_messages(const uint8_t *data, size_t size, const uint8_t *body, size_t len)
{
	const uint8_t *p;
	size_t n;
	uint8_t n8;
	uint16_t scheme, n16;

	if (sg_hs_certificate_parse(body, len, false, &p, &n) == 0)
		check_inside(data, size, p, n);
	if (sg_hs_certificate_parse(body, len, true, &p, &n) == 0) {
		struct hs_peer_key key;
		uint8_t hash[SG_HS_SPKI_HASH_LEN];

		check_inside(data, size, p, n);
		if (hs_cert_parse_rpk(p, n, &key, hash) == 0 && key.point_len > sizeof(key.point))
			abort();
	}
	if (sg_hs_client_kx_ecdhe_parse(body, len, &p, &n8) == 0)
		check_inside(data, size, p, n8);
	if (sg_hs_cert_verify_parse(body, len, &scheme, &p, &n16) == 0)
		check_inside(data, size, p, n16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[SG_HS_REASM_MAX];
	struct sg_hs_reasm r;
	size_t off = 0;

	sg_hs_reasm_init(&r, buf, sizeof(buf));
	/* The whole input as a ClientHello body too. */
	{
		struct sg_hs_client_hello ch;

		if (sg_hs_client_hello_parse(data, size, &ch) == 0) {
			check_inside(data, size, ch.random, 32);
			check_inside(data, size, ch.suites, ch.suites_len);
			check_inside(data, size, ch.cookie, ch.cookie_len);
			check_inside(data, size, ch.ticket, ch.ticket_len);
			check_inside(data, size, ch.sni, ch.sni_len);
			check_inside(data, size, ch.cid, ch.cid_len);
			if (ch.cookie_off >= size)
				abort();
			(void)sg_hs_client_hello_has_suite(&ch, 0xc0a8);
		}
	}
	while (off < size) {
		struct sg_hs_msg_hdr h;
		struct sg_hs_client_kx kx;
		const uint8_t *vd;
		int n = sg_hs_msg_hdr_parse(data + off, size - off, &h);
		const uint8_t *body;

		if (n < 0)
			break;
		if ((size_t)n > size - off)
			abort();
		body = data + off + SG_DTLS_HS_HDR_LEN;
		if (sg_hs_client_kx_parse(body, h.frag_len, false, &kx) == 0)
			check_inside(data, size, kx.identity, kx.identity_len);
		if (sg_hs_client_kx_parse(body, h.frag_len, true, &kx) == 0) {
			check_inside(data, size, kx.identity, kx.identity_len);
			check_inside(data, size, kx.point, kx.point_len);
		}
		(void)sg_hs_finished_parse(body, h.frag_len, &vd);
		cert_messages(data, size, body, h.frag_len);
		if (sg_hs_reasm_add(&r, &h, body) != 0)
			sg_hs_reasm_reset(&r);
		off += (size_t)n;
	}
	return 0;
}
